//! The player the UI drives: the player service in this process ([`Deck::Local`]), or a running
//! `tapedeck serve` on the same library, over its socket with the MPD protocol
//! ([`Deck::Remote`]). Either way the UI sees the same [`Now`] and [`QueueRow`]s and wakes on
//! the same kind of signal, so nothing above this file knows which one it drives.

use std::path::{Path, PathBuf};
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use crate::audio::Spec;
use crate::model::Track;
use crate::mpd::client::{Client, ClientError, field, songs};
use crate::player::engine::Event;
use crate::player::queue::{Repeat, Shuffle};
use crate::service::{self, Service, State, items};

/// What the now-playing lines show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Now {
    pub state: Playing,
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub year: Option<String>,
    /// The format as users name it (`flac`, `mp3`).
    pub format: Option<String>,
    /// The decoded rate and depth (`44.1 kHz/16`).
    pub rate: Option<String>,
    /// The ReplayGain applied to this track, or the mode when that is all that is known.
    pub gain: Option<String>,
    pub elapsed: f64,
    pub duration: f64,
    pub volume: u8,
    pub shuffle: bool,
    pub repeat: Repeat,
    /// The current entry's place in the queue (0 is the first).
    pub position: Option<usize>,
    pub length: usize,
    /// Changes with every edit of the queue.
    pub version: u32,
    /// A scan the service runs (`update`) has not ended.
    pub updating: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Playing {
    #[default]
    Stopped,
    Playing,
    Paused,
}

