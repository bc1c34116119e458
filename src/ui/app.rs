//! The UI's state and what keys do to it: the five views (library browser, flat track list,
//! playlists, queue, problems), the selection and scroll of each list, the search and the live
//! filter, the prompt, messages, and the player through [`Deck`]. Pages come from the library
//! as they are shown (the flat view holds ids and reads only the rows on screen); nothing here
//! touches the terminal, so tests drive it with key events and draw it on a test backend.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::deck::{Deck, DeckError, Now, QueueRow};
use super::keys;
use crate::clock::now;
use crate::config::{Bindings, Config, UiAction};
use crate::db::browse::{self, AlbumRow, Heading, Shelf};
use crate::db::query::Selection;
use crate::db::{Library, Members, Playlist, Problem};
use crate::model::{Track, fold};
use crate::player::queue::Repeat;
use crate::query::{self, Direction, Field, Query, QueryError};

/// A filter that took longer than this to apply is applied, while it is typed, only once the
/// typing pauses for [`FILTER_SETTLE`], so keys never wait for the library.
const SLOW_FILTER: Duration = Duration::from_millis(25);
pub const FILTER_SETTLE: Duration = Duration::from_millis(120);
/// The most tracks one key press puts in the queue.
pub const QUEUE_CAP: usize = 10_000;
/// Ids checked per step when a search looks for the next match in a long list.
const SEARCH_STEP: usize = 512;
/// The members the flat view and the browser's track column show.
pub const SHOWN: &[&str] = &[
    "id",
    "title",
    "artists",
    "artist",
    "album",
    "albumartist",
    "year",
    "track",
    "disc",
    "duration",
    "format",
    "genre",
    "path",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Library,
    Tracks,
    Playlists,
    Queue,
    Problems,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Library,
        View::Tracks,
        View::Playlists,
        View::Queue,
        View::Problems,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Library => "Library",
            View::Tracks => "Tracks",
            View::Playlists => "Playlists",
            View::Queue => "Queue",
            View::Problems => "Problems",
        }
    }
}

/// A list on screen: its rows, the selected one and the first one shown.
#[derive(Debug, Clone)]
pub struct Column<T> {
    pub items: Vec<T>,
    pub sel: usize,
    pub top: usize,
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Column {
            items: Vec::new(),
            sel: 0,
            top: 0,
        }
    }
}

impl<T> Column<T> {
    fn new(items: Vec<T>) -> Column<T> {
        Column {
            items,
            sel: 0,
            top: 0,
        }
    }

    pub fn selected(&self) -> Option<&T> {
        self.items.get(self.sel)
    }

    fn set(&mut self, items: Vec<T>) {
        self.items = items;
        self.sel = self.sel.min(self.items.len().saturating_sub(1));
    }
}

/// A selection moved by `delta` rows, kept inside a list of `len`.
fn moved(sel: usize, len: usize, delta: isize) -> usize {
    if len == 0 {
        return 0;
    }
    (sel as isize + delta).clamp(0, len as isize - 1) as usize
}

/// The first row shown, moved just enough that the selection is among the `rows` shown.
fn scrolled(sel: usize, top: usize, rows: usize) -> usize {
    let rows = rows.max(1);
    if sel < top {
        sel
    } else if sel >= top + rows {
        sel + 1 - rows
    } else {
        top
    }
}

/// The browser: the first column's headings, the selected one's albums, the album's tracks.
#[derive(Debug, Default)]
pub struct LibraryView {
    pub shelf: Shelf,
    pub headings: Column<Heading>,
    pub albums: Column<AlbumRow>,
    pub tracks: Column<Track>,
    pub focus: usize,
}

/// Every track in one list, sorted by any field: the ids are held, rows read per screen.
#[derive(Debug, Default)]
pub struct TracksView {
    pub ids: Option<Vec<i64>>,
    pub sort: Vec<(Field, Direction)>,
    pub sort_text: String,
    pub sel: usize,
    pub top: usize,
    /// The rows from `top` on, as last read.
    pub page: Vec<Track>,
    pub page_top: usize,
}

#[derive(Debug, Default)]
pub struct PlaylistsView {
    pub lists: Column<Playlist>,
    pub entries: Column<Track>,
    pub focus: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Search,
    Filter,
    Save,
    Sort,
}

impl PromptKind {
    pub fn label(self) -> &'static str {
        match self {
            PromptKind::Search => "/",
            PromptKind::Filter => "filter: ",
            PromptKind::Save => "save queue as: ",
            PromptKind::Sort => "sort by: ",
        }
    }
}

/// Where the selection was when a search began, to go back to on Esc.
#[derive(Debug, Clone)]
struct Origin {
    view: View,
    sel: Vec<usize>,
}

/// A line being typed, and what is wrong with it so far.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// Where typing goes: a byte offset into `text`.
    pub cursor: usize,
    /// The message and the character the caret points at.
    pub error: Option<(String, usize)>,
    /// A search that found nothing.
    pub missed: bool,
    origin: Option<Origin>,
    /// The filter in force when a filter prompt opened.
    before: Option<(String, Query)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// A scan started from the UI, as its thread reports it.
#[derive(Debug, Default)]
pub struct ScanState {
    pub seen: AtomicU64,
    pub read: AtomicU64,
    pub to_read: AtomicU64,
    pub done: AtomicBool,
    pub outcome: Mutex<Option<Result<String, String>>>,
}

impl crate::scan::Progress for ScanState {
    fn walked(&self, files_seen: u64) {
        self.seen.store(files_seen, Ordering::Relaxed);
    }
    fn reading(&self, to_read: u64) {
        self.to_read.store(to_read, Ordering::Relaxed);
    }
    fn read_one(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }
}

/// Which list a spot on the screen shows, for the mouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spot {
    /// A column of the current view (0 is the first), its rows starting at the area's top.
    Column(usize),
    Tab(View),
}

/// What the caller does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    Quit,
    /// Ctrl-Z: give the terminal back and stop until resumed.
    Suspend,
    /// Ctrl-L: clear the screen and paint all of it again.
    Repaint,
}

