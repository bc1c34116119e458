//! One track made into CD audio: decoded, folded to stereo, resampled to 44.1 kHz, scaled by
//! its ReplayGain, and reduced to 16-bit little-endian samples. A source that is already
//! 44.1 kHz, 16 bits or less, mono or stereo, with no gain to apply, passes bit for bit; any
//! other is dithered (triangular, one LSB peak to peak) before rounding, and every sample
//! saturates at full scale.

use std::path::Path;

use crate::audio::decode::{DecodeError, Decoder};
use crate::audio::resample::Resampler;
use crate::audio::to_int;

use super::plan::RATE;

/// √½, the level a centre or surround channel is folded into left and right at.
const HALF_POWER: f32 = std::f32::consts::FRAC_1_SQRT_2;

/// Left and right weights for each channel of an `n`-channel source, in the WAV/FLAC default
/// orders (3: L R C; 4: L R BL BR; 5: L R C BL BR; 6: L R C LFE BL BR; 7: L R C LFE BC SL SR;
/// 8: L R C LFE BL BR SL SR). The low-frequency channel is left out. Each side's weights are
/// scaled to sum to 1, so a fold-down never clips.
pub fn downmix_weights(channels: u16) -> Vec<(f32, f32)> {
    const L: (f32, f32) = (1.0, 0.0);
    const R: (f32, f32) = (0.0, 1.0);
    const C: (f32, f32) = (HALF_POWER, HALF_POWER);
    const SL: (f32, f32) = (HALF_POWER, 0.0);
    const SR: (f32, f32) = (0.0, HALF_POWER);
    const LFE: (f32, f32) = (0.0, 0.0);
    let w: Vec<(f32, f32)> = match channels {
        1 => vec![(1.0, 1.0)],
        2 => vec![L, R],
        3 => vec![L, R, C],
        4 => vec![L, R, SL, SR],
        5 => vec![L, R, C, SL, SR],
        6 => vec![L, R, C, LFE, SL, SR],
        7 => vec![L, R, C, LFE, C, SL, SR],
        8 => vec![L, R, C, LFE, SL, SR, SL, SR],
        n => (0..n)
            .map(|i| match i {
                0 => L,
                1 => R,
                _ => (0.0, 0.0),
            })
            .collect(),
    };
    if channels <= 2 {
        return w;
    }
    let (sl, sr) = w.iter().fold((0.0, 0.0), |(a, b), (l, r)| (a + l, b + r));
    w.into_iter().map(|(l, r)| (l / sl, r / sr)).collect()
}

/// Folds interleaved `channels`-channel frames into stereo.
fn downmix(input: &[f32], channels: u16, weights: &[(f32, f32)], out: &mut Vec<f32>) {
    if channels == 2 {
        out.extend_from_slice(input);
        return;
    }
    for frame in input.chunks_exact(usize::from(channels)) {
        if channels == 1 {
            out.extend([frame[0], frame[0]]);
            continue;
        }
        let (mut l, mut r) = (0.0f32, 0.0f32);
        for (s, (wl, wr)) in frame.iter().zip(weights) {
            l += s * wl;
            r += s * wr;
        }
        out.extend([l, r]);
    }
}

/// Triangular dither from two draws of a xorshift generator (the same on every run).
struct Dither(u64);

impl Dither {
    fn uniform(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Noise in LSBs, in (-1, 1).
    fn next(&mut self) -> f64 {
        self.uniform() - self.uniform()
    }
}

/// A track being read as CD audio.
pub struct Pcm {
    decoder: Decoder,
    channels: u16,
    weights: Vec<(f32, f32)>,
    resampler: Option<Resampler>,
    scale: f32,
    dither: Option<Dither>,
    decoded: Vec<f32>,
    stereo: Vec<f32>,
    resampled: Vec<f32>,
    finished: bool,
}

impl Pcm {
    /// Opens `path`, to be scaled by `scale` (1.0: no gain).
    pub fn open(path: &Path, scale: f32) -> Result<Pcm, DecodeError> {
        let decoder = Decoder::open(path)?;
        let spec = decoder.spec();
        let resampler = if spec.rate == RATE {
            None
        } else {
            Some(Resampler::new(spec.rate, RATE, 2).map_err(DecodeError)?)
        };
        let exact = resampler.is_none()
            && scale == 1.0
            && spec.channels <= 2
            && spec.bits.is_some_and(|b| b <= 16);
        Ok(Pcm {
            decoder,
            channels: spec.channels,
            weights: downmix_weights(spec.channels),
            resampler,
            scale,
            dither: (!exact).then_some(Dither(0x9E37_79B9_7F4A_7C15)),
            decoded: Vec::new(),
            stereo: Vec::new(),
            resampled: Vec::new(),
            finished: false,
        })
    }

