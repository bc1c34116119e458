//! ALAC (Apple Lossless) in .m4a: alac-encoder compresses 4096-frame packets, our own
//! [`mp4`](crate::convert::mp4) writer muxes them.
//!
//! alac-encoder 0.3 only takes 16-bit input. 24-bit audio is encoded the way Apple's encoder
//! does it anyway: the low byte of every sample is "shifted off" and stored verbatim, and the
//! upper 16 bits go through the predictor and entropy coder. So each channel element (one or a
//! pair of channels) is compressed by a 16-bit encoder of its own from the upper 16 bits, and the
//! element is re-emitted with the shift flag set and the low bytes inserted where the format puts
//! them (after the predictor coefficients, before the residuals). Elements the encoder chose to
//! store uncompressed are rewritten as uncompressed 24-bit elements.
//!
//! Channels are reordered into ALAC's order (centre first for three or more channels), the
//! mapping that decoders (symphonia, ffmpeg) undo.

use alac_encoder::{AlacEncoder as Inner, FormatDescription};

use super::{EncodeError, Encoder, Output};
use crate::audio::{Spec, to_int};
use crate::convert::mp4::{Mp4Writer, SampleEntry, Trim};

/// Frames in every packet but the last.
pub const FRAMES_PER_PACKET: usize = 4096;

/// For 1-8 channels: ALAC channel `i` carries input channel `CHANNEL_ORDER[n - 1][i]`, the input
/// being in the usual WAVE order (L R C LFE ...).
const CHANNEL_ORDER: [&[usize]; 8] = [
    &[0],
    &[0, 1],
    &[2, 0, 1],
    &[2, 0, 1, 3],
    &[2, 0, 1, 3, 4],
    &[2, 0, 1, 4, 5, 3],
    &[2, 0, 1, 5, 6, 4, 3],
    &[2, 4, 5, 0, 1, 6, 7, 3],
];

/// For 1-8 channels: the channels in each element, in order (1: single, 2: pair).
const ELEMENTS: [&[usize]; 8] = [
    &[1],
    &[2],
    &[1, 2],
    &[1, 2, 1],
    &[1, 2, 2],
    &[1, 2, 2, 1],
    &[1, 2, 2, 1, 1],
    &[1, 2, 2, 2, 1],
];

/// Core Audio channel layout tags for 1-8 channels (written to the cookie above two channels).
const LAYOUT_TAGS: [u32; 8] = [
    0x64_0001, 0x65_0002, 0x71_0003, 0x74_0004, 0x78_0005, 0x7c_0006, 0x8e_0007, 0x7f_0008,
];

/// Starts an ALAC encoder; `spec.bits` is 16 or 24 (`None` means 16).
pub(super) fn start(spec: Spec, out: Box<dyn Output>) -> Result<Box<dyn Encoder>, EncodeError> {
    Ok(Box::new(AlacEncoder::new(spec, out)?))
}

/// One .m4a file of ALAC being written.
pub struct AlacEncoder {
    mux: Mp4Writer<Box<dyn Output>>,
    rate: u32,
    channels: usize,
    bits: u16,
    order: &'static [usize],
    packer: Packer,
    /// The packet being filled: interleaved integer samples, already in ALAC channel order.
    pending: Vec<i32>,
    frames: u64,
    max_packet: u32,
}

enum Packer {
    /// 16 bits: one encoder for all channels.
    Whole(Box<Crate16>),
    /// 24 bits: one encoder per element, spliced into packets here.
    Shifted(Vec<Crate16>, BitWriter),
}

/// alac-encoder at 16 bits with its buffers.
struct Crate16 {
    enc: Inner,
    input: FormatDescription,
    channels: usize,
    pcm: Vec<u8>,
    out: Vec<u8>,
}

