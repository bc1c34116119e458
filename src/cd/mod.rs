//! `tapedeck cd`'s work below the command line: the disc layout and fit (`plan`, pure), the
//! cue sheet and cdrdao TOC (`sheet`, pure), a track made into CD audio (`pcm`), the audio
//! image written through the safe-write layer (`image`), and the burners' command lines
//! (`burn`).

pub mod burn;
pub mod image;
pub mod iso;
pub mod pcm;
pub mod plan;
pub mod sheet;
