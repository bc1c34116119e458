//! `tapedeck ui` end to end, in a real terminal: tmux (installed by `make test`) runs an
//! interactive shell, the test types into it with `send-keys` and reads the screen with
//! `capture-pane`. Playback goes to ALSA's file device, and what it captured is compared with
//! the decoded album. Checked: searching, queueing an album, playing it gaplessly, remote
//! commands reaching the UI's own service, Ctrl-Z and `fg`, attaching to a running
//! `tapedeck serve` (which keeps playing after the UI quits), and the terminal put back as it
//! was on quit (main screen, cursor shown, mouse reporting off).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tapedeck::audio::decode::decode_all;

mod common;

use common::{Env, file_device, tone};

/// A tmux server of the test's own, running an interactive shell in a pane of `width` x
/// `height`.
struct Tmux {
    socket: String,
    home: PathBuf,
}

impl Tmux {
    fn start(env: &Env, name: &str, width: u16, height: u16) -> Tmux {
        let home = env.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let t = Tmux {
            socket: format!("tapedeck-ui-{name}-{}", std::process::id()),
            home,
        };
        let (w, h) = (width.to_string(), height.to_string());
        let ok = t
            .cmd()
            .args(["new-session", "-d", "-s", "ui", "-x", &w, "-y", &h])
            .args(["bash", "--norc", "--noprofile", "-i"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux did not start");
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.env("HOME", &self.home)
            .env("TERM", "xterm-256color")
            .env("PS1", "$ ")
            .args(["-L", &self.socket]);
        c
    }

    /// Keys as tmux names them (`Enter`, `Tab`, `C-z`), each its own argument.
    fn keys(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "ui"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok, "send-keys {keys:?}");
        // Each key is its own read for the program (ESC followed by a letter would be Alt).
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Text typed literally.
    fn type_text(&self, text: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "ui", "-l", text])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::thread::sleep(Duration::from_millis(150));
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "ui"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows everything in `want`, and returns it.
    fn wait_for(&self, want: &[&str]) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if want.iter().all(|w| screen.contains(w)) {
                return screen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the screen never showed {want:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A tmux format variable of the pane (`alternate_on`, `cursor_flag`...).
    fn flag(&self, name: &str) -> String {
        let out = self
            .cmd()
            .args(["display-message", "-p", "-t", "ui", &format!("#{{{name}}}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Checks the terminal is as a shell left it: the main screen, the cursor shown, no mouse
    /// reporting, no application keypad.
    fn assert_restored(&self) {
        assert_eq!(
            self.flag("alternate_on"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.flag("cursor_flag"), "1", "the cursor is hidden");
        assert_eq!(
            self.flag("mouse_any_flag"),
            "0",
            "mouse reporting is still on"
        );
        assert_eq!(
            self.flag("mouse_all_flag"),
            "0",
            "mouse reporting is still on"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// An album of three tagged tones of `secs` seconds and one other album, scanned; the ALSA
/// file device set up, paced to real time.
fn library(secs: f64) -> (Env, String) {
    let env = Env::new();
    let music = env.music();
    for (n, freq) in [(1, 330), (2, 440), (3, 550)] {
        tone(
            &music.join(format!("Sunset Band/Night Drive/0{n}.flac")),
            freq,
            secs,
            &[
                ("title", &format!("Drive {n}")),
                ("artist", "Sunset Band"),
                ("album", "Night Drive"),
                ("date", "2019"),
                ("track", &n.to_string()),
            ],
        );
    }
    tone(
        &music.join("Other/Daylight/01.flac"),
        660,
        0.5,
        &[
            ("title", "Morning"),
            ("artist", "Other Artist"),
            ("album", "Daylight"),
        ],
    );
    // The bundled fixtures beside them: every format, odd tags, no tags.
    env.ok(&[
        "scan",
        music.to_str().unwrap(),
        common::fixture("library").to_str().unwrap(),
    ]);
    let alsa = file_device(
        &env.dir.path().join("alsa.conf"),
        &env.dir.path().join("capture.raw"),
        true,
    );
    (env, alsa)
}

/// A private session bus (dbus-daemon, installed by `make test`), ended on drop.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start() -> Bus {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(daemon.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert!(line.starts_with("unix:"), "dbus-daemon said {line:?}");
        Bus {
            daemon,
            address: line.trim().to_string(),
        }
    }

    /// `playerctl -p tapedeck ARGS` on this bus: its output, trimmed.
    fn playerctl(&self, args: &[&str]) -> String {
        let out = Command::new("playerctl")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["-p", "tapedeck"])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The shell line that runs tapedeck in the test's environment (on the session bus `bus`, or
/// on none).
fn command_line(env: &Env, alsa: &str, bus: &str, args: &str) -> String {
    format!(
        "env TAPEDECK_DB='{}' TAPEDECK_CONFIG='{}' XDG_RUNTIME_DIR='{}' ALSA_CONFIG_PATH='{alsa}' \
         DBUS_SESSION_BUS_ADDRESS='{bus}' {} {args}",
        env.db().display(),
        env.config_file().display(),
        env.dir.path().display(),
        env!("CARGO_BIN_EXE_tapedeck"),
    )
}

fn tapedeck(env: &Env, args: &[&str]) -> String {
    let out = env
        .cmd()
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn search_queue_an_album_play_it_and_quit_with_the_terminal_restored() {
    let (env, alsa) = library(1.5);
    let bus = Bus::start();
    let tmux = Tmux::start(&env, "play", 100, 30);
    tmux.type_text(&command_line(
        &env,
        &alsa,
        &bus.address,
        "ui --fresh --replaygain off",
    ));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&[
        "Album artists (13)",
        "Other Artist",
        "Sunset Band",
        "? help",
    ]);

    // Search as you type: the album's artist, album and first track are selected.
    tmux.keys(&["/"]);
    tmux.type_text("drive");
    let found = tmux.wait_for(&["/drive", "Albums of Sunset Band", "2019 Night Drive"]);
    assert!(found.contains("01 Drive 1"), "{found}");
    tmux.keys(&["Enter"]);
    // Queue the album from its column.
    tmux.keys(&["Tab"]);
    tmux.keys(&["a"]);
    tmux.wait_for(&["added 3 tracks to the queue"]);
    tmux.keys(&["4"]);
    let queue = tmux.wait_for(&["Queue: 3 tracks"]);
    for n in 1..=3 {
        assert!(
            queue.contains(&format!("{n}. Sunset Band — Drive {n} (Night Drive)")),
            "{queue}"
        );
    }

    // A remote command and a desktop's media keys (MPRIS) reach the UI's own service.
    let status = tapedeck(&env, &["queue", "list"]);
    assert!(status.contains("Drive 2"), "{status}");
    assert_eq!(bus.playerctl(&["status"]), "Stopped");

    // Play from the first entry, to the end of the album.
    tmux.keys(&["Enter"]);
    let playing = tmux.wait_for(&[
        " — Sunset Band — Night Drive (2019)",
        "▶ 0:0",
        "flac 44.1 kHz/",
    ]);
    assert!(playing.contains("/3"), "{playing}");
    assert_eq!(bus.playerctl(&["status"]), "Playing");
    assert!(
        bus.playerctl(&["metadata", "xesam:title"])
            .starts_with("Drive "),
        "MPRIS shows what plays"
    );
    tmux.wait_for(&["nothing playing", "■ 0:00"]);
    let captured = common::captured_samples(&env.dir.path().join("capture.raw"));
    let mut expected = Vec::new();
    for n in 1..=3 {
        let path = env
            .music()
            .join(format!("Sunset Band/Night Drive/0{n}.flac"));
        expected.extend(decode_all(&path).unwrap().1);
    }
    let start = captured
        .iter()
        .position(|&s| s != 0.0)
        .expect("nothing played");
    let lead = expected.iter().position(|&s| s != 0.0).unwrap();
    let got = &captured[start - lead..];
    assert!(got.len() >= expected.len(), "the capture is short");
    assert!(
        got[..expected.len()] == expected[..],
        "the album did not reach the device sample for sample"
    );

    // Ctrl-Z gives the shell back; fg brings the UI back, redrawn.
    tmux.keys(&["C-z"]);
    tmux.wait_for(&["Stopped"]);
    tmux.assert_restored();
    tmux.type_text("fg");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Queue: 3 tracks", "? help"]);
    assert_eq!(tmux.flag("alternate_on"), "1");

    // Resized down to 60x15, it draws again to fit.
    let resized = tmux
        .cmd()
        .args(["resize-window", "-t", "ui", "-x", "60", "-y", "15"])
        .status()
        .unwrap();
    assert!(resized.success());
    let small = tmux.wait_for(&["Queue: 3 tracks", "? help"]);
    assert!(small.lines().all(|l| l.chars().count() <= 60), "{small}");
    assert!(small.contains("1. Sunset Band — Drive 1"), "{small}");

    tmux.keys(&["q"]);
    tmux.type_text("echo \"exited $?\"");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["exited 0"]);
    tmux.assert_restored();
    // The music stopped with the UI: nothing answers any more.
    let after = tapedeck(&env, &["status"]);
    assert!(after.contains("no player service is running"), "{after}");
}

#[test]
fn the_ui_attaches_to_a_running_service_and_leaves_it_playing() {
    // Long enough that the service still plays when the UI quits.
    let (env, alsa) = library(4.0);
    let mut serve: Child = env
        .cmd()
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .env("ALSA_CONFIG_PATH", &alsa)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .args(["serve", "--fresh", "--replaygain", "off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !tapedeck(&env, &["status"]).contains("volume") {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "serve did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmux = Tmux::start(&env, "attach", 80, 24);
    tmux.type_text(&command_line(&env, "/nonexistent", "", "ui"));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["attached to tapedeck serve", "Sunset Band"]);
    // Enter on the heading plays everything under it.
    tmux.keys(&["/"]);
    tmux.type_text("sunset");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Albums of Sunset Band"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Drive 1 — Sunset Band — Night Drive (2019)", "▶"]);
    let status = tapedeck(&env, &["status"]);
    assert!(
        status.starts_with("playing: Sunset Band - Drive 1"),
        "{status}"
    );
    // `u` has the service scan (so its other clients hear of it); the views follow.
    tone(
        &env.music().join("Zebra/Stripes/01.flac"),
        770,
        0.3,
        &[
            ("title", "Stripe"),
            ("artist", "Zebra Quartet"),
            ("album", "Stripes"),
        ],
    );
    tmux.keys(&["1"]);
    tmux.keys(&["u"]);
    tmux.wait_for(&["tapedeck serve has scanned the library", "Zebra Quartet"]);
    tmux.keys(&["q"]);
    tmux.type_text("echo \"exited $?\"");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["exited 0"]);
    tmux.assert_restored();
    let status = tapedeck(&env, &["status"]);
    assert!(
        status.starts_with("playing:"),
        "quitting the UI stopped the service: {status}"
    );

    // SIGTERM ends the UI with the terminal put back, too.
    tmux.type_text("clear");
    tmux.keys(&["Enter"]);
    tmux.type_text(&command_line(&env, "/nonexistent", "", "ui"));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["attached to tapedeck serve"]);
    let shell = tmux.flag("pane_pid");
    let children =
        std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap_or_default();
    let ui: i32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the UI's process");
    // SAFETY: a signal to a process this test started.
    assert_eq!(unsafe { libc::kill(ui, libc::SIGTERM) }, 0);
    let started = Instant::now();
    while tmux.flag("alternate_on") != "0" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "SIGTERM did not end the UI"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    tmux.type_text("echo \"ended $?\"");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["ended 0"]);
    tmux.assert_restored();
    let _ = serve.kill();
    let _ = serve.wait();
}

#[test]
fn without_a_terminal_the_ui_says_so_and_fails() {
    let (env, _) = library(0.2);
    let out = env
        .cmd()
        .env("XDG_RUNTIME_DIR", env.dir.path())
        .arg("ui")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error:") && err.contains("needs a terminal"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn what_libraries_print_never_reaches_the_screen() {
    let (env, _) = library(0.5);
    // A default device over a device that is not there: ALSA complains on stderr when playing
    // starts.
    let conf = env.dir.path().join("missing-card.conf");
    std::fs::write(&conf, "pcm.!default { type plug slave.pcm \"nosuch\" }\n").unwrap();
    let alsa = conf.display().to_string();
    let tmux = Tmux::start(&env, "stderr", 100, 30);
    tmux.type_text(&command_line(&env, &alsa, "", "ui --fresh"));
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Album artists (13)", "? help"]);
    tmux.keys(&["/"]);
    tmux.type_text("drive");
    tmux.keys(&["Enter"]);
    tmux.keys(&["Tab"]);
    tmux.keys(&["Enter"]);
    // The failure is told on the status line; nothing else is written over the screen.
    let screen = tmux.wait_for(&["error: cannot open the audio output"]);
    assert!(!screen.contains("ALSA lib"), "{screen}");
    assert!(screen.contains("Albums of Sunset Band"), "{screen}");
    tmux.keys(&["q"]);
    tmux.type_text("echo \"exited $?\"");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["exited 0"]);
    tmux.assert_restored();
}
