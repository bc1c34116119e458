//! `tapedeck dupes`: tracks grouped by recording, from their acoustic fingerprints. Pure: the
//! tracks in, the groups out, best copy first. Candidates are found through an index of
//! fingerprint items (copies of a recording share many exact items; unrelated tracks almost
//! none), so the library is never compared pair by pair.

use std::collections::HashMap;

use super::fingerprint::similarity;
use crate::model::Track;

/// The default share of equal fingerprint bits above which two tracks are the same recording.
pub const THRESHOLD: f64 = 0.88;

/// One copy in a group, with its similarity to the group's best copy (1 for the best itself).
#[derive(Debug, Clone)]
pub struct Copy<'a> {
    pub track: &'a Track,
    pub score: f64,
}

/// Which of two copies to keep: lossless before lossy, then the higher bitrate, then the more
/// complete tags, then the path (so the order is stable).
fn better(a: &Track, b: &Track) -> std::cmp::Ordering {
    let lossless = |t: &Track| matches!(t.format.as_str(), "flac" | "alac" | "wav" | "aiff");
    let tags = |t: &Track| {
        [
            t.artist.is_some(),
            t.album.is_some(),
            t.albumartist.is_some(),
            t.track.is_some(),
            t.year.is_some(),
            t.genre.is_some(),
            !t.title.is_empty(),
            t.mb_trackid.is_some(),
            t.has_cover,
        ]
        .iter()
        .filter(|&&b| b)
        .count()
    };
    lossless(b)
        .cmp(&lossless(a))
        .then(b.bitrate.unwrap_or(0).cmp(&a.bitrate.unwrap_or(0)))
        .then(tags(b).cmp(&tags(a)))
        .then(a.path.cmp(&b.path))
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Items shared before two tracks are compared in full.
const MIN_SHARED: usize = 3;
/// An item value found in more tracks than this (silence, a constant tone) says nothing.
const MAX_BUCKET: usize = 64;

/// Groups `prints` (each track with its fingerprint items) into recordings: every pair scoring
/// at least `threshold` joins a group. Groups of one are left out; each group is ordered best
/// copy first, and groups by their best copy's path.
pub fn groups<'a>(prints: &[(&'a Track, Vec<u32>)], threshold: f64) -> Vec<Vec<Copy<'a>>> {
    let mut index: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, (_, items)) in prints.iter().enumerate() {
        let mut seen: Vec<u32> = items.clone();
        seen.sort_unstable();
        seen.dedup();
        for v in seen {
            index.entry(v).or_default().push(i);
        }
    }
    let mut shared: HashMap<(usize, usize), usize> = HashMap::new();
    for bucket in index
        .values()
        .filter(|b| b.len() > 1 && b.len() <= MAX_BUCKET)
    {
        for (k, &i) in bucket.iter().enumerate() {
            for &j in &bucket[k + 1..] {
                *shared.entry((i, j)).or_default() += 1;
            }
        }
    }
    let mut parent: Vec<usize> = (0..prints.len()).collect();
    for (&(i, j), &n) in &shared {
        if n >= MIN_SHARED && similarity(&prints[i].1, &prints[j].1).is_some_and(|s| s >= threshold)
        {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..prints.len() {
        let root = find(&mut parent, i);
        by_root.entry(root).or_default().push(i);
    }
    let mut out: Vec<Vec<Copy<'a>>> = by_root
        .into_values()
        .filter(|members| members.len() > 1)
        .map(|mut members| {
            members.sort_by(|&a, &b| better(prints[a].0, prints[b].0));
            let best = &prints[members[0]].1;
            members
                .iter()
                .map(|&m| Copy {
                    track: prints[m].0,
                    score: similarity(best, &prints[m].1).unwrap_or(0.0),
                })
                .collect()
        })
        .collect();
    out.sort_by(|a, b| a[0].track.path.cmp(&b[0].track.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn track(path: &str, format: &str, bitrate: u32, tagged: bool) -> Track {
        Track {
            path: PathBuf::from(path),
            format: format.into(),
            bitrate: Some(bitrate),
            artist: tagged.then(|| "A".into()),
            album: tagged.then(|| "B".into()),
            ..Track::default()
        }
    }

    fn noise(seed: u64, n: usize) -> Vec<u32> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect()
    }

    /// `base` with bits flipped in one item of every `every` (a lossy copy).
    fn degrade(base: &[u32], every: usize) -> Vec<u32> {
        base.iter()
            .enumerate()
            .map(|(i, &v)| if i % every == 0 { v ^ 0x00ff_00ff } else { v })
            .collect()
    }

    #[test]
    fn copies_group_best_first_and_other_songs_stay_apart() {
        let song = noise(1, 900);
        let tracks = [
            track("/m/song.mp3", "mp3", 128, true),
            track("/m/song-320.mp3", "mp3", 320, false),
            track("/m/song.flac", "flac", 900, false),
            track("/m/song-bare.mp3", "mp3", 128, false),
            track("/m/other.flac", "flac", 900, true),
            track("/m/third.flac", "flac", 900, true),
        ];
        let prints = vec![
            (&tracks[0], degrade(&song, 5)),
            (&tracks[1], degrade(&song, 9)),
            (&tracks[2], song.clone()),
            (&tracks[3], degrade(&song[2..], 6)),
            (&tracks[4], noise(2, 900)),
            (&tracks[5], noise(3, 900)),
        ];
        let g = groups(&prints, THRESHOLD);
        assert_eq!(g.len(), 1);
        let paths: Vec<&str> = g[0]
            .iter()
            .map(|c| c.track.path.to_str().unwrap())
            .collect();
        // Lossless first, then bitrate, then tags.
        assert_eq!(
            paths,
            [
                "/m/song.flac",
                "/m/song-320.mp3",
                "/m/song.mp3",
                "/m/song-bare.mp3"
            ]
        );
        assert_eq!(g[0][0].score, 1.0);
        assert!(g[0].iter().all(|c| c.score >= THRESHOLD));
        // Nothing groups when the bar is above every copy's score.
        assert!(groups(&prints, 0.999).is_empty());
    }
}
