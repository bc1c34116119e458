//! MPRIS: the player service published on the D-Bus session bus as
//! `org.mpris.MediaPlayer2.tapedeck`, so desktop media keys, panels and `playerctl` can see and
//! drive it. The only file that names zbus. It owns the two interfaces (the root and `Player`),
//! the track metadata they show (from the queue entry and, for library tracks, the library row;
//! cover art only as an image file beside the track), and the thread that turns the service's
//! changes into `PropertiesChanged` and position jumps into `Seeked`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use zbus::blocking::Connection;
use zbus::fdo::{RequestNameFlags, RequestNameReply};
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

use super::{Service, State};
use crate::player::engine::Event;
use crate::player::queue::{Repeat, Shuffle};

/// The bus name; a second player on the same bus takes `.instance<pid>` after it, as the
/// specification asks.
pub const BUS_NAME: &str = "org.mpris.MediaPlayer2.tapedeck";
const OBJECT_PATH: &str = "/org/mpris/MediaPlayer2";
const PLAYER_INTERFACE: &str = "org.mpris.MediaPlayer2.Player";
/// Where a track id lives: the queue entry's id follows.
const TRACK_PATH: &str = "/org/tapedeck/track/";
const NO_TRACK: &str = "/org/mpris/MediaPlayer2/TrackList/NoTrack";

/// Image files taken as a track's cover when they sit beside it (any case), in this order.
const COVER_NAMES: &[&str] = &["cover.jpg", "folder.jpg", "cover.png", "front.jpg"];

/// The formats the player reads, as MIME types.
const MIME_TYPES: &[&str] = &[
    "audio/mpeg",
    "audio/mp4",
    "audio/x-m4a",
    "audio/aac",
    "audio/flac",
    "audio/x-flac",
    "audio/wav",
    "audio/x-wav",
    "audio/aiff",
    "audio/x-aiff",
];

/// A published player: the connection (and the name on the bus) lives as long as this value.
pub struct Mpris {
    /// Held so the name and the interfaces stay on the bus.
    _connection: Connection,
    name: String,
    quit: Option<Sender<()>>,
    watcher: Option<JoinHandle<()>>,
}

