//! The UI on a real library (the fixtures, scanned, plus tracks with hostile and wide tag
//! values) and a real player service playing into memory: every view drawn on ratatui's test
//! backend at 80x24 and 60x15 and compared with its snapshot file, and key sequences checked
//! against what the service then holds and plays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::app::{App, View};
use super::deck::{Deck, Playing};
use super::draw;
use crate::config::Config;
use crate::db::{FileRecord, Library, Playlist};
use crate::model::Track;

use crate::scan::{self, NoProgress, ScanOptions};
use crate::service::{self, Initial, Service};

const NOW: i64 = 1_750_000_000;

/// Tracks no fixture has: control characters meant to drive the terminal, wide characters,
/// combining marks, names far too long for any column.
fn hostile() -> Vec<Track> {
    let t = |title: &str, artist: &str, album: &str, year: i32, n: u32| Track {
        path: PathBuf::from(format!("/nowhere/{artist}/{n}.flac")),
        title: title.into(),
        artist: Some(artist.into()),
        artists: vec![artist.into()],
        albumartist: Some(artist.into()),
        album: Some(album.into()),
        year: Some(year),
        track: Some(n),
        genre: Some("Test\x07Genre".into()),
        duration: 61.0 * f64::from(n),
        format: "flac".into(),
        codec: "flac".into(),
        container: "flac".into(),
        size: 1000,
        ..Track::default()
    };
    vec![
        t(
            "\x1b[2J\x1b]0;pwned\x07Clear",
            "Evil\x1b[31m Red",
            "Esc\u{9b}album",
            1999,
            1,
        ),
        t(
            "Line\nbreak\ttab",
            "Evil\x1b[31m Red",
            "Esc\u{9b}album",
            1999,
            2,
        ),
        t(
            "🎵🎶 Emoji title that runs on and on well past the width of any column here",
            "東京事変 Tokyo Jihen",
            "大人 (アダルト)",
            2006,
            1,
        ),
        t(
            "Ａｌｌ ｗｉｄｅ",
            "東京事変 Tokyo Jihen",
            "大人 (アダルト)",
            2006,
            2,
        ),
        t(
            "Zoë e\u{301}\u{301} combining",
            "Zoë",
            "Café del Mar",
            2010,
            1,
        ),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    samples: Arc<Mutex<Vec<f32>>>,
}

fn library() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("library.db");
    let mut lib = Library::open(&db).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/library");
    scan::scan(&mut lib, &[root], &ScanOptions::default(), &NoProgress, NOW).unwrap();
    lib.write(|w| -> rusqlite::Result<()> {
        for (i, t) in hostile().into_iter().enumerate() {
            w.insert_track(&FileRecord::new([0xa0 + i as u8; 16], t), NOW)?;
        }
        w.set_problem(
            Path::new("/music/broken/\x1b[2Jtruncated.flac"),
            Some(10),
            Some(NOW),
            "not a FLAC file: the stream ends\x07 inside its header",
            NOW,
        )?;
        w.set_problem(
            Path::new("/music/broken/empty.mp3"),
            Some(0),
            Some(NOW),
            "empty file",
            NOW,
        )?;
        let playlist = |name: &str, query: Option<&str>| Playlist {
            id: 0,
            name: name.into(),
            query: query.map(Into::into),
            sort: None,
            limit: None,
            minutes: None,
            entries: 0,
        };
        let id = w.create_playlist(&playlist("Road trip 🚗", None), NOW)?;
        w.set_playlist_entries(id, &[1, 2, 3])?;
        w.create_playlist(&playlist("Lossless", Some("format:flac")), NOW)?;
        Ok(())
    })
    .unwrap();
    Fixture {
        _dir: dir,
        db,
        samples: Arc::default(),
    }
}

fn app(f: &mut Fixture) -> App {
    let (settings, samples) = service::Settings::in_memory();
    f.samples = samples;
    let player = Service::start(Library::open(&f.db).unwrap(), settings, Initial::default());
    App::new(
        Library::open_read_only(&f.db).unwrap(),
        f.db.clone(),
        Deck::local(player, false),
        &Config::default(),
    )
}

