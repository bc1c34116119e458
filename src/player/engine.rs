//! The playback engine: one thread that decodes ahead, applies gain and volume, converts to
//! what the output runs at, and writes one continuous stream, so consecutive tracks join
//! sample-exactly. It takes a closed set of [`Command`]s and reports [`Event`]s; it never
//! touches the library or the terminal.
//!
//! The decode head runs ahead of what is heard by the output's buffer. Every stretch of output
//! belonging to one track is a [`Segment`]; comparing the output's played-frame counter with
//! the segments tells which track is audible, where in it, and how much of it was heard.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::output::{Output, OutputError};
use super::queue::{Item, Queue, Repeat, Shuffle};
use crate::audio::Spec;
use crate::audio::decode::Decoder;
use crate::audio::gain::{self, Applied};
use crate::audio::resample::Resampler;

/// What the engine can be asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    TogglePause,
    SetPaused(bool),
    /// Seconds relative to the current position.
    SeekBy(f64),
    /// Seconds from the start of the current track.
    SeekTo(f64),
    Next,
    Previous,
    /// Volume in percent (0-100).
    SetVolume(u8),
    VolumeBy(i8),
    ToggleShuffle,
    SetShuffle(Shuffle),
    CycleRepeat,
    SetRepeat(Repeat),
    Enqueue(Item),
    /// Removes the queue item with this index.
    Remove(usize),
    /// Plays the queue item with this index now.
    Jump(usize),
    /// The queue's list was edited: `items` is the new list and `map[old]` where each old
    /// item is now (`None`: removed). What plays goes on unless it was removed.
    Edit {
        items: Vec<Item>,
        map: Vec<Option<usize>>,
    },
    /// Stop after the current item (without repeat).
    SetSingle(bool),
    /// The ReplayGain mode for the tracks decoded from now on.
    SetGainMode(gain::Mode),
    /// Answers with what the engine is doing, once the commands before it are applied.
    Snapshot(Reply),
    Stop,
}

/// Where a [`Snapshot`] goes.
#[derive(Debug, Clone)]
pub struct Reply(pub Sender<Snapshot>);

impl PartialEq for Reply {
    fn eq(&self, other: &Reply) -> bool {
        self.0.same_channel(&other.0)
    }
}

/// What the engine is doing, as asked by [`Command::Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The queue item heard now, or about to be (after a skip, before its first sample is
    /// heard), and the position in it in seconds.
    pub current: Option<(usize, f64)>,
    pub paused: bool,
    pub volume: u8,
    pub shuffle: Shuffle,
    pub repeat: Repeat,
    pub single: bool,
    /// The play order (indexes into the queue's items).
    pub order: Vec<usize>,
    /// How many events the engine had sent before this snapshot: those are older than it.
    pub events: u64,
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A track became audible.
    Started {
        index: usize,
        /// Where it stands in the play order as it is now (1 is the first), and the queue's
        /// length.
        position: usize,
        total: usize,
        item: Item,
        gain: Applied,
        source: Spec,
        output: Spec,
        at: f64,
    },
    /// The audible position, a few times a second.
    Position {
        index: usize,
        secs: f64,
        duration: f64,
    },
    /// A track stopped being audible: heard to its end (`finished`), or left early.
    Finished {
        index: usize,
        item: Item,
        heard: f64,
        finished: bool,
    },
    /// A file could not be played (or not to its end); the queue goes on.
    Error {
        path: PathBuf,
        message: String,
    },
    /// A file played, with something to report (cut short, damaged packets skipped).
    Warning {
        path: PathBuf,
        message: String,
    },
    Paused(bool),
    Volume(u8),
    Modes {
        shuffle: Shuffle,
        repeat: Repeat,
        /// The play order now (indexes into the queue's items), for remembering the queue.
        order: Vec<usize>,
    },
    /// The output failed; playback cannot go on.
    OutputFailed(String),
    /// Nothing more to play (or stopped). The engine thread has finished.
    Ended,
}

/// How a queue starts.
#[derive(Debug, Clone)]
pub struct Options {
    pub gain: gain::Settings,
    /// Seconds into the first track.
    pub start_at: f64,
    pub volume: u8,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            gain: gain::Settings::default(),
            start_at: 0.0,
            volume: 100,
        }
    }
}

