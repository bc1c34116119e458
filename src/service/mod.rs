//! The player service: one player (the engine, its queue of named entries, play history and the
//! remembered queue) that every front end drives through one interface: the foreground `play`,
//! `serve` with its MPD protocol and remote commands, MPRIS, and the full-screen UI.
//!
//! Commands are methods on [`Service`]; what changed reaches front ends as [`Changes`]
//! (coalesced, as protocol `idle` wants them, through a [`Subscription`]) and as the engine's
//! [`Event`]s (for displays, through [`Service::events`]). The engine runs only while something
//! plays: `stop` ends it, `play` starts a new one on the same queue. The queue's list is the
//! service's; every edit is handed to a running engine as one [`Command::Edit`], so what is
//! heard goes on without a gap unless it was itself removed.

pub mod items;
pub mod mpris;
pub mod resume;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::audio::Spec;
use crate::audio::gain;
use crate::clock::now;
use crate::db::{self, Library};
use crate::player::engine::{self, Command, Event, Options, Reply, Snapshot};
use crate::player::output::{Output, OutputError};
use crate::player::queue::{Item, Queue, Repeat, Shuffle, counts_as_played};

/// Makes the output a new engine plays through (the device, or memory in tests).
pub type OutputFactory = Arc<dyn Fn() -> Result<Box<dyn Output>, OutputError> + Send + Sync>;

/// How the service plays.
#[derive(Clone)]
pub struct Settings {
    pub gain: gain::Settings,
    pub volume: u8,
    /// Whether the gain `analyze` computed stands in for files' own tags.
    pub prefer_computed: bool,
    pub output: OutputFactory,
    pub seed: u64,
}

impl Settings {
    /// Settings that play into memory with no gain (for tests), and the samples played.
    #[cfg(test)]
    pub(crate) fn in_memory() -> (Settings, Arc<Mutex<Vec<f32>>>) {
        let out = crate::player::output::MemoryOutput::new();
        let samples = out.samples.clone();
        let settings = Settings {
            gain: gain::Settings {
                mode: gain::Mode::Off,
                ..gain::Settings::default()
            },
            volume: 100,
            prefer_computed: false,
            output: Arc::new(move || Ok(Box::new(out.clone()) as Box<dyn Output>)),
            seed: 1,
        };
        (settings, samples)
    }
}

/// The queue a service starts with.
#[derive(Debug, Clone, Default)]
pub struct Initial {
    pub items: Vec<Item>,
    /// The play order (indexes into `items`); `None` is the order of `items` (or a new shuffle).
    pub order: Option<Vec<usize>>,
    /// Position in the play order.
    pub cursor: usize,
    /// Seconds into the item at the cursor.
    pub position: f64,
    pub shuffle: Shuffle,
    pub repeat: Repeat,
    pub single: bool,
    pub consume: bool,
}

/// One queue entry: an item with the id clients name it by, and the queue version it last
/// changed in (for `plchanges`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u32,
    pub item: Item,
    pub version: u32,
    pub prio: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Stop,
    Play,
    Pause,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Stop => "stop",
            State::Play => "play",
            State::Pause => "pause",
        }
    }
}

/// The player as it is now.
#[derive(Debug, Clone)]
pub struct Status {
    pub state: State,
    pub volume: u8,
    pub repeat: Repeat,
    pub single: bool,
    pub consume: bool,
    pub shuffle: Shuffle,
    /// Changes with every edit of the queue.
    pub version: u32,
    pub length: usize,
    /// The current entry: its position in the list and its id.
    pub current: Option<(usize, u32)>,
    /// The entry that plays after it.
    pub next: Option<(usize, u32)>,
    pub elapsed: f64,
    pub duration: f64,
    pub gain_mode: gain::Mode,
    /// The current track's format as decoded.
    pub source: Option<Spec>,
    /// The last error (a file that could not be played, the output failing).
    pub error: Option<String>,
}

/// What changed, as MPD's `idle` names it: a set of flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changes(pub u32);

impl Changes {
    pub const PLAYER: Changes = Changes(1);
    pub const MIXER: Changes = Changes(2);
    pub const OPTIONS: Changes = Changes(4);
    pub const PLAYLIST: Changes = Changes(8);
    pub const DATABASE: Changes = Changes(16);
    pub const STORED_PLAYLIST: Changes = Changes(32);
    pub const STICKER: Changes = Changes(64);
    pub const UPDATE: Changes = Changes(128);
    pub const OUTPUT: Changes = Changes(256);

