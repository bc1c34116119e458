//! The wall clock: seconds since the epoch, what the library stamps plays, scans and playlists
//! with, and what relative dates in queries count from.

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
