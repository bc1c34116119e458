//! `tapedeck export` end to end: the real binary exporting generated music, onto plain folders
//! and onto real FAT32 file systems mounted with fusefat (`tests/common/stick.rs`). `mdir -b` lists a FAT folder's entries in on-disk order,
//! which is the order head units play them in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod common;

use common::stick::{Fs, Stick};
use common::{Env, tone};

impl Env {
    fn scan(&self) {
        self.ok(&["scan", "-q", self.music().to_str().unwrap()]);
    }

    /// The plan as `--dry-run --json` prints it.
    fn plan(&self, to: &Path, extra: &[&str]) -> Value {
        let mut args = vec![
            "export",
            "--to",
            to.to_str().unwrap(),
            "--dry-run",
            "--json",
        ];
        args.extend(extra);
        serde_json::from_str(self.ok(&args).trim()).unwrap()
    }
}

/// Every music file under `root` (relative, `/`-separated) with its size, tapedeck's own
/// folder left out.
fn files(root: &Path) -> BTreeMap<String, u64> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".tapedeck")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect()
}

fn manifest(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join(".tapedeck/manifest.json")).unwrap()).unwrap()
}

/// What the manifest says is on the device, with sizes.
fn manifest_files(root: &Path) -> BTreeMap<String, u64> {
    manifest(root)["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["size"].as_u64().unwrap()))
        .collect()
}

fn counts(plan: &Value) -> BTreeMap<String, u64> {
    plan["counts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .filter(|(_, v)| *v > 0)
        .collect()
}

fn expect_counts(plan: &Value, expected: &[(&str, u64)]) {
    let want: BTreeMap<String, u64> = expected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(counts(plan), want, "{plan:#}");
}

/// A twelve-track album whose files sort differently from its track order, with tags that
/// FAT refuses as they are.
fn hostile_album(env: &Env) -> bool {
    let titles = [
        "What? Yes: \"no\"",
        "<Intro> | *",
        "AC/DC \\ back",
        "CON",
        "Ends with a dot.",
        "..",
        "  spaced   out  ",
        "tab\there",
        "Question?",
        "a:b",
        "pipe|pipe",
        "Last*",
    ];
    for (n, title) in titles.iter().enumerate() {
        // File names run backwards against the track numbers.
        let path = env.music().join(format!("x{:02}.flac", 40 - n));
        let track = (n + 1).to_string();
        if !tone(
            &path,
            300 + 20 * n as u32,
            0.5,
            &[
                ("title", title),
                ("artist", "Weird: Band?"),
                ("album_artist", "Weird: Band?"),
                ("album", "Album <1> \"Live\""),
                ("track", &track),
            ],
        ) {
            return false;
        }
    }
    true
}

#[test]
fn car_export_to_fat32_accepts_every_name_and_writes_albums_in_play_order() {
    let env = Env::new();
    let mut fat = Stick::new(env.dir.path(), 64, Fs::Fat32);
    assert!(hostile_album(&env));
    // An MP3 with ReplayGain: its gain goes into the frames, not a re-encode.
    assert!(tone(
        &env.music().join("loud.mp3"),
        880,
        1.0,
        &[
            ("title", "Loud"),
            ("artist", "Gain Test"),
            ("album", "Gains"),
            ("track", "1"),
            ("REPLAYGAIN_TRACK_GAIN", "-6.00 dB"),
            ("REPLAYGAIN_TRACK_PEAK", "0.125"),
            ("REPLAYGAIN_ALBUM_GAIN", "-6.00 dB"),
            ("REPLAYGAIN_ALBUM_PEAK", "0.125"),
        ],
    ));
    env.scan();
    let to = fat.mnt.clone();
    let plan = env.plan(&to, &["--profile", "car"]);
    expect_counts(&plan, &[("add", 13)]);
    let how: Vec<&str> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["how"].as_str().unwrap())
        .collect();
    assert!(
        how.contains(&"copy, gain -6.0 dB in the frames, tags rewritten"),
        "{how:?}"
    );
    let out = env.ok(&["export", "--to", to.to_str().unwrap(), "--profile", "car"]);
    assert!(
        out.contains("13 added") && out.contains("safe to remove"),
        "{out}"
    );
    let on_stick = files(&to);
    let album_dir = "Weird_ Band_/Album _1_ _Live_";
    let names: Vec<String> = on_stick
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("{album_dir}/")).map(str::to_string))
        .collect();
    assert_eq!(names.len(), 12, "{on_stick:#?}");
    for n in &names {
        assert!(
            !n.contains(['?', ':', '*', '|', '"', '<', '>', '\\']),
            "{n}"
        );
    }
    // The car profile writes ID3v2.3 and ID3v1.
    let first = std::fs::read(to.join(album_dir).join(&names[0])).unwrap();
    assert_eq!(&first[..4], b"ID3\x03");
    assert_eq!(&first[first.len() - 128..first.len() - 125], b"TAG");
    fat.unmount();
    let entries = fat.entries(album_dir);
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "directory entries are in play order");
    assert!(
        entries[0].starts_with("01 ") && entries[11].starts_with("12 "),
        "{entries:?}"
    );
    assert_eq!(entries[3], "04 CON.mp3");
    assert_eq!(
        entries[5], "06.mp3",
        "a title of `..` leaves only the number"
    );
}

