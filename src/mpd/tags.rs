//! MPD's tag names and the tapedeck fields behind them, and a track written as MPD's song block
//! (`file:`, `Last-Modified:`, `Format:`, the tags, `Time:`, `duration:`).
//!
//! MPD knows more tags than tapedeck keeps (Label, Performer, sort tags...). Every MPD name is
//! accepted (a client may name any), and a tag tapedeck never fills is simply absent on every
//! track, which is how MPD treats a tag no file carries. MPD's tag fallbacks apply: AlbumArtist
//! falls back to Artist, the sort tags to the tag they sort (AlbumArtistSort to AlbumArtist, then
//! Artist). Names compare ASCII case-insensitively, as MPD's `tag_name_parse_i` does.

use std::io::Write;

use crate::model::{Field, Track};
use crate::query::{civil_date, text_values};

/// Every tag MPD knows, in MPD's order (its `TagType` enum, which is also the order it lists
/// them in `tagtypes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagType {
    Artist,
    ArtistSort,
    Album,
    AlbumSort,
    AlbumArtist,
    AlbumArtistSort,
    Title,
    TitleSort,
    Track,
    Name,
    Genre,
    Mood,
    Date,
    OriginalDate,
    Composer,
    ComposerSort,
    Performer,
    Conductor,
    Work,
    Movement,
    MovementNumber,
    ShowMovement,
    Ensemble,
    Location,
    Grouping,
    Comment,
    Disc,
    Label,
    MusicBrainzArtistId,
    MusicBrainzAlbumId,
    MusicBrainzAlbumArtistId,
    MusicBrainzTrackId,
    MusicBrainzReleaseTrackId,
    MusicBrainzWorkId,
}

use TagType as T;

/// Each tag: its protocol name and the tapedeck fields it reads, in fallback order (the first
/// field that has a value on a track gives the tag's values; empty: tapedeck never has it).
const TAGS: &[(TagType, &str, &[Field])] = &[
    (T::Artist, "Artist", &[Field::Artist]),
    (T::ArtistSort, "ArtistSort", &[Field::Artist]),
    (T::Album, "Album", &[Field::Album]),
    (T::AlbumSort, "AlbumSort", &[Field::Album]),
    (
        T::AlbumArtist,
        "AlbumArtist",
        &[Field::AlbumArtist, Field::Artist],
    ),
    (
        T::AlbumArtistSort,
        "AlbumArtistSort",
        &[Field::AlbumArtist, Field::Artist],
    ),
    (T::Title, "Title", &[Field::Title]),
    (T::TitleSort, "TitleSort", &[Field::Title]),
    (T::Track, "Track", &[Field::Track]),
    (T::Name, "Name", &[]),
    (T::Genre, "Genre", &[Field::Genre]),
    (T::Mood, "Mood", &[]),
    (T::Date, "Date", &[Field::Date]),
    (T::OriginalDate, "OriginalDate", &[]),
    (T::Composer, "Composer", &[Field::Composer]),
    (T::ComposerSort, "ComposerSort", &[Field::Composer]),
    (T::Performer, "Performer", &[]),
    (T::Conductor, "Conductor", &[]),
    (T::Work, "Work", &[]),
    (T::Movement, "Movement", &[]),
    (T::MovementNumber, "MovementNumber", &[]),
    (T::ShowMovement, "ShowMovement", &[]),
    (T::Ensemble, "Ensemble", &[]),
    (T::Location, "Location", &[]),
    (T::Grouping, "Grouping", &[]),
    (T::Comment, "Comment", &[]),
    (T::Disc, "Disc", &[Field::Disc]),
    (T::Label, "Label", &[]),
    (T::MusicBrainzArtistId, "MUSICBRAINZ_ARTISTID", &[]),
    (
        T::MusicBrainzAlbumId,
        "MUSICBRAINZ_ALBUMID",
        &[Field::MbAlbumId],
    ),
    (
        T::MusicBrainzAlbumArtistId,
        "MUSICBRAINZ_ALBUMARTISTID",
        &[],
    ),
    (
        T::MusicBrainzTrackId,
        "MUSICBRAINZ_TRACKID",
        &[Field::MbTrackId],
    ),
    (
        T::MusicBrainzReleaseTrackId,
        "MUSICBRAINZ_RELEASETRACKID",
        &[],
    ),
    (T::MusicBrainzWorkId, "MUSICBRAINZ_WORKID", &[]),
];

