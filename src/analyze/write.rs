//! `analyze --write-tags`: ReplayGain 2.0 tags written into the user's files, the one place
//! tapedeck changes a music file, and only when asked exactly that. `wanted` (pure) says what
//! a track's tags should read and whether they already do; `write_file` makes a copy beside
//! the file through the safe-write layer, writes the tags into the copy, and renames it over the
//! file only if the file is still the one the library scanned (same size and time).

use std::path::Path;

use crate::model::Track;
use crate::tags::ReplayGainText;
use crate::target::{Kind, RelPath, Target};

/// A gain as ReplayGain tags write it: two decimals and "dB".
fn gain_text(db: f64) -> String {
    format!("{db:.2} dB")
}

/// A peak in dB (true peak, dBTP) as ReplayGain tags write it: linear, six decimals.
fn peak_text(db: f64) -> String {
    format!("{:.6}", 10f64.powf(db / 20.0))
}

/// What the track's ReplayGain tags should read from its analysis; `None` when it has none.
pub fn wanted(t: &Track) -> Option<ReplayGainText> {
    let album = match (t.rg_album, t.album_truepeak) {
        (Some(gain), Some(peak)) => Some((gain_text(gain), peak_text(peak))),
        _ => None,
    };
    Some(ReplayGainText {
        track_gain: gain_text(t.rg_track?),
        track_peak: peak_text(t.truepeak?),
        album,
    })
}

/// Whether the tags the scan read already say what `want` says (to the precision written).
pub fn already_matches(t: &Track, want: &ReplayGainText) -> bool {
    let same = |have: Option<f64>, text: &str, precision: f64| {
        let want: Option<f64> = text.trim_end_matches(" dB").parse().ok();
        matches!((have, want), (Some(h), Some(w)) if (h - w).abs() < precision)
    };
    let track = same(t.rg_track_gain, &want.track_gain, 0.005)
        && same(t.rg_track_peak, &want.track_peak, 0.000_001);
    let album = match &want.album {
        Some((gain, peak)) => {
            same(t.rg_album_gain, gain, 0.005) && same(t.rg_album_peak, peak, 0.000_001)
        }
        None => true,
    };
    track && album
}

/// Why a file's tags were not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Target(#[from] crate::target::Error),
    #[error("it changed since the last scan (scan it, then analyse again)")]
    Changed,
    #[error("it is not a regular file")]
    NotAFile,
    #[error("{0}")]
    Tags(String),
}

/// Writes `want` into the tags of the file at `path`, which the library knows with `size` and
/// `mtime`: a copy is made beside it (a hidden name), tagged, flushed, given the file's
/// permissions, and renamed over the file only if the file still has that size and time. A
/// link is never followed or replaced; the audio bytes are copied as they are.
pub fn write_file(
    path: &Path,
    size: i64,
    mtime: i64,
    want: &ReplayGainText,
) -> Result<(), WriteError> {
    let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(WriteError::NotAFile);
    };
    let target = Target::open(folder)?;
    let rel = RelPath::from_path(Path::new(name)).map_err(crate::target::Error::from)?;
    let unchanged = |t: &Target| -> Result<u32, WriteError> {
        match t.meta(&rel)? {
            Some(m) if m.kind == Kind::File => {
                if m.size as i64 == size && m.mtime == mtime {
                    Ok(m.mode)
                } else {
                    Err(WriteError::Changed)
                }
            }
            Some(m) if m.kind == Kind::Link => Err(crate::target::Error::Link {
                path: path.to_path_buf(),
            }
            .into()),
            _ => Err(WriteError::NotAFile),
        }
    };
    let mode = unchanged(&target)?;
    let tmp = target.temp_name(&rel)?;
    let result = (|| -> Result<(), WriteError> {
        target.copy_in(target.open_read(&rel)?, &tmp)?;
        let mut copy = target.open_update(&tmp)?;
        crate::tags::write_replaygain(&mut copy, want).map_err(|e| WriteError::Tags(e.0))?;
        use std::os::unix::fs::PermissionsExt;
        let io = |e: std::io::Error| crate::target::Error::io(target.display(&tmp), e);
        copy.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io)?;
        copy.sync_all().map_err(io)?;
        drop(copy);
        unchanged(&target)?;
        target.rename(&tmp, &rel, true)?;
        target.sync_dir(None);
        Ok(())
    })();
    if result.is_err() {
        let _ = target.remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_tags_and_when_they_already_match() {
        let mut t = Track {
            rg_track: Some(-6.54),
            truepeak: Some(-0.5),
            rg_album: Some(-7.1),
            album_truepeak: Some(-0.1),
            ..Track::default()
        };
        let want = wanted(&t).unwrap();
        assert_eq!(want.track_gain, "-6.54 dB");
        assert_eq!(want.track_peak, "0.944061");
        assert_eq!(
            want.album,
            Some(("-7.10 dB".to_string(), "0.988553".to_string()))
        );
        assert!(!already_matches(&t, &want));
        t.rg_track_gain = Some(-6.54);
        t.rg_track_peak = Some(0.944061);
        assert!(!already_matches(&t, &want), "the album values are missing");
        t.rg_album_gain = Some(-7.1);
        t.rg_album_peak = Some(0.988553);
        assert!(already_matches(&t, &want));
        t.rg_track_gain = Some(-6.5);
        assert!(!already_matches(&t, &want));
        // Not analysed: nothing to write.
        assert_eq!(wanted(&Track::default()), None);
    }
}
