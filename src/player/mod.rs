//! Playback: the queue (`queue`, pure), the engine thread (`engine`), and where samples go
//! (`output`: memory and WAV file; `device`: the sound card, the only file that names rodio).

pub mod device;
pub mod engine;
pub mod output;
pub mod queue;

#[cfg(test)]
pub(crate) mod tests;
