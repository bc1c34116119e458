//! The one track type and its field list.
//!
//! Every field is declared once, in the `track_fields!` list below: that one entry makes
//! the struct member (whose name is also the JSON key and the stored column), the query and
//! template name with its aliases and kind, the value the matcher, templates and the database
//! read, and the conversion a stored row goes back through. Adding a field is one entry there;
//! the database adds a missing column for it when it opens a library. Pure: no I/O, no SQL.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// How a field's values are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Text with several values per track.
    MultiText,
    Number,
    /// Seconds, written `270`, `4:30` or `1:02:03`.
    Duration,
    /// Kilobits per second, written `192`, `192k` or `192000`.
    Bitrate,
    /// Unix seconds, written as dates or relative spans.
    Date,
    Bool,
}

/// Where a member's value lives and who sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The row id.
    Key,
    /// A column a scan sets from the file (and rewrites when the file changes or moves).
    File,
    /// A column the library keeps across rescans and moves (history, rating, date added).
    Library,
    /// A column `analyze` sets from the decoded audio (loudness, integrity): kept across
    /// rescans, retags and moves, and cleared when the audio itself changes (a new audio
    /// fingerprint), since it describes that audio.
    Analysis,
    /// Not a column of its own: kept beside the row (the list of artists).
    Beside,
}

/// A member's value, borrowed from the track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Missing,
    Int(i64),
    Real(f64),
    Bool(bool),
    Text(&'a str),
    List(&'a [String]),
    Path(&'a Path),
}

/// A value as storage hands it back, before it is converted to the member's type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

/// What a column of a member's type holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Int,
    Real,
    Text,
    /// File-system path bytes (text when they are UTF-8).
    Path,
}

/// The types a track member can have: how each shows as a [`Value`] and comes back from
/// storage. `None` from `from_stored` means the stored value does not fit the type.
pub trait FieldType: Sized {
    /// The column type, and whether the column may be NULL.
    const STORAGE: (Storage, bool);
    fn value(&self) -> Value<'_>;
    fn from_stored(v: Stored<'_>) -> Option<Self>;
}

fn int_of(v: Stored<'_>) -> Option<i64> {
    match v {
        Stored::Int(i) => Some(i),
        Stored::Real(r) if r.fract() == 0.0 => Some(r as i64),
        _ => None,
    }
}

macro_rules! int_types {
    ($($t:ty),*) => {$(
        impl FieldType for $t {
            const STORAGE: (Storage, bool) = (Storage::Int, false);
            fn value(&self) -> Value<'_> {
                Value::Int(i64::from(*self))
            }
            fn from_stored(v: Stored<'_>) -> Option<Self> {
                int_of(v).and_then(|i| <$t>::try_from(i).ok())
            }
        }
        impl FieldType for Option<$t> {
            const STORAGE: (Storage, bool) = (Storage::Int, true);
            fn value(&self) -> Value<'_> {
                self.map_or(Value::Missing, |v| Value::Int(i64::from(v)))
            }
            fn from_stored(v: Stored<'_>) -> Option<Self> {
                match v {
                    Stored::Null => Some(None),
                    v => int_of(v).and_then(|i| <$t>::try_from(i).ok()).map(Some),
                }
            }
        }
    )*};
}
int_types!(i64, i32, u32, u8);

impl FieldType for bool {
    const STORAGE: (Storage, bool) = (Storage::Int, false);
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        int_of(v).map(|i| i != 0)
    }
}

impl FieldType for f64 {
    const STORAGE: (Storage, bool) = (Storage::Real, false);
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        match v {
            Stored::Real(r) => Some(r),
            Stored::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}

impl FieldType for Option<f64> {
    const STORAGE: (Storage, bool) = (Storage::Real, true);
    fn value(&self) -> Value<'_> {
        self.map_or(Value::Missing, Value::Real)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        match v {
            Stored::Null => Some(None),
            v => f64::from_stored(v).map(Some),
        }
    }
}

impl FieldType for String {
    const STORAGE: (Storage, bool) = (Storage::Text, false);
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        match v {
            Stored::Text(s) => Some(s.to_string()),
            _ => None,
        }
    }
}

impl FieldType for Option<String> {
    const STORAGE: (Storage, bool) = (Storage::Text, true);
    fn value(&self) -> Value<'_> {
        self.as_deref().map_or(Value::Missing, Value::Text)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        match v {
            Stored::Null => Some(None),
            v => String::from_stored(v).map(Some),
        }
    }
}

