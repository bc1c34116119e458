//! `tapedeck analyze`: one decode per track that measures loudness (EBU R128, ReplayGain 2.0
//! track and album gain), checks integrity and takes an acoustic fingerprint (which `dupes`
//! groups by). `plan` (pure) decides which tracks are decoded,
//! whole albums at a time; `run` decodes them on a pool of workers and hands back each album's
//! results as soon as its last track is done. The library is written by the caller. `write`
//! puts the ReplayGain values into the files' own tags, when asked.

pub mod dupes;
pub mod fingerprint;
pub mod integrity;
pub mod loudness;
pub mod run;
pub mod write;

use std::collections::{HashMap, HashSet};

use crate::model::{Track, fold};

/// The tracks that share album values: an album's tracks, or one track with no album.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub tracks: Vec<Track>,
    /// Whether the tracks form an album (and so get album gain).
    pub album: bool,
}

/// The album a track belongs to for album gain, as the library groups albums: album artist
/// (else artist) and album name, folded. `None` for a track with no album name.
pub fn album_key(t: &Track) -> Option<(String, String)> {
    let album = t.album.as_deref().filter(|a| !a.is_empty())?;
    let artist = t
        .albumartist
        .as_deref()
        .or(t.artist.as_deref())
        .unwrap_or("");
    Some((fold(artist), fold(album)))
}

/// What to decode: the selected tracks, each with the rest of its album from `library` (album
/// gain is measured over the whole album, whatever the query picked). An album whose tracks
/// are all analysed already, or a lone track that is, is left out unless `force`. Units keep
/// the order the selection first reaches them in.
pub fn plan(library: Vec<Track>, selected: &[Track], force: bool) -> Vec<Unit> {
    let wanted: HashSet<Option<(String, String)>> = selected.iter().map(album_key).collect();
    let mut albums: HashMap<(String, String), Vec<Track>> = HashMap::new();
    for t in library {
        if let Some(key) = album_key(&t)
            && wanted.contains(&Some(key.clone()))
        {
            albums.entry(key).or_default().push(t);
        }
    }
    let mut units = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for t in selected {
        let unit = match album_key(t) {
            None => Unit {
                tracks: vec![t.clone()],
                album: false,
            },
            Some(key) => {
                if !seen.insert(key.clone()) {
                    continue;
                }
                Unit {
                    tracks: albums.remove(&key).unwrap_or_else(|| vec![t.clone()]),
                    album: true,
                }
            }
        };
        if force || unit.tracks.iter().any(|t| t.analysed_at.is_none()) {
            units.push(unit);
        }
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(id: i64, album: Option<&str>, artist: &str, analysed: bool) -> Track {
        Track {
            id,
            album: album.map(str::to_string),
            artist: Some(artist.to_string()),
            analysed_at: analysed.then_some(1),
            ..Track::default()
        }
    }

    fn ids(units: &[Unit]) -> Vec<Vec<i64>> {
        units
            .iter()
            .map(|u| u.tracks.iter().map(|t| t.id).collect())
            .collect()
    }

    #[test]
    fn whole_albums_are_planned_and_finished_ones_skipped() {
        let library = vec![
            track(1, Some("A"), "x", false),
            track(2, Some("A"), "X", true),
            track(3, Some("B"), "x", true),
            track(4, Some("B"), "x", true),
            track(5, None, "x", false),
            track(6, None, "x", true),
            track(7, Some("A"), "y", true),
        ];
        let pick = |wanted: &[i64]| -> Vec<Track> {
            library
                .iter()
                .filter(|t| wanted.contains(&t.id))
                .cloned()
                .collect()
        };
        type Case<'a> = (&'a [i64], bool, Vec<Vec<i64>>);
        let cases: Vec<Case> = vec![
            // One track of album A (artist x, any case) brings the whole album.
            (&[2], false, vec![vec![1, 2]]),
            // Album B is done; a lone analysed track too.
            (&[3, 6], false, vec![]),
            (&[3, 6], true, vec![vec![3, 4], vec![6]]),
            (&[5, 1, 2], false, vec![vec![1, 2], vec![5]]),
            // Same album name, other artist: another album.
            (&[7], true, vec![vec![7]]),
        ];
        for (wanted, force, want) in cases {
            let units = plan(library.clone(), &pick(wanted), force);
            assert_eq!(ids(&units), want, "{wanted:?} force={force}");
            for u in &units {
                assert_eq!(u.album, u.tracks[0].album.is_some());
            }
        }
    }
}
