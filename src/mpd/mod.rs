//! The MPD protocol, so MPD clients (mpc, ncmpcpp, M.A.L.P., python-mpd2) can drive tapedeck.
//!
//! The pure pieces (no sockets, no threads, no SQL, no files): request lines split into words
//! and typed arguments, `ACK` errors (`request.rs`), MPD tag names and the song block
//! (`tags.rs`), URIs relative to the library roots (`uri.rs`), and search filters turned into a
//! [`crate::query::Query`] (`filter.rs`). The rules are MPD's own, taken from its protocol
//! documentation and source; where tapedeck cannot follow them exactly, the file says so.
//!
//! On the player service: the server (`server.rs`: listeners, connections, command lists,
//! idle), the commands (`commands.rs`), and the client the remote commands use (`client.rs`).

pub mod client;
pub mod commands;
pub mod filter;
pub mod request;
pub mod server;
pub mod tags;
pub mod uri;
