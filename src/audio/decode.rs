//! Decoding any supported file to interleaved `f32` frames. The only file that names symphonia.
//!
//! A [`Decoder`] yields exactly the music: symphonia trims MP3 encoder delay and padding from
//! the LAME header itself, and for MP4 (AAC, ALAC) this module applies the edit list or
//! `iTunSMPB` (which symphonia ignores), so consecutive tracks join without a gap or overlap;
//! an RF64 WAV past 4 GiB ends where its `ds64` chunk says.
//! A corrupt packet is skipped and counted rather than ending the track; a file cut short ends
//! where its data ends and says so.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::{CODEC_ID_ALAC, CODEC_ID_FLAC};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Timestamp;

use super::Spec;
use crate::container::mp4::{self, Mp4Trim};
use crate::container::riff;

/// Why a file cannot be decoded, in words meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

fn describe(e: &SymError) -> String {
    match e {
        SymError::IoError(e) => e.to_string(),
        SymError::DecodeError(m) => format!("corrupt audio data ({m})"),
        SymError::Unsupported(m) => format!("unsupported: {m}"),
        SymError::LimitError(m) => format!("exceeds a decoder limit ({m})"),
        SymError::SeekError(_) => "cannot seek".into(),
        SymError::ResetRequired => "stream changed shape mid-way".into(),
        other => other.to_string(),
    }
}

/// Consecutive undecodable packets after which a file counts as broken rather than scratched.
const MAX_BAD_RUN: u32 = 64;

/// Counts a packet that could not be read or decoded; too many in a row end the file.
fn skip_bad_packet(total: &mut u32, run: &mut u32) -> Result<(), DecodeError> {
    *total += 1;
    *run += 1;
    if *run > MAX_BAD_RUN {
        return Err(DecodeError("too much corrupt data".into()));
    }
    Ok(())
}

/// An open, decoding file.
pub struct Decoder {
    reader: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    spec: Spec,
    codec: &'static str,
    lossless: bool,
    /// Frames (after symphonia's own trimming) the next decoded packet starts at.
    raw_pos: u64,
    /// Raw frames before this index are dropped: MP4 priming, or the run-up to a seek target.
    keep_from: u64,
    /// Raw frames from this index on are dropped (MP4 padding).
    keep_to: u64,
    skip: u64,
    total: Option<u64>,
    scratch: Vec<f32>,
    bad_packets: u32,
    /// The position (in music frames) of the first packet that could not be decoded.
    first_bad_at: Option<u64>,
    /// Where the next packet should start by the timestamps so far (in the track's time base).
    next_pts: Option<i64>,
    /// Frames missing between packets (a gap in the timestamps: frames the reader dropped),
    /// and the position of the first gap.
    lost_frames: u64,
    first_lost_at: Option<u64>,
    short_frames: u64,
    truncated: bool,
    ended: bool,
}

/// What decoding a whole file found wrong with it, beyond a hard error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    /// Packets that could not be decoded, and the frame where the first was.
    pub bad_packets: u32,
    pub first_bad_at: Option<u64>,
    /// Frames missing between packets (dropped by the reader: a FLAC frame failing its CRC, an
    /// MPEG frame lost to a resync), and the frame where the first gap was.
    pub lost_frames: u64,
    pub first_lost_at: Option<u64>,
    /// The data ended before the container said it would, in the middle of a packet.
    pub truncated: bool,
    /// The stream ended cleanly but this many frames short of what its header promised.
    pub short_frames: u64,
    /// The decoded audio against the checksum the file carries (FLAC STREAMINFO MD5): `None`
    /// when there is none, or when the decoder was not asked to check.
    pub checksum_ok: Option<bool>,
}

/// The file as symphonia reads it (with any header patch applied), followed by `zeros` bytes
/// of silence that are not in the file.
struct Source {
    inner: riff::Patched<std::fs::File>,
    len: u64,
    zeros: u64,
    pos: u64,
}

impl io::Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = if self.pos < self.len {
            self.inner.read(buf)?
        } else {
            0
        };
        if n == 0 && self.pos >= self.len && self.pos < self.len + self.zeros {
            n = buf.len().min((self.len + self.zeros - self.pos) as usize);
            buf[..n].fill(0);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Seek for Source {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => i128::from(p),
            SeekFrom::Current(d) => i128::from(self.pos) + i128::from(d),
            SeekFrom::End(d) => i128::from(self.len + self.zeros) + i128::from(d),
        };
        let target =
            u64::try_from(target).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.inner.seek(SeekFrom::Start(target.min(self.len)))?;
        self.pos = target;
        Ok(target)
    }
}