/// A running engine: send commands, read events.
pub struct Handle {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Handle {
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the engine on its own thread.
pub fn start(queue: Queue, output: Box<dyn Output>, options: Options) -> Handle {
    let (ctx, crx) = crossbeam_channel::unbounded();
    let (etx, erx) = crossbeam_channel::unbounded();
    let thread = thread::Builder::new()
        .name("tapedeck-engine".into())
        .spawn(move || {
            let mut engine = Engine::new(queue, output, options, crx, etx.clone());
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| engine.run()));
            if result.is_err() {
                let _ = etx.send(Event::OutputFailed(
                    "the player stopped unexpectedly".into(),
                ));
            }
            let _ = engine.out.close();
            let _ = etx.send(Event::Ended);
        })
        .expect("spawn engine thread");
    Handle {
        commands: ctx,
        events: erx,
        thread: Some(thread),
    }
}

/// The track being decoded.
struct Head {
    index: usize,
    decoder: Decoder,
    gain: Applied,
    spec: Spec,
    resampler: Option<Resampler>,
    /// Whether the output has been settled for this head (opened at its spec, or not).
    settled: bool,
    /// Whether this head has started its segment yet.
    segment_open: bool,
    /// Seconds already heard of this track, when this head continues it after a seek.
    continues: Option<f64>,
}

/// A stretch of output belonging to one track.
#[derive(Debug, Clone)]
struct Segment {
    index: usize,
    item: Item,
    gain: Applied,
    source: Spec,
    output: Spec,
    /// Output frame (since the stream opened) where the stretch starts.
    start: u64,
    /// Output frames in the stretch so far.
    frames: u64,
    /// Position in the track (seconds) where the stretch starts.
    offset: f64,
    /// No more frames will be added.
    closed: bool,
    /// The stretch runs to the track's end.
    complete: bool,
    announced: bool,
    /// Seconds heard in earlier stretches of the same playback (before a seek).
    heard_before: f64,
}

impl Segment {
    fn heard(&self, played: u64) -> f64 {
        self.heard_before
            + secs(
                played.saturating_sub(self.start).min(self.frames),
                self.output.rate,
            )
    }
}

struct Engine {
    queue: Queue,
    out: Box<dyn Output>,
    /// What the output was last asked for, and what it runs at.
    requested: Option<Spec>,
    out_spec: Option<Spec>,
    options: Options,
    volume: u8,
    paused: bool,
    head: Option<Head>,
    pending: Vec<f32>,
    pending_at: usize,
    decoded: Vec<f32>,
    staged: Vec<f32>,
    /// Output frames queued (written or pending) since the output opened.
    queued: u64,
    segments: VecDeque<Segment>,
    commands: Receiver<Command>,
    events: Sender<Event>,
    last_position: Option<Instant>,
    first_write: bool,
    stopping: bool,
    /// Tracks that failed in a row.
    failures: usize,
    /// Events sent so far (a snapshot says how many came before it).
    emitted: std::cell::Cell<u64>,
}

fn secs(frames: u64, rate: u32) -> f64 {
    frames as f64 / f64::from(rate.max(1))
}

/// Converts interleaved frames between channel counts: mono is copied to every channel, more
/// channels fold down to the first ones (stereo keeps left and right).
fn remix(input: &[f32], from: u16, to: u16, out: &mut Vec<f32>) {
    let (from, to) = (usize::from(from), usize::from(to));
    for frame in input.chunks_exact(from) {
        for c in 0..to {
            out.push(match from {
                1 => frame[0],
                _ if c < from => frame[c],
                _ => 0.0,
            });
        }
    }
}

impl Engine {
    fn new(
        queue: Queue,
        out: Box<dyn Output>,
        options: Options,
        commands: Receiver<Command>,
        events: Sender<Event>,
    ) -> Engine {
        Engine {
            queue,
            out,
            requested: None,
            out_spec: None,
            volume: options.volume.min(100),
            options,
            paused: false,
            head: None,
            pending: Vec::new(),
            pending_at: 0,
            decoded: Vec::new(),
            staged: Vec::new(),
            queued: 0,
            segments: VecDeque::new(),
            commands,
            events,
            last_position: None,
            first_write: false,
            stopping: false,
            failures: 0,
            emitted: std::cell::Cell::new(0),
        }
    }

    fn emit(&self, event: Event) {
        self.emitted.set(self.emitted.get() + 1);
        let _ = self.events.send(event);
    }

