//! MPRIS end to end: the real binary plays (through ALSA's file device, paced to real time by
//! pv) on a private session bus made by `dbus-run-session`, driven and read by the real
//! `playerctl`, with `dbus-monitor` watching the signals; and `play` without any bus.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{Env, file_device, succeeded, tone};

/// The script run inside the private bus: it starts the player, waits for its name, drives it
/// with playerctl and prints `key=value` lines (values on one line each).
const SCRIPT: &str = r#"
say() { printf '%s=%s\n' "$1" "$(echo "$2" | tr '\n' '|')"; }
pc() { playerctl -p tapedeck "$@" 2>&1; }
dbus-monitor --session "type='signal',path='/org/mpris/MediaPlayer2'" > "$WORK/monitor.txt" 2>/dev/null &
monitor=$!
"$TAPEDECK" play --replaygain off "$WORK/music/a.flac" "$WORK/music/b.flac" \
  < /dev/null > "$WORK/play.out" 2> "$WORK/play.err" &
player=$!
found=no
for i in $(seq 100); do
  if playerctl -l 2>/dev/null | grep -qx tapedeck; then found=yes; break; fi
  sleep 0.1
done
say name "$found"
say players "$(playerctl -l 2>&1)"
for key in xesam:title xesam:artist xesam:album xesam:albumArtist xesam:trackNumber \
    xesam:url mpris:length mpris:trackid mpris:artUrl; do
  say "$key" "$(pc metadata "$key")"
done
say status "$(pc status)"
playerctl -p tapedeck --follow status > "$WORK/follow-status.txt" 2>&1 &
follow_status=$!
playerctl -p tapedeck --follow metadata xesam:title > "$WORK/follow-title.txt" 2>&1 &
follow_title=$!
sleep 0.5
cp "$WORK/capture.raw" "$WORK/playing.raw"
pc pause
sleep 0.3
say paused "$(pc status)"
sleep 1.5
cp "$WORK/capture.raw" "$WORK/paused-1.raw"
sleep 1
cp "$WORK/capture.raw" "$WORK/paused-2.raw"
pc play
sleep 0.3
say resumed "$(pc status)"
say position-1 "$(pc position)"
sleep 1
say position-2 "$(pc position)"
pc position 5
sleep 0.5
say seeked-to "$(pc position)"
pc position 2+
sleep 0.3
say seeked-by "$(pc position)"
call() {
  dbus-send --session --print-reply --dest=org.mpris.MediaPlayer2.tapedeck /org/mpris/MediaPlayer2 \
    "org.mpris.MediaPlayer2.Player.$@" 2>&1
}
call SetPosition objpath:/org/tapedeck/track/99 int64:1000000 > /dev/null
sleep 0.3
say other-track-ignored "$(pc position)"
say open-uri "$(call OpenUri string:file:///tmp/x.flac | head -1)"
pc volume 0.5
say volume "$(pc volume)"
pc loop Track
say loop "$(pc loop)"
pc loop Playlist
say loop-playlist "$(pc loop)"
pc loop None
pc shuffle On
say shuffle "$(pc shuffle)"
pc shuffle Off
say shuffle-off "$(pc shuffle)"
pc next
sleep 0.5
say next-title "$(pc metadata xesam:title)"
say next-trackid "$(pc metadata mpris:trackid)"
# A second player on the bus takes an instance name.
ALSA_CONFIG_PATH="/usr/share/alsa/alsa.conf:$WORK/second.conf" "$TAPEDECK" play --replaygain off \
  "$WORK/music/b.flac" < /dev/null > /dev/null 2> "$WORK/second.err" &
second=$!
for i in $(seq 100); do
  [ "$(playerctl -l 2>/dev/null | wc -l)" -ge 2 ] && break
  sleep 0.1
done
say both "$(playerctl -l 2>&1 | sort)"
say second-pid "$second"
kill $second; wait $second
pc stop
# Stop ends a foreground play.
for i in $(seq 50); do kill -0 $player 2>/dev/null || break; sleep 0.1; done
if kill -0 $player 2>/dev/null; then say exited no; kill $player; wait $player; else wait $player; say exited "yes $?"; fi
kill $follow_status $follow_title $monitor 2>/dev/null
wait 2>/dev/null
exit 0
"#;

