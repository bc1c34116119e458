//! Matching files that appeared to tracks that disappeared: how a moved or renamed file keeps its
//! identity (id, date added, and everything attached to the id).
//!
//! A match requires the same audio fingerprint. When several files carry the same audio (the
//! same rip in an album and in a compilation folder, say), the tie is broken by how much else
//! still agrees: the file name first, then the size, then the title, artist and album. Pure
//! logic, no I/O.

use std::collections::HashMap;

/// One side of a possible move: a file that appeared, or a track whose file disappeared.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    pub fingerprint: [u8; 16],
    /// The file name without folders.
    pub name: Vec<u8>,
    pub size: i64,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
}

fn score(a: &Side, b: &Side) -> u32 {
    let mut s = 0;
    if a.name == b.name {
        s += 8;
    }
    if a.size == b.size {
        s += 4;
    }
    if a.title == b.title && a.artist == b.artist && a.album == b.album {
        s += 2;
    } else if a.title == b.title {
        s += 1;
    }
    s
}

/// Pairs each appeared file with at most one disappeared track and vice versa. Returns
/// `(appeared index, disappeared index)` pairs. Highest-scoring pairs are taken first; ties go to
/// the lower indexes, so the result does not depend on hash order.
pub fn match_moves(appeared: &[Side], gone: &[Side]) -> Vec<(usize, usize)> {
    let mut by_fp: HashMap<[u8; 16], Vec<usize>> = HashMap::new();
    for (j, g) in gone.iter().enumerate() {
        by_fp.entry(g.fingerprint).or_default().push(j);
    }
    let mut pairs: Vec<(u32, usize, usize)> = Vec::new();
    for (i, a) in appeared.iter().enumerate() {
        if let Some(js) = by_fp.get(&a.fingerprint) {
            pairs.extend(js.iter().map(|&j| (score(a, &gone[j]), i, j)));
        }
    }
    pairs.sort_by(|x, y| y.0.cmp(&x.0).then(x.2.cmp(&y.2)).then(x.1.cmp(&y.1)));
    let mut used_a = vec![false; appeared.len()];
    let mut used_g = vec![false; gone.len()];
    let mut out = Vec::new();
    for (_, i, j) in pairs {
        if !used_a[i] && !used_g[j] {
            used_a[i] = true;
            used_g[j] = true;
            out.push((i, j));
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(fp: u8, name: &str, size: i64, title: &str) -> Side {
        Side {
            fingerprint: [fp; 16],
            name: name.as_bytes().to_vec(),
            size,
            title: title.into(),
            artist: None,
            album: None,
        }
    }

    #[test]
    fn different_audio_never_matches() {
        assert!(match_moves(&[side(1, "a", 1, "t")], &[side(2, "a", 1, "t")]).is_empty());
    }

    #[test]
    fn a_rename_matches_on_audio_alone() {
        let m = match_moves(
            &[side(1, "new name.flac", 9, "x")],
            &[side(1, "old.flac", 1, "y")],
        );
        assert_eq!(m, vec![(0, 0)]);
    }

    #[test]
    fn identical_audio_is_told_apart_by_name_then_size_then_tags() {
        // Two copies of the same audio moved together: each keeps the identity of its own name.
        let gone = [side(1, "a.mp3", 10, "t"), side(1, "b.mp3", 10, "t")];
        let appeared = [side(1, "b.mp3", 10, "t"), side(1, "a.mp3", 10, "t")];
        assert_eq!(match_moves(&appeared, &gone), vec![(0, 1), (1, 0)]);

        // Renamed both: size decides.
        let gone = [side(1, "a.mp3", 10, "t"), side(1, "b.mp3", 20, "t")];
        let appeared = [side(1, "x.mp3", 20, "t"), side(1, "y.mp3", 10, "t")];
        assert_eq!(match_moves(&appeared, &gone), vec![(0, 1), (1, 0)]);

        // Same name and size: tags decide.
        let gone = [side(1, "a.mp3", 10, "one"), side(1, "a.mp3", 10, "two")];
        let appeared = [side(1, "a.mp3", 10, "two"), side(1, "a.mp3", 10, "one")];
        assert_eq!(match_moves(&appeared, &gone), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn extra_copies_stay_unmatched() {
        let gone = [side(1, "a.mp3", 10, "t")];
        let appeared = [side(1, "copy.mp3", 10, "t"), side(1, "a.mp3", 10, "t")];
        assert_eq!(match_moves(&appeared, &gone), vec![(1, 0)]);
    }
}
