//! The track model and the pure rules that turn raw tag text into it.
//!
//! Everything here is plain data and string handling: no files, no SQL, no audio crates. The tag
//! reader fills a [`RawTags`] with whatever text the file carries, and [`Track::from_raw`]
//! applies the rules every format shares (numbers written as "3/12", dates, ReplayGain values
//! written as "-6.50 dB", a title taken from the file name when the tag has none).

use serde::Serialize;

mod track;

pub use track::{
    FIELDS, Field, FieldDef, FieldType, Kind, LIST_SEPARATOR, MEMBERS, Member, Storage, Store,
    Stored, Track, Value,
};

/// The container formats the library indexes. The codec inside is recorded separately, because an
/// `.m4a` file may hold AAC or ALAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp3,
    Mp4,
    Adts,
    Wav,
    Flac,
    Aiff,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Mp3 => "mp3",
            Container::Mp4 => "mp4",
            Container::Adts => "adts",
            Container::Wav => "wav",
            Container::Flac => "flac",
            Container::Aiff => "aiff",
        }
    }

    pub fn parse(s: &str) -> Option<Container> {
        Some(match s {
            "mp3" => Container::Mp3,
            "mp4" => Container::Mp4,
            "adts" => Container::Adts,
            "wav" => Container::Wav,
            "flac" => Container::Flac,
            "aiff" => Container::Aiff,
            _ => return None,
        })
    }
}

/// The file name extensions the scanner considers music, lowercase. Anything else in a music
/// folder (covers, cue sheets, logs) is ignored without a message.
pub const MUSIC_EXTENSIONS: &[&str] = &[
    "mp3", "m4a", "m4b", "m4p", "mp4", "aac", "wav", "wave", "flac", "aif", "aiff", "aifc",
];

/// Whether a file name looks like a music file the scanner should read.
pub fn is_music_name(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let ext = &name[dot + 1..];
    MUSIC_EXTENSIONS
        .iter()
        .any(|known| ext.eq_ignore_ascii_case(known.as_bytes()))
}

/// Hidden entries: dot files and folders, which include the AppleDouble `._name` files macOS
/// leaves on foreign file systems.
pub fn is_hidden_name(name: &[u8]) -> bool {
    name.first() == Some(&b'.')
}

/// Tag text exactly as the reader found it, before any interpretation. Each field holds every value
/// the file carries for it, in file order, first tag type (the format's primary one) first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawTags {
    pub title: Vec<String>,
    pub artists: Vec<String>,
    pub album: Vec<String>,
    pub album_artist: Vec<String>,
    pub track: Vec<String>,
    pub track_total: Vec<String>,
    pub disc: Vec<String>,
    pub disc_total: Vec<String>,
    pub date: Vec<String>,
    pub genre: Vec<String>,
    pub composer: Vec<String>,
    pub compilation: Vec<String>,
    pub rg_track_gain: Vec<String>,
    pub rg_track_peak: Vec<String>,
    pub rg_album_gain: Vec<String>,
    pub rg_album_peak: Vec<String>,
    pub mb_track_id: Vec<String>,
    pub mb_album_id: Vec<String>,
}

impl RawTags {
    /// Every field, for walking them all.
    fn fields_mut(&mut self) -> [&mut Vec<String>; 18] {
        [
            &mut self.title,
            &mut self.artists,
            &mut self.album,
            &mut self.album_artist,
            &mut self.track,
            &mut self.track_total,
            &mut self.disc,
            &mut self.disc_total,
            &mut self.date,
            &mut self.genre,
            &mut self.composer,
            &mut self.compilation,
            &mut self.rg_track_gain,
            &mut self.rg_track_peak,
            &mut self.rg_album_gain,
            &mut self.rg_album_peak,
            &mut self.mb_track_id,
            &mut self.mb_album_id,
        ]
    }

    /// Fills the fields this tag lacks from a lesser tag of the same file (an ID3v1 or APE tag
    /// beside the ID3v2 one): a field this tag has is never added to, so a Latin-1 or
    /// 30-byte ID3v1 copy of an artist never becomes a second artist.
    pub fn fill_gaps(&mut self, mut other: RawTags) {
        for (mine, theirs) in self.fields_mut().into_iter().zip(other.fields_mut()) {
            if mine.is_empty() {
                *mine = std::mem::take(theirs);
            }
        }
    }
}

/// Audio properties as measured by the reader.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AudioProps {
    pub duration: f64,
    pub bitrate_kbps: Option<u32>,
    pub sample_rate: Option<u32>,
    pub bit_depth: Option<u8>,
    pub channels: Option<u8>,
    pub codec: String,
    pub container: Option<Container>,
    pub has_cover: bool,
}