fn key(app: &mut App, code: KeyCode) {
    app.key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn render(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    app.fit(draw::list_rows(height));
    term.draw(|f| draw::draw(f, app)).unwrap();
    term
}

/// Draws at both sizes, checks no control character reached a cell, compares the snapshots.
fn snapshot(app: &mut App, name: &str) {
    for (w, h) in [(80, 24), (60, 15)] {
        let term = render(app, w, h);
        let buf = term.backend().buffer();
        for cell in buf.content() {
            assert!(
                !cell.symbol().chars().any(|c| c.is_control()),
                "{name} at {w}x{h}: a control character reached the screen: {:?}",
                cell.symbol()
            );
        }
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend());
    }
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn every_view_draws_at_both_sizes() {
    let mut f = library();
    let mut app = app(&mut f);
    snapshot(&mut app, "library");

    // The hostile artist's album and tracks, focused on the track column.
    keys(&mut app, "/evil");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    snapshot(&mut app, "library_hostile");

    // Wide characters align in every column.
    keys(&mut app, "/tokyo");
    key(&mut app, KeyCode::Enter);
    snapshot(&mut app, "library_wide");

    key(&mut app, KeyCode::Char('t'));
    snapshot(&mut app, "library_artists");
    key(&mut app, KeyCode::Char('t'));
    snapshot(&mut app, "library_genres");
    key(&mut app, KeyCode::Char('t'));

    key(&mut app, KeyCode::Char('2'));
    snapshot(&mut app, "tracks");
    key(&mut app, KeyCode::Char('o'));
    keys(&mut app, "year- title");
    snapshot(&mut app, "sort_error");
    key(&mut app, KeyCode::Char('+'));
    key(&mut app, KeyCode::Enter);
    assert!(app.prompt.is_none());
    snapshot(&mut app, "tracks_by_year");

    key(&mut app, KeyCode::Char('3'));
    snapshot(&mut app, "playlists");

    // A queue (not playing, so the snapshot holds still).
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Char('a'));
    keys(&mut app, "/tokyo");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('4'));
    snapshot(&mut app, "queue");

    key(&mut app, KeyCode::Char('5'));
    snapshot(&mut app, "problems");

    key(&mut app, KeyCode::Char('?'));
    snapshot(&mut app, "help");
    key(&mut app, KeyCode::Char('x'));
    assert!(!app.help, "any key closes the help");

    // A filter with an error: the message and a caret under the offending term.
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('L'));
    keys(&mut app, "genre:jazz year:19x0");
    snapshot(&mut app, "filter_error");
}

