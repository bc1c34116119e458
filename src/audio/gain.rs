//! Loudness: which ReplayGain value applies to a track, and the scale factor it becomes once the
//! preamp and clipping prevention are accounted for. Pure arithmetic, shared by the player, the
//! renderer and convert's `--apply-gain`.

/// Which ReplayGain values to use.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No gain: samples pass unchanged.
    Off,
    /// Each track's own gain.
    Track,
    /// The album's gain, keeping the loudness steps between an album's tracks.
    Album,
    /// Album gain while a queue plays albums in order, track gain when tracks are shuffled.
    #[default]
    Auto,
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub mode: Mode,
    /// Added to every gain, in dB.
    pub preamp_db: f64,
    /// Used for a track that carries no ReplayGain tags, in dB (the preamp is added too).
    pub fallback_db: f64,
    /// Lower the gain so the tagged peak does not exceed full scale.
    pub prevent_clipping: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            mode: Mode::Auto,
            preamp_db: 0.0,
            fallback_db: 0.0,
            prevent_clipping: true,
        }
    }
}

/// A track's ReplayGain values: its tags, or what `analyze` computed when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tags {
    pub track_gain: Option<f64>,
    pub track_peak: Option<f64>,
    pub album_gain: Option<f64>,
    pub album_peak: Option<f64>,
}

impl Tags {
    /// The ReplayGain tags the file carries.
    pub fn tagged(t: &crate::model::Track) -> Tags {
        Tags {
            track_gain: t.rg_track_gain,
            track_peak: t.rg_track_peak,
            album_gain: t.rg_album_gain,
            album_peak: t.rg_album_peak,
        }
    }

    /// The values `analyze` computed (ReplayGain 2.0; peaks are true peaks, as linear
    /// amplitudes like a tag's).
    pub fn computed(t: &crate::model::Track) -> Tags {
        let linear = |dbtp: Option<f64>| dbtp.map(|d| 10f64.powf(d / 20.0));
        Tags {
            track_gain: t.rg_track,
            track_peak: linear(t.truepeak),
            album_gain: t.rg_album,
            album_peak: linear(t.album_truepeak),
        }
    }

    fn is_empty(&self) -> bool {
        self.track_gain.is_none() && self.album_gain.is_none()
    }
}

impl From<&crate::model::Track> for Tags {
    /// The tags when the file has any ReplayGain gain, else the computed values.
    fn from(t: &crate::model::Track) -> Tags {
        let tagged = Tags::tagged(t);
        if tagged.is_empty() {
            Tags::computed(t)
        } else {
            tagged
        }
    }
}

/// Makes the gain `analyze` computed the track's own (its ReplayGain values replaced by the
/// computed track and album gains and true peaks, where there are any), for the setting that
/// prefers computed gain over the file's tags.
pub fn prefer_computed(t: &mut crate::model::Track) {
    let linear = |db: f64| 10f64.powf(db / 20.0);
    if let (Some(gain), Some(peak)) = (t.rg_track, t.truepeak) {
        t.rg_track_gain = Some(gain);
        t.rg_track_peak = Some(linear(peak));
    }
    if let (Some(gain), Some(peak)) = (t.rg_album, t.album_truepeak) {
        t.rg_album_gain = Some(gain);
        t.rg_album_peak = Some(linear(peak));
    }
}

/// The gain to bake into a file's samples (convert `--apply-gain`, export profiles): the
/// chosen value with no preamp or fallback, limited to the tagged peak.
pub fn bake(mode: Mode, tags: &Tags) -> Applied {
    let settings = Settings {
        mode,
        preamp_db: 0.0,
        fallback_db: 0.0,
        prevent_clipping: true,
    };
    decide(&settings, tags, true)
}

/// Where the applied gain came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Off,
    Track,
    Album,
    Fallback,
}

/// The gain decided for one track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Applied {
    pub source: Source,
    /// The gain in dB after the preamp and any clipping limit.
    pub db: f64,
    /// The linear factor samples are multiplied by; exactly 1.0 when nothing applies.
    pub scale: f32,
    /// Whether clipping prevention lowered the gain.
    pub limited: bool,
}

impl Applied {
    pub const NONE: Applied = Applied {
        source: Source::Off,
        db: 0.0,
        scale: 1.0,
        limited: false,
    };

    /// "-6.2 dB (album)" for status lines; empty when off.
    pub fn describe(&self) -> String {
        let from = match self.source {
            Source::Off => return String::new(),
            Source::Track => "track",
            Source::Album => "album",
            Source::Fallback => "no tags",
        };
        let limited = if self.limited { ", peak-limited" } else { "" };
        format!("{:+.1} dB ({from}{limited})", self.db)
    }
}

