//! RIFF WAVE and RF64 (the 64-bit variant broadcast recorders write, whose real sizes are in a
//! `ds64` chunk): little-endian chunks (`fmt `, `data`, `LIST`/`INFO`, `id3 `), where the audio
//! data lies, and the header patches that let readers which trust a WAV header (the tag reader,
//! the decoder) read an unfinished or RF64 file as the plain WAV it holds ([`Patched`]).

use std::io::{self, Read, Seek};

use super::{Layout, Located, find_chunk, header_at, read_at};
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

/// The body of the `data` chunk.
pub fn data_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    if wave_kind(file)?.is_none() {
        return Ok(None);
    }
    find_chunk(file, 12, file_len, b"data", Layout::Riff)
}

/// What a WAV's header must say for readers that trust it (the tag reader, the decoder):
/// - a `data` chunk that says 0 bytes, or the 0xFFFFFFFF placeholder, while audio follows (a
///   recorder or stream writer that never went back to fill the size in): the rest of the file;
/// - an RF64 file (broadcast recorders; sizes in its `ds64` chunk): shown as plain RIFF, with
///   the sizes from `ds64` (a `data` chunk past 4 GiB is cut to what 32 bits can say).
///
/// Empty for any other file.
pub fn wav_header_patches<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Vec<Patch>> {
    let Some(rf64) = wave_kind(file)? else {
        return Ok(Vec::new());
    };
    let mut patches = Vec::new();
    let mut data_size_64 = None;
    if rf64 {
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
    let mut offset = 12;
    while let Some(chunk) = header_at(file, offset, file_len, Layout::Riff)? {
        if rf64 && &chunk.kind == b"ds64" {
            let mut ds = [0u8; 16];
            if read_at(file, chunk.body, &mut ds)? == 16 {
                data_size_64 = Some(u64::from_le_bytes(ds[8..16].try_into().expect("8 bytes")));
            }
        }
        if &chunk.kind == b"data" {
            let size = chunk.size;
            let rest = file_len - chunk.body;
            let placeholder = u64::from(u32::MAX);
            let wanted = match data_size_64 {
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
            break;
        }
        offset = chunk.next(Layout::Riff);
    }
    Ok(patches)
}

#[cfg(test)]
mod tests {
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
