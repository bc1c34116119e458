//! RIFF WAVE and RF64 (the 64-bit variant broadcast recorders write, whose real sizes are in a
//! `ds64` chunk): little-endian chunks (`fmt `, `data`, `LIST`/`INFO`, `id3 `), where the audio
//! data lies, and the header patches that let readers which trust a WAV header (the tag reader,
//! the decoder) read an unfinished or RF64 file as the plain WAV it holds ([`Patched`]).

use std::io::{self, Read, Seek};

use super::{Extent, Header, Layout, Located, find_chunk, header_at, read_at};
pub use super::{Patch, Patched};

/// Whether the file starts as a WAV (`RIFF` or `RF64`, then `WAVE`); true for RF64.
fn wave_kind<F: Read + Seek>(file: &mut F) -> io::Result<Option<bool>> {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head)? < 12 || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    Ok(match &head[..4] {
        b"RIFF" => Some(false),
        b"RF64" => Some(true),
        _ => None,
    })
}

/// The `fmt ` chunk's layout of the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub channels: u16,
    pub sample_rate: u32,
    /// Bytes per frame (all channels).
    pub block_align: u16,
}

/// A WAV file's chunk structure, up to its `data` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wave {
    pub rf64: bool,
    pub format: Option<Format>,
    /// The data size `ds64` gives (RF64 only).
    pub ds64_data_size: Option<u64>,
    /// The `data` chunk's header (its size field as written).
    pub data: Option<Header>,
}

impl Wave {
    /// The data size of an RF64 file whose audio runs past what a 32-bit size can say (over
    /// 4 GiB): `ds64`'s, when the `data` chunk itself says 0xFFFFFFFF.
    pub fn long_data_size(&self) -> Option<u64> {
        let placeholder = u64::from(u32::MAX);
        let data = self.data?;
        self.ds64_data_size
            .filter(|&d| data.size == placeholder && d >= placeholder)
    }

    /// Frames of audio in [`Wave::long_data_size`], from the format's frame size.
    pub fn long_data_frames(&self) -> Option<u64> {
        let align = u64::from(self.format?.block_align);
        (align > 0).then(|| self.long_data_size().map(|size| size / align))?
    }
}

/// Walks a WAV's chunks up to `data`. `None` when the file is not a WAV.
pub fn read_wave<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Wave>> {
    let Some(rf64) = wave_kind(file)? else {
        return Ok(None);
    };
    let mut wave = Wave {
        rf64,
        format: None,
        ds64_data_size: None,
        data: None,
    };
    let mut offset = 12;
    while let Some(chunk) = header_at(file, offset, file_len, Layout::Riff)? {
        match &chunk.kind {
            // Read in a RIFF file too: an RF64 file seen through its patches says RIFF.
            b"ds64" => {
                let mut ds = [0u8; 16];
                if read_at(file, chunk.body, &mut ds)? == 16 {
                    wave.ds64_data_size =
                        Some(u64::from_le_bytes(ds[8..16].try_into().expect("8 bytes")));
                }
            }
            b"fmt " => {
                let mut f = [0u8; 14];
                if chunk.size >= 14 && read_at(file, chunk.body, &mut f)? == 14 {
                    wave.format = Some(Format {
                        channels: u16::from_le_bytes([f[2], f[3]]),
                        sample_rate: u32::from_le_bytes(f[4..8].try_into().expect("4 bytes")),
                        block_align: u16::from_le_bytes([f[12], f[13]]),
                    });
                }
            }
            b"data" => {
                wave.data = Some(chunk);
                break;
            }
            _ => {}
        }
        offset = chunk.next(Layout::Riff);
    }
    Ok(Some(wave))
}

/// The body of the `data` chunk (for RF64, as long as `ds64` says).
pub fn data_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    let Some(wave) = read_wave(file, file_len)? else {
        return Ok(None);
    };
    if let (Some(data), Some(size)) = (wave.data, wave.long_data_size()) {
        let len = size.min(file_len - data.body);
        return Ok(Some(Located {
            extent: Extent {
                offset: data.body,
                len,
            },
            declared: (size > len).then_some(size),
        }));
    }
    find_chunk(file, 12, file_len, b"data", Layout::Riff)
}

