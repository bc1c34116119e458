//! The MPD commands: one client's session (its library connection, enabled tags, binary limit,
//! password) and what each command does, through the player service and the library. Answers
//! are written as MPD writes them; a failure is an [`Ack`] with MPD's code and text.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::filter;
use super::request::{self, Ack, AckCode, ArgError};
use super::server::Server;
use super::tags::{self, TagType};
use super::uri::{Folder, Roots};
use crate::audio::gain;
use crate::clock::now;
use crate::db::query::Selection;
use crate::db::{Library, Members, Playlist};
use crate::model::Track;
use crate::player::queue::{Item, Repeat, Shuffle};
use crate::service::{Changes, Entry, ServiceError, State, Subscription, items};

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Done,
    Close,
}

type Reply = Result<Flow, Ack>;

/// Every command this server answers (what `commands` lists).
pub const COMMANDS: &[&str] = &[
    "add",
    "addid",
    "albumart",
    "binarylimit",
    "clear",
    "clearerror",
    "close",
    "command_list_begin",
    "command_list_end",
    "command_list_ok_begin",
    "commands",
    "consume",
    "count",
    "crossfade",
    "currentsong",
    "decoders",
    "delete",
    "deleteid",
    "disableoutput",
    "enableoutput",
    "find",
    "findadd",
    "getvol",
    "idle",
    "list",
    "listall",
    "listallinfo",
    "listfiles",
    "listplaylist",
    "listplaylistinfo",
    "listplaylists",
    "load",
    "lsinfo",
    "mixrampdb",
    "mixrampdelay",
    "move",
    "moveid",
    "next",
    "noidle",
    "notcommands",
    "outputs",
    "password",
    "pause",
    "ping",
    "play",
    "playid",
    "playlist",
    "playlistadd",
    "playlistclear",
    "playlistdelete",
    "playlistfind",
    "playlistid",
    "playlistinfo",
    "playlistmove",
    "playlistsearch",
    "plchanges",
    "plchangesposid",
    "previous",
    "prio",
    "prioid",
    "random",
    "rangeid",
    "readpicture",
    "rename",
    "repeat",
    "replay_gain_mode",
    "replay_gain_status",
    "rescan",
    "rm",
    "save",
    "search",
    "searchadd",
    "searchaddpl",
    "seek",
    "seekcur",
    "seekid",
    "setvol",
    "shuffle",
    "single",
    "stats",
    "status",
    "sticker",
    "stop",
    "swap",
    "swapid",
    "tagtypes",
    "toggleoutput",
    "update",
    "urlhandlers",
    "volume",
];

/// Commands a client that has not given the password may still send.
const WITHOUT_PASSWORD: &[&str] = &["password", "ping", "close", "commands", "notcommands"];

/// The covers looked for beside a track, in order (as MPD's `albumart`).
const COVER_NAMES: &[&str] = &[
    "cover.png",
    "cover.jpg",
    "cover.jpeg",
    "cover.webp",
    "folder.png",
    "folder.jpg",
    "folder.jpeg",
    "front.png",
    "front.jpg",
    "front.jpeg",
    "album.jpg",
    "album.png",
];

pub struct Session {
    server: Arc<Server>,
    /// Connected through the Unix socket: trusted, and may name files by absolute path.
    local: bool,
    authed: bool,
    lib: Option<Library>,
    sub: Subscription,
    /// Tags left out of song blocks (`tagtypes disable`).
    hidden: HashSet<TagType>,
    binary_limit: usize,
    /// The last picture read, so a client reading it in chunks reads the file once.
    picture: Option<(String, bool, Vec<u8>)>,
}

fn ack(code: AckCode, cmd: &str, message: impl std::fmt::Display) -> Ack {
    Ack::new(code, cmd, message)
}

fn arg_error(cmd: &str, e: ArgError) -> Ack {
    ack(AckCode::Arg, cmd, e)
}

fn service_error(cmd: &str, e: ServiceError) -> Ack {
    match e {
        ServiceError::NoSuchSong => ack(AckCode::NoExist, cmd, "No such song"),
        ServiceError::BadPosition => ack(AckCode::Arg, cmd, "Bad song index"),
        ServiceError::Output(m) => ack(AckCode::System, cmd, m),
        ServiceError::Db(e) => ack(AckCode::System, cmd, e),
    }
}

fn io_ack(cmd: &str) -> impl Fn(io::Error) -> Ack + '_ {
    move |e| ack(AckCode::System, cmd, e)
}

