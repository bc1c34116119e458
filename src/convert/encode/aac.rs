//! AAC-LC in .m4a: the Fraunhofer FDK encoder (fdk-aac, behind the cargo feature `aac` because
//! its licence is not a free-software licence) makes raw access units, our own
//! [`mp4`](crate::convert::mp4) writer muxes them.
//!
//! Gapless: FDK reports its codec delay in its encoder info (`nDelay`: 2048 frames for AAC-LC,
//! 1024 of framing plus 1024 of block-switching lookahead, at every rate, channel count and
//! bitrate tried), and the decoded stream is the source shifted by exactly that much (the tests
//! check the alignment through symphonia and ffmpeg). fdk-aac exposes no flush, so the input is
//! padded with silence until the access units cover delay + source. The edit list and `iTunSMPB`
//! then say which frames are the source: delay + frames + padding = access units × 1024.

// Without the encoder, only the stub that says so is used.
#![cfg_attr(not(feature = "aac"), allow(dead_code))]

use super::{EncodeError, Encoder, Output, Settings};
use crate::audio::Spec;

/// Bitrate when the settings name none, in kbps.
pub const DEFAULT_BITRATE: u32 = 256;

/// The bitrates accepted, in kbps.
pub const BITRATES: std::ops::RangeInclusive<u32> = 64..=320;

/// The sample rates AAC has (its sampling frequency index table).
pub const SAMPLE_RATES: [u32; 12] = [
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];

/// Starts an AAC encoder, or explains that this build has none.
#[cfg(not(feature = "aac"))]
pub(super) fn start(
    _settings: &Settings,
    _spec: Spec,
    _out: Box<dyn Output>,
) -> Result<Box<dyn Encoder>, EncodeError> {
    Err(EncodeError::Unsupported(
        "AAC encoding was left out of this build (cargo feature `aac`)".into(),
    ))
}

/// Starts an AAC encoder at `settings.bitrate` kbps (default 256).
#[cfg(feature = "aac")]
pub(super) fn start(
    settings: &Settings,
    spec: Spec,
    out: Box<dyn Output>,
) -> Result<Box<dyn Encoder>, EncodeError> {
    Ok(Box::new(AacEncoder::new(settings, spec, out)?))
}

/// Checks that AAC can encode `spec` at the settings' bitrate; returns the bitrate in kbps.
pub fn check(settings: &Settings, spec: Spec) -> Result<u32, EncodeError> {
    let kbps = settings.bitrate.unwrap_or(DEFAULT_BITRATE);
    if !BITRATES.contains(&kbps) {
        return Err(EncodeError::Unsupported(format!(
            "AAC bitrate {kbps} kbps is out of range: use {} to {} kbps",
            BITRATES.start(),
            BITRATES.end()
        )));
    }
    if !(1..=2).contains(&spec.channels) {
        return Err(EncodeError::Unsupported(format!(
            "AAC is written in mono or stereo, and this audio has {} channels",
            spec.channels
        )));
    }
    if !SAMPLE_RATES.contains(&spec.rate) {
        let rates: Vec<String> = SAMPLE_RATES.iter().map(u32::to_string).collect();
        return Err(EncodeError::Unsupported(format!(
            "AAC cannot be written at {} Hz; pass --sample-rate with one of {} Hz",
            spec.rate,
            rates.join(", ")
        )));
    }
    Ok(kbps)
}

#[cfg(feature = "aac")]
pub use imp::AacEncoder;

