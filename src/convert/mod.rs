//! `tapedeck convert`: owned tracks written to another format. `plan` decides what happens to
//! each track (pure); `run` converts one file; `encode` holds the encoders and `mp4` the
//! .m4a writer they share.

pub mod encode;
pub mod mp4;
pub mod plan;
pub mod run;