pub struct App {
    lib: Library,
    db_path: PathBuf,
    pub deck: Deck,
    pub keys: Bindings<UiAction>,
    pub view: View,
    pub library: LibraryView,
    pub tracks: TracksView,
    pub playlists: PlaylistsView,
    pub queue: Column<QueueRow>,
    pub problems: Column<Problem>,
    pub filter: Option<(String, Query)>,
    pub search: Option<Query>,
    pub prompt: Option<Prompt>,
    pub message: Option<Message>,
    pub help: bool,
    pub help_top: usize,
    pub now: Now,
    /// List rows the body shows, from the last layout.
    pub rows: usize,
    /// Screen areas and the lists they show, from the last draw.
    pub spots: Vec<(Rect, Spot)>,
    pub scan: Option<Arc<ScanState>>,
    /// Lists to read again when their view is next shown.
    stale: Stale,
    /// How long the last filter took to apply, and when a filter typed since is due.
    filter_cost: Duration,
    pub filter_due: Option<Instant>,
    /// The queue version the queue's rows were read at.
    queue_version: Option<u32>,
    /// The attached service is scanning at the UI's request.
    remote_scan: bool,
    /// The last mouse click: when and where, to tell a double click.
    last_click: Option<(Instant, u16, u16)>,
    /// Whether a redraw is due.
    pub dirty: bool,
}

fn text_fold_contains(hay: &str, needle: &str) -> bool {
    fold(hay).contains(needle)
}

impl App {
    /// The UI on a library (read-only here: the player and scans write through their own
    /// connections) driving `deck`.
    pub fn new(lib: Library, db_path: PathBuf, deck: Deck, config: &Config) -> App {
        let mut app = App {
            lib,
            db_path,
            deck,
            keys: Bindings::new(config),
            view: View::Library,
            library: LibraryView::default(),
            tracks: TracksView::default(),
            playlists: PlaylistsView::default(),
            queue: Column::default(),
            problems: Column::default(),
            filter: None,
            search: None,
            prompt: None,
            message: None,
            help: false,
            help_top: 0,
            now: Now::default(),
            rows: 10,
            spots: Vec::new(),
            scan: None,
            stale: Stale::default(),
            filter_cost: Duration::ZERO,
            filter_due: None,
            queue_version: None,
            remote_scan: false,
            last_click: None,
            dirty: true,
        };
        app.invalidate(true);
        app.refresh_player();
        app
    }

