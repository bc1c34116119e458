//! Search commands as real clients send them (mpc 0.34 through libmpdclient, ncmpcpp,
//! M.A.L.P., python-mpd2), read into queries and run on a small library, both in memory and
//! through the database's SQL.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;
use crate::db::query::Selection;
use crate::db::{FileRecord, Library};
use crate::model::Track;
use crate::mpd::request::split;

fn roots() -> Roots {
    Roots::new(&[PathBuf::from("/m/Music"), PathBuf::from("/n/Music")])
}

/// (track, date added)
fn library() -> Vec<(Track, i64)> {
    let t = |title: &str, artists: &[&str], path: &str| Track {
        title: title.into(),
        artist: (!artists.is_empty()).then(|| artists.join("; ")),
        artists: artists.iter().map(|a| a.to_string()).collect(),
        path: PathBuf::from(path),
        mtime: 1_700_000_000,
        duration: 200.0,
        ..Track::default()
    };
    vec![
        (
            Track {
                album: Some("I Am... Sasha Fierce".into()),
                track: Some(3),
                disc: Some(1),
                date: Some("2008".into()),
                genre: Some("R&B".into()),
                sample_rate: Some(44100),
                bit_depth: Some(16),
                channels: Some(2),
                mtime: 1_720_000_000,
                ..t("Halo", &["Beyoncé"], "/m/Music/Beyoncé/I Am/03 Halo.flac")
            },
            1_600_000_000,
        ),
        (
            Track {
                album: Some("Dangerously in Love".into()),
                albumartist: Some("Beyoncé".into()),
                track: Some(1),
                genre: Some("R&B".into()),
                sample_rate: Some(44100),
                channels: Some(2),
                ..t(
                    "Crazy in Love",
                    &["Beyoncé", "Jay-Z"],
                    "/m/Music/Beyoncé/Dangerously in Love/01.mp3",
                )
            },
            1_650_000_000,
        ),
        (
            Track {
                album: Some("Collision Course".into()),
                albumartist: Some("Jay-Z & Linkin Park".into()),
                track: Some(5),
                composer: Some("Mike Shinoda".into()),
                sample_rate: Some(48000),
                channels: Some(2),
                ..t("Numb", &["Jay-Z", "Linkin Park"], "/n/Music/Jay-Z/Numb.mp3")
            },
            1_710_000_000,
        ),
        (
            t("Untitled", &[], "/n/Music/misc/untitled.wav"),
            1_710_000_000,
        ),
        (
            Track {
                album: Some("Live".into()),
                albumartist: Some("Various Artists".into()),
                track: Some(13),
                sample_rate: Some(96000),
                bit_depth: Some(24),
                channels: Some(2),
                ..t("halo (live)", &["beyonce"], "/m/Music/Live/halo.flac")
            },
            1_720_000_000,
        ),
        (
            t("Quote", &["foo'bar\""], "/m/Music/odd/quote.flac"),
            1_600_000_000,
        ),
    ]
}

fn read(line: &str) -> Result<Request, FilterError> {
    let words = split(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    let cmd = Command::parse(&words[0]).unwrap_or_else(|| panic!("{line:?}: not a search"));
    parse(cmd, &words[1..], &roots())
}

fn titles_in_memory(q: &Query) -> BTreeSet<String> {
    library()
        .into_iter()
        .map(|(t, added)| Track {
            added_at: added,
            ..t
        })
        .filter(|t| q.matches(t))
        .map(|t| t.title)
        .collect()
}

fn database() -> Library {
    let mut lib = Library::empty().unwrap();
    lib.write(|w| -> rusqlite::Result<()> {
        for (i, (t, added)) in library().into_iter().enumerate() {
            w.insert_track(&FileRecord::new([i as u8; 16], t), added)?;
        }
        Ok(())
    })
    .unwrap();
    lib
}

const ALL: &[&str] = &[
    "Halo",
    "Crazy in Love",
    "Numb",
    "Untitled",
    "halo (live)",
    "Quote",
];

fn all_but(out: &[&str]) -> Vec<&'static str> {
    ALL.iter().copied().filter(|t| !out.contains(t)).collect()
}