impl Crate16 {
    fn new(rate: u32, channels: usize) -> Crate16 {
        let output =
            FormatDescription::alac(f64::from(rate), FRAMES_PER_PACKET as u32, channels as u32);
        // The crate's bit writer touches up to 4 bytes past its position: leave room.
        let out = vec![0; output.max_packet_size() + 16];
        Crate16 {
            enc: Inner::new(&output),
            input: FormatDescription::pcm::<i16>(f64::from(rate), channels as u32),
            channels,
            pcm: Vec::with_capacity(FRAMES_PER_PACKET * channels * 2),
            out,
        }
    }

    /// Encodes interleaved 16-bit samples (at most a packet's worth).
    fn encode(&mut self, samples: impl Iterator<Item = i16>) -> &[u8] {
        self.pcm.clear();
        for s in samples {
            self.pcm.extend_from_slice(&s.to_ne_bytes());
        }
        debug_assert!(self.pcm.len() <= FRAMES_PER_PACKET * self.channels * 2);
        let n = self.enc.encode(&self.input, &self.pcm, &mut self.out);
        &self.out[..n]
    }
}

impl AlacEncoder {
    pub fn new(spec: Spec, out: Box<dyn Output>) -> Result<AlacEncoder, EncodeError> {
        let bits = spec.bits.unwrap_or(16);
        if bits != 16 && bits != 24 {
            return Err(EncodeError::Unsupported(format!(
                "ALAC is written at 16 or 24 bits, not {bits}"
            )));
        }
        let channels = usize::from(spec.channels);
        if !(1..=8).contains(&channels) {
            return Err(EncodeError::Unsupported(format!(
                "ALAC holds 1 to 8 channels, not {channels}"
            )));
        }
        if spec.rate == 0 {
            return Err(EncodeError::Unsupported(
                "ALAC needs a sample rate above 0 Hz".into(),
            ));
        }
        let packer = if bits == 16 {
            Packer::Whole(Box::new(Crate16::new(spec.rate, channels)))
        } else {
            let elements = ELEMENTS[channels - 1];
            let encoders = elements
                .iter()
                .map(|&n| Crate16::new(spec.rate, n))
                .collect();
            Packer::Shifted(encoders, BitWriter::default())
        };
        Ok(AlacEncoder {
            mux: Mp4Writer::new(out, spec.rate, spec.channels)?,
            rate: spec.rate,
            channels,
            bits,
            order: CHANNEL_ORDER[channels - 1],
            packer,
            pending: Vec::with_capacity(FRAMES_PER_PACKET * channels),
            frames: 0,
            max_packet: 0,
        })
    }

    /// Encodes and writes what is pending (a full packet, or the short last one).
    fn flush_packet(&mut self) -> Result<(), EncodeError> {
        let n = self.pending.len() / self.channels;
        if n == 0 {
            return Ok(());
        }
        let packet = match &mut self.packer {
            Packer::Whole(enc) => enc.encode(self.pending.iter().map(|&s| s as i16)),
            Packer::Shifted(encoders, out) => {
                out.clear();
                let (mut singles, mut pairs, mut first) = (0, 0, 0);
                for enc in encoders.iter_mut() {
                    let width = enc.channels;
                    let upper = (0..n).flat_map(|f| {
                        let frame = &self.pending[f * self.channels + first..];
                        frame[..width].iter().map(|&s| (s >> 8) as i16)
                    });
                    let instance = if width == 2 { &mut pairs } else { &mut singles };
                    let element = Element {
                        samples: &self.pending,
                        stride: self.channels,
                        first,
                        width,
                        frames: n,
                        instance: *instance,
                    };
                    element.splice(enc.encode(upper), out)?;
                    *instance += 1;
                    first += width;
                }
                out.write(7, 3); // END
                out.align();
                &out.bytes[..]
            }
        };
        let size = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        self.max_packet = self.max_packet.max(size);
        self.mux.write_sample(packet, n as u32)?;
        self.frames += n as u64;
        self.pending.clear();
        Ok(())
    }