#[test]
fn car_strict_spells_unicode_names_in_ascii_on_fat32() {
    let env = Env::new();
    let mut fat = Stick::new(env.dir.path(), 64, Fs::Fat32);
    let tracks = [
        ("Jóga", "Björk", "Homogenic"),
        ("Hoppípolla", "Sigur Rós", "Takk..."),
        ("日本語のタイトル", "Beyoncé & Jay-Z", "Ελληνικά 🎵"),
        (
            "Straße nach Zürich — ein sehr langer Titel",
            "Motörhead",
            "Ænima",
        ),
    ];
    for (n, (title, artist, album)) in tracks.iter().enumerate() {
        assert!(tone(
            &env.music().join(format!("{n}.flac")),
            400 + 50 * n as u32,
            0.5,
            &[
                ("title", title),
                ("artist", artist),
                ("album", album),
                ("track", "1")
            ],
        ));
    }
    env.scan();
    let to = fat.mnt.clone();
    env.ok(&[
        "export",
        "--to",
        to.to_str().unwrap(),
        "--profile",
        "car-strict",
    ]);
    let on_stick = files(&to);
    assert_eq!(on_stick.len(), 4, "{on_stick:#?}");
    for path in on_stick.keys() {
        for name in path.split('/') {
            assert!(name.len() <= 31, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
                "{name}"
            );
        }
        assert!(path.matches('/').count() <= 2, "{path}");
    }
    assert!(
        on_stick.contains_key("Bjork/Homogenic/01_Joga.mp3"),
        "{on_stick:#?}"
    );
    assert!(
        on_stick.contains_key("Sigur_Ros/Takk/01_Hoppipolla.mp3"),
        "{on_stick:#?}"
    );
    // Other scripts are spelled in Latin letters rather than lost.
    assert!(
        on_stick
            .keys()
            .any(|p| p.starts_with("Beyonce_Jay_Z/Ellenika/01_Ri_Ben_Yu_")),
        "{on_stick:#?}"
    );
    fat.unmount();
    assert_eq!(fat.entries("Bjork/Homogenic"), ["01_Joga.mp3"]);
}

/// Three FLAC tracks by "Band" on "Record".
fn small_album(env: &Env, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let p = env.music().join(format!("{i:02}.flac"));
            let t = format!("Song {i}");
            let track = i.to_string();
            assert!(tone(
                &p,
                200 + 30 * i as u32,
                0.5,
                &[
                    ("title", &t),
                    ("artist", "Band"),
                    ("album", "Record"),
                    ("track", &track),
                ],
            ));
            p
        })
        .collect()
}