/// Folds text for matching: Unicode decomposition with the combining marks dropped, then lower
/// case, so "Beyoncé", "BEYONCE" and "beyonce" are the same. Both the stored search columns and
/// the in-memory matcher use this one function, which is what keeps them in agreement.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A title made from a file name: a leading track number that matches the track's own
/// (`07 `, `07 - `, `07. `, `1-07 `, `107 ` on disc 1), as rippers name files, is left out, so the
/// title is not numbered twice where a template numbers it. A number that does not match the
/// track (`1999 Remaster`, or a file without a track number) stays.
pub fn title_from_stem(stem: &str, track: Option<u32>, disc: Option<u32>) -> String {
    let Some(track) = track else {
        return stem.to_string();
    };
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 4 {
        return stem.to_string();
    }
    let (number, mut rest) = stem.split_at(digits);
    let value: u32 = number.parse().unwrap_or(u32::MAX);
    let disc = disc.unwrap_or(1);
    let matches = if let Some(after) = rest.strip_prefix(['-', '.'])
        && after.bytes().next().is_some_and(|b| b.is_ascii_digit())
    {
        // `1-07`: disc, then track.
        let n = after.bytes().take_while(u8::is_ascii_digit).count();
        let ok = value == disc && after[..n].parse::<u32>().ok() == Some(track);
        rest = &after[n..];
        ok
    } else {
        value == track
            // `107`: disc 1, track 07.
            || (digits >= 3 && value == disc * 10u32.pow(digits as u32 - 1) + track && track < 100)
    };
    if !matches {
        return stem.to_string();
    }
    let title = rest
        .trim_start_matches([' ', '_', '.', '-', '\u{2013}', '\u{2014}'])
        .trim_start();
    if title.is_empty() || rest.len() == title.len() {
        // Nothing after the number, or no separator (`07Machines`): keep the name as it is.
        return stem.to_string();
    }
    title.to_string()
}

/// Text in Unicode's composed form (NFC), borrowed when it already is: names stored
/// decomposed (as macOS writes them) match a pattern typed composed.
pub fn nfc(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.nfc().collect())
    }
}

/// The separator used when several artists are shown as one string.
pub const ARTIST_JOIN: &str = "; ";

impl Track {
    /// Interprets raw tag text into the file part of a track (the rest stays default until the
    /// scan and the library fill it). `stem` is the file name without its extension, used as the
    /// title when the file has none.
    pub fn from_raw(raw: &RawTags, props: &AudioProps, stem: &str) -> Track {
        let (track, track_total_inline) = first_number_pair(&raw.track);
        let (disc, disc_total_inline) = first_number_pair(&raw.disc);
        let date = first_text(&raw.date);
        let mut t = Track {
            title: first_text(&raw.title).unwrap_or_else(|| title_from_stem(stem, track, disc)),
            album: first_text(&raw.album),
            albumartist: first_text(&raw.album_artist),
            track,
            tracktotal: first_number_pair(&raw.track_total).0.or(track_total_inline),
            disc,
            disctotal: first_number_pair(&raw.disc_total).0.or(disc_total_inline),
            year: date.as_deref().and_then(parse_year),
            date,
            genre: join_distinct(&raw.genre),
            composer: join_distinct(&raw.composer),
            compilation: raw.compilation.iter().any(|v| parse_bool(v)),
            duration: props.duration,
            bitrate: props.bitrate_kbps.filter(|&b| b > 0),
            sample_rate: props.sample_rate.filter(|&r| r > 0),
            bit_depth: props.bit_depth.filter(|&d| d > 0),
            channels: props.channels.filter(|&c| c > 0),
            codec: props.codec.clone(),
            format: format_name(props.container, &props.codec).to_string(),
            container: props
                .container
                .map(Container::as_str)
                .unwrap_or("unknown")
                .to_string(),
            has_cover: props.has_cover,
            rg_track_gain: raw.rg_track_gain.iter().find_map(|v| parse_gain(v)),
            rg_track_peak: raw.rg_track_peak.iter().find_map(|v| parse_peak(v)),
            rg_album_gain: raw.rg_album_gain.iter().find_map(|v| parse_gain(v)),
            rg_album_peak: raw.rg_album_peak.iter().find_map(|v| parse_peak(v)),
            mb_trackid: first_text(&raw.mb_track_id),
            mb_albumid: first_text(&raw.mb_album_id),
            ..Track::default()
        };
        t.set_artists(split_artists(&raw.artists));
        t
    }

    /// Sets the artists and the display string kept beside them ("A; B").
    pub fn set_artists(&mut self, artists: Vec<String>) {
        self.artist = (!artists.is_empty()).then(|| artists.join(ARTIST_JOIN));
        self.artists = artists;
    }
}

