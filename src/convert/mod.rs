//! `tapedeck convert`: owned tracks written to another format. `plan` decides what happens to
//! each track (pure); `run` converts one file into the run's scratch folder; `batch` carries out
//! a plan (the worker pool, cancelling, each file's outcome recorded in the library); `output` is
//! the output folder (its lock, the record of what was finished there, putting files in place);
//! `encode` holds the encoders and `mp4` the .m4a writer they share.

pub mod batch;
pub mod encode;
pub mod mp4;
pub mod output;
pub mod plan;
pub mod run;