impl Mpris {
    /// The well-known name taken on the bus.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Mpris {
    fn drop(&mut self) {
        self.quit.take();
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

/// Publishes `service` on the session bus. Without a bus (none configured, or it cannot be
/// reached) this is `None`, said only on stderr when `TAPEDECK_DEBUG` is set: a player without
/// a desktop is not an error.
///
/// Connecting happens on a thread of its own, waited for [`CONNECT_WAIT`] at most: a bus that
/// accepts the connection and never answers leaves that thread waiting, not the caller (if it
/// answers later, the connection is closed again).
pub fn publish(service: &Service) -> Option<Mpris> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let s = service.clone();
    let spawned = thread::Builder::new()
        .name("tapedeck-mpris-connect".into())
        .spawn(move || {
            let _ = tx.send(try_publish(&s));
        });
    let outcome = match spawned {
        Ok(_) => rx.recv_timeout(CONNECT_WAIT).unwrap_or_else(|_| {
            Err(zbus::Error::Failure(
                "the session bus did not answer".into(),
            ))
        }),
        Err(e) => Err(zbus::Error::Failure(e.to_string())),
    };
    match outcome {
        Ok(m) => Some(m),
        Err(e) => {
            debug(format_args!("MPRIS not published: {e}"));
            None
        }
    }
}

/// How long `publish` waits for the bus.
pub const CONNECT_WAIT: Duration = Duration::from_secs(2);

fn debug(text: std::fmt::Arguments<'_>) {
    if std::env::var_os("TAPEDECK_DEBUG").is_some() {
        eprintln!("debug: {text}");
    }
}

fn try_publish(service: &Service) -> zbus::Result<Mpris> {
    let cache = Arc::new(Mutex::new(None));
    let connection = zbus::blocking::connection::Builder::session()?
        .serve_at(OBJECT_PATH, Root)?
        .serve_at(
            OBJECT_PATH,
            Player {
                service: service.clone(),
                cache: cache.clone(),
            },
        )?
        .build()?;
    // Neither takes the name from a player that has it nor lets a later one take it (zbus's
    // default allows both): the later one is an instance.
    let only_if_free = RequestNameFlags::DoNotQueue.into();
    let name = match connection.request_name_with_flags(BUS_NAME, only_if_free) {
        Ok(RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner) => BUS_NAME.to_string(),
        Ok(RequestNameReply::Exists | RequestNameReply::InQueue) | Err(zbus::Error::NameTaken) => {
            let name = format!("{BUS_NAME}.instance{}", std::process::id());
            connection.request_name_with_flags(name.as_str(), only_if_free)?;
            name
        }
        Err(e) => return Err(e),
    };
    let (quit, quit_rx) = crossbeam_channel::bounded::<()>(0);
    let watch = Watch {
        service: service.clone(),
        connection: connection.clone(),
        cache,
        subscription: service.subscribe(),
        events: service.events(),
        quit: quit_rx,
    };
    let watcher = thread::Builder::new()
        .name("tapedeck-mpris".into())
        .spawn(move || watch.run())
        .map_err(|e| zbus::Error::Failure(e.to_string()))?;
    Ok(Mpris {
        _connection: connection,
        name,
        quit: Some(quit),
        watcher: Some(watcher),
    })
}

// ---- what the interfaces show ------------------------------------------------------------

/// The current track as MPRIS describes it.
#[derive(Debug, Clone, PartialEq, Default)]
struct Meta {
    /// The queue entry's id (`None`: nothing is current).
    entry: Option<u32>,
    title: String,
    artists: Vec<String>,
    album: Option<String>,
    album_artists: Vec<String>,
    track: Option<u32>,
    path: PathBuf,
    /// Microseconds.
    length: i64,
    art: Option<PathBuf>,
}

/// The last metadata made, by entry id: a library lookup and a folder listing per track, not
/// per property read.
type Cache = Arc<Mutex<Option<Meta>>>;

fn track_id(entry: Option<u32>) -> String {
    match entry {
        Some(id) => format!("{TRACK_PATH}{id}"),
        None => NO_TRACK.to_string(),
    }
}

fn current_meta(service: &Service, cache: &Cache) -> Meta {
    let status = service.status();
    let Some((pos, id)) = status.current else {
        return Meta::default();
    };
    let mut cached = cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(m) = cached.as_ref()
        && m.entry == Some(id)
    {
        let mut m = m.clone();
        if status.duration > 0.0 {
            m.length = micros(status.duration);
        }
        return m;
    }
    let Some(item) = service.with_entries(|e| e.get(pos).map(|e| e.item.clone())) else {
        return Meta::default();
    };
    let mut meta = Meta {
        entry: Some(id),
        title: item.title.clone(),
        artists: item.artist.iter().cloned().collect(),
        album: item.album.clone(),
        album_artists: Vec::new(),
        track: None,
        length: micros(if status.duration > 0.0 {
            status.duration
        } else {
            item.duration
        }),
        art: cover_beside(&item.path),
        path: item.path,
    };
    if let Some(track) = item.id.and_then(|tid| {
        service
            .with_library(|lib| lib.tracks_by_ids(&[tid]).ok())
            .and_then(|t| t.into_iter().next())
    }) {
        if !track.artists.is_empty() {
            meta.artists = track.artists;
        }
        meta.album_artists = track.albumartist.into_iter().collect();
        meta.track = track.track;
    }
    *cached = Some(meta.clone());
    meta
}

fn micros(secs: f64) -> i64 {
    (secs.max(0.0) * 1_000_000.0).round() as i64
}

fn owned(v: Value<'_>) -> Option<OwnedValue> {
    OwnedValue::try_from(v).ok()
}

/// The `Metadata` dictionary.
fn metadata_map(meta: &Meta) -> HashMap<String, OwnedValue> {
    let mut map = HashMap::new();
    let mut put = |key: &str, v: Value<'_>| {
        if let Some(v) = owned(v) {
            map.insert(key.to_string(), v);
        }
    };
    let trackid = ObjectPath::try_from(track_id(meta.entry))
        .unwrap_or_else(|_| ObjectPath::from_static_str_unchecked(NO_TRACK));
    put("mpris:trackid", Value::from(trackid));
    if meta.entry.is_none() {
        return map;
    }
    put("xesam:title", Value::from(meta.title.as_str()));
    if !meta.artists.is_empty() {
        put("xesam:artist", Value::from(meta.artists.clone()));
    }
    if let Some(album) = &meta.album {
        put("xesam:album", Value::from(album.as_str()));
    }
    if !meta.album_artists.is_empty() {
        put("xesam:albumArtist", Value::from(meta.album_artists.clone()));
    }
    if let Some(n) = meta.track.and_then(|n| i32::try_from(n).ok()) {
        put("xesam:trackNumber", Value::from(n));
    }
    put("xesam:url", Value::from(file_url(&meta.path)));
    if meta.length > 0 {
        put("mpris:length", Value::from(meta.length));
    }
    if let Some(art) = &meta.art {
        put("mpris:artUrl", Value::from(file_url(art)));
    }
    map
}