    /// The ALAC magic cookie: ALACSpecificConfig, then the channel layout above two channels.
    fn cookie(&self) -> Vec<u8> {
        let duration = self.mux.duration().max(1);
        let avg = (self.mux.bytes() * 8 * u64::from(self.rate) / duration).min(u64::from(u32::MAX));
        let mut c = Vec::with_capacity(48);
        c.extend_from_slice(&(FRAMES_PER_PACKET as u32).to_be_bytes());
        c.push(0); // compatible version
        c.push(self.bits as u8);
        c.extend_from_slice(&[40, 10, 14]); // rice parameters pb, mb, kb
        c.push(self.channels as u8);
        c.extend_from_slice(&255u16.to_be_bytes()); // max run
        c.extend_from_slice(&self.max_packet.to_be_bytes());
        c.extend_from_slice(&(avg as u32).to_be_bytes());
        c.extend_from_slice(&self.rate.to_be_bytes());
        if self.channels > 2 {
            c.extend_from_slice(&24u32.to_be_bytes());
            c.extend_from_slice(b"chan");
            c.extend_from_slice(&0u32.to_be_bytes()); // version and flags
            c.extend_from_slice(&LAYOUT_TAGS[self.channels - 1].to_be_bytes());
            c.extend_from_slice(&[0; 8]); // channel bitmap, number of descriptions
        }
        c
    }
}

impl Encoder for AlacEncoder {
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
        crate::convert::encode::check_whole_frames(samples, self.channels as u16)?;
        for frame in samples.chunks_exact(self.channels) {
            for &c in self.order {
                self.pending.push(to_int(frame[c], self.bits));
            }
            if self.pending.len() == FRAMES_PER_PACKET * self.channels {
                self.flush_packet()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), EncodeError> {
        self.flush_packet()?;
        let entry = SampleEntry::Alac {
            cookie: self.cookie(),
            bits: self.bits,
        };
        let trim = Trim {
            priming: 0,
            frames: self.frames,
            itunsmpb: false,
        };
        let this = *self;
        this.mux.finish(entry, trim)?;
        Ok(())
    }
}

/// One channel element of a 24-bit packet, and where its samples are.
struct Element<'a> {
    /// Interleaved 24-bit samples in ALAC channel order.
    samples: &'a [i32],
    stride: usize,
    /// Its first channel, and how many it has (1 or 2).
    first: usize,
    width: usize,
    frames: usize,
    /// Its instance tag (singles and pairs are counted apart).
    instance: u32,
}

impl Element<'_> {
    fn sample(&self, frame: usize, channel: usize) -> i32 {
        self.samples[frame * self.stride + self.first + channel]
    }

    /// Rewrites `packet`, alac-encoder's 16-bit encoding of this element's upper 16 bits (one
    /// element then END), as a 24-bit element with the low bytes shifted off, into `out`.
    fn splice(&self, packet: &[u8], out: &mut BitWriter) -> Result<(), EncodeError> {
        let bad =
            || EncodeError::Encoder("alac-encoder wrote a packet of an unexpected shape".into());
        let tag = u32::from(self.width == 2);
        let partial = self.frames != FRAMES_PER_PACKET;
        let mut r = BitReader::new(packet);
        let read = |r: &mut BitReader, n| r.read(n).ok_or_else(bad);
        if read(&mut r, 3)? != tag {
            return Err(bad());
        }
        read(&mut r, 16)?; // instance tag, unused
        let (was_partial, shift, escape) = (read(&mut r, 1)?, read(&mut r, 2)?, read(&mut r, 1)?);
        if (was_partial == 1) != partial || shift != 0 {
            return Err(bad());
        }
        if partial && read(&mut r, 32)? as usize != self.frames {
            return Err(bad());
        }
        let header = |out: &mut BitWriter, shift: u32, escape: u32| {
            out.write(tag, 3);
            out.write(self.instance, 4);
            out.write(0, 12);
            out.write(u32::from(partial), 1);
            out.write(shift, 2);
            out.write(escape, 1);
            if partial {
                out.write(self.frames as u32, 32);
            }
        };
        if escape == 1 {
            // Stored uncompressed at 16 bits: store uncompressed at 24.
            header(out, 0, 1);
            for f in 0..self.frames {
                for c in 0..self.width {
                    out.write(self.sample(f, c) as u32 & 0xff_ffff, 24);
                }
            }
            return Ok(());
        }
        let params = r.pos;
        read(&mut r, 16)?; // mix bits, mix res
        for _ in 0..self.width {
            read(&mut r, 8)?; // mode, denominator shift
            let coefs = read(&mut r, 8)? & 31; // pb factor, coefficient count
            r.skip(16 * coefs as usize).ok_or_else(bad)?;
        }
        let residuals = r.pos;
        // The element ends where END (binary 111) does, right before the zero byte padding.
        let end = r.last_one().ok_or_else(bad)? + 1;
        if end < residuals + 3 || r.peek(end - 3, 3) != Some(7) {
            return Err(bad());
        }
        header(out, 1, 0);
        out.copy(&r, params, residuals);
        for f in 0..self.frames {
            for c in 0..self.width {
                out.write(self.sample(f, c) as u32 & 0xff, 8);
            }
        }
        out.copy(&r, residuals, end - 3);
        Ok(())
    }
}