#[test]
fn keys_browse_queue_and_play_through_the_service() {
    let mut f = library();
    let mut app = app(&mut f);
    let names: Vec<String> = app
        .library
        .headings
        .items
        .iter()
        .map(|h| h.name.clone())
        .collect();
    assert!(names.contains(&"Alpha Artist".to_string()), "{names:?}");

    // Search jumps as it is typed; n goes on to the next heading with a match.
    let place = |app: &App| {
        (
            app.library.headings.selected().unwrap().name.clone(),
            app.library.albums.sel,
            app.library.tracks.selected().map(|t| t.title.clone()),
        )
    };
    keys(&mut app, "/artist");
    let first = place(&app);
    assert_eq!(first.0, "Alpha Artist");
    key(&mut app, KeyCode::Enter);
    // From the headings, n goes to the next heading holding a match (Beyoncé & Björk holds
    // none) and N comes back.
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(place(&app).0, "Delta Artist");
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(place(&app).0, "Alpha Artist");
    // From the tracks, n goes through the album's matching tracks first.
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('g'));
    let at_first_track = place(&app);
    key(&mut app, KeyCode::Char('n'));
    let second = place(&app);
    assert_eq!(second.0, "Alpha Artist");
    assert_ne!(second.2, at_first_track.2, "n moves to the next track");
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(place(&app).0, "Delta Artist");
    key(&mut app, KeyCode::Char('N'));
    assert_eq!(place(&app), second);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    assert!(app.search.is_none());

    // Enter on an album plays it: the queue is the album, in order, and the music reaches
    // the output.
    key(&mut app, KeyCode::Tab);
    let album = app.library.albums.selected().unwrap().clone();
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.queue.items.len() as u64, album.tracks);
    wait("the album did not play", || {
        f.samples.lock().unwrap().len() > 1000
    });
    let Deck::Local(local) = &app.deck else {
        unreachable!()
    };
    let playing: Vec<String> = local
        .service
        .entries()
        .iter()
        .map(|e| e.item.title.clone())
        .collect();
    let titles: Vec<String> = app
        .library
        .tracks
        .items
        .iter()
        .map(|t| t.title.clone())
        .collect();
    assert_eq!(playing, titles);

    // Append a track, play another next, then edit the queue.
    keys(&mut app, "/tokyo");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('a'));
    let n = app.queue.items.len();
    assert_eq!(
        app.queue.items[n - 1].artist.as_deref(),
        Some("東京事変 Tokyo Jihen")
    );
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.queue.items.len(), n + 1);
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.view, View::Queue);
    // A search in the queue matches every field, not only what the rows show.
    keys(&mut app, "/year:2006");
    key(&mut app, KeyCode::Enter);
    let hit = &app.queue.items[app.queue.sel];
    assert_eq!(
        hit.artist.as_deref(),
        Some("東京事変 Tokyo Jihen"),
        "{hit:?}"
    );
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('G'));
    let last = app.queue.items.last().unwrap().title.clone();
    key(&mut app, KeyCode::Char('K'));
    assert_eq!(app.queue.items[app.queue.items.len() - 2].title, last);
    assert_eq!(
        app.queue.sel,
        app.queue.items.len() - 2,
        "the selection follows"
    );
    key(&mut app, KeyCode::Char('d'));
    assert_eq!(app.queue.items.len(), n);
    assert!(app.queue.items.iter().all(|r| r.title != last));

    // Shuffle and repeat reach the service.
    key(&mut app, KeyCode::Char('s'));
    key(&mut app, KeyCode::Char('r'));
    assert!(app.now.shuffle);
    assert_eq!(app.now.repeat, crate::player::queue::Repeat::All);
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('-'));
    key(&mut app, KeyCode::Char('+'));
    assert_eq!(app.now.volume, 95);

    // Save the queue as a playlist; it shows in the playlists view.
    key(&mut app, KeyCode::Char('w'));
    keys(&mut app, "Saved ♫");
    key(&mut app, KeyCode::Enter);
    let lib = Library::open_read_only(&f.db).unwrap();
    let saved = lib
        .playlist("Saved ♫")
        .unwrap()
        .expect("the playlist is stored");
    assert_eq!(lib.playlist_entries(saved.id).unwrap().len(), n);
    key(&mut app, KeyCode::Char('3'));
    assert!(
        app.playlists
            .lists
            .items
            .iter()
            .any(|p| p.name == "Saved ♫")
    );

    // Play (repeat is on, so it goes on playing), pause, then clear.
    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Char('g'));
    key(&mut app, KeyCode::Enter);
    wait("Enter in the queue did not play", || {
        app.refresh_player();
        app.now.state == Playing::Playing
    });
    key(&mut app, KeyCode::Char(' '));
    wait("pause did not reach the service", || {
        app.refresh_player();
        app.now.state == Playing::Paused
    });
    key(&mut app, KeyCode::Char('C'));
    assert!(app.queue.items.is_empty());

    // q quits.
    assert_eq!(
        app.key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        super::app::Flow::Quit
    );
}

#[test]
fn the_filter_narrows_every_view_and_reports_errors_in_place() {
    let mut f = library();
    let mut app = app(&mut f);
    let all = app.library.headings.items.len();
    key(&mut app, KeyCode::Char('L'));
    keys(&mut app, "year:2006");
    assert_eq!(
        app.library.headings.items.len(),
        1,
        "the filter applies as it is typed"
    );
    assert_eq!(app.library.headings.items[0].name, "東京事変 Tokyo Jihen");
    keys(&mut app, "x");
    let prompt = app.prompt.as_ref().unwrap();
    let (message, at) = prompt.error.clone().expect("a bad query is reported");
    assert!(message.contains("year"), "{message}");
    assert_eq!(at, "year:".len(), "the caret points at the value");
    assert_eq!(
        app.library.headings.items.len(),
        1,
        "a bad query keeps the last good filter"
    );
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    assert!(app.prompt.is_none());
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.tracks.ids.as_ref().unwrap().len(), 2);
    // Playlists' entries too, in SQL ("Lossless" is every FLAC; year is not on screen).
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.playlists.lists.selected().unwrap().name, "Lossless");
    let entries: Vec<&str> = app
        .playlists
        .entries
        .items
        .iter()
        .map(|t| t.title.as_str())
        .collect();
    assert_eq!(
        entries,
        [
            "🎵🎶 Emoji title that runs on and on well past the width of any column here",
            "Ａｌｌ ｗｉｄｅ"
        ]
    );
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Char('L'));
    for _ in 0.."year:2006".len() {
        key(&mut app, KeyCode::Backspace);
    }
    key(&mut app, KeyCode::Enter);
    assert!(app.filter.is_none());
    assert!(app.tracks.ids.as_ref().unwrap().len() > 2);
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.library.headings.items.len(), all);

    // Esc puts the filter back as it was.
    key(&mut app, KeyCode::Char('L'));
    keys(&mut app, "zoë");
    assert_eq!(app.library.headings.items.len(), 1);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.library.headings.items.len(), all);
}

