//! `tapedeck convert`: owned tracks written to another format.

pub mod encode;
pub mod mp4;
