//! A small MP4 (.m4a) writer for one audio track, shared by the AAC and ALAC encoders.
//!
//! The file is written in one pass: `ftyp`, an 8-byte `free` box, then `mdat` whose samples stream
//! out as the encoder produces them, and finally `moov`, built in memory from the sample sizes,
//! durations and chunk offsets collected on the way. Finishing patches the `mdat` size (turning
//! the `free` box into a 64-bit `mdat` header when the data exceeds 4 GiB).
//!
//! Both time scales (`mvhd`, `mdhd`) are the sample rate, so every duration is a frame count. The
//! edit list is exact: it starts `priming` frames into the media (the encoder delay) and lasts the
//! source's frame count. For AAC an `iTunSMPB` tag carries the same numbers for players that read
//! that instead. `moov/udta/meta/ilst` is always present so taggers find the usual structure.
//! Boxes themselves are built with [`crate::container::mp4::Boxes`]; this file is the .m4a
//! assembly on top.

use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use crate::container::mp4::itunsmpb;
use crate::container::mp4::{Boxes, version_for};

/// The codec-specific half of the track description, known once encoding has finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleEntry {
    /// AAC: the AudioSpecificConfig, carried in an `mp4a` entry's `esds`.
    Aac { config: Vec<u8> },
    /// ALAC: the magic cookie (24-byte ALACSpecificConfig, plus the 24-byte channel layout for
    /// more than two channels), carried in an `alac` entry's nested `alac` box.
    Alac { cookie: Vec<u8>, bits: u16 },
}

/// Which frames of the media are the source: `priming` frames of encoder delay come first, then
/// the `frames` frames of the source; whatever follows is padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    pub priming: u32,
    pub frames: u64,
    /// Also write the `iTunSMPB` tag (delay, padding, frame count), as iTunes does for AAC.
    pub itunsmpb: bool,
}

/// An MP4 file being written; see the module documentation.
pub struct Mp4Writer<W: Write + Seek> {
    out: BufWriter<W>,
    rate: u32,
    channels: u16,
    /// Where the writer is in the file, kept here so positions never cost a flush.
    pos: u64,
    /// Offset of the `free` placeholder that precedes the `mdat` header.
    mdat_start: u64,
    table: SampleTable,
    /// Duration already in the open chunk; a chunk closes after a second of audio.
    chunk_duration: u64,
}

