//! AIFF and AIFF-C: the `FORM` header and its big-endian chunks (`COMM`, `SSND`, `ID3 `, and the
//! NAME/AUTH/ANNO text chunks, which the tag reader reads).

use std::io::{self, Read, Seek};

use super::{Layout, Located, find_chunk, read_at};

/// The body of the `SSND` chunk (its 8 bytes of offset and block size included).
pub fn sound_extent<F: Read + Seek>(file: &mut F, file_len: u64) -> io::Result<Option<Located>> {
    let mut head = [0u8; 12];
    if read_at(file, 0, &mut head)? < 12 || &head[..4] != b"FORM" {
        return Ok(None);
    }
    if &head[8..12] != b"AIFF" && &head[8..12] != b"AIFC" {
        return Ok(None);
    }
    find_chunk(file, 12, file_len, b"SSND", Layout::Iff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::Extent;
    use std::io::Cursor;

    #[test]
    fn aiff_chunks() {
        let mut aiff = b"FORM\0\0\0\0AIFF".to_vec();
        aiff.extend(b"NAME\0\0\0\x02hi");
        aiff.extend(b"SSND\0\0\0\x10");
        aiff.extend([0u8; 16]);
        let len = aiff.len() as u64;
        assert_eq!(
            sound_extent(&mut Cursor::new(&aiff), len)
                .unwrap()
                .map(|l| l.extent),
            Some(Extent {
                offset: 30,
                len: 16
            })
        );
        aiff[8..12].copy_from_slice(b"WAVE");
        assert_eq!(sound_extent(&mut Cursor::new(&aiff), len).unwrap(), None);
    }
}
