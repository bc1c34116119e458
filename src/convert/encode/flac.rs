//! FLAC through flacenc (pure Rust), streamed: samples are cut into fixed-size blocks as they
//! arrive and each block is encoded and written at once, so memory stays at one block however
//! long the track. The STREAMINFO block is written as a placeholder first and rewritten in
//! `finish` with the real frame sizes, total sample count and MD5.
//!
//! flacenc's own whole-stream writer puts the short last block's size into STREAMINFO's
//! minimum block size, which symphonia 0.6 then refuses to open; writing STREAMINFO here
//! avoids that: the minimum block size is the block size (the spec excludes the last block).
//!
//! Compression levels follow the reference encoder's presets: its block sizes, stereo modes
//! and maximum LPC orders. flacenc has no apodization choices and no LPC order search (the
//! level's order is used as is), so above level 5 the levels trade speed for little: on test
//! material sizes moved by under 0.1% while speed halved.
//!
//! | level | block size | stereo decorrelation        | LPC order | fixed predictor order |
//! |-------|------------|-----------------------------|-----------|-----------------------|
//! | 0     | 1152       | none (independent channels) | no LPC    | estimated             |
//! | 1     | 1152       | mid/side                    | no LPC    | estimated             |
//! | 2     | 1152       | left/side, right/side, m/s  | no LPC    | estimated             |
//! | 3     | 4096       | none                        | 6         | estimated             |
//! | 4     | 4096       | mid/side                    | 8         | estimated             |
//! | 5     | 4096       | all three                   | 8         | estimated             |
//! | 6     | 4096       | all three                   | 8         | exact bit count       |
//! | 7     | 4096       | all three                   | 12        | estimated             |
//! | 8     | 4096       | all three                   | 12        | exact bit count       |
//!
//! Each block is encoded every way its level allows and the smallest kept; "estimated" picks
//! the fixed predictor's order from an entropy estimate, "exact bit count" encodes each order
//! and counts (slower). Block sizes stay within the FLAC streamable subset (at most 4608 at
//! 48 kHz and below), which hardware players expect.

use std::io::{Seek, SeekFrom, Write};

use flacenc::bitsink::ByteSink;
use flacenc::component::{BitRepr, StreamInfo};
use flacenc::config;
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};

use super::{EncodeError, Encoder, Output, Settings};
use super::{check_shape, check_whole_frames, pcm_bits};
use crate::audio::{Spec, to_int};

/// "fLaC", the last-metadata-block flag with type 0 (STREAMINFO), and its 34-byte length.
const STREAMINFO_HEADER: [u8; 8] = [b'f', b'L', b'a', b'C', 0x80, 0, 0, 34];
/// The largest sample rate STREAMINFO's 20-bit field holds.
const MAX_RATE: u32 = (1 << 20) - 1;

/// The encoder configuration for a compression level 0-8 (see the module table).
fn level_config(level: u8) -> Result<Verified<config::Encoder>, EncodeError> {
    if level > 8 {
        return Err(EncodeError::Unsupported(format!(
            "FLAC compression levels run from 0 to 8, not {level}"
        )));
    }
    let mut c = config::Encoder::default();
    c.multithread = false;
    c.block_size = if level <= 2 { 1152 } else { 4096 };
    let stereo = &mut c.stereo_coding;
    match level {
        0 | 3 => {
            stereo.use_leftside = false;
            stereo.use_rightside = false;
            stereo.use_midside = false;
        }
        1 | 4 => {
            stereo.use_leftside = false;
            stereo.use_rightside = false;
            stereo.use_midside = true;
        }
        _ => {
            stereo.use_leftside = true;
            stereo.use_rightside = true;
            stereo.use_midside = true;
        }
    }
    let sub = &mut c.subframe_coding;
    sub.use_lpc = level >= 3;
    sub.qlpc.lpc_order = match level {
        0..=2 => 1, // unused without LPC, but must verify
        3 => 6,
        4..=6 => 8,
        _ => 12,
    };
    if level == 6 || level == 8 {
        sub.fixed.order_sel = config::OrderSel::BitCount;
    }
    c.into_verified()
        .map_err(|(_, e)| EncodeError::Encoder(format!("FLAC settings: {e}")))
}