/// The separator a stored list is joined with (it never occurs in tag text the model keeps).
pub const LIST_SEPARATOR: char = '\u{1f}';

impl FieldType for Vec<String> {
    const STORAGE: (Storage, bool) = (Storage::Text, true);
    fn value(&self) -> Value<'_> {
        Value::List(self)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        match v {
            Stored::Null => Some(Vec::new()),
            Stored::Text(s) => Some(s.split(LIST_SEPARATOR).map(str::to_string).collect()),
            _ => None,
        }
    }
}

impl FieldType for PathBuf {
    const STORAGE: (Storage, bool) = (Storage::Path, false);
    fn value(&self) -> Value<'_> {
        Value::Path(self)
    }
    fn from_stored(v: Stored<'_>) -> Option<Self> {
        use std::os::unix::ffi::OsStrExt;
        match v {
            Stored::Text(s) => Some(PathBuf::from(s)),
            Stored::Bytes(b) => Some(PathBuf::from(std::ffi::OsStr::from_bytes(b))),
            _ => None,
        }
    }
}

/// One member of [`Track`]: its name (the JSON key and the stored column), where it lives, its
/// column type, and how it is read and set.
pub struct Member {
    pub name: &'static str,
    pub store: Store,
    pub storage: (Storage, bool),
    pub get: fn(&Track) -> Value<'_>,
    /// Sets the member from a stored value; `false` when the value does not fit its type.
    pub set: fn(&mut Track, Stored<'_>) -> bool,
}

/// A field that queries, sorting and templates can name.
pub struct FieldDef {
    pub field: Field,
    /// The query and template name.
    pub name: &'static str,
    /// Other spellings accepted for it (the JSON key is always one).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    /// The member it reads, when it is one (`None` for a value computed from several).
    pub member: Option<&'static str>,
    pub get: fn(&Track) -> Value<'_>,
}

macro_rules! track_fields {
    (
        computed {
            $( $cvariant:ident $cname:literal [$($calias:literal),*] $ckind:ident = $cget:expr ; )*
        }
        $(
            $(#[$meta:meta])*
            $member:ident : $ty:ty, $store:ident
                $(=> $variant:ident $name:literal [$($alias:literal),*] $kind:ident)? ;
        )*
    ) => {
        /// A track: what the file says (tags and stream facts), where it is, and what the library
        /// knows beyond the file (identity, date added, listening history). A scan fills the file
        /// part; the library stores and returns all of it.
        #[derive(Debug, Clone, Default, PartialEq, Serialize)]
        pub struct Track {
            $( $(#[$meta])* pub $member: $ty, )*
        }

        /// A field that queries, sorting and templates can name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field {
            $( $( $variant, )? )*
            $( $cvariant, )*
        }

        /// Every member of [`Track`], in declaration order.
        pub const MEMBERS: &[Member] = &[
            $( Member {
                name: stringify!($member),
                store: Store::$store,
                storage: <$ty as FieldType>::STORAGE,
                get: |t| FieldType::value(&t.$member),
                set: |t, v| match FieldType::from_stored(v) {
                    Some(value) => {
                        t.$member = value;
                        true
                    }
                    None => false,
                },
            }, )*
        ];

        /// Every field with its query name, aliases and kind.
        pub const FIELDS: &[FieldDef] = &[
            $( $( FieldDef {
                field: Field::$variant,
                name: $name,
                aliases: &[$($alias,)* stringify!($member)],
                kind: Kind::$kind,
                member: Some(stringify!($member)),
                get: |t| FieldType::value(&t.$member),
            }, )? )*
            $( FieldDef {
                field: Field::$cvariant,
                name: $cname,
                aliases: &[$($calias),*],
                kind: Kind::$ckind,
                member: None,
                get: $cget,
            }, )*
        ];
    };
}

track_fields! {
    // Fields computed from several members.
    computed {
        ReplayGain "replaygain" [] Bool = |t| {
            Value::Bool(t.rg_track_gain.is_some() || t.rg_album_gain.is_some())
        };
        Analysed "analysed" ["analyzed"] Bool = |t| Value::Bool(t.analysed_at.is_some());
        Integrity "integrity" [] Text = |t| Value::Text(t.integrity());
    }
    // member: type, where it lives => query field, name, [aliases], kind.
    id: i64, Key => Id "id" [] Number;
    #[serde(skip)]
    path: PathBuf, File => Path "path" [] Text;
    title: String, File => Title "title" [] Text;
    /// Every credited artist joined for display ("A; B"); `None` when the file names none.
    artist: Option<String>, File;
    /// Every credited artist, in tag order.
    artists: Vec<String>, Beside => Artist "artist" [] MultiText;
    album: Option<String>, File => Album "album" [] Text;
    albumartist: Option<String>, File => AlbumArtist "albumartist" ["album_artist"] Text;
    track: Option<u32>, File => Track "track" ["tracknumber"] Number;
    tracktotal: Option<u32>, File => TrackTotal "tracktotal" ["track_total"] Number;
    disc: Option<u32>, File => Disc "disc" ["discnumber"] Number;
    disctotal: Option<u32>, File => DiscTotal "disctotal" ["disc_total"] Number;
    year: Option<i32>, File => Year "year" [] Number;
    date: Option<String>, File => Date "date" [] Text;
    genre: Option<String>, File => Genre "genre" [] Text;
    composer: Option<String>, File => Composer "composer" [] Text;
    compilation: bool, File => Compilation "compilation" ["comp"] Bool;
    duration: f64, File => Length "length" [] Duration;
    bitrate: Option<u32>, File => Bitrate "bitrate" [] Bitrate;
    sample_rate: Option<u32>, File => SampleRate "samplerate" [] Number;
    bit_depth: Option<u8>, File => BitDepth "bitdepth" [] Number;
    channels: Option<u8>, File => Channels "channels" [] Number;
    codec: String, File => Codec "codec" [] Text;
    /// The format as users name it: mp3, aac, alac, flac, wav or aiff.
    format: String, File => Format "format" [] Text;
    container: String, File => Container "container" [] Text;
    has_cover: bool, File => Cover "cover" [] Bool;
    rg_track_gain: Option<f64>, File => RgTrackGain "rg_track_gain" [] Number;
    rg_track_peak: Option<f64>, File => RgTrackPeak "rg_track_peak" [] Number;
    rg_album_gain: Option<f64>, File => RgAlbumGain "rg_album_gain" [] Number;
    rg_album_peak: Option<f64>, File => RgAlbumPeak "rg_album_peak" [] Number;
    mb_trackid: Option<String>, File => MbTrackId "mb_trackid" ["mb_track_id"] Text;
    mb_albumid: Option<String>, File => MbAlbumId "mb_albumid" ["mb_album_id"] Text;
    size: i64, File => Size "size" [] Number;
    mtime: i64, File => Modified "mtime" [] Date;
    added_at: i64, Library => Added "added" [] Date;
    plays: u32, Library => Plays "plays" ["play_count"] Number;
    skips: u32, Library => Skips "skips" ["skip_count"] Number;
    last_played: Option<i64>, Library => Played "played" [] Date;
    rating: Option<u8>, Library => Rating "rating" [] Number;
    /// When `analyze` last decoded the track (`None`: never, or the audio changed since).
    analysed_at: Option<i64>, Analysis => AnalysedAt "analysed_at" ["analyzed_at"] Date;
    /// Integrated loudness, LUFS (ITU-R BS.1770-4 / EBU R128).
    loudness: Option<f64>, Analysis => Loudness "loudness" [] Number;
    /// Loudness range, LU (EBU Tech 3342).
    lra: Option<f64>, Analysis => Lra "lra" [] Number;
    /// True peak, dBTP.
    truepeak: Option<f64>, Analysis => TruePeak "truepeak" [] Number;
    /// Sample peak, dBFS.
    samplepeak: Option<f64>, Analysis => SamplePeak "samplepeak" [] Number;
    /// ReplayGain 2.0 track gain computed from `loudness` (reference -18 LUFS), dB.
    rg_track: Option<f64>, Analysis => RgTrack "rg_track" [] Number;
    /// ReplayGain 2.0 album gain, gated over all of the album's audio, dB.
    rg_album: Option<f64>, Analysis => RgAlbum "rg_album" [] Number;
    /// The album's true peak, dBTP.
    album_truepeak: Option<f64>, Analysis => AlbumTruePeak "album_truepeak" [] Number;
    /// Why the audio is damaged, with where (`None`: not damaged, or not analysed).
    damage: Option<String>, Analysis => Damage "damage" [] Text;
    /// The acoustic fingerprint of the first two minutes (Chromaprint items, stored as text;
    /// see `analyze::fingerprint`). Left out of JSON: it is long and only `dupes` reads it.
    #[serde(skip)]
    chromaprint: Option<String>, Analysis => Chromaprint "chromaprint" [] Text;
}

impl Track {
    /// `ok`, `damaged` or `unchecked` (never analysed).
    pub fn integrity(&self) -> &'static str {
        match (self.analysed_at, &self.damage) {
            (None, _) => "unchecked",
            (Some(_), Some(_)) => "damaged",
            (Some(_), None) => "ok",
        }
    }
}

impl Field {
    fn def(self) -> &'static FieldDef {
        FIELDS
            .iter()
            .find(|d| d.field == self)
            .expect("every field is listed")
    }

    /// The field a name (its query name, an alias or its JSON key) names, in any case.
    pub fn lookup(name: &str) -> Option<Field> {
        let name = name.to_ascii_lowercase();
        FIELDS
            .iter()
            .find(|d| d.name == name || d.aliases.contains(&name.as_str()))
            .map(|d| d.field)
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn kind(self) -> Kind {
        self.def().kind
    }

    /// The member the field reads, when it reads one.
    pub fn member(self) -> Option<&'static str> {
        self.def().member
    }

    /// The field's value on a track.
    pub fn get(self, t: &Track) -> Value<'_> {
        (self.def().get)(t)
    }