fn audible(path: &Path) -> usize {
    common::captured_samples(path)
        .iter()
        .filter(|&&s| s != 0.0)
        .count()
}

fn secs(v: &str) -> f64 {
    v.parse()
        .unwrap_or_else(|_| panic!("not a position: {v:?}"))
}

#[test]
fn playerctl_reads_and_drives_a_playing_queue() {
    let env = Env::new();
    let work = env.dir.path();
    let music = env.music();
    // Thirty seconds each: the checks below take a few, at real-time pace.
    tone(
        &music.join("a.flac"),
        440,
        30.0,
        &[
            ("title", "Tone A"),
            ("artist", "Artist X"),
            ("album", "Album Y"),
            ("album_artist", "Band Z"),
            ("track", "3"),
        ],
    );
    tone(
        &music.join("b.flac"),
        660,
        30.0,
        &[
            ("title", "Tone B"),
            ("artist", "Artist X"),
            ("album", "Album Y"),
        ],
    );
    let made = Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "color=red:s=16x16",
        ])
        .args(["-frames:v", "1"])
        .arg(music.join("Cover.jpg"))
        .status()
        .unwrap();
    assert!(made.success(), "ffmpeg could not make the cover");
    env.ok(&["scan", music.to_str().unwrap()]);
    let capture = work.join("capture.raw");
    let paced = file_device(&work.join("paced.conf"), &capture, true);
    file_device(&work.join("second.conf"), &work.join("second.raw"), true);
    let script = work.join("drive.sh");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("dbus-run-session")
        .args(["--", "sh"])
        .arg(&script)
        .env("TAPEDECK", env!("CARGO_BIN_EXE_tapedeck"))
        .env("TAPEDECK_DB", env.db())
        .env("TAPEDECK_CONFIG", env.config_file())
        .env("ALSA_CONFIG_PATH", &paced)
        .env("WORK", work)
        .env_remove("TAPEDECK_DEBUG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let player_err = std::fs::read_to_string(work.join("play.err")).unwrap_or_default();
    let report = format!(
        "script:\n{stdout}\nscript stderr:\n{}\nplayer stderr:\n{player_err}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    let got: HashMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.trim_end_matches('|')))
        .collect();
    let get = |k: &str| -> &str {
        got.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k} in the output\n{report}"))
    };
    assert_eq!(get("name"), "yes", "{report}");
    assert_eq!(get("players"), "tapedeck", "{report}");

    // Metadata: the library's tags, the entry's id, lengths in microseconds, file URLs.
    let track = |name: &str| -> PathBuf { std::fs::canonicalize(music.join(name)).unwrap() };
    assert_eq!(get("xesam:title"), "Tone A", "{report}");
    assert_eq!(get("xesam:artist"), "Artist X", "{report}");
    assert_eq!(get("xesam:album"), "Album Y", "{report}");
    assert_eq!(get("xesam:albumArtist"), "Band Z", "{report}");
    assert_eq!(get("xesam:trackNumber"), "3", "{report}");
    assert_eq!(
        get("xesam:url"),
        format!("file://{}", track("a.flac").display()),
        "{report}"
    );
    assert_eq!(
        get("mpris:artUrl"),
        format!("file://{}", track("Cover.jpg").display()),
        "{report}"
    );
    let length: i64 = get("mpris:length").parse().unwrap();
    assert!(
        (length - 30_000_000).abs() < 50_000,
        "length {length} µs\n{report}"
    );
    assert_eq!(
        get("mpris:trackid").trim_matches('\''),
        "/org/tapedeck/track/1",
        "{report}"
    );

    // Transport.
    assert_eq!(get("status"), "Playing", "{report}");
    assert_eq!(get("paused"), "Paused", "{report}");
    assert_eq!(get("resumed"), "Playing", "{report}");
    let heard = audible(&work.join("playing.raw"));
    assert!(heard > 0, "nothing was heard before the pause\n{report}");
    let (p1, p2) = (
        audible(&work.join("paused-1.raw")),
        audible(&work.join("paused-2.raw")),
    );
    assert!(
        p2 - p1 < 4410,
        "{} samples were heard during a second of pause\n{report}",
        p2 - p1
    );
    let (a, b) = (secs(get("position-1")), secs(get("position-2")));
    assert!(b - a > 0.7 && b - a < 2.5, "position {a} -> {b}\n{report}");
    let to = secs(get("seeked-to"));
    assert!((5.0..7.0).contains(&to), "seeked to {to}\n{report}");
    let by = secs(get("seeked-by"));
    assert!(
        by - to > 1.8 && by - to < 3.5,
        "seeked by 2 s from {to} to {by}\n{report}"
    );
    // SetPosition naming a track that is not current does nothing.
    let still = secs(get("other-track-ignored"));
    assert!(
        still > by && still < by + 1.5,
        "position {by} -> {still}\n{report}"
    );
    assert!(
        get("open-uri").starts_with("Error org.freedesktop.DBus.Error.NotSupported"),
        "{report}"
    );

    // Settings.
    assert_eq!(get("volume"), "0.500000", "{report}");
    assert_eq!(get("loop"), "Track", "{report}");
    assert_eq!(get("loop-playlist"), "Playlist", "{report}");
    assert_eq!(get("shuffle"), "On", "{report}");
    assert_eq!(get("shuffle-off"), "Off", "{report}");

    // Next, and stop ending the player.
    assert_eq!(get("next-title"), "Tone B", "{report}");
    assert_eq!(
        get("next-trackid").trim_matches('\''),
        "/org/tapedeck/track/2",
        "{report}"
    );
    assert_eq!(get("exited"), "yes 0", "{report}");
    assert_eq!(
        get("both"),
        format!("tapedeck|tapedeck.instance{}", get("second-pid")),
        "{report}"
    );

    // Followers saw the changes (PropertiesChanged), and the monitor saw Seeked at 5 s.
    let follow_status = std::fs::read_to_string(work.join("follow-status.txt")).unwrap();
    let states: Vec<&str> = follow_status.lines().collect();
    assert!(
        states
            .windows(3)
            .any(|w| w == ["Playing", "Paused", "Playing"]),
        "followed status: {states:?}\n{report}"
    );
    let follow_title = std::fs::read_to_string(work.join("follow-title.txt")).unwrap();
    let titles: Vec<&str> = follow_title.lines().collect();
    assert!(
        titles.windows(2).any(|w| w == ["Tone A", "Tone B"]),
        "followed titles: {titles:?}\n{report}"
    );
    let monitor = std::fs::read_to_string(work.join("monitor.txt")).unwrap();
    let seeked: Vec<i64> = monitor
        .split("member=Seeked")
        .skip(1)
        .filter_map(|rest| {
            rest.split_whitespace()
                .skip_while(|w| *w != "int64")
                .nth(1)
                .and_then(|n| n.parse().ok())
        })
        .collect();
    assert!(
        seeked
            .iter()
            .any(|&us| (5_000_000..6_000_000).contains(&us)),
        "Seeked signals: {seeked:?}\n{report}"
    );
    for (property, value) in [
        ("PlaybackStatus", "\"Paused\""),
        ("Volume", "0.5"),
        ("LoopStatus", "\"Track\""),
        ("Shuffle", "true"),
    ] {
        let said = monitor.split("member=PropertiesChanged").any(|signal| {
            let mut words = signal.split_whitespace();
            words.any(|w| w == format!("\"{property}\"")) && words.take(3).any(|w| w == value)
        });
        assert!(
            said,
            "no PropertiesChanged with {property} = {value}\n{monitor}"
        );
    }
}