impl symphonia::core::io::MediaSource for Source {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len + self.zeros)
    }
}

/// Which decoded frames are the music: `skip` frames, then `frames` frames, counted at
/// `timescale` frames per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Trim {
    skip: u64,
    frames: u64,
    timescale: u32,
}

impl From<Mp4Trim> for Trim {
    fn from(t: Mp4Trim) -> Trim {
        Trim {
            skip: t.skip,
            frames: t.frames,
            timescale: t.timescale,
        }
    }
}

impl Decoder {
    /// Opens `path` (read-only) and prepares its first audio track. Only a regular file is read:
    /// the open cannot block on a FIFO, and a FIFO, device or socket is refused.
    pub fn open(path: &Path) -> Result<Decoder, DecodeError> {
        Decoder::open_with(path, false)
    }

    /// Opens `path` like [`Decoder::open`], with the decoder checking the audio against the
    /// checksum the file carries (FLAC's STREAMINFO MD5); [`Decoder::finish`] gives the result.
    pub fn open_verifying(path: &Path) -> Result<Decoder, DecodeError> {
        Decoder::open_with(path, true)
    }

    fn open_with(path: &Path, verify: bool) -> Result<Decoder, DecodeError> {
        let (mut file, meta) =
            crate::scan::open_regular(path).map_err(|e| DecodeError(e.to_string()))?;
        let len = meta.len();
        // Only an MP4 (which starts with its `ftyp` box) has an edit list to apply; other files
        // are not walked as boxes.
        let mut head = [0u8; 8];
        let is_mp4 = file.read_exact(&mut head).is_ok() && &head[4..] == b"ftyp";
        let mut trim = if is_mp4 {
            mp4::trim(&mut io::BufReader::new(&mut file), len)
                .unwrap_or(None)
                .map(Trim::from)
        } else {
            None
        };
        // An unfinished WAV (its data size never filled in) plays the audio that is there, and
        // an RF64 one plays as the plain WAV it holds. Past 4 GiB the data size cannot be
        // patched in: symphonia reads to the end of the file, and stops at the frame count
        // `ds64` gives; a last short packet is completed with silence past the end of the file
        // (symphonia reads whole packets) and the silence trimmed off.
        let mut zeros = 0;
        let patch = if &head[..4] == b"RIFF" || &head[..4] == b"RF64" {
            let mut reader = io::BufReader::new(&mut file);
            if let Ok(Some(wave)) = riff::read_wave(&mut reader, len)
                && let (Some(frames), Some(format)) = (wave.long_data_frames(), wave.format)
            {
                trim = Some(Trim {
                    skip: 0,
                    frames,
                    timescale: format.sample_rate,
                });
                zeros = u64::from(format.block_align) * 1152 * 2;
            }
            riff::wav_header_patches(&mut reader, len).unwrap_or_default()
        } else {
            Vec::new()
        };
        file.seek(SeekFrom::Start(0))
            .map_err(|e| DecodeError(e.to_string()))?;
        let source = Source {
            inner: riff::Patched::new(file, patch).map_err(|e| DecodeError(e.to_string()))?,
            len,
            zeros,
            pos: 0,
        };
        let mss = MediaSourceStream::new(Box::new(source), MediaSourceStreamOptions::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let reader = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match e {
                SymError::Unsupported(_) => DecodeError("not a recognised audio file".into()),
                e => DecodeError(describe(&e)),
            })?;
        Decoder::from_reader(reader, trim, verify)
    }