#[cfg(feature = "aac")]
mod imp {
    use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, EncoderParams, Transport};

    use super::*;
    use crate::audio::to_int;
    use crate::convert::mp4::{Mp4Writer, SampleEntry, Trim};

    /// One .m4a file of AAC being written.
    pub struct AacEncoder {
        enc: fdk_aac::enc::Encoder,
        mux: Mp4Writer<Box<dyn Output>>,
        channels: usize,
        /// Frames per access unit (1024).
        frame_len: u32,
        /// Codec delay in frames: decoded frame `delay + i` is source frame `i`.
        delay: u32,
        /// The AudioSpecificConfig.
        config: Vec<u8>,
        /// 16-bit samples not yet taken by the encoder.
        pending: Vec<i16>,
        out: Vec<u8>,
        frames: u64,
    }

    fn fdk_error(what: &str, e: fdk_aac::enc::EncoderError) -> EncodeError {
        EncodeError::Encoder(format!("AAC {what}: {e}"))
    }

    impl AacEncoder {
        pub fn new(
            settings: &Settings,
            spec: Spec,
            out: Box<dyn Output>,
        ) -> Result<AacEncoder, EncodeError> {
            let kbps = check(settings, spec)?;
            let enc = fdk_aac::enc::Encoder::new(EncoderParams {
                bit_rate: BitRate::Cbr(kbps * 1000),
                sample_rate: spec.rate,
                transport: Transport::Raw,
                channels: if spec.channels == 1 {
                    ChannelMode::Mono
                } else {
                    ChannelMode::Stereo
                },
                audio_object_type: AudioObjectType::Mpeg4LowComplexity,
            })
            .map_err(|e| fdk_error("encoder setup failed", e))?;
            let info = enc.info().map_err(|e| fdk_error("encoder info", e))?;
            let config_len = (info.confSize as usize).min(info.confBuf.len());
            if info.frameLength == 0 || config_len == 0 {
                return Err(EncodeError::Encoder(
                    "AAC encoder reported no frame length or configuration".into(),
                ));
            }
            Ok(AacEncoder {
                enc,
                mux: Mp4Writer::new(out, spec.rate, spec.channels)?,
                channels: usize::from(spec.channels),
                frame_len: info.frameLength,
                delay: info.nDelay,
                config: info.confBuf[..config_len].to_vec(),
                pending: Vec::new(),
                out: vec![0; (info.maxOutBufBytes as usize).max(8192)],
                frames: 0,
            })
        }

        /// Hands the pending samples to the encoder, writing the access units that come out.
        fn pump(&mut self) -> Result<(), EncodeError> {
            let mut pos = 0;
            while pos < self.pending.len() {
                let done = self
                    .enc
                    .encode(&self.pending[pos..], &mut self.out)
                    .map_err(|e| fdk_error("encoding failed", e))?;
                pos += done.input_consumed.min(self.pending.len() - pos);
                if done.output_size > 0 {
                    let unit = self.out.get(..done.output_size).ok_or_else(|| {
                        EncodeError::Encoder("AAC encoder overran its output buffer".into())
                    })?;
                    self.mux.write_sample(unit, self.frame_len)?;
                } else if done.input_consumed == 0 {
                    break;
                }
            }
            self.pending.drain(..pos);
            Ok(())
        }
    }

    impl Encoder for AacEncoder {
        fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError> {
            crate::convert::encode::check_whole_frames(samples, self.channels as u16)?;
            self.pending
                .extend(samples.iter().map(|&s| to_int(s, 16) as i16));
            self.frames += (samples.len() / self.channels) as u64;
            self.pump()
        }

        fn finish(mut self: Box<Self>) -> Result<(), EncodeError> {
            // Silence until the access units hold the delay and every source frame.
            let needed = u64::from(self.delay) + self.frames;
            let block = vec![0i16; self.frame_len as usize * self.channels];
            let mut blocks_left = needed / u64::from(self.frame_len) + 8;
            while self.mux.duration() < needed {
                if blocks_left == 0 {
                    return Err(EncodeError::Encoder(
                        "AAC encoder stopped producing audio before the end".into(),
                    ));
                }
                blocks_left -= 1;
                self.pending.extend_from_slice(&block);
                self.pump()?;
            }
            let trim = Trim {
                priming: self.delay,
                frames: self.frames,
                itunsmpb: true,
            };
            let this = *self;
            this.mux.finish(
                SampleEntry::Aac {
                    config: this.config,
                },
                trim,
            )?;
            Ok(())
        }
    }
}

#[cfg(all(test, feature = "aac"))]
mod tests {
    use symphonia::core::codecs::audio::well_known::CODEC_ID_AAC;

    use super::*;
    use crate::convert::encode::{Format, encoder};
    use crate::convert::mp4::testing::*;

