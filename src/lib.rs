//! tapedeck: a music library that lives on the user's own disk.
//!
//! See ARCHITECTURE.md for the map. The pure core is [`model`] and [`identity`]; [`db`] owns
//! SQLite; [`tags`] owns lofty; [`container`] parses container structure; [`scan`] walks and
//! reads; [`mpd`] holds the pure pieces of the MPD protocol; [`ui`] is the full-screen terminal UI;
//! [`cli`] is the command line.

pub mod analyze;
pub mod audio;
pub mod cd;
pub mod cli;
pub mod clock;
pub mod config;
pub mod container;
pub mod convert;
pub mod cover;
pub mod db;
pub mod error;
pub mod export;
pub mod fsat;
pub mod identity;
pub mod model;
pub mod mpd;
pub mod names;
pub mod player;
pub mod playlist;
pub mod query;
pub mod scan;
pub mod service;
pub mod tags;
pub mod target;
pub mod template;
pub mod text;
pub mod timing;
pub mod ui;