    fn from_reader(
        reader: Box<dyn FormatReader>,
        trim: Option<Trim>,
        verify: bool,
    ) -> Result<Decoder, DecodeError> {
        let track = reader
            .default_track(TrackType::Audio)
            .ok_or_else(|| DecodeError("no audio track".into()))?;
        let Some(CodecParameters::Audio(params)) = &track.codec_params else {
            return Err(DecodeError("no audio track".into()));
        };
        let registry = symphonia::default::get_codecs();
        let codec = registry
            .get_audio_decoder(params.codec)
            .map(|r| r.codec.info.short_name)
            .unwrap_or("unknown");
        let decoder = registry
            .make_audio_decoder(params, &AudioDecoderOptions::default().verify(verify))
            .map_err(|e| DecodeError(format!("cannot decode {codec}: {}", describe(&e))))?;
        let rate = params
            .sample_rate
            .ok_or_else(|| DecodeError("sample rate unknown".into()))?;
        let channels = params
            .channels
            .as_ref()
            .map(|c| c.count())
            .ok_or_else(|| DecodeError("channel count unknown".into()))?;
        if channels == 0 || channels > 32 || rate == 0 {
            return Err(DecodeError(format!(
                "implausible stream: {channels} channels at {rate} Hz"
            )));
        }
        let pcm = codec.starts_with("pcm");
        let lossless = pcm || params.codec == CODEC_ID_FLAC || params.codec == CODEC_ID_ALAC;
        let float = codec.starts_with("pcm_f");
        let bits = params
            .bits_per_sample
            .or_else(|| {
                // MP4 carries ALAC's depth only in its magic cookie (ALACSpecificConfig:
                // frame length, version, bit depth), with or without the atom header.
                let cookie = params
                    .extra_data
                    .as_deref()
                    .filter(|_| params.codec == CODEC_ID_ALAC)?;
                let at = if cookie.get(4..8) == Some(b"alac") {
                    12
                } else {
                    0
                };
                cookie
                    .get(at + 5)
                    .map(|&b| u32::from(b))
                    .filter(|b| (8..=32).contains(b))
            })
            .filter(|_| lossless && !float)
            .and_then(|b| u16::try_from(b).ok());
        // Apply a trim only when it is in the track's own timescale (always, in practice; a WAV
        // track has no time base, and counts frames at its sample rate).
        let trim = trim.filter(|t| match track.time_base {
            Some(tb) => tb.numer.get() == 1 && tb.denom.get() == t.timescale,
            None => params.sample_rate == Some(t.timescale),
        });
        let (skip, keep_to, total) = match trim {
            Some(t) => (t.skip, t.skip.saturating_add(t.frames), Some(t.frames)),
            None => (0, u64::MAX, track.num_frames),
        };
        let track_id = track.id;
        Ok(Decoder {
            reader,
            decoder,
            track_id,
            spec: Spec {
                rate,
                channels: channels as u16,
                bits,
            },
            codec,
            lossless,
            raw_pos: 0,
            keep_from: skip,
            keep_to,
            skip,
            total,
            scratch: Vec::new(),
            bad_packets: 0,
            first_bad_at: None,
            next_pts: None,
            lost_frames: 0,
            first_lost_at: None,
            short_frames: 0,
            truncated: false,
            ended: false,
        })
    }

    pub fn spec(&self) -> Spec {
        self.spec
    }