/// The format name users know a file by: the codec for MP4 and ADTS (AAC or ALAC), the
/// container otherwise (a WAV holds PCM, but people call it WAV).
pub fn format_name(container: Option<Container>, codec: &str) -> &str {
    match container {
        Some(Container::Mp4) | Some(Container::Adts) => codec,
        Some(c) => c.as_str(),
        None => "unknown",
    }
}

/// Trims a tag value and drops the NUL padding some writers leave in fixed-size fields.
fn clean(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || c == '\0')
}

fn first_text(values: &[String]) -> Option<String> {
    values
        .iter()
        .map(|v| clean(v))
        .find(|v| !v.is_empty())
        .map(str::to_string)
}

/// Joins several values of a single-valued field ("Rock", "Pop" -> "Rock; Pop"), dropping
/// empty values and repeats that appear because two tag types carry the same text.
fn join_distinct(values: &[String]) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for v in values.iter().map(|v| clean(v)) {
        if !v.is_empty() && !seen.contains(&v) {
            seen.push(v);
        }
    }
    (!seen.is_empty()).then(|| seen.join(ARTIST_JOIN))
}

/// Artists are kept as separate values. A value is split only on NUL (the ID3v2.4 separator some
/// readers pass through); "AC/DC" and "Simon & Garfunkel" are names, not lists.
fn split_artists(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        for part in value.split('\0').map(clean) {
            if !part.is_empty() && !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
    }
    out
}

/// Parses "3", "03", "3/12", " 3 / 12 ", "3 of 12" into (number, total). A zero means "not set"
/// in most writers, so it becomes `None`.
pub fn parse_number_pair(value: &str) -> (Option<u32>, Option<u32>) {
    let value = clean(value);
    let (left, right) = match value.split_once('/') {
        Some((l, r)) => (l, Some(r)),
        None => match value.to_ascii_lowercase().find(" of ") {
            Some(i) => (&value[..i], Some(&value[i + 4..])),
            None => (value, None),
        },
    };
    (leading_number(left), right.and_then(leading_number))
}

fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse::<u32>().ok().filter(|&n| n > 0)
}

fn first_number_pair(values: &[String]) -> (Option<u32>, Option<u32>) {
    let mut number = None;
    let mut total = None;
    for v in values {
        let (n, t) = parse_number_pair(v);
        number = number.or(n);
        total = total.or(t);
    }
    (number, total)
}

/// The year of a date written as "2001", "2001-05-04", "2001/05/04", "05/04/2001" or
/// "2001-05-04T12:00:00". Years outside 1000..=9999 are treated as garbage.
pub fn parse_year(date: &str) -> Option<i32> {
    let date = clean(date);
    let digit_runs = date
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == 4);
    for run in digit_runs {
        if let Ok(year) = run.parse::<i32>()
            && (1000..=9999).contains(&year)
        {
            return Some(year);
        }
    }
    None
}

/// Parses a ReplayGain gain value: "-6.50 dB", "+3.2dB", "-6,50 dB" (decimal comma).
pub fn parse_gain(value: &str) -> Option<f64> {
    let v = clean(value);
    let v = v
        .strip_suffix("dB")
        .or_else(|| v.strip_suffix("db"))
        .or_else(|| v.strip_suffix("DB"))
        .unwrap_or(v)
        .trim()
        .replace(',', ".");
    let gain: f64 = v.parse().ok()?;
    // A gain beyond +-100 dB is not a loudness adjustment anyone wrote on purpose.
    (gain.is_finite() && gain.abs() <= 100.0).then_some(gain)
}

/// Parses a ReplayGain peak, a linear sample amplitude where 1.0 is full scale.
pub fn parse_peak(value: &str) -> Option<f64> {
    let peak: f64 = clean(value).replace(',', ".").parse().ok()?;
    (peak.is_finite() && (0.0..=100.0).contains(&peak)).then_some(peak)
}