    fn spec(rate: u32, channels: u16) -> Spec {
        Spec {
            rate,
            channels,
            bits: None,
        }
    }

    /// The iTunSMPB tag's delay, padding and frame count.
    fn itunsmpb(file: &[u8]) -> (u32, u32, u64) {
        let freeform = find_box(file, &["moov", "udta", "meta", "ilst", "----"]).expect("----");
        let kids: Vec<(String, &[u8])> = children(freeform).collect();
        assert_eq!(kids[0].0, "mean");
        assert_eq!(&kids[0].1[4..], b"com.apple.iTunes");
        assert_eq!(kids[1].0, "name");
        assert_eq!(&kids[1].1[4..], b"iTunSMPB");
        assert_eq!(kids[2].0, "data");
        assert_eq!(be32(kids[2].1, 0), 1, "UTF-8 data");
        let text = std::str::from_utf8(&kids[2].1[8..]).unwrap();
        let fields: Vec<&str> = text.split(' ').collect();
        assert_eq!(fields.len(), 13, "{text:?}");
        assert_eq!(fields[0], "");
        let widths: Vec<usize> = fields[1..].iter().map(|f| f.len()).collect();
        assert_eq!(widths, [8, 8, 8, 16, 8, 8, 8, 8, 8, 8, 8, 8], "{text:?}");
        let hex = |s: &str| u64::from_str_radix(s, 16).unwrap();
        (hex(fields[2]) as u32, hex(fields[3]) as u32, hex(fields[4]))
    }

    /// Signal-to-noise ratio in dB of `got` against `want`, both interleaved.
    fn snr(got: &[f32], want: &[f32]) -> f64 {
        let (mut sig, mut err) = (0.0f64, 0.0f64);
        for (&g, &w) in got.iter().zip(want) {
            sig += f64::from(w) * f64::from(w);
            err += (f64::from(g) - f64::from(w)).powi(2);
        }
        10.0 * (sig / err.max(1e-30)).log10()
    }

    /// ffmpeg, an independent decoder, skips exactly the edit list's media time, and what
    /// follows is the source, aligned. (ffmpeg 5.1 trims the start by the edit list but leaves
    /// the padding at the end, so either count is accepted.)
    fn ffmpeg_agrees(
        path: &std::path::Path,
        samples: &[f32],
        ch: usize,
        delay: u64,
        packets: u64,
        what: &str,
    ) {
        let decoded: Vec<f32> = ffmpeg_s32(path)
            .iter()
            .map(|&s| s as f32 / 2_147_483_648.0)
            .collect();
        let untrimmed_end = (packets * 1024 - delay) as usize * ch;
        assert!(
            decoded.len() == samples.len() || decoded.len() == untrimmed_end,
            "{what}: ffmpeg decoded {} samples for {} (or {untrimmed_end} untrimmed)",
            decoded.len(),
            samples.len()
        );
        let frames = samples.len() / ch;
        if frames >= 20_000 {
            let body = 4096 * ch..(frames - 4096) * ch;
            let db = snr(&decoded[body.clone()], &samples[body]);
            assert!(
                db > 25.0,
                "{what}: ffmpeg's decoding is {db:.1} dB from the source"
            );
        }
    }