/// An image file beside the track that reads as its cover (`cover.jpg`, `folder.jpg`,
/// `cover.png`, `front.jpg`, in any case). An embedded picture is not extracted: a client that
/// wants it can read the file, and a cache of extracted pictures would be files to manage.
fn cover_beside(track: &Path) -> Option<PathBuf> {
    let dir = track.parent()?;
    let mut found: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_ascii_lowercase();
            let rank = COVER_NAMES.iter().position(|c| *c == name)?;
            e.path().is_file().then(|| (rank, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().next().map(|(_, p)| p)
}

/// A `file://` URL of an absolute path: bytes outside RFC 3986's unreserved set and `/` are
/// percent-encoded.
fn file_url(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut url = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

fn playback_status(state: State) -> &'static str {
    match state {
        State::Play => "Playing",
        State::Pause => "Paused",
        State::Stop => "Stopped",
    }
}

fn loop_status(repeat: Repeat) -> &'static str {
    match repeat {
        Repeat::Off => "None",
        Repeat::One => "Track",
        Repeat::All => "Playlist",
    }
}

fn repeat_of(loop_status: &str) -> Option<Repeat> {
    match loop_status {
        "None" => Some(Repeat::Off),
        "Track" => Some(Repeat::One),
        "Playlist" => Some(Repeat::All),
        _ => None,
    }
}

// ---- the interfaces ------------------------------------------------------------------------

struct Root;

#[zbus::interface(name = "org.mpris.MediaPlayer2")]
impl Root {
    /// There is no window to raise.
    fn raise(&self) {}

    /// `CanQuit` is false: the player ends when its queue does, or with `Stop`.
    fn quit(&self) {}

    #[zbus(property)]
    fn can_quit(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn can_raise(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn has_track_list(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn identity(&self) -> &str {
        "tapedeck"
    }

    #[zbus(property)]
    fn supported_uri_schemes(&self) -> Vec<String> {
        vec!["file".to_string()]
    }

    #[zbus(property)]
    fn supported_mime_types(&self) -> Vec<String> {
        MIME_TYPES.iter().map(|m| m.to_string()).collect()
    }
}

struct Player {
    service: Service,
    cache: Cache,
}

#[zbus::interface(name = "org.mpris.MediaPlayer2.Player")]
impl Player {
    fn next(&self) {
        self.service.next();
    }

    fn previous(&self) {
        self.service.previous();
    }

    fn pause(&self) {
        if self.service.status().state == State::Play {
            self.service.pause(Some(true));
        }
    }

    fn play_pause(&self) {
        self.service.pause(None);
    }

    fn stop(&self) {
        self.service.stop();
    }

    fn play(&self) {
        self.service.pause(Some(false));
    }

    /// Moves by `offset` microseconds; past the end is the next track, before the start the
    /// start.
    fn seek(&self, offset: i64) {
        let status = self.service.status();
        if status.current.is_none() {
            return;
        }
        let to = status.elapsed + offset as f64 / 1_000_000.0;
        if status.duration > 0.0 && to >= status.duration {
            self.service.next();
        } else {
            let _ = self.service.seek_current(to.max(0.0), false);
        }
    }

    /// Goes to `position` microseconds into the current track, when `trackid` still names it
    /// and the position lies within it (otherwise nothing, as the specification says).
    fn set_position(&self, trackid: ObjectPath<'_>, position: i64) {
        let status = self.service.status();
        let Some((_, id)) = status.current else {
            return;
        };
        if trackid.as_str() != track_id(Some(id)) || position < 0 {
            return;
        }
        let secs = position as f64 / 1_000_000.0;
        if status.duration > 0.0 && secs > status.duration {
            return;
        }
        let _ = self.service.seek_current(secs, false);
    }

    fn open_uri(&self, _uri: &str) -> zbus::fdo::Result<()> {
        Err(zbus::fdo::Error::NotSupported(
            "tapedeck plays the queue it was started with".into(),
        ))
    }

    #[zbus(signal)]
    async fn seeked(emitter: &SignalEmitter<'_>, position: i64) -> zbus::Result<()>;

    #[zbus(property)]
    fn playback_status(&self) -> &str {
        playback_status(self.service.status().state)
    }

    #[zbus(property)]
    fn loop_status(&self) -> &str {
        loop_status(self.service.status().repeat)
    }

    #[zbus(property)]
    fn set_loop_status(&mut self, value: &str) -> zbus::fdo::Result<()> {
        let repeat = repeat_of(value)
            .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no loop status {value:?}")))?;
        self.service.set_repeat(repeat);
        Ok(())
    }

    #[zbus(property)]
    fn rate(&self) -> f64 {
        1.0
    }

    /// Only the normal rate is offered (`MinimumRate` = `MaximumRate` = 1); a rate of 0 is a
    /// pause, as the specification asks.
    #[zbus(property)]
    fn set_rate(&mut self, rate: f64) {
        if rate == 0.0 {
            self.pause();
        }
    }

    #[zbus(property)]
    fn shuffle(&self) -> bool {
        self.service.status().shuffle != Shuffle::Off
    }

    #[zbus(property)]
    fn set_shuffle(&mut self, on: bool) {
        self.service
            .set_shuffle(if on { Shuffle::Tracks } else { Shuffle::Off });
    }

    #[zbus(property)]
    fn metadata(&self) -> HashMap<String, OwnedValue> {
        metadata_map(&current_meta(&self.service, &self.cache))
    }

    #[zbus(property)]
    fn volume(&self) -> f64 {
        f64::from(self.service.status().volume) / 100.0
    }

    #[zbus(property)]
    fn set_volume(&mut self, volume: f64) {
        self.service.set_volume(volume_percent(volume));
    }

    #[zbus(property(emits_changed_signal = "false"))]
    fn position(&self) -> i64 {
        micros(self.service.status().elapsed)
    }

    #[zbus(property)]
    fn minimum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    fn maximum_rate(&self) -> f64 {
        1.0
    }

    #[zbus(property)]
    fn can_go_next(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn can_go_previous(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn can_play(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn can_pause(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn can_seek(&self) -> bool {
        true
    }

    #[zbus(property(emits_changed_signal = "const"))]
    fn can_control(&self) -> bool {
        true
    }
}

/// MPRIS volume (0.0-1.0; more is allowed by the specification but not offered) as percent.
fn volume_percent(volume: f64) -> u8 {
    if volume.is_nan() {
        return 0;
    }
    (volume.clamp(0.0, 1.0) * 100.0).round() as u8
}

// ---- the watcher ---------------------------------------------------------------------------

/// The properties that announce their changes, as last announced.
#[derive(Debug, Clone, PartialEq)]
struct Shown {
    playback: &'static str,
    loop_status: &'static str,
    shuffle: bool,
    volume: u8,
    meta: Meta,
}

/// Where the position was last seen, to tell a seek from time passing.
struct Anchor {
    secs: f64,
    at: Instant,
    moving: bool,
}

/// A position this far from where time alone would have taken it was a seek.
const SEEK_TOLERANCE: f64 = 0.75;

struct Watch {
    service: Service,
    connection: Connection,
    cache: Cache,
    subscription: super::Subscription,
    events: Receiver<Event>,
    quit: Receiver<()>,
}

impl Watch {
    fn run(self) {
        let mut shown = self.shown();
        let mut anchor: Option<Anchor> = None;
        loop {
            crossbeam_channel::select! {
                recv(self.quit) -> _ => return,
                recv(self.subscription.wake()) -> _ => {
                    self.subscription.take();
                }
                recv(self.events) -> event => match event {
                    Ok(Event::Started { at, .. }) => {
                        anchor = Some(Anchor { secs: at, at: Instant::now(), moving: true });
                    }
                    Ok(Event::Position { secs, .. }) => {
                        let moving = self.service.status().state == State::Play;
                        if let Some(a) = &anchor {
                            let expected = a.secs
                                + if a.moving { a.at.elapsed().as_secs_f64() } else { 0.0 };
                            if (secs - expected).abs() > SEEK_TOLERANCE {
                                self.seeked(secs);
                            }
                        }
                        anchor = Some(Anchor { secs, at: Instant::now(), moving });
                    }
                    Ok(Event::Paused(p)) => {
                        if let Some(a) = &mut anchor {
                            if a.moving {
                                a.secs += a.at.elapsed().as_secs_f64();
                            }
                            a.at = Instant::now();
                            a.moving = !p;
                        }
                    }
                    Ok(Event::Ended) => anchor = None,
                    Ok(_) => {}
                    Err(_) => return,
                },
                default(Duration::from_secs(1)) => {}
            }
            let now = self.shown();
            if now != shown {
                self.announce(&shown, &now);
                shown = now;
            }
        }
    }

    fn shown(&self) -> Shown {
        let status = self.service.status();
        Shown {
            playback: playback_status(status.state),
            loop_status: loop_status(status.repeat),
            shuffle: status.shuffle != Shuffle::Off,
            volume: status.volume,
            meta: current_meta(&self.service, &self.cache),
        }
    }

    /// Sends `PropertiesChanged` with what differs between `before` and `now`.
    fn announce(&self, before: &Shown, now: &Shown) {
        let mut changed: HashMap<&str, OwnedValue> = HashMap::new();
        let mut put = |key: &'static str, v: Value<'_>| {
            if let Some(v) = owned(v) {
                changed.insert(key, v);
            }
        };
        if before.playback != now.playback {
            put("PlaybackStatus", Value::from(now.playback));
        }
        if before.loop_status != now.loop_status {
            put("LoopStatus", Value::from(now.loop_status));
        }
        if before.shuffle != now.shuffle {
            put("Shuffle", Value::from(now.shuffle));
        }
        if before.volume != now.volume {
            put("Volume", Value::from(f64::from(now.volume) / 100.0));
        }
        if before.meta != now.meta {
            put("Metadata", Value::from(metadata_map(&now.meta)));
        }
        if changed.is_empty() {
            return;
        }
        let invalidated: Vec<&str> = Vec::new();
        let _ = self.connection.emit_signal(
            None::<&str>,
            OBJECT_PATH,
            "org.freedesktop.DBus.Properties",
            "PropertiesChanged",
            &(PLAYER_INTERFACE, changed, invalidated),
        );
    }

    fn seeked(&self, secs: f64) {
        if let Ok(emitter) = SignalEmitter::new(self.connection.inner(), OBJECT_PATH) {
            let _ = zbus::block_on(Player::seeked(&emitter, micros(secs)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_escape_what_a_url_cannot_hold() {
        for (path, url) in [
            ("/music/a.flac", "file:///music/a.flac"),
            ("/music/A B/c d.mp3", "file:///music/A%20B/c%20d.mp3"),
            ("/m/x#1?.wav", "file:///m/x%231%3F.wav"),
            ("/m/100%.m4a", "file:///m/100%25.m4a"),
            ("/m/Björk/é.flac", "file:///m/Bj%C3%B6rk/%C3%A9.flac"),
            ("/m/a~b_c-d.e", "file:///m/a~b_c-d.e"),
        ] {
            assert_eq!(file_url(Path::new(path)), url, "{path}");
        }
    }

    #[test]
    fn loop_status_names_each_repeat_mode_both_ways() {
        for (repeat, name) in [
            (Repeat::Off, "None"),
            (Repeat::One, "Track"),
            (Repeat::All, "Playlist"),
        ] {
            assert_eq!(loop_status(repeat), name);
            assert_eq!(repeat_of(name), Some(repeat));
        }
        assert_eq!(repeat_of("track"), None);
        assert_eq!(repeat_of(""), None);
    }

    #[test]
    fn volume_maps_onto_percent_and_is_clamped() {
        for (v, p) in [
            (0.0, 0),
            (0.5, 50),
            (0.333, 33),
            (1.0, 100),
            (1.7, 100),
            (-0.2, 0),
            (f64::NAN, 0),
        ] {
            assert_eq!(volume_percent(v), p, "{v}");
        }
    }

    #[test]
    fn the_cover_is_an_image_file_beside_the_track_by_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let track = dir.path().join("01.flac");
        std::fs::write(&track, b"").unwrap();
        assert_eq!(cover_beside(&track), None);
        std::fs::write(dir.path().join("Front.JPG"), b"x").unwrap();
        assert_eq!(cover_beside(&track), Some(dir.path().join("Front.JPG")));
        std::fs::write(dir.path().join("Cover.jpg"), b"x").unwrap();
        assert_eq!(cover_beside(&track), Some(dir.path().join("Cover.jpg")));
        // A folder by that name is not a picture.
        let other = tempfile::tempdir().unwrap();
        std::fs::create_dir(other.path().join("cover.jpg")).unwrap();
        assert_eq!(cover_beside(&other.path().join("t.mp3")), None);
    }

    #[test]
    fn metadata_without_a_current_track_is_only_the_no_track_id() {
        let map = metadata_map(&Meta::default());
        assert_eq!(map.len(), 1);
        let id = ObjectPath::try_from(map["mpris:trackid"].try_clone().unwrap()).unwrap();
        assert_eq!(id.as_str(), NO_TRACK);
    }

    #[test]
    fn metadata_names_the_entry_and_gives_lengths_in_microseconds() {
        let meta = Meta {
            entry: Some(7),
            title: "T".into(),
            artists: vec!["A".into(), "B".into()],
            album: Some("Al".into()),
            album_artists: vec!["AA".into()],
            track: Some(3),
            path: PathBuf::from("/m/t t.flac"),
            length: micros(2.5),
            art: Some(PathBuf::from("/m/cover.jpg")),
        };
        let map = metadata_map(&meta);
        let text = |k: &str| String::try_from(map[k].try_clone().unwrap()).unwrap();
        let id = ObjectPath::try_from(map["mpris:trackid"].try_clone().unwrap()).unwrap();
        assert_eq!(id.as_str(), "/org/tapedeck/track/7");
        assert_eq!(text("xesam:title"), "T");
        assert_eq!(text("xesam:album"), "Al");
        assert_eq!(text("xesam:url"), "file:///m/t%20t.flac");
        assert_eq!(text("mpris:artUrl"), "file:///m/cover.jpg");
        let artists = <Vec<String>>::try_from(map["xesam:artist"].try_clone().unwrap()).unwrap();
        assert_eq!(artists, ["A", "B"]);
        assert_eq!(
            i64::try_from(map["mpris:length"].try_clone().unwrap()).unwrap(),
            2_500_000
        );
        assert_eq!(
            i32::try_from(map["xesam:trackNumber"].try_clone().unwrap()).unwrap(),
            3
        );
    }
}