/// One queue entry as listed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueRow {
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub duration: f64,
    pub path: PathBuf,
    /// The library track, when the entry is one.
    pub id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeckError {
    #[error("{0}")]
    Service(#[from] service::ServiceError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// The service this UI started, and what it knows of the track playing.
pub struct Local {
    pub service: Service,
    events: Receiver<Event>,
    /// The gain applied to the current track and its decoded format, from the engine's events.
    applied: Option<(u32, String, Spec)>,
    /// The year of the library track an entry is, read once per entry.
    year: Option<(u32, Option<i32>)>,
    prefer_computed: bool,
}

/// A `tapedeck serve` reached through its socket.
pub struct Remote {
    client: Client,
    socket: PathBuf,
    /// The current song's pairs, for the song id and queue version they were read at; and the
    /// ReplayGain mode. A tick of the progress bar then costs one `status`.
    song: Option<((String, String), Pairs)>,
    mode: Option<Pairs>,
}

/// An answer's key/value pairs.
type Pairs = Vec<(String, String)>;

pub enum Deck {
    Local(Local),
    Remote(Remote),
}

impl Deck {
    pub fn local(service: Service, prefer_computed: bool) -> Deck {
        let events = service.events();
        Deck::Local(Local {
            service,
            events,
            applied: None,
            year: None,
            prefer_computed,
        })
    }

    /// Attaches to the service answering on `socket`; `NotRunning` when nothing does.
    pub fn remote(socket: &Path) -> Result<Deck, DeckError> {
        Ok(Deck::Remote(Remote {
            client: Client::connect(socket)?,
            socket: socket.to_path_buf(),
            song: None,
            mode: None,
        }))
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Deck::Remote(_))
    }

    /// A channel that receives a message whenever the player or its queue changes (and when a
    /// remote service goes away).
    pub fn wake(&self) -> Receiver<()> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        match self {
            Deck::Local(l) => {
                let sub = l.service.subscribe();
                thread::Builder::new()
                    .name("tapedeck-ui-wake".into())
                    .spawn(move || {
                        while sub.wake().recv().is_ok() {
                            sub.take();
                            if forward(&tx).is_err() {
                                return;
                            }
                        }
                    })
                    .expect("spawn a thread");
            }
            Deck::Remote(r) => {
                let socket = r.socket.clone();
                thread::Builder::new()
                    .name("tapedeck-ui-idle".into())
                    .spawn(move || {
                        let Ok(mut client) = Client::connect(&socket) else {
                            let _ = forward(&tx);
                            return;
                        };
                        loop {
                            let woke = client.idle();
                            if forward(&tx).is_err() || woke.is_err() {
                                return;
                            }
                        }
                    })
                    .expect("spawn a thread");
            }
        }
        rx
    }

    /// Forgets what a remote player's state was read with, after it told of a change.
    pub fn changed(&mut self) {
        if let Deck::Remote(r) = self {
            r.song = None;
            r.mode = None;
        }
    }

    /// The player as it is now.
    pub fn now(&mut self) -> Result<Now, DeckError> {
        match self {
            Deck::Local(l) => Ok(l.now()),
            Deck::Remote(r) => r.now(),
        }
    }

    pub fn queue(&mut self) -> Result<Vec<QueueRow>, DeckError> {
        match self {
            Deck::Local(l) => Ok(l.service.with_entries(|entries| {
                entries
                    .iter()
                    .map(|e| QueueRow {
                        title: e.item.title.clone(),
                        artist: e.item.artist.clone(),
                        album: e.item.album.clone(),
                        duration: e.item.duration,
                        path: e.item.path.clone(),
                        id: e.item.id,
                    })
                    .collect()
            })),
            Deck::Remote(r) => r.queue(),
        }
    }

    /// Replaces the queue with `tracks` and plays from the one at `start`.
    pub fn replace(&mut self, tracks: &[Track], start: usize) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                let items = tracks
                    .iter()
                    .map(|t| items::from_track(t, l.prefer_computed))
                    .collect();
                l.service.clear();
                l.service.add(items, None)?;
                l.service.play(Some(start))?;
                Ok(())
            }
            Deck::Remote(r) => {
                let mut commands = vec![vec!["clear".to_string()]];
                commands.extend(adds(tracks, None)?);
                commands.push(vec!["play".into(), start.to_string()]);
                r.list(&commands)
            }
        }
    }

    /// Adds `tracks` at the end of the queue, or right after the current entry when `next`.
    pub fn enqueue(&mut self, tracks: &[Track], next: bool) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                let items = tracks
                    .iter()
                    .map(|t| items::from_track(t, l.prefer_computed))
                    .collect();
                let at = if next {
                    let status = l.service.status();
                    status.current.map(|(pos, _)| pos + 1)
                } else {
                    None
                };
                l.service.add(items, at)?;
                Ok(())
            }
            Deck::Remote(r) => {
                let at = if next {
                    let status = r.client.command(&["status"])?;
                    field(&status, "song")
                        .and_then(|s| s.parse::<usize>().ok())
                        .map(|p| p + 1)
                } else {
                    None
                };
                let commands = adds(tracks, at)?;
                r.list(&commands)
            }
        }
    }

    pub fn play_at(&mut self, pos: usize) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => Ok(l.service.play(Some(pos))?),
            Deck::Remote(r) => r.send(&["play", &pos.to_string()]),
        }
    }

    pub fn toggle_pause(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                match l.service.status().state {
                    State::Stop => l.service.play(None)?,
                    State::Play => l.service.pause(Some(true)),
                    State::Pause => l.service.pause(Some(false)),
                }
                Ok(())
            }
            Deck::Remote(r) => {
                let status = r.client.command(&["status"])?;
                match field(&status, "state") {
                    Some("play") => r.send(&["pause", "1"]),
                    Some("pause") => r.send(&["pause", "0"]),
                    _ => r.send(&["play"]),
                }
            }
        }
    }

    pub fn skip(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.next();
                Ok(())
            }
            Deck::Remote(r) => r.send(&["next"]),
        }
    }

    pub fn previous(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.previous();
                Ok(())
            }
            Deck::Remote(r) => r.send(&["previous"]),
        }
    }

    pub fn seek_by(&mut self, secs: f64) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => Ok(l.service.seek_current(secs, true)?),
            Deck::Remote(r) => r.send(&["seekcur", &format!("{secs:+}")]),
        }
    }

    pub fn volume_by(&mut self, delta: i16) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.volume_by(delta);
                Ok(())
            }
            Deck::Remote(r) => r.send(&["volume", &delta.to_string()]),
        }
    }

    pub fn toggle_shuffle(&mut self, on: bool) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service
                    .set_shuffle(if on { Shuffle::Tracks } else { Shuffle::Off });
                Ok(())
            }
            Deck::Remote(r) => r.send(&["random", if on { "1" } else { "0" }]),
        }
    }

    pub fn set_repeat(&mut self, repeat: Repeat) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.set_repeat(repeat);
                l.service.set_single(repeat == Repeat::One);
                Ok(())
            }
            Deck::Remote(r) => {
                let (on, single) = match repeat {
                    Repeat::Off => ("0", "0"),
                    Repeat::All => ("1", "0"),
                    Repeat::One => ("1", "1"),
                };
                r.list(&[
                    vec!["repeat".into(), on.into()],
                    vec!["single".into(), single.into()],
                ])
            }
        }
    }

    pub fn delete(&mut self, pos: usize) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => Ok(l.service.delete(pos, pos + 1)?),
            Deck::Remote(r) => r.send(&["delete", &pos.to_string()]),
        }
    }

    pub fn move_entry(&mut self, from: usize, to: usize) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => Ok(l.service.move_range(from, from + 1, to)?),
            Deck::Remote(r) => r.send(&["move", &from.to_string(), &to.to_string()]),
        }
    }

    pub fn clear(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.clear();
                Ok(())
            }
            Deck::Remote(r) => r.send(&["clear"]),
        }
    }

    /// Shuffles the order of the queue's list itself.
    pub fn shuffle_queue(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                let len = l.service.status().length;
                Ok(l.service.shuffle_list(0, len)?)
            }
            Deck::Remote(r) => r.send(&["shuffle"]),
        }
    }

    /// Saves the queue's library tracks as a new static playlist.
    pub fn save(&mut self, name: &str) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                let ids: Vec<i64> = l
                    .service
                    .with_entries(|e| e.iter().filter_map(|e| e.item.id).collect());
                let now = crate::clock::now();
                l.service.with_library(|lib| -> Result<(), DeckError> {
                    if lib.playlist(name)?.is_some() {
                        return Err(DeckError::Refused(format!(
                            "a playlist named {:?} already exists",
                            crate::text::escape(name)
                        )));
                    }
                    let playlist = crate::db::Playlist::new_static(name);
                    lib.write(|w| {
                        let id = w.create_playlist(&playlist, now)?;
                        w.set_playlist_entries(id, &ids)
                    })?;
                    Ok(())
                })?;
                l.service.changed(service::Changes::STORED_PLAYLIST);
                Ok(())
            }
            Deck::Remote(r) => r.send(&["save", name]),
        }
    }

    /// Asks a running service to scan the library (MPD's `update`), so its other clients
    /// hear of the changes; `Now::updating` says when it has ended.
    pub fn update(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(_) => Err(DeckError::Refused(
                "the UI scans the library itself when it plays".into(),
            )),
            Deck::Remote(r) => r.send(&["update"]),
        }
    }

    /// Tells the service's other clients that the library changed (after the UI's own scan).
    pub fn library_changed(&mut self) {
        if let Deck::Local(l) = self {
            l.service
                .changed(service::Changes::DATABASE.union(service::Changes::UPDATE));
        }
    }

    /// Forgets the player's last error (a file that could not be played).
    pub fn clear_error(&mut self) -> Result<(), DeckError> {
        match self {
            Deck::Local(l) => {
                l.service.clear_error();
                Ok(())
            }
            Deck::Remote(r) => r.send(&["clearerror"]),
        }
    }

    /// Stops the music, if this UI is what plays it.
    pub fn shutdown(self) {
        if let Deck::Local(l) = self {
            l.service.shutdown();
        }
    }
}

