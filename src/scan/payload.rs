//! What a scan decides from a file's container structure (read through [`crate::container`]):
//! a fingerprint of the audio payload that ignores tags, the exact length the container declares
//! (an MP3's LAME/Info header, an MP4 edit list), whether the file is cut short of what its
//! headers promise, and whether a cover is embedded.
//!
//! The fingerprint is what lets a moved or retagged file keep its identity: editing tags rewrites
//! ID3 frames, Vorbis comments, RIFF INFO or the MP4 `moov` box, but leaves the coded audio bytes
//! alone. Each container is walked just far enough to find those bytes (the MP4 `mdat` box, the
//! FLAC frames after the metadata blocks, the WAV `data` and AIFF `SSND` chunks, the MPEG frames
//! between leading ID3v2 and trailing ID3v1/APE/Lyrics3 tags). Reads are bounded: at most three
//! 64 KiB windows of the payload are hashed, whatever the file's size, so fingerprinting costs the
//! same for a 3 MB MP3 and a 300 MB FLAC. The payload length is hashed too.

use std::io::{self, Read, Seek, SeekFrom};

use xxhash_rust::xxh3::Xxh3;

use crate::container::{Extent, Located, aiff, flac, id3, mp4, mpeg, read_at, read_up_to, riff};
use crate::model::Container;

/// Bytes hashed from each of the start, middle and end of the payload.
const WINDOW: u64 = 64 * 1024;

/// What this module learns about one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub fingerprint: [u8; 16],
    /// The playable length in seconds when the container states it exactly: an MP3's Xing/Info
    /// and LAME headers (encoder delay and padding removed), or an MP4 edit list (AAC priming
    /// removed). `None` when only an estimate is available.
    pub exact_duration: Option<f64>,
    /// Set when the file is shorter than its own headers say: a copy that was cut off.
    pub truncated: Option<String>,
    /// Whether an embedded picture is present, found from the tag structure without reading the
    /// picture itself (covers of several megabytes are common).
    pub has_cover: bool,
}

/// Locates the payload, hashes it and reads MP3 length information.
pub fn inspect<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    container: Container,
) -> io::Result<Payload> {
    let located = locate(file, file_len, container)?;
    let extent = located.map_or(
        Extent {
            offset: 0,
            len: file_len,
        },
        |l| l.extent,
    );
    let fingerprint = hash_extent(file, extent)?;
    let mut truncated = located.and_then(|l| l.declared).and_then(|declared| {
        (declared > extent.len).then(|| {
            format!(
                "truncated: the audio data should be {declared} bytes but the file holds {}",
                extent.len
            )
        })
    });
    let exact_duration = match container {
        Container::Mp3 => {
            let xing = mpeg::read_xing(file, extent)?;
            if let Some(x) = &xing {
                // Allow for the Info frame itself and for tags the stream count may include.
                if let Some(bytes) = x.stream_bytes
                    && bytes > extent.len + 4096
                    && truncated.is_none()
                {
                    truncated = Some(format!(
                        "truncated: the MP3 header promises {bytes} bytes of audio but the file holds {}",
                        extent.len
                    ));
                }
            }
            xing.and_then(|x| {
                (x.sample_rate > 0).then(|| x.frames as f64 / f64::from(x.sample_rate))
            })
        }
        Container::Mp4 => {
            mp4::trim(file, file_len)?.map(|t| t.frames as f64 / f64::from(t.timescale))
        }
        Container::Flac => {
            if truncated.is_none() {
                truncated = flac_truncation(file, file_len, extent)?;
            }
            None
        }
        // An RF64 file over 4 GiB: the tag reader sees the data size 32 bits can say; `ds64`
        // has the real one.
        Container::Wav => riff::read_wave(file, file_len)?.and_then(|w| {
            let rate = w.format?.sample_rate;
            (rate > 0).then_some(w.long_data_frames()? as f64 / f64::from(rate))
        }),
        _ => None,
    };
    let has_cover = match container {
        Container::Mp3 | Container::Adts => id3::has_picture(file, 0, file_len)?,
        Container::Flac => flac::has_picture(file, file_len)?,
        Container::Mp4 => mp4::has_cover(file, file_len)?,
        // WAV and AIFF covers are rare; the tag reader reports those.
        Container::Wav | Container::Aiff => false,
    };
    Ok(Payload {
        fingerprint,
        exact_duration,
        truncated,
        has_cover,
    })
}