    /// Every subsystem with its protocol name.
    pub const NAMES: &[(Changes, &str)] = &[
        (Changes::DATABASE, "database"),
        (Changes::UPDATE, "update"),
        (Changes::STORED_PLAYLIST, "stored_playlist"),
        (Changes::PLAYLIST, "playlist"),
        (Changes::PLAYER, "player"),
        (Changes::MIXER, "mixer"),
        (Changes::OUTPUT, "output"),
        (Changes::OPTIONS, "options"),
        (Changes::STICKER, "sticker"),
    ];

    pub fn all() -> Changes {
        Changes(Changes::NAMES.iter().fold(0, |a, (c, _)| a | c.0))
    }

    pub fn contains(self, other: Changes) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: Changes) -> Changes {
        Changes(self.0 | other.0)
    }

    pub fn by_name(name: &str) -> Option<Changes> {
        Changes::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(c, _)| *c)
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Changes::NAMES
            .iter()
            .filter(move |(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
    }
}

/// A front end's view of what changed: flags gathered since it last took them, and a channel
/// that wakes it when new ones arrive.
pub struct Subscription {
    flags: Arc<AtomicU32>,
    wake: Receiver<()>,
}

impl Subscription {
    /// The changes since the last call (and clears them).
    pub fn take(&self) -> Changes {
        Changes(self.flags.swap(0, Ordering::AcqRel))
    }

    /// Gives changes back, to be taken again later (without waking anyone).
    pub fn put_back(&self, changes: Changes) {
        self.flags.fetch_or(changes.0, Ordering::AcqRel);
    }

    /// Receives (a unit) whenever changes arrive.
    pub fn wake(&self) -> &Receiver<()> {
        &self.wake
    }
}

struct Subscriber {
    flags: Arc<AtomicU32>,
    wake: Sender<()>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("No such song")]
    NoSuchSong,
    #[error("Bad song index")]
    BadPosition,
    #[error("{0}")]
    Output(String),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// A running engine and the number that tells its events from an earlier one's.
struct Running {
    commands: Sender<Command>,
    generation: u64,
}

enum Msg {
    /// An engine's event: its generation, its number among that engine's events (from 1),
    /// the event, and on the last one the engine's handle.
    Engine(u64, u64, Box<Event>, Option<engine::Handle>),
    Quit,
}

struct Inner {
    lib: Library,
    settings: Settings,
    entries: Vec<Entry>,
    next_id: u32,
    version: u32,
    /// The queue as the service knows it: items named by entry, the play order and cursor.
    /// While an engine runs, its own copy gets every edit too, and snapshots bring back where
    /// it is.
    queue: Queue,
    consume: bool,
    volume: u8,
    paused: bool,
    engine: Option<Running>,
    generation: u64,
    /// The current entry's id, the position in it and when that was true.
    current: Option<u32>,
    elapsed: f64,
    elapsed_at: Instant,
    duration: f64,
    source: Option<Spec>,
    error: Option<String>,
    output_failed: bool,
    /// How many of the running engine's events the last snapshot came after.
    synced_events: u64,
    /// Where the listener stopped: remembered for a resume, though `play` starts the track over.
    stopped_at: Option<f64>,
    /// The track that finishes next counts as skipped (the listener moved on).
    skipping: bool,
    /// The listener stopped: a queue that ends otherwise ran out.
    stop_asked: bool,
    dirty: bool,
    saved_at: Instant,
}

struct Shared {
    inner: Mutex<Inner>,
    subscribers: Mutex<Vec<Subscriber>>,
    listeners: Mutex<Vec<Sender<Event>>>,
    messages: Sender<Msg>,
    closed: AtomicBool,
}

/// A handle on the running service; clones drive the same player.
#[derive(Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

fn entry_items(entries: &[Entry]) -> Vec<Item> {
    entries
        .iter()
        .map(|e| {
            let mut item = e.item.clone();
            item.entry = e.id;
            item
        })
        .collect()
}

