//! Audio shared by the player and convert: decoding (`decode`, the only file that names
//! symphonia), resampling (`resample`), and the sample arithmetic of gain (`gain`).
//!
//! Samples travel as interleaved `f32` in [-1.0, 1.0). Integer sources of up to 24 bits are
//! represented exactly (a 24-bit sample fits the `f32` mantissa), so lossless audio survives
//! the trip bit for bit as long as nothing scales it.

pub mod decode;
pub mod gain;
pub mod resample;

/// The shape of a PCM stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Frames per second.
    pub rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Bits per sample of an integer (lossless or PCM) source; `None` for lossy or float sources.
    pub bits: Option<u16>,
}

impl Spec {
    /// The rate and depth as players show them: `44.1 kHz/16`, or `44.1 kHz` for a lossy source.
    pub fn describe(self) -> String {
        let khz = f64::from(self.rate) / 1000.0;
        match self.bits {
            Some(b) => format!("{khz} kHz/{b}"),
            None => format!("{khz} kHz"),
        }
    }
}

/// Converts an `f32` sample to a signed integer of `bits` bits, rounding and saturating.
/// Exact inverse of the decoder's integer-to-float scaling for `bits <= 24`.
pub fn to_int(sample: f32, bits: u16) -> i32 {
    let scale = (1u64 << (bits - 1)) as f64;
    let v = (sample as f64 * scale).round();
    v.clamp(-scale, scale - 1.0) as i32
}

/// Converts a signed integer sample of `bits` bits to `f32` (the decoder's scaling).
pub fn from_int(sample: i32, bits: u16) -> f32 {
    (sample as f64 / (1u64 << (bits - 1)) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_round_trip_is_exact_up_to_24_bits() {
        for bits in [8u16, 16, 24] {
            let max = (1i32 << (bits - 1)) - 1;
            for v in [-(max + 1), -max, -12345 % max, -1, 0, 1, 7, max / 3, max] {
                assert_eq!(to_int(from_int(v, bits), bits), v, "{bits} bits, {v}");
            }
        }
        assert_eq!(to_int(1.5, 16), 32767);
        assert_eq!(to_int(-1.5, 16), -32768);
    }
}