/// The tags a song block can carry: the ones tapedeck fills itself (not through a fallback), in
/// MPD's order. This is what `tagtypes` lists.
const PRINTED: &[TagType] = &[
    T::Artist,
    T::Album,
    T::AlbumArtist,
    T::Title,
    T::Track,
    T::Genre,
    T::Date,
    T::Composer,
    T::Disc,
    T::MusicBrainzAlbumId,
    T::MusicBrainzTrackId,
];

impl TagType {
    /// Every tag MPD knows, in MPD's order.
    pub fn all() -> impl Iterator<Item = TagType> {
        TAGS.iter().map(|(t, _, _)| *t)
    }

    fn entry(self) -> &'static (TagType, &'static str, &'static [Field]) {
        TAGS.iter()
            .find(|(t, _, _)| *t == self)
            .expect("every tag is listed")
    }

    /// The tag a protocol name names, in any ASCII case.
    pub fn parse(name: &str) -> Option<TagType> {
        TAGS.iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(name))
            .map(|(t, _, _)| *t)
    }

    /// The protocol name, as MPD spells it in answers.
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The tapedeck fields the tag reads, in fallback order; empty when tapedeck never has it.
    pub fn fields(self) -> &'static [Field] {
        self.entry().2
    }

    /// The field to sort by for this tag (the first it reads).
    pub fn sort_field(self) -> Option<Field> {
        self.fields().first().copied()
    }

    /// Whether tapedeck keeps the tag as a number (Track, Disc): compared as numbers.
    pub fn is_number(self) -> bool {
        matches!(self, T::Track | T::Disc)
    }

    /// The tag's values on a track, fallbacks applied (what `list` and `count group` collect):
    /// the values of the first field that has any. Control characters are made spaces.
    pub fn values(self, t: &Track) -> Vec<String> {
        self.fields()
            .iter()
            .map(|&f| field_values(t, f))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    }
}

/// A field's values as MPD text: numbers in decimal, text with control characters made spaces
/// (MPD's `FixTagString`), empty values left out.
fn field_values(t: &Track, f: Field) -> Vec<String> {
    match f {
        Field::Track => t.track.map(|n| n.to_string()).into_iter().collect(),
        Field::Disc => t.disc.map(|n| n.to_string()).into_iter().collect(),
        Field::Artist if t.artists.is_empty() => t
            .artist
            .iter()
            .filter(|a| !a.is_empty())
            .map(|a| clean(a))
            .collect(),
        _ => text_values(t, f).iter().map(|v| clean(v)).collect(),
    }
}

/// Control characters (below U+0020) replaced by spaces, as MPD stores tag text, so a value
/// never breaks a protocol line.
pub fn clean(value: &str) -> String {
    // Most values hold no control character: copied as they are.
    if !value.bytes().any(|b| b < b' ') {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| if c < ' ' { ' ' } else { c })
        .collect()
}

/// The tag names `tagtypes` lists: the ones a song block can carry.
pub fn tag_types() -> &'static [&'static str] {
    const NAMES: &[&str] = &[
        "Artist",
        "Album",
        "AlbumArtist",
        "Title",
        "Track",
        "Genre",
        "Date",
        "Composer",
        "Disc",
        "MUSICBRAINZ_ALBUMID",
        "MUSICBRAINZ_TRACKID",
    ];
    NAMES
}