/// What a WAV's header must say for readers that trust it (the tag reader, the decoder):
/// - a `data` chunk that says 0 bytes, or the 0xFFFFFFFF placeholder, while audio follows (a
///   recorder or stream writer that never went back to fill the size in): the rest of the file;
/// - an RF64 file (broadcast recorders; sizes in its `ds64` chunk): shown as plain RIFF, with
///   the sizes from `ds64`; a `data` chunk past 4 GiB keeps its 0xFFFFFFFF placeholder ("to
///   the end"), and its real length is [`Wave::long_data_frames`].
///
/// Empty for any other file.
pub fn wav_header_patches<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Vec<Patch>> {
    let Some(wave) = read_wave(file, file_len)? else {
        return Ok(Vec::new());
    };
    let mut patches = Vec::new();
    if wave.rf64 {
        patches.push(Patch {
            offset: 0,
            bytes: *b"RIFF",
        });
        patches.push(Patch {
            offset: 4,
            bytes: u32::try_from(file_len - 8)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        });
    }
    if let Some(chunk) = wave.data {
        let size = chunk.size;
        let rest = file_len - chunk.body;
        let placeholder = u64::from(u32::MAX);
        let wanted = match wave.ds64_data_size {
            // Past 4 GiB the placeholder stays: readers take it as "to the end of the file"
            // (the decoder stops at `long_data_frames`, the scan takes its length from it).
            Some(d) if size == placeholder && d >= placeholder => None,
            Some(d) if size == placeholder => Some(d.min(rest)),
            _ if (size == 0 || size == placeholder) && rest > 0 => Some(rest),
            _ => None,
        };
        if let Some(w) = wanted {
            let fixed = u32::try_from(w).unwrap_or(u32::MAX - 1) & !1;
            patches.push(Patch {
                offset: chunk.start + 4,
                bytes: fixed.to_le_bytes(),
            });
        }
    }
    Ok(patches)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::container::Extent;
    use std::io::{Cursor, SeekFrom};

    fn extent(bytes: &[u8]) -> Option<Extent> {
        data_extent(&mut Cursor::new(bytes), bytes.len() as u64)
            .unwrap()
            .map(|l| l.extent)
    }

    #[test]
    fn riff_chunks() {
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"LIST\x03\0\0\0abc\0"); // odd size, padded
        wav.extend(b"data\x04\0\0\0wxyz");
        assert_eq!(extent(&wav), Some(Extent { offset: 32, len: 4 }));
        // An absurd size is clamped to the file, and said to be more than is there.
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"data\xf0\xff\xff\x7f1234");
        let located = data_extent(&mut Cursor::new(&wav), wav.len() as u64)
            .unwrap()
            .unwrap();
        assert_eq!(located.extent, Extent { offset: 20, len: 4 });
        assert_eq!(located.declared, Some(0x7fff_fff0));
        let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
        wav.extend(b"fmt \xf0\xff\xff\x7f1234");
        assert_eq!(extent(&wav), None);
    }

    /// A 16-bit stereo 44.1 kHz RF64 file of `data_size` bytes of audio: a second of a tone at
    /// the start and at the end, a hole (sparse, so it costs no disk) in between.
    pub(crate) fn sparse_rf64(path: &std::path::Path, data_size: u64) -> Vec<i16> {
        use std::io::Write;
        let align = 4u64;
        let mut head = b"RF64\xff\xff\xff\xffWAVEds64\x1c\0\0\0".to_vec();
        let riff_size = 4 + 36 + 24 + 8 + data_size;
        head.extend(riff_size.to_le_bytes());
        head.extend(data_size.to_le_bytes());
        head.extend((data_size / align).to_le_bytes());
        head.extend(0u32.to_le_bytes());
        head.extend(b"fmt \x10\0\0\0");
        head.extend(1u16.to_le_bytes());
        head.extend(2u16.to_le_bytes());
        head.extend(44100u32.to_le_bytes());
        head.extend((44100 * 4u32).to_le_bytes());
        head.extend(4u16.to_le_bytes());
        head.extend(16u16.to_le_bytes());
        head.extend(b"data\xff\xff\xff\xff");
        let tone: Vec<i16> = (0..44100 * 2)
            .map(|i| ((i as f64 * 0.03).sin() * 8000.0) as i16)
            .collect();
        let bytes: Vec<u8> = tone.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut f = std::fs::File::create(path).unwrap();
        f.write_all(&head).unwrap();
        f.write_all(&bytes).unwrap();
        let end = head.len() as u64 + data_size;
        f.set_len(end).unwrap();
        f.seek(SeekFrom::Start(end - bytes.len() as u64)).unwrap();
        f.write_all(&bytes).unwrap();
        tone
    }

    #[test]
    fn rf64_past_4_gib_keeps_its_placeholder_and_declares_its_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.wav");
        let data_size = (5u64 << 30) + 1000;
        sparse_rf64(&path, data_size);
        let mut file = std::fs::File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let wave = read_wave(&mut file, len).unwrap().unwrap();
        assert!(wave.rf64);
        assert_eq!(wave.long_data_size(), Some(data_size));
        assert_eq!(wave.long_data_frames(), Some(data_size / 4));
        let located = data_extent(&mut file, len).unwrap().unwrap();
        assert_eq!(located.extent.len, data_size);
        assert_eq!(located.declared, None);
        // Shown as RIFF, the data chunk's placeholder left for readers to take as "to the end";
        // seen through the patches, the length is still known.
        let patches = wav_header_patches(&mut file, len).unwrap();
        assert_eq!(
            patches,
            [
                Patch {
                    offset: 0,
                    bytes: *b"RIFF"
                },
                Patch {
                    offset: 4,
                    bytes: u32::MAX.to_le_bytes()
                }
            ]
        );
        let mut view = Patched::new(std::fs::File::open(&path).unwrap(), patches).unwrap();
        let seen = read_wave(&mut view, len).unwrap().unwrap();
        assert_eq!(seen.long_data_frames(), Some(data_size / 4));
        // A file under 4 GiB is patched to its size as before.
        let small = dir.path().join("small.wav");
        sparse_rf64(&small, 1 << 20);
        let mut file = std::fs::File::open(&small).unwrap();
        let len = file.metadata().unwrap().len();
        let wave = read_wave(&mut file, len).unwrap().unwrap();
        assert_eq!(wave.long_data_frames(), None);
        let patches = wav_header_patches(&mut file, len).unwrap();
        assert_eq!(patches[2].bytes, (1u32 << 20).to_le_bytes());
    }

    #[test]
    fn an_unfinished_wav_data_size_is_read_as_the_rest_of_the_file() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
        wav.extend([0u8; 16]);
        wav.extend(b"data\0\0\0\0");
        wav.extend([7u8; 100]);
        let len = wav.len() as u64;
        let patches = wav_header_patches(&mut std::io::Cursor::new(&wav), len).unwrap();
        assert_eq!(
            patches,
            [Patch {
                offset: 40,
                bytes: 100u32.to_le_bytes()
            }]
        );
        // Read in pieces that split the patched bytes, and after a seek: the patch shows.
        let mut r = Patched::new(std::io::Cursor::new(&wav), patches).unwrap();
        let mut got = Vec::new();
        let mut piece = [0u8; 3];
        loop {
            let n = r.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(&got[40..44], &100u32.to_le_bytes());
        assert_eq!(&got[..40], &wav[..40]);
        r.seek(SeekFrom::Start(41)).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(two, [0, 0]);
        // A finished file is left alone.
        wav[40..44].copy_from_slice(&100u32.to_le_bytes());
        assert!(
            wav_header_patches(&mut std::io::Cursor::new(&wav), len)
                .unwrap()
                .is_empty()
        );
        // RF64: shown as RIFF, with the data size from ds64.
        let mut rf = b"RF64\xff\xff\xff\xffWAVEds64\x1c\0\0\0".to_vec();
        rf.extend(0u64.to_le_bytes());
        rf.extend(100u64.to_le_bytes());
        rf.extend(0u64.to_le_bytes());
        rf.extend([0u8; 4]);
        let data_at = rf.len() as u64;
        rf.extend(b"data\xff\xff\xff\xff");
        rf.extend([7u8; 100]);
        let len = rf.len() as u64;
        let patches = wav_header_patches(&mut std::io::Cursor::new(&rf), len).unwrap();
        let mut r = Patched::new(std::io::Cursor::new(&rf), patches).unwrap();
        let mut view = Vec::new();
        r.read_to_end(&mut view).unwrap();
        assert_eq!(&view[..4], b"RIFF");
        assert_eq!(&view[4..8], &((len - 8) as u32).to_le_bytes());
        let at = data_at as usize + 4;
        assert_eq!(&view[at..at + 4], &100u32.to_le_bytes());
    }
}
