//! Playlists: a stored playlist found by name and evaluated into its tracks in order (a static
//! playlist's entries, or a smart playlist's query evaluated at a given time with its sort, track
//! limit and minutes budget), with typed errors; `file` reads and writes M3U/PLS files. Nothing
//! here prints or knows the command line, so any front end can use it.

pub mod file;

use crate::db::query::Selection;
use crate::db::{DbError, Library, Playlist};
use crate::query::{self, QueryError};

/// Why a playlist could not be found or evaluated. Callers match on the variant.
#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    /// No playlist has this name; `suggestion` is the closest name there is, if any is close.
    #[error("no playlist named `{name}`{}", did_you_mean(.suggestion))]
    NotFound {
        name: String,
        suggestion: Option<String>,
    },
    /// The stored query of a smart playlist does not parse.
    #[error("the query of smart playlist `{name}` is invalid: {error}")]
    BadQuery { name: String, error: QueryError },
    /// The stored sort of a smart playlist does not parse.
    #[error("the sort of smart playlist `{name}` is invalid: {error}")]
    BadSort { name: String, error: QueryError },
    /// The library could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|n| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

/// The playlist called `name`; when there is none, the error carries the closest name.
pub fn find(lib: &Library, name: &str) -> Result<Playlist, PlaylistError> {
    if let Some(p) = lib.playlist(name)? {
        return Ok(p);
    }
    let names: Vec<String> = lib.playlists()?.into_iter().map(|p| p.name).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Err(PlaylistError::NotFound {
        name: name.to_string(),
        suggestion: crate::template::closest(name, &refs).map(str::to_string),
    })
}

/// The tracks of a playlist, in order: a static playlist's entries, or a smart playlist's query
/// evaluated at `now` (seconds since the epoch, for relative dates), sorted by its sort, cut at
/// its track limit, and then at the last track that fits in its minutes.
pub fn track_ids(lib: &Library, p: &Playlist, now: i64) -> Result<Vec<i64>, PlaylistError> {
    let Some(text) = &p.query else {
        return Ok(lib.playlist_entries(p.id)?);
    };
    let mut q = query::parse_str(text, now).map_err(|error| PlaylistError::BadQuery {
        name: p.name.clone(),
        error,
    })?;
    if let Some(sort) = &p.sort {
        q.sort = query::parse_sort(sort).map_err(|error| PlaylistError::BadSort {
            name: p.name.clone(),
            error,
        })?;
    }
    let mut ids = Vec::new();
    let mut total = 0.0;
    let budget = p.minutes.map(|m| m * 60.0);
    // The walk stops at the first track that does not fit (the `Err` it returns means "full").
    let _full = lib.for_each_track(
        &Selection {
            query: Some(&q),
            limit: p.limit,
            ..Selection::default()
        },
        |t| {
            if let Some(budget) = budget {
                if total + t.duration > budget {
                    return Err(std::io::Error::other("full"));
                }
                total += t.duration;
            }
            ids.push(t.id);
            Ok(())
        },
    )?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::db::FileRecord;
    use crate::model::Track;

    /// A library of five tracks, one a year from 2001, each `i + 1` minutes long, and its ids.
    fn library() -> (tempfile::TempDir, Library, Vec<i64>) {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
        let ids = lib
            .write(|w| -> Result<Vec<i64>, DbError> {
                (0..5i32)
                    .map(|i| {
                        let track = Track {
                            path: PathBuf::from(format!("/music/{i}.flac")),
                            size: 10,
                            title: format!("song {i}"),
                            album: Some("Album".into()),
                            track: Some(i as u32 + 1),
                            year: Some(2001 + i),
                            duration: 60.0 * (i as f64 + 1.0),
                            codec: "flac".into(),
                            format: "flac".into(),
                            container: "flac".into(),
                            ..Track::default()
                        };
                        w.insert_track(&FileRecord::new([i as u8; 16], track), 1)
                    })
                    .collect()
            })
            .unwrap();
        (dir, lib, ids)
    }

    fn smart(
        query: &str,
        sort: Option<&str>,
        limit: Option<u64>,
        minutes: Option<f64>,
    ) -> Playlist {
        Playlist {
            id: 0,
            name: "mix".into(),
            query: Some(query.into()),
            sort: sort.map(str::to_string),
            limit,
            minutes,
            entries: 0,
        }
    }

    #[test]
    fn smart_playlists_apply_sort_limit_and_minutes() {
        let (_dir, lib, ids) = library();
        // (playlist, the positions of the tracks it holds, in order)
        let cases: &[(Playlist, &[usize])] = &[
            (smart("year:2002..2004", None, None, None), &[1, 2, 3]),
            (
                smart("year:2002..2004", Some("year-"), None, None),
                &[3, 2, 1],
            ),
            (smart("album:Album", Some("year-"), Some(2), None), &[4, 3]),
            // 1 + 2 minutes fit in 4; the third (3 minutes) does not.
            (smart("album:Album", None, None, Some(4.0)), &[0, 1]),
            (
                smart("album:Album", Some("year-"), None, Some(9.0)),
                &[4, 3],
            ),
            (smart("album:Album", None, Some(1), Some(100.0)), &[0]),
            (smart("album:nothing", None, None, None), &[]),
        ];
        for (p, want) in cases {
            let want: Vec<i64> = want.iter().map(|&i| ids[i]).collect();
            assert_eq!(track_ids(&lib, p, 0).unwrap(), want, "{p:?}");
        }
    }

    #[test]
    fn static_playlists_keep_their_order() {
        let (_dir, mut lib, ids) = library();
        let order = vec![ids[3], ids[0], ids[3]];
        let p = Playlist {
            query: None,
            sort: None,
            ..smart("", None, None, None)
        };
        lib.write(|w| -> Result<(), DbError> {
            let id = w.create_playlist(&p, 1)?;
            w.set_playlist_entries(id, &order)
        })
        .unwrap();
        let stored = find(&lib, "mix").unwrap();
        assert_eq!(track_ids(&lib, &stored, 0).unwrap(), order);
    }

    #[test]
    fn errors_name_the_playlist() {
        let (_dir, mut lib, _) = library();
        lib.write(|w| w.create_playlist(&smart("year:2001", None, None, None), 1))
            .unwrap();
        match find(&lib, "mx") {
            Err(PlaylistError::NotFound { name, suggestion }) => {
                assert_eq!((name.as_str(), suggestion.as_deref()), ("mx", Some("mix")));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            find(&lib, "mx").unwrap_err().to_string(),
            "no playlist named `mx` (did you mean `mix`?)"
        );
        assert!(matches!(
            find(&lib, "something else"),
            Err(PlaylistError::NotFound {
                suggestion: None,
                ..
            })
        ));
        let bad_query = smart("artst:beatles", None, None, None);
        assert!(matches!(
            track_ids(&lib, &bad_query, 0),
            Err(PlaylistError::BadQuery { name, .. }) if name == "mix"
        ));
        let bad_sort = smart("year:2001", Some("year+ beatles"), None, None);
        assert!(matches!(
            track_ids(&lib, &bad_sort, 0),
            Err(PlaylistError::BadSort { name, .. }) if name == "mix"
        ));
    }
}
