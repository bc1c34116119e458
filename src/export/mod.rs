//! `tapedeck export`: a selection of the library kept in sync on a USB stick or car stick.
//!
//! - `profile`: what a device accepts (built-in and user-defined profiles);
//! - `manifest`: what tapedeck wrote on the device, and the journal that makes a sync safe to
//!   interrupt;
//! - `plan`: what a sync will do (pure);
//! - `mp3gain`: MP3 loudness changed in the frames, without re-encoding;
//! - `sync`: carrying out a plan.
//!
//! Invariant: export never deletes, renames or overwrites a file it did not create (one that
//! the device's manifest does not list).

pub mod manifest;
pub mod mp3gain;
pub mod plan;
pub mod profile;
pub mod sync;