#[test]
fn the_mouse_selects_and_scrolls() {
    let mut f = library();
    let mut app = app(&mut f);
    render(&mut app, 80, 24);
    let click = |col, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: col,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The third heading row (the first is the column's title, on screen row 1).
    app.mouse(click(2, 4));
    assert_eq!(app.library.headings.sel, 2);
    assert_eq!(app.library.focus, 0);
    app.mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        ..click(2, 4)
    });
    assert_eq!(app.library.headings.sel, 5);
    // The tab bar switches views.
    render(&mut app, 80, 24);
    let (rect, _) = *app
        .spots
        .iter()
        .find(|(_, s)| *s == super::app::Spot::Tab(View::Queue))
        .unwrap();
    app.mouse(click(rect.x + 1, rect.y));
    assert_eq!(app.view, View::Queue);
    assert!(app.queue.items.is_empty());
    // A double click on a track plays its album from it.
    key(&mut app, KeyCode::Char('1'));
    render(&mut app, 80, 24);
    app.mouse(click(2, 3));
    assert_eq!(app.library.headings.items[1].name, "Alpha Artist");
    render(&mut app, 80, 24);
    let (tracks, _) = *app
        .spots
        .iter()
        .find(|(_, s)| *s == super::app::Spot::Column(2))
        .unwrap();
    app.mouse(click(tracks.x + 2, tracks.y + 1));
    assert!(app.queue.items.is_empty(), "one click only selects");
    app.mouse(click(tracks.x + 2, tracks.y + 1));
    assert_eq!(app.queue.items.len(), 2, "a double click plays the album");
    assert_eq!(app.now.position, Some(1), "from the track clicked");
}

#[test]
fn the_prompt_edits_as_a_shell_line_does() {
    let mut f = library();
    let mut app = app(&mut f);
    key(&mut app, KeyCode::Char('L'));
    keys(&mut app, "genre:rock year:2001");
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    app.key(ctrl('w'));
    assert_eq!(app.prompt.as_ref().unwrap().text, "genre:rock ");
    app.key(ctrl('w'));
    assert_eq!(app.prompt.as_ref().unwrap().text, "");
    keys(&mut app, "zoë");
    app.key(ctrl('u'));
    assert_eq!(app.prompt.as_ref().unwrap().text, "");
    // Typing goes where the cursor is, and the terminal's cursor is shown there.
    keys(&mut app, "year:2006");
    key(&mut app, KeyCode::Home);
    keys(&mut app, "tokyo ");
    assert_eq!(app.prompt.as_ref().unwrap().text, "tokyo year:2006");
    assert_eq!(
        app.library.headings.items.len(),
        1,
        "the edited filter applies"
    );
    let mut term = render(&mut app, 80, 24);
    use ratatui::backend::Backend;
    let at = term.backend_mut().get_cursor_position().unwrap();
    assert_eq!((at.x, at.y), ("filter: tokyo ".len() as u16, 23));
    app.key(ctrl('u'));
    app.key(ctrl('k'));
    key(&mut app, KeyCode::Esc);
    assert!(app.prompt.is_none());
    assert_eq!(app.key(ctrl('l')), super::app::Flow::Repaint);
    assert_eq!(app.key(ctrl('z')), super::app::Flow::Suspend);
    assert_eq!(app.key(ctrl('c')), super::app::Flow::Quit);
}