/// Checks the number of arguments (after the command word).
fn arity(args: &[String], min: usize, max: usize) -> Result<(), Ack> {
    let n = args.len() - 1;
    if n < min || n > max {
        return Err(ack(
            AckCode::Arg,
            &args[0],
            format!("wrong number of arguments for \"{}\"", args[0]),
        ));
    }
    Ok(())
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

impl Session {
    pub fn new(server: Arc<Server>, local: bool) -> Session {
        let sub = server.service.subscribe();
        Session {
            authed: server.password.is_none() || local,
            server,
            local,
            lib: None,
            sub,
            hidden: HashSet::new(),
            binary_limit: 8192,
            picture: None,
        }
    }

    pub fn subscription(&self) -> &Subscription {
        &self.sub
    }

    /// Changes an `idle` did not ask for, kept for a later one.
    pub fn keep(&self, changes: Changes) {
        self.sub.put_back(changes);
    }

    pub fn may_read(&self) -> bool {
        self.authed
    }

    fn lib(&mut self, cmd: &str) -> Result<&Library, Ack> {
        if self.lib.is_none() {
            let lib = Library::open_read_only(&self.server.db_path).map_err(|e| {
                ack(
                    AckCode::System,
                    cmd,
                    format!("cannot read the library: {e}"),
                )
            })?;
            self.lib = Some(lib);
        }
        Ok(self.lib.as_ref().expect("opened"))
    }

    fn roots(&mut self, cmd: &str) -> Result<Roots, Ack> {
        let roots = self
            .lib(cmd)?
            .roots()
            .map_err(|e| ack(AckCode::System, cmd, e))?;
        Ok(Roots::new(
            &roots.into_iter().map(|r| r.path).collect::<Vec<_>>(),
        ))
    }

    /// The URI a client sees for a path: under a root, or (outside every root) the path itself.
    fn uri(roots: &Roots, path: &Path) -> String {
        roots
            .uri_of(path)
            .unwrap_or_else(|| tags::clean(&path.to_string_lossy()))
    }

    fn write_song(&self, out: &mut dyn Write, roots: &Roots, t: &Track) -> io::Result<()> {
        let mut block = Vec::with_capacity(512);
        tags::write_song(&mut block, &Self::uri(roots, &t.path), t);
        write_filtered(out, &block, &self.hidden)
    }

    /// Runs one command.
    pub fn run(&mut self, args: &[String], out: &mut dyn Write) -> Reply {
        let cmd = args[0].as_str();
        if !self.authed && !WITHOUT_PASSWORD.contains(&cmd) {
            return Err(ack(
                AckCode::Permission,
                cmd,
                format!("you don't have permission for \"{cmd}\""),
            ));
        }
        let result = self.dispatch(args, out);
        if let Err(a) = &result
            && a.command.is_empty()
        {
            let mut a = a.clone();
            a.command = cmd.to_string();
            return Err(a);
        }
        result
    }

    fn dispatch(&mut self, args: &[String], out: &mut dyn Write) -> Reply {
        let cmd = args[0].as_str();
        let service = self.server.service.clone();
        let w = io_ack(cmd);
        match cmd {
            "ping" => arity(args, 0, 0)?,
            "password" => {
                arity(args, 1, 1)?;
                match &self.server.password {
                    Some(p) if *p == args[1] => self.authed = true,
                    None => self.authed = true,
                    Some(_) => return Err(ack(AckCode::Password, cmd, "incorrect password")),
                }
            }
            "commands" => {
                for c in COMMANDS {
                    writeln!(out, "command: {c}").map_err(&w)?;
                }
            }
            "notcommands" => {}
            "urlhandlers" => {
                if self.local {
                    writeln!(out, "handler: file://").map_err(&w)?;
                }
            }
            "decoders" => {
                for (plugin, suffixes, mimes) in [
                    ("mad", &["mp3"][..], &["audio/mpeg"][..]),
                    ("flac", &["flac"][..], &["audio/flac", "audio/x-flac"][..]),
                    (
                        "ffmpeg",
                        &["m4a", "mp4", "aac", "alac"][..],
                        &["audio/mp4", "audio/aac"][..],
                    ),
                    (
                        "sndfile",
                        &["wav", "aif", "aiff", "aifc"][..],
                        &["audio/wav", "audio/x-wav", "audio/aiff", "audio/x-aiff"][..],
                    ),
                ] {
                    writeln!(out, "plugin: {plugin}").map_err(&w)?;
                    for s in suffixes {
                        writeln!(out, "suffix: {s}").map_err(&w)?;
                    }
                    for m in mimes {
                        writeln!(out, "mime_type: {m}").map_err(&w)?;
                    }
                }
            }
            "outputs" => {
                write!(
                    out,
                    "outputid: 0\noutputname: default\nplugin: alsa\noutputenabled: 1\n"
                )
                .map_err(&w)?;
            }
            "enableoutput" | "disableoutput" | "toggleoutput" => {
                arity(args, 1, 1)?;
                if request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))? != 0 {
                    return Err(ack(AckCode::NoExist, cmd, "No such audio output"));
                }
            }
            "binarylimit" => {
                arity(args, 1, 1)?;
                let n = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))? as usize;
                if n < 64 {
                    return Err(ack(AckCode::Arg, cmd, "Value too small"));
                }
                self.binary_limit = n.min(8 * 1024 * 1024);
            }
            "tagtypes" => self.tagtypes(args, out)?,
            "status" => self.status(out).map_err(&w)?,
            "stats" => self.stats(out)?,
            "currentsong" => {
                let status = service.status();
                if let Some((pos, _)) = status.current {
                    let roots = self.roots(cmd)?;
                    let entries = service.entries();
                    self.write_entries(out, &roots, &entries, pos..pos + 1)
                        .map_err(&w)?;
                }
            }
            "clearerror" => service.clear_error(),
            // Playback.
            "play" | "playid" => {
                arity(args, 0, 1)?;
                let n = match args.get(1) {
                    Some(a) => {
                        let v = request::parse_int(a, -1, i64::from(i32::MAX))
                            .map_err(|e| arg_error(cmd, e))?;
                        (v >= 0).then_some(v as u32)
                    }
                    None => None,
                };
                let r = if cmd == "play" {
                    service.play(n.map(|n| n as usize))
                } else {
                    service.play_id(n)
                };
                r.map_err(|e| service_error(cmd, e))?;
            }
            "pause" => {
                arity(args, 0, 1)?;
                let p = match args.get(1) {
                    Some(a) => Some(request::parse_bool(a).map_err(|e| arg_error(cmd, e))?),
                    None => None,
                };
                service.pause(p);
            }
            "stop" => service.stop(),
            "next" => service.next(),
            "previous" => service.previous(),
            "seek" | "seekid" => {
                arity(args, 2, 2)?;
                let n = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let t = request::parse_float(&args[2]).map_err(|e| arg_error(cmd, e))?;
                let r = if cmd == "seek" {
                    service.seek(n as usize, t)
                } else {
                    service.seek_id(n, t)
                };
                r.map_err(|e| service_error(cmd, e))?;
            }
            "seekcur" => {
                arity(args, 1, 1)?;
                let a = args[1].as_str();
                let relative = a.starts_with('+') || a.starts_with('-');
                let t = request::parse_float(a).map_err(|e| arg_error(cmd, e))?;
                service.seek_current(t, relative).map_err(|e| match e {
                    ServiceError::NoSuchSong => ack(AckCode::PlayerSync, cmd, "Not playing"),
                    e => service_error(cmd, e),
                })?;
            }
            // Options.
            "setvol" => {
                arity(args, 1, 1)?;
                let v = request::parse_int(&args[1], 0, 100)
                    .map_err(|_| ack(AckCode::Arg, cmd, "Invalid volume value"))?;
                service.set_volume(v as u8);
            }
            "volume" => {
                arity(args, 1, 1)?;
                let d = request::parse_int(&args[1], -100, 100)
                    .map_err(|_| ack(AckCode::Arg, cmd, "Invalid volume value"))?;
                service.volume_by(d as i16);
            }
            "getvol" => {
                writeln!(out, "volume: {}", service.status().volume).map_err(&w)?;
            }
            "random" => {
                arity(args, 1, 1)?;
                let on = request::parse_bool(&args[1]).map_err(|e| arg_error(cmd, e))?;
                service.set_shuffle(if on { Shuffle::Tracks } else { Shuffle::Off });
            }
            "repeat" => {
                arity(args, 1, 1)?;
                let on = request::parse_bool(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let single = service.status().single;
                service.set_repeat(repeat_of(on, single));
                if !on && single {
                    service.set_single(true);
                }
            }
            "single" | "consume" => {
                arity(args, 1, 1)?;
                let on = match args[1].as_str() {
                    "oneshot" => true,
                    a => request::parse_bool(a).map_err(|e| arg_error(cmd, e))?,
                };
                if cmd == "consume" {
                    service.set_consume(on);
                } else {
                    let repeat_on = service.status().repeat != Repeat::Off;
                    service.set_repeat(repeat_of(repeat_on, on));
                    service.set_single(on);
                }
            }
            "crossfade" | "mixrampdb" | "mixrampdelay" => {
                arity(args, 1, 1)?;
                request::parse_float(&args[1]).map_err(|e| arg_error(cmd, e))?;
            }
            "replay_gain_mode" => {
                arity(args, 1, 1)?;
                let mode = match args[1].as_str() {
                    "off" => gain::Mode::Off,
                    "track" => gain::Mode::Track,
                    "album" => gain::Mode::Album,
                    "auto" => gain::Mode::Auto,
                    _ => return Err(ack(AckCode::Arg, cmd, "Unrecognized replay gain mode")),
                };
                service.set_gain_mode(mode);
            }
            "replay_gain_status" => {
                let mode = match service.status().gain_mode {
                    gain::Mode::Off => "off",
                    gain::Mode::Track => "track",
                    gain::Mode::Album => "album",
                    gain::Mode::Auto => "auto",
                };
                writeln!(out, "replay_gain_mode: {mode}").map_err(&w)?;
            }
            // The queue.
            "add" | "addid" => self.add(args, out)?,
            "delete" => {
                arity(args, 1, 1)?;
                let r = request::parse_range(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let len = service.status().length;
                let end = r.end.map_or(len, |e| e as usize);
                service
                    .delete(r.start as usize, end.min(len.max(r.start as usize + 1)))
                    .map_err(|e| service_error(cmd, e))?;
            }
            "deleteid" => {
                arity(args, 1, 1)?;
                let id = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                service.delete_id(id).map_err(|e| service_error(cmd, e))?;
            }
            "clear" => service.clear(),
            "move" => {
                arity(args, 2, 2)?;
                let r = request::parse_range(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let len = service.status().length;
                let to = self.position_arg(cmd, &args[2])?;
                service
                    .move_range(r.start as usize, r.end.map_or(len, |e| e as usize), to)
                    .map_err(|e| service_error(cmd, e))?;
            }
            "moveid" => {
                arity(args, 2, 2)?;
                let id = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let to = self.position_arg(cmd, &args[2])?;
                service.move_id(id, to).map_err(|e| service_error(cmd, e))?;
            }
            "swap" | "swapid" => {
                arity(args, 2, 2)?;
                let a = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let b = request::parse_u32(&args[2]).map_err(|e| arg_error(cmd, e))?;
                let r = if cmd == "swap" {
                    service.swap(a as usize, b as usize)
                } else {
                    service.swap_id(a, b)
                };
                r.map_err(|e| service_error(cmd, e))?;
            }
            "shuffle" => {
                arity(args, 0, 1)?;
                let len = service.status().length;
                let (start, end) = match args.get(1) {
                    Some(a) => {
                        let r = request::parse_range(a).map_err(|e| arg_error(cmd, e))?;
                        (r.start as usize, r.end.map_or(len, |e| e as usize))
                    }
                    None => (0, len),
                };
                service
                    .shuffle_list(start, end.min(len))
                    .map_err(|e| service_error(cmd, e))?;
            }
            "prio" | "prioid" => {
                if args.len() < 3 {
                    return Err(arity(args, 2, 2).unwrap_err());
                }
                let prio =
                    request::parse_int(&args[1], 0, 255).map_err(|e| arg_error(cmd, e))? as u8;
                let entries = service.entries();
                let mut ids = Vec::new();
                for a in &args[2..] {
                    if cmd == "prioid" {
                        ids.push(request::parse_u32(a).map_err(|e| arg_error(cmd, e))?);
                    } else {
                        let r = request::parse_range(a).map_err(|e| arg_error(cmd, e))?;
                        let end = r.end.map_or(entries.len(), |e| e as usize);
                        if r.start as usize >= entries.len() || end > entries.len() {
                            return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                        }
                        ids.extend(entries[r.start as usize..end].iter().map(|e| e.id));
                    }
                }
                service
                    .set_prio(prio, &ids)
                    .map_err(|e| service_error(cmd, e))?;
            }
            "rangeid" => {
                arity(args, 2, 2)?;
                let id = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                if service.with_entries(|e| !e.iter().any(|e| e.id == id)) {
                    return Err(ack(AckCode::NoExist, cmd, "No such song"));
                }
                // Playing part of a song is not supported; the range is accepted only when it
                // is the whole song.
                if args[2] != ":" {
                    return Err(ack(AckCode::Arg, cmd, "Song ranges are not supported"));
                }
            }
            "playlistinfo" | "playlist" => {
                arity(args, 0, 1)?;
                let entries = service.entries();
                let (start, end) = match args.get(1) {
                    Some(a) => {
                        let r = request::parse_range(a).map_err(|e| arg_error(cmd, e))?;
                        let end = r.end.map_or(entries.len(), |e| e as usize);
                        if r.start as usize >= entries.len() && !entries.is_empty() {
                            return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                        }
                        (r.start as usize, end.min(entries.len()))
                    }
                    None => (0, entries.len()),
                };
                let roots = self.roots(cmd)?;
                if cmd == "playlist" {
                    for (i, e) in entries[start.min(end)..end].iter().enumerate() {
                        writeln!(
                            out,
                            "{}:file: {}",
                            start + i,
                            Self::uri(&roots, &e.item.path)
                        )
                        .map_err(&w)?;
                    }
                } else {
                    self.write_entries(out, &roots, &entries, start..end)
                        .map_err(&w)?;
                }
            }
            "playlistid" => {
                arity(args, 0, 1)?;
                let entries = service.entries();
                let roots = self.roots(cmd)?;
                match args.get(1) {
                    Some(a) => {
                        let id = request::parse_u32(a).map_err(|e| arg_error(cmd, e))?;
                        let pos = entries
                            .iter()
                            .position(|e| e.id == id)
                            .ok_or_else(|| ack(AckCode::NoExist, cmd, "No such song"))?;
                        self.write_entries(out, &roots, &entries, pos..pos + 1)
                            .map_err(&w)?;
                    }
                    None => self
                        .write_entries(out, &roots, &entries, 0..entries.len())
                        .map_err(&w)?,
                }
            }
            "plchanges" | "plchangesposid" => {
                arity(args, 1, 2)?;
                let version = request::parse_u32(&args[1]).map_err(|e| arg_error(cmd, e))?;
                let entries = service.entries();
                let changed: Vec<usize> = (0..entries.len())
                    .filter(|&i| entries[i].version > version)
                    .collect();
                if cmd == "plchangesposid" {
                    for i in changed {
                        writeln!(out, "cpos: {i}\nId: {}", entries[i].id).map_err(&w)?;
                    }
                } else {
                    let roots = self.roots(cmd)?;
                    self.write_entries(out, &roots, &entries, changed)
                        .map_err(&w)?;
                }
            }
            // The library.
            "find" | "search" | "count" | "searchcount" | "list" | "findadd" | "searchadd"
            | "searchaddpl" => self.search(args, out)?,
            "playlistfind" | "playlistsearch" => self.queue_search(args, out)?,
            "lsinfo" => self.lsinfo(args, out)?,
            "listall" | "listallinfo" => self.listall(args, out)?,
            "listfiles" => self.listfiles(args, out)?,
            "update" | "rescan" => self.update(args, out)?,
            "albumart" | "readpicture" => self.picture(args, out)?,
            "sticker" => self.sticker(args, out)?,
            // Stored playlists.
            "listplaylists" => {
                let lib = self.lib(cmd)?;
                for p in lib.playlists().map_err(|e| ack(AckCode::System, cmd, e))? {
                    writeln!(out, "playlist: {}", tags::clean(&p.name)).map_err(&w)?;
                }
            }
            "listplaylist" | "listplaylistinfo" => {
                arity(args, 1, 2)?;
                let tracks = self.playlist_tracks(cmd, &args[1])?;
                let roots = self.roots(cmd)?;
                for t in &tracks {
                    if cmd == "listplaylist" {
                        writeln!(out, "file: {}", Self::uri(&roots, &t.path)).map_err(&w)?;
                    } else {
                        self.write_song(out, &roots, t).map_err(&w)?;
                    }
                }
            }
            "load" => {
                arity(args, 1, 3)?;
                let tracks = self.playlist_tracks(cmd, &args[1])?;
                let (start, end) = match args.get(2) {
                    Some(a) => {
                        let r = request::parse_range(a).map_err(|e| arg_error(cmd, e))?;
                        let end = r.end.map_or(tracks.len(), |e| e as usize).min(tracks.len());
                        (r.start as usize, end)
                    }
                    None => (0, tracks.len()),
                };
                if start > end {
                    return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                }
                let at = match args.get(3) {
                    Some(a) => Some(self.position_arg(cmd, a)?),
                    None => None,
                };
                let prefer = self.prefer_computed();
                let items = tracks[start..end]
                    .iter()
                    .map(|t| items::from_track(t, prefer))
                    .collect();
                service.add(items, at).map_err(|e| service_error(cmd, e))?;
            }
            "save" => self.save(args)?,
            "playlistadd" | "playlistclear" | "playlistdelete" | "playlistmove" | "rename"
            | "rm" => self.edit_playlist(args)?,
            _ => {
                return Err(ack(
                    AckCode::Unknown,
                    "",
                    format!("unknown command \"{cmd}\""),
                ));
            }
        }
        Ok(Flow::Done)
    }

    fn prefer_computed(&self) -> bool {
        self.server.prefer_computed
    }

    /// A queue position argument: a number, or (MPD 0.23) `+N`/`-N` relative to the current
    /// song.
    fn position_arg(&self, cmd: &str, a: &str) -> Result<usize, Ack> {
        if let Some(rel) = a.strip_prefix('+').or_else(|| a.strip_prefix('-')) {
            let n = request::parse_u32(rel).map_err(|e| arg_error(cmd, e))? as usize;
            let Some((cur, _)) = self.server.service.status().current else {
                return Err(ack(AckCode::Arg, cmd, "No current song"));
            };
            return if a.starts_with('+') {
                Ok(cur + 1 + n)
            } else {
                cur.checked_sub(n)
                    .ok_or_else(|| ack(AckCode::Arg, cmd, "Bad song index"))
            };
        }
        Ok(request::parse_u32(a).map_err(|e| arg_error(cmd, e))? as usize)
    }

    fn tagtypes(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = "tagtypes";
        let w = io_ack(cmd);
        match args.get(1).map(String::as_str) {
            None => {
                for name in tags::tag_types() {
                    let t = TagType::parse(name).expect("a known tag");
                    if !self.hidden.contains(&t) {
                        writeln!(out, "tagtype: {name}").map_err(&w)?;
                    }
                }
            }
            Some(sub @ ("disable" | "enable")) => {
                if args.len() < 3 {
                    return Err(ack(AckCode::Arg, cmd, "Not enough arguments"));
                }
                let mut named = Vec::new();
                for a in &args[2..] {
                    named.push(
                        TagType::parse(a).ok_or_else(|| {
                            ack(AckCode::Arg, cmd, format!("Unknown tag type: {a}"))
                        })?,
                    );
                }
                for t in named {
                    if sub == "disable" {
                        self.hidden.insert(t);
                    } else {
                        self.hidden.remove(&t);
                    }
                }
            }
            Some("clear") => self.hidden = TagType::all().collect(),
            Some("all") => self.hidden.clear(),
            Some(other) => {
                return Err(ack(
                    AckCode::Arg,
                    cmd,
                    format!("Unknown sub command: {other}"),
                ));
            }
        }
        Ok(())
    }

    fn status(&self, out: &mut dyn Write) -> io::Result<()> {
        let s = self.server.service.status();
        let (repeat, single) = match s.repeat {
            Repeat::Off => (false, s.single),
            Repeat::All => (true, s.single),
            Repeat::One => (true, true),
        };
        write!(
            out,
            "volume: {}\nrepeat: {}\nrandom: {}\nsingle: {}\nconsume: {}\npartition: default\n\
             playlist: {}\nplaylistlength: {}\nmixrampdb: 0.000000\nstate: {}\n",
            s.volume,
            flag(repeat),
            flag(s.shuffle != Shuffle::Off),
            flag(single),
            flag(s.consume),
            s.version,
            s.length,
            s.state.name()
        )?;
        if let Some((pos, id)) = s.current {
            writeln!(out, "song: {pos}\nsongid: {id}")?;
            if s.state != State::Stop {
                writeln!(
                    out,
                    "time: {}:{}\nelapsed: {:.3}\nbitrate: 0\nduration: {:.3}",
                    s.elapsed.round() as u64,
                    s.duration.round() as u64,
                    s.elapsed,
                    s.duration
                )?;
                if let Some(src) = s.source {
                    let bits = src.bits.map_or("f".to_string(), |b| b.to_string());
                    writeln!(out, "audio: {}:{}:{}", src.rate, bits, src.channels)?;
                }
            }
        }
        if let Some((pos, id)) = s.next {
            writeln!(out, "nextsong: {pos}\nnextsongid: {id}")?;
        }
        let job = self.server.updating.load(Ordering::Acquire);
        if job != 0 {
            writeln!(out, "updating_db: {job}")?;
        }
        if let Some(e) = s.error {
            writeln!(out, "error: {}", tags::clean(&e))?;
        }
        Ok(())
    }

    fn stats(&mut self, out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = "stats";
        let uptime = self.server.started.elapsed().as_secs();
        let lib = self.lib(cmd)?;
        let stats = lib
            .stats(None, false)
            .map_err(|e| ack(AckCode::System, cmd, e))?;
        let last_scan = lib
            .roots()
            .map_err(|e| ack(AckCode::System, cmd, e))?
            .iter()
            .filter_map(|r| r.last_scan)
            .max()
            .unwrap_or(0);
        write!(
            out,
            "artists: {}\nalbums: {}\nsongs: {}\nuptime: {uptime}\ndb_playtime: {}\n\
             db_update: {last_scan}\nplaytime: {uptime}\n",
            stats.artists,
            stats.albums,
            stats.tracks,
            stats.duration.round() as u64,
        )
        .map_err(io_ack(cmd))
    }

    /// Writes the queue entries at `positions` as songs with their place and id, reading their
    /// library rows in one query.
    fn write_entries(
        &mut self,
        out: &mut dyn Write,
        roots: &Roots,
        entries: &[Entry],
        positions: impl IntoIterator<Item = usize>,
    ) -> io::Result<()> {
        let positions: Vec<usize> = positions
            .into_iter()
            .filter(|&p| p < entries.len())
            .collect();
        if positions.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = positions
            .iter()
            .filter_map(|&p| entries[p].item.id)
            .collect();
        let tracks: std::collections::HashMap<i64, Track> = match self.lib("playlistinfo") {
            Ok(lib) => lib
                .tracks_by_ids(&ids)
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.id, t))
                .collect(),
            Err(_) => Default::default(),
        };
        for pos in positions {
            let e = &entries[pos];
            match e.item.id.and_then(|id| tracks.get(&id)) {
                Some(t) => self.write_song(out, roots, t)?,
                None => {
                    let t = track_of_item(&e.item);
                    self.write_song(out, roots, &t)?;
                }
            }
            writeln!(out, "Pos: {pos}\nId: {}", e.id)?;
            if e.prio > 0 {
                writeln!(out, "Prio: {}", e.prio)?;
            }
        }
        Ok(())
    }

    /// `add URI` / `addid URI [POS]`: a song, or every song under a folder (`add` only).
    fn add(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = args[0].as_str();
        arity(args, 1, 2)?;
        let at = match args.get(2) {
            Some(a) => Some(self.position_arg(cmd, a)?),
            None => None,
        };
        let uri = args[1].as_str();
        let prefer = self.prefer_computed();
        let items = self.items_for_uri(cmd, uri, prefer, cmd == "add")?;
        if items.is_empty() {
            return Err(ack(AckCode::NoExist, cmd, "No such directory"));
        }
        let ids = self
            .server
            .service
            .add(items, at)
            .map_err(|e| service_error(cmd, e))?;
        if cmd == "addid" {
            writeln!(out, "Id: {}", ids[0]).map_err(io_ack(cmd))?;
        }
        Ok(())
    }

    /// The queue items a URI names: a library song, a folder's songs (in path order), or for a
    /// local client a file by absolute path (`file:///…` or `/…`).
    fn items_for_uri(
        &mut self,
        cmd: &str,
        uri: &str,
        prefer: bool,
        folders: bool,
    ) -> Result<Vec<Item>, Ack> {
        let absolute = uri.strip_prefix("file://").unwrap_or(uri);
        if absolute.starts_with('/') {
            if !self.local {
                return Err(ack(
                    AckCode::Permission,
                    cmd,
                    "Access to local files is only allowed through the local socket",
                ));
            }
            let path = PathBuf::from(absolute);
            let lib = self.lib(cmd)?;
            let found =
                items::for_paths(lib, &[path], prefer).map_err(|e| ack(AckCode::System, cmd, e))?;
            return match found.into_iter().next() {
                Some(Ok(item)) => Ok(vec![item]),
                Some(Err(why)) => Err(ack(AckCode::NoExist, cmd, format!("{absolute} {why}"))),
                None => Err(ack(AckCode::NoExist, cmd, "No such song")),
            };
        }
        let (_, folder) = self.folder(cmd, uri)?;
        let lib = self.lib(cmd)?;
        let dir = match folder {
            Folder::Top => None,
            Folder::Dir(path) => {
                if let Some(t) = lib
                    .track_by_path(&path)
                    .map_err(|e| ack(AckCode::System, cmd, e))?
                {
                    return Ok(vec![items::from_track(&t, prefer)]);
                }
                if !folders {
                    return Err(ack(AckCode::NoExist, cmd, "No such song"));
                }
                Some(path)
            }
        };
        if !folders {
            return Err(ack(AckCode::NoExist, cmd, "No such song"));
        }
        let mut out = Vec::new();
        lib.for_each_track_under(dir.as_deref(), Members::All, |t| {
            out.push(items::from_track(&t, prefer));
            Ok(())
        })
        .map_err(|e| ack(AckCode::System, cmd, e))?
        .ok();
        Ok(out)
    }

    /// The search commands: `find`/`search` (songs), `count`/`searchcount` (totals, grouped),
    /// `list` (a tag's values, grouped), `findadd`/`searchadd` (to the queue) and `searchaddpl`
    /// (to a stored playlist).
    fn search(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        use filter::Command as C;
        let cmd = args[0].clone();
        let cmd = cmd.as_str();
        let w = io_ack(cmd);
        let kind = filter::Command::parse(cmd).expect("a search command");
        let roots = self.roots(cmd)?;
        let req = filter::parse(kind, &args[1..], &roots).map_err(|e| ack(e.code(), cmd, e))?;
        let hidden = self.hidden.clone();
        let lib = self.lib(cmd)?;
        let db = |e| ack(AckCode::System, cmd, e);
        let select = Selection {
            query: Some(&req.query),
            random: false,
            limit: None,
            within: false,
        };
        match kind {
            // Found songs are streamed as the index gives them unless the client asks for an
            // order (MPD's own order is its database's, which clients sort themselves).
            C::Find | C::Search if req.sort.is_none() && req.query.sort.is_empty() => {
                let (start, end) = req
                    .window
                    .map_or((0, None), |r| (r.start as usize, r.end.map(|e| e as usize)));
                let mut n = 0usize;
                let mut block = Vec::with_capacity(512);
                lib.for_each_track_unsorted(&req.query, Members::Only(&tags::SONG_MEMBERS), |t| {
                    let i = n;
                    n += 1;
                    if i < start || end.is_some_and(|e| i >= e) {
                        return Ok(());
                    }
                    block.clear();
                    tags::write_song(&mut block, &Self::uri(&roots, &t.path), &t);
                    write_filtered(out, &block, &hidden)
                })
                .map_err(db)?
                .map_err(&w)?;
            }
            C::Find | C::Search | C::FindAdd | C::SearchAdd | C::SearchAddPl => {
                let mut tracks = lib.tracks(&select).map_err(db)?;
                match req.sort {
                    Some((filter::SortKey::LastModified, desc)) => {
                        tracks.sort_by_key(|t| t.mtime);
                        if desc {
                            tracks.reverse();
                        }
                    }
                    Some((filter::SortKey::Added, desc)) => {
                        tracks.sort_by_key(|t| t.added_at);
                        if desc {
                            tracks.reverse();
                        }
                    }
                    _ => {}
                }
                if let Some(r) = req.window {
                    let start = (r.start as usize).min(tracks.len());
                    let end = r
                        .end
                        .map_or(tracks.len(), |e| (e as usize).min(tracks.len()));
                    tracks = tracks.drain(start..end.max(start)).collect();
                }
                match kind {
                    C::Find | C::Search => {
                        for t in &tracks {
                            self.write_song(out, &roots, t).map_err(&w)?;
                        }
                    }
                    C::SearchAddPl => {
                        let name = req.playlist.clone().unwrap_or_default();
                        let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
                        self.append_to_playlist(cmd, &name, &ids)?;
                    }
                    _ => {
                        let at = match &req.position {
                            Some(p) => Some(self.position_arg(cmd, p)?),
                            None => None,
                        };
                        let prefer = self.prefer_computed();
                        let items = tracks
                            .iter()
                            .map(|t| items::from_track(t, prefer))
                            .collect();
                        self.server
                            .service
                            .add(items, at)
                            .map_err(|e| service_error(cmd, e))?;
                    }
                }
            }
            C::Count | C::SearchCount => {
                let mut groups: BTreeMap<Vec<String>, (u64, f64)> = BTreeMap::new();
                let group = req.group.clone();
                lib.for_each_track(&select, |t| {
                    for key in group_keys(&group, &t) {
                        let e = groups.entry(key).or_default();
                        e.0 += 1;
                        e.1 += t.duration;
                    }
                    Ok(())
                })
                .map_err(db)?
                .ok();
                if group.is_empty() && groups.is_empty() {
                    groups.insert(Vec::new(), (0, 0.0));
                }
                for (key, (songs, secs)) in groups {
                    for (tag, value) in group.iter().zip(&key) {
                        writeln!(out, "{}: {value}", tag.name()).map_err(&w)?;
                    }
                    writeln!(out, "songs: {songs}\nplaytime: {}", secs.round() as u64)
                        .map_err(&w)?;
                }
            }
            C::List => {
                let listed = req.list.expect("list names a tag");
                let group = req.group.clone();
                let mut values: Groups = BTreeMap::new();
                lib.for_each_track(&select, |t| {
                    // A track without the tag lists it empty, as MPD does.
                    let mut own = listed.values(&t);
                    if own.is_empty() {
                        own.push(String::new());
                    }
                    for key in group_keys(&group, &t) {
                        let set = values.entry(key).or_default();
                        set.extend(own.iter().cloned());
                    }
                    Ok(())
                })
                .map_err(db)?
                .ok();
                let mut last: Option<Vec<String>> = None;
                for (key, set) in &values {
                    // Group lines where they change, as MPD prints them.
                    let from = last
                        .as_ref()
                        .map_or(0, |l| l.iter().zip(key).take_while(|(a, b)| a == b).count());
                    for (tag, value) in group.iter().zip(key).skip(from) {
                        writeln!(out, "{}: {value}", tag.name()).map_err(&w)?;
                    }
                    for v in set {
                        writeln!(out, "{}: {v}", listed.name()).map_err(&w)?;
                    }
                    last = Some(key.clone());
                }
            }
        }
        Ok(())
    }

    /// `playlistfind`/`playlistsearch`: the queue's entries that match.
    fn queue_search(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = args[0].clone();
        let cmd = cmd.as_str();
        let kind = if cmd == "playlistfind" {
            filter::Command::Find
        } else {
            filter::Command::Search
        };
        let roots = self.roots(cmd)?;
        let req = filter::parse(kind, &args[1..], &roots).map_err(|e| ack(e.code(), cmd, e))?;
        let entries = self.server.service.entries();
        let ids: Vec<i64> = entries.iter().filter_map(|e| e.item.id).collect();
        let tracks: std::collections::HashMap<i64, Track> = self
            .lib(cmd)?
            .tracks_by_ids(&ids)
            .map_err(|e| ack(AckCode::System, cmd, e))?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let matching: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| match e.item.id.and_then(|id| tracks.get(&id)) {
                Some(t) => req.query.matches(t),
                None => req.query.matches(&track_of_item(&e.item)),
            })
            .map(|(pos, _)| pos)
            .collect();
        self.write_entries(out, &roots, &entries, matching)
            .map_err(io_ack(cmd))?;
        Ok(())
    }

    /// Adds tracks to the end of a static stored playlist, making it when it does not exist.
    fn append_to_playlist(&mut self, cmd: &str, name: &str, new: &[i64]) -> Result<(), Ack> {
        let existing = self.find_playlist(cmd, name)?;
        if existing.as_ref().is_some_and(|p| p.query.is_some()) {
            return Err(ack(
                AckCode::Permission,
                cmd,
                "A smart playlist is read-only",
            ));
        }
        let mut ids = match &existing {
            Some(p) => self
                .lib(cmd)?
                .playlist_entries(p.id)
                .map_err(|e| ack(AckCode::System, cmd, e))?,
            None => Vec::new(),
        };
        ids.extend_from_slice(new);
        self.store_playlist(cmd, existing.map(|p| p.id), name, &ids)
    }

    /// The roots and the folder a URI names (`""` is the top).
    fn folder(&mut self, cmd: &str, uri: &str) -> Result<(Roots, Folder), Ack> {
        let roots = self.roots(cmd)?;
        let folder = roots
            .folder_of(uri)
            .map_err(|_| ack(AckCode::NoExist, cmd, "No such directory"))?;
        Ok((roots, folder))
    }

    /// Makes (when `existing` is `None`) or fills a static stored playlist with `ids`.
    fn store_playlist(
        &self,
        cmd: &str,
        existing: Option<i64>,
        name: &str,
        ids: &[i64],
    ) -> Result<(), Ack> {
        let now = now();
        self.server
            .service
            .with_library(|lib| {
                lib.write(|w| {
                    let id = match existing {
                        Some(id) => id,
                        None => w.create_playlist(&Playlist::new_static(name), now)?,
                    };
                    w.set_playlist_entries(id, ids)
                })
            })
            .map_err(|e: crate::db::DbError| ack(AckCode::System, cmd, e))?;
        self.server.service.changed(Changes::STORED_PLAYLIST);
        Ok(())
    }

    /// `lsinfo [URI]`: a folder's folders and songs, or one song.
    fn lsinfo(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = "lsinfo";
        arity(args, 0, 1)?;
        let w = io_ack(cmd);
        let uri = args.get(1).map_or("", String::as_str);
        let (roots, folder) = self.folder(cmd, uri)?;
        let Folder::Dir(dir) = folder else {
            write_top(out, &roots).map_err(&w)?;
            let lib = self.lib(cmd)?;
            for p in lib.playlists().map_err(|e| ack(AckCode::System, cmd, e))? {
                writeln!(out, "playlist: {}", tags::clean(&p.name)).map_err(&w)?;
            }
            return Ok(());
        };
        if let Some(t) = self
            .lib(cmd)?
            .track_by_path(&dir)
            .map_err(|e| ack(AckCode::System, cmd, e))?
        {
            return self.write_song(out, &roots, &t).map_err(&w);
        }
        let base = uri.trim_end_matches('/').to_string();
        let mut last_dir: Option<String> = None;
        let mut songs = Vec::new();
        let mut any = false;
        let lib = self.lib.as_ref().expect("opened");
        // Paths alone tell the subfolders; only the songs directly here are read whole.
        lib.for_each_path_under(Some(&dir), |path| {
            any = true;
            let Some(u) = roots.uri_of(path) else {
                return Ok(());
            };
            let rest = u.get(base.len() + 1..).unwrap_or_default();
            match rest.split_once('/') {
                Some((sub, _)) => {
                    if last_dir.as_deref() != Some(sub) {
                        writeln!(out, "directory: {base}/{sub}")?;
                        last_dir = Some(sub.to_string());
                    }
                }
                None => songs.push(path.to_path_buf()),
            }
            Ok(())
        })
        .map_err(|e| ack(AckCode::System, cmd, e))?
        .map_err(&w)?;
        if !any && !dir.is_dir() {
            return Err(ack(AckCode::NoExist, cmd, "No such directory"));
        }
        for path in &songs {
            if let Some(t) = lib
                .track_by_path(path)
                .map_err(|e| ack(AckCode::System, cmd, e))?
            {
                self.write_song(out, &roots, &t).map_err(&w)?;
            }
        }
        Ok(())
    }

    /// `listall [URI]` (folders and file names) and `listallinfo [URI]` (with song blocks),
    /// streamed to the client.
    fn listall(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = args[0].clone();
        arity(args, 0, 1)?;
        let w = io_ack(&cmd);
        let info = cmd == "listallinfo";
        let uri = args.get(1).map_or("", String::as_str);
        let (roots, folder) = self.folder(&cmd, uri)?;
        let dir = match folder {
            Folder::Top => None,
            Folder::Dir(d) => Some(d),
        };
        self.lib(&cmd)?;
        let hidden = self.hidden.clone();
        let lib = self.lib.as_ref().expect("opened");
        let mut shown: Vec<String> = Vec::new();
        let mut block = Vec::with_capacity(512);
        let mut any = false;
        let mut each = |path: &Path, t: Option<&Track>| -> io::Result<()> {
            any = true;
            let Some(u) = roots.uri_of(path) else {
                return Ok(());
            };
            // Each folder on the way, once, before its first song.
            let parts: Vec<&str> = u.split('/').collect();
            let folders = &parts[..parts.len() - 1];
            let common = shown
                .iter()
                .zip(folders.iter())
                .take_while(|(a, b)| a == *b)
                .count();
            shown.truncate(common);
            for (i, f) in folders.iter().enumerate().skip(common) {
                shown.push(f.to_string());
                writeln!(out, "directory: {}", folders[..=i].join("/"))?;
            }
            if let Some(t) = t {
                block.clear();
                tags::write_song(&mut block, &u, t);
                write_filtered(out, &block, &hidden)?;
            } else {
                writeln!(out, "file: {u}")?;
            }
            Ok(())
        };
        // `listall` needs the paths alone; `listallinfo` what a song block shows.
        let streamed = if info {
            lib.for_each_track_under(dir.as_deref(), Members::Only(&tags::SONG_MEMBERS), |t| {
                each(&t.path, Some(&t))
            })
        } else {
            lib.for_each_path_under(dir.as_deref(), |p| each(p, None))
        };
        streamed
            .map_err(|e| ack(AckCode::System, &cmd, e))?
            .map_err(&w)?;
        if !any
            && let Some(d) = &dir
            && !d.is_dir()
        {
            return Err(ack(AckCode::NoExist, &cmd, "No such directory"));
        }
        Ok(())
    }

    /// `listfiles URI`: what a folder holds on disk (songs or not), without following links.
    fn listfiles(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = "listfiles";
        arity(args, 0, 1)?;
        let w = io_ack(cmd);
        let uri = args.get(1).map_or("", String::as_str);
        let (roots, folder) = self.folder(cmd, uri)?;
        let Folder::Dir(dir) = folder else {
            return write_top(out, &roots).map_err(&w);
        };
        let entries =
            std::fs::read_dir(&dir).map_err(|_| ack(AckCode::NoExist, cmd, "No such directory"))?;
        let mut listed: Vec<(String, bool, u64, i64)> = Vec::new();
        for e in entries.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.starts_with('.') || name.contains('\n') {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let mtime = meta
                .modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            if meta.is_dir() {
                listed.push((name, true, 0, mtime));
            } else if meta.is_file() {
                listed.push((name, false, meta.len(), mtime));
            }
        }
        listed.sort();
        for (name, is_dir, size, mtime) in listed {
            if is_dir {
                writeln!(out, "directory: {name}").map_err(&w)?;
            } else {
                writeln!(out, "file: {name}\nsize: {size}").map_err(&w)?;
            }
            writeln!(out, "Last-Modified: {}", tags::Iso8601(mtime)).map_err(&w)?;
        }
        Ok(())
    }

    /// `update`/`rescan`: a scan of the library in the background; `database` and `update`
    /// changes tell clients when it ends.
    fn update(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = args[0].as_str();
        arity(args, 0, 1)?;
        if let Some(uri) = args.get(1) {
            let roots = self.roots(cmd)?;
            if !uri.is_empty() {
                roots
                    .path_of(uri)
                    .map_err(|_| ack(AckCode::Arg, cmd, "Malformed path"))?;
            }
        }
        let running = self.server.updating.load(Ordering::Acquire);
        if running != 0 {
            writeln!(out, "updating_db: {running}").map_err(io_ack(cmd))?;
            return Ok(());
        }
        let job = self.server.next_update.fetch_add(1, Ordering::AcqRel);
        self.server.updating.store(job, Ordering::Release);
        self.server.service.changed(Changes::UPDATE);
        let server = self.server.clone();
        let spawned = std::thread::Builder::new()
            .name("tapedeck-update".into())
            .spawn(move || {
                let changed = crate::scan::rescan(&server.db_path, now())
                    .map(|s| s.changed())
                    .unwrap_or(false);
                server.updating.store(0, Ordering::Release);
                let mut changes = Changes::UPDATE;
                if changed {
                    changes = changes.union(Changes::DATABASE);
                }
                server.service.changed(changes);
            });
        if spawned.is_err() {
            self.server.updating.store(0, Ordering::Release);
            return Err(ack(AckCode::System, cmd, "cannot start the update"));
        }
        writeln!(out, "updating_db: {job}").map_err(io_ack(cmd))?;
        Ok(())
    }

    /// `albumart URI OFFSET` (a cover file beside the song) and `readpicture URI OFFSET` (the
    /// picture in the song's tags), in chunks of the binary limit.
    fn picture(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = args[0].clone();
        arity(args, 2, 2)?;
        let w = io_ack(&cmd);
        let offset = request::parse_u32(&args[2]).map_err(|e| arg_error(&cmd, e))? as usize;
        let embedded = cmd == "readpicture";
        let uri = args[1].clone();
        let cached = matches!(&self.picture, Some((u, e, _)) if *u == uri && *e == embedded);
        if !cached {
            let roots = self.roots(&cmd)?;
            let path = roots
                .path_of(&uri)
                .map_err(|_| ack(AckCode::NoExist, &cmd, "No file exists"))?;
            let lib = self.lib(&cmd)?;
            let Some(track) = lib
                .track_by_path(&path)
                .map_err(|e| ack(AckCode::System, &cmd, e))?
            else {
                return Err(ack(AckCode::NoExist, &cmd, "No such song"));
            };
            let data = if embedded {
                crate::tags::read_cover(&track.path)
            } else {
                cover_beside(&track.path)
            };
            match data {
                Some(d) => self.picture = Some((uri.clone(), embedded, d)),
                None if embedded => {
                    // MPD answers an empty reply when a song has no picture.
                    self.picture = None;
                    return Ok(());
                }
                None => {
                    self.picture = None;
                    return Err(ack(AckCode::NoExist, &cmd, "No file exists"));
                }
            }
        }
        let (_, _, data) = self.picture.as_ref().expect("cached");
        if offset > data.len() {
            return Err(ack(AckCode::Arg, &cmd, "Offset too large"));
        }
        let chunk = &data[offset..data.len().min(offset + self.binary_limit)];
        writeln!(out, "size: {}", data.len()).map_err(&w)?;
        if embedded && let Some(mime) = mime_of(data) {
            writeln!(out, "type: {mime}").map_err(&w)?;
        }
        writeln!(out, "binary: {}", chunk.len()).map_err(&w)?;
        out.write_all(chunk).map_err(&w)?;
        out.write_all(b"\n").map_err(&w)?;
        Ok(())
    }

    /// `sticker get|set|delete|list|find song URI ...`: `rating` (0 to 10, two per star of
    /// tapedeck's 0-5) can be read and set; `playCount`, `skipCount` and `lastPlayed` are read
    /// only.
    fn sticker(&mut self, args: &[String], out: &mut dyn Write) -> Result<(), Ack> {
        let cmd = "sticker";
        let w = io_ack(cmd);
        if args.len() < 4 {
            return Err(ack(AckCode::Arg, cmd, "bad request"));
        }
        if args[2] != "song" {
            return Err(ack(AckCode::Arg, cmd, "unknown sticker domain"));
        }
        let sub = args[1].as_str();
        let uri = args[3].as_str();
        let roots = self.roots(cmd)?;
        if sub == "find" {
            if args.len() < 5 {
                return Err(ack(AckCode::Arg, cmd, "bad request"));
            }
            let name = args[4].as_str();
            let wanted = match (args.get(5).map(String::as_str), args.get(6)) {
                (Some("="), Some(v)) => Some(v.clone()),
                (None, None) => None,
                _ => return Err(ack(AckCode::Arg, cmd, "bad operator")),
            };
            let dir = match roots
                .folder_of(uri)
                .map_err(|_| ack(AckCode::NoExist, cmd, "No such directory"))?
            {
                Folder::Top => None,
                Folder::Dir(d) => Some(d),
            };
            let lib = self.lib(cmd)?;
            lib.for_each_track_under(dir.as_deref(), Members::All, |t| {
                if let Some(v) = sticker_value(&t, name)
                    && wanted.as_ref().is_none_or(|x| *x == v)
                    && let Some(u) = roots.uri_of(&t.path)
                {
                    writeln!(out, "file: {u}\nsticker: {name}={v}")?;
                }
                Ok(())
            })
            .map_err(|e| ack(AckCode::System, cmd, e))?
            .map_err(&w)?;
            return Ok(());
        }
        let path = roots
            .path_of(uri)
            .map_err(|_| ack(AckCode::NoExist, cmd, "no such song"))?;
        let track = self
            .lib(cmd)?
            .track_by_path(&path)
            .map_err(|e| ack(AckCode::System, cmd, e))?
            .ok_or_else(|| ack(AckCode::NoExist, cmd, "no such song"))?;
        match sub {
            "get" => {
                let name = args
                    .get(4)
                    .ok_or_else(|| ack(AckCode::Arg, cmd, "bad request"))?;
                let v = sticker_value(&track, name)
                    .ok_or_else(|| ack(AckCode::NoExist, cmd, "no such sticker"))?;
                writeln!(out, "sticker: {name}={v}").map_err(&w)?;
            }
            "list" => {
                for name in ["rating", "playCount", "skipCount", "lastPlayed"] {
                    if let Some(v) = sticker_value(&track, name) {
                        writeln!(out, "sticker: {name}={v}").map_err(&w)?;
                    }
                }
            }
            "set" | "delete" => {
                let name = args.get(4).map(String::as_str);
                let rating = match (sub, name, args.get(5)) {
                    ("set", Some("rating"), Some(v)) => {
                        let n = request::parse_int(v, 0, 10)
                            .map_err(|_| ack(AckCode::Arg, cmd, "rating is 0 to 10"))?;
                        (n > 0).then_some(((n + 1) / 2) as u8)
                    }
                    ("delete", Some("rating") | None, None) => None,
                    ("delete", Some(_), None) => {
                        return Err(ack(AckCode::NoExist, cmd, "no such sticker"));
                    }
                    _ => {
                        return Err(ack(AckCode::Arg, cmd, "only the rating sticker can be set"));
                    }
                };
                let id = track.id;
                self.server
                    .service
                    .with_library(|lib| lib.write(|w| w.set_rating(id, rating)))
                    .map_err(|e: crate::db::DbError| ack(AckCode::System, cmd, e))?;
                self.server.service.changed(Changes::STICKER);
            }
            _ => return Err(ack(AckCode::Arg, cmd, "bad request")),
        }
        Ok(())
    }

    fn find_playlist(&mut self, cmd: &str, name: &str) -> Result<Option<Playlist>, Ack> {
        self.lib(cmd)?
            .playlist(name)
            .map_err(|e| ack(AckCode::System, cmd, e))
    }

    /// A stored playlist's tracks, in order (a smart one evaluated now).
    fn playlist_tracks(&mut self, cmd: &str, name: &str) -> Result<Vec<Track>, Ack> {
        let p = self
            .find_playlist(cmd, name)?
            .ok_or_else(|| ack(AckCode::NoExist, cmd, "No such playlist"))?;
        let lib = self.lib(cmd)?;
        let ids =
            crate::playlist::track_ids(lib, &p, now()).map_err(|e| ack(AckCode::System, cmd, e))?;
        lib.tracks_by_ids(&ids)
            .map_err(|e| ack(AckCode::System, cmd, e))
    }

    /// `save NAME [create|append|replace]`: the queue's library tracks as a static playlist.
    fn save(&mut self, args: &[String]) -> Result<(), Ack> {
        let cmd = "save";
        arity(args, 1, 2)?;
        let name = args[1].clone();
        let mode = args.get(2).map_or("create", String::as_str);
        if !["create", "append", "replace"].contains(&mode) {
            return Err(ack(AckCode::Arg, cmd, "Unrecognized save mode"));
        }
        let queued: Vec<i64> = self
            .server
            .service
            .with_entries(|e| e.iter().filter_map(|e| e.item.id).collect());
        let existing = self.find_playlist(cmd, &name)?;
        let old = match (&existing, mode) {
            (Some(_), "create") => {
                return Err(ack(AckCode::Exist, cmd, "Playlist already exists"));
            }
            (None, "append" | "replace") => {
                return Err(ack(AckCode::NoExist, cmd, "No such playlist"));
            }
            (Some(p), _) if p.query.is_some() => {
                return Err(ack(
                    AckCode::Permission,
                    cmd,
                    "A smart playlist is read-only",
                ));
            }
            (Some(p), "append") => self
                .lib(cmd)?
                .playlist_entries(p.id)
                .map_err(|e| ack(AckCode::System, cmd, e))?,
            _ => Vec::new(),
        };
        let ids: Vec<i64> = old.into_iter().chain(queued).collect();
        self.store_playlist(cmd, existing.map(|p| p.id), &name, &ids)
    }

    /// The stored playlist edits: add, clear, delete an entry, move one, rename, remove.
    fn edit_playlist(&mut self, args: &[String]) -> Result<(), Ack> {
        let cmd = args[0].clone();
        let cmd = cmd.as_str();
        let (min, max) = match cmd {
            "playlistclear" | "rm" => (1, 1),
            "playlistadd" => (2, 3),
            "playlistdelete" | "rename" => (2, 2),
            _ => (3, 3),
        };
        arity(args, min, max)?;
        let p = self.find_playlist(cmd, &args[1])?;
        let prefer = self.prefer_computed();
        // `playlistadd` makes the playlist when it does not exist, as MPD does.
        let p = match (p, cmd) {
            (Some(p), _) => p,
            (None, "playlistadd") => Playlist::new_static(&args[1]),
            (None, _) => return Err(ack(AckCode::NoExist, cmd, "No such playlist")),
        };
        if p.query.is_some() {
            return Err(ack(
                AckCode::Permission,
                cmd,
                "A smart playlist is read-only",
            ));
        }
        let mut ids = if p.id == 0 {
            Vec::new()
        } else {
            self.lib(cmd)?
                .playlist_entries(p.id)
                .map_err(|e| ack(AckCode::System, cmd, e))?
        };
        let mut rename = None;
        let mut remove = false;
        match cmd {
            "playlistadd" => {
                let items = self.items_for_uri(cmd, &args[2], prefer, true)?;
                let new: Vec<i64> = items.iter().filter_map(|i| i.id).collect();
                if new.is_empty() {
                    return Err(ack(
                        AckCode::NoExist,
                        cmd,
                        "Only library songs can be added",
                    ));
                }
                let at = match args.get(3) {
                    Some(a) => request::parse_u32(a).map_err(|e| arg_error(cmd, e))? as usize,
                    None => ids.len(),
                };
                if at > ids.len() {
                    return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                }
                ids.splice(at..at, new);
            }
            "playlistclear" => ids.clear(),
            "playlistdelete" => {
                let r = request::parse_range(&args[2]).map_err(|e| arg_error(cmd, e))?;
                let end = r.end.map_or(ids.len(), |e| e as usize);
                if r.start as usize >= ids.len() || end > ids.len() {
                    return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                }
                ids.drain(r.start as usize..end);
            }
            "playlistmove" => {
                let from = request::parse_u32(&args[2]).map_err(|e| arg_error(cmd, e))? as usize;
                let to = request::parse_u32(&args[3]).map_err(|e| arg_error(cmd, e))? as usize;
                if from >= ids.len() || to >= ids.len() {
                    return Err(ack(AckCode::Arg, cmd, "Bad song index"));
                }
                let id = ids.remove(from);
                ids.insert(to, id);
            }
            "rename" => {
                if self.find_playlist(cmd, &args[2])?.is_some() {
                    return Err(ack(AckCode::Exist, cmd, "Playlist already exists"));
                }
                rename = Some(args[2].clone());
            }
            _ => remove = true,
        }
        let now = now();
        self.server
            .service
            .with_library(|lib| {
                lib.write(|w| {
                    let id = if p.id == 0 {
                        w.create_playlist(&p, now)?
                    } else {
                        p.id
                    };
                    if remove {
                        return w.delete_playlist(id);
                    }
                    if let Some(name) = &rename {
                        return w.rename_playlist(id, name);
                    }
                    w.set_playlist_entries(id, &ids)
                })
            })
            .map_err(|e: crate::db::DbError| ack(AckCode::System, cmd, e))?;
        self.server.service.changed(Changes::STORED_PLAYLIST);
        Ok(())
    }
}