/// An ISO 8601 time in UTC as MPD writes it: `2008-09-28T20:04:57Z`.
pub fn iso8601(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        civil_date(secs),
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// MPD's audio format string, `RATE:BITS:CHANNELS`, or `None` when the rate or channels are not
/// known (MPD then prints no `Format` line). Integer depths are given as the sample format MPD
/// decodes them to (8, 16, 24 or 32 bits); a track without one (lossy formats, which MPD decodes
/// to floating point) is `f`.
pub fn audio_format(t: &Track) -> Option<String> {
    let rate = t.sample_rate.filter(|&r| r > 0)?;
    let channels = t.channels.filter(|&c| c > 0)?;
    let bits = match t.bit_depth {
        None | Some(0) => "f".to_string(),
        Some(b) if b <= 8 => "8".into(),
        Some(b) if b <= 16 => "16".into(),
        Some(b) if b <= 24 => "24".into(),
        Some(_) => "32".into(),
    };
    Some(format!("{rate}:{bits}:{channels}"))
}

/// Writes a track as MPD's song block (`song_print_info`): `file`, `Last-Modified`, `Added`,
/// `Format`, the tags in MPD's order (one line per value), `Time` (whole seconds, rounded)
/// and `duration` (three decimals). `uri` comes from [`super::uri::Roots::uri_of`], which
/// never holds a line break. Times of 0 (never set) are left out.
pub fn write_song(out: &mut Vec<u8>, uri: &str, t: &Track) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(out, "file: {uri}");
    if t.mtime > 0 {
        let _ = writeln!(out, "Last-Modified: {}", iso8601(t.mtime));
    }
    if t.added_at > 0 {
        let _ = writeln!(out, "Added: {}", iso8601(t.added_at));
    }
    if let Some(format) = audio_format(t) {
        let _ = writeln!(out, "Format: {format}");
    }
    for &tag in PRINTED {
        let field = tag.fields()[0];
        for value in field_values(t, field) {
            let _ = writeln!(out, "{}: {value}", tag.name());
        }
    }
    if t.duration.is_finite() && t.duration >= 0.0 {
        // MPD keeps durations in milliseconds and rounds to whole seconds from there.
        let ms = (t.duration * 1000.0).round() as u64;
        let _ = writeln!(
            out,
            "Time: {}\nduration: {}.{:03}",
            (ms + 500) / 1000,
            ms / 1000,
            ms % 1000
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_round_trip() {
        let cases = [
            ("artist", Some(T::Artist)),
            ("ARTIST", Some(T::Artist)),
            ("AlbumArtist", Some(T::AlbumArtist)),
            ("albumartistsort", Some(T::AlbumArtistSort)),
            ("musicbrainz_trackid", Some(T::MusicBrainzTrackId)),
            (
                "MUSICBRAINZ_RELEASETRACKID",
                Some(T::MusicBrainzReleaseTrackId),
            ),
            ("label", Some(T::Label)),
            ("originaldate", Some(T::OriginalDate)),
            ("album_artist", None),
            ("file", None),
            ("any", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(TagType::parse(name), want, "{name:?}");
        }
        for t in TagType::all() {
            assert_eq!(TagType::parse(t.name()), Some(t));
            assert_eq!(TagType::parse(&t.name().to_lowercase()), Some(t));
        }
        assert_eq!(TagType::all().count(), 34);
    }

    #[test]
    fn tagtypes_lists_exactly_the_printed_tags_in_mpds_order() {
        let printed: Vec<&str> = PRINTED.iter().map(|t| t.name()).collect();
        assert_eq!(tag_types(), printed.as_slice());
        let order: Vec<usize> = PRINTED
            .iter()
            .map(|p| TagType::all().position(|t| t == *p).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        for t in PRINTED {
            assert_eq!(t.fields().len(), 1 + usize::from(*t == T::AlbumArtist));
        }
    }

    fn track() -> Track {
        Track {
            title: "Halo".into(),
            artist: Some("Beyoncé; Jay-Z".into()),
            artists: vec!["Beyoncé".into(), "Jay-Z".into()],
            album: Some("I Am...".into()),
            albumartist: None,
            track: Some(3),
            disc: Some(1),
            date: Some("2008-11-14".into()),
            genre: Some("R&B".into()),
            composer: Some("Ryan Tedder".into()),
            mb_trackid: Some("abc-123".into()),
            duration: 261.4996,
            sample_rate: Some(44100),
            bit_depth: Some(16),
            channels: Some(2),
            mtime: 1_704_164_645,
            added_at: 1_704_200_000,
            ..Track::default()
        }
    }

    fn block(t: &Track) -> String {
        let mut out = Vec::new();
        write_song(&mut out, "Music/B/Halo.flac", t);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_song_block_is_written_as_mpd_writes_it() {
        assert_eq!(
            block(&track()),
            "file: Music/B/Halo.flac\n\
             Last-Modified: 2024-01-02T03:04:05Z\n\
             Added: 2024-01-02T12:53:20Z\n\
             Format: 44100:16:2\n\
             Artist: Beyoncé\n\
             Artist: Jay-Z\n\
             Album: I Am...\n\
             Title: Halo\n\
             Track: 3\n\
             Genre: R&B\n\
             Date: 2008-11-14\n\
             Composer: Ryan Tedder\n\
             Disc: 1\n\
             MUSICBRAINZ_TRACKID: abc-123\n\
             Time: 262\n\
             duration: 261.500\n"
        );
    }

    #[test]
    fn formats_times_and_durations_follow_mpd() {
        /// Rate, bits, channels, and the format string.
        type Case = (Option<u32>, Option<u8>, Option<u8>, Option<&'static str>);
        let cases: &[Case] = &[
            (Some(44100), Some(16), Some(2), Some("44100:16:2")),
            (Some(96000), Some(24), Some(2), Some("96000:24:2")),
            (Some(48000), Some(20), Some(6), Some("48000:24:6")),
            (Some(44100), Some(32), Some(1), Some("44100:32:1")),
            (Some(8000), Some(8), Some(1), Some("8000:8:1")),
            (Some(44100), None, Some(2), Some("44100:f:2")),
            (None, Some(16), Some(2), None),
            (Some(44100), Some(16), None, None),
            (Some(0), Some(16), Some(2), None),
        ];
        for &(rate, bits, channels, want) in cases {
            let t = Track {
                sample_rate: rate,
                bit_depth: bits,
                channels,
                ..Track::default()
            };
            assert_eq!(
                audio_format(&t).as_deref(),
                want,
                "{rate:?} {bits:?} {channels:?}"
            );
        }
        let durations = [
            (215.123, "Time: 215\nduration: 215.123\n"),
            (215.5, "Time: 216\nduration: 215.500\n"),
            (0.4994, "Time: 0\nduration: 0.499\n"),
            (59.9996, "Time: 60\nduration: 60.000\n"),
        ];
        for (d, want) in durations {
            let t = Track {
                duration: d,
                ..Track::default()
            };
            assert!(block(&t).ends_with(want), "{d}: {}", block(&t));
        }
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_222_632_297), "2008-09-28T20:04:57Z");
        // Times never set are left out.
        let bare = block(&Track::default());
        assert!(
            !bare.contains("Last-Modified") && !bare.contains("Added"),
            "{bare}"
        );
    }

    #[test]
    fn values_never_break_a_line() {
        let t = Track {
            title: "two\nlines\r\tand\u{1}more".into(),
            artists: vec!["A\nB".into()],
            album: Some("ok\u{7f}é".into()),
            ..Track::default()
        };
        let out = block(&t);
        assert!(out.contains("Title: two lines  and more\n"), "{out}");
        assert!(out.contains("Artist: A B\n"), "{out}");
        assert!(out.contains("Album: ok\u{7f}é\n"), "{out}");
        for line in out.lines() {
            assert!(line.contains(": "), "{line:?}");
        }
    }

    #[test]
    fn empty_and_missing_values_are_left_out() {
        let t = Track {
            title: String::new(),
            artists: vec![String::new(), "X".into()],
            album: Some(String::new()),
            ..Track::default()
        };
        let out = block(&t);
        assert!(!out.contains("Title:") && !out.contains("Album:"), "{out}");
        assert_eq!(out.matches("Artist:").count(), 1, "{out}");
    }

    #[test]
    fn values_apply_mpds_fallbacks() {
        let mut t = track();
        let cases = [
            (T::AlbumArtist, vec!["Beyoncé", "Jay-Z"]),
            (T::AlbumArtistSort, vec!["Beyoncé", "Jay-Z"]),
            (T::ArtistSort, vec!["Beyoncé", "Jay-Z"]),
            (T::AlbumSort, vec!["I Am..."]),
            (T::Track, vec!["3"]),
            (T::Label, vec![]),
            (T::OriginalDate, vec![]),
        ];
        for (tag, want) in &cases {
            assert_eq!(&tag.values(&t), want, "{tag:?}");
        }
        t.albumartist = Some("Beyoncé".into());
        assert_eq!(T::AlbumArtist.values(&t), vec!["Beyoncé"]);
        assert_eq!(T::AlbumArtistSort.values(&t), vec!["Beyoncé"]);
        // A display artist without the list still counts.
        let old = Track {
            artist: Some("Solo".into()),
            ..Track::default()
        };
        assert_eq!(T::Artist.values(&old), vec!["Solo"]);
    }
}