#[test]
fn the_title_is_cut_last_on_a_narrow_terminal() {
    let now = super::deck::Now {
        title: Some("A Fairly Long Title".into()),
        artist: Some("Artist".into()),
        album: Some("Album".into()),
        year: Some("1999".into()),
        ..Default::default()
    };
    assert_eq!(
        draw::title_line(&now, 60).trim_end(),
        "A Fairly Long Title — Artist — Album (1999)"
    );
    assert_eq!(
        draw::title_line(&now, 42).trim_end(),
        "A Fairly Long Title — Artist — Album"
    );
    assert_eq!(
        draw::title_line(&now, 30).trim_end(),
        "A Fairly Long Title — Artist"
    );
    assert_eq!(draw::title_line(&now, 20).trim_end(), "A Fairly Long Title");
    assert_eq!(draw::title_line(&now, 10).trim_end(), "A Fairly…");
    let details = draw::details_line(
        &super::deck::Now {
            format: Some("flac".into()),
            rate: Some("44.1 kHz/16".into()),
            gain: Some("-6.0 dB (album)".into()),
            state: Playing::Playing,
            position: Some(2),
            length: 27,
            volume: 80,
            ..Default::default()
        },
        40,
    );
    assert!(details.contains("3/27"), "{details}");
    assert!(details.contains("vol 80%"), "{details}");
    assert!(!details.contains("gain"), "the gain goes first: {details}");
}

#[test]
fn a_scan_started_from_the_ui_shows_progress_and_refreshes_the_views() {
    let mut f = library();
    // A root of our own, scanned once, then a file added to it.
    let music = f._dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/library");
    std::fs::copy(fixtures.join("mp3/id3v23.mp3"), music.join("a.mp3")).unwrap();
    let mut lib = Library::open(&f.db).unwrap();
    scan::scan(
        &mut lib,
        std::slice::from_ref(&music),
        &ScanOptions::default(),
        &NoProgress,
        NOW,
    )
    .unwrap();
    drop(lib);
    let mut app = app(&mut f);
    let before = app.library.headings.items.len();
    std::fs::copy(fixtures.join("aiff/id3.aiff"), music.join("b.aiff")).unwrap();
    let iota = |app: &App| {
        app.library
            .headings
            .items
            .iter()
            .filter(|h| h.name == "Iota Artist")
            .map(|h| h.tracks)
            .sum::<u64>()
    };
    let had = iota(&app);
    key(&mut app, KeyCode::Char('u'));
    assert!(app.scan.is_some(), "the scan runs in the background");
    app.poll_scan();
    let shown = app.message.clone().expect("progress is shown").text;
    assert!(shown.starts_with("scan"), "{shown}");
    wait("the scan never ended", || {
        app.poll_scan();
        app.scan.is_none()
    });
    let done = app.message.clone().expect("the outcome is shown");
    assert!(!done.error, "{}", done.text);
    assert!(done.text.contains("1 added"), "{}", done.text);
    assert_eq!(iota(&app), had + 1, "the library view was read again");
    assert_eq!(app.library.headings.items.len(), before);
}

#[test]
fn a_file_that_cannot_play_is_named_and_the_queue_goes_on() {
    let mut f = library();
    let mut app = app(&mut f);
    // The hostile album's files do not exist; a playable track follows them.
    keys(&mut app, "/evil");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Char('a'));
    keys(&mut app, "/alpha");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.queue.items.len(), 4);
    key(&mut app, KeyCode::Enter);
    wait("the playable tracks never played", || {
        f.samples.lock().unwrap().len() > 1000
    });
    wait("no error was reported", || {
        app.refresh_player();
        app.now.error.is_some()
    });
    let error = app.now.error.clone().unwrap();
    assert!(
        error.contains("/nowhere/Evil"),
        "the error names the file: {error}"
    );
    let screen = render(&mut app, 80, 24);
    let last = (0..80)
        .map(|x| screen.backend().buffer()[(x, 23)].symbol().to_string())
        .collect::<String>();
    assert!(
        last.starts_with("error: /nowhere/Evil\\e[31m Red/"),
        "{last}"
    );
    // Esc puts it away.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.now.error, None);
}

#[test]
fn every_view_draws_at_any_size_without_panicking() {
    let mut f = library();
    let mut app = app(&mut f);
    keys(&mut app, "/tokyo");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('a'));
    for view in ['1', '2', '3', '4', '5', '?'] {
        key(&mut app, KeyCode::Char(view));
        for (w, h) in [
            (1, 1),
            (9, 5),
            (10, 6),
            (17, 7),
            (33, 11),
            (61, 16),
            (300, 80),
            (1000, 300),
        ] {
            let term = render(&mut app, w, h);
            assert_eq!(term.backend().buffer().area.width, w);
        }
        if app.help {
            key(&mut app, KeyCode::Esc);
        }
    }
}