impl Service {
    /// Starts the service (stopped) on a queue; `lib` is where history and the remembered queue
    /// are written.
    pub fn start(lib: Library, settings: Settings, initial: Initial) -> Service {
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut entries = Vec::with_capacity(initial.items.len());
        for (n, item) in initial.items.into_iter().enumerate() {
            entries.push(Entry {
                id: n as u32 + 1,
                item,
                version: 1,
                prio: 0,
            });
        }
        let items = entry_items(&entries);
        let queue = match initial.order {
            Some(order) => Queue::restore(
                items,
                order,
                initial.cursor,
                initial.shuffle,
                initial.repeat,
                settings.seed,
            ),
            None => {
                let mut q = Queue::new(items, initial.shuffle, initial.repeat, settings.seed);
                let first = q.play_order().get(initial.cursor).copied();
                if let Some(i) = first {
                    q.jump_to_item(i);
                }
                q
            }
        };
        let mut queue = queue;
        queue.single = initial.single;
        let current = queue.current().map(|(_, item)| item.entry);
        let inner = Inner {
            lib,
            volume: settings.volume.min(100),
            settings,
            next_id: entries.len() as u32 + 1,
            entries,
            version: 1,
            queue,
            consume: initial.consume,
            paused: false,
            engine: None,
            generation: 0,
            current,
            elapsed: initial.position,
            elapsed_at: Instant::now(),
            duration: 0.0,
            source: None,
            error: None,
            output_failed: false,
            stopped_at: None,
            synced_events: 0,
            skipping: false,
            stop_asked: false,
            dirty: false,
            saved_at: Instant::now(),
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            subscribers: Mutex::default(),
            listeners: Mutex::default(),
            messages: tx,
            closed: AtomicBool::new(false),
        });
        let service = Service { shared };
        let pump = service.clone();
        thread::Builder::new()
            .name("tapedeck-service".into())
            .spawn(move || pump.pump(rx))
            .expect("spawn service thread");
        service
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells subscribers what changed.
    fn notify(&self, changes: Changes) {
        if changes.is_empty() {
            return;
        }
        let mut subs = self
            .shared
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| {
            s.flags.fetch_or(changes.0, Ordering::AcqRel);
            !matches!(
                s.wake.try_send(()),
                Err(crossbeam_channel::TrySendError::Disconnected(_))
            )
        });
    }

    /// Also tells subscribers: for what changed outside the player (a scan, stored playlists,
    /// stickers).
    pub fn changed(&self, changes: Changes) {
        self.notify(changes);
    }

    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let flags = Arc::new(AtomicU32::new(0));
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                flags: flags.clone(),
                wake: tx,
            });
        Subscription { flags, wake: rx }
    }

    /// Every engine event from now on (tracks starting, positions, per-file errors), for a
    /// display.
    pub fn events(&self) -> Receiver<Event> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.shared
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(tx);
        rx
    }

    /// Runs `f` on the library connection the service writes through (history, ratings).
    pub fn with_library<T>(&self, f: impl FnOnce(&mut Library) -> T) -> T {
        f(&mut self.lock().lib)
    }

    // ---- reading -------------------------------------------------------------------------

    pub fn status(&self) -> Status {
        let inner = self.lock();
        let state = match (&inner.engine, inner.paused) {
            (None, _) => State::Stop,
            (Some(_), true) => State::Pause,
            (Some(_), false) => State::Play,
        };
        let current = inner
            .current
            .and_then(|id| inner.position_of(id).map(|p| (p, id)));
        let next = current.and_then(|(pos, _)| inner.after(pos));
        let mut elapsed = inner.elapsed;
        if state == State::Play {
            elapsed += inner.elapsed_at.elapsed().as_secs_f64();
            if inner.duration > 0.0 {
                elapsed = elapsed.min(inner.duration);
            }
        }
        let duration = match current {
            Some((pos, _)) if inner.duration <= 0.0 || state == State::Stop => {
                inner.entries[pos].item.duration
            }
            _ => inner.duration,
        };
        Status {
            state,
            volume: inner.volume,
            repeat: inner.queue.repeat,
            single: inner.queue.single,
            consume: inner.consume,
            shuffle: inner.queue.shuffle(),
            version: inner.version,
            length: inner.entries.len(),
            current,
            next,
            elapsed,
            duration,
            gain_mode: inner.settings.gain.mode,
            source: inner.source.filter(|_| state != State::Stop),
            error: inner.error.clone(),
        }
    }

    /// The queue's entries in list order.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Runs `f` on the entries without copying them.
    pub fn with_entries<T>(&self, f: impl FnOnce(&[Entry]) -> T) -> T {
        f(&self.lock().entries)
    }

    pub fn clear_error(&self) {
        self.lock().error = None;
    }

    // ---- queue edits ---------------------------------------------------------------------

    /// Adds items at a position in the list (the end when `None`); returns their ids.
    pub fn add(&self, items: Vec<Item>, at: Option<usize>) -> Result<Vec<u32>, ServiceError> {
        let mut inner = self.lock();
        let len = inner.entries.len();
        let at = at.unwrap_or(len);
        if at > len {
            return Err(ServiceError::BadPosition);
        }
        let version = inner.version + 1;
        let mut ids = Vec::with_capacity(items.len());
        let mut new = Vec::with_capacity(items.len());
        for item in items {
            let id = inner.next_id;
            inner.next_id += 1;
            ids.push(id);
            new.push(Entry {
                id,
                item,
                version,
                prio: 0,
            });
        }
        let mut entries = std::mem::take(&mut inner.entries);
        let n = new.len();
        entries.splice(at..at, new);
        let map: Vec<Option<usize>> = (0..len)
            .map(|i| Some(if i < at { i } else { i + n }))
            .collect();
        // Entries after the insertion point moved: they changed for `plchanges`.
        for e in entries.iter_mut().skip(at) {
            e.version = version;
        }
        drop(inner);
        self.apply_edit(entries, map, true);
        Ok(ids)
    }

    /// Removes the entries at list positions `start..end`.
    pub fn delete(&self, start: usize, end: usize) -> Result<(), ServiceError> {
        let mut inner = self.lock();
        let len = inner.entries.len();
        if start >= end || end > len {
            return Err(ServiceError::BadPosition);
        }
        let version = inner.version + 1;
        let mut entries = std::mem::take(&mut inner.entries);
        entries.drain(start..end);
        for e in entries.iter_mut().skip(start) {
            e.version = version;
        }
        let n = end - start;
        let map: Vec<Option<usize>> = (0..len)
            .map(|i| match i {
                _ if i < start => Some(i),
                _ if i < end => None,
                _ => Some(i - n),
            })
            .collect();
        drop(inner);
        self.apply_edit(entries, map, true);
        Ok(())
    }

    pub fn delete_id(&self, id: u32) -> Result<(), ServiceError> {
        let pos = self.position_of(id)?;
        self.delete(pos, pos + 1)
    }

    pub fn clear(&self) {
        let len = self.lock().entries.len();
        if len > 0 {
            let _ = self.delete(0, len);
        }
    }

    /// Moves the entries at `start..end` so the first lands at position `to` of the result.
    pub fn move_range(&self, start: usize, end: usize, to: usize) -> Result<(), ServiceError> {
        let inner = self.lock();
        let len = inner.entries.len();
        if start >= end || end > len || to + (end - start) > len {
            return Err(ServiceError::BadPosition);
        }
        let mut order: Vec<usize> = (0..len).collect();
        let moved: Vec<usize> = order.drain(start..end).collect();
        order.splice(to..to, moved);
        drop(inner);
        self.permute(&order);
        Ok(())
    }

    pub fn move_id(&self, id: u32, to: usize) -> Result<(), ServiceError> {
        let pos = self.position_of(id)?;
        self.move_range(pos, pos + 1, to)
    }

    pub fn swap(&self, a: usize, b: usize) -> Result<(), ServiceError> {
        let len = self.lock().entries.len();
        if a >= len || b >= len {
            return Err(ServiceError::BadPosition);
        }
        let mut order: Vec<usize> = (0..len).collect();
        order.swap(a, b);
        self.permute(&order);
        Ok(())
    }

    pub fn swap_id(&self, a: u32, b: u32) -> Result<(), ServiceError> {
        let (a, b) = (self.position_of(a)?, self.position_of(b)?);
        self.swap(a, b)
    }

    /// Shuffles the list's entries at `start..end` (MPD's `shuffle`: the list itself changes).
    pub fn shuffle_list(&self, start: usize, end: usize) -> Result<(), ServiceError> {
        let mut inner = self.lock();
        let len = inner.entries.len();
        if start > end || end > len {
            return Err(ServiceError::BadPosition);
        }
        let mut order: Vec<usize> = (0..len).collect();
        let mut rng =
            crate::player::queue::Rng::new(inner.settings.seed ^ u64::from(inner.version));
        inner.settings.seed = inner
            .settings
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1);
        rng.shuffle(&mut order[start..end]);
        drop(inner);
        self.permute(&order);
        Ok(())
    }

    /// Sets the priority of entries (kept and reported; the play order does not use it).
    pub fn set_prio(&self, prio: u8, ids: &[u32]) -> Result<(), ServiceError> {
        let mut inner = self.lock();
        for id in ids {
            inner.position_of(*id).ok_or(ServiceError::NoSuchSong)?;
        }
        inner.version += 1;
        let version = inner.version;
        for e in inner.entries.iter_mut() {
            if ids.contains(&e.id) {
                e.prio = prio;
                e.version = version;
            }
        }
        drop(inner);
        self.notify(Changes::PLAYLIST);
        Ok(())
    }

    fn position_of(&self, id: u32) -> Result<usize, ServiceError> {
        self.lock().position_of(id).ok_or(ServiceError::NoSuchSong)
    }

    /// Reorders the list: `order[new] = old`.
    fn permute(&self, order: &[usize]) {
        let mut inner = self.lock();
        let version = inner.version + 1;
        let old = std::mem::take(&mut inner.entries);
        let mut map = vec![None; old.len()];
        let mut entries = Vec::with_capacity(old.len());
        for (new, &o) in order.iter().enumerate() {
            map[o] = Some(new);
            let mut e = old[o].clone();
            if o != new {
                e.version = version;
            }
            entries.push(e);
        }
        drop(inner);
        self.apply_edit(entries, map, true);
    }

    /// Puts a new list in place, in the service's queue and a running engine's.
    fn apply_edit(&self, entries: Vec<Entry>, map: Vec<Option<usize>>, bump: bool) {
        let mut inner = self.lock();
        if bump {
            inner.version += 1;
        }
        let items = entry_items(&entries);
        inner.entries = entries;
        inner.queue.edit(items.clone(), &map);
        if let Some(current) = inner.current
            && inner.position_of(current).is_none()
        {
            // The current entry was removed: what follows it is current now.
            inner.current = inner.queue.current().map(|(_, i)| i.entry);
            inner.elapsed = 0.0;
        }
        if let Some(running) = &inner.engine {
            let _ = running.commands.send(Command::Edit { items, map });
            inner.sync();
        }
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::PLAYLIST.union(Changes::PLAYER));
    }

    // ---- transport -----------------------------------------------------------------------

    /// Plays from list position `pos` (or, without one, goes on: unpauses, or starts the
    /// current entry where it was).
    pub fn play(&self, pos: Option<usize>) -> Result<(), ServiceError> {
        let mut inner = self.lock();
        match pos {
            Some(p) if p >= inner.entries.len() => return Err(ServiceError::BadPosition),
            Some(p) => {
                if inner.engine.is_some() {
                    inner.skipping = true;
                    inner.send(Command::SetPaused(false));
                    inner.send(Command::Jump(p));
                    inner.sync();
                    drop(inner);
                    self.notify(Changes::PLAYER);
                    return Ok(());
                }
                inner.queue.jump_to_item(p);
                inner.current = Some(inner.entries[p].id);
                inner.elapsed = 0.0;
            }
            None => {
                if inner.engine.is_some() {
                    inner.send(Command::SetPaused(false));
                    inner.sync();
                    return Ok(());
                }
                if inner.entries.is_empty() {
                    return Ok(());
                }
                match inner.current.and_then(|id| inner.position_of(id)) {
                    Some(p) => {
                        inner.queue.jump_to_item(p);
                    }
                    None => {
                        let first = inner.queue.play_order().first().copied().unwrap_or(0);
                        inner.queue.jump_to_item(first);
                        inner.current = Some(inner.entries[first].id);
                        inner.elapsed = 0.0;
                    }
                }
            }
        }
        let at = inner.elapsed;
        self.start_engine(&mut inner, at)?;
        drop(inner);
        self.notify(Changes::PLAYER);
        Ok(())
    }

    pub fn play_id(&self, id: Option<u32>) -> Result<(), ServiceError> {
        match id {
            Some(id) => {
                let pos = self.position_of(id)?;
                self.play(Some(pos))
            }
            None => self.play(None),
        }
    }

    fn start_engine(&self, inner: &mut Inner, at: f64) -> Result<(), ServiceError> {
        let output = (inner.settings.output)().map_err(|e| ServiceError::Output(e.0))?;
        let options = Options {
            gain: inner.settings.gain,
            start_at: at,
            volume: inner.volume,
        };
        let mut queue = inner.queue.clone();
        queue.single = inner.queue.single;
        let handle = engine::start(queue, output, options);
        inner.generation += 1;
        let generation = inner.generation;
        inner.engine = Some(Running {
            commands: handle.commands.clone(),
            generation,
        });
        inner.paused = false;
        inner.stop_asked = false;
        inner.error = None;
        inner.output_failed = false;
        inner.stopped_at = None;
        inner.synced_events = 0;
        inner.elapsed_at = Instant::now();
        // Forward this engine's events, tagged with its generation; the last one carries the
        // handle so the service can join the thread.
        let events = handle.events.clone();
        let messages = self.shared.messages.clone();
        thread::Builder::new()
            .name("tapedeck-events".into())
            .spawn(move || {
                let mut handle = Some(handle);
                let mut number = 0;
                while let Ok(event) = events.recv() {
                    number += 1;
                    let ended = matches!(event, Event::Ended);
                    let h = if ended { handle.take() } else { None };
                    let msg = Msg::Engine(generation, number, Box::new(event), h);
                    if messages.send(msg).is_err() || ended {
                        break;
                    }
                }
            })
            .map_err(|e| ServiceError::Output(format!("cannot start the player: {e}")))?;
        Ok(())
    }

    /// Pauses (`Some(true)`), unpauses (`Some(false)`) or toggles.
    pub fn pause(&self, paused: Option<bool>) {
        let mut inner = self.lock();
        if inner.engine.is_none() {
            if paused == Some(false) || (paused.is_none()) {
                drop(inner);
                let _ = self.play(None);
            }
            return;
        }
        let p = paused.unwrap_or(!inner.paused);
        inner.send(Command::SetPaused(p));
        inner.paused = p;
        if p {
            let now = inner.elapsed + inner.elapsed_at.elapsed().as_secs_f64();
            inner.elapsed = now.min(if inner.duration > 0.0 {
                inner.duration
            } else {
                now
            });
        }
        inner.elapsed_at = Instant::now();
        drop(inner);
        self.notify(Changes::PLAYER);
    }

    pub fn stop(&self) {
        let mut inner = self.lock();
        if inner.engine.is_some() {
            inner.stop_asked = true;
            inner.sync();
            inner.send(Command::Stop);
            inner.stopped_at = Some(inner.elapsed);
            inner.engine = None;
            inner.paused = false;
            inner.elapsed = 0.0;
            inner.dirty = true;
        }
        drop(inner);
        self.notify(Changes::PLAYER);
    }

    pub fn next(&self) {
        let mut inner = self.lock();
        if inner.engine.is_none() {
            return;
        }
        inner.skipping = true;
        inner.send(Command::Next);
        inner.sync();
        drop(inner);
        self.notify(Changes::PLAYER);
    }

    pub fn previous(&self) {
        let mut inner = self.lock();
        if inner.engine.is_none() {
            return;
        }
        inner.skipping = true;
        inner.send(Command::Previous);
        inner.sync();
        drop(inner);
        self.notify(Changes::PLAYER);
    }

    /// Seeks in the entry at list position `pos` (which becomes current).
    pub fn seek(&self, pos: usize, secs: f64) -> Result<(), ServiceError> {
        let mut inner = self.lock();
        if pos >= inner.entries.len() {
            return Err(ServiceError::BadPosition);
        }
        let id = inner.entries[pos].id;
        if inner.current != Some(id) || inner.engine.is_none() {
            if inner.engine.is_some() {
                inner.skipping = true;
                inner.send(Command::Jump(pos));
                inner.send(Command::SeekTo(secs.max(0.0)));
                inner.sync();
            } else {
                inner.queue.jump_to_item(pos);
                inner.current = Some(id);
                self.start_engine(&mut inner, secs.max(0.0))?;
            }
        } else {
            inner.send(Command::SeekTo(secs.max(0.0)));
            inner.sync();
        }
        drop(inner);
        self.notify(Changes::PLAYER);
        Ok(())
    }

    pub fn seek_id(&self, id: u32, secs: f64) -> Result<(), ServiceError> {
        let pos = self.position_of(id)?;
        self.seek(pos, secs)
    }

    /// Seeks in the current entry: to `secs`, or by it when `relative`.
    pub fn seek_current(&self, secs: f64, relative: bool) -> Result<(), ServiceError> {
        let status = self.status();
        let Some((pos, _)) = status.current else {
            return Err(ServiceError::NoSuchSong);
        };
        let to = if relative {
            status.elapsed + secs
        } else {
            secs
        };
        self.seek(pos, to.max(0.0))
    }

    pub fn set_volume(&self, volume: u8) {
        let mut inner = self.lock();
        let v = volume.min(100);
        inner.volume = v;
        inner.send(Command::SetVolume(v));
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::MIXER);
    }

    pub fn volume_by(&self, delta: i16) {
        let v = (i16::from(self.lock().volume) + delta).clamp(0, 100) as u8;
        self.set_volume(v);
    }

    pub fn set_shuffle(&self, shuffle: Shuffle) {
        let mut inner = self.lock();
        if inner.queue.shuffle() == shuffle {
            return;
        }
        let playing = inner.current.is_some() && inner.engine.is_some();
        inner.queue.set_shuffle(shuffle, playing);
        inner.send(Command::SetShuffle(shuffle));
        inner.sync();
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::OPTIONS);
    }

    pub fn set_repeat(&self, repeat: Repeat) {
        let mut inner = self.lock();
        inner.queue.repeat = repeat;
        inner.send(Command::SetRepeat(repeat));
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::OPTIONS);
    }

    pub fn set_single(&self, single: bool) {
        let mut inner = self.lock();
        inner.queue.single = single;
        inner.send(Command::SetSingle(single));
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::OPTIONS);
    }

    pub fn set_consume(&self, consume: bool) {
        let mut inner = self.lock();
        inner.consume = consume;
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::OPTIONS);
    }

    pub fn set_gain_mode(&self, mode: gain::Mode) {
        let mut inner = self.lock();
        inner.settings.gain.mode = mode;
        inner.send(Command::SetGainMode(mode));
        inner.dirty = true;
        drop(inner);
        self.notify(Changes::OPTIONS);
    }

    /// Passes a command from a key binding on, with the service's bookkeeping.
    pub fn command(&self, command: Command) {
        match command {
            Command::TogglePause => self.pause(None),
            Command::SetPaused(p) => self.pause(Some(p)),
            Command::SeekBy(d) => {
                let _ = self.seek_current(d, true);
            }
            Command::SeekTo(t) => {
                let _ = self.seek_current(t, false);
            }
            Command::Next => self.next(),
            Command::Previous => self.previous(),
            Command::SetVolume(v) => self.set_volume(v),
            Command::VolumeBy(d) => self.volume_by(i16::from(d)),
            Command::ToggleShuffle => {
                let s = match self.lock().queue.shuffle() {
                    Shuffle::Off => Shuffle::Tracks,
                    _ => Shuffle::Off,
                };
                self.set_shuffle(s);
            }
            Command::SetShuffle(s) => self.set_shuffle(s),
            Command::CycleRepeat => {
                let r = self.lock().queue.repeat.cycle();
                self.set_repeat(r);
            }
            Command::SetRepeat(r) => self.set_repeat(r),
            Command::Enqueue(item) => {
                let _ = self.add(vec![item], None);
            }
            Command::Remove(index) => {
                let _ = self.delete(index, index + 1);
            }
            Command::Jump(index) => {
                let _ = self.play(Some(index));
            }
            Command::SetSingle(s) => self.set_single(s),
            Command::SetGainMode(m) => self.set_gain_mode(m),
            Command::Edit { .. } | Command::Snapshot(_) => {}
            Command::Stop => self.stop(),
        }
    }

    /// Stops playback, remembers the queue and ends the service thread.
    pub fn shutdown(&self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut inner = self.lock();
        if inner.engine.is_some() {
            inner.sync();
            inner.stop_asked = true;
            inner.send(Command::Stop);
            inner.stopped_at = Some(inner.elapsed);
            inner.engine = None;
        }
        inner.save();
        drop(inner);
        let _ = self.shared.messages.send(Msg::Quit);
    }

    /// Handles engine events until told to quit; saves the remembered queue now and then.
    fn pump(&self, rx: Receiver<Msg>) {
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Msg::Engine(generation, number, event, handle)) => {
                    self.on_event(generation, number, &event);
                    self.shared
                        .listeners
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .retain(|l| l.send((*event).clone()).is_ok());
                    if let Some(h) = handle {
                        h.join();
                    }
                }
                Ok(Msg::Quit) => return,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    let mut inner = self.lock();
                    if inner.dirty && inner.saved_at.elapsed() > Duration::from_secs(2) {
                        inner.save();
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn on_event(&self, generation: u64, number: u64, event: &Event) {
        let mut inner = self.lock();
        let ours = inner
            .engine
            .as_ref()
            .is_some_and(|r| r.generation == generation);
        // A snapshot taken after this event already told where the engine is.
        let stale = ours && number <= inner.synced_events;
        let mut changes = Changes::default();
        match event {
            Event::Started {
                item, source, at, ..
            } if ours => {
                if !stale {
                    inner.current = Some(item.entry).filter(|&e| inner.position_of(e).is_some());
                    inner.elapsed = *at;
                    inner.elapsed_at = Instant::now();
                }
                // A stale start of another track than the current one says nothing now.
                if inner.current == Some(item.entry) {
                    inner.duration = item.duration;
                    inner.source = Some(*source);
                }
                inner.sync_cursor();
                inner.save();
                changes = Changes::PLAYER;
            }
            Event::Position { secs, duration, .. } if ours && !stale => {
                inner.elapsed = *secs;
                inner.elapsed_at = Instant::now();
                if *duration > 0.0 {
                    inner.duration = *duration;
                }
            }
            Event::Finished {
                item,
                heard,
                finished,
                ..
            } => {
                let skipped = std::mem::take(&mut inner.skipping);
                if let Some(id) = item.id {
                    let played = counts_as_played(*heard, item.duration, *finished);
                    let now = now();
                    let _ = inner.lib.write(|w| {
                        if played {
                            w.record_play(id, now)
                        } else if skipped {
                            w.record_skip(id)
                        } else {
                            Ok(())
                        }
                    });
                    changes = changes.union(Changes::STICKER);
                }
                if inner.consume
                    && !inner.stop_asked
                    && ours
                    && let Some(pos) = inner.position_of(item.entry)
                {
                    drop(inner);
                    let _ = self.delete(pos, pos + 1);
                    inner = self.lock();
                }
            }
            Event::Error { message, path } if ours => {
                inner.error = Some(format!("{}: {message}", path.display()));
                changes = Changes::PLAYER;
            }
            Event::Paused(p) if ours => {
                inner.paused = *p;
                changes = Changes::PLAYER;
            }
            Event::Volume(v) if ours => {
                inner.volume = *v;
                changes = Changes::MIXER;
            }
            Event::Modes { .. } if ours => {
                changes = Changes::OPTIONS;
            }
            Event::OutputFailed(m) if ours => {
                inner.error = Some(m.clone());
                inner.output_failed = true;
                changes = Changes::PLAYER;
            }
            Event::Ended if ours => {
                inner.engine = None;
                inner.paused = false;
                if !inner.stop_asked && !inner.output_failed {
                    // Ran out: the next `play` starts the queue over.
                    let first = inner.queue.play_order().first().copied();
                    if let Some(first) = first {
                        inner.queue.jump_to_item(first);
                    }
                    inner.current = None;
                }
                inner.elapsed = 0.0;
                inner.save();
                changes = Changes::PLAYER;
            }
            _ => {}
        }
        drop(inner);
        self.notify(changes);
    }
}