#[test]
fn play_without_a_session_bus_plays_and_says_nothing_about_it() {
    let env = Env::new();
    let track = env.music().join("short.wav");
    tone(&track, 440, 0.5, &[]);
    let capture = env.dir.path().join("capture.raw");
    let run = |debug: bool, bus: Option<&Path>| {
        let _ = std::fs::remove_file(&capture);
        let mut c = env.cmd();
        c.env(
            "ALSA_CONFIG_PATH",
            format!(
                "/usr/share/alsa/alsa.conf:{}/tests/alsa/capture.conf",
                env!("CARGO_MANIFEST_DIR")
            ),
        )
        .env("ALSA_OUT_FILE", &capture)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        // Where a bus would be found without the variable: an empty folder.
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .args(["play", "--replaygain", "off"])
        .arg(&track);
        if let Some(bus) = bus {
            c.env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", bus.display()),
            );
        }
        if debug {
            c.env("TAPEDECK_DEBUG", "1");
        } else {
            c.env_remove("TAPEDECK_DEBUG");
        }
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        succeeded(&["play"], out);
        (stderr, audible(&capture))
    };
    let (stderr, heard) = run(false, None);
    assert_eq!(stderr, "", "play without a bus wrote to stderr");
    assert!(heard > 20_000, "only {heard} samples were heard");
    let (stderr, heard) = run(true, None);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "debug output: {stderr}");
    assert!(
        lines[0].starts_with("debug: MPRIS not published"),
        "debug output: {stderr}"
    );
    assert!(heard > 20_000, "only {heard} samples were heard");

    // A bus that takes the connection and never answers costs the wait, not the player.
    let socket = env.dir.path().join("silent-bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let held = std::thread::spawn(move || listener.accept().map(|(conn, _)| conn));
    let started = Instant::now();
    let (stderr, heard) = run(false, Some(&socket));
    let took = started.elapsed();
    assert_eq!(stderr, "", "play with a silent bus wrote to stderr");
    assert!(heard > 20_000, "only {heard} samples were heard");
    assert!(took < Duration::from_secs(8), "play took {took:?}");
    assert!(held.join().unwrap().is_ok(), "the player never connected");
}

