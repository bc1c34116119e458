//! The audio CD's layout, decided before (and checked after) anything is written: where each
//! track's samples sit in the disc image, its index points on the 1/75 s sector grid, the
//! silence between albums, what fits on a disc and how a selection splits over several. Pure
//! arithmetic on sample-frame counts at 44.1 kHz.
//!
//! Rules:
//! - The image is one continuous stream of 16-bit stereo frames; a sector is 588 of them
//!   (2,352 bytes).
//! - Tracks that follow each other on the same album join sample-exactly: the next track's
//!   samples start right after the last sample of the one before, with no silence. Its index
//!   point (where a player's track starts) is put on the sector boundary nearest to its first
//!   sample, so up to 294 frames (6.7 ms) on either side of a join belong to the neighbouring
//!   track's index; nothing is added or dropped.
//! - The last track of an album (and of the disc) is padded with silence to the end of its
//!   sector; the next album starts on a boundary after `gap` sectors of silence (index 00 to
//!   index 01, its pregap). Track 1's two-second pregap is the disc's own (the drive writes
//!   it); it is not in the image.
//! - A track must be at least 4 s long (300 sectors from its index 01 to the next): a shorter
//!   track is padded with silence to that length and ends on a boundary, so the track after it
//!   no longer joins it.

use std::ops::Range;

/// Sample frames per CD sector.
pub const SECTOR: u64 = 588;
/// Bytes per sector of 16-bit stereo audio.
pub const SECTOR_BYTES: u64 = 2352;
/// Sectors per second.
pub const SECTORS_PER_SECOND: u64 = 75;
/// Sample frames per second.
pub const RATE: u32 = 44_100;
/// The pregap before track 1 that every disc has (2 s).
pub const LEAD_PREGAP: u64 = 2 * SECTORS_PER_SECOND;
/// Red Book's track limit.
pub const MAX_TRACKS: usize = 99;
/// Red Book's shortest track, in sectors (4 s).
pub const MIN_TRACK: u64 = 4 * SECTORS_PER_SECOND;

/// Recordable media sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// 80-minute CD-R: 79:57:00 usable.
    Min80,
    /// 74-minute CD-R: 74:00:00.
    Min74,
}

impl Media {
    /// Capacity in sectors, the 2-second lead pregap included.
    pub fn sectors(self) -> u64 {
        match self {
            Media::Min80 => (79 * 60 + 57) * SECTORS_PER_SECOND,
            Media::Min74 => 74 * 60 * SECTORS_PER_SECOND,
        }
    }
}

/// One track as the layout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Length in sample frames at 44.1 kHz.
    pub frames: u64,
    /// Which album it belongs to (a folded key); `None` joins nothing.
    pub album: Option<String>,
}

/// Whether `b` follows `a` without a gap.
pub fn joins(a: &Item, b: &Item) -> bool {
    a.album.is_some() && a.album == b.album
}

/// Where one track sits in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Sector of index 00 (start of the pregap silence) when the track has a pregap.
    pub index0: Option<u64>,
    /// Sector of index 01 (where the track starts).
    pub index1: u64,
    /// Sample frame in the image where its audio starts.
    pub start: u64,
    /// Its audio, in frames.
    pub frames: u64,
    /// Silence written after its audio, in frames.
    pub pad: u64,
    /// Whether the silence makes up the 4-second minimum.
    pub padded_short: bool,
}

/// The image of one disc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub tracks: Vec<Placed>,
    /// The image's length in frames (a whole number of sectors).
    pub frames: u64,
}

impl Layout {
    /// Sectors in the image.
    pub fn sectors(&self) -> u64 {
        self.frames / SECTOR
    }

    /// Sectors the disc needs: the image and the lead pregap.
    pub fn disc_sectors(&self) -> u64 {
        self.sectors() + LEAD_PREGAP
    }

    /// Track `i`'s sectors from its index 01 to the next track's index 00 (or 01), or the end.
    pub fn track_sectors(&self, i: usize) -> u64 {
        let end = match self.tracks.get(i + 1) {
            Some(n) => n.index0.unwrap_or(n.index1),
            None => self.sectors(),
        };
        end - self.tracks[i].index1
    }