#[test]
fn a_second_sync_writes_nothing_and_each_change_plans_exactly_what_it_should() {
    let env = Env::new();
    let mut fat = Stick::new(env.dir.path(), 64, Fs::Fat32);
    let sources = small_album(&env, 4);
    env.scan();
    let to = fat.mnt.clone();
    let t = to.to_str().unwrap();
    env.ok(&["export", "--to", t, "--profile", "car"]);
    let manifest_bytes = std::fs::read(to.join(".tapedeck/manifest.json")).unwrap();
    fat.unmount();
    let before = fat.listing();
    assert!(fat.mount());

    // Nothing changed: the plan is empty and the device is not written.
    let plan = env.plan(&to, &[]);
    expect_counts(&plan, &[("keep", 4)]);
    assert_eq!(plan["changes"], 0);
    let out = env.ok(&["export", "--to", t]);
    assert!(out.contains("0 added, 4 unchanged"), "{out}");
    assert_eq!(
        std::fs::read(to.join(".tapedeck/manifest.json")).unwrap(),
        manifest_bytes
    );
    fat.unmount();
    assert_eq!(fat.listing(), before, "entries, sizes and times unchanged");
    assert!(fat.mount());

    // A changed tag: retag only, in place.
    tapedeck::tags::write(
        &sources[3],
        &tapedeck::tags::TagEdit {
            genre: Some("Jazz".into()),
            ..Default::default()
        },
    )
    .unwrap();
    env.scan();
    let plan = env.plan(&to, &[]);
    expect_counts(&plan, &[("keep", 3), ("retag", 1)]);
    assert_eq!(plan["files"][0]["path"], "Band/Record/04 Song 4.mp3");
    env.ok(&["export", "--to", t]);
    expect_counts(&env.plan(&to, &[]), &[("keep", 4)]);

    // A removed track: one deletion, and the gap it leaves is remembered.
    std::fs::remove_file(&sources[1]).unwrap();
    env.scan();
    let plan = env.plan(&to, &[]);
    expect_counts(&plan, &[("keep", 3), ("delete", 1)]);
    assert_eq!(plan["files"][0]["path"], "Band/Record/02 Song 2.mp3");
    env.ok(&["export", "--to", t]);
    assert!(!to.join("Band/Record/02 Song 2.mp3").exists());

    // A track added after a gap rewrites the folder in order.
    tone(
        &env.music().join("05.flac"),
        990,
        0.5,
        &[
            ("title", "Song 5"),
            ("artist", "Band"),
            ("album", "Record"),
            ("track", "5"),
        ],
    );
    env.scan();
    let plan = env.plan(&to, &[]);
    expect_counts(&plan, &[("keep", 3), ("add", 1), ("folders_rewritten", 1)]);
    env.ok(&["export", "--to", t]);

    // A changed profile: every file made again.
    let plan = env.plan(&to, &["--profile", "stick"]);
    // Every file is replaced, so none stays to be reordered.
    expect_counts(&plan, &[("reencode", 4)]);
    env.ok(&["export", "--to", t, "--profile", "stick"]);
    expect_counts(&env.plan(&to, &[]), &[("keep", 4)]);
    assert_eq!(files(&to).len(), 4, "the MP3s were replaced by the FLACs");
    fat.unmount();
    assert_eq!(
        fat.entries("Band/Record"),
        [
            "01 Song 1.flac",
            "03 Song 3.flac",
            "04 Song 4.flac",
            "05 Song 5.flac"
        ]
    );
}

