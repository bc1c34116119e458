//! The browser's pages on a small library with the oddities real tags have: an album artist
//! that differs only in case, a guest artist, untagged albums, a genre shared across artists.

use std::path::PathBuf;

use super::*;
use crate::db::FileRecord;
use crate::query::parse_str;

struct T {
    title: &'static str,
    artists: &'static [&'static str],
    albumartist: Option<&'static str>,
    album: Option<&'static str>,
    year: Option<i32>,
    track: Option<u32>,
    genre: Option<&'static str>,
}

const fn t(
    title: &'static str,
    artists: &'static [&'static str],
    albumartist: Option<&'static str>,
    album: Option<&'static str>,
    year: Option<i32>,
    track: Option<u32>,
    genre: Option<&'static str>,
) -> T {
    T {
        title,
        artists,
        albumartist,
        album,
        year,
        track,
        genre,
    }
}

const LIBRARY: &[T] = &[
    t(
        "Two",
        &["Alpha"],
        None,
        Some("First"),
        Some(1990),
        Some(2),
        Some("Jazz"),
    ),
    t(
        "One",
        &["Alpha"],
        None,
        Some("First"),
        Some(1990),
        Some(1),
        Some("Jazz"),
    ),
    t(
        "Later",
        &["Alpha", "Guest"],
        Some("alpha"),
        Some("Second"),
        Some(1985),
        Some(1),
        Some("Rock"),
    ),
    t(
        "Night Song",
        &["Beta"],
        None,
        Some("Nights"),
        None,
        Some(1),
        Some("jazz"),
    ),
    t("Loose", &["Beta"], None, None, None, None, None),
    t(
        "Hit",
        &["Gamma"],
        Some("Various"),
        Some("Mix"),
        Some(2001),
        Some(1),
        Some("Pop"),
    ),
    t(
        "Night Hit",
        &["Guest"],
        Some("Various"),
        Some("Mix"),
        Some(2001),
        Some(2),
        Some("Pop"),
    ),
    t(
        "Nana",
        &["Émile Zola"],
        None,
        Some("Romans"),
        Some(1880),
        Some(1),
        None,
    ),
];

fn library() -> (tempfile::TempDir, Library) {
    let dir = tempfile::tempdir().unwrap();
    let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
    lib.write(|w| -> rusqlite::Result<()> {
        for (i, s) in LIBRARY.iter().enumerate() {
            let track = Track {
                path: PathBuf::from(format!("/music/{i}.flac")),
                title: s.title.into(),
                artist: Some(s.artists.join("; ")),
                artists: s.artists.iter().map(|a| a.to_string()).collect(),
                albumartist: s.albumartist.map(Into::into),
                album: s.album.map(Into::into),
                year: s.year,
                track: s.track,
                genre: s.genre.map(Into::into),
                duration: 60.0,
                format: "flac".into(),
                codec: "flac".into(),
                container: "flac".into(),
                size: 100,
                ..Track::default()
            };
            w.insert_track(&FileRecord::new([i as u8; 16], track), 0)?;
        }
        Ok(())
    })
    .unwrap();
    (dir, lib)
}

fn q(text: &str) -> Query {
    parse_str(text, 0).unwrap()
}

fn names(h: &[Heading]) -> Vec<(&str, u64)> {
    h.iter().map(|h| (h.name.as_str(), h.tracks)).collect()
}

#[test]
fn headings_group_case_and_accent_variants_in_folded_order() {
    let (_d, lib) = library();
    let all = lib.headings(Shelf::AlbumArtists, None).unwrap();
    assert_eq!(
        names(&all),
        [("Alpha", 3), ("Beta", 2), ("Émile Zola", 1), ("Various", 2)]
    );
    let artists = lib.headings(Shelf::Artists, None).unwrap();
    assert_eq!(
        names(&artists),
        [
            ("Alpha", 3),
            ("Beta", 2),
            ("Émile Zola", 1),
            ("Gamma", 1),
            ("Guest", 2)
        ]
    );
    let genres = lib.headings(Shelf::Genres, None).unwrap();
    assert_eq!(
        names(&genres),
        [("", 2), ("Jazz", 3), ("Pop", 2), ("Rock", 1)]
    );
    let filtered = lib
        .headings(Shelf::AlbumArtists, Some(&q("year:1900..1995")))
        .unwrap();
    assert_eq!(names(&filtered), [("Alpha", 3)]);
}