    fn filter_query(&self) -> Option<&Query> {
        self.filter.as_ref().map(|(_, q)| q)
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    pub fn complain(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }

    fn db<T>(&mut self, r: Result<T, crate::db::DbError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.complain(format!("library: {e}"));
                None
            }
        }
    }

    fn deck_said(&mut self, r: Result<(), DeckError>) {
        if let Err(e) = r {
            self.complain(e.to_string());
        }
        self.refresh_player();
    }

    // ---- loading -------------------------------------------------------------------------

    /// Reads the player's state again, and its queue when that changed.
    pub fn refresh_player(&mut self) {
        self.deck.changed();
        match self.deck.now() {
            Ok(now) => self.now = now,
            Err(e) => self.complain(e.to_string()),
        }
        if self.queue_version != Some(self.now.version) {
            match self.deck.queue() {
                Ok(rows) => {
                    self.queue.set(rows);
                    self.queue_version = Some(self.now.version);
                }
                Err(e) => self.complain(e.to_string()),
            }
        }
        self.dirty = true;
    }

    /// Reads the player again for the progress bar: a redraw is due only when what is shown
    /// changed (the position's whole second, or anything else).
    pub fn tick(&mut self) {
        if let Ok(now) = self.deck.now() {
            let second = crate::text::clock(now.elapsed) != crate::text::clock(self.now.elapsed);
            let rest = Now {
                elapsed: self.now.elapsed,
                ..now.clone()
            } != self.now;
            if second || rest {
                self.dirty = true;
            }
            self.now = now;
        }
    }

    /// Marks the views' lists as out of date (after a scan, or a new filter): each is read
    /// again when it is next shown, so typing a filter reads only the view on screen.
    pub fn invalidate(&mut self, problems: bool) {
        self.stale.library = true;
        self.stale.tracks = true;
        self.stale.playlists = true;
        self.stale.problems |= problems;
        self.dirty = true;
        self.refresh_view();
    }

    /// Shows the lists as the filter now selects them, timing it.
    pub fn apply_filter(&mut self) {
        let started = Instant::now();
        self.filter_due = None;
        self.invalidate(false);
        if self.filter.is_some() {
            self.filter_cost = started.elapsed();
        }
    }

    /// Applies a filter typed earlier once typing has paused.
    pub fn poll_filter(&mut self) {
        if self.filter_due.is_some_and(|due| Instant::now() >= due) {
            self.apply_filter();
        }
    }

    /// Reads the current view's lists if they are out of date.
    pub fn refresh_view(&mut self) {
        match self.view {
            View::Library if self.stale.library => self.load_headings(),
            View::Tracks if self.stale.tracks || self.tracks.ids.is_none() => {
                self.load_tracks_view()
            }
            View::Playlists if self.stale.playlists => self.load_playlists(),
            View::Problems if self.stale.problems => {
                let problems = self.lib.problems();
                if let Some(p) = self.db(problems) {
                    self.problems.set(p);
                }
                self.stale.problems = false;
            }
            _ => {}
        }
    }

    /// The first column, keeping the selected heading, album and track where they still
    /// exist.
    fn load_headings(&mut self) {
        self.stale.library = false;
        let keep = self.library.headings.selected().map(|h| h.key.clone());
        let keep_album = self
            .library
            .albums
            .selected()
            .map(|a| (a.artist.clone(), a.key.clone()));
        let keep_track = self.library.tracks.selected().map(|t| t.id);
        let headings = self.lib.headings(self.library.shelf, self.filter_query());
        let headings = self.db(headings).unwrap_or_default();
        let sel = keep
            .and_then(|k| headings.iter().position(|h| h.key == k))
            .unwrap_or(0);
        let same =
            self.library.headings.selected().map(|h| &h.key) == headings.get(sel).map(|h| &h.key);
        self.library.headings = Column::new(headings);
        self.library.headings.sel = sel;
        self.load_albums(keep_album.filter(|_| same));
        if let Some(i) = keep_track
            .filter(|_| same)
            .and_then(|id| self.library.tracks.items.iter().position(|t| t.id == id))
        {
            self.library.tracks.sel = i;
        }
    }

    /// The selected heading's albums, selecting `keep` (artist, album key) if given.
    fn load_albums(&mut self, keep: Option<(String, String)>) {
        let albums = match self.library.headings.selected() {
            Some(h) => {
                let r = self.lib.heading_albums(
                    self.library.shelf,
                    &h.key.clone(),
                    self.filter_query(),
                );
                self.db(r).unwrap_or_default()
            }
            None => Vec::new(),
        };
        let sel = keep
            .and_then(|(a, k)| {
                albums
                    .iter()
                    .position(|x| x.key == k && x.artist.eq_ignore_ascii_case(&a))
            })
            .unwrap_or(0);
        self.library.albums = Column::new(albums);
        self.library.albums.sel = sel;
        self.load_album_tracks();
    }

    fn load_album_tracks(&mut self) {
        let tracks = match (
            self.library.headings.selected(),
            self.library.albums.selected(),
        ) {
            (Some(h), Some(a)) => {
                let r = self.lib.album_tracks(
                    self.library.shelf,
                    &h.key.clone(),
                    &a.clone(),
                    self.filter_query(),
                    Members::All,
                );
                self.db(r).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        self.library.tracks = Column::new(tracks);
    }

    fn load_tracks_view(&mut self) {
        self.stale.tracks = false;
        let mut q = self.filter_query().cloned().unwrap_or_default();
        q.sort = self.tracks.sort.clone();
        let sel = Selection {
            query: Some(&q),
            ..Selection::default()
        };
        let ids = self.lib.track_ids(&sel);
        let ids = self.db(ids).unwrap_or_default();
        self.tracks.sel = self.tracks.sel.min(ids.len().saturating_sub(1));
        self.tracks.ids = Some(ids);
        self.tracks.page.clear();
    }

    fn load_playlists(&mut self) {
        self.stale.playlists = false;
        let lists = self.lib.playlists();
        if let Some(lists) = self.db(lists) {
            self.playlists.lists.set(lists);
        }
        self.load_entries();
    }

    fn load_entries(&mut self) {
        let Some(p) = self.playlists.lists.selected().cloned() else {
            self.playlists.entries = Column::default();
            return;
        };
        let ids = match crate::playlist::track_ids(&self.lib, &p, now()) {
            Ok(ids) => ids,
            Err(e) => {
                self.complain(e.to_string());
                Vec::new()
            }
        };
        // The filter in SQL: the rows hold only the members shown.
        let ids = match self.filter_query().cloned() {
            Some(q) => {
                let kept = self.matching(&ids, &q);
                ids.into_iter().filter(|id| kept.contains(id)).collect()
            }
            None => ids,
        };
        let tracks = self.lib.page(&ids, Members::Only(SHOWN));
        let tracks = self.db(tracks).unwrap_or_default();
        self.playlists.entries = Column::new(tracks);
    }

    /// Fits the lists to a body of `rows` rows and reads the flat view's rows on screen.
    pub fn fit(&mut self, rows: usize) {
        self.rows = rows.max(1);
        let r = self.rows;
        let l = &mut self.library;
        l.headings.top = scrolled(l.headings.sel, l.headings.top, r);
        l.albums.top = scrolled(l.albums.sel, l.albums.top, r);
        l.tracks.top = scrolled(l.tracks.sel, l.tracks.top, r);
        let p = &mut self.playlists;
        p.lists.top = scrolled(p.lists.sel, p.lists.top, r);
        p.entries.top = scrolled(p.entries.sel, p.entries.top, r);
        self.queue.top = scrolled(self.queue.sel, self.queue.top, r);
        self.problems.top = scrolled(self.problems.sel, self.problems.top, r);
        self.refresh_view();
        if self.view == View::Tracks {
            let t = &mut self.tracks;
            t.top = scrolled(t.sel, t.top, r);
            let ids = t.ids.as_deref().unwrap_or(&[]);
            let end = (t.top + r).min(ids.len());
            let wanted = &ids[t.top.min(end)..end];
            let fresh = t.page_top == t.top
                && t.page.len() == wanted.len()
                && t.page.iter().zip(wanted).all(|(a, b)| a.id == *b);
            if !fresh {
                let page = self.lib.page(wanted, Members::Only(SHOWN));
                let page = self.db(page).unwrap_or_default();
                self.tracks.page = page;
                self.tracks.page_top = self.tracks.top;
            }
        }
    }

    // ---- keys ----------------------------------------------------------------------------

    pub fn key(&mut self, key: KeyEvent) -> Flow {
        if key.kind == KeyEventKind::Release {
            return Flow::Go;
        }
        self.dirty = true;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return Flow::Quit;
        }
        if ctrl && key.code == KeyCode::Char('z') {
            return Flow::Suspend;
        }
        if ctrl && key.code == KeyCode::Char('l') {
            return Flow::Repaint;
        }
        if self.prompt.is_some() {
            self.prompt_key(key);
            return Flow::Go;
        }
        if self.help {
            match key.code {
                KeyCode::Down | KeyCode::Char('j') => self.help_top += 1,
                KeyCode::Up | KeyCode::Char('k') => self.help_top = self.help_top.saturating_sub(1),
                _ => self.help = false,
            }
            return Flow::Go;
        }
        // A message stays until the next key.
        self.message = None;
        if key.code == KeyCode::Esc {
            self.search = None;
            if self.now.error.is_some() {
                let r = self.deck.clear_error();
                self.deck_said(r);
            }
            return Flow::Go;
        }
        let Some(k) = keys::key_of(key.code) else {
            return Flow::Go;
        };
        let Some(action) = self.keys.action(k) else {
            return Flow::Go;
        };
        self.act(action)
    }

    pub fn act(&mut self, action: UiAction) -> Flow {
        use UiAction as A;
        match action {
            A::Library => self.show(View::Library),
            A::Tracks => self.show(View::Tracks),
            A::Playlists => self.show(View::Playlists),
            A::Queue => self.show(View::Queue),
            A::Problems => self.show(View::Problems),
            A::Up => self.move_by(-1),
            A::Down => self.move_by(1),
            A::PageUp => self.move_by(-(self.rows as isize - 1).max(1)),
            A::PageDown => self.move_by((self.rows as isize - 1).max(1)),
            A::Top => self.move_by(isize::MIN / 2),
            A::Bottom => self.move_by(isize::MAX / 2),
            A::NextColumn => self.switch_column(1),
            A::PreviousColumn => self.switch_column(-1),
            A::Play => self.play_selection(),
            A::Append => self.enqueue_selection(false),
            A::PlayNext => self.enqueue_selection(true),
            A::Pause => {
                let r = self.deck.toggle_pause();
                self.deck_said(r);
            }
            A::Next => {
                let r = self.deck.skip();
                self.deck_said(r);
            }
            A::Previous => {
                let r = self.deck.previous();
                self.deck_said(r);
            }
            A::SeekForward | A::SeekBack => {
                let by = if action == A::SeekForward { 5.0 } else { -5.0 };
                let r = self.deck.seek_by(by);
                self.deck_said(r);
            }
            A::VolumeUp | A::VolumeDown => {
                let by = if action == A::VolumeUp { 5 } else { -5 };
                let r = self.deck.volume_by(by);
                self.deck_said(r);
            }
            A::Shuffle => {
                let r = self.deck.toggle_shuffle(!self.now.shuffle);
                self.deck_said(r);
            }
            A::Repeat => {
                let next = match self.now.repeat {
                    Repeat::Off => Repeat::All,
                    Repeat::All => Repeat::One,
                    Repeat::One => Repeat::Off,
                };
                let r = self.deck.set_repeat(next);
                self.deck_said(r);
            }
            A::Search => self.open_prompt(PromptKind::Search),
            A::SearchNext | A::SearchPrevious => match self.search.clone() {
                Some(q) => {
                    self.find(&q, false, action == A::SearchPrevious);
                }
                None if action == A::SearchNext => {
                    let r = self.deck.skip();
                    self.deck_said(r);
                }
                None => {}
            },
            A::Filter => self.open_prompt(PromptKind::Filter),
            A::Sort => {
                if self.view == View::Tracks {
                    self.open_prompt(PromptKind::Sort);
                } else {
                    self.say("sorting is for the track list (2)");
                }
            }
            A::Shelf => {
                if self.view == View::Library {
                    self.library.shelf = self.library.shelf.next();
                    self.library.headings = Column::default();
                    self.invalidate(false);
                }
            }
            A::Delete => self.queue_edit(QueueEdit::Delete),
            A::MoveUp => self.queue_edit(QueueEdit::Up),
            A::MoveDown => self.queue_edit(QueueEdit::Down),
            A::Clear => self.queue_edit(QueueEdit::Clear),
            A::ShuffleQueue => self.queue_edit(QueueEdit::Shuffle),
            A::Save => self.open_prompt(PromptKind::Save),
            A::Scan => self.start_scan(),
            A::Help => {
                self.help = true;
                self.help_top = 0;
            }
            A::Quit => return Flow::Quit,
        }
        Flow::Go
    }

    fn show(&mut self, view: View) {
        self.view = view;
        self.refresh_view();
    }

    fn move_by(&mut self, delta: isize) {
        match self.view {
            View::Library => {
                let l = &mut self.library;
                match l.focus {
                    0 => {
                        let sel = moved(l.headings.sel, l.headings.items.len(), delta);
                        if sel != l.headings.sel {
                            l.headings.sel = sel;
                            self.load_albums(None);
                        }
                    }
                    1 => {
                        let sel = moved(l.albums.sel, l.albums.items.len(), delta);
                        if sel != l.albums.sel {
                            l.albums.sel = sel;
                            self.load_album_tracks();
                        }
                    }
                    _ => l.tracks.sel = moved(l.tracks.sel, l.tracks.items.len(), delta),
                }
            }
            View::Tracks => {
                let len = self.tracks.ids.as_ref().map_or(0, Vec::len);
                self.tracks.sel = moved(self.tracks.sel, len, delta);
            }
            View::Playlists => {
                let p = &mut self.playlists;
                if p.focus == 0 {
                    let sel = moved(p.lists.sel, p.lists.items.len(), delta);
                    if sel != p.lists.sel {
                        p.lists.sel = sel;
                        self.load_entries();
                    }
                } else {
                    p.entries.sel = moved(p.entries.sel, p.entries.items.len(), delta);
                }
            }
            View::Queue => self.queue.sel = moved(self.queue.sel, self.queue.items.len(), delta),
            View::Problems => {
                self.problems.sel = moved(self.problems.sel, self.problems.items.len(), delta)
            }
        }
    }

    fn switch_column(&mut self, delta: isize) {
        match self.view {
            View::Library => {
                self.library.focus = (self.library.focus as isize + delta).rem_euclid(3) as usize
            }
            View::Playlists => self.playlists.focus = 1 - self.playlists.focus.min(1),
            _ => {}
        }
    }

    // ---- the selection into the queue ---------------------------------------------------------

    /// The tracks the selection stands for (full rows, as the player needs them), and which of
    /// them is selected.
    fn selection(&mut self) -> Option<(Vec<Track>, usize)> {
        match self.view {
            View::Library => {
                let l = &self.library;
                match l.focus {
                    0 => {
                        let heading = l.headings.selected()?.key.clone();
                        let albums = l.albums.items.clone();
                        let mut all = Vec::new();
                        for a in &albums {
                            let r = self.lib.album_tracks(
                                self.library.shelf,
                                &heading,
                                a,
                                self.filter_query(),
                                Members::All,
                            );
                            all.extend(self.db(r)?);
                            if all.len() >= QUEUE_CAP {
                                all.truncate(QUEUE_CAP);
                                break;
                            }
                        }
                        Some((all, 0))
                    }
                    1 => Some((l.tracks.items.clone(), 0)),
                    _ => {
                        l.tracks.selected()?;
                        Some((l.tracks.items.clone(), l.tracks.sel))
                    }
                }
            }
            View::Tracks => {
                let ids = self.tracks.ids.as_ref()?;
                let start = self.tracks.sel.min(ids.len());
                let end = (start + QUEUE_CAP).min(ids.len());
                let chosen = ids[start..end].to_vec();
                if chosen.is_empty() {
                    return None;
                }
                let r = self.lib.tracks_by_ids(&chosen);
                Some((self.db(r)?, 0))
            }
            View::Playlists => {
                let p = &self.playlists;
                p.lists.selected()?;
                let at = if p.focus == 0 {
                    0
                } else {
                    p.entries.selected()?;
                    p.entries.sel
                };
                // The entries hold the members shown; the player needs whole tracks. A list
                // longer than the queue takes is queued from the selected entry on.
                let ids: Vec<i64> = p.entries.items.iter().map(|t| t.id).collect();
                let (from, at) = if ids.len() <= QUEUE_CAP {
                    (0, at)
                } else {
                    (at, 0)
                };
                let end = (from + QUEUE_CAP).min(ids.len());
                let r = self.lib.tracks_by_ids(&ids[from..end]);
                Some((self.db(r)?, at))
            }
            View::Queue | View::Problems => None,
        }
    }

    fn play_selection(&mut self) {
        if self.view == View::Queue {
            if !self.queue.items.is_empty() {
                let r = self.deck.play_at(self.queue.sel);
                self.deck_said(r);
            }
            return;
        }
        let Some((tracks, start)) = self.selection() else {
            return;
        };
        if tracks.is_empty() {
            return;
        }
        let r = self.deck.replace(&tracks, start);
        self.deck_said(r);
    }

    fn enqueue_selection(&mut self, next: bool) {
        let Some((tracks, sel)) = self.selection() else {
            return;
        };
        // A single track when one is selected; the whole heading, album or playlist otherwise.
        let single = match self.view {
            View::Library => self.library.focus == 2,
            View::Tracks => true,
            View::Playlists => self.playlists.focus == 1,
            _ => false,
        };
        let chosen: Vec<Track> = if single {
            tracks.into_iter().skip(sel).take(1).collect()
        } else {
            tracks
        };
        if chosen.is_empty() {
            return;
        }
        let n = chosen.len();
        let r = self.deck.enqueue(&chosen, next);
        let ok = r.is_ok();
        self.deck_said(r);
        if ok {
            let where_ = if next { "to play next" } else { "to the queue" };
            self.say(format!(
                "added {n} track{} {where_}",
                if n == 1 { "" } else { "s" }
            ));
        }
    }

    fn queue_edit(&mut self, edit: QueueEdit) {
        if self.view != View::Queue {
            if edit != QueueEdit::Delete {
                self.say("queue edits are made in the queue (4)");
            }
            return;
        }
        let sel = self.queue.sel;
        let len = self.queue.items.len();
        let r = match edit {
            QueueEdit::Delete if len > 0 => self.deck.delete(sel),
            QueueEdit::Up if sel > 0 => {
                self.queue.sel -= 1;
                self.deck.move_entry(sel, sel - 1)
            }
            QueueEdit::Down if sel + 1 < len => {
                self.queue.sel += 1;
                self.deck.move_entry(sel, sel + 1)
            }
            QueueEdit::Clear => self.deck.clear(),
            QueueEdit::Shuffle => self.deck.shuffle_queue(),
            _ => return,
        };
        self.deck_said(r);
    }

    /// Whether a scan started from the UI runs (here, or in the attached service).
    pub fn scanning(&self) -> bool {
        self.scan.is_some() || self.remote_scan
    }

    fn start_scan(&mut self) {
        if self.scanning() {
            self.say("a scan is already running");
            return;
        }
        if self.deck.is_remote() {
            // The service scans, so every one of its clients hears of what changed.
            match self.deck.update() {
                Ok(()) => {
                    self.remote_scan = true;
                    self.say("tapedeck serve is scanning…");
                }
                Err(e) => self.complain(e.to_string()),
            }
            return;
        }
        let state = Arc::new(ScanState::default());
        let db_path = self.db_path.clone();
        let progress = state.clone();
        let spawned = std::thread::Builder::new()
            .name("tapedeck-ui-scan".into())
            .spawn(move || {
                let outcome = crate::scan::rescan_with(&db_path, now(), &*progress)
                    .map(|s| {
                        format!(
                            "scan: {} added, {} updated, {} moved, {} removed, {} problems",
                            s.added, s.updated, s.moved, s.removed, s.problems
                        )
                    })
                    .map_err(|e| format!("scan: {e}"));
                *progress.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                progress.done.store(true, Ordering::Release);
            });
        match spawned {
            Ok(_) => {
                self.scan = Some(state);
                self.say("scanning…");
            }
            Err(e) => self.complain(format!("cannot start a scan: {e}")),
        }
    }

    /// Called while a scan runs: its progress, and the views read again when it ends.
    pub fn poll_scan(&mut self) {
        if self.remote_scan {
            if !self.now.updating {
                self.remote_scan = false;
                self.invalidate(true);
                self.say("tapedeck serve has scanned the library");
            }
            return;
        }
        let Some(state) = self.scan.clone() else {
            return;
        };
        self.dirty = true;
        if !state.done.load(Ordering::Acquire) {
            let (seen, read, to_read) = (
                state.seen.load(Ordering::Relaxed),
                state.read.load(Ordering::Relaxed),
                state.to_read.load(Ordering::Relaxed),
            );
            self.say(if to_read > 0 {
                format!("scanning: {read}/{to_read} files read")
            } else {
                format!("scanning: {seen} files found")
            });
            return;
        }
        self.scan = None;
        let outcome = state
            .outcome
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.invalidate(true);
        self.deck.library_changed();
        match outcome {
            Some(Ok(text)) => self.say(text),
            Some(Err(text)) => self.complain(text),
            None => {}
        }
    }

    // ---- the prompt ----------------------------------------------------------------------------

    fn origin(&self) -> Origin {
        Origin {
            view: self.view,
            sel: match self.view {
                View::Library => vec![
                    self.library.headings.sel,
                    self.library.albums.sel,
                    self.library.tracks.sel,
                ],
                View::Tracks => vec![self.tracks.sel],
                View::Playlists => vec![self.playlists.lists.sel, self.playlists.entries.sel],
                View::Queue => vec![self.queue.sel],
                View::Problems => vec![self.problems.sel],
            },
        }
    }

    fn go_back(&mut self, o: &Origin) {
        if o.view != self.view {
            return;
        }
        match self.view {
            View::Library => {
                if self.library.headings.sel != o.sel[0] {
                    self.library.headings.sel = o.sel[0];
                    self.load_albums(None);
                }
                if self.library.albums.sel != o.sel[1] {
                    self.library.albums.sel = o.sel[1];
                    self.load_album_tracks();
                }
                self.library.tracks.sel = o.sel[2];
            }
            View::Tracks => self.tracks.sel = o.sel[0],
            View::Playlists => {
                if self.playlists.lists.sel != o.sel[0] {
                    self.playlists.lists.sel = o.sel[0];
                    self.load_entries();
                }
                self.playlists.entries.sel = o.sel[1];
            }
            View::Queue => self.queue.sel = o.sel[0],
            View::Problems => self.problems.sel = o.sel[0],
        }
    }

    fn open_prompt(&mut self, kind: PromptKind) {
        let text = match kind {
            PromptKind::Filter => self
                .filter
                .as_ref()
                .map(|(t, _)| t.clone())
                .unwrap_or_default(),
            PromptKind::Sort => self.tracks.sort_text.clone(),
            _ => String::new(),
        };
        self.prompt = Some(Prompt {
            kind,
            cursor: text.len(),
            text,
            error: None,
            missed: false,
            origin: (kind == PromptKind::Search).then(|| self.origin()),
            before: self.filter.clone(),
        });
    }

    fn prompt_key(&mut self, key: KeyEvent) {
        let Some(mut p) = self.prompt.take() else {
            return;
        };
        match key.code {
            KeyCode::Esc => {
                match p.kind {
                    PromptKind::Search => {
                        if let Some(o) = &p.origin {
                            self.go_back(o);
                        }
                        self.search = None;
                    }
                    PromptKind::Filter => {
                        let changed = p.before.as_ref().map(|(t, _)| t)
                            != self.filter.as_ref().map(|(t, _)| t);
                        self.filter = p.before.take();
                        if changed || self.filter_due.is_some() {
                            self.apply_filter();
                        }
                    }
                    _ => {}
                }
                return;
            }
            KeyCode::Enter => {
                self.confirm(p);
                return;
            }
            _ => {
                if super::line::edit(&mut p.text, &mut p.cursor, key) != super::line::Edit::Changed
                {
                    self.prompt = Some(p);
                    return;
                }
            }
        }
        self.typed(&mut p);
        self.prompt = Some(p);
    }

    /// What typing does as it happens: a search jumps, a filter applies.
    fn typed(&mut self, p: &mut Prompt) {
        p.error = None;
        p.missed = false;
        match p.kind {
            PromptKind::Search => {
                if p.text.trim().is_empty() {
                    if let Some(o) = p.origin.clone() {
                        self.go_back(&o);
                    }
                    self.search = None;
                    return;
                }
                match parse(&p.text) {
                    Ok(q) => {
                        if let Some(o) = p.origin.clone() {
                            self.go_back(&o);
                        }
                        p.missed = !self.find(&q, true, false);
                        self.search = Some(q);
                    }
                    Err(e) => p.error = Some(caret(&p.text, &e)),
                }
            }
            PromptKind::Filter => {
                if p.text.trim().is_empty() {
                    if self.filter.is_some() {
                        self.filter = None;
                        self.apply_filter();
                    }
                    return;
                }
                match parse(&p.text) {
                    Ok(q) => {
                        let slow =
                            self.filter_cost > SLOW_FILTER || crate::db::query::scans_every_row(&q);
                        self.filter = Some((p.text.clone(), q));
                        if slow {
                            self.filter_due = Some(Instant::now() + FILTER_SETTLE);
                        } else {
                            self.apply_filter();
                        }
                    }
                    Err(e) => p.error = Some(caret(&p.text, &e)),
                }
            }
            PromptKind::Sort => {
                if let Err(e) = query::parse_sort(&p.text) {
                    p.error = Some(caret(&p.text, &e));
                }
            }
            PromptKind::Save => {}
        }
    }

    fn confirm(&mut self, p: Prompt) {
        if self.filter_due.is_some() {
            self.apply_filter();
        }
        match p.kind {
            PromptKind::Search | PromptKind::Filter => {
                if let Some(e) = p.error {
                    self.prompt = Some(Prompt {
                        error: Some(e),
                        ..p
                    });
                    return;
                }
                if p.kind == PromptKind::Search && self.search.is_some() {
                    self.say("n and N go to the next and previous match; Esc ends the search");
                }
            }
            PromptKind::Sort => match query::parse_sort(&p.text) {
                Ok(sort) => {
                    self.tracks.sort = sort;
                    self.tracks.sort_text = p.text.trim().to_string();
                    self.load_tracks_view();
                }
                Err(e) => {
                    self.prompt = Some(Prompt {
                        error: Some(caret(&p.text, &e)),
                        ..p
                    });
                }
            },
            PromptKind::Save => {
                let name = p.text.trim();
                if name.is_empty() {
                    return;
                }
                let r = self.deck.save(name);
                match r {
                    Ok(()) => {
                        self.say(format!("saved the queue as {}", crate::text::escape(name)));
                        self.load_playlists();
                    }
                    Err(e) => self.complain(e.to_string()),
                }
            }
        }
    }

    // ---- searching -------------------------------------------------------------------------------

    /// Moves to the next match of `q` (the previous one when `back`); `here` counts the
    /// selection itself as a candidate (typing), otherwise the search starts after it.
    pub fn find(&mut self, q: &Query, here: bool, back: bool) -> bool {
        let found = match self.view {
            View::Library => self.find_in_library(q, here, back),
            View::Tracks => self.find_in_tracks(q, here, back),
            View::Playlists => {
                let focus = self.playlists.focus;
                if focus == 0 {
                    let needle = fold(&bare_text(q));
                    let names: Vec<bool> = self
                        .playlists
                        .lists
                        .items
                        .iter()
                        .map(|p| text_fold_contains(&p.name, &needle))
                        .collect();
                    let at = step(&names, self.playlists.lists.sel, here, back);
                    if let Some(i) = at {
                        self.playlists.lists.sel = i;
                        self.load_entries();
                    }
                    at.is_some()
                } else {
                    let ids: Vec<i64> = self.playlists.entries.items.iter().map(|t| t.id).collect();
                    let kept = self.matching(&ids, q);
                    let hits: Vec<bool> = ids.iter().map(|id| kept.contains(id)).collect();
                    let at = step(&hits, self.playlists.entries.sel, here, back);
                    if let Some(i) = at {
                        self.playlists.entries.sel = i;
                    }
                    at.is_some()
                }
            }
            View::Queue => {
                // Library tracks are matched in SQL (every field); other files by what the
                // queue knows of them.
                let ids: Vec<i64> = self.queue.items.iter().filter_map(|r| r.id).collect();
                let kept = self.matching(&ids, q);
                let hits: Vec<bool> = self
                    .queue
                    .items
                    .iter()
                    .map(|r| match r.id {
                        Some(id) => kept.contains(&id),
                        None => q.matches(&row_track(r)),
                    })
                    .collect();
                let at = step(&hits, self.queue.sel, here, back);
                if let Some(i) = at {
                    self.queue.sel = i;
                }
                at.is_some()
            }
            View::Problems => {
                let needle = fold(&bare_text(q));
                let hits: Vec<bool> = self
                    .problems
                    .items
                    .iter()
                    .map(|p| {
                        text_fold_contains(&p.path.to_string_lossy(), &needle)
                            || text_fold_contains(&p.reason, &needle)
                    })
                    .collect();
                let at = step(&hits, self.problems.sel, here, back);
                if let Some(i) = at {
                    self.problems.sel = i;
                }
                at.is_some()
            }
        };
        if found {
            if !here {
                self.message = None;
            }
        } else if !here {
            self.complain("no match");
        }
        found
    }

    /// Which of `ids` the query selects, asked of the library in steps.
    fn matching(&mut self, ids: &[i64], q: &Query) -> HashSet<i64> {
        let mut kept = HashSet::new();
        for chunk in ids.chunks(SEARCH_STEP * 8) {
            let r = self.lib.matching_among(chunk, q);
            match self.db(r) {
                Some(hits) => kept.extend(hits),
                None => break,
            }
        }
        kept
    }

    fn find_in_tracks(&mut self, q: &Query, here: bool, back: bool) -> bool {
        let combined = browse::both(self.filter_query(), Some(q)).expect("a query is given");
        let Some(ids) = self.tracks.ids.clone() else {
            return false;
        };
        let n = ids.len();
        if n == 0 {
            return false;
        }
        let start = self.tracks.sel.min(n - 1);
        // The rows just after the selection first: a common word matches there at once.
        let near: Vec<i64> = (0..SEARCH_STEP.min(n))
            .map(|k| offset(start, k, n, here, back))
            .map(|i| ids[i])
            .collect();
        let hits = self.lib.matching_among(&near, &combined);
        let Some(hits) = self.db(hits) else {
            return false;
        };
        let hits: HashSet<i64> = hits.into_iter().collect();
        if let Some(k) = near.iter().position(|id| hits.contains(id)) {
            self.tracks.sel = offset(start, k, n, here, back);
            return true;
        }
        if n <= SEARCH_STEP {
            return false;
        }
        let all = self.lib.matching_ids(&combined);
        let Some(all) = self.db(all) else {
            return false;
        };
        let all: HashSet<i64> = all.into_iter().collect();
        for k in SEARCH_STEP..n {
            let i = offset(start, k, n, here, back);
            if all.contains(&ids[i]) {
                self.tracks.sel = i;
                return true;
            }
        }
        false
    }

    fn find_in_library(&mut self, q: &Query, here: bool, back: bool) -> bool {
        let shelf = self.library.shelf;
        let combined = browse::both(self.filter_query(), Some(q)).expect("a query is given");
        let Some(current) = self.library.headings.selected().map(|h| h.key.clone()) else {
            return false;
        };
        // Within the selected heading: the matches in display order, and where we stand.
        let here_matches = self.lib.matches_under(shelf, &current, &combined);
        let Some(matches) = self.db(here_matches) else {
            return false;
        };
        let order = self.ordered(&matches);
        let cur_album = self.library.albums.sel;
        let cur_track = self.library.tracks.sel;
        let focus = self.library.focus;
        let pos_in_album = |app: &App, album: usize, id: i64| -> usize {
            if album == cur_album {
                app.library
                    .tracks
                    .items
                    .iter()
                    .position(|t| t.id == id)
                    .unwrap_or(usize::MAX)
            } else {
                0
            }
        };
        // Where the next match is depends on the column: the next heading from the headings,
        // the next album from the albums, the next track from the tracks.
        let candidate = if here {
            if back { order.last() } else { order.first() }.copied()
        } else if focus == 0 {
            None
        } else {
            let mut pick = None;
            let iter: Box<dyn Iterator<Item = &(usize, i64)>> = if back {
                Box::new(order.iter().rev())
            } else {
                Box::new(order.iter())
            };
            for &(album, id) in iter {
                let ahead = if focus == 1 {
                    if back {
                        album < cur_album
                    } else {
                        album > cur_album
                    }
                } else {
                    let key = (album, pos_in_album(self, album, id));
                    let cur = (cur_album, cur_track);
                    if back { key < cur } else { key > cur }
                };
                if ahead {
                    pick = Some((album, id));
                    break;
                }
            }
            pick
        };
        if let Some((album, id)) = candidate {
            self.select_album_track(album, id);
            return true;
        }
        // Another heading.
        let next = self
            .lib
            .next_heading(shelf, Some(&current), &combined, back);
        let Some(Some(key)) = self.db(next) else {
            return false;
        };
        let Some(h) = self
            .library
            .headings
            .items
            .iter()
            .position(|x| x.key == key)
        else {
            return false;
        };
        self.library.headings.sel = h;
        self.load_albums(None);
        let found = self.lib.matches_under(shelf, &key, &combined);
        let Some(found) = self.db(found) else {
            return false;
        };
        let order = self.ordered(&found);
        let pick = if back { order.last() } else { order.first() };
        match pick.copied() {
            Some((album, id)) => {
                self.select_album_track(album, id);
                true
            }
            None => false,
        }
    }

    /// Matches as (album index, track id), in the albums' display order.
    fn ordered(&self, found: &[browse::Found]) -> Vec<(usize, i64)> {
        // Albums are named by their artist (NOCASE, ASCII only) and folded title.
        let index: std::collections::HashMap<(String, &str), usize> = self
            .library
            .albums
            .items
            .iter()
            .enumerate()
            .map(|(i, a)| ((a.artist.to_ascii_lowercase(), a.key.as_str()), i))
            .collect();
        let mut out: Vec<(usize, i64)> = found
            .iter()
            .filter_map(|f| {
                index
                    .get(&(f.artist.to_ascii_lowercase(), f.album_key.as_str()))
                    .map(|&i| (i, f.id))
            })
            .collect();
        // Stable: within an album the matches keep the library's track order.
        out.sort_by_key(|&(album, _)| album);
        out
    }

    fn select_album_track(&mut self, album: usize, id: i64) {
        if self.library.albums.sel != album {
            self.library.albums.sel = album;
            self.load_album_tracks();
        }
        if let Some(i) = self.library.tracks.items.iter().position(|t| t.id == id) {
            self.library.tracks.sel = i;
        }
    }

    // ---- the mouse -------------------------------------------------------------------------------

    pub fn mouse(&mut self, m: MouseEvent) {
        // A second click on a row within this long plays it, as Enter does.
        const DOUBLE: Duration = Duration::from_millis(400);
        let click = matches!(m.kind, MouseEventKind::Down(_));
        let double = click
            && self
                .last_click
                .is_some_and(|(at, x, y)| at.elapsed() < DOUBLE && (x, y) == (m.column, m.row));
        self.last_click = click.then(|| (Instant::now(), m.column, m.row));
        let at = Position::new(m.column, m.row);
        let Some(&(area, spot)) = self.spots.iter().find(|(r, _)| r.contains(at)) else {
            return;
        };
        self.dirty = true;
        match (m.kind, spot) {
            (MouseEventKind::Down(_), Spot::Tab(v)) => {
                self.act(match v {
                    View::Library => UiAction::Library,
                    View::Tracks => UiAction::Tracks,
                    View::Playlists => UiAction::Playlists,
                    View::Queue => UiAction::Queue,
                    View::Problems => UiAction::Problems,
                });
            }
            (MouseEventKind::Down(_), Spot::Column(c)) => {
                self.focus_column(c);
                let row = (m.row - area.y) as usize;
                let (top, sel) = self.column_place(c);
                let target = top + row;
                self.move_by(target as isize - sel as isize);
                if double && self.column_place(c).1 == target {
                    self.act(UiAction::Play);
                }
            }
            (MouseEventKind::ScrollDown, Spot::Column(c)) => {
                self.focus_column(c);
                self.move_by(3);
            }
            (MouseEventKind::ScrollUp, Spot::Column(c)) => {
                self.focus_column(c);
                self.move_by(-3);
            }
            _ => {}
        }
    }

    fn focus_column(&mut self, c: usize) {
        match self.view {
            View::Library => self.library.focus = c.min(2),
            View::Playlists => self.playlists.focus = c.min(1),
            _ => {}
        }
    }

    /// The first row shown and the selected row of a column of the current view.
    fn column_place(&self, c: usize) -> (usize, usize) {
        fn place<T>(col: &Column<T>) -> (usize, usize) {
            (col.top, col.sel)
        }
        match (self.view, c) {
            (View::Library, 0) => place(&self.library.headings),
            (View::Library, 1) => place(&self.library.albums),
            (View::Library, _) => place(&self.library.tracks),
            (View::Tracks, _) => (self.tracks.top, self.tracks.sel),
            (View::Playlists, 0) => place(&self.playlists.lists),
            (View::Playlists, _) => place(&self.playlists.entries),
            (View::Queue, _) => place(&self.queue),
            (View::Problems, _) => place(&self.problems),
        }
    }
}