#[test]
fn a_full_stick_stops_cleanly_and_the_next_run_repairs_it() {
    let env = Env::new();
    let mut fat = Stick::new(env.dir.path(), 34, Fs::Fat32);
    // Twelve 20-second WAV files (3.5 MB each) do not fit in 34 MB.
    for i in 1..=12 {
        let t = format!("Tone {i}");
        let n = i.to_string();
        assert!(tone(
            &env.music().join(format!("{i:02}.wav")),
            200 + 20 * i,
            20.0,
            &[
                ("title", &t),
                ("artist", "Filler"),
                ("album", "Big"),
                ("track", &n)
            ],
        ));
    }
    env.scan();
    let to = fat.mnt.clone();
    let t = to.to_str().unwrap();
    let out = env.run(&["export", "--to", t, "--profile", "stick", "-j", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is full") && err.contains("nothing half-written"),
        "{err}"
    );
    // What is visible is complete and recorded; nothing is left in the staging folder.
    let visible = files(&to);
    assert!(!visible.is_empty() && visible.len() < 12, "{visible:#?}");
    assert_eq!(visible, manifest_files(&to));
    for (path, size) in &visible {
        // "Filler/Big/07 Tone 7.wav" is a byte copy of music/07.wav.
        let n = &path["Filler/Big/".len()..][..2];
        let source = env.music().join(format!("{n}.wav"));
        assert_eq!(*size, source.metadata().unwrap().len(), "{path}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(to.join(".tapedeck/tmp"))
        .unwrap()
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A smaller selection fits: the rest is deleted, what was missing is added.
    let out = env.ok(&["export", "track:..6", "--to", t]);
    assert!(out.contains("safe to remove"), "{out}");
    let visible = files(&to);
    assert_eq!(visible.len(), 6, "{visible:#?}");
    assert_eq!(visible, manifest_files(&to));
    expect_counts(&env.plan(&to, &["track:..6"]), &[("keep", 6)]);
    fat.unmount();
    let entries = fat.entries("Filler/Big");
    assert_eq!(entries.len(), 6);
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "play order after the repair");
}

#[test]
fn a_killed_export_leaves_nothing_partial_and_the_next_run_completes_it() {
    let env = Env::new();
    for i in 1..=10 {
        let t = format!("Song {i}");
        let n = i.to_string();
        assert!(tone(
            &env.music().join(format!("{i:02}.flac")),
            200 + 25 * i,
            8.0,
            &[
                ("title", &t),
                ("artist", "Band"),
                ("album", "Long"),
                ("track", &n)
            ],
        ));
    }
    env.scan();
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let t = stick.to_str().unwrap();
    for delay_ms in [400u64, 2500] {
        let mut child = env
            .cmd()
            .args(["export", "--to", t, "--profile", "car", "-j", "1", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Nothing visible is partial: every visible file is a complete MP3 that the journal or
        // the manifest records, which the next plan treats as ours.
        for (path, _) in files(&stick) {
            assert!(!path.contains(".tapedeck-part"), "{path}");
            assert!(path.ends_with(".mp3"), "{path}");
        }
        let plan = env.plan(&stick, &[]);
        assert_eq!(plan["counts"]["clashes"], 0, "{plan:#}");
    }
    let out = env.ok(&["export", "--to", t]);
    assert!(out.contains("safe to remove"), "{out}");
    let visible = files(&stick);
    assert_eq!(visible.len(), 10, "{visible:#?}");
    assert_eq!(visible, manifest_files(&stick));
    expect_counts(&env.plan(&stick, &[]), &[("keep", 10)]);
    assert_eq!(
        std::fs::read_dir(stick.join(".tapedeck/tmp"))
            .unwrap()
            .count(),
        0
    );
    // The files are whole: each decodes to its full length.
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(stick.join("Band/Long/10 Song 10.mp3"))
        .output()
        .unwrap();
    let secs: f64 = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!((secs - 8.0).abs() < 0.1, "{secs}");
}

#[test]
fn files_tapedeck_did_not_write_are_left_alone() {
    let env = Env::new();
    small_album(&env, 3);
    env.scan();
    let stick = env.dir.path().join("stick");
    let theirs = stick.join("Band/Record/01 Song 1.mp3");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, b"the user's own file").unwrap();
    std::fs::write(stick.join("notes.txt"), b"keep me").unwrap();
    let t = stick.to_str().unwrap();
    let out = env.run(&["export", "--to", t, "--profile", "car"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not written by tapedeck"), "{err}");
    assert!(stick.join("Band/Record/01 Song 1 (2).mp3").exists());
    // Deselecting most tracks is a large deletion: refused (without a terminal) unless asked.
    let before = files(&stick);
    let out = env.run(&["export", "title:Song 2", "--to", t]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("would delete 2 of the 3 files") && err.contains("--delete"),
        "{err}"
    );
    assert_eq!(files(&stick), before);
    // Deselecting tracks removes only what tapedeck wrote.
    let out = env.ok(&["export", "title:Song 2", "--to", t, "--delete"]);
    assert!(out.contains("2 deleted"), "{out}");
    assert_eq!(std::fs::read(&theirs).unwrap(), b"the user's own file");
    assert_eq!(std::fs::read(stick.join("notes.txt")).unwrap(), b"keep me");
    let left: Vec<String> = files(&stick).into_keys().collect();
    assert_eq!(
        left,
        [
            "Band/Record/01 Song 1.mp3",
            "Band/Record/02 Song 2.mp3",
            "notes.txt"
        ]
    );
}

#[test]
fn playlists_point_at_the_exported_names_and_split_at_the_profile_limit() {
    let env = Env::new();
    small_album(&env, 5);
    env.scan();
    std::fs::write(
        env.dir.path().join("profiles.toml"),
        "[profiles.tiny]\nbase = \"car-strict\"\nplaylist_entries = 2\nplaylist_separator = \"\\\\\"\n",
    )
    .unwrap();
    let profiles = env.ok(&["profiles"]);
    assert!(
        profiles.contains("tiny: ") && profiles.contains("at most 2 entries"),
        "{profiles}"
    );
    env.ok(&["playlist", "new", "Road Trip"]);
    env.ok(&["playlist", "add", "Road Trip", "title:Song 5"]);
    env.ok(&["playlist", "add", "Road Trip", "title:Song 1"]);
    env.ok(&["playlist", "add", "Road Trip", "title:Song 3"]);
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let t = stick.to_str().unwrap();
    env.ok(&["export", "-p", "Road Trip", "--to", t, "--profile", "tiny"]);
    let one = std::fs::read_to_string(stick.join("Road_Trip_1.m3u")).unwrap();
    let two = std::fs::read_to_string(stick.join("Road_Trip_2.m3u")).unwrap();
    assert_eq!(
        one,
        "#EXTM3U\r\n#EXTINF:1,Band - Song 5\r\nBand\\Record\\05_Song_5.mp3\r\n\
         #EXTINF:1,Band - Song 1\r\nBand\\Record\\01_Song_1.mp3\r\n"
    );
    assert!(two.contains("Band\\Record\\03_Song_3.mp3"), "{two}");
    for line in one
        .lines()
        .chain(two.lines())
        .filter(|l| !l.starts_with('#'))
    {
        assert!(stick.join(line.replace('\\', "/")).is_file(), "{line}");
    }
    // Only the playlist's tracks were exported; the history remembers the sync.
    assert_eq!(files(&stick).len(), 5);
    let history = env.ok(&["exports", "--json"]);
    let h: Value = serde_json::from_str(history.lines().next().unwrap()).unwrap();
    assert_eq!(h["profile"], "tiny");
    assert_eq!(h["tracks"], 3);
    assert_eq!(h["result"], "ok");
    // Without -p the playlist files go too.
    let plan = env.plan(&stick, &["title:Song"]);
    // Songs 2 and 4 go between the others: the folder is rewritten in order.
    expect_counts(
        &plan,
        &[
            ("keep", 3),
            ("add", 2),
            ("playlist_deletes", 2),
            ("folders_rewritten", 1),
        ],
    );
}

#[test]
fn a_broken_source_costs_only_that_file() {
    let env = Env::new();
    small_album(&env, 2);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/broken");
    std::fs::copy(
        fixtures.join("truncated.flac"),
        env.music().join("truncated.flac"),
    )
    .unwrap();
    env.scan();
    let stick = env.dir.path().join("stick");
    std::fs::create_dir_all(&stick).unwrap();
    let out = env.run(&[
        "export",
        "--to",
        stick.to_str().unwrap(),
        "--profile",
        "car",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truncated.flac") && err.contains("ends early"),
        "{err}"
    );
    let left: Vec<String> = files(&stick).into_keys().collect();
    assert_eq!(
        left,
        ["Band/Record/01 Song 1.mp3", "Band/Record/02 Song 2.mp3"]
    );
    assert_eq!(files(&stick), manifest_files(&stick));
    let history = env.ok(&["exports"]);
    assert!(history.contains("1 failed"), "{history}");
}

#[test]
fn bad_usage_exits_2() {
    let env = Env::new();
    let out = env.run(&["export", "--to", "/nonexistent/stick"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the stick mounted"));
    let dir = env.dir.path().to_str().unwrap();
    let out = env.run(&["export", "--to", dir, "--profile", "boat"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no profile named `boat`"));
    let out = env.run(&["export", "--to", dir, "-p", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