    /// The sectors of the image that belong to track `i`: from its index 00 (or 01) to the
    /// next track's, or the end. These ranges cover the image once, in order.
    pub fn track_span(&self, i: usize) -> Range<u64> {
        let t = &self.tracks[i];
        let end = match self.tracks.get(i + 1) {
            Some(n) => n.index0.unwrap_or(n.index1),
            None => self.sectors(),
        };
        t.index0.unwrap_or(t.index1)..end
    }
}

fn round_up(frames: u64) -> u64 {
    frames.div_ceil(SECTOR) * SECTOR
}

/// Lays out one disc: `gap` sectors of silence between albums.
pub fn layout(items: &[Item], gap: u64) -> Layout {
    let mut tracks: Vec<Placed> = Vec::with_capacity(items.len());
    let mut pos = 0u64;
    // Whether the track before ended on a boundary of its own (padded short).
    let mut broke = false;
    for (i, item) in items.iter().enumerate() {
        let joined = i > 0 && !broke && joins(&items[i - 1], item);
        let index0 = if i > 0 && !joins(&items[i - 1], item) && gap > 0 {
            let at = pos / SECTOR;
            pos += gap * SECTOR;
            Some(at)
        } else {
            None
        };
        debug_assert!(joined || pos.is_multiple_of(SECTOR));
        let start = pos;
        let index1 = (start + SECTOR / 2) / SECTOR;
        pos += item.frames;
        let next_joins = items.get(i + 1).is_some_and(|n| joins(item, n));
        // Where the next index 01 would fall with no padding.
        let natural_end = if next_joins {
            (pos + SECTOR / 2) / SECTOR
        } else {
            pos.div_ceil(SECTOR)
        };
        let mut pad = 0;
        let mut padded_short = false;
        if natural_end < index1 + MIN_TRACK {
            let end = (index1 + MIN_TRACK) * SECTOR;
            pad = end - pos;
            padded_short = true;
        } else if !next_joins {
            pad = round_up(pos) - pos;
        }
        pos += pad;
        broke = padded_short;
        tracks.push(Placed {
            index0,
            index1,
            start,
            frames: item.frames,
            pad,
            padded_short,
        });
    }
    Layout {
        tracks,
        frames: pos,
    }
}

/// Why a selection cannot be put on discs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitError {
    /// Track `index` alone is longer than a disc holds.
    TrackTooLong { index: usize, sectors: u64 },
}

/// One disc of a split: which items, and whether an album was cut between discs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disc {
    pub items: Range<usize>,
    pub layout: Layout,
    /// An album was too long for a disc of its own and continues on the next disc.
    pub cuts_album: bool,
}

/// Albums: runs of items that join.
fn albums(items: &[Item]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for i in 0..items.len() {
        match out.last_mut() {
            Some(r) if joins(&items[i - 1], &items[i]) => r.end = i + 1,
            _ => out.push(i..i + 1),
        }
    }
    out
}

/// Plans discs for `items` in order, cutting only between albums; an album longer than a disc
/// (or than 99 tracks) is cut between its tracks. Each disc is filled as far as it goes.
pub fn split(
    items: &[Item],
    gap: u64,
    capacity: u64,
    max_tracks: usize,
) -> Result<Vec<Disc>, SplitError> {
    let fits = |r: &Range<usize>| {
        r.len() <= max_tracks && layout(&items[r.clone()], gap).disc_sectors() <= capacity
    };
    for (index, _) in items.iter().enumerate() {
        let one = layout(&items[index..index + 1], gap).disc_sectors();
        if one > capacity {
            return Err(SplitError::TrackTooLong {
                index,
                sectors: one,
            });
        }
    }
    let mut discs: Vec<(Range<usize>, bool)> = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for album in albums(items) {
        let with = match &current {
            Some(c) => c.start..album.end,
            None => album.clone(),
        };
        if fits(&with) {
            current = Some(with);
            continue;
        }
        if let Some(c) = current.take() {
            discs.push((c, false));
        }
        if fits(&album) {
            current = Some(album);
            continue;
        }
        // The album alone does not fit: cut it between tracks.
        let mut start = album.start;
        for i in album.clone() {
            if !fits(&(start..i + 1)) {
                discs.push((start..i, true));
                start = i;
            }
        }
        current = Some(start..album.end);
    }
    if let Some(c) = current {
        discs.push((c, false));
    }
    Ok(discs
        .into_iter()
        .map(|(items_range, cuts_album)| Disc {
            layout: layout(&items[items_range.clone()], gap),
            items: items_range,
            cuts_album,
        })
        .collect())
}