impl Inner {
    fn position_of(&self, id: u32) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// The entry that plays after list position `pos`.
    fn after(&self, pos: usize) -> Option<(usize, u32)> {
        let next = self.queue.natural_after(pos)?;
        self.entries.get(next).map(|e| (next, e.id))
    }

    fn send(&self, command: Command) {
        if let Some(r) = &self.engine {
            let _ = r.commands.send(command);
        }
    }

    /// Asks the engine where it is and takes that as the truth: the current entry, the
    /// position, pause, volume and the play order.
    fn sync(&mut self) {
        let Some(r) = &self.engine else { return };
        let (tx, rx) = crossbeam_channel::bounded(1);
        if r.commands.send(Command::Snapshot(Reply(tx))).is_err() {
            return;
        }
        let Ok(snap) = rx.recv_timeout(Duration::from_secs(2)) else {
            return;
        };
        self.take_snapshot(snap);
    }

    fn take_snapshot(&mut self, snap: Snapshot) {
        self.synced_events = snap.events;
        if let Some((index, at)) = snap.current
            && let Some(e) = self.entries.get(index)
        {
            let id = e.id;
            if self.current != Some(id) {
                self.duration = e.item.duration;
            }
            self.current = Some(id);
            self.elapsed = at;
            self.elapsed_at = Instant::now();
        }
        self.paused = snap.paused;
        self.volume = snap.volume;
        let cursor = snap
            .current
            .and_then(|(i, _)| snap.order.iter().position(|&o| o == i))
            .unwrap_or(0);
        self.queue
            .adopt(snap.order, cursor, snap.shuffle, snap.repeat);
        self.queue.single = snap.single;
    }