/// `serve` publishes the same player: what playerctl does reaches MPD clients and back.
const SERVE_SCRIPT: &str = r#"
say() { printf '%s=%s\n' "$1" "$(echo "$2" | tr '\n' '|')"; }
pc() { playerctl -p tapedeck "$@" 2>&1; }
"$TAPEDECK" serve --fresh --replaygain off < /dev/null > /dev/null 2> "$WORK/serve.err" &
server=$!
for i in $(seq 100); do
  if playerctl -l 2>/dev/null | grep -qx tapedeck; then break; fi
  sleep 0.1
done
sock=$(ls -d "$XDG_RUNTIME_DIR"/tapedeck/socket-*)
say stopped "$(pc status)"
mpc -q -h "$sock" add /
mpc -q -h "$sock" play
sleep 0.5
say playing "$(pc status)"
say title "$(pc metadata xesam:title)"
pc next
sleep 0.3
say mpc-after-next "$(mpc -h "$sock" current -f %title%)"
mpc -q -h "$sock" pause
sleep 0.3
say paused "$(pc status)"
mpc -q -h "$sock" volume 25
sleep 0.3
say volume "$(pc volume)"
kill -INT $server
wait $server
say exit "$?"
exit 0
"#;

#[test]
fn serve_publishes_the_same_player_to_mpd_clients_and_playerctl() {
    let env = Env::new();
    let work = env.dir.path();
    let music = env.music();
    tone(&music.join("a.flac"), 440, 20.0, &[("title", "Tone A")]);
    tone(&music.join("b.flac"), 660, 20.0, &[("title", "Tone B")]);
    env.ok(&["scan", music.to_str().unwrap()]);
    let paced = file_device(&work.join("paced.conf"), &work.join("capture.raw"), true);
    let script = work.join("serve.sh");
    std::fs::write(&script, SERVE_SCRIPT).unwrap();
    let out = Command::new("dbus-run-session")
        .args(["--", "sh"])
        .arg(&script)
        .env("TAPEDECK", env!("CARGO_BIN_EXE_tapedeck"))
        .env("TAPEDECK_DB", env.db())
        .env("TAPEDECK_CONFIG", env.config_file())
        .env("XDG_RUNTIME_DIR", work)
        .env("ALSA_CONFIG_PATH", &paced)
        .env("WORK", work)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = format!(
        "script:\n{stdout}\nscript stderr:\n{}\nserve stderr:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(work.join("serve.err")).unwrap_or_default()
    );
    assert!(out.status.success(), "{report}");
    let got: HashMap<&str, &str> = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.trim_end_matches('|')))
        .collect();
    let get = |k: &str| {
        got.get(k)
            .copied()
            .unwrap_or_else(|| panic!("no {k}: {report}"))
    };
    assert_eq!(get("stopped"), "Stopped", "{report}");
    assert_eq!(get("playing"), "Playing", "{report}");
    assert_eq!(get("title"), "Tone A", "{report}");
    assert_eq!(get("mpc-after-next"), "Tone B", "{report}");
    assert_eq!(get("paused"), "Paused", "{report}");
    assert_eq!(get("volume"), "0.250000", "{report}");
    assert_eq!(get("exit"), "0", "{report}");
}