/// Which views' lists are out of date.
#[derive(Debug, Clone, Copy, Default)]
struct Stale {
    library: bool,
    tracks: bool,
    playlists: bool,
    problems: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueEdit {
    Delete,
    Up,
    Down,
    Clear,
    Shuffle,
}

fn parse(text: &str) -> Result<Query, QueryError> {
    query::parse_str(text, now())
}

/// A query error as the prompt shows it: the message and the character the caret points at.
fn caret(text: &str, e: &QueryError) -> (String, usize) {
    let part = e
        .text
        .get(e.offset..(e.offset + e.len).min(e.text.len()))
        .filter(|p| !p.is_empty());
    // The error's text is the terms joined by single spaces; find the part in what was typed.
    let byte = part
        .and_then(|p| text.find(p))
        .or_else(|| text.get(..e.offset).map(|_| e.offset))
        .unwrap_or(text.len());
    let mut message = e.message.clone();
    if let Some(hint) = &e.hint {
        message.push_str(" (");
        message.push_str(hint);
        message.push(')');
    }
    (message, text[..byte].chars().count())
}

/// The bare words of a query, for lists that are not tracks (playlist names, problems).
fn bare_text(q: &Query) -> String {
    q.groups
        .iter()
        .flatten()
        .filter_map(|t| match &t.cond {
            query::Cond::Bare(w) if !t.negated => Some(w.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A queue row as a track, for matching a query against it.
fn row_track(r: &QueueRow) -> Track {
    Track {
        title: r.title.clone(),
        artist: r.artist.clone(),
        artists: r.artist.iter().cloned().collect(),
        album: r.album.clone(),
        path: r.path.clone(),
        duration: r.duration,
        ..Track::default()
    }
}

/// The index `k` steps from `start` going forward (or back), wrapping; the first step is
/// `start` itself when `here`.
fn offset(start: usize, k: usize, n: usize, here: bool, back: bool) -> usize {
    let k = if here { k } else { k + 1 };
    if back {
        (start + n - (k % n)) % n
    } else {
        (start + k) % n
    }
}

/// The next index whose flag is set, from `sel` (inclusive when `here`), wrapping.
fn step(hits: &[bool], sel: usize, here: bool, back: bool) -> Option<usize> {
    let n = hits.len();
    (0..n)
        .map(|k| offset(sel.min(n.saturating_sub(1)), k, n, here, back))
        .find(|&i| hits[i])
}