impl Local {
    fn now(&mut self) -> Now {
        let status = self.service.status();
        for e in self.events.try_iter() {
            if let Event::Started {
                item, gain, source, ..
            } = e
            {
                self.applied = Some((item.entry, gain.describe(), source));
            }
        }
        let current = status.current.and_then(|(pos, id)| {
            self.service
                .with_entries(|e| e.get(pos).map(|e| (e.id, e.item.clone())))
                .filter(|(eid, _)| *eid == id)
        });
        let applied = self
            .applied
            .as_ref()
            .filter(|(entry, ..)| current.as_ref().is_some_and(|(id, _)| id == entry));
        let year = match (&current, self.year) {
            (Some((entry, _)), Some((cached, year))) if cached == *entry => year,
            (Some((entry, item)), _) => {
                let year = item.id.and_then(|id| {
                    self.service
                        .with_library(|lib| lib.page(&[id], crate::db::Members::Only(&["year"])))
                        .ok()
                        .and_then(|mut t| t.pop())
                        .and_then(|t| t.year)
                });
                self.year = Some((*entry, year));
                year
            }
            (None, _) => None,
        };
        let playing = status.state != State::Stop;
        Now {
            state: match status.state {
                State::Stop => Playing::Stopped,
                State::Play => Playing::Playing,
                State::Pause => Playing::Paused,
            },
            title: current.as_ref().map(|(_, i)| i.title.clone()),
            artist: current.as_ref().and_then(|(_, i)| i.artist.clone()),
            album: current.as_ref().and_then(|(_, i)| i.album.clone()),
            year: year.map(|y| y.to_string()),
            format: current.as_ref().map(|(_, i)| i.format.clone()),
            rate: status
                .source
                .or(applied.map(|(_, _, s)| *s))
                .filter(|_| playing)
                .map(Spec::describe),
            gain: applied
                .map(|(_, g, _)| g.clone())
                .filter(|g| !g.is_empty() && playing),
            elapsed: status.elapsed,
            duration: status.duration,
            volume: status.volume,
            shuffle: status.shuffle != Shuffle::Off,
            repeat: status.repeat,
            position: status.current.map(|(p, _)| p),
            length: status.length,
            version: status.version,
            updating: false,
            error: status.error,
        }
    }
}