/// Decides the gain for one track. `in_album_order` says whether the queue is playing whole
/// albums in order (what `auto` needs to know).
pub fn decide(settings: &Settings, tags: &Tags, in_album_order: bool) -> Applied {
    let album = match settings.mode {
        Mode::Off => return Applied::NONE,
        Mode::Track => false,
        Mode::Album => true,
        Mode::Auto => in_album_order,
    };
    // Album mode falls back to the track's values when the album's are missing, and back.
    let picked = if album {
        tags.album_gain
            .map(|g| (Source::Album, g, tags.album_peak.or(tags.track_peak)))
            .or(tags.track_gain.map(|g| (Source::Track, g, tags.track_peak)))
    } else {
        tags.track_gain
            .map(|g| (Source::Track, g, tags.track_peak))
            .or(tags.album_gain.map(|g| (Source::Album, g, tags.album_peak)))
    };
    let (source, gain, peak) = picked.unwrap_or((Source::Fallback, settings.fallback_db, None));
    let mut db = gain + settings.preamp_db;
    let mut limited = false;
    if settings.prevent_clipping
        && let Some(peak) = peak.filter(|p| p.is_finite() && *p > 0.0)
    {
        let ceiling = -20.0 * peak.log10();
        if db > ceiling {
            db = ceiling;
            limited = true;
        }
    }
    let scale = if db == 0.0 {
        1.0
    } else {
        10f64.powf(db / 20.0) as f32
    };
    Applied {
        source,
        db,
        scale,
        limited,
    }
}

/// Multiplies samples by `scale` in place (nothing happens at exactly 1.0, keeping PCM exact).
pub fn apply(samples: &mut [f32], scale: f32) {
    if scale != 1.0 {
        for s in samples {
            *s *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(tg: Option<f64>, tp: Option<f64>, ag: Option<f64>, ap: Option<f64>) -> Tags {
        Tags {
            track_gain: tg,
            track_peak: tp,
            album_gain: ag,
            album_peak: ap,
        }
    }

    #[test]
    fn modes_pick_the_right_value() {
        let s = |mode| Settings {
            mode,
            prevent_clipping: false,
            ..Settings::default()
        };
        let t = tags(Some(-6.0), Some(0.5), Some(-8.0), Some(0.9));
        assert_eq!(decide(&s(Mode::Off), &t, true), Applied::NONE);
        assert_eq!(decide(&s(Mode::Track), &t, true).db, -6.0);
        assert_eq!(decide(&s(Mode::Album), &t, false).db, -8.0);
        assert_eq!(decide(&s(Mode::Auto), &t, true).source, Source::Album);
        assert_eq!(decide(&s(Mode::Auto), &t, false).source, Source::Track);
        // Missing album values fall back to the track's, and the other way round.
        let only_track = tags(Some(-3.0), None, None, None);
        assert_eq!(
            decide(&s(Mode::Album), &only_track, true).source,
            Source::Track
        );
        let only_album = tags(None, None, Some(-4.0), None);
        assert_eq!(decide(&s(Mode::Track), &only_album, true).db, -4.0);
    }

    #[test]
    fn untagged_tracks_get_the_fallback_and_everything_gets_the_preamp() {
        let s = Settings {
            mode: Mode::Track,
            preamp_db: 2.0,
            fallback_db: -7.0,
            prevent_clipping: true,
        };
        let a = decide(&s, &Tags::default(), false);
        assert_eq!((a.source, a.db), (Source::Fallback, -5.0));
        assert!((a.scale - 10f32.powf(-5.0 / 20.0)).abs() < 1e-6);
        let b = decide(&s, &tags(Some(-6.0), Some(0.1), None, None), false);
        assert_eq!(b.db, -4.0);
        assert!(!b.limited);
    }

    #[test]
    fn clipping_prevention_caps_gain_at_the_peak() {
        let s = Settings {
            mode: Mode::Track,
            ..Settings::default()
        };
        // +6 dB on a track peaking at 0.8 would clip: capped at -20 log10(0.8) = 1.94 dB.
        let a = decide(&s, &tags(Some(6.0), Some(0.8), None, None), false);
        assert!(a.limited);
        assert!(
            (a.scale * 0.8 - 1.0).abs() < 1e-6,
            "peak lands on full scale"
        );
        let off = Settings {
            prevent_clipping: false,
            ..s
        };
        assert_eq!(
            decide(&off, &tags(Some(6.0), Some(0.8), None, None), false).db,
            6.0
        );
    }

    #[test]
    fn computed_values_stand_in_only_for_missing_tags() {
        use crate::model::Track;
        let computed = Track {
            rg_track: Some(-4.5),
            truepeak: Some(-6.0),
            rg_album: Some(-5.5),
            album_truepeak: Some(0.0),
            ..Track::default()
        };
        let t = Tags::from(&computed);
        assert_eq!((t.track_gain, t.album_gain), (Some(-4.5), Some(-5.5)));
        assert!((t.track_peak.unwrap() - 0.501).abs() < 1e-3);
        assert_eq!(t.album_peak, Some(1.0));
        // A file with any ReplayGain gain tag keeps its tags, even partial ones.
        let tagged = Track {
            rg_album_gain: Some(-1.0),
            ..computed.clone()
        };
        assert_eq!(Tags::from(&tagged), tags(None, None, Some(-1.0), None));
        assert_eq!(Tags::from(&Track::default()), Tags::default());
    }

    #[test]
    fn unity_gain_leaves_samples_bit_exact() {
        let s = Settings {
            mode: Mode::Track,
            ..Settings::default()
        };
        let a = decide(&s, &tags(Some(0.0), Some(1.0), None, None), false);
        assert_eq!(a.scale, 1.0);
        let mut x = [0.123_456_79f32, -0.5];
        apply(&mut x, a.scale);
        assert_eq!(x, [0.123_456_79f32, -0.5]);
    }
}