    /// Whether samples pass unchanged (no resampling, gain, fold-down or dither).
    pub fn is_exact(&self) -> bool {
        self.dither.is_none()
    }

    /// The source's frames, when the container says (for progress).
    pub fn source_frames(&self) -> Option<(u64, u32)> {
        self.decoder
            .total_frames()
            .map(|n| (n, self.decoder.spec().rate))
    }

    /// Appends the next frames as 16-bit little-endian stereo to `out`; returns how many
    /// frames, 0 at the end.
    pub fn read(&mut self, out: &mut Vec<u8>) -> Result<usize, DecodeError> {
        loop {
            if self.finished {
                return Ok(0);
            }
            self.decoded.clear();
            self.stereo.clear();
            let n = self.decoder.read(&mut self.decoded)?;
            downmix(
                &self.decoded,
                self.channels,
                &self.weights,
                &mut self.stereo,
            );
            let samples = match &mut self.resampler {
                None => &mut self.stereo,
                Some(r) => {
                    self.resampled.clear();
                    if n == 0 {
                        r.finish(&mut self.resampled);
                    } else {
                        r.push(&self.stereo, &mut self.resampled);
                    }
                    &mut self.resampled
                }
            };
            if n == 0 {
                self.finished = true;
            }
            if samples.is_empty() {
                continue;
            }
            for s in samples.iter() {
                let v = match &mut self.dither {
                    None => to_int(*s, 16),
                    Some(d) => {
                        let x = f64::from(*s * self.scale) * 32768.0 + d.next();
                        x.round().clamp(-32768.0, 32767.0) as i32
                    }
                };
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            return Ok(samples.len() / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_down_weights() {
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        let cases: [(u16, usize, f32, f32); 6] = [
            // (channels, channel, left, right)
            (1, 0, 1.0, 1.0),
            (2, 1, 0.0, 1.0),
            (6, 0, 1.0 / (1.0 + 2.0 * HALF_POWER), 0.0),
            (
                6,
                2,
                HALF_POWER / (1.0 + 2.0 * HALF_POWER),
                HALF_POWER / (1.0 + 2.0 * HALF_POWER),
            ),
            (6, 3, 0.0, 0.0),
            (4, 3, 0.0, HALF_POWER / (1.0 + HALF_POWER)),
        ];
        for (n, c, l, r) in cases {
            let w = downmix_weights(n);
            assert_eq!(w.len(), usize::from(n));
            assert!(
                close(w[c].0, l) && close(w[c].1, r),
                "{n} ch, {c}: {:?}",
                w[c]
            );
        }
        for n in 3..=8 {
            let w = downmix_weights(n);
            let (l, r) = w.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
            assert!(
                close(l, 1.0) && close(r, 1.0),
                "{n} channels sum to {l}, {r}"
            );
        }
    }

    #[test]
    fn mono_is_copied_to_both_sides() {
        let mut out = Vec::new();
        downmix(&[0.5, -0.25], 1, &downmix_weights(1), &mut out);
        assert_eq!(out, [0.5, 0.5, -0.25, -0.25]);
    }

    #[test]
    fn dither_is_triangular_within_one_lsb() {
        let mut d = Dither(1);
        let draws: Vec<f64> = (0..100_000).map(|_| d.next()).collect();
        assert!(draws.iter().all(|x| x.abs() < 1.0));
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        // A triangular distribution on (-1, 1) has variance 1/6.
        assert!((var - 1.0 / 6.0).abs() < 0.01, "variance {var}");
    }
}