fn forward(tx: &Sender<()>) -> Result<(), ()> {
    match tx.try_send(()) {
        Err(crossbeam_channel::TrySendError::Disconnected(_)) => Err(()),
        _ => Ok(()),
    }
}

/// `add`/`addid` commands naming tracks by their absolute paths (a local client may).
fn adds(tracks: &[Track], at: Option<usize>) -> Result<Vec<Vec<String>>, DeckError> {
    let mut out = Vec::with_capacity(tracks.len());
    for (i, t) in tracks.iter().enumerate() {
        let Some(path) = t.path.to_str() else {
            return Err(DeckError::Refused(format!(
                "{} is not UTF-8 and cannot be named to the player service",
                crate::text::escape_path(&t.path)
            )));
        };
        out.push(match at {
            Some(p) => vec!["addid".into(), path.into(), (p + i).to_string()],
            None => vec!["add".into(), path.into()],
        });
    }
    Ok(out)
}

impl Remote {
    fn send(&mut self, args: &[&str]) -> Result<(), DeckError> {
        self.client.command(args)?;
        Ok(())
    }

    fn list(&mut self, commands: &[Vec<String>]) -> Result<(), DeckError> {
        for chunk in commands.chunks(1000) {
            self.client.command_list(chunk)?;
        }
        Ok(())
    }

    fn now(&mut self) -> Result<Now, DeckError> {
        let status = self.client.command(&["status"])?;
        let at = (
            field(&status, "songid").unwrap_or_default().to_string(),
            field(&status, "playlist").unwrap_or_default().to_string(),
        );
        let song = match self.song.take() {
            Some((read_at, song)) if read_at == at => song,
            _ => self.client.command(&["currentsong"])?,
        };
        self.song = Some((at, song.clone()));
        let mode = match self.mode.take() {
            Some(mode) => mode,
            None => self.client.command(&["replay_gain_status"])?,
        };
        self.mode = Some(mode.clone());
        let num = |k| field(&status, k).and_then(|v| v.parse::<f64>().ok());
        let on = |k| field(&status, k) == Some("1");
        let state = match field(&status, "state") {
            Some("play") => Playing::Playing,
            Some("pause") => Playing::Paused,
            _ => Playing::Stopped,
        };
        // `audio: 44100:16:2`, MPD's rate:bits:channels.
        let rate = field(&status, "audio").and_then(|a| {
            let mut parts = a.split(':');
            let rate = parts.next()?.parse::<u32>().ok()?;
            let bits = parts.next().and_then(|b| b.parse::<u16>().ok());
            Some(
                Spec {
                    rate,
                    channels: 2,
                    bits,
                }
                .describe(),
            )
        });
        let file = field(&song, "file");
        Ok(Now {
            state,
            title: field(&song, "Title")
                .or_else(|| file.map(|f| f.rsplit('/').next().unwrap_or(f)))
                .map(str::to_string),
            artist: field(&song, "Artist").map(str::to_string),
            album: field(&song, "Album").map(str::to_string),
            year: field(&song, "Date").map(|d| d.chars().take(4).collect()),
            format: file
                .and_then(|f| f.rsplit_once('.'))
                .map(|(_, ext)| ext.to_ascii_lowercase()),
            rate,
            gain: field(&mode, "replay_gain_mode")
                .filter(|m| *m != "off")
                .map(|m| format!("{m} (ReplayGain mode)")),
            elapsed: num("elapsed").unwrap_or(0.0),
            duration: num("duration").unwrap_or(0.0),
            volume: num("volume").unwrap_or(0.0).clamp(0.0, 100.0) as u8,
            shuffle: on("random"),
            repeat: match (on("repeat"), on("single")) {
                (false, _) => Repeat::Off,
                (true, false) => Repeat::All,
                (true, true) => Repeat::One,
            },
            position: num("song").map(|p| p as usize),
            length: num("playlistlength").unwrap_or(0.0) as usize,
            version: num("playlist").unwrap_or(0.0) as u32,
            updating: field(&status, "updating_db").is_some(),
            error: field(&status, "error").map(str::to_string),
        })
    }

    fn queue(&mut self) -> Result<Vec<QueueRow>, DeckError> {
        let pairs = self.client.command(&["playlistinfo"])?;
        let rows = songs(pairs)
            .iter()
            .map(|song| {
                let file = field(song, "file").unwrap_or_default();
                QueueRow {
                    title: field(song, "Title")
                        .unwrap_or_else(|| file.rsplit('/').next().unwrap_or(file))
                        .to_string(),
                    artist: field(song, "Artist").map(str::to_string),
                    album: field(song, "Album").map(str::to_string),
                    duration: field(song, "duration")
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(0.0),
                    path: PathBuf::from(file),
                    id: None,
                }
            })
            .collect();
        Ok(rows)
    }
}