/// Most significant bit first.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader { bytes, pos: 0 }
    }

    /// `n` (at most 32) bits at bit position `at`.
    fn peek(&self, at: usize, n: usize) -> Option<u32> {
        if n > 32 || at + n > self.bytes.len() * 8 {
            return None;
        }
        let mut v = 0u32;
        for i in at..at + n {
            let bit = (self.bytes[i / 8] >> (7 - i % 8)) & 1;
            v = (v << 1) | u32::from(bit);
        }
        Some(v)
    }

    fn read(&mut self, n: usize) -> Option<u32> {
        let v = self.peek(self.pos, n)?;
        self.pos += n;
        Some(v)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        if self.pos + n > self.bytes.len() * 8 {
            return None;
        }
        self.pos += n;
        Some(())
    }

    /// Position of the last bit set.
    fn last_one(&self) -> Option<usize> {
        let i = self.bytes.iter().rposition(|&b| b != 0)?;
        Some(i * 8 + 7 - self.bytes[i].trailing_zeros() as usize)
    }
}

/// Most significant bit first, into a growing buffer.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    fn clear(&mut self) {
        self.bytes.clear();
        self.acc = 0;
        self.nbits = 0;
    }

    /// The low `n` (at most 32) bits of `v`.
    fn write(&mut self, v: u32, n: u32) {
        let mask = if n == 32 { u32::MAX } else { (1 << n) - 1 };
        self.acc = (self.acc << n) | u64::from(v & mask);
        self.nbits += n;
        while self.nbits >= 8 {
            self.nbits -= 8;
            self.bytes.push((self.acc >> self.nbits) as u8);
        }
        self.acc &= (1 << self.nbits) - 1;
    }

    /// Bits `from..to` of `r`.
    fn copy(&mut self, r: &BitReader, from: usize, to: usize) {
        let mut at = from;
        while at < to {
            let n = (to - at).min(32);
            self.write(r.peek(at, n).unwrap_or(0), n as u32);
            at += n;
        }
    }

    /// Pads with zeros to a byte boundary.
    fn align(&mut self) {
        if self.nbits > 0 {
            self.write(0, 8 - self.nbits);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use symphonia::core::codecs::audio::well_known::CODEC_ID_ALAC;

    use super::*;
    use crate::convert::encode::{Format, Settings, encoder};
    use crate::convert::mp4::testing::*;

    fn spec(channels: u16, bits: u16) -> Spec {
        Spec {
            rate: 44100,
            channels,
            bits: Some(bits),
        }
    }

    fn ints(samples: &[f32], bits: u16) -> Vec<i32> {
        samples.iter().map(|&s| to_int(s, bits)).collect()
    }

    /// Asserts equal sample vectors, naming the first difference rather than printing them all.
    fn assert_same(got: &[i32], want: &[i32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: sample count");
        if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
            panic!("{what}: sample {i} is {} instead of {}", got[i], want[i]);
        }
    }

    /// symphonia's samples, which ALAC decodes to the top of an i32, back at `bits`.
    fn symphonia_ints(path: &Path, bits: u16, channels: usize) -> Vec<i32> {
        let d = decode::<i32>(path);
        assert_eq!(d.params.codec, CODEC_ID_ALAC);
        assert_eq!(d.params.sample_rate, Some(44100));
        assert_eq!((d.rate, d.channels), (44100, channels));
        let shift = 32 - u32::from(bits);
        assert!(d.samples.iter().all(|s| s & ((1 << shift) - 1) == 0));
        d.samples.iter().map(|s| s >> shift).collect()
    }

    /// `samples` in the order ffmpeg decodes ALAC to. It agrees with symphonia except for eight
    /// channels, where ffmpeg calls ALAC's surround pair back (and puts it before the front
    /// centre pair) and symphonia calls it side (after).
    fn ffmpeg_order(samples: &[i32], channels: u16) -> Vec<i32> {
        if channels != 8 {
            return samples.to_vec();
        }
        // ALAC channel -> ffmpeg channel, for ALAC channel -> symphonia channel CHANNEL_ORDER[7].
        const FFMPEG: [usize; 8] = [2, 6, 7, 0, 1, 4, 5, 3];
        let mut out = vec![0; samples.len()];
        for (src, dst) in samples.chunks_exact(8).zip(out.chunks_exact_mut(8)) {
            for (a, &s) in CHANNEL_ORDER[7].iter().enumerate() {
                dst[FFMPEG[a]] = src[s];
            }
        }
        out
    }

    /// Encodes, then checks symphonia, ffmpeg and the file's own numbers against the source.
    fn round_trip(
        samples: &[f32],
        channels: u16,
        bits: u16,
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let frames = samples.len() / usize::from(channels);
        let (dir, path) = encode_file(&Settings::new(Format::Alac), spec(channels, bits), samples);
        let want = ints(samples, bits);
        let what = format!("{channels} ch {bits} bit {frames} frames");
        assert_same(&symphonia_ints(&path, bits, channels.into()), &want, &what);

        let file = std::fs::read(&path).unwrap();
        if frames > 0 {
            assert_eq!(edit(&file), (frames as u64, 0), "{what}: edit list");
        }
        let mdhd = find_box(&file, &["moov", "trak", "mdia", "mdhd"]).unwrap();
        assert_eq!(be32(mdhd, 12), 44100, "media timescale");
        assert_eq!(be32(mdhd, 16) as usize, frames, "media duration");
        let cookie = find_box(
            &file,
            &[
                "moov", "trak", "mdia", "minf", "stbl", "stsd", "alac", "alac",
            ],
        )
        .unwrap();
        assert_eq!(cookie.len(), if channels > 2 { 52 } else { 28 });
        assert_eq!(be32(cookie, 4), 4096, "frame length");
        assert_eq!((cookie[9], cookie[13]), (bits as u8, channels as u8));

        if have("ffmpeg") {
            let got: Vec<i32> = ffmpeg_s32(&path).iter().map(|s| s >> (32 - bits)).collect();
            assert_same(
                &got,
                &ffmpeg_order(&want, channels),
                &format!("{what} (ffmpeg)"),
            );
        }
        (dir, path)
    }

    #[test]
    fn stereo_16_and_24_bit_decode_bit_exact() {
        for bits in [16, 24] {
            for frames in [44100 * 3, 44100 * 2 + 333] {
                let samples = signal(frames, 2, bits as u64);
                let (_dir, path) = round_trip(&samples, 2, bits);
                // It compresses: a noisy sine is well under PCM size.
                let pcm = samples.len() as u64 * u64::from(bits) / 8;
                let size = std::fs::metadata(&path).unwrap().len();
                assert!(
                    size < pcm * 9 / 10,
                    "{bits} bit: {size} bytes for {pcm} bytes of PCM"
                );
            }
        }
    }

    #[test]
    fn mono_and_multichannel_decode_bit_exact_in_order() {
        for channels in [1, 3, 6, 8] {
            for bits in [16, 24] {
                let samples = signal(10_000 + usize::from(channels), channels, 7);
                round_trip(&samples, channels, bits);
            }
        }
    }

    #[test]
    fn short_exact_and_full_scale_inputs() {
        // Less than a packet, exactly one, and one frame more.
        for frames in [1, 100, 4096, 4097] {
            round_trip(&signal(frames, 2, 3), 2, 24);
        }
        // Full-scale noise cannot be compressed: packets are stored uncompressed.
        let mut state = 1u32;
        let noise: Vec<f32> = (0..9000 * 2)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state as i32) as f32 / 2_147_483_648.0
            })
            .collect();
        for bits in [16, 24] {
            for channels in [1, 2] {
                let noise = &noise[..9000 * usize::from(channels)];
                let (_dir, path) = round_trip(noise, channels, bits);
                let pcm = noise.len() as u64 * u64::from(bits) / 8;
                let size = std::fs::metadata(&path).unwrap().len();
                assert!(
                    size > pcm,
                    "{bits} bit: {size} bytes, so not stored uncompressed"
                );
            }
        }
        // Extremes, clipping and silence.
        let mut edge = vec![0.0f32; 5000 * 2];
        edge[..2000].fill(1.0);
        edge[2000..4000].fill(-1.0);
        edge[4000..4100].fill(2.5);
        round_trip(&edge, 2, 24);
        round_trip(&edge, 2, 16);
    }

    #[test]
    fn high_sample_rates_are_carried_by_the_cookie() {
        for rate in [96000, 192000] {
            let samples = signal(rate as usize / 2 + 3, 2, 2);
            let spec = Spec {
                rate,
                ..spec(2, 24)
            };
            let (_dir, path) = encode_file(&Settings::new(Format::Alac), spec, &samples);
            let d = decode::<i32>(&path);
            assert_eq!((d.rate, d.params.sample_rate), (rate, Some(rate)));
            let got: Vec<i32> = d.samples.iter().map(|s| s >> 8).collect();
            assert_same(&got, &ints(&samples, 24), &format!("{rate} Hz"));
            if have("ffprobe") {
                assert_eq!(
                    ffprobe(&path)["streams"][0]["sample_rate"],
                    rate.to_string()
                );
            }
            if have("ffmpeg") {
                let got: Vec<i32> = ffmpeg_s32(&path).iter().map(|s| s >> 8).collect();
                assert_same(&got, &ints(&samples, 24), &format!("{rate} Hz (ffmpeg)"));
            }
        }
    }

    #[test]
    fn empty_input_makes_a_file_mutagen_opens() {
        let (_dir, path) = encode_file(&Settings::new(Format::Alac), spec(2, 16), &[]);
        let file = std::fs::read(&path).unwrap();
        assert!(find_box(&file, &["moov", "trak", "mdia", "minf", "stbl", "stsz"]).is_some());
        if have_mutagen() {
            let out = mutagen(
                &path,
                "m = mutagen.mp4.MP4(sys.argv[1]); print(m.info.codec)",
            );
            assert_eq!(out.trim(), "alac");
        }
    }

    #[test]
    fn ffprobe_mutagen_and_lofty_read_it_and_tags_can_be_written() {
        let samples = signal(44100 * 2 + 333, 2, 11);
        let (_dir, path) = round_trip(&samples, 2, 24);
        if have("ffprobe") {
            let probe = ffprobe(&path);
            let s = &probe["streams"][0];
            assert_eq!(s["codec_name"], "alac");
            assert_eq!(s["sample_rate"], "44100");
            assert_eq!(s["channels"], 2);
            assert_eq!(s["bits_per_raw_sample"], "24");
            assert_eq!(s["duration_ts"], 44100 * 2 + 333);
        }
        if have_mutagen() {
            let out = mutagen(
                &path,
                "i = mutagen.mp4.MP4(sys.argv[1]).info\n\
                 print(i.codec, i.sample_rate, i.channels, i.bits_per_sample, round(i.length, 4))",
            );
            assert_eq!(
                out.trim(),
                format!(
                    "alac 44100 2 24 {}",
                    ((44100.0 * 2.0 + 333.0) / 44100.0 * 10000.0f64).round() / 10000.0
                )
            );
        }

        // lofty (through tags.rs) reads it, writes a tag into it, and the audio is untouched.
        let before = crate::tags::read(&mut std::io::BufReader::new(
            std::fs::File::open(&path).unwrap(),
        ))
        .unwrap();
        assert_eq!(before.props.codec, "alac");
        assert_eq!(before.props.sample_rate, Some(44100));
        assert_eq!(before.props.bit_depth, Some(24));
        assert_eq!(before.props.channels, Some(2));
        let edit_tags = crate::tags::TagEdit {
            title: Some("Round trip".into()),
            artist: Some("Tapedeck".into()),
            ..Default::default()
        };
        crate::tags::write(&path, &edit_tags).unwrap();
        let after = crate::tags::read(&mut std::io::BufReader::new(
            std::fs::File::open(&path).unwrap(),
        ))
        .unwrap();
        assert_eq!(after.raw.title, vec!["Round trip".to_string()]);
        assert_same(
            &symphonia_ints(&path, 24, 2),
            &ints(&samples, 24),
            "after tagging",
        );
        if have_mutagen() {
            let out = mutagen(&path, "print(mutagen.mp4.MP4(sys.argv[1])['\\xa9nam'][0])");
            assert_eq!(out.trim(), "Round trip");
        }
        if have("ffmpeg") {
            let got: Vec<i32> = ffmpeg_s32(&path).iter().map(|s| s >> 8).collect();
            assert_same(&got, &ints(&samples, 24), "after tagging (ffmpeg)");
        }
    }

    #[test]
    fn past_4_gib_it_still_decodes_bit_exact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.m4a");
        let file = std::fs::File::create(&path).unwrap();
        let samples = signal(4096 * 3 + 1000, 2, 9);
        let mut enc = AlacEncoder::new(spec(2, 16), Box::new(file)).unwrap();
        enc.write(&samples[..4096 * 3 * 2]).unwrap();
        // Three packets are out; the rest lands 5 GiB later (a hole in a sparse file).
        enc.mux.leave_gap(5 << 30).unwrap();
        enc.write(&samples[4096 * 3 * 2..]).unwrap();
        Box::new(enc).finish().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 5 << 30);
        let started = std::time::Instant::now();
        assert_same(
            &symphonia_ints(&path, 16, 2),
            &ints(&samples, 16),
            "symphonia",
        );
        eprintln!("symphonia: {:?}", started.elapsed());
        if have("ffmpeg") {
            let got: Vec<i32> = ffmpeg_s32(&path).iter().map(|s| s >> 16).collect();
            assert_same(&got, &ints(&samples, 16), "ffmpeg");
        }
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let err = |spec: Spec| {
            let out = Box::new(std::io::Cursor::new(Vec::new()));
            match encoder(&Settings::new(Format::Alac), spec, out) {
                Err(EncodeError::Unsupported(m)) => m,
                Err(e) => panic!("unexpected error {e}"),
                Ok(_) => panic!("accepted {spec:?}"),
            }
        };
        assert!(err(spec(2, 20)).contains("16 or 24"));
        assert!(err(spec(2, 8)).contains("16 or 24"));
        assert!(err(spec(9, 16)).contains("1 to 8 channels"));
        assert!(err(spec(0, 16)).contains("1 to 8 channels"));
        assert!(
            err(Spec {
                rate: 0,
                ..spec(2, 16)
            })
            .contains("sample rate")
        );

        let out = Box::new(std::io::Cursor::new(Vec::new()));
        let mut enc = encoder(&Settings::new(Format::Alac), spec(2, 16), out).unwrap();
        assert!(matches!(enc.write(&[0.0; 3]), Err(EncodeError::Encoder(_))));
        // NaN and infinities are clamped, not a crash.
        enc.write(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5])
            .unwrap();
        enc.finish().unwrap();
    }
}
