//! `tapedeck serve` driven by real MPD clients: mpc and python-mpd2 (both installed by `make
//! test`), over the service's Unix socket and TCP, with playback going to ALSA's file device
//! (paced to real time by pv where a test needs time to pass). Also hostile clients, and the
//! remote commands.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tapedeck::audio::decode::decode_all;

mod common;

use common::{Env, file_device, fixture, succeeded};

/// A running `tapedeck serve` on a library of its own, stopped (Ctrl-C) when dropped.
struct Served {
    env: Env,
    child: Option<Child>,
    /// The socket named with `--socket`, when one was.
    named_socket: Option<PathBuf>,
}

/// Seconds of a 44.1 kHz stereo tone, as 16-bit WAV, tagged by hand through the file name.
fn wav(path: &Path, secs: f64, freq: f64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (secs * 44100.0) as usize;
    for i in 0..n {
        let v = ((i as f64 * freq * std::f64::consts::TAU / 44100.0).sin() * 8000.0) as i16;
        let v = if v == 0 { 1 } else { v };
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

impl Served {
    /// The socket the service listens on: its library's own, in the runtime folder.
    fn socket(&self) -> PathBuf {
        if let Some(s) = &self.named_socket {
            return s.clone();
        }
        let folder = self.env.dir.path().join("tapedeck");
        std::fs::read_dir(&folder)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map_or(folder.join("none"), |e| e.path())
    }

    fn capture(&self) -> PathBuf {
        self.env.dir.path().join("capture.raw")
    }

    /// An environment with `tracks` WAV files of `secs` seconds each, scanned.
    fn library(tracks: usize, secs: f64) -> Env {
        let env = Env::new();
        for i in 1..=tracks {
            wav(
                &env.music().join(format!("Album/Track {i}.wav")),
                secs,
                220.0 * i as f64,
            );
        }
        env.ok(&["scan", env.music().to_str().unwrap()]);
        env
    }

    /// Starts the service; `paced` plays in real time (through pv), else as fast as the file
    /// device takes it.
    fn start(env: Env, paced: bool, extra: &[&str]) -> Served {
        let alsa = file_device(
            &env.dir.path().join("alsa.conf"),
            &env.dir.path().join("capture.raw"),
            paced,
        );
        let mut cmd = env.cmd();
        cmd.env("ALSA_CONFIG_PATH", alsa)
            .env("XDG_RUNTIME_DIR", env.dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .arg("serve")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let named_socket = extra
            .iter()
            .position(|a| *a == "--socket")
            .map(|i| PathBuf::from(extra[i + 1]));
        let child = cmd.spawn().unwrap();
        let served = Served {
            env,
            child: Some(child),
            named_socket,
        };
        let started = Instant::now();
        while UnixStream::connect(served.socket()).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the service did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        served
    }

    fn mpc_output(&self, args: &[&str]) -> Output {
        Command::new("mpc")
            .arg("-h")
            .arg(self.socket())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs mpc against the service and returns what it printed (it must succeed).
    fn mpc(&self, args: &[&str]) -> String {
        let out = self.mpc_output(args);
        assert!(
            out.status.success(),
            "mpc {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A raw protocol exchange: sends `request` and reads until the answer's last line.
    fn raw(&self, request: &str) -> String {
        let mut s = UnixStream::connect(self.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut hello = String::new();
        r.read_line(&mut hello).unwrap();
        assert!(hello.starts_with("OK MPD 0.2"), "{hello}");
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap() == 0 {
                break;
            }
            answer.push_str(&line);
            if line == "OK\n" || line.starts_with("ACK ") {
                break;
            }
        }
        answer
    }

    /// The binary with this service's library (for the remote commands).
    fn tapedeck(&self, args: &[&str]) -> Output {
        self.env
            .cmd()
            .env("XDG_RUNTIME_DIR", self.env.dir.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// Waits until `status` says `want` (e.g. "state: stop").
    fn wait_for(&self, want: &str) {
        let started = Instant::now();
        loop {
            let s = self.raw("status\n");
            if s.contains(want) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "status never showed {want:?}: {s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the service as Ctrl-C does and returns how it ended.
    fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let status = child.wait().unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!err.contains("error"), "the service said: {err}");
        status
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGINT);
            }
            let _ = c.wait();
        }
    }
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn mpc_plays_pauses_and_edits_the_queue() {
    let served = Served::start(Served::library(4, 6.0), true, &[]);
    assert!(served.mpc(&["version"]).contains("mpd version: 0.23"));
    assert_eq!(lines(&served.mpc(&["listall"])).len(), 4);
    served.mpc(&["add", "/"]);
    let playlist = served.mpc(&["playlist", "-f", "%file%"]);
    assert_eq!(
        lines(&playlist),
        [
            "music/Album/Track 1.wav",
            "music/Album/Track 2.wav",
            "music/Album/Track 3.wav",
            "music/Album/Track 4.wav"
        ]
    );
    let status = served.mpc(&["play"]);
    assert!(status.contains("[playing] #1/4"), "{status}");
    std::thread::sleep(Duration::from_millis(700));
    let status = served.mpc(&["pause"]);
    assert!(status.contains("[paused]  #1/4"), "{status}");
    // Paused: only silence reaches the device (once what was in the pipe has drained).
    std::thread::sleep(Duration::from_millis(2000));
    let size = std::fs::metadata(served.capture()).unwrap().len() as usize;
    std::thread::sleep(Duration::from_millis(700));
    let after = std::fs::read(served.capture()).unwrap();
    assert!(after.len() > size, "the device keeps running while paused");
    assert!(after[size..].iter().all(|&b| b == 0), "sound while paused");
    assert!(served.mpc(&["play"]).contains("[playing]"));
    assert!(served.mpc(&["volume", "40"]).contains("volume: 40%"));
    let modes = served.mpc(&["random", "on"]);
    assert!(modes.contains("random: on"), "{modes}");
    served.mpc(&["random", "off"]);
    let modes = served.mpc(&["repeat", "on"]);
    assert!(modes.contains("repeat: on"), "{modes}");
    let modes = served.mpc(&["single", "on"]);
    assert!(modes.contains("single: on"), "{modes}");
    served.mpc(&["single", "off"]);
    served.mpc(&["repeat", "off"]);
    let modes = served.mpc(&["consume", "on"]);
    assert!(modes.contains("consume: on"), "{modes}");
    served.mpc(&["consume", "off"]);
    let status = served.mpc(&["next"]);
    assert!(status.contains("#2/4"), "{status}");
    assert!(status.contains("Track 2"), "{status}");
    let status = served.mpc(&["seek", "3"]);
    assert!(status.contains("0:03/0:06"), "{status}");
    // Moving another entry keeps the current one playing.
    served.mpc(&["move", "4", "1"]);
    let playlist = served.mpc(&["playlist", "-f", "%title%"]);
    assert_eq!(lines(&playlist)[0], "Track 4");
    let status = served.mpc(&["status", "%songpos%/%length% %state%"]);
    assert_eq!(status.trim(), "3/4 playing");
    served.mpc(&["del", "1"]);
    assert_eq!(lines(&served.mpc(&["playlist"])).len(), 3);
    served.mpc(&["crop"]);
    let playlist = served.mpc(&["playlist", "-f", "%title%"]);
    assert_eq!(lines(&playlist), ["Track 2"]);
    let status = served.mpc(&["stop"]);
    assert!(!status.contains("[playing]"), "{status}");
    served.mpc(&["clear"]);
    assert!(served.mpc(&["playlist"]).is_empty());
    let stats = served.mpc(&["stats"]);
    let songs = stats.lines().find(|l| l.starts_with("Songs:")).unwrap();
    assert_eq!(songs.split_whitespace().last(), Some("4"), "{stats}");
    // Searches: find is exact and case-sensitive, search folds; list groups.
    assert_eq!(
        lines(&served.mpc(&["find", "title", "Track 2"])),
        ["music/Album/Track 2.wav"]
    );
    assert!(served.mpc(&["find", "title", "track 2"]).is_empty());
    assert_eq!(lines(&served.mpc(&["search", "title", "TRACK"])).len(), 4);
    assert_eq!(
        lines(&served.mpc(&["search", "(title contains \"ck 3\")"])),
        ["music/Album/Track 3.wav"]
    );
    assert_eq!(
        lines(&served.mpc(&["list", "title"])),
        ["Track 1", "Track 2", "Track 3", "Track 4"]
    );
    served.mpc(&["findadd", "title", "Track 3"]);
    served.mpc(&["searchadd", "title", "track 4"]);
    assert_eq!(
        lines(&served.mpc(&["playlist", "-f", "%title%"])),
        ["Track 3", "Track 4"]
    );
    served.mpc(&["clear"]);
}

#[test]
fn idle_wakes_every_waiting_client_and_noidle_answers() {
    let served = Served::start(Served::library(2, 1.0), false, &[]);
    let mut waiting = Vec::new();
    for _ in 0..12 {
        let mut s = UnixStream::connect(served.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut hello = String::new();
        r.read_line(&mut hello).unwrap();
        s.write_all(b"idle mixer\n").unwrap();
        waiting.push((s, r));
    }
    // mpc's own idle too, in the background.
    let idle = Command::new("mpc")
        .arg("-h")
        .arg(served.socket())
        .args(["idle", "mixer"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    served.mpc(&["volume", "55"]);
    for (_, r) in &mut waiting {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "changed: mixer\n");
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "OK\n");
    }
    let out = idle.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "mixer");
    // noidle ends a wait with nothing changed.
    let (s, r) = &mut waiting[0];
    s.write_all(b"idle player\nnoidle\n").unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "OK\n");
}

#[test]
fn hostile_and_broken_clients_never_harm_the_service() {
    let served = Served::start(Served::library(3, 1.0), false, &[]);
    // Unknown commands answer as MPD does.
    assert_eq!(
        served.raw("frobnicate 1 2\n"),
        "ACK [5@0] {frobnicate} unknown command \"frobnicate\"\n"
    );
    // Bad arguments, unterminated quotes, wrong counts.
    assert!(served.raw("play x\n").starts_with("ACK [2@0] {play}"));
    assert!(served.raw("add \"unterminated\n").starts_with("ACK [2@0]"));
    assert!(
        served
            .raw("setvol 1 2 3\n")
            .starts_with("ACK [2@0] {setvol}")
    );
    assert!(
        served
            .raw("add ../../etc/passwd\n")
            .starts_with("ACK [50@0] {add}")
    );
    assert!(
        served
            .raw("deleteid 999\n")
            .starts_with("ACK [50@0] {deleteid} No such song")
    );
    // A command list stops at its first error, naming its place.
    let answer = served.raw("command_list_ok_begin\nstatus\nbogus\nstatus\ncommand_list_end\n");
    assert!(answer.contains("list_OK\n"), "{answer}");
    assert!(
        answer.ends_with("ACK [5@1] {bogus} unknown command \"bogus\"\n"),
        "{answer}"
    );
    // A huge line is refused and the connection closed; invalid UTF-8 too.
    for junk in [vec![b'a'; 200_000], b"status \xff\xfe\n".to_vec()] {
        let mut s = UnixStream::connect(served.socket()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(&junk);
        let _ = s.write_all(b"\n");
        let mut all = String::new();
        let _ = BufReader::new(s).read_to_string(&mut all);
        assert!(all.contains("ACK [2@0]"), "{all}");
    }
    // A command list that never ends is cut off, not gathered without bound.
    let mut endless = String::from("command_list_begin\n");
    for _ in 0..10_001 {
        endless.push_str("ping\n");
    }
    assert_eq!(
        served.raw(&endless),
        "ACK [1@0] {} command list is too long\n"
    );
    // Clients that leave mid-reply, or mid-line, or while idle.
    for request in ["listallinfo\n", "lsinfo music/Album\n", "idle\n", "stat"] {
        let mut s = UnixStream::connect(served.socket()).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        drop(s);
    }
    // Still answering everyone.
    let status = served.raw("status\n");
    assert!(
        status.contains("state: stop") && status.ends_with("OK\n"),
        "{status}"
    );
    assert_eq!(lines(&served.mpc(&["listall"])).len(), 3);
}

#[test]
fn python_mpd2_reads_the_library_queue_pictures_and_stickers() {
    let env = Env::new();
    let album = env.music().join("Pictures");
    std::fs::create_dir_all(&album).unwrap();
    std::fs::copy(
        fixture("library/flac/picture.flac"),
        album.join("01 picture.flac"),
    )
    .unwrap();
    wav(&album.join("02 plain.wav"), 1.0, 440.0);
    let cover: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
    jpeg.extend(&cover);
    std::fs::write(album.join("Cover.JPG"), &jpeg).unwrap();
    env.ok(&["scan", env.music().to_str().unwrap()]);
    let served = Served::start(env, false, &["--replaygain", "off"]);
    let script = served.env.dir.path().join("client.py");
    std::fs::write(
        &script,
        r#"
import sys, mpd
c = mpd.MPDClient()
c.timeout = 10
c.connect(sys.argv[1])
out = []
songs = c.listallinfo()
files = [s["file"] for s in songs if "file" in s]
out.append("files=%s" % ",".join(files))
c.add("music/Pictures")
info = c.playlistinfo()
out.append("queue=%d ids=%s" % (len(info), ",".join(i["id"] for i in info)))
ver = int(c.status()["playlist"])
c.moveid(info[1]["id"], 0)
changes = c.plchanges(ver)
out.append("plchanges=%s" % ",".join(sorted(ch["pos"] for ch in changes)))
c.command_list_ok_begin()
c.status()
c.currentsong()
res = c.command_list_end()
out.append("list=%d" % len(res))
art = c.albumart(files[0])
out.append("albumart=%d" % len(art["binary"]))
open(sys.argv[2], "wb").write(art["binary"])
pic = c.readpicture(files[0])
out.append("readpicture=%d type=%s" % (len(pic.get("binary", b"")), pic.get("type")))
c.sticker_set("song", files[0], "rating", "8")
out.append("sticker=%s" % c.sticker_get("song", files[0], "rating"))
out.append("find=%d" % len(c.sticker_find("song", "", "rating")))
c.save("saved")
out.append("playlists=%s" % ",".join(p["playlist"] for p in c.listplaylists()))
out.append("saved=%d" % len(c.listplaylist("saved")))
c.clear()
c.load("saved")
out.append("loaded=%d" % len(c.playlistinfo()))
c.rm("saved")
try:
    c.sticker_set("song", files[0], "color", "red")
except mpd.CommandError as e:
    out.append("refused")
import threading
def later():
    c2 = mpd.MPDClient(); c2.connect(sys.argv[1]); c2.save("again"); c2.disconnect()
threading.Timer(0.3, later).start()
out.append("idle=%s" % ",".join(c.idle("stored_playlist")))
out.append("tagtypes=%d" % len(c.tagtypes()))
c.clear()
c.add("music/Pictures")
c.add("music/Pictures/02 plain.wav")
c.prio(7, "1:3")
info = c.playlistinfo()
out.append("prio=%s" % ",".join(i.get("prio", "0") for i in info))
ver = int(c.status()["playlist"])
c.swapid(info[0]["id"], info[2]["id"])
got = [(p["cpos"], p["id"]) for p in c.plchangesposid(ver)]
out.append("posid=%s" % (got == [("0", info[2]["id"]), ("2", info[0]["id"])]))
c.shuffle()
out.append("shuffled=%d" % len(c.playlistinfo()))
out.append("count=%s" % c.count("title", "FLAC Picture")["songs"])
out.append("group=%s" % ";".join("%s/%s" % (g.get("artist", ""), g["album"]) for g in c.list("album", "group", "artist")))
out.append("lsinfo=%s" % ",".join(e.get("directory", e.get("file", "")) for e in c.lsinfo("music")))
out.append("playlistfind=%d" % len(c.playlistfind("title", "FLAC Picture")))
import shutil
shutil.copy(sys.argv[3], sys.argv[4])
job = c.update()
changed = c.idle("database")
out.append("update=%s %s" % (job, ",".join(changed)))
out.append("songs=%s" % c.stats()["songs"])
c.close()
print("\n".join(out))
"#,
    )
    .unwrap();
    let art = served.env.dir.path().join("art.bin");
    let out = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(served.socket())
        .arg(&art)
        .arg(fixture("library/flac/picture.flac"))
        .arg(served.env.music().join("Pictures/03 copy.flac"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<&str> = text.lines().collect();
    assert_eq!(
        got[0],
        "files=music/Pictures/01 picture.flac,music/Pictures/02 plain.wav"
    );
    assert_eq!(got[1], "queue=2 ids=1,2");
    assert_eq!(got[2], "plchanges=0,1");
    assert_eq!(got[3], "list=2");
    assert_eq!(got[4], format!("albumart={}", jpeg.len()));
    assert_eq!(
        std::fs::read(&art).unwrap(),
        jpeg,
        "the cover arrives whole"
    );
    let embedded = tapedeck::tags::read_cover(&fixture("library/flac/picture.flac")).unwrap();
    assert!(
        got[5].starts_with(&format!("readpicture={} type=image/", embedded.len())),
        "{}",
        got[5]
    );
    assert_eq!(got[6], "sticker=8");
    assert_eq!(got[7], "find=1");
    assert_eq!(got[8], "playlists=saved");
    assert_eq!(got[9], "saved=2");
    assert_eq!(got[10], "loaded=2");
    assert_eq!(got[11], "refused");
    assert_eq!(got[12], "idle=stored_playlist");
    assert!(got[13].starts_with("tagtypes="));
    assert_eq!(got[14], "prio=0,7,7");
    assert_eq!(got[15], "posid=True", "the swapped entries are the changes");
    assert_eq!(got[16], "shuffled=3");
    assert_eq!(got[17], "count=1");
    assert_eq!(
        got[18],
        "group=/;Eta Artist/Eta Album;Theta Artist/Eta Album"
    );
    assert_eq!(got[19], "lsinfo=music/Pictures");
    assert_eq!(got[20], "playlistfind=1");
    assert_eq!(got[21], "update=1 database");
    assert_eq!(got[22], "songs=3");
    // The rating reached the library: 8 of 10 is four stars.
    let rated = served.env.ok(&["ls", "-f", "$rating $title", "rating:1.."]);
    assert_eq!(rated.trim(), "4 FLAC Picture");

    // `binarylimit` sets the size of a picture's chunks; below 64 is refused, as MPD does.
    let mut s = UnixStream::connect(served.socket()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"binarylimit 10\nbinarylimit 64\nalbumart \"music/Pictures/01 picture.flac\" 100\nclose\n",
    )
    .unwrap();
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let greeting = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut want = format!(
        "ACK [2@0] {{binarylimit}} Value too small\nOK\nsize: {}\nbinary: 64\n",
        jpeg.len()
    )
    .into_bytes();
    want.extend(&jpeg[100..164]);
    want.extend(b"\nOK\n");
    assert_eq!(
        String::from_utf8_lossy(&reply[greeting..]),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(&reply[greeting..], &want[..]);
}

#[test]
fn what_the_service_plays_is_the_exact_concatenation_of_its_queue() {
    let env = Env::new();
    env.ok(&["scan", fixture("library/flac").to_str().unwrap()]);
    let served = Served::start(env, false, &["--replaygain", "off"]);
    let a = fixture("library/flac/picture.flac");
    let b = fixture("library/flac/picture.flac");
    let out = served.tapedeck(&[
        "play",
        "--enqueue",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(
        succeeded(&["play", "--enqueue"], out).contains("added 2 tracks"),
        "enqueued"
    );
    served.mpc(&["play"]);
    served.wait_for("state: stop");
    let captured: Vec<f32> = std::fs::read(served.capture())
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let mut expected = decode_all(&a).unwrap().1;
    expected.extend(decode_all(&b).unwrap().1);
    let start = captured.iter().position(|&s| s != 0.0).unwrap();
    let lead = expected.iter().position(|&s| s != 0.0).unwrap();
    let got = &captured[start - lead..];
    assert!(got.len() >= expected.len(), "captured is short");
    assert!(
        got[..expected.len()] == expected[..],
        "the two tracks are not joined sample-exactly"
    );
}

#[test]
fn remote_commands_reach_the_service_and_fail_clearly_without_one() {
    let env = Served::library(3, 6.0);
    // No service yet: a clear error.
    let out = env
        .cmd()
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: no player service is running"), "{err}");
    // The service on its default socket (the library's own name under the runtime folder).
    let mut served = Served::start(env, true, &["--fresh"]);
    let remote = |args: &[&str]| served.tapedeck(args);
    // A second service on the same library is refused with exit code 3.
    let second = remote(&["serve"]);
    assert_eq!(second.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another `tapedeck serve`"));
    let added = succeeded(&["queue", "add"], remote(&["queue", "add", "album"]));
    assert_eq!(added.trim(), "added 3 tracks");
    let list = succeeded(&["queue", "list"], remote(&["queue", "list"]));
    assert_eq!(lines(&list).len(), 3);
    let json = succeeded(&["queue", "list"], remote(&["queue", "list", "--json"]));
    let entries: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2]["position"], 3);
    assert_eq!(entries[2]["title"], "Track 3");
    assert_eq!(entries[0]["current"], false);
    succeeded(&["play"], remote(&["play", "--enqueue", "track 1"]));
    succeeded(&["toggle"], remote(&["toggle"]));
    let status = succeeded(&["status"], remote(&["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["state"], "play");
    assert_eq!(v["length"], 4);
    assert_eq!(v["song"]["title"], "Track 1");
    succeeded(&["next"], remote(&["next"]));
    succeeded(&["seek"], remote(&["seek", "0:02"]));
    succeeded(&["seek"], remote(&["seek", "+1"]));
    let v: serde_json::Value =
        serde_json::from_str(&succeeded(&["status"], remote(&["status", "--json"]))).unwrap();
    assert_eq!(v["position"], 2);
    let elapsed = v["elapsed"].as_f64().unwrap();
    assert!((2.9..4.5).contains(&elapsed), "elapsed {elapsed}");
    let vol = succeeded(&["volume"], remote(&["volume", "-30"]));
    assert_eq!(vol.trim(), "volume 70%");
    succeeded(&["pause"], remote(&["pause"]));
    let text = succeeded(&["status"], remote(&["status"]));
    assert!(text.starts_with("paused: Track 2"), "{text}");
    succeeded(&["queue"], remote(&["queue", "move", "1", "3"]));
    succeeded(&["queue"], remote(&["queue", "remove", "1-2"]));
    let list = succeeded(&["queue", "list"], remote(&["queue", "list"]));
    assert_eq!(lines(&list).len(), 2, "{list}");
    let bad = remote(&["volume", "loud"]);
    assert_eq!(bad.status.code(), Some(2));
    let bad = remote(&["queue", "remove", "9"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("error: the player service says"));
    assert!(served.stop().success());
    // Stopped: nothing answers any more.
    let out = served.tapedeck(&["next"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_queue_and_settings_survive_a_restart() {
    let mut served = Served::start(Served::library(3, 6.0), true, &[]);
    served.mpc(&["add", "/"]);
    served.mpc(&["volume", "35"]);
    served.mpc(&["repeat", "on"]);
    served.mpc(&["play", "2"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(served.stop().success());
    assert!(!served.socket().exists(), "the socket is removed");
    let env = std::mem::replace(&mut served.env, Env::new());
    drop(served);
    let served = Served::start(env, true, &[]);
    let status = served.mpc(&["status", "%songpos%/%length% %volume% %repeat%"]);
    assert_eq!(status.trim(), "2/3  35% on");
    served.mpc(&["play"]);
    let playing = served.mpc(&["current", "-f", "%title%"]);
    assert_eq!(playing.trim(), "Track 2");
}

#[test]
fn tcp_clients_need_the_password_and_loopback_is_the_default() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let served = Served::start(
        Served::library(1, 1.0),
        false,
        &["--bind", &port.to_string(), "--password", "s3cret"],
    );
    let mpc = |host: &str| {
        Command::new("mpc")
            .args(["-h", host, "-p", &port.to_string(), "status"])
            .output()
            .unwrap()
    };
    let without = mpc("127.0.0.1");
    assert!(!without.status.success());
    assert!(
        String::from_utf8_lossy(&without.stderr).contains("permission"),
        "{}",
        String::from_utf8_lossy(&without.stderr)
    );
    let wrong = mpc("nope@127.0.0.1");
    assert!(!wrong.status.success());
    let with = mpc("s3cret@127.0.0.1");
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    // The Unix socket is the user's own: no password there.
    assert!(served.mpc(&["status"]).contains("volume"));
}

#[test]
fn ncmpcpp_shows_the_queue_the_library_and_the_folders() {
    let served = Served::start(Served::library(3, 1.0), false, &[]);
    served.mpc(&["add", "/"]);
    let home = served.env.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let session = format!("tapedeck-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .env("HOME", &home)
            .args(["-L", &session])
            .args(args)
            .status()
            .unwrap()
    };
    let command = format!("ncmpcpp -h {}", served.socket().display());
    assert!(
        tmux(&[
            "new-session",
            "-d",
            "-s",
            "n",
            "-x",
            "120",
            "-y",
            "30",
            &command
        ])
        .success()
    );
    let capture = |want: &str| -> String {
        let started = Instant::now();
        loop {
            let out = Command::new("tmux")
                .args(["-L", &session, "capture-pane", "-p", "-t", "n"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains(want) || started.elapsed() > Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let playlist = capture("Playlist (3 items");
    assert!(playlist.contains("Playlist (3 items"), "{playlist}");
    for title in ["Track 1", "Track 2", "Track 3"] {
        assert!(playlist.contains(title), "{playlist}");
    }
    tmux(&["send-keys", "-t", "n", "2"]);
    let browse = capture("[music]");
    assert!(
        browse.contains("Browse: /") && browse.contains("[music]"),
        "{browse}"
    );
    tmux(&["send-keys", "-t", "n", "Enter"]);
    let folder = capture("[Album]");
    assert!(folder.contains("[Album]"), "{folder}");
    // Play from ncmpcpp: the service plays it.
    tmux(&["send-keys", "-t", "n", "1"]);
    capture("Playlist (3 items");
    tmux(&["send-keys", "-t", "n", "Enter"]);
    // The device opens only when something plays.
    let started = Instant::now();
    while std::fs::metadata(served.capture()).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing played"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux(&["send-keys", "-t", "n", "q"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux(&["kill-server"]);
}

#[test]
fn the_replaygain_mode_a_client_sets_is_what_reaches_the_device() {
    let env = Env::new();
    let file = env.music().join("loud.flac");
    common::tone(
        &file,
        440,
        1.0,
        &[
            ("title", "Loud"),
            ("REPLAYGAIN_TRACK_GAIN", "-6.02 dB"),
            ("REPLAYGAIN_TRACK_PEAK", "0.5"),
        ],
    );
    env.ok(&["scan", env.music().to_str().unwrap()]);
    let served = Served::start(env, false, &["--replaygain", "off"]);
    served.mpc(&["add", "/"]);
    let peak = |served: &Served| -> f32 {
        let _ = std::fs::remove_file(served.capture());
        served.mpc(&["play"]);
        served.wait_for("state: stop");
        std::fs::read(served.capture())
            .unwrap()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()).abs())
            .fold(0.0, f32::max)
    };
    let plain = peak(&served);
    assert!(plain > 0.05, "nothing audible: {plain}");
    served.mpc(&["replaygain", "track"]);
    assert!(
        served
            .raw("replay_gain_status\n")
            .contains("replay_gain_mode: track")
    );
    let lowered = peak(&served);
    let ratio = lowered / plain;
    assert!((ratio - 0.5).abs() < 0.01, "gain ratio {ratio}");
}

#[test]
fn serve_starts_on_a_library_that_does_not_exist_yet() {
    let env = Env::new();
    let db = env.dir.path().join("new").join("library.db");
    // A device that is not there fails before anything listens.
    let wrong = env
        .cmd()
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .args([
            "--db",
            db.to_str().unwrap(),
            "serve",
            "--device",
            "no such device",
        ])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.starts_with("error:") && err.contains("no such device"),
        "{err}"
    );
    assert!(
        !env.dir.path().join("tapedeck").exists()
            || std::fs::read_dir(env.dir.path().join("tapedeck"))
                .unwrap()
                .next()
                .is_none(),
        "no socket was left"
    );
    let mut served = Served::start(env, false, &["--db", db.to_str().unwrap()]);
    let status = served.mpc(&["status"]);
    assert!(status.contains("volume:100%"), "{status}");
    assert!(db.exists(), "the library was made");
    assert!(served.stop().success());
}

#[test]
fn a_socket_named_by_the_user_is_found_through_tapedeck_socket() {
    let env = Served::library(1, 1.0);
    let socket = env.dir.path().join("elsewhere.sock");
    let mut served = Served::start(env, false, &["--socket", socket.to_str().unwrap()]);
    let remote = |socket: Option<&Path>| {
        let mut c = served.env.cmd();
        c.env("XDG_RUNTIME_DIR", served.env.dir.path());
        match socket {
            Some(s) => c.env("TAPEDECK_SOCKET", s),
            None => c.env_remove("TAPEDECK_SOCKET"),
        };
        c.args(["status", "--json"]).output().unwrap()
    };
    // Not where the library's own socket would be...
    assert_eq!(remote(None).status.code(), Some(1));
    // ...but found where it was put.
    let out = remote(Some(&socket));
    let v: serde_json::Value = serde_json::from_str(&succeeded(&["status"], out)).unwrap();
    assert_eq!(v["state"], "stop");
    assert!(served.stop().success());
    assert!(!socket.exists(), "its socket is removed");
}
