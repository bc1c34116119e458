//! MPD's tag names and the tapedeck fields behind them, and a track written as MPD's song block
//! (`file:`, `Last-Modified:`, `Format:`, the tags, `Time:`, `duration:`).
//!
//! MPD knows more tags than tapedeck keeps (Label, Performer, sort tags...). Every MPD name is
//! accepted (a client may name any), and a tag tapedeck never fills is simply absent on every
//! track, which is how MPD treats a tag no file carries. MPD's tag fallbacks apply: AlbumArtist
//! falls back to Artist, the sort tags to the tag they sort (AlbumArtistSort to AlbumArtist, then
//! Artist). Names compare ASCII case-insensitively, as MPD's `tag_name_parse_i` does.

use std::io::Write;
use std::sync::LazyLock;

use crate::model::{Field, Track, Value};
use crate::query::civil_ymd;

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
    let mut values = Vec::new();
    each_value(t, f, &mut |v| values.push(clean(v)));
    values
}

/// Hands each of a field's values to `each`, as they stand on the track (numbers in decimal,
/// empty values left out), without copying them: the one reading behind [`field_values`] and
/// [`write_song`].
fn each_value(t: &Track, f: Field, each: &mut dyn FnMut(&str)) {
    let mut non_empty = |v: &str| {
        if !v.is_empty() {
            each(v)
        }
    };
    let number = match f {
        Field::Track => Some(t.track),
        Field::Disc => Some(t.disc),
        _ => None,
    };
    match (number, f.get(t)) {
        (Some(n), _) => {
            if let Some(n) = n {
                let mut digits = [0u8; 10];
                let mut cursor = std::io::Cursor::new(&mut digits[..]);
                let _ = write!(cursor, "{n}");
                let len = cursor.position() as usize;
                non_empty(std::str::from_utf8(&digits[..len]).unwrap_or_default());
            }
        }
        // A library written before the artist list was kept has the joined artist only.
        (None, _) if f == Field::Artist && t.artists.is_empty() => {
            if let Some(a) = &t.artist {
                non_empty(a)
            }
        }
        (None, Value::Text(v)) => non_empty(v),
        (None, Value::List(list)) => list.iter().for_each(|v| non_empty(v)),
        (None, Value::Path(p)) => non_empty(&p.to_string_lossy()),
        (None, _) => {}
    }
}

/// Control characters (below U+0020) replaced by spaces, as MPD stores tag text, so a value
/// never breaks a protocol line.
pub fn clean(value: &str) -> String {
    let mut out = Vec::with_capacity(value.len());
    push_clean(&mut out, value);
    String::from_utf8(out).expect("only ASCII control bytes were replaced")
}

/// Appends `value` with its control characters made spaces (see [`clean`]). A byte below 0x20
/// is always a whole character in UTF-8, so replacing bytes keeps the text valid.
fn push_clean(out: &mut Vec<u8>, value: &str) {
    let start = out.len();
    out.extend_from_slice(value.as_bytes());
    for b in &mut out[start..] {
        if *b < b' ' {
            *b = b' ';
        }
    }
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

/// A unix time shown in ISO 8601, UTC, as MPD writes it: `2008-09-28T20:04:57Z`.
pub struct Iso8601(pub i64);

impl Iso8601 {
    /// The 20 bytes of the time, written by hand: song blocks carry two per song. `None` for a
    /// year outside 0 to 9999.
    fn bytes(&self) -> Option<[u8; 20]> {
        let (y, m, d) = civil_ymd(self.0);
        let t = self.0.rem_euclid(86_400);
        if !(0..=9999).contains(&y) {
            return None;
        }
        let mut b = *b"0000-00-00T00:00:00Z";
        let mut put = |at: usize, width: usize, mut n: i64| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, t / 3600);
        put(14, 2, t / 60 % 60);
        put(17, 2, t % 60);
        Some(b)
    }

    fn push(&self, out: &mut Vec<u8>) {
        match self.bytes() {
            Some(b) => out.extend_from_slice(&b),
            None => {
                let _ = write!(out, "{self}");
            }
        }
    }
}

impl std::fmt::Display for Iso8601 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(b) = self.bytes() {
            return f.write_str(std::str::from_utf8(&b).expect("ASCII"));
        }
        let (y, m, d) = civil_ymd(self.0);
        let t = self.0.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            t / 3600,
            t / 60 % 60,
            t % 60
        )
    }
}