#[test]
fn albums_and_tracks_follow_the_heading_and_the_filter() {
    let (_d, lib) = library();
    let albums = lib
        .heading_albums(Shelf::AlbumArtists, "alpha", None)
        .unwrap();
    let titles: Vec<(&str, Option<i32>)> =
        albums.iter().map(|a| (a.title.as_str(), a.year)).collect();
    assert_eq!(titles, [("Second", Some(1985)), ("First", Some(1990))]);
    let tracks = lib
        .album_tracks(Shelf::AlbumArtists, "alpha", &albums[1], None, Members::All)
        .unwrap();
    let titles: Vec<&str> = tracks.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["One", "Two"]);

    // A guest's albums show under the guest, with only the tracks they are on.
    let guest = lib.heading_albums(Shelf::Artists, "guest", None).unwrap();
    let titles: Vec<(&str, &str)> = guest
        .iter()
        .map(|a| (a.artist.as_str(), a.title.as_str()))
        .collect();
    assert_eq!(titles, [("alpha", "Second"), ("Various", "Mix")]);
    let mix = lib
        .album_tracks(Shelf::Artists, "guest", &guest[1], None, Members::All)
        .unwrap();
    assert_eq!(mix.len(), 1);
    assert_eq!(mix[0].title, "Night Hit");

    // Untagged albums and undated ones come last.
    let beta = lib
        .heading_albums(Shelf::AlbumArtists, "beta", None)
        .unwrap();
    let titles: Vec<&str> = beta.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["", "Nights"]);

    let jazz = lib
        .heading_albums(Shelf::Genres, "jazz", Some(&q("night")))
        .unwrap();
    assert_eq!(jazz.len(), 1);
    assert_eq!(jazz[0].title, "Nights");
}

#[test]
fn searches_find_the_next_heading_with_a_match_and_wrap() {
    let (_d, lib) = library();
    let night = q("night");
    let s = Shelf::AlbumArtists;
    assert_eq!(
        lib.next_heading(s, None, &night, false).unwrap().as_deref(),
        Some("beta")
    );
    let after_beta = lib.next_heading(s, Some("beta"), &night, false).unwrap();
    assert_eq!(after_beta.as_deref(), Some("various"));
    let wrapped = lib.next_heading(s, Some("various"), &night, false).unwrap();
    assert_eq!(wrapped.as_deref(), Some("beta"));
    let back = lib.next_heading(s, Some("beta"), &night, true).unwrap();
    assert_eq!(back.as_deref(), Some("various"));
    // Folded order: an accented name sits among the unaccented ones.
    let after = lib
        .next_heading(s, Some("beta"), &q("year:1880"), false)
        .unwrap();
    assert_eq!(after.as_deref(), Some("emile zola"));
    assert_eq!(
        lib.next_heading(s, None, &q("nothing-here"), false)
            .unwrap(),
        None
    );

    let mut all = lib.matching_ids(&night).unwrap();
    all.sort_unstable();
    let mut want = lib
        .track_ids(&query::Selection {
            query: Some(&night),
            ..Default::default()
        })
        .unwrap();
    want.sort_unstable();
    assert_eq!(all, want);
    assert_eq!(all.len(), 2);

    let found = lib.matches_under(s, "various", &night).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].album_key, "mix");
}

#[test]
fn pages_keep_the_order_asked_and_filters_combine() {
    let (_d, lib) = library();
    let ids = lib.track_ids(&query::Selection::default()).unwrap();
    let reversed: Vec<i64> = ids.iter().rev().copied().collect();
    let page = lib.page(&reversed[..3], Members::Only(&["title"])).unwrap();
    let want: Vec<String> = lib
        .tracks_by_ids(&reversed[..3])
        .unwrap()
        .into_iter()
        .map(|t| t.title)
        .collect();
    let got: Vec<String> = page.into_iter().map(|t| t.title).collect();
    assert_eq!(got, want);
    // A playlist may hold a track twice: each entry is shown.
    let twice = lib
        .page(&[ids[0], ids[1], ids[0], -1], Members::Only(&["title"]))
        .unwrap();
    let titles: Vec<&str> = twice.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert_eq!(titles[0], titles[2]);

    let both = both(Some(&q("genre:jazz")), Some(&q("night , one"))).unwrap();
    let mut hits = lib.matching_among(&ids, &both).unwrap();
    hits.sort_unstable();
    let titles: Vec<String> = lib
        .tracks_by_ids(&hits)
        .unwrap()
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Night Song".to_string()));
    assert!(titles.contains(&"One".to_string()));
}
