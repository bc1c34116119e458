//! The pure pieces of the MPD protocol, so MPD clients (mpc, ncmpcpp, M.A.L.P.) can drive
//! tapedeck: request lines split into words and typed arguments, `ACK` errors (`request.rs`),
//! MPD tag names and the song block (`tags.rs`), URIs relative to the library roots
//! (`uri.rs`), and search filters turned into a [`crate::query::Query`] (`filter.rs`).
//! Pure: no sockets, no threads, no SQL, no files. The rules are MPD's own, taken from its
//! protocol documentation and source; where tapedeck cannot follow them exactly, the file
//! says so.

pub mod filter;
pub mod request;
pub mod tags;
pub mod uri;
