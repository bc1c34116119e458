//! MP3 through LAME 3.100 (mp3lame-encoder, which builds LAME from source): constant bitrate,
//! or VBR V0-V9, mono or stereo, at the sample rates MP3 defines (no resampling here).
//!
//! Gapless: LAME is told to write its LAME/Info tag, so the first frame it emits is an empty
//! placeholder of the tag frame's exact size. `finish` flushes with `lame_encode_flush` (which
//! pads the last frame with silence and records the padding) and writes the finished tag over
//! that placeholder: frame and byte counts, the seek TOC, and the encoder delay and padding
//! (12-bit fields) that decoders use to trim exactly the samples given. No ID3 tag is written
//! (tags are another module's business), so the placeholder is the first thing in the file.

use std::io::{Seek, SeekFrom, Write};
use std::num::NonZeroU32;

use mp3lame_encoder::{Builder, FlushGap, InterleavedPcm, MonoPcm, Quality, VbrMode};

use super::{EncodeError, Encoder, Output, Settings};
use crate::audio::Spec;

/// MPEG-1 Layer III (32, 44.1, 48 kHz) bitrates from 32 kbps up, in kbps.
const MPEG1_BITRATES: [u32; 14] = [
    32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
/// MPEG-2 Layer III (16, 22.05, 24 kHz) bitrates from 32 kbps up, in kbps.
const MPEG2_BITRATES: [u32; 11] = [32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
/// MPEG-2.5 (8, 11.025, 12 kHz) bitrates from 32 kbps up: LAME stops at 64 kbps there.
const MPEG25_BITRATES: [u32; 5] = [32, 40, 48, 56, 64];
const MPEG1_RATES: [u32; 3] = [32000, 44100, 48000];
const MPEG2_RATES: [u32; 3] = [16000, 22050, 24000];
const MPEG25_RATES: [u32; 3] = [8000, 11025, 12000];
/// Frames handed to LAME per call, bounding the output buffer.
const CHUNK_FRAMES: usize = 8192;

/// What LAME is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Constant bitrate in kbps.
    Cbr(u32),
    /// VBR quality 0 (best) to 9.
    Vbr(u8),
}

/// Checks the settings against what MP3 can hold and picks the mode. Without a bitrate, CBR at
/// the highest the sample rate allows: 320 kbps, 160 kbps at the MPEG-2 rates (16-24 kHz), 64
/// kbps at the MPEG-2.5 rates (8-12 kHz).
fn mode(settings: &Settings, spec: &Spec) -> Result<Mode, EncodeError> {
    let allowed: &[u32] = if MPEG1_RATES.contains(&spec.rate) {
        &MPEG1_BITRATES
    } else if MPEG2_RATES.contains(&spec.rate) {
        &MPEG2_BITRATES
    } else if MPEG25_RATES.contains(&spec.rate) {
        &MPEG25_BITRATES
    } else {
        return Err(EncodeError::Unsupported(format!(
            "MP3 cannot store {} Hz audio; pass --sample-rate 44100 or 48000 to resample \
             (MP3 takes 32000, 44100 and 48000 Hz, and 8000 to 24000 Hz at low bitrates)",
            spec.rate
        )));
    };
    if !(1..=2).contains(&spec.channels) {
        return Err(EncodeError::Unsupported(format!(
            "MP3 holds mono or stereo, not {} channels; downmix to stereo first",
            spec.channels
        )));
    }
    if let Some(q) = settings.vbr {
        if q > 9 {
            return Err(EncodeError::Unsupported(format!(
                "MP3 VBR quality runs from 0 (best) to 9, not {q}"
            )));
        }
        return Ok(Mode::Vbr(q));
    }
    let kbps = settings.bitrate.unwrap_or(allowed[allowed.len() - 1]);
    if !allowed.contains(&kbps) {
        let list = allowed
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        return Err(EncodeError::Unsupported(format!(
            "{kbps} kbps is not an MP3 bitrate at {} Hz; choose one of {list}",
            spec.rate
        )));
    }
    Ok(Mode::Cbr(kbps))
}

fn quality(q: u8) -> Quality {
    match q {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        _ => Quality::Worst,
    }
}

fn lame_error(what: &str, e: impl std::fmt::Display) -> EncodeError {
    EncodeError::Encoder(format!("LAME {what}: {e}"))
}

pub struct Mp3Encoder {
    lame: mp3lame_encoder::Encoder,
    out: Box<dyn Output>,
    /// Where the first byte (the tag's placeholder frame) sits in the output.
    start: u64,
    channels: u16,
    written: u64,
    buf: Vec<u8>,
}

impl Mp3Encoder {
    pub fn new(
        settings: &Settings,
        spec: Spec,
        mut out: Box<dyn Output>,
    ) -> Result<Mp3Encoder, EncodeError> {
        let mode = mode(settings, &spec)?;
        let build = |e| lame_error("setup", e);
        let mut b = Builder::new().ok_or_else(|| lame_error("setup", "out of memory"))?;
        b.set_num_channels(spec.channels as u8).map_err(build)?;
        b.set_sample_rate(spec.rate).map_err(build)?;
        // The same rate out as in: LAME would otherwise resample when it sees fit.
        b.set_output_sample_rate(NonZeroU32::new(spec.rate))
            .map_err(build)?;
        b.set_mode(if spec.channels == 1 {
            mp3lame_encoder::Mode::Mono
        } else {
            mp3lame_encoder::Mode::JointStereo
        })
        .map_err(build)?;
        b.set_to_write_vbr_tag(true).map_err(build)?;
        match mode {
            Mode::Cbr(kbps) => {
                b.set_vbr_mode(VbrMode::Off).map_err(build)?;
                // The crate's `Bitrate` enum lacks 56 and 144 kbps; LAME itself takes any.
                // SAFETY: the pointer is the builder's live LAME handle.
                let res = unsafe { mp3lame_encoder::ffi::lame_set_brate(b.as_ptr(), kbps as _) };
                if res < 0 {
                    return Err(lame_error("setup", format!("bitrate {kbps} refused")));
                }
            }
            Mode::Vbr(q) => {
                b.set_vbr_mode(VbrMode::Mtrh).map_err(build)?;
                b.set_vbr_quality(quality(q)).map_err(build)?;
            }
        }
        // SAFETY: as above. No ID3 tag, so the tag's placeholder frame comes first.
        unsafe { mp3lame_encoder::ffi::lame_set_write_id3tag_automatic(b.as_ptr(), 0) };
        let lame = b.build().map_err(build)?;
        let start = out.stream_position()?;
        Ok(Mp3Encoder {
            lame,
            out,
            start,
            channels: spec.channels,
            written: 0,
            buf: Vec::new(),
        })
    }

    fn emit(&mut self) -> Result<(), EncodeError> {
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl Encoder for Mp3Encoder {
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
        super::check_whole_frames(samples, self.channels)?;
        let ch = usize::from(self.channels);
        for chunk in samples.chunks(CHUNK_FRAMES * ch) {
            let frames = chunk.len() / ch;
            self.buf
                .reserve(mp3lame_encoder::max_required_buffer_size(frames));
            let res = if ch == 2 {
                self.lame
                    .encode_to_vec(InterleavedPcm(chunk), &mut self.buf)
            } else {
                self.lame.encode_to_vec(MonoPcm(chunk), &mut self.buf)
            };
            res.map_err(|e| lame_error("encoding", e))?;
            self.emit()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), EncodeError> {
        self.buf
            .reserve(mp3lame_encoder::max_required_buffer_size(0));
        self.lame
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(|e| lame_error("flush", e))?;
        self.emit()?;

        let mut tag = Vec::with_capacity(self.lame.lame_tag_size());
        if self.lame.lame_tag_encode_to_vec(&mut tag).is_none() {
            return Err(lame_error("tag", "LAME produced no LAME/Info tag"));
        }
        if tag.len() as u64 > self.written {
            return Err(lame_error("tag", "the tag is larger than the stream"));
        }
        let end = self.start + self.written;
        self.out.seek(SeekFrom::Start(self.start))?;
        self.out.write_all(&tag)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use super::super::testkit::*;
    use super::*;
    use crate::convert::encode::{Format, encoder};

    /// Pure tones (no noise) for lossy codecs, where the decoded wave is compared sample by
    /// sample with the input.
    fn tones(frames: usize, channels: u16, rate: u32) -> Vec<f32> {
        let mut out = Vec::with_capacity(frames * usize::from(channels));
        for i in 0..frames {
            let t = i as f64 / f64::from(rate);
            for c in 0..channels {
                let f = 330.0 + 220.0 * f64::from(c);
                let v = 0.4 * (2.0 * std::f64::consts::PI * f * t).sin()
                    + 0.2 * (2.0 * std::f64::consts::PI * 2.7 * f * t).sin();
                out.push(v as f32);
            }
        }
        out
    }

    /// One MPEG audio frame header, as read back from the file.
    #[derive(Debug)]
    struct Frame {
        at: usize,
        len: usize,
        kbps: u32,
        rate: u32,
        mpeg1: bool,
        mono: bool,
    }

    impl Frame {
        fn samples(&self) -> usize {
            if self.mpeg1 { 1152 } else { 576 }
        }
        /// Where a Xing/Info tag starts in the frame: after the header and side information.
        fn tag_at(&self) -> usize {
            self.at
                + 4
                + match (self.mpeg1, self.mono) {
                    (true, false) => 32,
                    (true, true) | (false, false) => 17,
                    (false, true) => 9,
                }
        }
    }

    /// Walks the file frame by frame; every byte must belong to a Layer III frame.
    fn frames(bytes: &[u8]) -> Vec<Frame> {
        const V1: [u32; 15] = [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ];
        const V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            assert!(at + 4 <= bytes.len(), "truncated header at {at}");
            let h = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
            assert_eq!(h >> 21, 0x7ff, "frame sync at {at}");
            let version = (h >> 19) & 3;
            assert_ne!(version, 1, "reserved version at {at}");
            assert_eq!((h >> 17) & 3, 1, "Layer III at {at}");
            let mpeg1 = version == 3;
            let index = ((h >> 12) & 15) as usize;
            assert!((1..15).contains(&index), "bitrate index at {at}");
            let kbps = if mpeg1 { V1[index] } else { V2[index] };
            let base = [44100, 48000, 32000][((h >> 10) & 3) as usize];
            let rate = match version {
                3 => base,
                2 => base / 2,
                _ => base / 4,
            };
            let padding = ((h >> 9) & 1) as usize;
            let per = if mpeg1 { 144 } else { 72 };
            let len = (per * kbps * 1000 / rate) as usize + padding;
            let mono = (h >> 6) & 3 == 3;
            out.push(Frame {
                at,
                len,
                kbps,
                rate,
                mpeg1,
                mono,
            });
            at += len;
        }
        assert_eq!(at, bytes.len(), "the last frame ends the file");
        out
    }

    /// CRC-16 as LAME computes it for its tag (polynomial 0x8005, reflected, initial 0).
    fn crc16(bytes: &[u8]) -> u16 {
        let mut crc = 0u16;
        for &b in bytes {
            crc ^= u16::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xa001
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    /// Checks the LAME/Info tag in the first frame against the frames that follow it and
    /// returns (encoder delay, padding).
    fn check_tag(bytes: &[u8], frames: &[Frame], vbr: bool, what: &str) -> (usize, usize) {
        let first = &frames[0];
        let t = first.tag_at();
        let be32 = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        let want_id: &[u8] = if vbr { b"Xing" } else { b"Info" };
        assert_eq!(&bytes[t..t + 4], want_id, "{what}: tag id");
        assert_eq!(
            be32(t + 4) & 0xf,
            0xf,
            "{what}: frames, bytes, TOC, quality"
        );
        assert_eq!(
            be32(t + 8) as usize,
            frames.len() - 1,
            "{what}: frame count"
        );
        assert_eq!(be32(t + 12) as usize, bytes.len(), "{what}: byte count");
        let toc = &bytes[t + 16..t + 116];
        assert!(toc.windows(2).all(|w| w[0] <= w[1]), "{what}: TOC ascends");
        if frames.len() > 10 {
            assert!(toc[99] > toc[1], "{what}: TOC spans the file");
        }
        let lame = t + 120;
        assert_eq!(&bytes[lame..lame + 4], b"LAME", "{what}: LAME extension");
        let method = bytes[lame + 9] & 0xf;
        assert_eq!(method == 1, !vbr, "{what}: VBR method {method}");
        let d = &bytes[lame + 21..lame + 24];
        let delay = usize::from(d[0]) << 4 | usize::from(d[1]) >> 4;
        let padding = usize::from(d[1] & 0xf) << 8 | usize::from(d[2]);
        assert_eq!(
            be32(lame + 28) as usize,
            bytes.len(),
            "{what}: music length"
        );
        let music_crc = u16::from_be_bytes([bytes[lame + 32], bytes[lame + 33]]);
        assert_eq!(
            music_crc,
            crc16(&bytes[first.at + first.len..]),
            "{what}: music CRC"
        );
        let tag_crc = u16::from_be_bytes([bytes[lame + 34], bytes[lame + 35]]);
        assert_eq!(
            tag_crc,
            crc16(&bytes[first.at..lame + 34]),
            "{what}: tag CRC"
        );
        (delay, padding)
    }

    fn ffprobe_bitrate(path: &Path) -> u32 {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0"])
            .args([
                "-show_entries",
                "stream=bit_rate",
                "-of",
                "default=nw=1:nk=1",
            ])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    /// mutagen's reading: (bitrate, bitrate mode: 1 CBR 2 VBR, encoder, length in samples).
    fn mutagen(path: &Path) -> Option<(u32, u32, String, u64)> {
        let script = "import sys, mutagen.mp3 as m\n\
                      i = m.MP3(sys.argv[1]).info\n\
                      print(i.bitrate, int(i.bitrate_mode), repr(i.encoder_info), \
                      round(i.length * i.sample_rate))";
        let out = Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(path)
            .output()
            .ok()
            .filter(|o| o.status.success());
        let Some(out) = out else {
            eprintln!("note: python3 with mutagen is not available; skipping its check");
            return None;
        };
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let f: Vec<&str> = text.split_whitespace().collect();
        Some((
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2..f.len() - 1].join(" "),
            f[f.len() - 1].parse().unwrap(),
        ))
    }

    /// Signal-to-noise ratio in dB of `got` against `want`, sample by sample (no alignment: a
    /// decoder that trims wrongly scores near 0 dB).
    fn snr(got: &[f32], want: &[f32]) -> f64 {
        let (mut s, mut n) = (0.0f64, 0.0f64);
        for (&g, &w) in got.iter().zip(want) {
            s += f64::from(w) * f64::from(w);
            n += (f64::from(g) - f64::from(w)).powi(2);
        }
        10.0 * (s / n.max(1e-20)).log10()
    }

    fn settings(bitrate: Option<u32>, vbr: Option<u8>) -> Settings {
        let mut s = Settings::new(Format::Mp3);
        s.bitrate = bitrate;
        s.vbr = vbr;
        s
    }

    /// Encodes tones and checks the file's frames, its tag, and what decoders make of it.
    fn round_trip(frames_in: usize, channels: u16, rate: u32, s: &Settings) {
        let input = tones(frames_in, channels, rate);
        let spec = Spec {
            rate,
            channels,
            bits: Some(16),
        };
        let file = encode(s, spec, &input).unwrap();
        let what = format!("{channels} ch {rate} Hz {s:?}");
        let vbr = s.vbr.is_some();
        let want_kbps = match mode(s, &spec).unwrap() {
            Mode::Cbr(k) => Some(k),
            Mode::Vbr(_) => None,
        };

        let bytes = std::fs::read(file.path()).unwrap();
        let frames = frames(&bytes);
        assert!(frames.iter().all(|f| f.rate == rate), "{what}: rate");
        assert!(
            frames.iter().all(|f| f.mono == (channels == 1)),
            "{what}: mode"
        );
        if let Some(k) = want_kbps {
            assert!(frames.iter().all(|f| f.kbps == k), "{what}: CBR bitrate");
        }
        let (delay, padding) = check_tag(&bytes, &frames, vbr, &what);
        assert_eq!(delay, 576, "{what}: LAME's encoder delay");
        let spf = frames[0].samples();
        assert_eq!(
            (frames.len() - 1) * spf - delay - padding,
            frames_in,
            "{what}: frames minus delay and padding"
        );

        let d = decode(file.path());
        assert_eq!(
            (d.rate, d.channels),
            (rate, usize::from(channels)),
            "{what}"
        );
        assert_eq!(d.frames, frames_in, "{what}: symphonia frame count");
        if frames_in >= 4 * spf {
            let got: Vec<f32> = d
                .samples
                .iter()
                .map(|&v| v as f32 / 2f32.powi(31))
                .collect();
            let db = snr(&got, &input);
            assert!(
                db > 20.0,
                "{what}: symphonia's decode is aligned ({db:.1} dB)"
            );
        }

        // ffmpeg refuses a file whose one audio frame is all delay and padding ("could not
        // seek"), the lame program's own output for empty input included.
        if frames_in > 0 && have("ffmpeg") {
            let got = ffmpeg_decode(file.path(), channels);
            assert_eq!(
                got.len(),
                frames_in * usize::from(channels),
                "{what}: ffmpeg frame count"
            );
            if frames_in >= 4 * spf {
                let got: Vec<f32> = got.iter().map(|&v| v as f32 / 2f32.powi(31)).collect();
                let db = snr(&got, &input);
                assert!(db > 20.0, "{what}: ffmpeg's decode is aligned ({db:.1} dB)");
            }
        }
        if have("lame") {
            // LAME's own decoder (mpglib) also reads the tag and trims.
            let wav = tempfile::Builder::new().suffix(".wav").tempfile().unwrap();
            let status = Command::new("lame")
                .args(["--quiet", "--decode"])
                .arg(file.path())
                .arg(wav.path())
                .status()
                .unwrap();
            assert!(status.success(), "{what}: lame --decode");
            let reader = hound::WavReader::open(wav.path()).unwrap();
            assert_eq!(
                reader.duration() as usize,
                frames_in,
                "{what}: lame --decode frame count"
            );
        }
        if let (Some(k), true, true) = (want_kbps, frames_in > 0, have("ffprobe")) {
            assert_eq!(ffprobe_bitrate(file.path()), k * 1000, "{what}: ffprobe");
        }
        if let Some((bitrate, bitrate_mode, encoder, length)) = mutagen(file.path()) {
            assert_eq!(
                bitrate_mode,
                if vbr { 2 } else { 1 },
                "{what}: mutagen mode"
            );
            assert!(
                encoder.starts_with("'LAME 3.100"),
                "{what}: mutagen encoder {encoder}"
            );
            assert_eq!(length, frames_in as u64, "{what}: mutagen length");
            // mutagen averages the bytes over the samples: the padding slots LAME spreads to
            // hold the bitrate at rates like 11025 Hz leave a short file a little off.
            if let Some(k) = want_kbps {
                let k = f64::from(k * 1000);
                let off = (f64::from(bitrate) - k).abs() / k;
                assert!(off < 0.002, "{what}: mutagen bitrate {bitrate}");
            }
        }
    }

    #[test]
    fn cbr_320_stereo_44k_decodes_to_the_exact_length() {
        round_trip(44100 * 2 + 333, 2, 44100, &settings(None, None));
    }

    #[test]
    fn cbr_mono_48k_and_32k() {
        round_trip(48000 * 2 + 333, 1, 48000, &settings(Some(128), None));
        round_trip(32000 + 17, 2, 32000, &settings(Some(56), None));
    }

    #[test]
    fn mpeg2_rates_default_to_160_kbps_and_mpeg25_to_64() {
        round_trip(22050 * 2 + 333, 2, 22050, &settings(None, None));
        round_trip(24000 + 1, 1, 24000, &settings(Some(144), None));
        round_trip(11025 + 5, 1, 11025, &settings(Some(32), None));
        round_trip(8000 * 2 + 7, 2, 8000, &settings(None, None));
        round_trip(16000 + 3, 2, 16000, &settings(Some(96), Some(4)));
    }

    #[test]
    fn vbr_is_valid_and_exact() {
        round_trip(44100 * 2 + 333, 2, 44100, &settings(None, Some(0)));
        round_trip(48000 + 333, 1, 48000, &settings(Some(320), Some(5)));
        round_trip(44100 + 1, 2, 44100, &settings(None, Some(9)));
    }

    #[test]
    fn short_inputs_keep_their_length() {
        for n in [0, 1, 575, 576, 1152, 1153] {
            round_trip(n, 2, 44100, &settings(None, None));
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        let out = || Box::new(std::io::Cursor::new(Vec::new()));
        let stereo = |rate| Spec {
            rate,
            channels: 2,
            bits: None,
        };
        let refused = |s: &Settings, spec: Spec| {
            matches!(encoder(s, spec, out()), Err(EncodeError::Unsupported(_)))
        };
        for kbps in [0, 8, 31, 33, 100, 144, 321, 1000, u32::MAX] {
            assert!(
                refused(&settings(Some(kbps), None), stereo(44100)),
                "{kbps}"
            );
        }
        for kbps in [192, 256, 320] {
            assert!(
                refused(&settings(Some(kbps), None), stereo(22050)),
                "{kbps}"
            );
        }
        for q in [10, 99, 255] {
            assert!(refused(&settings(None, Some(q)), stereo(44100)), "V{q}");
        }
        for rate in [0, 1, 44000, 88200, 96000, 192_000] {
            assert!(refused(&settings(None, None), stereo(rate)), "{rate} Hz");
        }
        for channels in [0, 3, 6] {
            let spec = Spec {
                rate: 44100,
                channels,
                bits: None,
            };
            assert!(refused(&settings(None, None), spec), "{channels} channels");
        }
        let message = match encoder(&settings(None, None), stereo(96000), out()) {
            Err(e) => e.to_string(),
            Ok(_) => unreachable!(),
        };
        assert!(message.contains("--sample-rate"), "{message}");
        let mut enc = encoder(&settings(None, None), stereo(44100), out()).unwrap();
        assert!(matches!(enc.write(&[0.5]), Err(EncodeError::Encoder(_))));
    }
}
