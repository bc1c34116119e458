//! Queue items: what the player needs of a library track, or of a file outside the library
//! (its tags read on the spot, guarded against hostile files), and the music files under a
//! folder. Shared by every front end of the player service.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::audio::gain;
use crate::db::{self, Library};
use crate::model::{self, Track};
use crate::player::queue::Item;

pub fn album_key(t: &Track) -> String {
    match (&t.album, t.albumartist.as_ref().or(t.artist.as_ref())) {
        (Some(album), artist) => format!(
            "{}\u{1f}{}",
            model::fold(artist.map_or("", |a| a.as_str())),
            model::fold(album)
        ),
        (None, _) => t
            .path
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// A library track as a queue item; with `prefer_computed`, the gain `analyze` computed stands
/// in for the file's own ReplayGain tags.
pub fn from_track(t: &Track, prefer_computed: bool) -> Item {
    let gain = if prefer_computed {
        let mut t = t.clone();
        gain::prefer_computed(&mut t);
        gain::Tags::from(&t)
    } else {
        t.into()
    };
    Item {
        id: Some(t.id),
        path: t.path.clone(),
        title: t.title.clone(),
        artist: t.artist.clone(),
        album: t.album.clone(),
        album_key: album_key(t),
        duration: t.duration,
        format: t.format.clone(),
        gain,
        entry: 0,
    }
}

/// A file outside the library: its tags are read on the spot. The file is opened only when it is
/// a regular file (never a FIFO or a device, and without blocking), and a tag reader that panics
/// on a hostile file costs only that file. Unreadable tags are not an error here: the decoder
/// decides whether the file plays.
pub fn from_file(path: &Path) -> Result<Item, String> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (file, meta) = crate::scan::open_regular(path)
        .map_err(|e| format!("cannot be opened ({})", crate::scan::walk::io_reason(&e)))?;
    let mut reader = crate::scan::SeekBuf::new(file, meta.len());
    let read = guarded(|| crate::tags::read(&mut reader).ok())?;
    let mut track = match read {
        Some(t) => Track::from_raw(&t.raw, &t.props, &stem),
        None => Track {
            title: stem,
            ..Track::default()
        },
    };
    track.path = path.to_path_buf();
    track.size = meta.len() as i64;
    let mut item = from_track(&track, false);
    item.id = None;
    Ok(item)
}

/// Runs a file parser; a panic on a hostile file becomes that file's reason for being left out.
fn guarded<T>(parse: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse))
        .map_err(|_| "could not be parsed (the tag reader failed on it)".to_string())
}

/// Why a path cannot be played as a file, without opening it: it is gone, or it is not a regular
/// file (a FIFO would block the player, a device never ends, a socket cannot be read).
fn not_playable(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(m) => Some(format!(
            "is {}, not a music file",
            crate::scan::walk::kind_of(&m.file_type())
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some("is gone".into()),
        Err(e) => Some(format!(
            "cannot be read ({})",
            crate::scan::walk::io_reason(&e)
        )),
    }
}

/// Queue items for files: library tracks (read in one query, so they keep their history) or,
/// for files outside the library, tags read on the spot. An error says why a file is left out,
/// worded to follow its path ("is gone", "is a named pipe (FIFO), not a music file").
pub fn for_paths(
    lib: &Library,
    paths: &[PathBuf],
    prefer_computed: bool,
) -> db::Result<Vec<Result<Item, String>>> {
    let ids = paths
        .iter()
        .map(|p| lib.track_id_by_path(p))
        .collect::<Result<Vec<_>, _>>()?;
    let known: HashMap<i64, Track> = lib
        .tracks_by_ids(&ids.iter().flatten().copied().collect::<Vec<_>>())?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    Ok(paths
        .iter()
        .zip(ids)
        .map(|(path, id)| {
            if let Some(why) = not_playable(path) {
                return Err(why);
            }
            match id.and_then(|id| known.get(&id)) {
                Some(t) => Ok(from_track(t, prefer_computed)),
                None => from_file(path),
            }
        })
        .collect())
}

/// Music files under a folder, in name order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_type().is_file()
                && model::is_music_name(e.file_name().as_encoded_bytes())
                && !model::is_hidden_name(e.file_name().as_encoded_bytes())
        })
        .map(|e| e.into_path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parser_panic_costs_only_its_file() {
        assert_eq!(guarded(|| 7), Ok(7));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = guarded(|| -> u8 { panic!("hostile file") });
        std::panic::set_hook(hook);
        assert!(caught.unwrap_err().contains("could not be parsed"));
    }

    #[test]
    fn named_files_that_are_not_regular_are_refused_unopened() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.flac");
        crate::fsat::make_fifo(&fifo);
        let why = not_playable(&fifo).expect("a FIFO is refused");
        assert!(why.contains("named pipe"), "{why}");
        let why = not_playable(Path::new("/dev/null")).expect("a device is refused");
        assert!(why.contains("device"), "{why}");
        assert_eq!(
            not_playable(dir.path()).as_deref(),
            Some("is a folder, not a music file")
        );
        assert_eq!(
            not_playable(&dir.path().join("gone.flac")).as_deref(),
            Some("is gone")
        );
        let file = dir.path().join("a.flac");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(not_playable(&file), None);
        // The queue leaves it out and keeps the rest.
        let lib = Library::empty().unwrap();
        let items = for_paths(&lib, &[fifo, file.clone()], false).unwrap();
        assert!(items[0].is_err());
        assert_eq!(items[1].as_ref().unwrap().path, file);
    }
}