    /// The codec's short name (`flac`, `mp3`, `aac`, `alac`, `pcm_s16le`...).
    pub fn codec(&self) -> &'static str {
        self.codec
    }

    pub fn is_lossless(&self) -> bool {
        self.lossless
    }

    /// The number of frames the file holds, when the container says.
    pub fn total_frames(&self) -> Option<u64> {
        self.total
    }

    /// Packets skipped because they could not be decoded.
    pub fn bad_packets(&self) -> u32 {
        self.bad_packets
    }

    /// Whether the data ended before the container said it would.
    pub fn truncated(&self) -> bool {
        self.truncated || self.short_frames > 0
    }

    /// Ends decoding and says what was wrong with the audio read (call after
    /// [`Decoder::read`] returned 0).
    pub fn finish(mut self) -> Damage {
        let checksum_ok = self.decoder.finalize().verify_ok;
        Damage {
            bad_packets: self.bad_packets,
            first_bad_at: self.first_bad_at,
            lost_frames: self.lost_frames,
            first_lost_at: self.first_lost_at,
            truncated: self.truncated,
            short_frames: self.short_frames,
            checksum_ok,
        }
    }

    fn note_bad(&mut self) {
        if self.first_bad_at.is_none() {
            self.first_bad_at = Some(self.position());
        }
    }

    /// The frame the next [`Decoder::read`] starts at.
    pub fn position(&self) -> u64 {
        self.raw_pos.max(self.keep_from).min(self.keep_to) - self.skip
    }

    /// Appends the next decoded frames to `out`, interleaved. Returns how many frames were
    /// appended; 0 means the end. An error means the file cannot go on.
    pub fn read(&mut self, out: &mut Vec<f32>) -> Result<usize, DecodeError> {
        let channels = usize::from(self.spec.channels);
        let mut bad_run = 0;
        while !self.ended {
            let packet = match self.reader.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.ended = true;
                    break;
                }
                Err(SymError::IoError(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    // The end of the file where the music ends is not a cut.
                    self.truncated = self.total.is_none_or(|t| self.position() < t);
                    self.ended = true;
                    break;
                }
                Err(SymError::ResetRequired) => {
                    return Err(DecodeError("the stream changes shape mid-way".into()));
                }
                Err(SymError::DecodeError(_)) => {
                    self.note_bad();
                    skip_bad_packet(&mut self.bad_packets, &mut bad_run)?;
                    continue;
                }
                Err(e) => return Err(DecodeError(describe(&e))),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let pts = packet.pts.get();
            if let Some(next) = self.next_pts
                && pts > next
            {
                self.lost_frames += (pts - next) as u64;
                if self.first_lost_at.is_none() {
                    self.first_lost_at = Some(self.position());
                }
            }
            let end = packet
                .pts
                .checked_add(packet.dur)
                .map(|t| t.get())
                .unwrap_or(i64::MAX);
            self.next_pts = Some(self.next_pts.map_or(end, |n| n.max(end)));
            let here = self.position();
            let buf = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    self.first_bad_at.get_or_insert(here);
                    skip_bad_packet(&mut self.bad_packets, &mut bad_run)?;
                    continue;
                }
                Err(e) => return Err(DecodeError(describe(&e))),
            };
            bad_run = 0;
            let frames = buf.frames() as u64;
            if frames == 0 {
                continue;
            }
            if buf.spec().channels().count() != channels {
                return Err(DecodeError("the channel count changes mid-way".into()));
            }
            let start = self.raw_pos;
            self.raw_pos += frames;
            let from = self.keep_from.max(start);
            let to = self.keep_to.min(self.raw_pos);
            if from >= to {
                if start >= self.keep_to {
                    self.ended = true;
                }
                continue;
            }
            buf.copy_to_vec_interleaved::<f32>(&mut self.scratch);
            let a = (from - start) as usize * channels;
            let b = (to - start) as usize * channels;
            out.extend_from_slice(&self.scratch[a..b]);
            return Ok((to - from) as usize);
        }
        if let Some(total) = self.total
            && self.position() < total
            && self.keep_to == u64::MAX
            && !self.truncated
        {
            // The stream ended cleanly, short of what the header promised: frames were lost
            // on the way (a resync over damaged headers) or the file was cut at a frame.
            // Frames already found missing between packets are not counted twice.
            self.short_frames = (total - self.position()).saturating_sub(self.lost_frames);
        }
        Ok(0)
    }

    /// Moves to `frame` (counted from the start of the music) exactly: the decoder lands on a
    /// packet at or before it and the run-up is dropped. Returns the new position.
    pub fn seek(&mut self, frame: u64) -> Result<u64, DecodeError> {
        let frame = match self.total {
            Some(total) => frame.min(total),
            None => frame,
        };
        let target = frame + self.skip;
        let seeked = self
            .reader
            .seek(
                SeekMode::Accurate,
                SeekTo::Timestamp {
                    ts: Timestamp::new(target as i64),
                    track_id: self.track_id,
                },
            )
            .map_err(|e| DecodeError(describe(&e)))?;
        self.decoder.reset();
        self.next_pts = None;
        self.raw_pos = seeked.actual_ts.get().max(0) as u64;
        self.keep_from = target.max(self.skip);
        self.ended = false;
        Ok(self.position())
    }
}