    /// Puts the service's cursor on the current entry.
    fn sync_cursor(&mut self) {
        if let Some(pos) = self.current.and_then(|id| self.position_of(id)) {
            self.queue.jump_to_item(pos);
        }
    }

    /// Remembers the queue for a later resume.
    fn save(&mut self) {
        self.dirty = false;
        self.saved_at = Instant::now();
        let order = self.queue.play_order().to_vec();
        let index = self
            .current
            .and_then(|id| self.position_of(id))
            .and_then(|p| order.iter().position(|&o| o == p))
            .unwrap_or(0);
        let position = if let (None, Some(at)) = (&self.engine, self.stopped_at) {
            at
        } else if self.current.is_some() {
            let mut e = self.elapsed;
            if self.engine.is_some() && !self.paused {
                e += self.elapsed_at.elapsed().as_secs_f64();
            }
            e
        } else {
            0.0
        };
        let saved = resume::Saved {
            paths: self.entries.iter().map(|e| e.item.path.clone()).collect(),
            index,
            position,
            repeat: self.queue.repeat.name().to_string(),
            order: Some(order),
            shuffle: Some(self.queue.shuffle().name().to_string()),
            volume: Some(self.volume),
            replaygain: Some(self.settings.gain.mode),
            single: self.queue.single,
            consume: self.consume,
        };
        if let Ok(json) = serde_json::to_string(&saved) {
            let now = now();
            let _ = self.lib.write(|w| w.save_player_state(&json, now));
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = &inner.engine {
            let _ = r.commands.send(Command::Stop);
        }
    }
}

#[cfg(test)]
mod tests;
