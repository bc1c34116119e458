//! The two executions of a query must agree: for random libraries and random queries, the SQL
//! selects exactly the tracks the in-memory matcher accepts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;

use crate::db::{FileRecord, Library};
use crate::model::Track;
use crate::query::{self, Query};

use super::Selection;

const NOW: i64 = 1_750_000_000;

/// Words chosen to collide under folding: case, accents, substrings, and short needles.
const WORDS: &[&str] = &[
    "Beyoncé",
    "beyonce",
    "BEYONCÉ",
    "Björk",
    "bjork",
    "abc",
    "Abcd",
    "xabcx",
    "ab",
    "é",
    "E",
    "Straße",
    "the",
    "The Beatles",
    "AC/DC",
    "日本語",
    "本",
    "",
    " ",
    "re:mix",
    "x\"y",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

fn opt_word() -> impl Strategy<Value = Option<String>> {
    prop::option::of(word())
}

#[derive(Debug, Clone)]
struct Spec {
    info: Track,
    dir: String,
    added: i64,
    plays: u32,
    last_played: Option<i64>,
    /// What `analyze` stored: loudness, and whether damaged.
    analysis: Option<(f64, bool)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            word(),
            prop::collection::vec(word(), 0..3),
            opt_word(),
            opt_word(),
            opt_word(),
            opt_word(),
        ),
        (
            prop::option::of(1990i32..2000),
            prop::option::of(1u32..4),
            prop::option::of(1u32..3),
            0.0f64..400.0,
        ),
        (
            prop::option::of(prop::sample::select(&[128u32, 192, 320, 900][..])),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            prop::sample::select(&["mp3", "flac", "aac", "alac"][..]),
            word(),
            NOW - 100 * 86_400..NOW,
        ),
        (0u32..3, prop::option::of(NOW - 400 * 86_400..NOW)),
        prop::option::of((-30.0f64..-5.0, any::<bool>())),
    )
        .prop_map(
            |(
                (title, artists, album, albumartist, genre, composer),
                (year, track, disc, duration),
                (bitrate, cover, comp),
                (format, dir, added),
                (plays, last_played),
                analysis,
            )| Spec {
                info: Track {
                    title,
                    artist: (!artists.is_empty()).then(|| artists.join("; ")),
                    artists,
                    album,
                    albumartist,
                    genre,
                    composer,
                    year,
                    track,
                    disc,
                    duration,
                    bitrate,
                    has_cover: cover,
                    compilation: comp,
                    format: format.to_string(),
                    codec: format.to_string(),
                    container: format.to_string(),
                    ..Track::default()
                },
                dir,
                added,
                plays,
                last_played,
                analysis,
            },
        )
}

/// Query terms as a user would type them.
fn term() -> impl Strategy<Value = String> {
    let text_field = prop::sample::select(
        &[
            "title",
            "artist",
            "album",
            "albumartist",
            "genre",
            "composer",
            "path",
            "format",
        ][..],
    );
    let num = prop::sample::select(
        &[
            "year:1993..1996",
            "year:..1991",
            "year:1995",
            "track:2",
            "disc:1",
            "length:..100",
            "length:1:40..3:20",
            "bitrate:..192k",
            "bitrate:300k..",
            "added:-30d..",
            "added:-1w",
            "played:-1y..",
            "plays:1..",
            "has:cover",
            "compilation:true",
            "cover:false",
            "^genre:",
            "genre:",
            "has:artist",
            "has:played",
            "has:year",
            "integrity:ok",
            "integrity:damaged",
            "integrity:unchecked",
            "analysed:true",
            "analysed:false",
            "loudness:-20..",
            "has:damage",
            "has:loudness",
        ][..],
    );
    prop_oneof![
        word(),
        (text_field.clone(), word()).prop_map(|(f, w)| format!("{f}:{w}")),
        (text_field.clone(), word()).prop_map(|(f, w)| format!("{f}:={w}")),
        (text_field.clone(), word()).prop_map(|(f, w)| format!("{f}:=~{w}")),
        (
            text_field,
            prop::sample::select(&["^b", "(?i)abc", "é$", "^$", "."][..])
        )
            .prop_map(|(f, r)| format!("{f}::{r}")),
        num.prop_map(str::to_string),
    ]
}

fn query_terms() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (
            prop::sample::select(&["", "", "", "^", "-"][..]),
            term(),
            prop::bool::weighted(0.15),
        ),
        0..4,
    )
    .prop_map(|terms| {
        let mut out = Vec::new();
        for (neg, t, or) in terms {
            if or && !out.is_empty() {
                out.push(",".to_string());
            }
            out.push(format!("{neg}{t}"));
        }
        out
    })
}