#[test]
fn client_searches_select_what_mpd_would() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        // mpc 0.34 `mpc find artist X`: libmpdclient names the tag, quotes the value.
        (r#"find Artist "Beyoncé""#, vec!["Halo", "Crazy in Love"]),
        // `mpc search artist beyonce`: folded substring.
        (
            r#"search Artist "beyonce""#,
            vec!["Halo", "Crazy in Love", "halo (live)"],
        ),
        (
            r#"search Artist "BEY""#,
            vec!["Halo", "Crazy in Love", "halo (live)"],
        ),
        // python-mpd2 quotes every argument.
        (r#"find "artist" "Jay-Z""#, vec!["Crazy in Love", "Numb"]),
        (r#"find "artist" "Jay""#, vec![]),
        // AlbumArtist falls back to Artist only where there is no album artist.
        (
            r#"find albumartist "Beyoncé""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (r#"find AlbumArtist "Jay-Z""#, vec![]),
        (
            r#"find AlbumArtistSort "Beyoncé""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (
            r#"find "(!(albumartist == \"Beyoncé\"))""#,
            all_but(&["Halo", "Crazy in Love"]),
        ),
        // An empty value finds tracks without the tag; != "" those with it.
        (r#"find artist """#, vec!["Untitled"]),
        (r#"find "(artist != \"\")""#, all_but(&["Untitled"])),
        (r#"find "(albumartist == \"\")""#, vec!["Untitled"]),
        (r#"find album "" genre """#, vec!["Untitled", "Quote"]),
        // Filter expressions (MPD 0.21+), as mpc and ncmpcpp pass them through.
        (
            r#"find "((artist == \"Beyoncé\") AND (album contains \"Love\"))""#,
            vec!["Crazy in Love"],
        ),
        (
            r#"find "(!((artist == \"Beyoncé\") AND (album contains \"Love\")))""#,
            all_but(&["Crazy in Love"]),
        ),
        (
            r#"find "((artist == 'Beyoncé') AND (!(title == 'Halo')) AND (genre == 'R&B'))""#,
            vec!["Crazy in Love"],
        ),
        (
            r#"find "( (artist == \"Beyoncé\")  AND ((genre == \"R&B\")) )""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (r#"find "(album contains \"love\")""#, vec![]),
        (
            r#"search "(album contains \"love\")""#,
            vec!["Crazy in Love"],
        ),
        (
            r#"search "(album CONTAINS \"love\")""#,
            vec!["Crazy in Love"],
        ),
        (
            r#"search "(album !contains \"love\")""#,
            all_but(&["Crazy in Love"]),
        ),
        (
            r#"search "(artist == \"beyoncé\")""#,
            vec!["Halo", "Crazy in Love", "halo (live)"],
        ),
        (r#"find "(artist == \"beyoncé\")""#, vec![]),
        (r#"find "(title starts_with \"Halo\")""#, vec!["Halo"]),
        (
            r#"search "(title starts_with \"HALO\")""#,
            vec!["Halo", "halo (live)"],
        ),
        (
            r#"find "(title !starts_with \"Halo\")""#,
            all_but(&["Halo"]),
        ),
        (
            r#"find "(title =~ \"^[Hh]alo\")""#,
            vec!["Halo", "halo (live)"],
        ),
        (r#"search "(title =~ \"^HALO$\")""#, vec!["Halo"]),
        (
            r#"find "(title !~ \"^[Hh]alo\")""#,
            all_but(&["Halo", "halo (live)"]),
        ),
        // The protocol documentation's escaping example.
        (r#"find "(Artist == \"foo\\'bar\\\"\")""#, vec!["Quote"]),
        (r#"find artist "foo'bar\"""#, vec!["Quote"]),
        // `any`: every tag the song block carries, not the path.
        (r#"search any "jay""#, vec!["Crazy in Love", "Numb"]),
        (r#"find any "Mike Shinoda""#, vec!["Numb"]),
        (r#"find any "3""#, vec!["Halo"]),
        (r#"search any "music""#, vec![]),
        (
            r#"find "(any != \"R&B\")""#,
            all_but(&["Halo", "Crazy in Love"]),
        ),
        // Numbers.
        (r#"find track "3""#, vec!["Halo"]),
        (r#"find "(track == \"13\")""#, vec!["halo (live)"]),
        (r#"find track "03x""#, vec![]),
        (r#"find disc "1""#, vec!["Halo"]),
        (r#"find "(disc == \"\")""#, all_but(&["Halo"])),
        // URIs: base, file.
        (r#"find base "Music (2)""#, vec!["Numb", "Untitled"]),
        (
            r#"find "(base \"Music/Beyoncé\")""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (r#"find base """#, ALL.to_vec()),
        (r#"find base "Music/Beyon""#, vec![]),
        (r#"find file "Music (2)/Jay-Z/Numb.mp3""#, vec!["Numb"]),
        (
            r#"find "(file == \"Music/Live/halo.flac\")""#,
            vec!["halo (live)"],
        ),
        (r#"find file "Nope/x.flac""#, vec![]),
        (
            r#"find "(file != \"Music/Live/halo.flac\")""#,
            all_but(&["halo (live)"]),
        ),
        (r#"search file "dangerously""#, vec!["Crazy in Love"]),
        (r#"search filename "JAY-Z/""#, vec!["Numb"]),
        (r#"find "(file contains \"Jay-Z/\")""#, vec!["Numb"]),
        (r#"find "(file starts_with \"Music (2)/J\")""#, vec!["Numb"]),
        (r#"find "(file starts_with \"Mus\")""#, ALL.to_vec()),
        (
            r#"find "(file starts_with \"Music/\")""#,
            all_but(&["Numb", "Untitled"]),
        ),
        (
            r#"search "(file starts_with \"music (2)/j\")""#,
            vec!["Numb"],
        ),
        // Times.
        (
            r#"find modified-since "2024-06-01T00:00:00Z""#,
            vec!["Halo"],
        ),
        (r#"find "(modified-since \"1710000000\")""#, vec!["Halo"]),
        (
            r#"find "(added-since \"2024-03-09\")""#,
            vec!["Numb", "Untitled", "halo (live)"],
        ),
        (
            r#"find "(!(added-since \"1700000000\"))""#,
            vec!["Halo", "Crazy in Love", "Quote"],
        ),
        // Audio formats.
        (r#"find "(AudioFormat == \"44100:16:2\")""#, vec!["Halo"]),
        (
            r#"find "(AudioFormat =~ \"*:f:*\")""#,
            vec!["Crazy in Love", "Numb"],
        ),
        (
            r#"find "(audioformat =~ \"*:*:2\")""#,
            vec!["Halo", "Crazy in Love", "Numb", "halo (live)"],
        ),
        (
            r#"find "(AudioFormat == \"96000:24:2\")""#,
            vec!["halo (live)"],
        ),
        // Tags tapedeck never fills are absent on every track.
        (r#"find "(label == \"\")""#, ALL.to_vec()),
        (r#"find label "EMI""#, vec![]),
        (r#"find "(label != \"EMI\")""#, ALL.to_vec()),
        (r#"search "(Comment contains \"\")""#, ALL.to_vec()),
        // Pairs and expressions mix, ANDed.
        (
            r#"find "(genre == \"R&B\")" Artist "Jay-Z""#,
            vec!["Crazy in Love"],
        ),
        // ncmpcpp's media library: albums of an album artist, then the album's songs.
        (
            r#"find AlbumArtist "Beyoncé" Album "I Am... Sasha Fierce" Date "2008""#,
            vec!["Halo"],
        ),
        // count, list and the add commands.
        (r#"count Artist "Jay-Z""#, vec!["Crazy in Love", "Numb"]),
        (r#"count group artist"#, ALL.to_vec()),
        (r#"searchcount artist "JAY""#, vec!["Crazy in Love", "Numb"]),
        (r#"list Album "Beyoncé""#, vec!["Halo", "Crazy in Love"]),
        (r#"list album "beyonce""#, vec!["halo (live)"]),
        (r#"list Album"#, ALL.to_vec()),
        (r#"list Album group AlbumArtist group Date"#, ALL.to_vec()),
        (
            r#"list Album AlbumArtist "Beyoncé" group Date"#,
            vec!["Halo", "Crazy in Love"],
        ),
        (
            r#"list Date "(genre == \"R&B\")""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (
            r#"findadd "(genre == \"R&B\")""#,
            vec!["Halo", "Crazy in Love"],
        ),
        (r#"searchadd title "in love""#, vec!["Crazy in Love"]),
        (
            r#"searchaddpl "road trip" artist "jay""#,
            vec!["Crazy in Love", "Numb"],
        ),
    ];
    let lib = database();
    for (line, want) in &cases {
        let req = read(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(titles_in_memory(&req.query), want, "{line} (in memory)");
        let sel = Selection {
            query: Some(&req.query),
            ..Selection::default()
        };
        let found: BTreeSet<String> = lib
            .tracks(&sel)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .into_iter()
            .map(|t| t.title)
            .collect();
        assert_eq!(found, want, "{line} (SQL)");
    }
}

#[test]
fn trailing_arguments_are_read_from_the_end() {
    let r = read(r#"find Album "Live" sort -Track window 0:1"#).unwrap();
    assert_eq!(r.sort, Some((SortKey::Tag(TagType::Track), true)));
    assert_eq!(r.query.sort, vec![(Field::Track, Direction::Desc)]);
    assert_eq!(
        r.window,
        Some(Range {
            start: 0,
            end: Some(1)
        })
    );
    assert_eq!(r.position, None);

    let r = read(r#"search artist "x" sort Last-Modified"#).unwrap();
    assert_eq!(r.sort, Some((SortKey::LastModified, false)));
    assert_eq!(r.query.sort, vec![(Field::Modified, Direction::Asc)]);
    assert_eq!(r.window, None);

    let r = read(r#"find artist "x" sort -added window 5:"#).unwrap();
    assert_eq!(r.sort, Some((SortKey::Added, true)));
    assert_eq!(
        r.window,
        Some(Range {
            start: 5,
            end: None
        })
    );

    // A tag tapedeck does not keep sorts by nothing (every track has it equally absent).
    let r = read(r#"find artist "x" sort Label"#).unwrap();
    assert_eq!(r.sort, Some((SortKey::Tag(TagType::Label), false)));
    assert!(r.query.sort.is_empty());
    let r = read(r#"find artist "x" sort AlbumArtistSort"#).unwrap();
    assert_eq!(r.query.sort, vec![(Field::AlbumArtist, Direction::Asc)]);

    let r = read(r#"findadd "(genre == \"R&B\")" sort Title window 2: position +1"#).unwrap();
    assert_eq!(r.position.as_deref(), Some("+1"));
    assert_eq!(
        r.window,
        Some(Range {
            start: 2,
            end: None
        })
    );
    assert_eq!(r.sort, Some((SortKey::Tag(TagType::Title), false)));

    let r = read(r#"searchaddpl "road trip" artist "jay" position 0"#).unwrap();
    assert_eq!(r.playlist.as_deref(), Some("road trip"));
    assert_eq!(r.position.as_deref(), Some("0"));

    let r = read("count group albumartist").unwrap();
    assert_eq!(r.group, vec![TagType::AlbumArtist]);
    assert!(r.query.is_everything());

    let r = read("list Album group AlbumArtist group Date").unwrap();
    assert_eq!(r.list, Some(TagType::Album));
    assert_eq!(r.group, vec![TagType::AlbumArtist, TagType::Date]);

    let r = read(r#"list albumartist "(artist == \"x\")""#).unwrap();
    assert_eq!(r.list, Some(TagType::AlbumArtist));
    assert!(r.group.is_empty());
    // `window` is a filter word only at the end: here it is a tag value.
    assert!(read(r#"find title "window" artist "x""#).is_ok());
}

#[test]
fn bad_arguments_get_mpds_messages() {
    use FilterError::*;
    let cases: &[(&str, FilterError, &str)] = &[
        ("find", ArgCount, "Incorrect number of filter arguments"),
        (
            "find artist",
            ArgCount,
            "Incorrect number of filter arguments",
        ),
        (
            r#"find artist "x" album"#,
            ArgCount,
            "Incorrect number of filter arguments",
        ),
        (
            r#"find bogus "x""#,
            UnknownFilterType,
            "Unknown filter type",
        ),
        (r#"find prio "3""#, UnknownFilterType, "Unknown filter type"),
        (
            r#"find "(bogus == \"x\")""#,
            UnknownFilterTypeNamed("bogus".into()),
            "Unknown filter type: bogus",
        ),
        (
            r#"find "(artist = \"x\")""#,
            OperatorExpected,
            "'==' or '!=' expected",
        ),
        (
            r#"find "(artist == x)""#,
            QuotedStringExpected,
            "Quoted string expected",
        ),
        (
            r#"find "(artist == \"x)""#,
            ClosingQuoteNotFound,
            "Closing quote not found",
        ),
        (
            r#"find "((artist == \"x\") OR (album == \"y\"))""#,
            AndExpected,
            "'AND' expected",
        ),
        (
            r#"find "(artist == \"x\") junk""#,
            Garbage,
            "Unparsed garbage after expression",
        ),
        (r#"find "(artist == \"x\"""#, CloseExpected, "')' expected"),
        (r#"find "()""#, WordExpected, "Word expected"),
        (r#"find "(!artist == \"x\")""#, OpenExpected, "'(' expected"),
        (
            r#"find "(AudioFormat != \"44100:16:2\")""#,
            FormatOperatorExpected,
            "'==' or '=~' expected",
        ),
        (
            r#"find "(AudioFormat == \"44100:*:2\")""#,
            BadAudioFormat("44100:*:2".into()),
            "Failed to parse audio format: 44100:*:2",
        ),
        (
            r#"find "(modified-since \"yesterday\")""#,
            BadTime("yesterday".into()),
            "Failed to parse time stamp: yesterday",
        ),
        (r#"find base "../x""#, BadUri, "Bad URI"),
        (
            r#"find base "Nope/x""#,
            NoSuchDirectory,
            "No such directory",
        ),
        (
            r#"find "(title =~ \"(\")""#,
            BadRegex("(".into()),
            "Invalid regular expression: (",
        ),
        (
            r#"find "(track =~ \"1\")""#,
            Unsupported("regular expression on a number"),
            "Unsupported filter: regular expression on a number",
        ),
        (
            r#"find "(file =~ \"x\")""#,
            Unsupported("regular expression on a URI"),
            "Unsupported filter: regular expression on a URI",
        ),
        (
            r#"find "(prio >= 3)""#,
            Unsupported("prio"),
            "Unsupported filter: prio",
        ),
        (
            r#"find artist "x" sort bogus"#,
            UnknownSortTag,
            "Unknown sort tag",
        ),
        (
            r#"find artist "x" window a"#,
            Arg(ArgError::Range("a".into())),
            "Integer or range expected: a",
        ),
        ("list", ArgCount, "Incorrect number of filter arguments"),
        (
            "list bogus",
            UnknownTagType("bogus".into()),
            "Unknown tag type: bogus",
        ),
        (
            r#"list Artist "x""#,
            ShouldBeAlbum,
            "should be \"Album\" for 3 arguments",
        ),
        (
            "list Album group Album",
            ConflictingGroup,
            "Conflicting group",
        ),
        (
            "list Album group Date group date",
            ConflictingGroup,
            "Conflicting group",
        ),
        (
            "count group nope",
            UnknownTagType("nope".into()),
            "Unknown tag type: nope",
        ),
        (
            "searchaddpl",
            ArgCount,
            "Incorrect number of filter arguments",
        ),
        (
            r#"search any "a" any "b" any "c""#,
            TooComplex,
            "Filter expands to more than 500 terms",
        ),
    ];
    for (line, err, text) in cases {
        let got = read(line).map(|_| ()).unwrap_err();
        assert_eq!(&got, err, "{line}");
        assert_eq!(got.to_string(), *text, "{line}");
        let code = if *err == NoSuchDirectory {
            AckCode::NoExist
        } else {
            AckCode::Arg
        };
        assert_eq!(got.code(), code, "{line}");
    }
}

#[test]
fn negation_of_compounds_is_the_exact_complement() {
    // Every expression and its negation split the library in two, in memory and in SQL.
    let exprs = [
        r#"(albumartist == \"Beyoncé\")"#,
        r#"((artist == \"Beyoncé\") AND (album contains \"Love\"))"#,
        r#"((albumartist == \"Beyoncé\") AND (!(track == \"3\")))"#,
        r#"(any contains \"a\")"#,
        r#"(!((any == \"R&B\") AND (!(albumartist == \"\"))))"#,
        r#"(file starts_with \"Music\")"#,
        r#"(AudioFormat =~ \"*:f:*\")"#,
    ];
    let lib = database();
    let sql = |q: &Query| -> BTreeSet<String> {
        let sel = Selection {
            query: Some(q),
            ..Selection::default()
        };
        lib.tracks(&sel)
            .unwrap()
            .into_iter()
            .map(|t| t.title)
            .collect()
    };
    for e in exprs {
        let yes = read(&format!("search \"{e}\"")).unwrap().query;
        let no = read(&format!("search \"(!{e})\"")).unwrap().query;
        let (a, b) = (titles_in_memory(&yes), titles_in_memory(&no));
        assert!(a.is_disjoint(&b), "{e}");
        assert_eq!(a.len() + b.len(), ALL.len(), "{e}");
        assert_eq!(sql(&yes), a, "{e}");
        assert_eq!(sql(&no), b, "{e}");
    }
}

#[test]
fn time_stamps_read_as_iso_8601_or_unix_seconds() {
    let cases: &[(&str, Option<i64>)] = &[
        ("0", Some(0)),
        ("1700000000", Some(1_700_000_000)),
        ("2024-01-02T03:04:05Z", Some(1_704_164_645)),
        ("2024-01-02", Some(1_704_153_600)),
        ("2024-01-02T03:04Z", Some(1_704_164_640)),
        ("2024-01-02T03:04:05+01:00", Some(1_704_161_045)),
        ("2024-01-02T03:04:05-0130", Some(1_704_170_045)),
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2000-02-29T12:00:00Z", Some(951_825_600)),
        ("", None),
        ("yesterday", None),
        ("2024-13-01", None),
        ("2024-1-2", None),
        ("2024-01-02T25:00:00Z", None),
        ("-5", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_time(s), *want, "{s:?}");
    }
}
