//! Acoustic fingerprints (Chromaprint's algorithm, the `rusty-chromaprint` crate, its default
//! configuration as fpcalc uses it) of a track's first two minutes, how they are stored, and
//! how alike two are: the share of equal bits at the best alignment, as AcoustID compares
//! them. The same recording keeps most bits through any encoder; unrelated audio agrees on
//! about half.

use rusty_chromaprint::{Configuration, Fingerprinter};

/// How much of a track is fingerprinted, seconds.
pub const SECONDS: u64 = 120;

/// A fingerprint being computed from decoded frames.
pub struct Printer {
    inner: Fingerprinter,
    channels: usize,
    /// Frames still to take.
    left: u64,
    scratch: Vec<i16>,
}

impl Printer {
    /// `None` when the stream's shape is one Chromaprint cannot take.
    pub fn new(rate: u32, channels: u16) -> Option<Printer> {
        let mut inner = Fingerprinter::new(&Configuration::preset_test2());
        inner.start(rate, u32::from(channels)).ok()?;
        Some(Printer {
            inner,
            channels: usize::from(channels.max(1)),
            left: SECONDS * u64::from(rate),
            scratch: Vec::new(),
        })
    }

    /// Adds interleaved frames (those past the first two minutes are ignored).
    pub fn add(&mut self, frames: &[f32]) {
        let take = (frames.len() / self.channels).min(self.left as usize);
        if take == 0 {
            return;
        }
        self.left -= take as u64;
        self.scratch.clear();
        self.scratch.extend(
            frames[..take * self.channels]
                .iter()
                .map(|&s| (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
        );
        self.inner.consume(&self.scratch);
    }

    pub fn finish(mut self) -> Vec<u32> {
        self.inner.finish();
        self.inner.fingerprint().to_vec()
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A fingerprint as stored: its items as little-endian bytes in URL-safe base64.
pub fn encode(items: &[u32]) -> String {
    let bytes: Vec<u8> = items.iter().flat_map(|i| i.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for k in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    out
}

/// The items of a stored fingerprint; `None` when the text is not one.
pub fn decode(text: &str) -> Option<Vec<u32>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() < 2 {
            return None;
        }
        let mut n = 0u32;
        for (k, c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|a| a == c)? as u32;
            n |= v << (18 - 6 * k);
        }
        for i in 0..chunk.len() - 1 {
            bytes.push((n >> (16 - 8 * i)) as u8);
        }
    }
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

/// Items two fingerprints may be shifted by against each other (about 1.2 s either way: a
/// different encoder delay, a little silence more or less at the start).
const MAX_SHIFT: usize = 10;

/// Fewest items compared for a score to count (about 10 s of audio).
const MIN_OVERLAP: usize = 80;

/// The share of equal bits (0 to 1) of two fingerprints at their best alignment; `None` when
/// they overlap too little to tell.
pub fn similarity(a: &[u32], b: &[u32]) -> Option<f64> {
    let mut best: Option<f64> = None;
    for shift in 0..=MAX_SHIFT {
        let directions: &[(&[u32], &[u32])] = if shift == 0 {
            &[(a, b)]
        } else {
            &[(a, b), (b, a)]
        };
        for &(x, y) in directions {
            let Some(x) = x.get(shift..) else { continue };
            let n = x.len().min(y.len());
            if n < MIN_OVERLAP {
                continue;
            }
            let differ: u32 = x[..n]
                .iter()
                .zip(&y[..n])
                .map(|(p, q)| (p ^ q).count_ones())
                .sum();
            let score = 1.0 - f64::from(differ) / (32.0 * n as f64);
            best = Some(best.map_or(score, |b| b.max(score)));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        let cases: &[&[u32]] = &[&[], &[0], &[u32::MAX, 1, 0x8040_2010], &[7; 101]];
        for items in cases {
            let text = encode(items);
            assert!(text.bytes().all(|c| ALPHABET.contains(&c)));
            assert_eq!(decode(&text).as_deref(), Some(*items), "{text}");
        }
        assert_eq!(decode("A"), None);
        assert_eq!(decode("AA=A"), None);
        assert_eq!(decode("AAA"), None, "two bytes are not an item");
    }

    /// A deterministic pseudo-random fingerprint.
    fn noise(seed: u64, n: usize) -> Vec<u32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect()
    }

    #[test]
    fn shifted_and_slightly_changed_copies_score_high_and_others_near_half() {
        let a = noise(1, 900);
        // The same, 4 items later, with one bit in eight flipped.
        let mut b: Vec<u32> = a[4..].to_vec();
        for (i, v) in b.iter_mut().enumerate() {
            *v ^= 0x0101_0101 << (i % 8);
        }
        let same = similarity(&a, &b).unwrap();
        assert!((same - 0.875).abs() < 0.01, "{same}");
        assert_eq!(similarity(&b, &a), Some(same), "symmetric");
        let other = similarity(&a, &noise(2, 900)).unwrap();
        assert!((0.45..0.56).contains(&other), "{other}");
        assert_eq!(similarity(&a[..50], &a[..50]), None, "too short to tell");
        assert_eq!(similarity(&a, &a), Some(1.0));
    }
}