    /// Encodes `frames` of the test signal and checks everything gapless playback depends on.
    fn round_trip(frames: usize, rate: u32, channels: u16, kbps: Option<u32>) {
        let ch = usize::from(channels);
        let samples = tones(frames, channels, rate, frames as u64);
        let mut settings = Settings::new(Format::Aac);
        settings.bitrate = kbps;
        let (_dir, path) = encode_file(&settings, spec(rate, channels), &samples);
        let what = format!("{frames} frames {rate} Hz {channels} ch");
        let file = std::fs::read(&path).unwrap();

        // The numbers: edit list, iTunSMPB and the packets agree.
        let stsz = find_box(&file, &["moov", "trak", "mdia", "minf", "stbl", "stsz"]).unwrap();
        let packets = u64::from(be32(stsz, 8));
        let (delay, padding, count) = itunsmpb(&file);
        assert_eq!(count, frames as u64, "{what}: iTunSMPB count");
        assert_eq!(
            u64::from(delay) + count + u64::from(padding),
            packets * 1024,
            "{what}"
        );
        assert!(
            padding < 1024,
            "{what}: padding {padding} is more than one access unit"
        );
        let mdhd = find_box(&file, &["moov", "trak", "mdia", "mdhd"]).unwrap();
        assert_eq!(be32(mdhd, 12), rate, "{what}: media timescale");
        assert_eq!(
            u64::from(be32(mdhd, 16)),
            packets * 1024,
            "{what}: media duration"
        );
        let mvhd = find_box(&file, &["moov", "mvhd"]).unwrap();
        assert_eq!(be32(mvhd, 12), rate, "{what}: movie timescale");
        assert_eq!(be32(mvhd, 16) as usize, frames, "{what}: movie duration");
        if frames > 0 {
            assert_eq!(
                edit(&file),
                (frames as u64, i64::from(delay)),
                "{what}: edit list"
            );
        }

        // symphonia decodes every access unit; the edit list's cut is exactly the source.
        let d = decode::<f32>(&path);
        assert_eq!(d.params.codec, CODEC_ID_AAC);
        assert_eq!((d.rate, d.channels), (rate, ch), "{what}");
        // Above 65535 Hz the sample entry cannot hold the rate; the AudioSpecificConfig does.
        let entry_rate = if rate > 0xffff { 0 } else { rate };
        assert_eq!(d.params.sample_rate, Some(entry_rate), "{what}");
        assert_eq!(d.samples.len() as u64, packets * 1024 * ch as u64, "{what}");
        let start = delay as usize * ch;
        let cut = &d.samples[start..start + frames * ch];
        assert_eq!(cut.len(), samples.len(), "{what}");
        // And it is aligned: the source matches best with no shift at all.
        if frames >= 20_000 {
            let body = 4096 * ch..(frames - 4096) * ch;
            let at = |lag: isize| {
                let from = (start as isize + lag * ch as isize) as usize;
                snr(
                    &d.samples[from + body.start..from + body.end],
                    &samples[body.clone()],
                )
            };
            let best = at(0);
            assert!(best > 25.0, "{what}: SNR {best:.1} dB");
            for lag in [-3, -2, -1, 1, 2, 3] {
                assert!(
                    at(lag) < best - 6.0,
                    "{what}: lag {lag} matches as well as 0"
                );
            }
        }

        if have("ffprobe") {
            let probe = ffprobe(&path);
            let s = &probe["streams"][0];
            assert_eq!(s["codec_name"], "aac");
            assert_eq!(s["profile"], "LC");
            assert_eq!(s["sample_rate"], rate.to_string());
            assert_eq!(s["channels"], channels);
            // The edit list makes the stream exactly as long as the source.
            assert_eq!(s["duration_ts"], frames, "{what}: ffprobe duration");
            assert_eq!(s["start_pts"], 0, "{what}: ffprobe start");
        }
        if have("ffmpeg") {
            ffmpeg_agrees(&path, &samples, ch, u64::from(delay), packets, &what);
        }
        if have_mutagen() {
            let out = mutagen(
                &path,
                "m = mutagen.mp4.MP4(sys.argv[1]); i = m.info\n\
                 print(i.codec, i.sample_rate, i.channels)\n\
                 print(bytes(m['----:com.apple.iTunes:iTunSMPB'][0]).decode())",
            );
            let mut lines = out.lines();
            assert_eq!(
                lines.next().unwrap(),
                format!("mp4a.40.2 {rate} {channels}")
            );
            let smpb = lines.next().unwrap();
            assert!(smpb.starts_with(&format!(
                " 00000000 {delay:08X} {padding:08X} {count:016X} "
            )));
        }
    }

    #[test]
    fn stereo_at_44100_is_gapless_and_exact() {
        for frames in [44100 * 3, 44100 * 2 + 333] {
            round_trip(frames, 44100, 2, None);
        }
    }

    #[test]
    fn short_inputs_mono_and_other_rates() {
        for frames in [1, 1023, 1024, 1025] {
            round_trip(frames, 44100, 2, Some(128));
        }
        round_trip(44100 + 17, 44100, 1, Some(96));
        round_trip(48000 * 2 + 5, 48000, 2, Some(320));
        round_trip(32000 + 1, 32000, 2, Some(64));
        round_trip(96000 + 3, 96000, 2, None);
    }