/// MPD's audio format string, `RATE:BITS:CHANNELS`, or `None` when the rate or channels are not
/// known (MPD then prints no `Format` line). Integer depths are given as the sample format MPD
/// decodes them to (8, 16, 24 or 32 bits); a track without one (lossy formats, which MPD decodes
/// to floating point) is `f`.
pub fn audio_format(t: &Track) -> Option<AudioFormat> {
    let rate = t.sample_rate.filter(|&r| r > 0)?;
    let channels = t.channels.filter(|&c| c > 0)?;
    let bits = match t.bit_depth {
        None | Some(0) => "f",
        Some(b) if b <= 8 => "8",
        Some(b) if b <= 16 => "16",
        Some(b) if b <= 24 => "24",
        Some(_) => "32",
    };
    Some(AudioFormat {
        rate,
        bits,
        channels,
    })
}

/// A track's audio format as MPD shows it (see [`audio_format`]).
pub struct AudioFormat {
    rate: u32,
    bits: &'static str,
    channels: u8,
}

impl std::fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.rate, self.bits, self.channels)
    }
}

/// The track members a song block reads (see [`write_song`]): what a listing of many songs
/// asks the library for instead of whole rows.
pub static SONG_MEMBERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut names = vec![
        "path",
        "mtime",
        "added_at",
        "sample_rate",
        "bit_depth",
        "channels",
        "duration",
        // The joined artist, for a library written before the artist list was kept.
        "artist",
    ];
    names.extend(PRINTED.iter().filter_map(|t| t.fields()[0].member()));
    names
});

/// Writes a track as MPD's song block (`song_print_info`): `file`, `Last-Modified`, `Added`,
/// `Format`, the tags in MPD's order (one line per value), `Time` (whole seconds, rounded)
/// and `duration` (three decimals). `uri` comes from [`super::uri::Roots::uri_of`], which
/// never holds a line break. Times of 0 (never set) are left out.
pub fn write_song(out: &mut Vec<u8>, uri: &str, t: &Track) {
    // Writing to a Vec cannot fail.
    let _ = writeln!(out, "file: {uri}");
    if t.mtime > 0 {
        out.extend_from_slice(b"Last-Modified: ");
        Iso8601(t.mtime).push(out);
        out.push(b'\n');
    }
    if t.added_at > 0 {
        out.extend_from_slice(b"Added: ");
        Iso8601(t.added_at).push(out);
        out.push(b'\n');
    }
    if let Some(format) = audio_format(t) {
        let _ = writeln!(out, "Format: {format}");
    }
    for &tag in PRINTED {
        let name = tag.name().as_bytes();
        each_value(t, tag.fields()[0], &mut |value| {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            push_clean(out, value);
            out.push(b'\n');
        });
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

    #[test]
    fn a_song_block_needs_only_the_song_members() {
        use crate::db::{FileRecord, Library, Members};
        let mut lib = Library::empty().unwrap();
        let full = Track {
            path: "/music/B/Halo.flac".into(),
            size: 1234,
            bitrate: Some(900),
            ..track()
        };
        lib.write(|w| w.insert_track(&FileRecord::new([1; 16], full.clone()), full.added_at))
            .unwrap();
        let read = |members| {
            let mut found = Vec::new();
            lib.for_each_track_under(None, members, |t| {
                found.push(t);
                Ok(())
            })
            .unwrap()
            .unwrap();
            assert_eq!(found.len(), 1);
            found.pop().unwrap()
        };
        let whole = read(Members::All);
        let some = read(Members::Only(&SONG_MEMBERS));
        assert_eq!(block(&some), block(&whole));
        assert!(block(&whole).contains("Artist: Jay-Z\nAlbum: I Am..."));
        // What the song block does not show is not read.
        assert_eq!((whole.bitrate, some.bitrate), (Some(900), None));
        assert_eq!((whole.size, some.size), (1234, 0));
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
                audio_format(&t).map(|f| f.to_string()).as_deref(),
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
        assert_eq!(Iso8601(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Iso8601(1_222_632_297).to_string(), "2008-09-28T20:04:57Z");
        assert_eq!(Iso8601(253_402_300_799).to_string(), "9999-12-31T23:59:59Z");
        assert_eq!(
            Iso8601(253_402_300_800).to_string(),
            "10000-01-01T00:00:00Z"
        );
        assert_eq!(Iso8601(-1).to_string(), "1969-12-31T23:59:59Z");
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