fn build(specs: &[Spec]) -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
    lib.write(|w| -> rusqlite::Result<()> {
        for (i, s) in specs.iter().enumerate() {
            let rec = FileRecord::new(
                [i as u8; 16],
                Track {
                    path: PathBuf::from(format!("/music/{}/{i}.flac", s.dir)),
                    size: 1000 + i as i64,
                    mtime: 0,
                    ..s.info.clone()
                },
            );
            let id = w.insert_track(&rec, s.added)?;
            w.set_play_stats(id, s.plays, 0, s.last_played, None)?;
            if let Some((loudness, damaged)) = s.analysis {
                let t = Track {
                    analysed_at: Some(NOW),
                    loudness: Some(loudness),
                    damage: damaged.then(|| "cut short".to_string()),
                    ..Track::default()
                };
                w.set_analysis(id, &t)?;
            }
        }
        Ok(())
    })
    .unwrap();
    (dir, lib)
}

fn check(lib: &Library, q: &Query) -> Result<(), TestCaseError> {
    let by_sql: BTreeSet<i64> = lib
        .track_ids(&Selection {
            query: Some(q),
            ..Selection::default()
        })
        .unwrap()
        .into_iter()
        .collect();
    let by_matcher: BTreeSet<i64> = lib
        .all_tracks()
        .unwrap()
        .iter()
        .filter(|t| q.matches(t))
        .map(|t| t.id)
        .collect();
    prop_assert_eq!(by_sql, by_matcher);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn sql_and_matcher_select_the_same_tracks(specs in prop::collection::vec(spec(), 0..25), queries in prop::collection::vec(query_terms(), 1..6)) {
        let (_dir, lib) = build(&specs);
        for terms in queries {
            let Ok(q) = query::parse(&terms, NOW) else { continue };
            check(&lib, &q)?;
        }
    }
}

#[test]
fn sort_and_limit() {
    let mk = |title: &str, year: i32| Spec {
        info: Track {
            title: title.into(),
            year: Some(year),
            format: "mp3".into(),
            codec: "mp3".into(),
            container: "mp3".into(),
            ..Track::default()
        },
        dir: "d".into(),
        added: NOW,
        plays: 0,
        last_played: None,
        analysis: None,
    };
    let (_dir, lib) = build(&[mk("b", 2001), mk("a", 1999), mk("c", 2000)]);
    let titles = |terms: &[&str], limit: Option<u64>| -> Vec<String> {
        let q = query::parse(terms, NOW).unwrap();
        let mut out = Vec::new();
        lib.for_each_track(
            &Selection {
                query: Some(&q),
                limit,
                ..Selection::default()
            },
            |t| {
                out.push(t.title);
                Ok(())
            },
        )
        .unwrap()
        .unwrap();
        out
    };
    assert_eq!(titles(&["year+"], None), ["a", "c", "b"]);
    assert_eq!(titles(&["title-"], None), ["c", "b", "a"]);
    assert_eq!(titles(&["year-"], Some(2)), ["b", "c"]);
}

/// The longest query the parser lets through compiles within SQLite's limits, in the shapes
/// that nest deepest: every term its own alternative, every term in one group, and terms that
/// compile to the largest expressions (negated, short bare words over every field, regexes).
#[test]
fn the_largest_query_allowed_runs() {
    let (_dir, lib) = build(&[]);
    let shapes: [(&str, bool); 5] = [
        ("^ab", true),
        ("^ab", false),
        ("^artist:=x", true),
        ("title::^x$", true),
        ("year:1990..1999", false),
    ];
    for (term, or) in shapes {
        let mut terms = Vec::new();
        for i in 0..query::MAX_TERMS {
            if or && i > 0 {
                terms.push(",".to_string());
            }
            terms.push(term.to_string());
        }
        let q = query::parse(&terms, NOW).unwrap();
        lib.track_ids(&Selection {
            query: Some(&q),
            ..Selection::default()
        })
        .unwrap_or_else(|e| panic!("{term} (or: {or}): {e}"));
        lib.stats(Some(&q), false)
            .unwrap_or_else(|e| panic!("{term} (or: {or}): {e}"));
        lib.groups(crate::db::GroupBy::Album, Some(&q), false)
            .unwrap_or_else(|e| panic!("{term} (or: {or}): {e}"));
        terms.push(term.to_string());
        assert!(
            query::parse(&terms, NOW).is_err(),
            "one more term is refused"
        );
    }
}

#[test]
fn parameters_follow_the_callers_and_row_scans_are_told() {
    let q = query::parse_str("artist:ab year:1990 night", NOW).unwrap();
    let (w, p) = super::where_clause_after(Some(&q), false, 2);
    assert_eq!(p.len(), 4, "{w}");
    for n in 3..=6 {
        assert!(w.contains(&format!("?{n}")), "?{n} in {w}");
    }
    assert!(!w.contains("?1") && !w.contains("?2 "), "{w}");
    let scans = |text: &str| super::scans_every_row(&query::parse_str(text, NOW).unwrap());
    assert!(scans("ab"), "a two-letter word is matched row by row");
    assert!(scans("title::^a"), "a regex");
    assert!(scans("codec:flac"), "a field without a folded column");
    assert!(!scans("night"));
    assert!(!scans("artist:night year:1990..1999"));
}