/// The top folder: one folder per library root.
fn write_top(out: &mut dyn Write, roots: &Roots) -> io::Result<()> {
    for name in roots.names() {
        writeln!(out, "directory: {name}")?;
    }
    Ok(())
}

/// Writes a song block without the lines of the tags a client turned off (`tagtypes`).
fn write_filtered(out: &mut dyn Write, block: &[u8], hidden: &HashSet<TagType>) -> io::Result<()> {
    if hidden.is_empty() {
        return out.write_all(block);
    }
    for line in block.split_inclusive(|&b| b == b'\n') {
        let key = line
            .iter()
            .position(|&b| b == b':')
            .and_then(|i| std::str::from_utf8(&line[..i]).ok())
            .and_then(TagType::parse);
        if key.is_none_or(|k| !hidden.contains(&k)) {
            out.write_all(line)?;
        }
    }
    Ok(())
}

/// MPD's repeat and single flags as tapedeck's repeat.
fn repeat_of(repeat: bool, single: bool) -> Repeat {
    match (repeat, single) {
        (false, _) => Repeat::Off,
        (true, false) => Repeat::All,
        (true, true) => Repeat::One,
    }
}

/// A track as far as a queue item knows it (a file played from outside the library).
fn track_of_item(item: &Item) -> Track {
    Track {
        path: item.path.clone(),
        title: item.title.clone(),
        artist: item.artist.clone(),
        album: item.album.clone(),
        duration: item.duration,
        ..Track::default()
    }
}

