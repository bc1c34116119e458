//! Loudness per ITU-R BS.1770-4 / EBU R128 (the `ebur128` crate): integrated loudness, loudness
//! range, sample and true peak of a track, and ReplayGain 2.0 gains. The album's loudness gates
//! over all of its tracks' audio together (`loudness_global_multiple`), not an average.

use ebur128::{EbuR128, Mode};

/// ReplayGain 2.0's reference loudness, LUFS.
pub const REFERENCE_LUFS: f64 = -18.0;

/// One track's meter, fed interleaved `f32` frames as they are decoded.
pub struct Meter {
    inner: EbuR128,
    channels: u32,
}

/// What a meter measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Loudness {
    /// Integrated loudness, LUFS; `None` for silence (nothing above the absolute gate).
    pub integrated: Option<f64>,
    /// Loudness range, LU.
    pub range: Option<f64>,
    /// The highest sample over all channels, dBFS (`None`: digital silence).
    pub sample_peak: Option<f64>,
    /// The highest true (inter-sample) peak over all channels, dBTP.
    pub true_peak: Option<f64>,
}

/// Why a meter could not be made or fed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("loudness meter: {0}")]
pub struct MeterError(String);

fn db(linear: f64) -> Option<f64> {
    (linear > 0.0 && linear.is_finite()).then(|| 20.0 * linear.log10())
}

fn finite(v: Result<f64, ebur128::Error>) -> Option<f64> {
    v.ok().filter(|v| v.is_finite())
}

impl Meter {
    pub fn new(channels: u16, rate: u32) -> Result<Meter, MeterError> {
        // The histogram keeps a meter's size fixed however long the track, so the meters of an
        // album can be kept until its last track is done.
        let mode = Mode::I | Mode::LRA | Mode::SAMPLE_PEAK | Mode::TRUE_PEAK | Mode::HISTOGRAM;
        let inner = EbuR128::new(u32::from(channels), rate, mode)
            .map_err(|e| MeterError(format!("{e:?}")))?;
        Ok(Meter {
            inner,
            channels: u32::from(channels),
        })
    }

    /// Adds interleaved frames.
    pub fn add(&mut self, frames: &[f32]) -> Result<(), MeterError> {
        self.inner
            .add_frames_f32(frames)
            .map_err(|e| MeterError(format!("{e:?}")))
    }

    pub fn loudness(&self) -> Loudness {
        let peak = |f: fn(&EbuR128, u32) -> Result<f64, ebur128::Error>| {
            (0..self.channels)
                .filter_map(|c| f(&self.inner, c).ok())
                .fold(0.0f64, f64::max)
        };
        Loudness {
            integrated: finite(self.inner.loudness_global()),
            range: finite(self.inner.loudness_range()),
            sample_peak: db(peak(EbuR128::sample_peak)),
            true_peak: db(peak(EbuR128::true_peak)),
        }
    }
}

/// The integrated loudness of several tracks' audio taken together (an album), LUFS.
pub fn album_loudness<'a>(meters: impl Iterator<Item = &'a Meter>) -> Option<f64> {
    finite(EbuR128::loudness_global_multiple(meters.map(|m| &m.inner)))
}

/// The ReplayGain 2.0 gain that brings `lufs` to the reference, dB.
pub fn gain(lufs: f64) -> f64 {
    REFERENCE_LUFS - lufs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stereo sine of `freq` Hz at `dbfs` (peak level) for `secs` seconds, on both channels.
    fn sine(rate: u32, freq: f64, dbfs: f64, secs: f64) -> Vec<f32> {
        let amp = 10f64.powf(dbfs / 20.0);
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .flat_map(|i| {
                let v = (amp
                    * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32;
                [v, v]
            })
            .collect()
    }

    fn measure(parts: &[(f64, f64)], rate: u32) -> Loudness {
        let mut m = Meter::new(2, rate).unwrap();
        for &(dbfs, secs) in parts {
            m.add(&sine(rate, 1000.0, dbfs, secs)).unwrap();
        }
        m.loudness()
    }

    #[test]
    fn ebu_tech_3341_cases_measure_within_a_tenth() {
        // (segments of a 1 kHz stereo sine: level dBFS, seconds), expected LUFS.
        let cases: &[(&[(f64, f64)], f64)] = &[
            (&[(-23.0, 20.0)], -23.0),
            (&[(-33.0, 20.0)], -33.0),
            (&[(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
            (
                &[
                    (-72.0, 10.0),
                    (-36.0, 10.0),
                    (-23.0, 60.0),
                    (-36.0, 10.0),
                    (-72.0, 10.0),
                ],
                -23.0,
            ),
        ];
        for rate in [44_100, 48_000] {
            for (parts, want) in cases {
                let got = measure(parts, rate).integrated.unwrap();
                assert!((got - want).abs() <= 0.1, "{parts:?} at {rate}: {got}");
            }
        }
    }

    #[test]
    fn silence_has_no_loudness_and_no_peak() {
        let mut m = Meter::new(2, 44_100).unwrap();
        m.add(&vec![0.0; 44_100 * 2 * 5]).unwrap();
        let l = m.loudness();
        assert_eq!(
            (l.integrated, l.sample_peak, l.true_peak),
            (None, None, None)
        );
    }

    #[test]
    fn peaks_follow_the_level() {
        let l = measure(&[(-6.0, 5.0)], 48_000);
        let sample = l.sample_peak.unwrap();
        assert!((sample + 6.0).abs() < 0.05, "{sample}");
        // A 1 kHz sine's true peak is its amplitude; sample peaks may only fall short of it.
        let truep = l.true_peak.unwrap();
        assert!(
            truep >= sample - 0.01 && (truep + 6.0).abs() < 0.2,
            "{truep}"
        );
    }

    #[test]
    fn album_loudness_gates_over_all_the_audio_not_the_mean() {
        // A loud long track and a quiet short one: the album is near the loud one, not halfway.
        let mut loud = Meter::new(2, 48_000).unwrap();
        loud.add(&sine(48_000, 1000.0, -10.0, 60.0)).unwrap();
        let mut quiet = Meter::new(2, 48_000).unwrap();
        quiet.add(&sine(48_000, 1000.0, -30.0, 10.0)).unwrap();
        let album = album_loudness([&loud, &quiet].into_iter()).unwrap();
        let mean =
            (loud.loudness().integrated.unwrap() + quiet.loudness().integrated.unwrap()) / 2.0;
        assert!(
            (album - loud.loudness().integrated.unwrap()).abs() < 1.0,
            "{album}"
        );
        assert!((album - mean).abs() > 5.0, "{album} vs {mean}");
        assert_eq!(gain(-23.0), 5.0);
    }
}