pub struct FlacEncoder {
    out: Box<dyn Output>,
    /// Where the "fLaC" marker sits in the output.
    start: u64,
    config: Verified<config::Encoder>,
    info: StreamInfo,
    channels: u16,
    bits: u16,
    block_size: usize,
    /// Interleaved samples not yet making a whole block.
    pending: Vec<i32>,
    framebuf: FrameBuf,
    context: Context,
    sink: ByteSink,
    frame_number: usize,
    total_frames: u64,
    min_frame_bytes: usize,
    max_frame_bytes: usize,
}

impl FlacEncoder {
    pub fn new(
        settings: &Settings,
        spec: Spec,
        mut out: Box<dyn Output>,
    ) -> Result<FlacEncoder, EncodeError> {
        check_shape(&spec, "FLAC", 8)?;
        if spec.rate > MAX_RATE {
            return Err(EncodeError::Unsupported(format!(
                "FLAC cannot store {} Hz audio (at most {MAX_RATE} Hz)",
                spec.rate
            )));
        }
        let bits = pcm_bits(&spec, "FLAC")?;
        let config = level_config(settings.flac_level)?;
        let block_size = config.block_size;
        let channels = usize::from(spec.channels);
        let info = StreamInfo::new(spec.rate as usize, channels, usize::from(bits))
            .map_err(|e| EncodeError::Encoder(format!("FLAC stream info: {e}")))?;
        let framebuf = FrameBuf::with_size(channels, block_size)
            .map_err(|e| EncodeError::Encoder(format!("FLAC buffer: {e}")))?;
        let start = out.stream_position()?;
        out.write_all(&STREAMINFO_HEADER)?;
        out.write_all(&[0; 34])?;
        Ok(FlacEncoder {
            out,
            start,
            config,
            info,
            channels: spec.channels,
            bits,
            block_size,
            pending: Vec::with_capacity(block_size * channels),
            framebuf,
            context: Context::new(usize::from(bits), channels),
            sink: ByteSink::new(),
            frame_number: 0,
            total_frames: 0,
            min_frame_bytes: usize::MAX,
            max_frame_bytes: 0,
        })
    }

    /// Encodes and writes one block of interleaved samples (the last may be short).
    fn encode_block(&mut self, block: &[i32]) -> Result<(), EncodeError> {
        let fail = |e: &dyn std::fmt::Display| EncodeError::Encoder(format!("FLAC: {e}"));
        self.framebuf
            .fill_interleaved(block)
            .map_err(|e| fail(&e))?;
        self.context.fill_interleaved(block).map_err(|e| fail(&e))?;
        let frame = flacenc::encode_fixed_size_frame(
            &self.config,
            &self.framebuf,
            self.frame_number,
            &self.info,
        )
        .map_err(|e| fail(&e))?;
        self.sink.clear();
        frame.write(&mut self.sink).map_err(|e| fail(&e))?;
        let bytes = self.sink.as_slice();
        self.out.write_all(bytes)?;
        self.min_frame_bytes = self.min_frame_bytes.min(bytes.len());
        self.max_frame_bytes = self.max_frame_bytes.max(bytes.len());
        self.frame_number += 1;
        self.total_frames += (block.len() / usize::from(self.channels)) as u64;
        Ok(())
    }

    /// STREAMINFO's 34 bytes, from what was encoded.
    fn streaminfo(&self) -> [u8; 34] {
        let mut b = [0u8; 34];
        let block = self.block_size as u16;
        b[0..2].copy_from_slice(&block.to_be_bytes());
        b[2..4].copy_from_slice(&block.to_be_bytes());
        // 0 means unknown, the right value when nothing was encoded.
        let (min_frame, max_frame) = if self.frame_number == 0 {
            (0, 0)
        } else {
            (self.min_frame_bytes as u32, self.max_frame_bytes as u32)
        };
        b[4..7].copy_from_slice(&min_frame.to_be_bytes()[1..]);
        b[7..10].copy_from_slice(&max_frame.to_be_bytes()[1..]);
        let packed = u64::from(self.info.sample_rate() as u32) << 44
            | u64::from(self.channels - 1) << 41
            | u64::from(self.bits - 1) << 36
            | (self.total_frames & ((1 << 36) - 1));
        b[10..18].copy_from_slice(&packed.to_be_bytes());
        b[18..34].copy_from_slice(&self.context.md5_digest());
        b
    }
}