/// Hashes the payload length plus up to three windows of it.
pub fn hash_extent<F: Read + Seek>(file: &mut F, extent: Extent) -> io::Result<[u8; 16]> {
    let mut hasher = Xxh3::new();
    hasher.update(&extent.len.to_le_bytes());
    let mut buf = vec![0u8; WINDOW as usize];
    let starts: Vec<u64> = if extent.len <= 3 * WINDOW {
        (0..extent.len.div_ceil(WINDOW))
            .map(|i| i * WINDOW)
            .collect()
    } else {
        vec![0, extent.len / 2 - WINDOW / 2, extent.len - WINDOW]
    };
    for start in starts {
        let want = WINDOW.min(extent.len - start) as usize;
        file.seek(SeekFrom::Start(extent.offset + start))?;
        let got = read_up_to(file, &mut buf[..want])?;
        hasher.update(&buf[..got]);
    }
    Ok(hasher.digest128().to_le_bytes())
}

/// Finds the audio payload of a file, or `None` when the structure is not what the container
/// promises (the caller then hashes the whole file).
pub fn locate<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    container: Container,
) -> io::Result<Option<Located>> {
    Ok(match container {
        Container::Mp3 | Container::Adts => mpeg::frames_extent(file, file_len)?.map(Located::from),
        Container::Flac => flac::frames_extent(file, file_len)?.map(Located::from),
        Container::Wav => riff::data_extent(file, file_len)?,
        Container::Aiff => aiff::sound_extent(file, file_len)?,
        Container::Mp4 => mp4::mdat_extent(file, file_len)?,
    })
}

/// Compares the sample count STREAMINFO promises with where the last complete-looking frame
/// header near the end of the file says the audio stops.
fn flac_truncation<F: Read + Seek>(
    file: &mut F,
    file_len: u64,
    extent: Extent,
) -> io::Result<Option<String>> {
    let Some(info) = flac::stream_info(file, file_len)? else {
        return Ok(None);
    };
    let total = info.total_samples;
    if total == 0 {
        return Ok(None);
    }
    let tail_len = extent.len.min(64 * 1024);
    let mut tail = vec![0u8; tail_len as usize];
    let got = read_at(file, extent.offset + extent.len - tail_len, &mut tail)?;
    tail.truncate(got);
    let mut end_sample = None;
    for i in (0..tail.len().saturating_sub(16)).rev() {
        if tail[i] == 0xff
            && tail[i + 1] & 0xfe == 0xf8
            && let Some(end) = flac::frame_end(&tail[i..], info.min_block)
        {
            end_sample = Some(end);
            break;
        }
    }
    Ok(match end_sample {
        Some(end) if end + info.min_block < total => Some(format!(
            "truncated: the FLAC header promises {total} samples but the audio stops near sample {end}"
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    use crate::container::id3::test_tag as id3v2;

    #[test]
    fn tag_edits_do_not_change_the_fingerprint() {
        let audio: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let fp = |tag_len: usize| {
            let mut file = id3v2(tag_len);
            file.extend(&audio);
            let len = file.len() as u64;
            inspect(&mut Cursor::new(file), len, Container::Mp3)
                .unwrap()
                .fingerprint
        };
        assert_eq!(fp(10), fp(5000));
        let mut other = audio.clone();
        other[150_000] ^= 1;
        let mut file = id3v2(10);
        file.extend(&other);
        let len = file.len() as u64;
        let changed = inspect(&mut Cursor::new(file), len, Container::Mp3)
            .unwrap()
            .fingerprint;
        assert_ne!(
            changed,
            fp(10),
            "a change in the middle window must change the fingerprint"
        );
    }

    #[test]
    fn an_rf64_file_past_4_gib_has_the_length_ds64_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.wav");
        let data_size = (5u64 << 30) + 1000;
        crate::container::riff::tests::sparse_rf64(&path, data_size);
        let mut file = std::fs::File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        // Seen as the scan sees it: through the header patches.
        let patches = crate::container::read_patches(&mut file, len).unwrap();
        let mut view = crate::container::Patched::new(file, patches).unwrap();
        let p = inspect(&mut view, len, Container::Wav).unwrap();
        assert_eq!(p.exact_duration, Some((data_size / 4) as f64 / 44100.0));
        assert_eq!(p.truncated, None);
    }

    #[test]
    fn absurd_chunk_sizes_are_clamped_not_trusted() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"data\xf0\xff\xff\x7f1234");
        let len = wav.len() as u64;
        let located = locate(&mut Cursor::new(&wav), len, Container::Wav).unwrap();
        assert_eq!(
            located.map(|l| l.extent),
            Some(Extent { offset: 20, len: 4 })
        );
        let p = inspect(&mut Cursor::new(&wav), len, Container::Wav).unwrap();
        assert!(p.truncated.unwrap().contains("truncated"));
    }
}