/// Decodes a whole file (tests, and tools that need every sample).
pub fn decode_all(path: &Path) -> Result<(Spec, Vec<f32>), DecodeError> {
    let mut decoder = Decoder::open(path)?;
    let mut out = Vec::new();
    while decoder.read(&mut out)? > 0 {}
    Ok((decoder.spec(), out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    fn fixture(rel: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel)
    }

    /// ffmpeg's decode (it applies edit lists and LAME headers) as f32 frames, when installed.
    fn ffmpeg_frames(path: &Path, channels: u16) -> Option<Vec<f32>> {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-f", "f32le", "-"])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let samples: Vec<f32> = out
            .stdout
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(samples.len() % usize::from(channels), 0);
        Some(samples)
    }

    /// The audio stream's length in its own timescale (the sample rate for these files).
    fn ffprobe_length(path: &Path) -> Option<usize> {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a", "-show_entries"])
            .args(["stream=duration_ts", "-of", "csv=p=0"])
            .arg(path)
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    #[test]
    fn every_format_decodes_to_ffmpegs_sample_count() {
        let cases = [
            ("library/flac/picture.flac", true),
            ("library/wav/list-info.wav", true),
            ("library/aiff/id3.aiff", true),
            ("library/alac/alac16.m4a", true),
            ("library/alac/alac24.m4a", true),
            ("library/mp3/id3v23.mp3", false),
            ("library/aac/tagged.m4a", false),
        ];
        for (rel, lossless) in cases {
            let path = fixture(rel);
            let (spec, samples) = decode_all(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
            let decoder = Decoder::open(&path).unwrap();
            assert_eq!(decoder.is_lossless(), lossless, "{rel}");
            if rel.contains("alac24") {
                assert_eq!(decoder.spec().bits, Some(24), "{rel}");
            } else if lossless {
                assert_eq!(decoder.spec().bits, Some(16), "{rel}");
            }
            assert_eq!(
                decoder.total_frames(),
                Some((samples.len() / usize::from(spec.channels)) as u64),
                "{rel}: declared length"
            );
            let Some(reference) = ffmpeg_frames(&path, spec.channels) else {
                eprintln!("ffmpeg missing: sample counts not cross-checked");
                return;
            };
            if rel.ends_with(".m4a") && !lossless {
                // ffmpeg trims AAC priming but keeps the end padding the edit list excludes, so
                // the length comes from ffprobe's edit-list duration instead, and the samples
                // must line up with ffmpeg's from the first one (a misplaced start would not).
                assert_eq!(
                    Some(samples.len() / usize::from(spec.channels)),
                    ffprobe_length(&path)
                );
                let diff = samples
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(diff < 1e-3, "{rel}: differs from ffmpeg's decode by {diff}");
                continue;
            }
            assert_eq!(samples.len(), reference.len(), "{rel}: sample count");
            if lossless {
                assert!(
                    samples == reference,
                    "{rel}: lossless PCM differs from ffmpeg's"
                );
            }
        }
    }

    #[test]
    fn seeking_lands_on_the_exact_frame() {
        for rel in [
            "library/flac/picture.flac",
            "library/mp3/id3v23.mp3",
            "library/aac/tagged.m4a",
            "library/alac/alac16.m4a",
            "library/wav/list-info.wav",
        ] {
            let path = fixture(rel);
            let (spec, all) = decode_all(&path).unwrap();
            let ch = usize::from(spec.channels);
            let mut d = Decoder::open(&path).unwrap();
            let target = (all.len() / ch / 2) as u64 + 17;
            assert_eq!(d.seek(target).unwrap(), target, "{rel}");
            let mut rest = Vec::new();
            while d.read(&mut rest).unwrap() > 0 {}
            assert_eq!(
                rest.len(),
                all.len() - target as usize * ch,
                "{rel}: frames after seek"
            );
            if d.is_lossless() {
                assert!(
                    rest[..] == all[target as usize * ch..],
                    "{rel}: samples after seek"
                );
            }
        }
    }

    #[test]
    fn an_rf64_file_past_4_gib_decodes_to_its_ds64_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.wav");
        // Not a whole number of symphonia's 1152-frame packets: the last one is short.
        let data_size = (5u64 << 30) + 1000;
        let tone = crate::container::riff::tests::sparse_rf64(&path, data_size);
        let total = data_size / 4;
        let as_f32 = |s: &[i16]| {
            s.iter()
                .map(|&v| f32::from(v) / 32768.0)
                .collect::<Vec<_>>()
        };
        let mut d = Decoder::open(&path).unwrap();
        assert_eq!(d.total_frames(), Some(total));
        assert_eq!((d.spec().rate, d.spec().channels), (44100, 2));
        let mut head = Vec::new();
        while head.len() < tone.len() {
            assert!(d.read(&mut head).unwrap() > 0);
        }
        assert_eq!(head[..tone.len()], as_f32(&tone)[..]);
        // Past 4 GiB: the tone at the end, exactly, and the end is where ds64 says.
        let tail_start = total - tone.len() as u64 / 2;
        assert_eq!(d.seek(tail_start).unwrap(), tail_start);
        let mut tail = Vec::new();
        while d.read(&mut tail).unwrap() > 0 {}
        assert_eq!(tail, as_f32(&tone));
        assert_eq!(d.position(), total);
        assert!(!d.truncated());
    }

    #[test]
    fn broken_files_give_errors_not_panics() {
        for rel in [
            "broken/empty.mp3",
            "broken/random.m4a",
            "broken/text.mp3",
            "broken/bad-header.wav",
        ] {
            let result = decode_all(&fixture(rel));
            assert!(
                result.is_err(),
                "{rel} decoded: {:?}",
                result.map(|r| r.1.len())
            );
        }
        // Cut short: what is there plays, and the decoder says the file ended early.
        let mut d = Decoder::open(&fixture("broken/truncated.flac")).unwrap();
        let mut out = Vec::new();
        while d.read(&mut out).unwrap() > 0 {}
        assert!(!out.is_empty());
        assert!(d.truncated());
    }
}