    /// Every query name, for suggestions.
    pub fn names() -> Vec<&'static str> {
        FIELDS.iter().map(|d| d.name).collect()
    }

    /// Every spelling a template or query may use: names, aliases and JSON keys.
    pub fn spellings() -> Vec<&'static str> {
        let mut all: Vec<&'static str> = Vec::new();
        for d in FIELDS {
            for s in std::iter::once(d.name).chain(d.aliases.iter().copied()) {
                if !all.contains(&s) {
                    all.push(s);
                }
            }
        }
        all
    }
}

impl Track {
    /// Sets a member by name from a stored value; `false` when there is no such member or the
    /// value does not fit it.
    pub fn set_stored(&mut self, member: &Member, v: Stored<'_>) -> bool {
        (member.set)(self, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_round_trips_through_its_stored_form() {
        let t = Track {
            id: 7,
            path: PathBuf::from("/m/a.flac"),
            title: "T".into(),
            artist: Some("A; B".into()),
            artists: vec!["A".into(), "B".into()],
            track: Some(3),
            year: Some(-5),
            compilation: true,
            duration: 1.5,
            rg_track_gain: Some(-6.5),
            bit_depth: Some(24),
            last_played: Some(9),
            ..Track::default()
        };
        let mut back = Track::default();
        for m in MEMBERS {
            let stored = match (m.get)(&t) {
                Value::Missing => Stored::Null,
                Value::Int(i) => Stored::Int(i),
                Value::Real(r) => Stored::Real(r),
                Value::Bool(b) => Stored::Int(i64::from(b)),
                Value::Text(s) => Stored::Text(s),
                Value::Path(p) => Stored::Text(p.to_str().unwrap()),
                Value::List(l) => {
                    let joined = l.join(&LIST_SEPARATOR.to_string());
                    assert!(back.set_stored(m, Stored::Text(&joined)), "{}", m.name);
                    continue;
                }
            };
            assert!(back.set_stored(m, stored), "{}", m.name);
        }
        assert_eq!(back, t);
    }

    #[test]
    fn a_stored_value_that_does_not_fit_is_refused() {
        let track = MEMBERS.iter().find(|m| m.name == "track").unwrap();
        let mut t = Track::default();
        assert!(!t.set_stored(track, Stored::Int(-1)));
        assert!(!t.set_stored(track, Stored::Text("x")));
        assert!(t.set_stored(track, Stored::Null));
    }

    #[test]
    fn names_aliases_and_json_keys_are_unique_and_all_found() {
        for d in FIELDS {
            for s in std::iter::once(d.name).chain(d.aliases.iter().copied()) {
                assert_eq!(Field::lookup(s), Some(d.field), "{s}");
                let others = FIELDS
                    .iter()
                    .filter(|o| o.field != d.field)
                    .filter(|o| o.name == s || o.aliases.contains(&s))
                    .count();
                assert_eq!(others, 0, "{s} names two fields");
            }
        }
        let spellings = Field::spellings();
        assert!(spellings.contains(&"sample_rate") && spellings.contains(&"has_cover"));
        assert_eq!(Field::lookup("DURATION"), Some(Field::Length));
        assert_eq!(Field::lookup("added_at"), Some(Field::Added));
    }

    #[test]
    fn every_member_but_the_display_artist_is_a_field() {
        for m in MEMBERS {
            let named = FIELDS.iter().any(|d| d.member == Some(m.name));
            assert_eq!(named, m.name != "artist", "{}", m.name);
        }
    }
}
