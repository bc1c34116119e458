//! The write paths tried as an attacker handing the user a stick, and as a careless user:
//! links planted on the target, hostile manifest and journal lines, files the user changed at
//! names tapedeck once wrote, empty selections, a second writer, a stick pulled mid-run, a
//! killed convert, outputs named over inputs. Each case checks that nothing outside the target
//! changed (a decoy folder's checksums before and after), that the user's files are intact, and
//! that the message names the problem. Plain folders, FAT32 (fusefat) and exFAT (exfat-fuse).

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::stick::{Fs, Stick};
use common::{Env, tone};

/// Every entry under `dir` (links not followed) with what it is and a checksum of its bytes.
fn digest(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let ft = e.file_type();
            let what = if ft.is_symlink() {
                format!(
                    "link -> {}",
                    std::fs::read_link(e.path()).unwrap().display()
                )
            } else if ft.is_file() {
                let bytes = std::fs::read(e.path()).unwrap();
                format!("file {} {:x}", bytes.len(), md5ish(&bytes))
            } else {
                "dir".into()
            };
            (rel, what)
        })
        .collect()
}

/// A cheap content hash (FNV-1a), enough to see a change.
fn md5ish(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100000001b3)
    })
}

/// A folder of precious files outside every target.
fn decoy(env: &Env) -> PathBuf {
    let d = env.dir.path().join("decoy");
    std::fs::create_dir_all(d.join("victim")).unwrap();
    std::fs::write(d.join("victim/taxes.txt"), b"the user's taxes").unwrap();
    std::fs::write(d.join("reserve.bin"), b"precious reserve").unwrap();
    std::fs::write(d.join("journal.txt"), b"precious journal").unwrap();
    std::fs::create_dir_all(d.join("tmpdir")).unwrap();
    std::fs::write(d.join("tmpdir/photo.jpg"), b"a photo").unwrap();
    std::fs::create_dir_all(d.join("band")).unwrap();
    std::fs::write(d.join("band/letter.txt"), b"a letter").unwrap();
    d
}

fn album(env: &Env, n: usize, secs: f64) -> Vec<PathBuf> {
    songs(env, n, secs, |_| "Record".into())
}

/// `n` tracks "Song 1".. by "Band", `secs` long, each on the album `album(i)`.
fn songs(env: &Env, n: usize, secs: f64, album: impl Fn(usize) -> String) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let p = env.music().join(format!("{i:02}.flac"));
            let (t, k, a) = (format!("Song {i}"), i.to_string(), album(i));
            tone(
                &p,
                200 + 30 * i as u32,
                secs,
                &[
                    ("title", &t),
                    ("artist", "Band"),
                    ("album", &a),
                    ("track", &k),
                ],
            );
            p
        })
        .collect()
}