fn parse_bool(value: &str) -> bool {
    matches!(
        clean(value).to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "y"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_pairs() {
        let cases: &[(&str, (Option<u32>, Option<u32>))] = &[
            ("3", (Some(3), None)),
            ("03", (Some(3), None)),
            ("3/12", (Some(3), Some(12))),
            (" 3 / 12 ", (Some(3), Some(12))),
            ("3 of 12", (Some(3), Some(12))),
            ("0", (None, None)),
            ("0/0", (None, None)),
            ("/12", (None, Some(12))),
            ("A1", (None, None)),
            ("7\0", (Some(7), None)),
            ("", (None, None)),
            ("99999999999999", (None, None)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_number_pair(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn years() {
        let cases: &[(&str, Option<i32>)] = &[
            ("2001", Some(2001)),
            ("2001-05-04", Some(2001)),
            ("2001-05-04T12:00:00", Some(2001)),
            ("04/05/1999", Some(1999)),
            ("0000", None),
            ("unknown", None),
            ("20", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_year(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn gains_and_peaks() {
        assert_eq!(parse_gain("-6.50 dB"), Some(-6.5));
        assert_eq!(parse_gain("+3.2dB"), Some(3.2));
        assert_eq!(parse_gain("-6,50 dB"), Some(-6.5));
        assert_eq!(parse_gain("loud"), None);
        assert_eq!(parse_gain("NaN dB"), None);
        assert_eq!(parse_gain("-1e300 dB"), None);
        assert_eq!(parse_peak("0.988831"), Some(0.988831));
        assert_eq!(parse_peak("-1"), None);
    }

    #[test]
    fn raw_tags_become_a_track() {
        let raw = RawTags {
            title: vec!["".into(), " Song ".into()],
            artists: vec!["A".into(), "B\0C".into(), "A".into()],
            track: vec!["3/12".into()],
            disc: vec!["1".into()],
            disc_total: vec!["2".into()],
            date: vec!["2001-05-04".into()],
            genre: vec!["Rock".into(), "Rock".into(), "Pop".into()],
            compilation: vec!["1".into()],
            rg_track_gain: vec!["bogus".into(), "-6.50 dB".into()],
            ..RawTags::default()
        };
        let info = Track::from_raw(&raw, &AudioProps::default(), "stem");
        assert_eq!(info.title, "Song");
        assert_eq!(info.artists, vec!["A", "B", "C"]);
        assert_eq!(info.artist.clone().as_deref(), Some("A; B; C"));
        assert_eq!((info.track, info.tracktotal), (Some(3), Some(12)));
        assert_eq!((info.disc, info.disctotal), (Some(1), Some(2)));
        assert_eq!(info.year, Some(2001));
        assert_eq!(info.genre.as_deref(), Some("Rock; Pop"));
        assert!(info.compilation);
        assert_eq!(info.rg_track_gain, Some(-6.5));
        assert_eq!(info.container, "unknown");
        assert_eq!(format_name(Some(Container::Mp4), "alac"), "alac");
        assert_eq!(format_name(Some(Container::Adts), "aac"), "aac");
        assert_eq!(format_name(Some(Container::Aiff), "pcm"), "aiff");
    }

    #[test]
    fn a_title_from_a_file_name_loses_the_matching_track_number() {
        let cases: [(&str, Option<u32>, Option<u32>, &str); 12] = [
            ("07 Machines", Some(7), None, "Machines"),
            ("07 - Machines", Some(7), None, "Machines"),
            ("07. Machines", Some(7), None, "Machines"),
            ("7_Machines", Some(7), None, "Machines"),
            ("1-07 Machines", Some(7), Some(1), "Machines"),
            ("2-07 Machines", Some(7), Some(2), "Machines"),
            ("107 Machines", Some(7), Some(1), "Machines"),
            // Not the track's number, or no track: kept.
            ("08 Machines", Some(7), None, "08 Machines"),
            ("1999 Remaster", Some(3), None, "1999 Remaster"),
            ("07 Machines", None, None, "07 Machines"),
            ("07", Some(7), None, "07"),
            ("07Machines", Some(7), None, "07Machines"),
        ];
        for (stem, track, disc, want) in cases {
            assert_eq!(title_from_stem(stem, track, disc), want, "{stem:?}");
        }
    }

    #[test]
    fn missing_title_falls_back_to_the_file_stem() {
        let info = Track::from_raw(&RawTags::default(), &AudioProps::default(), "01 Intro");
        assert_eq!(info.title, "01 Intro");
        assert!(info.artists.is_empty());
        assert_eq!(info.artist.clone(), None);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Beyoncé"), "beyonce");
        assert_eq!(fold("BJÖRK"), "bjork");
        assert_eq!(fold("Ελληνικά"), "ελληνικα");
        assert_eq!(fold("ﬁne"), "fine");
        assert_eq!(fold("日本語"), "日本語");
    }

    #[test]
    fn names() {
        assert!(is_music_name(b"a.MP3"));
        assert!(is_music_name(b"x.y.flac"));
        assert!(!is_music_name(b"cover.jpg"));
        assert!(!is_music_name(b"mp3"));
        assert!(is_hidden_name(b"._song.mp3"));
        assert!(is_hidden_name(b".git"));
        assert!(!is_hidden_name(b"song.mp3"));
    }
}