impl Encoder for FlacEncoder {
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
        check_whole_frames(samples, self.channels)?;
        let block_len = self.block_size * usize::from(self.channels);
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (block_len - self.pending.len()).min(rest.len());
            let (now, later) = rest.split_at(take);
            self.pending
                .extend(now.iter().map(|&s| to_int(s, self.bits)));
            rest = later;
            if self.pending.len() == block_len {
                let block = std::mem::take(&mut self.pending);
                let result = self.encode_block(&block);
                self.pending = block;
                self.pending.clear();
                result?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), EncodeError> {
        if !self.pending.is_empty() {
            let block = std::mem::take(&mut self.pending);
            self.encode_block(&block)?;
        }
        if self.total_frames >= 1 << 36 {
            return Err(EncodeError::Unsupported(
                "FLAC cannot count more than 2^36 frames".into(),
            ));
        }
        let info = self.streaminfo();
        let end = self.out.stream_position()?;
        self.out.seek(SeekFrom::Start(self.start + 8))?;
        self.out.write_all(&info)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::super::testkit::*;
    use super::*;
    use crate::convert::encode::{Format, encoder};

    fn settings(level: u8) -> Settings {
        let mut s = Settings::new(Format::Flac);
        s.flac_level = level;
        s
    }

    fn round_trip(frames: usize, channels: u16, rate: u32, bits: u16, level: u8) {
        let (ints, floats) = signal(frames, channels, rate, bits);
        let spec = Spec {
            rate,
            channels,
            bits: Some(bits),
        };
        let file = encode(&settings(level), spec, &floats).unwrap();
        let what = format!("{channels} ch {rate} Hz {bits} bit level {level}");

        // STREAMINFO as written.
        let bytes = std::fs::read(file.path()).unwrap();
        assert_eq!(&bytes[..8], &STREAMINFO_HEADER);
        let si = &bytes[8..42];
        let block = if level <= 2 { 1152 } else { 4096 };
        assert_eq!(
            u16::from_be_bytes([si[0], si[1]]),
            block,
            "{what}: min block"
        );
        assert_eq!(
            u16::from_be_bytes([si[2], si[3]]),
            block,
            "{what}: max block"
        );
        let packed = u64::from_be_bytes(si[10..18].try_into().unwrap());
        assert_eq!(packed >> 44, u64::from(rate), "{what}: rate");
        assert_eq!(
            (packed >> 41 & 7) + 1,
            u64::from(channels),
            "{what}: channels"
        );
        assert_eq!((packed >> 36 & 31) + 1, u64::from(bits), "{what}: bits");
        assert_eq!(
            packed & ((1 << 36) - 1),
            frames as u64,
            "{what}: total samples"
        );

        let want = widen(&ints, bits);
        // symphonia 0.6.1 cannot open a FLAC file without frames, the reference encoder's
        // included; the tools below check the empty file.
        if frames > 0 {
            let d = decode(file.path());
            assert_eq!(
                (d.rate, d.channels),
                (rate, usize::from(channels)),
                "{what}"
            );
            assert_eq!(d.frames, frames, "{what}");
            assert_same(&d.samples, &want, &format!("symphonia, {what}"));
            assert_eq!(d.verified, Some(true), "{what}: symphonia's MD5 check");
        }

        if have("flac") {
            // Warnings count as failures, except the one every empty file earns: a total sample
            // count of 0 reads as "unknown".
            let strict = if frames > 0 { "-w" } else { "-s" };
            let test = Command::new("flac")
                .args(["-t", "-s", strict])
                .arg(file.path())
                .output()
                .unwrap();
            assert!(
                test.status.success(),
                "{what}: flac -t: {}",
                String::from_utf8_lossy(&test.stderr)
            );
            let raw = Command::new("flac")
                .args(["-d", "-s", "-c", "--force-raw-format"])
                .args(["--endian=little", "--sign=signed"])
                .arg(file.path())
                .output()
                .unwrap();
            assert!(raw.status.success(), "{what}: flac -d");
            let width = usize::from(bits / 8);
            let got: Vec<i32> = raw
                .stdout
                .chunks_exact(width)
                .map(|b| {
                    let mut le = [0u8; 4];
                    le[4 - width..].copy_from_slice(b);
                    i32::from_le_bytes(le)
                })
                .collect();
            assert_same(&got, &want, &format!("flac -d, {what}"));
        }
        if have("ffmpeg") {
            let got = ffmpeg_decode(file.path(), channels);
            assert_same(&got, &want, &format!("ffmpeg, {what}"));
        }
    }

    #[test]
    fn stereo_16_bit_44k_is_bit_exact() {
        round_trip(44100 * 2 + 333, 2, 44100, 16, 5);
    }

    #[test]
    fn mono_24_bit_48k_is_bit_exact() {
        round_trip(48000 * 2 + 333, 1, 48000, 24, 5);
    }

    #[test]
    fn stereo_24_bit_48k_is_bit_exact() {
        round_trip(48000 + 333, 2, 48000, 24, 8);
    }

    #[test]
    fn every_level_is_bit_exact() {
        for level in 0..=8 {
            round_trip(44100 / 2 + 77, 2, 44100, 16, level);
        }
        round_trip(20_000, 1, 44100, 16, 0);
    }

    #[test]
    fn short_and_empty_inputs_are_valid() {
        round_trip(0, 2, 44100, 16, 5);
        round_trip(1, 2, 44100, 16, 5);
        round_trip(100, 1, 48000, 24, 5);
        round_trip(4096, 2, 44100, 16, 5);
        round_trip(4097, 6, 48000, 16, 5);
    }

    #[test]
    fn higher_levels_compress_no_worse() {
        let (_, floats) = signal(44100 * 3, 2, 44100, 16);
        let spec = Spec {
            rate: 44100,
            channels: 2,
            bits: Some(16),
        };
        let size = |level| {
            let f = encode(&settings(level), spec, &floats).unwrap();
            std::fs::metadata(f.path()).unwrap().len()
        };
        let (l0, l5, l8) = (size(0), size(5), size(8));
        assert!(l5 < l0, "level 5 ({l5}) beats level 0 ({l0})");
        assert!(l8 <= l5, "level 8 ({l8}) no worse than level 5 ({l5})");
    }

    #[test]
    fn bad_settings_are_errors() {
        let out = || Box::new(std::io::Cursor::new(Vec::new()));
        let ok = Spec {
            rate: 44100,
            channels: 2,
            bits: Some(16),
        };
        assert!(matches!(
            encoder(&settings(9), ok, out()),
            Err(EncodeError::Unsupported(_))
        ));
        assert!(matches!(
            encoder(&settings(255), ok, out()),
            Err(EncodeError::Unsupported(_))
        ));
        for (rate, channels, bits) in [
            (0, 2, Some(16)),
            (1 << 20, 2, Some(16)),
            (44100, 0, Some(16)),
            (44100, 9, Some(16)),
            (44100, 2, Some(8)),
            (44100, 2, Some(32)),
        ] {
            let spec = Spec {
                rate,
                channels,
                bits,
            };
            assert!(
                matches!(
                    encoder(&settings(5), spec, out()),
                    Err(EncodeError::Unsupported(_))
                ),
                "{spec:?}"
            );
        }
        let mut enc = encoder(&settings(5), ok, out()).unwrap();
        assert!(matches!(enc.write(&[0.5]), Err(EncodeError::Encoder(_))));
    }
}