fn sticker_value(t: &Track, name: &str) -> Option<String> {
    match name {
        "rating" => t
            .rating
            .filter(|&r| r > 0)
            .map(|r| (u32::from(r) * 2).to_string()),
        "playCount" => (t.plays > 0).then(|| t.plays.to_string()),
        "skipCount" => (t.skips > 0).then(|| t.skips.to_string()),
        "lastPlayed" => t.last_played.map(|p| p.to_string()),
        _ => None,
    }
}

/// A cover image file in the track's folder, read whole (at most 16 MiB).
fn cover_beside(track: &Path) -> Option<Vec<u8>> {
    let dir = track.parent()?;
    let mut found: Option<PathBuf> = None;
    let names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for wanted in COVER_NAMES {
        if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(wanted)) {
            found = Some(dir.join(n));
            break;
        }
    }
    let path = found?;
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 16 * 1024 * 1024 {
        return None;
    }
    std::fs::read(path).ok()
}

fn mime_of(data: &[u8]) -> Option<&'static str> {
    if data.starts_with(&[0xff, 0xd8]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if data.starts_with(b"GIF8") {
        Some("image/gif")
    } else if data.len() > 12 && &data[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// `list` values by their group values.
type Groups = BTreeMap<Vec<String>, BTreeSet<String>>;

/// Every combination of the group tags' values on a track (one per artist of several); a tag
/// the track lacks groups under "".
fn group_keys(group: &[TagType], t: &Track) -> Vec<Vec<String>> {
    let mut keys = vec![Vec::new()];
    for tag in group {
        let mut values = tag.values(t);
        if values.is_empty() {
            values.push(String::new());
        }
        keys = keys
            .into_iter()
            .flat_map(|k| {
                values.iter().map(move |v| {
                    let mut k = k.clone();
                    k.push(v.clone());
                    k
                })
            })
            .collect();
    }
    keys
}