fn scan(env: &Env) {
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The music files under `root`, tapedeck's own folder left out.
fn files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".tapedeck")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(root).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn links_planted_on_the_target_are_never_followed() {
    let env = Env::new();
    album(&env, 3, 0.4);
    scan(&env);
    let decoy = decoy(&env);
    let before = digest(&decoy);
    let cases: [(&str, &str, &str); 4] = [
        (".tapedeck/tmp", "tmpdir", "tmp"),
        (".tapedeck/reserve", "reserve.bin", "reserve"),
        (".tapedeck/journal.jsonl", "journal.txt", "journal.jsonl"),
        ("Band", "band", "Band"),
    ];
    for (n, (at, to, named)) in cases.iter().enumerate() {
        let stick = env.dir.path().join(format!("stick{n}"));
        std::fs::create_dir_all(stick.join(".tapedeck")).unwrap();
        symlink(decoy.join(to), stick.join(at)).unwrap();
        let out = env.run(&[
            "export",
            "--to",
            stick.to_str().unwrap(),
            "--profile",
            "stick",
        ]);
        let err = stderr(&out);
        assert_eq!(digest(&decoy), before, "{at}: the decoy changed\n{err}");
        // The link itself is still there, untouched.
        assert!(
            stick.join(at).symlink_metadata().unwrap().is_symlink(),
            "{at}"
        );
        if *at == ".tapedeck/reserve" {
            // No reserve is kept there, and the export goes on.
            assert!(out.status.success(), "{err}");
        } else if *at == "Band" {
            // The linked folder's name is taken: the album goes into another folder.
            assert!(out.status.success(), "{err}");
            assert!(
                err.contains("symbolic link") && err.contains("Band"),
                "{err}"
            );
            assert_eq!(files(&stick).len(), 3, "{:?}", files(&stick));
            assert!(files(&stick).iter().all(|f| !f.starts_with("Band/")));
        } else {
            assert!(!out.status.success(), "{at}: {err}");
            assert!(
                err.contains("symbolic link") && err.contains(named),
                "{at}: {err}"
            );
        }
    }
    // convert into a folder whose album folder is a link elsewhere.
    let to = env.dir.path().join("converted");
    std::fs::create_dir_all(&to).unwrap();
    symlink(decoy.join("band"), to.join("Band")).unwrap();
    let out = env.run(&["convert", "--to", to.to_str().unwrap(), "--format", "wav"]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(
        err.contains("symbolic link") && err.contains("Band"),
        "{err}"
    );
    assert_eq!(digest(&decoy), before);
}

#[test]
fn hostile_manifest_and_journal_lines_touch_nothing_outside_the_stick() {
    let env = Env::new();
    album(&env, 2, 0.4);
    scan(&env);
    let decoy = decoy(&env);
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let t = stick.to_str().unwrap();
    env.ok(&["export", "--to", t, "--profile", "stick"]);
    std::fs::write(stick.join("stolen.txt"), b"a file on the stick").unwrap();
    std::fs::create_dir_all(env.dir.path().join("x")).unwrap();
    std::fs::write(env.dir.path().join("x/keep"), b"outside").unwrap();
    // The manifest claims files and folders outside the stick.
    let mpath = stick.join(".tapedeck/manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    let any = m["files"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    m["files"]["../decoy/victim/taxes.txt"] = any;
    m["folders"]["../x"] = serde_json::json!({"holes": false, "created": true});
    m["playlists"]["../decoy/journal.txt"] = serde_json::json!("0");
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    // The journal moves files in both directions.
    std::fs::write(
        stick.join(".tapedeck/journal.jsonl"),
        [
            r#"{"op":"hold","path":"stolen.txt","hold":"../decoy/victim/taxes.txt"}"#,
            r#"{"op":"hold","path":"../decoy/planted.txt","hold":".tapedeck/tmp/x"}"#,
            r#"{"op":"hold","path":"planted.txt","hold":"../../decoy/victim/taxes.txt"}"#,
            r#"{"op":"remove","path":"../decoy/reserve.bin"}"#,
        ]
        .join("\n")
            + "\n",
    )
    .unwrap();
    let before = digest(&decoy);
    // Nothing selected any more: every file of ours goes (asked for), and nothing else.
    let out = env.run(&["export", "title:Song 1", "--to", t, "--delete"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("ignored") && err.contains("../decoy/victim/taxes.txt"),
        "{err}"
    );
    assert_eq!(digest(&decoy), before);
    assert_eq!(
        std::fs::read(env.dir.path().join("x/keep")).unwrap(),
        b"outside"
    );
    assert_eq!(
        std::fs::read(stick.join("stolen.txt")).unwrap(),
        b"a file on the stick"
    );
    assert!(!stick.join("planted.txt").exists());
}

#[test]
fn files_the_user_changed_are_theirs_and_never_replaced_or_removed() {
    let env = Env::new();
    let sources = album(&env, 3, 0.4);
    scan(&env);
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let t = stick.to_str().unwrap();
    env.ok(&["export", "--to", t, "--profile", "car"]);
    let one = stick.join("Band/Record/01 Song 1.mp3");
    let two = stick.join("Band/Record/02 Song 2.mp3");
    // Same size, other bytes; and another size.
    let len = std::fs::metadata(&one).unwrap().len() as usize;
    std::fs::write(&one, vec![b'u'; len]).unwrap();
    std::fs::write(&two, b"the user's notes").unwrap();
    // New sources (re-ripped) re-encode those tracks at the same names: the changed files stay,
    // and the tracks get new names.
    for (i, src) in sources.iter().enumerate().take(2) {
        let (title, k) = (format!("Song {}", i + 1), (i + 1).to_string());
        tone(
            src,
            900 + i as u32,
            0.4,
            &[
                ("title", &title),
                ("artist", "Band"),
                ("album", "Record"),
                ("track", &k),
            ],
        );
    }
    scan(&env);
    let out = env.run(&["export", "--to", t]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("01 Song 1.mp3") && err.contains("yours now"),
        "{err}"
    );
    assert!(err.contains("02 Song 2.mp3"), "{err}");
    assert_eq!(std::fs::read(&one).unwrap(), vec![b'u'; len]);
    assert_eq!(std::fs::read(&two).unwrap(), b"the user's notes");
    assert!(
        stick.join("Band/Record/01 Song 1 (2).mp3").exists(),
        "{:?}",
        files(&stick)
    );
    // Deselected: what tapedeck wrote goes, the user's files stay.
    env.ok(&["export", "title:Song 3", "--to", t, "--delete"]);
    assert_eq!(std::fs::read(&one).unwrap(), vec![b'u'; len]);
    assert_eq!(std::fs::read(&two).unwrap(), b"the user's notes");
    assert_eq!(
        files(&stick),
        [
            "Band/Record/01 Song 1.mp3",
            "Band/Record/02 Song 2.mp3",
            "Band/Record/03 Song 3.mp3"
        ]
    );

    // convert: a rerun with other settings replaces its own files, never a changed one.
    let to = env.dir.path().join("mp3");
    let tt = to.to_str().unwrap();
    env.ok(&[
        "convert",
        "-q",
        "--to",
        tt,
        "--format",
        "mp3",
        "--bitrate",
        "128",
    ]);
    let mine = to.join("Band/Record/01 Song 1.mp3");
    let len = std::fs::metadata(&mine).unwrap().len() as usize;
    std::fs::write(&mine, vec![b'u'; len]).unwrap();
    env.ok(&[
        "convert",
        "-q",
        "--to",
        tt,
        "--format",
        "mp3",
        "--bitrate",
        "192",
    ]);
    assert_eq!(std::fs::read(&mine).unwrap(), vec![b'u'; len]);
    assert_eq!(
        files(&to),
        [
            "Band/Record/01 Song 1 (2).mp3",
            "Band/Record/01 Song 1.mp3",
            "Band/Record/02 Song 2.mp3",
            "Band/Record/03 Song 3.mp3"
        ]
    );
}

#[test]
fn an_empty_selection_is_never_a_silent_wipe() {
    let env = Env::new();
    album(&env, 3, 0.4);
    scan(&env);
    env.ok(&["playlist", "new", "Nothing", "--query", "title:nomatch"]);
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let t = stick.to_str().unwrap();
    env.ok(&["export", "--to", t, "--profile", "stick"]);
    let before = digest(&stick);
    let out = env.run(&["export", "-p", "Nothing", "--to", t]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("selection is empty") && err.contains("delete 3 of the 3"),
        "{err}"
    );
    assert_eq!(digest(&stick), before);
    // An empty library (another machine's, say), too.
    let other = Env::new();
    other.ok(&["scan", "-q", other.music().to_str().unwrap()]);
    let out = other.run(&["export", "--to", t]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("selection is empty"),
        "{}",
        stderr(&out)
    );
    assert_eq!(digest(&stick), before);
}

#[test]
fn outputs_never_replace_inputs_library_tracks_or_unnamed_files() {
    let env = Env::new();
    let tracks = album(&env, 1, 0.4);
    scan(&env);
    let flac = &tracks[0];
    let original = std::fs::read(flac).unwrap();
    // render F -o F: refused even with --force.
    for extra in [&[][..], &["--force"][..]] {
        let mut args = vec![
            "render",
            flac.to_str().unwrap(),
            "-o",
            flac.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = env.run(&args);
        assert!(!out.status.success());
        assert_eq!(&std::fs::read(flac).unwrap(), &original);
    }
    // A library track reached through another spelling, from another input.
    let other = env.dir.path().join("other.flac");
    std::fs::copy(flac, &other).unwrap();
    let spelled = env.music().join(".").join(flac.file_name().unwrap());
    let out = env.run(&[
        "render",
        other.to_str().unwrap(),
        "-o",
        spelled.to_str().unwrap(),
        "--force",
    ]);
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(&std::fs::read(flac).unwrap(), &original);
    // An existing file: refused, then replaced with --force.
    let notes = env.dir.path().join("notes.txt");
    std::fs::write(&notes, b"my notes").unwrap();
    let out = env.run(&["render", "title:Song 1", "-o", notes.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&notes).unwrap(), b"my notes");
    env.ok(&[
        "render",
        "-q",
        "title:Song 1",
        "-o",
        notes.to_str().unwrap(),
        "--force",
    ]);
    assert!(std::fs::read(&notes).unwrap().starts_with(b"RIFF"));
    // playlist export -o, the same.
    env.ok(&["playlist", "new", "Mine"]);
    env.ok(&["playlist", "add", "Mine", "title:Song 1"]);
    let m3u = env.dir.path().join("mine.m3u8");
    std::fs::write(&m3u, b"#EXTM3U\nmy own list\n").unwrap();
    let out = env.run(&["playlist", "export", "Mine", "-o", m3u.to_str().unwrap()]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&m3u).unwrap(), b"#EXTM3U\nmy own list\n");
    env.ok(&[
        "playlist",
        "export",
        "Mine",
        "-o",
        m3u.to_str().unwrap(),
        "--force",
    ]);
    assert!(
        String::from_utf8(std::fs::read(&m3u).unwrap())
            .unwrap()
            .contains("01.flac")
    );
    let out = env.run(&[
        "playlist",
        "export",
        "Mine",
        "-o",
        flac.to_str().unwrap(),
        "--force",
    ]);
    assert!(!out.status.success());
    assert_eq!(&std::fs::read(flac).unwrap(), &original);
    // Nothing temporary is left beside the outputs.
    let left: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn one_writer_per_target() {
    let env = Env::new();
    album(&env, 1, 0.4);
    scan(&env);
    let stick = env.dir.path().join("stick");
    let to = env.dir.path().join("out");
    std::fs::create_dir_all(stick.join(".tapedeck")).unwrap();
    std::fs::create_dir_all(to.join(".tapedeck")).unwrap();
    for (dir, args) in [
        (&stick, vec!["export", "--to", stick.to_str().unwrap()]),
        (
            &to,
            vec!["convert", "--to", to.to_str().unwrap(), "--format", "wav"],
        ),
    ] {
        // Another writer holds the target's lock (flock and its sleep, in a group of their own).
        use std::os::unix::process::CommandExt;
        let mut holder = Command::new("flock")
            .arg(dir.join(".tapedeck"))
            .args(["sleep", "30"])
            .process_group(0)
            .spawn()
            .unwrap();
        // Whether the lock is free now (`flock -n` takes it and lets go at once).
        let free = || {
            Command::new("flock")
                .args(["-n"])
                .arg(dir.join(".tapedeck"))
                .arg("true")
                .status()
                .unwrap()
                .success()
        };
        let until = |want_free: bool| {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while free() != want_free {
                assert!(std::time::Instant::now() < deadline, "the lock never changed");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        until(false);
        let out = env.run(&args);
        // SAFETY: signalling the group we started.
        unsafe { libc::kill(-(holder.id() as i32), libc::SIGKILL) };
        holder.wait().unwrap();
        // The group's `sleep` may still be closing its copy of the lock.
        until(true);
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
        assert!(files(dir).is_empty());
        // Once it is free, the run goes ahead.
        env.ok(&args);
        assert_eq!(files(dir).len(), 1);
    }
}

#[test]
fn a_killed_convert_reruns_without_duplicates_and_long_titles_fit() {
    let env = Env::new();
    songs(&env, 12, 6.0, |_| "Record".into());
    let long = "x".repeat(300);
    let accented = "é".repeat(120);
    for (n, title) in [(13, &long), (14, &accented)] {
        let k = n.to_string();
        tone(
            &env.music().join(format!("{n}.flac")),
            500,
            0.3,
            &[
                ("title", title),
                ("artist", "Band"),
                ("album", "Record"),
                ("track", &k),
            ],
        );
    }
    scan(&env);
    let to = env.dir.path().join("out");
    let tt = to.to_str().unwrap();
    for kill_after in [1usize, 4, 8] {
        let mut child = env
            .cmd()
            .args(["convert", "-q", "-j", "1", "--to", tt, "--format", "flac"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while files(&to).len() < kill_after && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
    }
    let out = env.run(&["convert", "--to", tt, "--format", "flac", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = files(&to);
    assert_eq!(got.len(), 14, "{got:#?}");
    assert!(got.iter().all(|f| !f.contains("(2)")), "{got:#?}");
    for f in &got {
        let name = Path::new(f).file_name().unwrap().len();
        assert!(name <= 255, "{f}");
    }
    // Nothing partial, nothing staged.
    assert_eq!(
        std::fs::read_dir(to.join(".tapedeck/tmp")).unwrap().count(),
        0
    );
    // Every file decodes to its full length.
    for f in &got {
        let ok = Command::new("flac")
            .args(["-t", "-s"])
            .arg(to.join(f))
            .status()
            .unwrap()
            .success();
        assert!(ok, "{f} is damaged");
    }
}

/// Exports onto a real file system: every file once, a second run writes nothing (the image
/// is byte-identical), even with a source that keeps failing beside good ones.
fn export_on(fs: Fs) {
    let env = Env::new();
    album(&env, 4, 0.5);
    // A source that scans but cannot be decoded to its end, in the same album.
    let bad = env.music().join("05.flac");
    tone(
        &bad,
        700,
        3.0,
        &[
            ("title", "Song 5"),
            ("artist", "Band"),
            ("album", "Record"),
            ("track", "5"),
        ],
    );
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    scan(&env);
    let mut stick = Stick::new(env.dir.path(), 64, fs);
    let t = stick.mnt.to_str().unwrap().to_string();
    let out = env.run(&["export", "--to", &t, "--profile", "car"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("05.flac"), "{}", stderr(&out));
    assert_eq!(files(&stick.mnt).len(), 4, "{:?}", files(&stick.mnt));
    assert_eq!(
        std::fs::read_dir(stick.mnt.join(".tapedeck/tmp"))
            .unwrap()
            .count(),
        0
    );
    stick.unmount();
    let image = std::fs::read(&stick.img).unwrap();
    assert!(stick.mount());
    let out = env.run(&["export", "--to", &t]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    stick.unmount();
    assert!(
        std::fs::read(&stick.img).unwrap() == image,
        "a run with nothing new to write changed the device"
    );
    assert!(stick.mount());
    // Every exported file decodes whole, with its ID3v1 tag (written before the device saw it).
    for f in files(&stick.mnt) {
        let data = std::fs::read(stick.mnt.join(&f)).unwrap();
        assert_eq!(&data[data.len() - 128..data.len() - 125], b"TAG", "{f}");
        let ok = Command::new("ffmpeg")
            .args(["-v", "error", "-xerror", "-i"])
            .arg(stick.mnt.join(&f))
            .args(["-f", "null", "-"])
            .status()
            .unwrap()
            .success();
        assert!(ok, "{f}");
    }
}

#[test]
fn export_to_fat32_writes_once_and_a_failing_file_costs_no_rewrite() {
    export_on(Fs::Fat32);
}

#[test]
fn export_to_exfat_writes_once_and_a_failing_file_costs_no_rewrite() {
    export_on(Fs::Exfat);
}

#[test]
fn a_pulled_stick_stops_the_export_and_a_bare_mount_point_is_refused() {
    let env = Env::new();
    songs(&env, 16, 6.0, |i| format!("Record {i}"));
    scan(&env);
    let mut stick = Stick::new(env.dir.path(), 64, Fs::Fat32);
    let t = stick.mnt.to_str().unwrap().to_string();
    // A first small export (one track) makes this a known target.
    env.ok(&["export", "title:=Song 1", "--to", &t]);
    assert_eq!(files(&stick.mnt).len(), 1);
    let child = env
        .cmd()
        .args(["export", "-j", "1", "--to", &t])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Pulled once the second run has put two files on it.
    while files(&stick.mnt).len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    stick.pull();
    let out = child.wait_with_output().unwrap();
    let (so, se) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!out.status.success(), "{so}{se}");
    assert!(se.contains("gone or was remounted"), "{se}");
    assert!(!so.contains("safe to remove"), "{so}");
    // Nothing was written into the bare mount point on the system disk.
    assert!(files(&stick.mnt).is_empty(), "{:?}", files(&stick.mnt));
    assert!(!stick.mnt.join(".tapedeck").exists());
    // Exporting to the bare mount point is refused before anything is written.
    let out = env.run(&["export", "--to", &t]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is the stick mounted"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&stick.mnt).unwrap().count(), 0);
    // The stick comes back (once the detached driver has let go of it): the next run
    // completes it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stick.mount() {
        assert!(
            Instant::now() < deadline,
            "the stick cannot be mounted again"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    env.ok(&["export", "--to", &t]);
    assert_eq!(files(&stick.mnt).len(), 16);
}