    fn run(&mut self) {
        let start_at = self.options.start_at;
        self.open_head_from_cursor(start_at, None);
        loop {
            if !self.handle_commands() || self.stopping {
                self.cut();
                return;
            }
            if let Err(e) = self.step() {
                self.emit(Event::OutputFailed(e.0));
                self.cut();
                return;
            }
            self.track_progress();
            if self.head.is_none() && self.pending_at >= self.pending.len() {
                // Everything decoded has been written: let it play out, answering commands
                // (a skip back during the queue's last seconds must still work).
                match self.play_out() {
                    Ok(true) => continue,
                    Ok(false) => {
                        // Let the device's own buffer play out before the stream closes.
                        if let Err(e) = self.out.drain() {
                            self.emit(Event::OutputFailed(e.0));
                        }
                    }
                    Err(e) => self.emit(Event::OutputFailed(e.0)),
                }
                self.track_progress();
                self.cut();
                return;
            }
        }
    }

    /// Waits until the output has played everything queued. Returns true when a command
    /// gave the engine something new to play.
    fn play_out(&mut self) -> Result<bool, OutputError> {
        while self.out_spec.is_some() && self.out.played() < self.queued {
            match self.commands.recv_timeout(Duration::from_millis(20)) {
                Ok(c) => {
                    if !self.apply(c) || self.stopping {
                        return Ok(false);
                    }
                    if self.head.is_some() {
                        return Ok(true);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return self.out.drain().map(|_| false),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.track_progress();
        }
        Ok(false)
    }

    /// Handles queued commands; while paused, waits for one. Returns false when told to quit.
    fn handle_commands(&mut self) -> bool {
        loop {
            let next = if self.paused {
                match self.commands.recv_timeout(Duration::from_millis(100)) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => {
                        self.track_progress();
                        continue;
                    }
                    // Nobody can unpause: stop.
                    Err(RecvTimeoutError::Disconnected) => return false,
                }
            } else {
                // A disconnected channel means nobody controls the engine (render, scripted
                // play): play to the end.
                self.commands.try_recv().ok()
            };
            match next {
                Some(c) => {
                    if !self.apply(c) || self.stopping {
                        return !self.stopping;
                    }
                }
                None => return true,
            }
        }
    }

    /// The segment audible now.
    fn audible_segment(&self) -> Option<&Segment> {
        let played = self.out.played();
        self.segments
            .iter()
            .rev()
            .find(|s| s.start <= played)
            .or(self.segments.front())
    }

    /// The queue item audible now and the position in it (seconds).
    fn audible(&self) -> Option<(usize, f64)> {
        let played = self.out.played();
        let seg = self.audible_segment()?;
        let into = played.saturating_sub(seg.start).min(seg.frames);
        Some((seg.index, seg.offset + secs(into, seg.output.rate)))
    }

    fn apply(&mut self, command: Command) -> bool {
        match command {
            Command::TogglePause => self.set_paused(!self.paused),
            Command::SetPaused(p) => self.set_paused(p),
            Command::SeekBy(d) => {
                if let Some((index, at)) = self.audible() {
                    self.restart_at(index, (at + d).max(0.0));
                } else if let Some(h) = &self.head {
                    let at = h.decoder.position() as f64 / f64::from(h.spec.rate.max(1));
                    self.reopen_head((at + d).max(0.0));
                }
            }
            Command::SeekTo(t) => {
                if let Some((index, _)) = self.audible() {
                    self.restart_at(index, t.max(0.0));
                } else {
                    self.reopen_head(t.max(0.0));
                }
            }
            Command::Next => {
                if let Some((index, _)) = self.audible() {
                    self.queue.jump_to_item(index);
                    let moved = self.queue.next();
                    self.cut();
                    if moved {
                        self.open_head_from_cursor(0.0, None);
                    }
                }
            }
            Command::Previous => {
                if let Some((index, at)) = self.audible() {
                    self.queue.jump_to_item(index);
                    // Like a CD player: a few seconds in, back to the start of this track.
                    if at <= 3.0 {
                        self.queue.previous();
                    }
                    self.cut();
                    self.open_head_from_cursor(0.0, None);
                }
            }
            Command::SetVolume(v) => self.set_volume(v.min(100)),
            Command::VolumeBy(d) => {
                let v = (i16::from(self.volume) + i16::from(d)).clamp(0, 100) as u8;
                self.set_volume(v);
            }
            Command::ToggleShuffle => {
                let s = match self.queue.shuffle() {
                    Shuffle::Off => Shuffle::Tracks,
                    _ => Shuffle::Off,
                };
                self.set_shuffle(s);
            }
            Command::SetShuffle(s) => self.set_shuffle(s),
            Command::CycleRepeat => {
                self.queue.repeat = self.queue.repeat.cycle();
                self.modes_changed();
            }
            Command::SetRepeat(r) => {
                self.queue.repeat = r;
                self.modes_changed();
            }
            Command::Enqueue(item) => {
                self.queue.push(item);
                if self.head.is_none() && self.segments.is_empty() {
                    self.queue.jump_to_item(self.queue.len() - 1);
                    self.open_head_from_cursor(0.0, None);
                } else {
                    self.replan();
                }
            }
            Command::Remove(index) => {
                if self.audible().map(|(i, _)| i) == Some(index) {
                    self.apply(Command::Next);
                }
                if self.queue.remove(index).is_some() {
                    let head_was = self.head.as_ref().map(|h| h.index);
                    for s in &mut self.segments {
                        if s.index > index {
                            s.index -= 1;
                        }
                    }
                    if let Some(h) = &mut self.head
                        && h.index > index
                    {
                        h.index -= 1;
                    }
                    if head_was == Some(index) {
                        self.replan_from_audible();
                    }
                }
            }
            Command::Jump(index) => {
                if index < self.queue.len() {
                    self.cut();
                    self.queue.jump_to_item(index);
                    self.open_head_from_cursor(0.0, None);
                }
            }
            Command::Edit { items, map } => self.edit(items, &map),
            Command::SetSingle(single) => {
                self.queue.single = single;
                self.modes_changed();
            }
            Command::SetGainMode(mode) => self.options.gain.mode = mode,
            Command::Snapshot(reply) => {
                let _ = reply.0.send(self.snapshot());
            }
            Command::Stop => self.stopping = true,
        }
        true
    }

    fn snapshot(&self) -> Snapshot {
        let audible = self.audible();
        // Nothing audible yet (just started, skipped or sought): where the head decodes from.
        let current = audible.or_else(|| match &self.head {
            Some(h) => Some((
                h.index,
                h.decoder.position() as f64 / f64::from(h.spec.rate.max(1)),
            )),
            None => self.queue.current().map(|(i, _)| (i, 0.0)),
        });
        Snapshot {
            current,
            paused: self.paused,
            volume: self.volume,
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat,
            single: self.queue.single,
            order: self.queue.play_order().to_vec(),
            events: self.emitted.get(),
        }
    }

    /// Applies an edit of the queue's list. The audible track plays on when it is kept (the
    /// track decoded ahead is made again when it is no longer the one that follows); when it
    /// was removed, the first kept item after it plays.
    fn edit(&mut self, items: Vec<Item>, map: &[Option<usize>]) {
        let moved = |i: usize| map.get(i).copied().flatten();
        let audible = self.audible().map(|(i, _)| i);
        if audible.is_some_and(|i| moved(i).is_none()) {
            if let Some(i) = audible {
                self.queue.jump_to_item(i);
            }
            self.cut();
            self.queue.edit(items, map);
            self.open_head_from_cursor(0.0, None);
        } else {
            // Tracks already decoded after the audible one may be gone or out of order: from
            // the audible point on, everything is decoded again.
            let ahead_changed = self
                .segments
                .iter()
                .map(|s| s.index)
                .chain(self.head.as_ref().map(|h| h.index))
                .any(|i| moved(i).is_none());
            for s in &mut self.segments {
                s.index = moved(s.index).unwrap_or(usize::MAX);
            }
            if let Some(h) = &mut self.head {
                h.index = moved(h.index).unwrap_or(usize::MAX);
            }
            self.queue.edit(items, map);
            if let Some(i) = audible.and_then(moved) {
                self.queue.jump_to_item(i);
            }
            if ahead_changed {
                self.replan_from_audible();
            } else {
                self.replan();
            }
            if audible.is_none() && self.head.is_none() && self.segments.is_empty() {
                self.open_head_from_cursor(0.0, None);
            }
        }
        self.emit(Event::Modes {
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat,
            order: self.queue.play_order().to_vec(),
        });
    }

    fn set_paused(&mut self, paused: bool) {
        if paused != self.paused {
            self.paused = paused;
            self.out.set_paused(paused);
            self.emit(Event::Paused(paused));
        }
    }

    fn set_volume(&mut self, volume: u8) {
        if volume != self.volume {
            self.volume = volume;
            self.emit(Event::Volume(volume));
        }
    }

    fn set_shuffle(&mut self, shuffle: Shuffle) {
        let playing = self.audible().map(|(i, _)| i);
        if let Some(i) = playing {
            self.queue.jump_to_item(i);
        }
        self.queue.set_shuffle(shuffle, playing.is_some());
        self.modes_changed();
    }

    fn modes_changed(&mut self) {
        self.emit(Event::Modes {
            shuffle: self.queue.shuffle(),
            repeat: self.queue.repeat,
            order: self.queue.play_order().to_vec(),
        });
        self.replan();
    }

    /// After the queue changed: when the head already decodes the track after the audible one
    /// and that is no longer what comes next, decode the right one instead.
    fn replan(&mut self) {
        let (Some((playing, _)), Some(head)) = (self.audible(), &self.head) else {
            return;
        };
        let head_index = head.index;
        self.queue.jump_to_item(playing);
        if head_index == playing {
            return;
        }
        if self.queue.peek_natural() == Some(head_index) {
            self.queue.advance_natural();
        } else {
            self.replan_from_audible();
        }
    }

    /// Keeps what is audible now, drops everything queued after it, and decodes from there
    /// again in the queue's current order.
    fn replan_from_audible(&mut self) {
        if let Some((index, at, heard)) = self.take_audible() {
            self.queue.jump_to_item(index);
            if !self.open_head(index, at, Some(heard)) {
                self.open_head_from_cursor(0.0, None);
            }
        }
    }

    /// Stops the output at the audible point without reporting the audible track finished
    /// (its playback goes on from a new head), and returns it: queue index, position, seconds
    /// heard so far.
    fn take_audible(&mut self) -> Option<(usize, f64, f64)> {
        self.track_progress();
        let (index, at) = self.audible()?;
        let played = self.out.played();
        let heard = self
            .audible_segment()
            .map(|s| s.heard(played))
            .unwrap_or(0.0);
        self.out.discard();
        self.queued = self.out.played();
        self.pending.clear();
        self.pending_at = 0;
        self.head = None;
        // Segments played out before this one were reported by `track_progress`; the audible
        // one continues, and later ones were never heard.
        self.segments.clear();
        Some((index, at, heard))
    }

    /// Stops what is audible at once and reports it finished (early, unless it had played
    /// to its end).
    fn cut(&mut self) {
        self.track_progress();
        self.out.discard();
        self.queued = self.out.played();
        self.pending.clear();
        self.pending_at = 0;
        self.head = None;
        let played = self.queued;
        while let Some(seg) = self.segments.pop_front() {
            if seg.announced {
                self.emit(Event::Finished {
                    index: seg.index,
                    heard: seg.heard(played),
                    item: seg.item,
                    finished: seg.complete && played >= seg.start + seg.frames,
                });
            }
        }
    }

    /// Before anything of the head's track is heard (just after a skip), a seek opens it again
    /// at `at` seconds.
    fn reopen_head(&mut self, at: f64) {
        let Some(index) = self.head.as_ref().map(|h| h.index) else {
            return;
        };
        self.pending.clear();
        self.pending_at = 0;
        self.head = None;
        self.queue.jump_to_item(index);
        if !self.open_head(index, at, None) {
            self.open_head_from_cursor(0.0, None);
        }
    }

    /// Restarts the audible track at `at` seconds, keeping what was heard of it.
    fn restart_at(&mut self, index: usize, at: f64) {
        if let Some((playing, _, heard)) = self.take_audible() {
            debug_assert_eq!(playing, index);
            self.queue.jump_to_item(index);
            if !self.open_head(index, at, Some(heard)) {
                self.open_head_from_cursor(0.0, None);
            }
        }
    }

    fn open_head_from_cursor(&mut self, at: f64, continues: Option<f64>) {
        let mut tries = 0;
        while let Some((index, _)) = self.queue.current() {
            let start = if tries == 0 { at } else { 0.0 };
            if self.open_head(index, start, continues.filter(|_| tries == 0)) {
                return;
            }
            tries += 1;
            if tries >= self.queue.len() || !self.queue.next() {
                break;
            }
        }
        self.head = None;
    }

    /// Opens the decoder for queue item `index` at `at` seconds. A file that cannot be played
    /// is reported and false returned.
    fn open_head(&mut self, index: usize, at: f64, continues: Option<f64>) -> bool {
        let item = self.queue.items()[index].clone();
        let mut decoder = match Decoder::open(&item.path) {
            Ok(d) => d,
            Err(e) => {
                self.emit(Event::Error {
                    path: item.path.clone(),
                    message: e.0,
                });
                return false;
            }
        };
        let spec = decoder.spec();
        if at > 0.0 {
            let frame = (at * f64::from(spec.rate)) as u64;
            if let Err(e) = decoder.seek(frame) {
                self.emit(Event::Error {
                    path: item.path.clone(),
                    message: format!("cannot seek: {e}"),
                });
            }
        }
        let gain = gain::decide(&self.options.gain, &item.gain, self.queue.in_album_order());
        self.head = Some(Head {
            index,
            decoder,
            gain,
            spec,
            resampler: None,
            settled: false,
            segment_open: false,
            continues,
        });
        true
    }

    /// Makes the output run at the head's spec when it can: the first track opens it; a track
    /// of another rate or channel count waits for the output to play out, then reopens it.
    fn settle_output(&mut self) -> Result<(), OutputError> {
        let Some(head) = &self.head else {
            return Ok(());
        };
        let wanted = head.spec;
        let same = self
            .requested
            .is_some_and(|r| r.rate == wanted.rate && r.channels == wanted.channels);
        if !same {
            if self.out_spec.is_some() {
                // The tracks before must be heard whole before the stream changes.
                self.out.drain()?;
                self.track_progress();
                self.finish_played_segments();
            }
            let actual = self.out.open(wanted)?;
            self.requested = Some(wanted);
            self.out_spec = Some(actual);
            self.queued = 0;
            self.segments.clear();
        }
        let actual = self.out_spec.expect("output open");
        let head = self.head.as_mut().expect("head");
        head.resampler = if actual.rate != head.spec.rate {
            match Resampler::new(head.spec.rate, actual.rate, actual.channels) {
                Ok(r) => Some(r),
                Err(e) => return Err(OutputError(e)),
            }
        } else {
            None
        };
        head.settled = true;
        Ok(())
    }

    /// One unit of work: write pending samples, or decode and stage the next chunk.
    fn step(&mut self) -> Result<(), OutputError> {
        if self.pending_at < self.pending.len() {
            let n = self.out.write(&self.pending[self.pending_at..])?;
            if n > 0 && !self.first_write {
                self.first_write = true;
                crate::timing::mark("first sample handed to the output");
            }
            self.pending_at += n;
            if self.pending_at >= self.pending.len() {
                self.pending.clear();
                self.pending_at = 0;
            }
            return Ok(());
        }
        if self.head.as_ref().is_some_and(|h| !h.settled) {
            self.settle_output()?;
        }
        let Some(head) = self.head.as_mut() else {
            return Ok(());
        };
        let position = head.decoder.position();
        self.decoded.clear();
        match head.decoder.read(&mut self.decoded) {
            Ok(0) => {
                let tail = self.flush_head();
                self.stage(tail, position);
                self.head_ended(true);
            }
            Ok(_) => {
                let staged = self.convert();
                self.stage(staged, position);
            }
            Err(e) => {
                let at = position as f64 / f64::from(head.spec.rate);
                let index = head.index;
                self.emit(Event::Error {
                    path: self.queue.items()[index].path.clone(),
                    message: format!("{e} (at {at:.1} s); skipped to the next track"),
                });
                let tail = self.flush_head();
                self.stage(tail, position);
                self.head_ended(false);
            }
        }
        Ok(())
    }

    /// Gain, volume, channels and rate applied to the decoded chunk, into `staged`.
    fn convert(&mut self) -> Vec<f32> {
        let head = self.head.as_mut().expect("head");
        let out = self.out_spec.expect("output open");
        let scale = head.gain.scale * f32::from(self.volume) / 100.0;
        crate::audio::gain::apply(&mut self.decoded, scale);
        let mut staged = std::mem::take(&mut self.staged);
        staged.clear();
        let remixed;
        let samples: &[f32] = if head.spec.channels != out.channels {
            let mut v = Vec::with_capacity(self.decoded.len());
            remix(&self.decoded, head.spec.channels, out.channels, &mut v);
            remixed = v;
            &remixed
        } else {
            &self.decoded
        };
        match &mut head.resampler {
            Some(r) => r.push(samples, &mut staged),
            None => staged.extend_from_slice(samples),
        }
        staged
    }

    /// The resampler's tail at the end of a track.
    fn flush_head(&mut self) -> Vec<f32> {
        let mut tail = std::mem::take(&mut self.staged);
        tail.clear();
        if let Some(r) = self.head.as_mut().and_then(|h| h.resampler.as_mut()) {
            r.finish(&mut tail);
        }
        tail
    }

    /// Queues converted samples for the output and accounts them to the head's segment.
    fn stage(&mut self, staged: Vec<f32>, position: u64) {
        let out = self.out_spec.expect("output open");
        let frames = (staged.len() / usize::from(out.channels)) as u64;
        let head = self.head.as_mut().expect("head");
        if !head.segment_open {
            head.segment_open = true;
            let item = self.queue.items()[head.index].clone();
            self.segments.push_back(Segment {
                index: head.index,
                item,
                gain: head.gain,
                source: head.spec,
                output: out,
                start: self.queued,
                frames: 0,
                offset: position as f64 / f64::from(head.spec.rate),
                closed: false,
                complete: false,
                announced: head.continues.is_some(),
                heard_before: head.continues.unwrap_or(0.0),
            });
        }
        if let Some(seg) = self.segments.back_mut() {
            seg.frames += frames;
        }
        self.queued += frames;
        if self.pending.is_empty() {
            self.pending = staged;
            self.pending_at = 0;
        } else {
            self.pending.extend_from_slice(&staged);
        }
    }

    /// The head's track has been decoded to its end (or failed): close its segment and move
    /// the head to what plays next, so it joins without a gap.
    fn head_ended(&mut self, complete: bool) {
        let head = self.head.take().expect("head");
        if head.decoder.truncated() {
            self.emit(Event::Warning {
                path: self.queue.items()[head.index].path.clone(),
                message: "the file ends early (truncated); played what is there".into(),
            });
        } else if head.decoder.bad_packets() > 0 {
            self.emit(Event::Warning {
                path: self.queue.items()[head.index].path.clone(),
                message: format!(
                    "{} damaged packet(s) skipped while playing",
                    head.decoder.bad_packets()
                ),
            });
        }
        if let Some(seg) = self.segments.back_mut()
            && seg.index == head.index
            && !seg.closed
        {
            seg.closed = true;
            seg.complete = complete;
        }
        if complete {
            self.failures = 0;
        } else {
            self.failures += 1;
        }
        if self.failures >= self.queue.len() {
            // Every file in the queue failed in a row (repeat would loop over them forever).
            return;
        }
        self.queue.jump_to_item(head.index);
        let moved = if complete {
            self.queue.advance_natural()
        } else {
            self.queue.next()
        };
        if moved {
            self.open_head_from_cursor(0.0, None);
        }
    }

    /// Reports segments that have been played out entirely.
    fn finish_played_segments(&mut self) {
        let played = self.out.played();
        while let Some(seg) = self.segments.front() {
            if !(seg.closed && played >= seg.start + seg.frames) {
                break;
            }
            let seg = self.segments.pop_front().expect("front");
            if !seg.announced {
                // Never became audible (a zero-length stretch): say nothing.
                continue;
            }
            self.emit(Event::Finished {
                index: seg.index,
                heard: seg.heard(played),
                item: seg.item,
                finished: seg.complete,
            });
        }
    }

    /// Announces tracks that became audible, reports finished ones, and sends the position a
    /// few times a second.
    fn track_progress(&mut self) {
        let played = self.out.played();
        self.finish_played_segments();
        let mut started = Vec::new();
        for seg in self.segments.iter_mut() {
            if !seg.announced && played > seg.start {
                seg.announced = true;
                let order = self.queue.play_order();
                started.push(Event::Started {
                    index: seg.index,
                    position: order
                        .iter()
                        .position(|&i| i == seg.index)
                        .map_or(0, |p| p + 1),
                    total: order.len(),
                    item: seg.item.clone(),
                    gain: seg.gain,
                    source: seg.source,
                    output: seg.output,
                    at: seg.offset,
                });
            }
        }
        for e in started {
            self.emit(e);
        }
        let due = self
            .last_position
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(200));
        if due && let Some((index, secs)) = self.audible() {
            let duration = self.queue.items().get(index).map_or(0.0, |i| i.duration);
            self.emit(Event::Position {
                index,
                secs,
                duration,
            });
            self.last_position = Some(Instant::now());
        }
    }
}