/// What `stbl` is built from.
#[derive(Debug, Default, Clone)]
struct SampleTable {
    sizes: Vec<u32>,
    /// `stts` runs: (sample count, sample duration).
    durations: Vec<(u32, u32)>,
    /// Chunks: (file offset, sample count).
    chunks: Vec<(u64, u32)>,
    /// Sum of the sample durations.
    duration: u64,
    /// Sum of the sample sizes.
    bytes: u64,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl<W: Write + Seek> Mp4Writer<W> {
    /// Writes `ftyp` and the start of `mdat` to `out`, at its current position.
    pub fn new(out: W, rate: u32, channels: u16) -> io::Result<Mp4Writer<W>> {
        if rate == 0 || channels == 0 {
            return Err(invalid(format!(
                "MP4 track needs a sample rate and channels, got {rate} Hz, {channels} channels"
            )));
        }
        let mut out = BufWriter::with_capacity(1 << 16, out);
        let base = out.stream_position()?;
        let mut b = Boxes::default();
        b.boxed(b"ftyp", |b| {
            b.bytes(b"M4A ");
            b.u32(0x200);
            for brand in [b"M4A ", b"mp42", b"isom"] {
                b.bytes(brand);
            }
        });
        let mdat_start = base + b.buf.len() as u64;
        // A `free` box, replaced by a 64-bit `mdat` header if the data turns out to need one.
        b.u32(8);
        b.bytes(b"free");
        b.u32(0);
        b.bytes(b"mdat");
        out.write_all(&b.buf)?;
        Ok(Mp4Writer {
            out,
            rate,
            channels,
            pos: base + b.buf.len() as u64,
            mdat_start,
            table: SampleTable::default(),
            chunk_duration: 0,
        })
    }

    /// Appends one encoded sample (an AAC access unit, an ALAC packet) lasting `duration` frames.
    pub fn write_sample(&mut self, data: &[u8], duration: u32) -> io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| invalid(format!("MP4 sample of {} bytes is too big", data.len())))?;
        let t = &mut self.table;
        match t.chunks.last_mut() {
            Some((_, count)) if self.chunk_duration < u64::from(self.rate) && *count < u32::MAX => {
                *count += 1;
            }
            _ => {
                t.chunks.push((self.pos, 1));
                self.chunk_duration = 0;
            }
        }
        self.chunk_duration += u64::from(duration);
        match t.durations.last_mut() {
            Some((count, delta)) if *delta == duration && *count < u32::MAX => *count += 1,
            _ => t.durations.push((1, duration)),
        }
        t.sizes.push(size);
        t.duration += u64::from(duration);
        t.bytes += u64::from(size);
        self.out.write_all(data)?;
        self.pos += u64::from(size);
        Ok(())
    }

    /// Frames of media written so far (the sum of the sample durations).
    pub fn duration(&self) -> u64 {
        self.table.duration
    }

    /// Bytes of samples written so far.
    pub fn bytes(&self) -> u64 {
        self.table.bytes
    }

    /// Samples (packets) written so far.
    pub fn samples(&self) -> usize {
        self.table.sizes.len()
    }

    /// Skips `bytes` of `mdat` (a hole in a sparse file), so tests can cross 4 GiB cheaply.
    #[cfg(test)]
    pub(crate) fn leave_gap(&mut self, bytes: u64) -> io::Result<()> {
        self.pos += bytes;
        self.out.seek(SeekFrom::Start(self.pos))?;
        self.chunk_duration = u64::from(self.rate);
        Ok(())
    }

    /// Patches the `mdat` size, writes `moov` and flushes; returns the output.
    pub fn finish(mut self, entry: SampleEntry, trim: Trim) -> io::Result<W> {
        let end = u64::from(trim.priming) + trim.frames;
        if end > self.table.duration {
            return Err(invalid(format!(
                "MP4 edit of {} + {} frames is longer than the {} frames of media",
                trim.priming, trim.frames, self.table.duration
            )));
        }
        let moov = moov(&self.table, self.rate, self.channels, &entry, trim)?;

        let mdat_size = self.pos - (self.mdat_start + 8);
        if let Ok(size) = u32::try_from(mdat_size) {
            self.out.seek(SeekFrom::Start(self.mdat_start + 8))?;
            self.out.write_all(&size.to_be_bytes())?;
        } else {
            self.out.seek(SeekFrom::Start(self.mdat_start))?;
            self.out.write_all(&1u32.to_be_bytes())?;
            self.out.write_all(b"mdat")?;
            self.out
                .write_all(&(self.pos - self.mdat_start).to_be_bytes())?;
        }
        self.out.seek(SeekFrom::Start(self.pos))?;
        self.out.write_all(&moov)?;
        self.out.flush()?;
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

/// The identity matrix of `mvhd` and `tkhd`.
fn matrix(b: &mut Boxes) {
    for v in [0x1_0000, 0, 0, 0, 0x1_0000, 0, 0, 0, 0x4000_0000] {
        b.u32(v);
    }
}

fn moov(
    t: &SampleTable,
    rate: u32,
    channels: u16,
    entry: &SampleEntry,
    trim: Trim,
) -> io::Result<Vec<u8>> {
    // An empty edit would read as "to the end" to some players: with no frames, none is written.
    let edit = trim.frames > 0;
    let movie_duration = if edit { trim.frames } else { t.duration };
    let padding = t.duration - u64::from(trim.priming) - trim.frames;

    let mut b = Boxes::default();
    b.boxed(b"moov", |b| {
        let v = version_for(movie_duration);
        b.full(b"mvhd", v, 0, |b| {
            b.sized(v, 0); // creation time
            b.sized(v, 0); // modification time
            b.u32(rate);
            b.sized(v, movie_duration);
            b.u32(0x1_0000); // rate 1.0
            b.u16(0x100); // volume 1.0
            b.bytes(&[0; 10]);
            matrix(b);
            b.bytes(&[0; 24]);
            b.u32(2); // next track ID
        });
        b.boxed(b"trak", |b| {
            b.full(b"tkhd", v, 3, |b| {
                b.sized(v, 0);
                b.sized(v, 0);
                b.u32(1); // track ID
                b.u32(0);
                b.sized(v, movie_duration);
                b.bytes(&[0; 8]);
                b.u16(0); // layer
                b.u16(1); // alternate group
                b.u16(0x100); // volume
                b.u16(0);
                matrix(b);
                b.u32(0); // width
                b.u32(0); // height
            });
            if edit {
                b.boxed(b"edts", |b| {
                    // media_time is signed: 32 bits hold up to i32::MAX.
                    let v = version_for(trim.frames.max(u64::from(trim.priming) << 1));
                    b.full(b"elst", v, 0, |b| {
                        b.u32(1);
                        b.sized(v, trim.frames);
                        b.sized(v, u64::from(trim.priming));
                        b.u16(1); // media rate 1.0
                        b.u16(0);
                    });
                });
            }
            b.boxed(b"mdia", |b| {
                let v = version_for(t.duration);
                b.full(b"mdhd", v, 0, |b| {
                    b.sized(v, 0);
                    b.sized(v, 0);
                    b.u32(rate);
                    b.sized(v, t.duration);
                    b.u16(0x55c4); // "und"
                    b.u16(0);
                });
                b.full(b"hdlr", 0, 0, |b| {
                    b.u32(0);
                    b.bytes(b"soun");
                    b.bytes(&[0; 12]);
                    b.bytes(b"SoundHandler\0");
                });
                b.boxed(b"minf", |b| {
                    b.full(b"smhd", 0, 0, |b| b.u32(0));
                    b.boxed(b"dinf", |b| {
                        b.full(b"dref", 0, 0, |b| {
                            b.u32(1);
                            b.full(b"url ", 0, 1, |_| {});
                        });
                    });
                    stbl(b, t, rate, channels, entry);
                });
            });
        });
        b.boxed(b"udta", |b| {
            b.full(b"meta", 0, 0, |b| {
                b.full(b"hdlr", 0, 0, |b| {
                    b.u32(0);
                    b.bytes(b"mdir");
                    b.bytes(b"appl");
                    b.bytes(&[0; 8]);
                    b.u8(0);
                });
                b.boxed(b"ilst", |b| {
                    if trim.itunsmpb {
                        let value = itunsmpb(trim.priming, padding, trim.frames);
                        b.boxed(b"----", |b| {
                            b.full(b"mean", 0, 0, |b| b.bytes(b"com.apple.iTunes"));
                            b.full(b"name", 0, 0, |b| b.bytes(b"iTunSMPB"));
                            b.full(b"data", 0, 1, |b| {
                                b.u32(0); // locale
                                b.bytes(value.as_bytes());
                            });
                        });
                    }
                });
            });
        });
    });
    if b.buf.len() > u32::MAX as usize {
        return Err(invalid("MP4 sample tables exceed 4 GiB".into()));
    }
    Ok(b.buf)
}

fn stbl(b: &mut Boxes, t: &SampleTable, rate: u32, channels: u16, entry: &SampleEntry) {
    b.boxed(b"stbl", |b| {
        b.full(b"stsd", 0, 0, |b| {
            b.u32(1);
            match entry {
                SampleEntry::Aac { config } => {
                    audio_entry(b, b"mp4a", channels, 16, rate, |b| {
                        b.full(b"esds", 0, 0, |b| b.bytes(&es_descriptor(t, rate, config)));
                    });
                }
                SampleEntry::Alac { cookie, bits } => {
                    audio_entry(b, b"alac", channels, *bits, rate, |b| {
                        b.full(b"alac", 0, 0, |b| b.bytes(cookie));
                    });
                }
            }
        });
        b.full(b"stts", 0, 0, |b| {
            b.u32(t.durations.len() as u32);
            for &(count, delta) in &t.durations {
                b.u32(count);
                b.u32(delta);
            }
        });
        b.full(b"stsc", 0, 0, |b| {
            let mut runs: Vec<(u32, u32)> = Vec::new();
            for (i, &(_, count)) in t.chunks.iter().enumerate() {
                if runs.last().is_none_or(|&(_, c)| c != count) {
                    runs.push((i as u32 + 1, count));
                }
            }
            b.u32(runs.len() as u32);
            for (first, count) in runs {
                b.u32(first);
                b.u32(count);
                b.u32(1); // sample description index
            }
        });
        b.full(b"stsz", 0, 0, |b| {
            let same = t
                .sizes
                .first()
                .filter(|&&s| t.sizes.iter().all(|&x| x == s));
            b.u32(same.copied().unwrap_or(0));
            b.u32(t.sizes.len() as u32);
            if same.is_none() {
                for &size in &t.sizes {
                    b.u32(size);
                }
            }
        });
        if t.chunks
            .iter()
            .any(|&(offset, _)| offset > u64::from(u32::MAX))
        {
            b.full(b"co64", 0, 0, |b| {
                b.u32(t.chunks.len() as u32);
                for &(offset, _) in &t.chunks {
                    b.u64(offset);
                }
            });
        } else {
            b.full(b"stco", 0, 0, |b| {
                b.u32(t.chunks.len() as u32);
                for &(offset, _) in &t.chunks {
                    b.u32(offset as u32);
                }
            });
        }
    });
}

/// An audio sample entry (ISO 14496-12 `AudioSampleEntry`, version 0) around `body`.
fn audio_entry(
    b: &mut Boxes,
    kind: &[u8; 4],
    channels: u16,
    sample_size: u16,
    rate: u32,
    body: impl FnOnce(&mut Boxes),
) {
    b.boxed(kind, |b| {
        b.bytes(&[0; 6]);
        b.u16(1); // data reference index
        b.u16(0); // version
        b.u16(0); // revision
        b.u32(0); // vendor
        b.u16(channels);
        b.u16(sample_size);
        b.u16(0); // compression ID
        b.u16(0); // packet size
        // 16.16 fixed point; rates above 65535 Hz do not fit and are left to the codec config.
        b.u32(if rate <= 0xffff { rate << 16 } else { 0 });
        body(b);
    });
}

/// An MPEG-4 descriptor: tag, size in the expandable 7-bits-per-byte form, payload.
fn descriptor(tag: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![tag];
    let groups = (1..4).take_while(|i| len >> (7 * i) > 0).count();
    for i in (1..=groups).rev() {
        out.push(((len >> (7 * i)) & 0x7f) as u8 | 0x80);
    }
    out.push((len & 0x7f) as u8);
    out.extend_from_slice(payload);
    out
}

/// The `esds` payload: ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo (the
/// AudioSpecificConfig), and the SLConfigDescriptor. Bitrates are measured from the samples.
fn es_descriptor(t: &SampleTable, rate: u32, config: &[u8]) -> Vec<u8> {
    let (avg, max) = bitrates(t, rate);
    let buffer = t.sizes.iter().copied().max().unwrap_or(0).min(0xff_ffff);
    let mut dc = vec![0x40, 0x15]; // MPEG-4 audio; audio stream, upstream 0, reserved 1
    dc.extend_from_slice(&buffer.to_be_bytes()[1..]);
    dc.extend_from_slice(&max.to_be_bytes());
    dc.extend_from_slice(&avg.to_be_bytes());
    dc.extend(descriptor(0x05, config));
    let mut es = vec![0, 1, 0]; // ES ID 1, no flags
    es.extend(descriptor(0x04, &dc));
    es.extend(descriptor(0x06, &[0x02]));
    descriptor(0x03, &es)
}

/// Average bitrate over the track and the highest over any second of it, in bits per second.
fn bitrates(t: &SampleTable, rate: u32) -> (u32, u32) {
    if t.duration == 0 {
        return (0, 0);
    }
    let rate = u64::from(rate);
    let clamp = |v: u64| v.min(u64::from(u32::MAX)) as u32;
    let avg = clamp(t.bytes * 8 * rate / t.duration);
    let durations: Vec<u64> = t
        .durations
        .iter()
        .flat_map(|&(count, delta)| std::iter::repeat_n(u64::from(delta), count as usize))
        .collect();
    let (mut lo, mut bytes, mut dur, mut max) = (0, 0u64, 0u64, 0u64);
    for (hi, &size) in t.sizes.iter().enumerate() {
        bytes += u64::from(size);
        dur += durations[hi];
        while lo < hi && dur - durations[lo] >= rate {
            bytes -= u64::from(t.sizes[lo]);
            dur -= durations[lo];
            lo += 1;
        }
        if dur >= rate {
            max = max.max(bytes * 8 * rate / dur);
        }
    }
    (avg, clamp(max).max(avg))
}

/// Helpers the MP4, ALAC and AAC tests share: a test signal, the encoders run into a temporary
/// file, symphonia decoding, the external oracles (ffprobe, ffmpeg, mutagen) and a box reader.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use symphonia::core::audio::conv::ConvertibleSample;
    use symphonia::core::audio::sample::Sample;
    use symphonia::core::codecs::CodecParameters;
    use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    use crate::audio::Spec;
    use crate::convert::encode::{Settings, encoder};

    /// Interleaved test audio: a different sine per channel plus white noise, deterministic.
    pub fn signal(frames: usize, channels: u16, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let mut out = Vec::with_capacity(frames * usize::from(channels));
        for i in 0..frames {
            for c in 0..channels {
                let freq = 220.0 * (1.0 + f64::from(c) * 0.75);
                let t = i as f64 / 44100.0;
                let v = 0.5 * (2.0 * std::f64::consts::PI * freq * t).sin() + 0.1 * noise();
                out.push(v as f32);
            }
        }
        out
    }

    /// Interleaved tonal test audio that lossy codecs keep well: four sines per channel (up to
    /// 5.5 kHz, so a one-frame shift is far from a match) and a little noise.
    #[cfg_attr(not(feature = "aac"), allow(dead_code))]
    pub fn tones(frames: usize, channels: u16, rate: u32, seed: u64) -> Vec<f32> {
        let noise = signal(frames, channels, seed);
        let mut out = Vec::with_capacity(noise.len());
        for i in 0..frames {
            let t = i as f64 / f64::from(rate);
            for c in 0..usize::from(channels) {
                let detune = 1.0 + c as f64 * 0.13;
                let v: f64 = [(440.0, 0.3), (1234.5, 0.2), (3000.0, 0.1), (5500.0, 0.05)]
                    .iter()
                    .map(|&(f, a)| a * (2.0 * std::f64::consts::PI * f * detune * t).sin())
                    .sum();
                let n = f64::from(noise[i * usize::from(channels) + c]) * 0.02;
                out.push((v + n) as f32);
            }
        }
        out
    }

    /// Encodes `samples` with `settings` into a temporary .m4a, handing them over in uneven
    /// pieces. Returns the directory (deleted on drop) and the file.
    pub fn encode_file(
        settings: &Settings,
        spec: Spec,
        samples: &[f32],
    ) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.m4a");
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = encoder(settings, spec, Box::new(file)).unwrap();
        let ch = usize::from(spec.channels);
        let mut rest = samples;
        for pieces in [1usize, 999, 4096, 5000, 7, 44100].iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (pieces * ch).min(rest.len());
            enc.write(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        enc.finish().unwrap();
        (dir, path)
    }

    pub struct Decoded<S> {
        /// The track's codec parameters, as the demuxer read them.
        pub params: AudioCodecParameters,
        /// Rate and channels of the decoded audio.
        pub rate: u32,
        pub channels: usize,
        pub samples: Vec<S>,
    }

    /// Everything symphonia decodes from `path`, untrimmed.
    pub fn decode<S: ConvertibleSample + Sample>(path: &Path) -> Decoded<S> {
        let file = std::fs::File::open(path).unwrap();
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        hint.with_extension("m4a");
        let mut reader = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .unwrap();
        let track = reader.default_track(TrackType::Audio).unwrap();
        let track_id = track.id;
        let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
            panic!("no audio codec parameters");
        };
        let mut decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .unwrap();
        let mut samples = Vec::new();
        let (mut rate, mut channels) = (0, 0);
        let mut buf: Vec<S> = Vec::new();
        while let Some(packet) = reader.next_packet().unwrap() {
            if packet.track_id != track_id {
                continue;
            }
            let decoded = decoder.decode(&packet).unwrap();
            rate = decoded.spec().rate();
            channels = decoded.spec().channels().count();
            decoded.copy_to_vec_interleaved(&mut buf);
            samples.extend_from_slice(&buf);
        }
        Decoded {
            params,
            rate,
            channels,
            samples,
        }
    }

    /// Whether `tool` runs; prints a note for the skipped check when it does not.
    pub fn have(tool: &str) -> bool {
        let ok = Command::new(tool).arg("--version").output().is_ok()
            || Command::new(tool).arg("-version").output().is_ok();
        if !ok {
            eprintln!("note: {tool} is not installed; skipping the checks that use it");
        }
        ok
    }

    /// ffprobe's view of the first stream and the format, as JSON.
    pub fn ffprobe(path: &Path) -> serde_json::Value {
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-of",
                "json",
                "-show_streams",
                "-show_format",
            ])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ffprobe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// What ffmpeg decodes, as 32-bit integers (edit list applied).
    pub fn ffmpeg_s32(path: &Path) -> Vec<i32> {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-f", "s32le", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ffmpeg failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }

    /// Runs a Python snippet with `path` as `sys.argv[1]` and mutagen imported; returns stdout.
    pub fn mutagen(path: &Path, code: &str) -> String {
        let script = format!("import sys, mutagen.mp4\n{code}\n");
        let out = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mutagen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Whether python3 with mutagen is there.
    pub fn have_mutagen() -> bool {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import mutagen.mp4"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!("note: python3 with mutagen is not installed; skipping its checks");
        }
        ok
    }

    /// The payload of the box at `path` (e.g. `["moov", "trak", "edts", "elst"]`), descending
    /// through the fixed fields of `meta`, `stsd` and sample entries.
    pub fn find_box<'a>(data: &'a [u8], path: &[&str]) -> Option<&'a [u8]> {
        let mut body = data;
        let mut parent = "";
        for name in path {
            let skip = match parent {
                "meta" => 4,
                "stsd" => 8,
                "mp4a" | "alac" if path.contains(&"stsd") && !body.is_empty() => 28,
                _ => 0,
            };
            body = children(body.get(skip..)?)
                .find(|(kind, _)| kind == name)?
                .1;
            parent = name;
        }
        Some(body)
    }

    /// The boxes in `data`: (type, payload).
    pub fn children(data: &[u8]) -> impl Iterator<Item = (String, &[u8])> {
        crate::container::mp4::children_in(data)
            .into_iter()
            .map(|(kind, body)| (String::from_utf8_lossy(&kind).into_owned(), body))
    }

    pub fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    pub fn be64(b: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
    }

    /// The edit list's only entry: (segment duration, media time).
    pub fn edit(file: &[u8]) -> (u64, i64) {
        let elst = find_box(file, &["moov", "trak", "edts", "elst"]).expect("elst");
        assert_eq!(be32(elst, 4), 1, "one edit");
        if elst[0] == 1 {
            (be64(elst, 8), be64(elst, 16) as i64)
        } else {
            (u64::from(be32(elst, 8)), i64::from(be32(elst, 12) as i32))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::testing::*;
    use super::*;

    /// Sample `i` of the synthetic tracks: its bytes and its duration.
    fn sample(i: usize) -> (Vec<u8>, u32) {
        (
            vec![i as u8; i * 7 % 50 + 1],
            if i == 24 { 37 } else { 100 },
        )
    }

    fn write_track(entry: SampleEntry, trim: Trim) -> Vec<u8> {
        let mut w = Mp4Writer::new(Cursor::new(Vec::new()), 1000, 2).unwrap();
        for i in 0..25 {
            let (data, duration) = sample(i);
            w.write_sample(&data, duration).unwrap();
        }
        assert_eq!((w.samples(), w.duration()), (25, 2437));
        w.finish(entry, trim).unwrap().into_inner()
    }

    fn stbl<'a>(file: &'a [u8], name: &str) -> &'a [u8] {
        find_box(file, &["moov", "trak", "mdia", "minf", "stbl", name]).unwrap()
    }

    /// Every sample's file offset, from stsc, stco/co64 and stsz.
    fn sample_offsets(file: &[u8]) -> Vec<u64> {
        let stsz = stbl(file, "stsz");
        let count = be32(stsz, 8) as usize;
        let size = |i: usize| match be32(stsz, 4) {
            0 => u64::from(be32(stsz, 12 + 4 * i)),
            n => u64::from(n),
        };
        let chunks: Vec<u64> =
            match find_box(file, &["moov", "trak", "mdia", "minf", "stbl", "co64"]) {
                Some(co64) => (0..be32(co64, 4) as usize)
                    .map(|i| be64(co64, 8 + 8 * i))
                    .collect(),
                None => {
                    let stco = stbl(file, "stco");
                    (0..be32(stco, 4) as usize)
                        .map(|i| u64::from(be32(stco, 8 + 4 * i)))
                        .collect()
                }
            };
        let stsc = stbl(file, "stsc");
        let runs: Vec<(usize, usize)> = (0..be32(stsc, 4) as usize)
            .map(|i| {
                (
                    be32(stsc, 8 + 12 * i) as usize,
                    be32(stsc, 12 + 12 * i) as usize,
                )
            })
            .collect();
        let mut offsets = Vec::new();
        for (c, &chunk) in chunks.iter().enumerate() {
            let per = runs
                .iter()
                .rev()
                .find(|&&(first, _)| first <= c + 1)
                .unwrap()
                .1;
            let mut at = chunk;
            for _ in 0..per {
                offsets.push(at);
                at += size(offsets.len() - 1);
            }
        }
        assert_eq!(offsets.len(), count, "stsc covers every sample");
        offsets
    }

    #[test]
    fn boxes_tables_and_offsets_describe_the_samples() {
        let cookie = vec![7u8; 24];
        let trim = Trim {
            priming: 0,
            frames: 2437,
            itunsmpb: false,
        };
        let file = write_track(
            SampleEntry::Alac {
                cookie: cookie.clone(),
                bits: 24,
            },
            trim,
        );

        let top: Vec<String> = children(&file).map(|(k, _)| k).collect();
        assert_eq!(top, ["ftyp", "free", "mdat", "moov"]);
        let ftyp = find_box(&file, &["ftyp"]).unwrap();
        assert_eq!(&ftyp[..4], b"M4A ");
        let data: u64 = (0..25).map(|i| sample(i).0.len() as u64).sum();
        assert_eq!(find_box(&file, &["mdat"]).unwrap().len() as u64, data);

        // Sample table: durations run-length coded, sizes listed, offsets right.
        let stts = stbl(&file, "stts");
        assert_eq!((be32(stts, 4), be32(stts, 8), be32(stts, 12)), (2, 24, 100));
        assert_eq!((be32(stts, 16), be32(stts, 20)), (1, 37));
        let offsets = sample_offsets(&file);
        for (i, &at) in offsets.iter().enumerate() {
            let (want, _) = sample(i);
            assert_eq!(
                &file[at as usize..at as usize + want.len()],
                &want[..],
                "sample {i}"
            );
        }
        // Chunks of about a second: 10 samples of 100 frames at 1000 Hz.
        assert_eq!(be32(stbl(&file, "stco"), 4), 3);

        // Times are in frames; the edit is the whole media.
        let mvhd = find_box(&file, &["moov", "mvhd"]).unwrap();
        assert_eq!((be32(mvhd, 12), be32(mvhd, 16)), (1000, 2437));
        let tkhd = find_box(&file, &["moov", "trak", "tkhd"]).unwrap();
        assert_eq!((be32(tkhd, 12), be32(tkhd, 20)), (1, 2437));
        let mdhd = find_box(&file, &["moov", "trak", "mdia", "mdhd"]).unwrap();
        assert_eq!((be32(mdhd, 12), be32(mdhd, 16)), (1000, 2437));
        assert_eq!(edit(&file), (2437, 0));
        let hdlr = find_box(&file, &["moov", "trak", "mdia", "hdlr"]).unwrap();
        assert_eq!(&hdlr[8..12], b"soun");

        // The sample entry and its cookie.
        let entry = find_box(
            &file,
            &["moov", "trak", "mdia", "minf", "stbl", "stsd", "alac"],
        )
        .unwrap();
        assert_eq!(u16::from_be_bytes([entry[16], entry[17]]), 2, "channels");
        assert_eq!(
            u16::from_be_bytes([entry[18], entry[19]]),
            24,
            "sample size"
        );
        assert_eq!(be32(entry, 24), 1000 << 16, "rate");
        let inner = find_box(
            &file,
            &[
                "moov", "trak", "mdia", "minf", "stbl", "stsd", "alac", "alac",
            ],
        );
        assert_eq!(&inner.unwrap()[4..], &cookie[..]);

        // Tags have their usual home, empty.
        let meta_hdlr = find_box(&file, &["moov", "udta", "meta", "hdlr"]).unwrap();
        assert_eq!(&meta_hdlr[8..12], b"mdir");
        assert!(
            find_box(&file, &["moov", "udta", "meta", "ilst"])
                .unwrap()
                .is_empty()
        );
    }

    /// Reads an MPEG-4 descriptor: (tag, payload, rest), checking the length fits.
    fn read_descriptor(b: &[u8]) -> (u8, &[u8], &[u8]) {
        let mut len = 0usize;
        let mut i = 1;
        loop {
            len = (len << 7) | usize::from(b[i] & 0x7f);
            i += 1;
            if b[i - 1] & 0x80 == 0 {
                break;
            }
        }
        assert!(
            b.len() >= i + len,
            "descriptor length {len} overruns its box"
        );
        (b[0], &b[i..i + len], &b[i + len..])
    }

    #[test]
    fn aac_entry_has_exact_descriptors_and_gapless_tags() {
        let trim = Trim {
            priming: 2048,
            frames: 300,
            itunsmpb: true,
        };
        let file = write_track(
            SampleEntry::Aac {
                config: vec![0x12, 0x10],
            },
            trim,
        );
        let esds = find_box(
            &file,
            &[
                "moov", "trak", "mdia", "minf", "stbl", "stsd", "mp4a", "esds",
            ],
        )
        .unwrap();
        let (tag, es, rest) = read_descriptor(&esds[4..]);
        assert_eq!((tag, rest.len()), (3, 0), "one ES_Descriptor fills the box");
        assert_eq!(&es[..3], &[0, 1, 0]);
        let (tag, dc, rest) = read_descriptor(&es[3..]);
        assert_eq!(tag, 4);
        let (tag, sl, end) = read_descriptor(rest);
        assert_eq!((tag, sl, end.len()), (6, &[2u8][..], 0));
        assert_eq!(&dc[..2], &[0x40, 0x15], "MPEG-4 audio stream");
        let max_size = (0..25).map(|i| sample(i).0.len() as u32).max().unwrap();
        assert_eq!(
            u32::from_be_bytes([0, dc[2], dc[3], dc[4]]),
            max_size,
            "buffer size"
        );
        let bytes: u64 = (0..25).map(|i| sample(i).0.len() as u64).sum();
        let avg = be32(dc, 9);
        assert_eq!(u64::from(avg), bytes * 8 * 1000 / 2437);
        assert!(be32(dc, 5) >= avg, "max bitrate");
        let (tag, asc, rest) = read_descriptor(&dc[13..]);
        assert_eq!((tag, asc, rest.len()), (5, &[0x12u8, 0x10][..], 0));

        assert_eq!(edit(&file), (300, 2048));
        let mvhd = find_box(&file, &["moov", "mvhd"]).unwrap();
        assert_eq!(be32(mvhd, 16), 300, "movie duration is the edit's");
        let data = find_box(&file, &["moov", "udta", "meta", "ilst", "----", "data"]).unwrap();
        assert_eq!(
            std::str::from_utf8(&data[8..]).unwrap(),
            itunsmpb(2048, 2437 - 2048 - 300, 300)
        );
    }

    #[test]
    fn descriptor_sizes_use_the_fewest_bytes_and_read_back() {
        for (len, header) in [
            (0, 2),
            (1, 2),
            (127, 2),
            (128, 3),
            (16383, 3),
            (16384, 4),
            (70000, 4),
        ] {
            let payload = vec![9u8; len];
            let d = descriptor(5, &payload);
            assert_eq!(d.len(), header + len, "length {len}");
            let (tag, body, rest) = read_descriptor(&d);
            assert_eq!((tag, body.len(), rest.len()), (5, len, 0));
        }
    }

    #[test]
    fn bad_tracks_are_errors() {
        assert!(Mp4Writer::new(Cursor::new(Vec::new()), 0, 2).is_err());
        assert!(Mp4Writer::new(Cursor::new(Vec::new()), 44100, 0).is_err());
        let mut w = Mp4Writer::new(Cursor::new(Vec::new()), 1000, 2).unwrap();
        w.write_sample(&[1, 2, 3], 1024).unwrap();
        let trim = Trim {
            priming: 2048,
            frames: 1,
            itunsmpb: true,
        };
        let err = w
            .finish(
                SampleEntry::Aac {
                    config: vec![0x12, 0x10],
                },
                trim,
            )
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn past_4_gib_offsets_use_co64_and_mdat_a_64_bit_size() {
        const GAP: u64 = 5 << 30;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.m4a");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut w = Mp4Writer::new(file, 1000, 1).unwrap();
        w.write_sample(b"first", 1000).unwrap();
        w.leave_gap(GAP).unwrap();
        w.write_sample(b"second", 500).unwrap();
        let mut file = w
            .finish(
                SampleEntry::Aac {
                    config: vec![0x12, 0x10],
                },
                Trim {
                    priming: 0,
                    frames: 1500,
                    itunsmpb: false,
                },
            )
            .unwrap();

        // Read the head and the moov only: the hole is 5 GiB.
        let len = file.seek(SeekFrom::End(0)).unwrap();
        let mut head = vec![0; 64];
        file.seek(SeekFrom::Start(0)).unwrap();
        file.read_exact(&mut head).unwrap();
        let ftyp_len = be32(&head, 0) as usize;
        assert_eq!(be32(&head, ftyp_len), 1, "64-bit mdat");
        assert_eq!(&head[ftyp_len + 4..ftyp_len + 8], b"mdat");
        let mdat_len = be64(&head, ftyp_len + 8);
        assert_eq!(mdat_len, 16 + 5 + GAP + 6);
        let moov_at = ftyp_len as u64 + mdat_len;
        let mut moov = vec![0; (len - moov_at) as usize];
        file.seek(SeekFrom::Start(moov_at)).unwrap();
        file.read_exact(&mut moov).unwrap();
        assert!(find_box(&moov, &["moov", "trak", "mdia", "minf", "stbl", "stco"]).is_none());
        let offsets = sample_offsets(&moov);
        assert_eq!(
            offsets,
            [ftyp_len as u64 + 16, ftyp_len as u64 + 16 + 5 + GAP]
        );
        let mut second = [0; 6];
        file.seek(SeekFrom::Start(offsets[1])).unwrap();
        file.read_exact(&mut second).unwrap();
        assert_eq!(&second, b"second");
    }
}