/// `mm:ss:ff` for a number of sectors (minutes may pass 99 in messages, never on a disc).
pub fn msf(sectors: u64) -> String {
    let f = sectors % SECTORS_PER_SECOND;
    let s = sectors / SECTORS_PER_SECOND;
    format!("{:02}:{:02}:{:02}", s / 60, s % 60, f)
}

/// Frames at 44.1 kHz for a length in seconds (an estimate from the library, before decoding).
pub fn frames_of_seconds(seconds: f64) -> u64 {
    (seconds.max(0.0) * f64::from(RATE)).round() as u64
}

/// Frames at 44.1 kHz that `frames` at `rate` become (the resampler's exact output length).
pub fn frames_at_cd_rate(frames: u64, rate: u32) -> u64 {
    ((u128::from(frames) * u128::from(RATE) + u128::from(rate) / 2) / u128::from(rate.max(1)))
        as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(frames: u64, album: Option<&str>) -> Item {
        Item {
            frames,
            album: album.map(str::to_string),
        }
    }

    const S: u64 = SECTOR;
    const MIN: u64 = 60 * 75 * S; // a minute in frames

    #[test]
    fn msf_counts_sectors() {
        let cases = [
            (0, "00:00:00"),
            (74, "00:00:74"),
            (75, "00:01:00"),
            (150, "00:02:00"),
            (359_775, "79:57:00"),
            (333_000, "74:00:00"),
        ];
        for (n, want) in cases {
            assert_eq!(msf(n), want, "{n}");
        }
    }

    #[test]
    fn media_capacities() {
        assert_eq!(Media::Min80.sectors(), 359_775);
        assert_eq!(Media::Min74.sectors(), 333_000);
    }

    #[test]
    fn rate_conversion_rounds_like_the_resampler() {
        let cases = [
            (48_000u64, 48_000u32, 44_100u64),
            (1, 48_000, 1),
            (96_000, 96_000, 44_100),
            (44_100, 44_100, 44_100),
            (100, 22_050, 200),
        ];
        for (frames, rate, want) in cases {
            assert_eq!(frames_at_cd_rate(frames, rate), want, "{frames} at {rate}");
        }
    }

    /// (items, gap) => (index0, index1, start, pad, padded_short) per track, image frames.
    #[test]
    fn layouts() {
        type Row = (Option<u64>, u64, u64, u64, bool);
        let cases: Vec<(Vec<Item>, u64, Vec<Row>, u64)> = vec![
            // One track of whole sectors: no padding.
            (
                vec![item(400 * S, Some("a"))],
                150,
                vec![(None, 0, 0, 0, false)],
                400 * S,
            ),
            // One track ending mid-sector: padded to the boundary.
            (
                vec![item(400 * S + 10, Some("a"))],
                150,
                vec![(None, 0, 0, S - 10, false)],
                401 * S,
            ),
            // Same album: joined sample-exactly, index rounded to the nearest boundary
            // (10 frames past 400 sectors rounds down, 300 frames past rounds up).
            (
                vec![
                    item(400 * S + 10, Some("a")),
                    item(400 * S + 290, Some("a")),
                    item(400 * S, Some("a")),
                ],
                150,
                vec![
                    (None, 0, 0, 0, false),
                    (None, 400, 400 * S + 10, 0, false),
                    (None, 801, 800 * S + 300, S - 300, false),
                ],
                1201 * S,
            ),
            // Another album: the first is padded, then a 2-second pregap.
            (
                vec![item(400 * S + 10, Some("a")), item(400 * S, Some("b"))],
                150,
                vec![
                    (None, 0, 0, S - 10, false),
                    (Some(401), 551, 551 * S, 0, false),
                ],
                951 * S,
            ),
            // No gap asked: albums still start on a boundary, with no index 00.
            (
                vec![item(400 * S + 10, Some("a")), item(400 * S, Some("b"))],
                0,
                vec![(None, 0, 0, S - 10, false), (None, 401, 401 * S, 0, false)],
                801 * S,
            ),
            // Tracks without an album never join.
            (
                vec![item(400 * S, None), item(400 * S, None)],
                150,
                vec![(None, 0, 0, 0, false), (Some(400), 550, 550 * S, 0, false)],
                950 * S,
            ),
            // A 1-second track is padded to 4 s; the next track of its album starts on the
            // boundary after it, with no pregap.
            (
                vec![item(75 * S, Some("a")), item(400 * S, Some("a"))],
                150,
                vec![(None, 0, 0, 225 * S, true), (None, 300, 300 * S, 0, false)],
                700 * S,
            ),
            // Exactly 4 s is long enough.
            (
                vec![item(300 * S, Some("a")), item(400 * S, Some("a"))],
                150,
                vec![(None, 0, 0, 0, false), (None, 300, 300 * S, 0, false)],
                700 * S,
            ),
        ];
        for (n, (items, gap, want, total)) in cases.into_iter().enumerate() {
            let l = layout(&items, gap);
            let got: Vec<Row> = l
                .tracks
                .iter()
                .map(|p| (p.index0, p.index1, p.start, p.pad, p.padded_short))
                .collect();
            assert_eq!(got, want, "case {n}");
            assert_eq!(l.frames, total, "case {n}");
            // The spans tile the image, and each track is at least 4 s.
            let mut at = 0;
            for i in 0..l.tracks.len() {
                let span = l.track_span(i);
                assert_eq!(span.start, at, "case {n} track {i}");
                at = span.end;
                assert!(l.track_sectors(i) >= MIN_TRACK, "case {n} track {i}");
            }
            assert_eq!(at, l.sectors(), "case {n}");
        }
    }

    #[test]
    fn fit_counts_the_lead_pregap() {
        // 79:55 of audio plus the 2-second lead pregap is 79:57: it fits exactly.
        let frames = (79 * 60 + 55) * 75 * S;
        let l = layout(&[item(frames, Some("a"))], 150);
        assert_eq!(l.disc_sectors(), Media::Min80.sectors());
        let l = layout(&[item(frames + 1, Some("a"))], 150);
        assert_eq!(l.disc_sectors(), Media::Min80.sectors() + 1);
    }

    #[test]
    fn splits_on_album_boundaries() {
        let cap = Media::Min80.sectors();
        let album = |name: &str, minutes: &[u64]| -> Vec<Item> {
            minutes.iter().map(|m| item(m * MIN, Some(name))).collect()
        };
        type Case = (Vec<Item>, usize, Vec<(Range<usize>, bool)>);
        let cases: Vec<Case> = vec![
            // Everything fits.
            (album("a", &[10, 10, 10]), 99, vec![(0..3, false)]),
            // Three 40-minute albums: two discs, never cutting an album.
            (
                [
                    album("a", &[20, 20]),
                    album("b", &[20, 20]),
                    album("c", &[20, 20]),
                ]
                .concat(),
                99,
                vec![(0..2, false), (2..4, false), (4..6, false)],
            ),
            // 35 + 35 fit one disc with the gap; the third album goes on the next.
            (
                [album("a", &[35]), album("b", &[35]), album("c", &[35])].concat(),
                99,
                vec![(0..2, false), (2..3, false)],
            ),
            // A 100-minute album is cut between its tracks.
            (
                album("a", &[25, 25, 25, 25]),
                99,
                vec![(0..3, true), (3..4, false)],
            ),
            // The track limit splits too.
            (
                [album("a", &[1, 1, 1]), album("b", &[1, 1])].concat(),
                3,
                vec![(0..3, false), (3..5, false)],
            ),
        ];
        for (n, (items, max, want)) in cases.into_iter().enumerate() {
            let discs = split(&items, 150, cap, max).unwrap();
            let got: Vec<(Range<usize>, bool)> = discs
                .iter()
                .map(|d| (d.items.clone(), d.cuts_album))
                .collect();
            assert_eq!(got, want, "case {n}");
            for d in &discs {
                assert!(d.layout.disc_sectors() <= cap, "case {n}");
                assert!(d.items.len() <= max, "case {n}");
            }
        }
        assert_eq!(
            split(&[item(81 * MIN, Some("a"))], 150, cap, 99),
            Err(SplitError::TrackTooLong {
                index: 0,
                sectors: 81 * 60 * 75 + 150
            })
        );
    }
}