    #[test]
    fn empty_input_still_makes_a_valid_file() {
        let (_dir, path) = encode_file(&Settings::new(Format::Aac), spec(44100, 2), &[]);
        let file = std::fs::read(&path).unwrap();
        let (_, padding, count) = itunsmpb(&file);
        assert_eq!(count, 0);
        assert!(padding < 1024);
        if have_mutagen() {
            let out = mutagen(&path, "print(mutagen.mp4.MP4(sys.argv[1]).info.codec)");
            assert_eq!(out.trim(), "mp4a.40.2");
        }
    }

    #[test]
    fn tags_can_be_written_and_gapless_info_survives() {
        let samples = tones(44100, 2, 44100, 5);
        let (_dir, path) = encode_file(&Settings::new(Format::Aac), spec(44100, 2), &samples);
        let before = itunsmpb(&std::fs::read(&path).unwrap());
        let props = crate::tags::read(&mut std::io::BufReader::new(
            std::fs::File::open(&path).unwrap(),
        ))
        .unwrap()
        .props;
        assert_eq!(props.codec, "aac");
        assert_eq!(props.sample_rate, Some(44100));
        assert_eq!(props.channels, Some(2));
        let edit_tags = crate::tags::TagEdit {
            title: Some("Gapless".into()),
            ..Default::default()
        };
        crate::tags::write(&path, &edit_tags).unwrap();
        let file = std::fs::read(&path).unwrap();
        assert_eq!(itunsmpb(&file), before);
        assert_eq!(edit(&file), (44100, i64::from(before.0)));
        if have("ffmpeg") {
            let packets = (u64::from(before.0) + 44100 + u64::from(before.1)) / 1024;
            ffmpeg_agrees(
                &path,
                &samples,
                2,
                before.0.into(),
                packets,
                "after tagging",
            );
        }
    }

    #[test]
    fn settings_out_of_range_are_errors_that_say_what_to_do() {
        let err = |kbps: Option<u32>, spec: Spec| {
            let mut settings = Settings::new(Format::Aac);
            settings.bitrate = kbps;
            let out = Box::new(std::io::Cursor::new(Vec::new()));
            match encoder(&settings, spec, out) {
                Err(EncodeError::Unsupported(m)) => m,
                Err(e) => panic!("unexpected error {e}"),
                Ok(_) => panic!("accepted {kbps:?} {spec:?}"),
            }
        };
        assert!(err(Some(63), spec(44100, 2)).contains("64 to 320 kbps"));
        assert!(err(Some(321), spec(44100, 2)).contains("64 to 320 kbps"));
        assert!(err(None, spec(44100, 6)).contains("6 channels"));
        assert!(err(None, spec(44100, 0)).contains("0 channels"));
        let m = err(None, spec(44000, 2));
        assert!(m.contains("44000 Hz") && m.contains("--sample-rate"), "{m}");

        let out = Box::new(std::io::Cursor::new(Vec::new()));
        let mut enc = encoder(&Settings::new(Format::Aac), spec(44100, 2), out).unwrap();
        assert!(matches!(enc.write(&[0.0; 3]), Err(EncodeError::Encoder(_))));
        enc.write(&[f32::NAN, f32::INFINITY]).unwrap();
        enc.finish().unwrap();
    }
}

#[cfg(all(test, not(feature = "aac")))]
mod tests {
    use super::*;
    use crate::convert::encode::{Format, encoder};

    #[test]
    fn without_the_feature_aac_is_refused_with_the_reason() {
        let spec = Spec {
            rate: 44100,
            channels: 2,
            bits: None,
        };
        let out = Box::new(std::io::Cursor::new(Vec::new()));
        match encoder(&Settings::new(Format::Aac), spec, out) {
            Err(EncodeError::Unsupported(m)) => assert_eq!(
                m,
                "AAC encoding was left out of this build (cargo feature `aac`)"
            ),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("encoded AAC without the encoder"),
        }
    }
}
