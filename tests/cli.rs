//! End-to-end tests: the real `tapedeck` binary against copies of the fixtures in temporary
//! folders, each with its own throwaway library.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;

use common::{Env, FIXTURES};

impl Env {
    fn scan(&self, extra: &[&str]) -> Value {
        let mut args = vec!["scan", "--json"];
        args.extend(extra);
        let out = self.ok(&args);
        serde_json::from_str(out.trim()).unwrap()
    }

    fn tracks(&self) -> Vec<Value> {
        self.ok(&["ls", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Tracks keyed by path relative to the music folder.
    fn by_name(&self) -> BTreeMap<String, Value> {
        let music = self.music();
        self.tracks()
            .into_iter()
            .map(|t| {
                let p = PathBuf::from(t["path"].as_str().unwrap());
                let rel = p
                    .strip_prefix(&music)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                (rel, t)
            })
            .collect()
    }

    fn problems(&self) -> Vec<Value> {
        self.ok(&["problems", "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn copy_fixture(env: &Env, rel: &str, to: &str) -> PathBuf {
    let target = env.music().join(to);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(Path::new(FIXTURES).join(rel), &target).unwrap();
    target
}

fn summary_counts(s: &Value) -> [u64; 6] {
    [
        "added",
        "updated",
        "moved",
        "removed",
        "unchanged",
        "problems",
    ]
    .map(|k| s[k].as_u64().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Tags and properties, one row per fixture.

struct Expect {
    file: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

/// Expected values as JSON text, so numbers, strings, nulls and booleans are checked exactly.
const EXPECTED: &[Expect] = &[
    Expect {
        file: "mp3/id3v23.mp3",
        fields: &[
            ("title", r#""ID3v2.3 Title""#),
            ("artist", r#""Alpha Artist""#),
            ("album", r#""Alpha Album""#),
            ("albumartist", r#""Alpha Artist""#),
            ("track", "1"),
            ("tracktotal", "3"),
            ("disc", "1"),
            ("disctotal", "1"),
            ("year", "2001"),
            ("genre", r#""Rock""#),
            ("composer", r#""Comp One""#),
            ("format", r#""mp3""#),
            ("sample_rate", "44100"),
            ("channels", "2"),
            ("bit_depth", "null"),
            ("duration", "1.0"),
            ("compilation", "false"),
            ("has_cover", "false"),
        ],
    },
    Expect {
        file: "mp3/id3v24.mp3",
        fields: &[
            ("title", r#""ID3v2.4 Title""#),
            ("artists", r#"["Alpha Artist","Beta Guest"]"#),
            ("artist", r#""Alpha Artist; Beta Guest""#),
            ("track", "2"),
            ("tracktotal", "3"),
            ("date", r#""2001-05-04""#),
            ("year", "2001"),
            ("compilation", "true"),
            ("rg_track_gain", "-6.5"),
            ("rg_track_peak", "0.988831"),
            ("rg_album_gain", "-7.25"),
            ("rg_album_peak", "0.999969"),
            ("mb_albumid", r#""8e2d8f9c-1a3b-4c5d-9e6f-0a1b2c3d4e5f""#),
            ("mb_trackid", r#""1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9""#),
            ("duration", "1.0"),
        ],
    },
    Expect {
        file: "mp3/id3v1-only.mp3",
        fields: &[
            ("title", r#""V1 Title""#),
            ("artist", r#""V1 Artist""#),
            ("album", r#""V1 Album""#),
            ("year", "1999"),
            ("track", "3"),
            ("genre", r#""Rock""#),
        ],
    },
    Expect {
        file: "aac/tagged.m4a",
        fields: &[
            ("title", r#""M4A Title""#),
            ("artist", r#""Gamma Artist""#),
            ("album", r#""Gamma Comp""#),
            ("albumartist", r#""Various Artists""#),
            ("track", "4"),
            ("tracktotal", "10"),
            ("disc", "1"),
            ("disctotal", "2"),
            ("year", "2015"),
            ("genre", r#""Jazz""#),
            ("composer", r#""Comp Two""#),
            ("compilation", "true"),
            ("has_cover", "true"),
            ("format", r#""aac""#),
            ("codec", r#""aac""#),
            ("container", r#""mp4""#),
        ],
    },
    Expect {
        file: "aac/adts.aac",
        fields: &[
            ("title", r#""ADTS Title""#),
            ("artist", r#""Delta Artist""#),
            ("album", r#""Delta Album""#),
            ("track", "1"),
            ("format", r#""aac""#),
            ("container", r#""adts""#),
        ],
    },
    Expect {
        file: "alac/alac16.m4a",
        fields: &[
            ("title", r#""ALAC 16""#),
            ("format", r#""alac""#),
            ("bit_depth", "16"),
            ("sample_rate", "44100"),
            ("track", "1"),
            ("tracktotal", "2"),
            ("year", "2020"),
        ],
    },
    Expect {
        file: "alac/alac24.m4a",
        fields: &[
            ("title", r#""ALAC 24""#),
            ("format", r#""alac""#),
            ("bit_depth", "24"),
            ("sample_rate", "48000"),
        ],
    },
    Expect {
        file: "wav/list-info.wav",
        fields: &[
            ("title", r#""WAV Info Title""#),
            ("artist", r#""Zeta Artist""#),
            ("album", r#""Zeta Album""#),
            ("track", "3"),
            ("tracktotal", "12"),
            ("year", "2010"),
            ("genre", r#""Ambient""#),
            ("format", r#""wav""#),
            ("bit_depth", "16"),
        ],
    },
    Expect {
        file: "wav/id3-chunk.wav",
        fields: &[
            ("title", r#""WAV ID3 Title""#),
            ("track", "4"),
            ("tracktotal", "12"),
            ("year", "2010"),
            ("bit_depth", "24"),
        ],
    },
    Expect {
        file: "flac/picture.flac",
        fields: &[
            ("title", r#""FLAC Picture""#),
            ("artists", r#"["Eta Artist","Theta Artist"]"#),
            ("albumartist", r#""Eta Artist""#),
            ("track", "1"),
            ("tracktotal", "2"),
            ("disc", "1"),
            ("disctotal", "1"),
            ("year", "2018"),
            ("genre", r#""Electronic""#),
            ("has_cover", "true"),
            ("rg_track_gain", "-3.2"),
            ("rg_track_peak", "0.75"),
            ("rg_album_gain", "-4.1"),
            ("rg_album_peak", "0.8"),
            ("mb_trackid", r#""aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee""#),
            ("mb_albumid", r#""11111111-2222-4333-8444-555555555555""#),
            ("format", r#""flac""#),
        ],
    },
    Expect {
        file: "aiff/id3.aiff",
        fields: &[
            ("title", r#""AIFF ID3 Title""#),
            ("artist", r#""Iota Artist""#),
            ("track", "1"),
            ("year", "1995"),
            ("genre", r#""Classical""#),
            ("format", r#""aiff""#),
        ],
    },
    Expect {
        file: "aiff/name-auth.aif",
        fields: &[
            ("title", r#""AIFF Name Title""#),
            ("artist", r#""Kappa Artist""#),
            ("album", "null"),
        ],
    },
    Expect {
        file: "aiff/compressed.aifc",
        fields: &[
            ("title", r#""compressed""#),
            ("format", r#""aiff""#),
            ("codec", r#""ulaw""#),
        ],
    },
    Expect {
        file: "untagged/no-tags.flac",
        fields: &[
            ("title", r#""no-tags""#),
            ("artist", "null"),
            ("artists", "[]"),
            ("album", "null"),
            ("track", "null"),
            ("year", "null"),
        ],
    },
    Expect {
        file: "Ünïcødé ♫/日本語 — タイトル.flac",
        fields: &[
            ("title", r#""日本語のタイトル ♫""#),
            ("artist", r#""Beyoncé & Björk""#),
            ("album", r#""Ελληνικά 🎵""#),
            ("genre", r#""Música Popular Brasileira""#),
        ],
    },
];

#[test]
fn every_fixture_reads_as_expected() {
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("library"), &env.music());
    let summary = env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(summary["added"], EXPECTED.len() as u64);
    assert_eq!(summary["problems"], 0);
    let tracks = env.by_name();
    let mut failures = Vec::new();
    for e in EXPECTED {
        let Some(t) = tracks.get(e.file) else {
            failures.push(format!("{}: not indexed", e.file));
            continue;
        };
        for (key, want) in e.fields {
            let want: Value = serde_json::from_str(want).unwrap();
            if t[*key] != want {
                failures.push(format!(
                    "{}: {key} is {} but should be {want}",
                    e.file, t[*key]
                ));
            }
        }
        for key in [
            "id",
            "path",
            "title",
            "artist",
            "album",
            "albumartist",
            "track",
            "disc",
            "year",
            "genre",
            "duration",
            "format",
            "sample_rate",
            "bit_depth",
            "channels",
            "bitrate",
            "size",
        ] {
            if t.get(key).is_none() {
                failures.push(format!("{}: key {key} missing from ls --json", e.file));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// ffprobe, when installed, is an independent oracle for the audio properties.
#[test]
fn audio_properties_agree_with_ffprobe() {
    if Command::new("ffprobe").arg("-version").output().is_err() {
        eprintln!("ffprobe not installed; `make test` installs it");
        return;
    }
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("library"), &env.music());
    env.scan(&[env.music().to_str().unwrap()]);
    for t in env.tracks() {
        let path = t["path"].as_str().unwrap();
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "a:0",
                "-show_entries",
                "stream=sample_rate,channels",
                "-of",
                "json",
            ])
            .arg(path)
            .output()
            .unwrap();
        let probe: Value = serde_json::from_slice(&out.stdout).unwrap();
        let stream = &probe["streams"][0];
        let rate: u64 = stream["sample_rate"].as_str().unwrap().parse().unwrap();
        assert_eq!(t["sample_rate"].as_u64(), Some(rate), "{path}");
        assert_eq!(t["channels"], stream["channels"], "{path}");
        let duration = t["duration"].as_f64().unwrap();
        // Every fixture holds one second of audio; AAC is the one format whose priming the
        // scanner does not subtract yet, and ADTS lengths are estimates.
        let tolerance = if t["format"] == "aac" { 0.06 } else { 0.001 };
        assert!(
            (duration - 1.0).abs() <= tolerance,
            "{path}: duration {duration}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Broken and hostile input.

#[test]
fn broken_files_become_problems_and_never_stop_the_scan() {
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("broken"), &env.music());
    copy_fixture(&env, "library/flac/picture.flac", "good.flac");
    let out = env.run(&["scan", env.music().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: BTreeMap<String, String> = env
        .problems()
        .into_iter()
        .map(|p| {
            let name = Path::new(p["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, p["reason"].as_str().unwrap().to_string())
        })
        .collect();
    for name in ["empty.mp3", "random.m4a", "text.mp3", "bad-header.wav"] {
        let reason = problems
            .get(name)
            .unwrap_or_else(|| panic!("{name} should be a problem: {problems:?}"));
        assert!(!reason.is_empty());
        // The per-file message names the file and says what is wrong.
        assert!(
            stderr.contains(name) && stderr.contains(reason.as_str()),
            "stderr lacks {name}: {stderr}"
        );
    }
    assert!(problems["empty.mp3"].contains("empty"));
    // Cut-off copies are indexed (what is there plays) and reported.
    for name in ["truncated.flac", "truncated.mp3"] {
        assert!(
            problems.get(name).is_some_and(|r| r.contains("truncated")),
            "{name}: {problems:?}"
        );
    }
    let tracks = env.by_name();
    assert!(tracks.contains_key("good.flac"));
    assert!(tracks.contains_key("truncated.flac") && tracks.contains_key("truncated.mp3"));
    assert!(!problems.contains_key("good.flac"));
    // FLAC data behind an .mp3 name is read by its content.
    assert_eq!(tracks["flac-as.mp3"]["format"], "flac");
    assert_eq!(tracks["flac-as.mp3"]["title"], "Misnamed FLAC");
    // The summary line counts them.
    let summary = env.scan(&[]);
    assert_eq!(summary["problems"].as_u64(), Some(problems.len() as u64));
}

#[test]
fn cut_off_copies_are_reported_until_fixed() {
    let env = Env::new();
    let mut cut = Vec::new();
    for (fixture, name) in [
        ("library/wav/list-info.wav", "a.wav"),
        ("library/aiff/id3.aiff", "b.aiff"),
        ("library/alac/alac24.m4a", "c.m4a"),
    ] {
        let path = copy_fixture(&env, fixture, name);
        let data = std::fs::read(&path).unwrap();
        // AIFF keeps its ID3 chunk after the audio, so cut deep enough to reach the samples.
        std::fs::write(&path, &data[..data.len() / 3]).unwrap();
        cut.push((path, fixture));
    }
    env.scan(&[env.music().to_str().unwrap()]);
    let problems = env.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p["reason"].as_str().unwrap().contains("truncated"))
    );
    // An unchanged file keeps its warning across scans; a repaired one loses it.
    assert_eq!(env.scan(&[])["problems"], 3);
    assert_eq!(env.problems().len(), 3);
    for (path, fixture) in &cut {
        std::fs::copy(Path::new(FIXTURES).join(fixture), path).unwrap();
    }
    let s = env.scan(&[]);
    assert_eq!(
        s["added"], 3,
        "unreadable before, so they are new tracks now"
    );
    assert!(env.problems().is_empty());
}

#[test]
fn a_fixed_file_leaves_the_problem_list() {
    let env = Env::new();
    let path = copy_fixture(&env, "broken/text.mp3", "song.mp3");
    env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(env.problems().len(), 1);
    std::fs::copy(Path::new(FIXTURES).join("library/mp3/id3v23.mp3"), &path).unwrap();
    let s = env.scan(&[]);
    assert_eq!(s["added"], 1);
    assert!(env.problems().is_empty());
    std::fs::remove_file(&path).unwrap();
    copy_fixture(&env, "broken/empty.mp3", "gone.mp3");
    env.scan(&[]);
    std::fs::remove_file(env.music().join("gone.mp3")).unwrap();
    env.scan(&[]);
    assert!(
        env.problems().is_empty(),
        "a deleted broken file leaves the list"
    );
}

#[test]
fn fifos_symlink_loops_and_odd_names_do_not_hang_or_crash() {
    let env = Env::new();
    let music = env.music();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "a/song.mp3");
    let fifo = music.join("a/pipe.mp3");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink(&music, music.join("a/loop")).unwrap();
    std::os::unix::fs::symlink(music.join("nowhere.flac"), music.join("a/dangling.flac")).unwrap();
    // A name that is not valid UTF-8.
    let odd = music.join(OsStr::from_bytes(b"caf\xe9.flac"));
    std::fs::copy(Path::new(FIXTURES).join("library/flac/picture.flac"), &odd).unwrap();

    let mut child = env
        .cmd()
        .args(["scan", "--json"])
        .arg(&music)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("scan hung on a FIFO or a symlink loop");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let problems: Vec<String> = env
        .problems()
        .iter()
        .map(|p| p["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(problems.iter().any(|r| r.contains("FIFO")), "{problems:?}");
    assert!(problems.iter().any(|r| r.contains("loop")), "{problems:?}");
    assert!(
        problems.iter().any(|r| r.contains("broken symbolic link")),
        "{problems:?}"
    );
    // The odd name round-trips byte-exact through `ls --paths`.
    let paths = env.run(&["ls", "--paths"]).stdout;
    let lines: Vec<&[u8]> = paths
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        lines.contains(&odd.as_os_str().as_bytes()),
        "non-UTF-8 path lost"
    );
    assert_eq!(lines.len(), 2);
    // And a rescan recognises it as unchanged rather than new.
    let s = env.scan(&[]);
    assert_eq!(summary_counts(&s)[..5], [0, 0, 0, 0, 2]);
}

/// Writes a FLAC whose metadata carries a picture block of `picture_len` bytes.
fn flac_with_picture(from: &Path, to: &Path, picture_len: usize) {
    let data = std::fs::read(from).unwrap();
    assert_eq!(&data[..4], b"fLaC");
    let mut out = data[..4].to_vec();
    let mut at = 4;
    loop {
        let header = data[at];
        let len = u32::from_be_bytes([0, data[at + 1], data[at + 2], data[at + 3]]) as usize;
        let mut block = data[at..at + 4 + len].to_vec();
        block[0] &= 0x7f; // not last any more
        out.extend(block);
        at += 4 + len;
        if header & 0x80 != 0 {
            break;
        }
    }
    let mut pic = Vec::new();
    pic.extend(3u32.to_be_bytes());
    pic.extend(10u32.to_be_bytes());
    pic.extend(b"image/jpeg");
    pic.extend(0u32.to_be_bytes());
    pic.extend([0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 24, 0, 0, 0, 0]);
    pic.extend((picture_len as u32).to_be_bytes());
    let mut jpeg = vec![0u8; picture_len];
    jpeg[..3].copy_from_slice(&[0xff, 0xd8, 0xff]);
    pic.extend(jpeg);
    out.push(0x80 | 6);
    out.extend(&(pic.len() as u32).to_be_bytes()[1..]);
    out.extend(pic);
    out.extend(&data[at..]);
    std::fs::write(to, out).unwrap();
}

#[test]
fn huge_covers_and_absurd_tag_sizes() {
    let env = Env::new();
    let music = env.music();
    flac_with_picture(
        &Path::new(FIXTURES).join("library/untagged/no-tags.flac"),
        &music.join("big-cover.flac"),
        10 << 20,
    );
    // An ID3v2 header that claims 256 MB in a 40 KB file.
    let mp3 = std::fs::read(Path::new(FIXTURES).join("library/mp3/id3v1-only.mp3")).unwrap();
    let mut absurd = b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f".to_vec();
    absurd.extend(&mp3);
    std::fs::write(music.join("absurd.mp3"), absurd).unwrap();
    // An MP3 whose ID3v2.3 tag carries a 10 MB picture, then a text frame.
    let mut apic = vec![0u8];
    apic.extend(b"image/jpeg\0\x03\0");
    apic.extend(vec![0xd8u8; 10 << 20]);
    let mut frames = b"APIC".to_vec();
    frames.extend((apic.len() as u32).to_be_bytes());
    frames.extend([0, 0]);
    frames.extend(&apic);
    frames.extend(b"TIT2\0\0\0\x06\0\0\0Cover");
    let n = frames.len() as u32;
    let mut tagged = b"ID3\x03\x00\x00".to_vec();
    tagged.extend([
        (n >> 21) as u8 & 0x7f,
        (n >> 14) as u8 & 0x7f,
        (n >> 7) as u8 & 0x7f,
        n as u8 & 0x7f,
    ]);
    tagged.extend(frames);
    tagged.extend(&mp3);
    std::fs::write(music.join("big-cover.mp3"), tagged).unwrap();
    let s = env.scan(&[music.to_str().unwrap()]);
    assert_eq!(
        s["added"].as_u64().unwrap() + s["problems"].as_u64().unwrap(),
        3
    );
    let tracks = env.by_name();
    assert_eq!(tracks["big-cover.flac"]["has_cover"], true);
    assert_eq!(tracks["big-cover.mp3"]["has_cover"], true);
    assert_eq!(tracks["big-cover.mp3"]["title"], "Cover");
}

// ---------------------------------------------------------------------------------------------
// Incremental scans and identity.

#[test]
fn unchanged_files_are_not_opened() {
    let env = Env::new();
    let path = copy_fixture(&env, "library/mp3/id3v23.mp3", "a.mp3");
    env.scan(&[env.music().to_str().unwrap()]);
    // Same size and mtime, different content: only a scanner that opens the file would notice.
    let meta = std::fs::metadata(&path).unwrap();
    std::fs::write(&path, vec![0u8; meta.len() as usize]).unwrap();
    let mtime = filetime_of(&meta);
    set_mtime(&path, mtime);
    let s = env.scan(&[]);
    assert_eq!(summary_counts(&s), [0, 0, 0, 0, 1, 0]);
    assert_eq!(env.tracks()[0]["title"], "ID3v2.3 Title");
}

fn filetime_of(meta: &std::fs::Metadata) -> std::time::SystemTime {
    meta.modified().unwrap()
}

fn set_mtime(path: &Path, t: std::time::SystemTime) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

fn retag(path: &Path, title: &str) {
    tapedeck::tags::write(
        path,
        &tapedeck::tags::TagEdit {
            title: Some(title.into()),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn changed_files_are_reread_in_place() {
    let env = Env::new();
    let path = copy_fixture(&env, "library/flac/picture.flac", "a.flac");
    env.scan(&[env.music().to_str().unwrap()]);
    let before = env.tracks()[0].clone();
    retag(&path, "New Title");
    let s = env.scan(&[]);
    assert_eq!(summary_counts(&s), [0, 1, 0, 0, 0, 0]);
    let after = env.tracks()[0].clone();
    assert_eq!(after["title"], "New Title");
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["added_at"], before["added_at"]);
}

#[test]
fn moved_and_renamed_files_keep_their_identity() {
    let env = Env::new();
    let music = env.music();
    for (fixture, name) in [
        ("library/mp3/id3v23.mp3", "old/one.mp3"),
        ("library/aac/tagged.m4a", "old/two.m4a"),
        ("library/wav/list-info.wav", "old/three.wav"),
        ("library/aiff/id3.aiff", "old/four.aiff"),
        ("library/flac/picture.flac", "old/five.flac"),
    ] {
        copy_fixture(&env, fixture, name);
    }
    env.scan(&[music.to_str().unwrap()]);
    let before: BTreeMap<String, Value> = env
        .tracks()
        .into_iter()
        .map(|t| (t["title"].as_str().unwrap().to_string(), t))
        .collect();
    std::fs::create_dir_all(music.join("new/deeper")).unwrap();
    std::fs::rename(
        music.join("old/one.mp3"),
        music.join("new/deeper/renamed.mp3"),
    )
    .unwrap();
    std::fs::rename(music.join("old/two.m4a"), music.join("new/two.m4a")).unwrap();
    std::fs::rename(music.join("old/three.wav"), music.join("new/three.wav")).unwrap();
    std::fs::rename(music.join("old/four.aiff"), music.join("new/four.aiff")).unwrap();
    // Moved and retagged in one go: the audio is still the same.
    std::fs::rename(music.join("old/five.flac"), music.join("new/five.flac")).unwrap();
    retag(&music.join("new/five.flac"), "Retagged");
    let s = env.scan(&[]);
    assert_eq!(summary_counts(&s), [0, 0, 5, 0, 0, 0], "{s}");
    let after = env.tracks();
    assert_eq!(after.len(), 5);
    for t in after {
        let title = t["title"].as_str().unwrap();
        let old_title = if title == "Retagged" {
            "FLAC Picture"
        } else {
            title
        };
        let old = &before[old_title];
        assert_eq!(t["id"], old["id"], "{title} lost its id");
        assert_eq!(t["added_at"], old["added_at"]);
        assert!(t["path"].as_str().unwrap().contains("/new/"));
    }
}

/// `-v` names every change a scan records, one escaped line each on stderr; piped, no bar.
#[test]
fn verbose_scan_names_every_change() {
    let env = Env::new();
    let music = env.music();
    let m = music.to_str().unwrap().to_string();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "a.mp3");
    copy_fixture(&env, "library/flac/picture.flac", "b.flac");
    copy_fixture(&env, "library/wav/list-info.wav", "c\nd.wav");
    let lines = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["-v", "scan"];
        all.extend(args);
        let out = env.run(&all);
        assert!(out.status.success());
        let mut lines: Vec<String> = String::from_utf8(out.stderr)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(
        lines(&[&m]),
        [
            format!("added: {m}/a.mp3"),
            format!("added: {m}/b.flac"),
            format!("added: {m}/c\\nd.wav"),
        ]
    );
    retag(&music.join("b.flac"), "Retagged");
    std::fs::create_dir(music.join("sub")).unwrap();
    std::fs::rename(music.join("a.mp3"), music.join("sub/a.mp3")).unwrap();
    std::fs::remove_file(music.join("c\nd.wav")).unwrap();
    assert_eq!(
        lines(&[]),
        [
            format!("moved: {m}/a.mp3 -> {m}/sub/a.mp3"),
            format!("removed: {m}/c\\nd.wav"),
            format!("updated: {m}/b.flac"),
        ]
    );
    // Without -v a scan names nothing.
    std::fs::rename(music.join("sub/a.mp3"), music.join("a.mp3")).unwrap();
    let out = env.run(&["scan"]);
    assert!(out.status.success() && out.stderr.is_empty());
}

#[test]
fn copies_of_the_same_audio_keep_their_own_identity() {
    let env = Env::new();
    let music = env.music();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "album/a.mp3");
    copy_fixture(&env, "library/mp3/id3v23.mp3", "compilation/b.mp3");
    env.scan(&[music.to_str().unwrap()]);
    let ids: BTreeMap<String, Value> = env
        .by_name()
        .into_iter()
        .map(|(k, v)| (k, v["id"].clone()))
        .collect();
    std::fs::create_dir_all(music.join("moved")).unwrap();
    std::fs::rename(music.join("compilation/b.mp3"), music.join("moved/b.mp3")).unwrap();
    std::fs::rename(music.join("album/a.mp3"), music.join("moved/a.mp3")).unwrap();
    let s = env.scan(&[]);
    assert_eq!(s["moved"], 2);
    let now = env.by_name();
    assert_eq!(now["moved/a.mp3"]["id"], ids["album/a.mp3"]);
    assert_eq!(now["moved/b.mp3"]["id"], ids["compilation/b.mp3"]);
}

#[test]
fn deleted_files_are_removed_but_missing_or_empty_roots_keep_everything() {
    let env = Env::new();
    let music = env.music();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "a.mp3");
    copy_fixture(&env, "library/flac/picture.flac", "b.flac");
    env.scan(&[music.to_str().unwrap()]);
    std::fs::remove_file(music.join("a.mp3")).unwrap();
    assert_eq!(env.scan(&[])["removed"], 1);

    // The drive is unplugged: the root is gone.
    let away = env.dir.path().join("away");
    std::fs::rename(&music, &away).unwrap();
    let out = env.run(&["scan"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing under it was removed"), "{stderr}");
    assert_eq!(env.tracks().len(), 1);

    // The mount point is there but empty.
    std::fs::create_dir_all(&music).unwrap();
    let s = env.scan(&[]);
    assert_eq!(s["removed"], 0);
    assert_eq!(s["unavailable"].as_array().unwrap().len(), 1);
    assert_eq!(env.tracks().len(), 1);

    // Plugged back in: nothing to do.
    std::fs::remove_dir(&music).unwrap();
    std::fs::rename(&away, &music).unwrap();
    assert_eq!(summary_counts(&env.scan(&[])), [0, 0, 0, 0, 1, 0]);
}

#[test]
fn hidden_entries_are_skipped_and_counted_unless_asked_for() {
    let env = Env::new();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "visible.mp3");
    copy_fixture(&env, "library/mp3/id3v24.mp3", ".hidden/inside.mp3");
    copy_fixture(&env, "broken/random.m4a", "._visible.mp3");
    let s = env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(s["added"], 1);
    assert_eq!(s["hidden"], 2);
    assert_eq!(s["problems"], 0);
    let s = env.scan(&["--include-hidden"]);
    assert_eq!(s["added"], 1);
    assert_eq!(s["problems"], 1, "the AppleDouble file is not audio");
    assert_eq!(env.tracks().len(), 2);
}

#[test]
fn scanning_never_modifies_music_files() {
    let env = Env::new();
    copy_tree(Path::new(FIXTURES), &env.music());
    let snapshot = || -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
        walkdir::WalkDir::new(env.music())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let m = e.metadata().unwrap();
                (
                    e.path().to_path_buf(),
                    (std::fs::read(e.path()).unwrap(), m.modified().unwrap()),
                )
            })
            .collect()
    };
    let before = snapshot();
    env.scan(&[env.music().to_str().unwrap()]);
    env.scan(&[]);
    assert!(before == snapshot(), "a music file changed during a scan");
}

// ---------------------------------------------------------------------------------------------
// Concurrency and crash safety.

#[test]
fn a_second_scan_is_refused_while_reading_still_works() {
    let env = Env::new();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "a.mp3");
    env.scan(&[env.music().to_str().unwrap()]);
    let mut lock_path = env.db().into_os_string();
    lock_path.push(".scan-lock");
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    let out = env.run(&["scan"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another scan"));
    assert_eq!(
        env.tracks().len(),
        1,
        "reading works while a scan holds the lock"
    );
    drop(lock);
    env.scan(&[]);
}

#[test]
fn a_killed_scan_leaves_a_consistent_library_that_the_next_scan_completes() {
    let env = Env::new();
    let music = env.music();
    let sources = [
        "library/mp3/id3v23.mp3",
        "library/flac/picture.flac",
        "library/aac/tagged.m4a",
    ];
    const FILES: usize = 3000;
    for i in 0..FILES {
        copy_fixture(
            &env,
            sources[i % 3],
            &format!("d{}/f{i}.{}", i / 100, ["mp3", "flac", "m4a"][i % 3]),
        );
    }
    // Kills through the whole of a first scan, whatever this machine's speed: at fractions of
    // the time one takes here.
    let _ = std::fs::remove_file(env.db());
    let started = std::time::Instant::now();
    env.scan(&[music.to_str().unwrap()]);
    let whole = started.elapsed().as_millis() as u64;
    // Kills that landed while a first scan was loading, its indexes not yet built.
    let mut killed_mid_load = 0;
    for delay_ms in [5, 30, 60, 90].map(|percent| (whole * percent / 100).max(10)) {
        let _ = std::fs::remove_file(env.db());
        let mut child = env.cmd().args(["-q", "scan"]).arg(&music).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let conn = rusqlite::Connection::open(env.db());
        if let Ok(conn) = conn {
            let check: Result<String, _> =
                conn.query_row("PRAGMA integrity_check", [], |r| r.get(0));
            if let Ok(check) = check {
                assert_eq!(check, "ok");
            }
            let deferred: Result<i64, _> =
                conn.query_row("SELECT count(*) FROM deferred_indexes", [], |r| r.get(0));
            if deferred.is_ok_and(|n| n > 0) {
                killed_mid_load += 1;
            }
        }
        let s = env.scan(&[music.to_str().unwrap()]);
        assert_eq!(s["problems"], 0);
        assert_eq!(env.tracks().len(), FILES, "after a kill at {delay_ms} ms");
        // The search index agrees with the tracks table and holds every track, and the
        // indexes a first scan builds at its end are there.
        let conn = rusqlite::Connection::open(env.db()).unwrap();
        conn.execute(
            "INSERT INTO track_search (track_search, rank) VALUES ('integrity-check', 1)",
            [],
        )
        .unwrap();
        let searched: i64 = conn
            .query_row(
                "SELECT count(*) FROM track_search WHERE track_search MATCH \
                 'fold_path : \".mp3\" OR fold_path : \".flac\" OR fold_path : \".m4a\"'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(searched as usize, FILES, "after a kill at {delay_ms} ms");
        let (indexes, deferred): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name IN ('tracks', 'track_artists') AND sql IS NOT NULL), \
                 (SELECT count(*) FROM deferred_indexes)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (indexes, deferred),
            (12, 0),
            "after a kill at {delay_ms} ms"
        );
    }
    assert!(
        killed_mid_load > 0,
        "no kill landed during a first scan's load"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line.

#[test]
fn bad_command_lines_fail_clearly() {
    let env = Env::new();
    let out = env.run(&["scan", "/no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/no/such/folder") && err.contains("not found"),
        "{err}"
    );
    let out = env.run(&["scan"]);
    assert_eq!(out.status.code(), Some(2), "no roots yet");
    let out = env.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn stats_roots_and_completions() {
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("library"), &env.music());
    env.scan(&[env.music().to_str().unwrap()]);
    let stats: Value = serde_json::from_str(env.ok(&["stats", "--json"]).trim()).unwrap();
    assert_eq!(stats["tracks"], EXPECTED.len() as u64);
    assert_eq!(stats["formats"]["flac"], 3);
    assert_eq!(stats["formats"]["alac"], 2);
    assert_eq!(stats["formats"]["aac"], 2);
    assert!(stats["artists"].as_u64().unwrap() >= 10);
    let roots = env.ok(&["roots"]);
    assert_eq!(
        roots.trim(),
        env.music().canonicalize().unwrap().to_str().unwrap()
    );
    let completion = env.ok(&["completions", "bash"]);
    assert!(completion.contains("tapedeck") && completion.contains("scan"));
}

#[test]
fn ls_lists_in_album_order_and_survives_a_closed_pipe() {
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("library"), &env.music());
    env.scan(&[env.music().to_str().unwrap()]);
    let titles: Vec<String> = env
        .tracks()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect();
    let pos = |t: &str| titles.iter().position(|x| x == t).unwrap();
    assert!(
        pos("ID3v2.3 Title") < pos("ID3v2.4 Title"),
        "track 1 before track 2: {titles:?}"
    );
    assert!(pos("ALAC 16") < pos("ALAC 24"));
    // `tapedeck ls | head -1` exits cleanly.
    let mut child = env
        .cmd()
        .arg("ls")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Queries, browsing and playlists.

fn library_env() -> Env {
    let env = Env::new();
    copy_tree(&Path::new(FIXTURES).join("library"), &env.music());
    env.scan(&[env.music().to_str().unwrap()]);
    env
}

fn titles(env: &Env, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ls", "-f", "$title"];
    full.extend(args);
    env.ok(&full).lines().map(str::to_string).collect()
}

#[test]
fn queries_select_tracks() {
    let env = library_env();
    let cases: &[(&[&str], &[&str])] = &[
        (&["beyonce"], &["日本語のタイトル ♫"]),
        (
            &["artist:zeta", "year:2000..2019"],
            &["WAV Info Title", "WAV ID3 Title"],
        ),
        (&["artist:=Beta Guest"], &["ID3v2.4 Title"]),
        (&["format:alac", "bitdepth:24"], &["ALAC 24"]),
        (&["^artist:", "format:aiff"], &["compressed"]),
        (&["has:cover", "title:m4a"], &["M4A Title"]),
        (
            &["compilation:true", ",", "genre:=Ambient"],
            &["ID3v2.4 Title", "M4A Title", "WAV Info Title"],
        ),
        (&["samplerate:48k"], &["ALAC 24"]),
        (&["year:..1996", "year-"], &["AIFF ID3 Title"]),
        (&["title::^ALAC", "title-"], &["ALAC 24", "ALAC 16"]),
    ];
    for (query, expected) in cases {
        let mut got = titles(&env, query);
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        if !query.iter().any(|t| t.ends_with('-') || t.ends_with('+')) {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "{query:?}");
    }
    assert_eq!(
        titles(&env, &["--sort", "title+", "--limit", "2"]),
        ["ADTS Title", "AIFF ID3 Title"]
    );
    assert_eq!(titles(&env, &["--random", "3"]).len(), 3);
}

#[test]
fn query_mistakes_point_at_the_term() {
    let env = library_env();
    let out = env.run(&["ls", "year:1990", "artst:beatles"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `artst`") && err.contains("did you mean `artist`?"),
        "{err}"
    );
    assert!(
        err.contains("  year:1990 artst:beatles\n            ^^^^^"),
        "{err}"
    );
    let out = env.run(&["ls", "-f", "$titel"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("$title"));
}

/// A query whose spelling would match nothing is either understood or refused, never silent.
#[test]
fn query_spellings_are_never_silent() {
    let env = library_env();
    let titles = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["ls", "--json"];
        all.extend(args);
        env.ok(&all)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["title"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let one_word = titles(&["year:2020", "year+ title-"]);
    assert!(one_word.len() >= 2, "{one_word:?}");
    assert_eq!(one_word, titles(&["year:2020", "year+", "title-"]));
    assert_eq!(one_word, titles(&["year:2020", "--sort", "year+ title-"]));
    for (terms, caret) in [
        (&["genre:techno,"][..], "  genre:techno,\n              ^"),
        (
            &["alpha", "beatles year+"],
            "  alpha beatles year+\n                ^^^^^",
        ),
        (&["artist:="], "  artist:=\n  ^^^^^^^^"),
    ] {
        let mut args = vec!["ls"];
        args.extend(terms);
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{terms:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: invalid query: "), "{err}");
        assert!(err.contains(caret), "{terms:?}: {err}");
    }
}

#[test]
fn every_json_key_names_a_field_in_templates_and_queries() {
    let env = library_env();
    let json = env.ok(&["ls", "--json", "--limit", "1", "format:flac"]);
    let track: Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let keys: Vec<&String> = track.as_object().unwrap().keys().collect();
    assert!(keys.len() > 30, "{keys:?}");
    let id = track["id"].to_string();
    for key in keys {
        let value = &track[key.as_str()];
        // Every key is accepted by `-f`, and prints the value the JSON holds.
        let shown = env.ok(&["ls", "-f", &format!("${{{key}}}"), &format!("id:{id}")]);
        let shown = shown.trim_end_matches('\n');
        match value {
            Value::String(s) => assert_eq!(shown, s, "{key}"),
            Value::Number(n)
                if key != "duration"
                    && !key.starts_with("added")
                    && !key.starts_with("last_played")
                    && key != "mtime" =>
            {
                assert_eq!(shown.parse::<f64>().unwrap(), n.as_f64().unwrap(), "{key}")
            }
            Value::Bool(b) => assert_eq!(shown, if *b { "yes" } else { "no" }, "{key}"),
            _ => {}
        }
        // And by the query language: the field is present on this track, or missing.
        let present = !value.is_null() && value != &Value::Array(vec![]);
        let listed = env.ok(&["ls", "-f", "$id", &format!("id:{id}"), &format!("{key}:")]);
        let bool_field = value.is_boolean();
        if !bool_field {
            assert_eq!(listed.trim() == id, present, "{key}: {listed:?}");
        }
    }
    // Sorting takes the JSON spelling too.
    let by_rate = env.ok(&["ls", "-f", "$sample_rate", "sample_rate-"]);
    let rates: Vec<f64> = by_rate.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(
        rates.windows(2).all(|w| w[0] >= w[1]) && rates.len() > 3,
        "{by_rate}"
    );
}

#[test]
fn per_file_messages_say_error_or_warning() {
    let env = Env::new();
    let broken = Path::new(FIXTURES).join("broken");
    let mut args: Vec<String> = vec!["render".into()];
    for e in std::fs::read_dir(&broken).unwrap() {
        args.push(e.unwrap().path().to_str().unwrap().into());
    }
    args.push("-o".into());
    args.push(env.dir.path().join("out.wav").to_str().unwrap().into());
    let out = env.run(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    let about_files: Vec<&str> = err.lines().filter(|l| l.contains("/broken/")).collect();
    assert!(about_files.len() >= 5, "{err}");
    for line in &about_files {
        assert!(
            line.starts_with("error: ") || line.starts_with("warning: "),
            "{line:?} in\n{err}"
        );
    }
    assert!(
        about_files.iter().any(|l| l.starts_with("error: ")),
        "{err}"
    );
    assert!(
        about_files
            .iter()
            .any(|l| l.starts_with("warning: ") && l.contains("truncated")),
        "{err}"
    );
}

/// Moves an .m4a file's `moov/udta/meta` to `moov/meta` (where some writers put it), keeping
/// the rest of `udta`; the file's `moov` must come after its `mdat`.
fn move_meta_to_moov(from: &Path, to: &Path) {
    let script = r#"
import struct, sys
src = open(sys.argv[1], 'rb').read()
def boxes(b, start, end):
    i = start
    while i + 8 <= end:
        size, typ = struct.unpack('>I4s', b[i:i+8])
        yield i, size, typ
        i += size
def find(start, end, typ):
    return next((i, size) for i, size, t in boxes(src, start, end) if t == typ)
def box(typ, payload):
    return struct.pack('>I4s', 8 + len(payload), typ) + payload
mi, ms = find(0, len(src), b'moov')
assert src.find(b'mdat') < mi, 'moov must follow mdat'
ui, us = find(mi + 8, mi + ms, b'udta')
ei, es = find(ui + 8, ui + us, b'meta')
moov = box(b'moov', src[mi+8:ui] + box(b'udta', src[ui+8:ei] + src[ei+es:ui+us])
           + src[ui+us:mi+ms] + src[ei:ei+es])
open(sys.argv[2], 'wb').write(src[:mi] + moov + src[mi+ms:])
"#;
    let ok = Command::new("python3")
        .args(["-c", script])
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "relaying out {}", from.display());
}

#[test]
fn mp4_tags_outside_moov_udta_are_read_as_ffprobe_reads_them() {
    let env = Env::new();
    std::fs::create_dir_all(env.music()).unwrap();
    let moved = env.music().join("moved.m4a");
    move_meta_to_moov(&Path::new(FIXTURES).join("library/aac/tagged.m4a"), &moved);
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags=title,artist",
            "-of",
            "json",
        ])
        .arg(&moved)
        .output()
        .unwrap();
    let probed: Value = serde_json::from_slice(&probe.stdout).unwrap();
    let tags = &probed["format"]["tags"];
    assert!(
        tags["title"].is_string(),
        "ffprobe reads the moved tags: {probed}"
    );
    env.scan(&[env.music().to_str().unwrap()]);
    let tracks = env.tracks();
    assert_eq!(tracks.len(), 1);
    assert_eq!(tracks[0]["title"], tags["title"]);
    assert_eq!(tracks[0]["artist"], tags["artist"]);
    assert_eq!(tracks[0]["has_cover"], true);
    // The tags travel with a conversion too.
    let to = env.dir.path().join("out");
    env.ok(&[
        "convert",
        "--to",
        to.to_str().unwrap(),
        "--format",
        "flac",
        "--allow-lossy-source",
    ]);
    let flac = walkdir::WalkDir::new(&to)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "flac"))
        .expect("a converted file")
        .into_path();
    let title = Command::new("metaflac")
        .arg("--show-tag=TITLE")
        .arg(&flac)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&title.stdout).trim(),
        format!("TITLE={}", tags["title"].as_str().unwrap())
    );
}

#[test]
fn a_malformed_tag_frame_costs_that_frame_in_convert_too() {
    let env = Env::new();
    std::fs::create_dir_all(env.music()).unwrap();
    let mut mp3 = std::fs::read(Path::new(FIXTURES).join("library/mp3/id3v24.mp3")).unwrap();
    // The artist frame's text encoding byte made one no encoding has.
    let at = mp3
        .windows(4)
        .position(|w| w == b"TPE1")
        .expect("an artist frame");
    mp3[at + 10] = 7;
    let path = env.music().join("bad-frame.mp3");
    std::fs::write(&path, &mp3).unwrap();
    env.scan(&[env.music().to_str().unwrap()]);
    let tracks = env.tracks();
    let title = tracks[0]["title"].as_str().unwrap().to_string();
    assert_ne!(title, "bad-frame", "the other frames were read");
    assert_eq!(tracks[0]["album"], "Alpha Album");
    assert!(tracks[0]["artist"].is_null(), "{}", tracks[0]);
    let problems = env.ok(&["problems"]);
    assert!(
        problems.contains("its TPE1 frame was left out"),
        "{problems}"
    );
    let to = env.dir.path().join("out");
    let out = env.run(&[
        "convert",
        "--to",
        to.to_str().unwrap(),
        "--format",
        "flac",
        "--allow-lossy-source",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let flac = walkdir::WalkDir::new(&to)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "flac"))
        .expect("a converted file")
        .into_path();
    let tags = Command::new("metaflac")
        .arg("--show-tag=TITLE")
        .arg(&flac)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&tags.stdout).trim(),
        format!("TITLE={title}")
    );
}

#[test]
fn browsing_commands_take_queries() {
    let env = library_env();
    let artists = env.ok(&["artists", "album:alpha"]);
    assert_eq!(artists, "Alpha Artist: 2 tracks\nBeta Guest: 1 track\n");
    let albums = env.ok(&["albums", "year:2020"]);
    assert_eq!(
        albums,
        "Epsilon Artist - Epsilon Album (2020): 2 tracks, 0:00:02\n"
    );
    let genres: Vec<Value> = env
        .ok(&["genres", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        genres
            .iter()
            .any(|g| g["name"] == "Rock" && g["tracks"] == 3)
    );
    let stats: Value =
        serde_json::from_str(env.ok(&["stats", "--json", "format:flac"]).trim()).unwrap();
    assert_eq!(stats["tracks"], 3);
    assert_eq!(env.ok(&["ls", "--albums", "artist:epsilon"]), albums);
}

/// `show` numbers entries as `move` and `rm` count them; `ls` counts a smart playlist's tracks;
/// every change is confirmed (and `-q` keeps it quiet), with counts in the singular for one.
#[test]
fn playlist_commands_number_count_and_confirm() {
    let env = library_env();
    let ok = |args: &[&str]| env.ok(args);
    ok(&[
        "playlist",
        "new",
        "Smart",
        "--query",
        "format:alac",
        "--minutes",
        "1",
    ]);
    assert_eq!(
        ok(&["playlist", "ls"]),
        "Smart (smart: format:alac, at most 1 minute; 2 tracks)\n"
    );
    let json: Value = serde_json::from_str(ok(&["playlist", "ls", "--json"]).trim()).unwrap();
    assert_eq!(json["entries"], 2);

    ok(&["playlist", "new", "Drive"]);
    assert_eq!(
        ok(&["playlist", "add", "Drive", "format:alac"]),
        "added 2 tracks to `Drive` (2 in all)\n"
    );
    assert_eq!(
        ok(&["playlist", "add", "Drive", "title:=M4A Title"]),
        "added 1 track to `Drive` (3 in all)\n"
    );
    let show = |name: &str| -> Vec<String> {
        ok(&["playlist", "show", name])
            .lines()
            .map(str::to_string)
            .collect()
    };
    let shown = show("Drive");
    assert_eq!(shown.len(), 3);
    for (line, (n, title)) in shown
        .iter()
        .zip([(1, "ALAC 16"), (2, "ALAC 24"), (3, "M4A Title")])
    {
        assert!(
            line.starts_with(&format!("{n}. ")) && line.ends_with(title),
            "{shown:?}"
        );
    }
    assert_eq!(
        ok(&["playlist", "move", "Drive", "3", "1"]),
        "moved entry 3 of `Drive` to position 1\n"
    );
    assert!(show("Drive")[0].starts_with("1. ") && show("Drive")[0].ends_with("M4A Title"));
    let positions: Vec<Value> = ok(&["playlist", "show", "Drive", "--json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["position"].clone())
        .collect();
    assert_eq!(positions, [1, 2, 3]);
    assert_eq!(ok(&["-q", "playlist", "move", "Drive", "1", "3"]), "");
    assert_eq!(
        ok(&["playlist", "rename", "Drive", "Car"]),
        "renamed playlist `Drive` to `Car`\n"
    );
    assert_eq!(
        ok(&["playlist", "rm", "Car", "1"]),
        "removed 1 entry from `Car` (2 left)\n"
    );
    assert_eq!(
        ok(&["playlist", "delete", "Car"]),
        "deleted playlist `Car` (2 entries); its tracks stay in the library\n"
    );
    assert_eq!(
        ok(&["playlist", "delete", "Smart"]),
        "deleted smart playlist `Smart`; its tracks stay in the library\n"
    );
    ok(&["playlist", "new", "Quiet"]);
    for args in [
        &["-q", "playlist", "rename", "Quiet", "Hush"][..],
        &["-q", "playlist", "delete", "Hush"],
    ] {
        assert_eq!(ok(args), "", "{args:?}");
    }
    assert_eq!(ok(&["playlist", "ls"]), "");
}

#[test]
fn static_playlists_follow_moved_files() {
    let env = library_env();
    env.ok(&["playlist", "new", "Drive"]);
    env.ok(&["playlist", "add", "Drive", "format:alac"]);
    env.ok(&["playlist", "add", "Drive", "title:=M4A Title"]);
    assert_eq!(
        titles(&env, &["-p", "Drive"]),
        ["ALAC 16", "ALAC 24", "M4A Title"]
    );
    env.ok(&["playlist", "move", "Drive", "3", "1"]);
    assert_eq!(
        titles(&env, &["-p", "Drive"]),
        ["M4A Title", "ALAC 16", "ALAC 24"]
    );
    env.ok(&["playlist", "rm", "Drive", "2"]);
    assert_eq!(
        titles(&env, &["-p", "drive"]),
        ["M4A Title", "ALAC 24"],
        "names are case-insensitive"
    );
    // A query narrows a playlist and keeps its order.
    assert_eq!(titles(&env, &["-p", "Drive", "format:alac"]), ["ALAC 24"]);
    // Move the files: the playlist follows.
    let music = env.music();
    std::fs::rename(music.join("alac"), music.join("moved-alac")).unwrap();
    std::fs::rename(music.join("aac/tagged.m4a"), music.join("renamed.m4a")).unwrap();
    env.scan(&[]);
    assert_eq!(titles(&env, &["-p", "Drive"]), ["M4A Title", "ALAC 24"]);
    let shown = env.ok(&["playlist", "show", "Drive", "--paths"]);
    let shown: Vec<&str> = shown.lines().collect();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].ends_with("/renamed.m4a") && shown[1].ends_with("/moved-alac/alac24.m4a"),
        "{shown:?}"
    );
    env.ok(&["playlist", "rename", "Drive", "Car"]);
    let ls = env.ok(&["playlist", "ls"]);
    assert_eq!(ls, "Car (2 tracks)\n");
    env.ok(&["playlist", "delete", "Car"]);
    assert_eq!(env.ok(&["playlist", "ls"]), "");
    let out = env.run(&["ls", "-p", "Car"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn smart_playlists_evaluate_when_used() {
    let env = library_env();
    env.ok(&[
        "playlist",
        "new",
        "Lossless",
        "--query",
        "format:flac , format:alac",
        "--sort",
        "title-",
        "--limit",
        "3",
    ]);
    assert_eq!(
        titles(&env, &["-p", "Lossless"]),
        ["日本語のタイトル ♫", "no-tags", "FLAC Picture"].map(String::from)
    );
    env.ok(&[
        "playlist",
        "new",
        "Short",
        "--query",
        "format:mp3",
        "--minutes",
        "0.05",
    ]);
    assert_eq!(
        titles(&env, &["-p", "Short"]).len(),
        3,
        "three one-second tracks fit in three seconds"
    );
    let out = env.run(&["playlist", "add", "Short", "beyonce"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a smart playlist has no entries to add to"
    );
    let out = env.run(&["playlist", "new", "Bad", "--query", "yeer:1999"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&[
        "playlist",
        "new",
        "Bad",
        "--query",
        "year:1999",
        "--sort",
        "year+ beatles",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a bad sort is refused when the playlist is made"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a sort key"));
    assert!(!env.ok(&["playlist", "ls"]).contains("Bad"));
}

#[test]
fn playlists_import_and_export() {
    let env = library_env();
    let music = env.music();
    let list = music.join("lists");
    std::fs::create_dir_all(&list).unwrap();
    // BOM, CRLF, a relative path, an absolute path, a Windows-style relative path, a stream and
    // a missing file.
    let abs = music.join("flac/picture.flac");
    let text = format!(
        "\u{feff}#EXTM3U\r\n#EXTINF:1,Alpha - One\r\n../mp3/id3v23.mp3\r\n{}\r\n..\\wav\\list-info.wav\r\nhttp://radio.example/stream\r\n../missing.mp3\r\n",
        abs.display()
    );
    std::fs::write(list.join("mix.m3u"), text).unwrap();
    let out = env.run(&["playlist", "import", list.join("mix.m3u").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 3 of 5 entries into `mix`"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing.mp3") && stderr.contains("not in the library"),
        "{stderr}"
    );
    assert!(stderr.contains("radio.example"), "{stderr}");
    assert_eq!(
        titles(&env, &["-p", "mix"]),
        ["ID3v2.3 Title", "FLAC Picture", "WAV Info Title"]
    );

    let pls = "[playlist]\nFile2=../alac/alac24.m4a\nFile1=../alac/alac16.m4a\nNumberOfEntries=2\n";
    std::fs::write(list.join("two.pls"), pls).unwrap();
    env.ok(&[
        "playlist",
        "import",
        list.join("two.pls").to_str().unwrap(),
        "--name",
        "Two",
    ]);
    assert_eq!(titles(&env, &["-p", "Two"]), ["ALAC 16", "ALAC 24"]);

    // Export, absolute by default, relative on request; both import back to the same tracks.
    let exported = env.dir.path().join("out.m3u8");
    env.ok(&[
        "playlist",
        "export",
        "mix",
        "-o",
        exported.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&exported).unwrap();
    assert!(
        text.starts_with("#EXTM3U\n#EXTINF:1,Alpha Artist - ID3v2.3 Title\n/"),
        "{text}"
    );
    let relative = music.join("lists/rel.m3u8");
    env.ok(&[
        "playlist",
        "export",
        "mix",
        "-o",
        relative.to_str().unwrap(),
        "--relative-to",
        list.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&relative).unwrap();
    assert!(text.contains("\n../mp3/id3v23.mp3\n"), "{text}");
    env.ok(&[
        "playlist",
        "import",
        relative.to_str().unwrap(),
        "--name",
        "Again",
    ]);
    assert_eq!(titles(&env, &["-p", "Again"]), titles(&env, &["-p", "mix"]));
}

// ---------------------------------------------------------------------------------------------
// Hostile inputs: files that are not files, oversized playlists and queries, control characters.

/// Runs `args`, failing the test if the command has not ended within a minute (a blocking open
/// of a FIFO would hang it for good).
fn run_within_a_minute<S: AsRef<OsStr>>(env: &Env, args: &[S]) -> std::process::Output {
    let mut child = env
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("tapedeck hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn playlist_import_reads_only_regular_files_of_bounded_size() {
    let env = library_env();
    let dir = env.dir.path().join("lists");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("x.m3u");
    mkfifo(&fifo);
    let big = dir.join("big.m3u");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(17 * 1024 * 1024)
        .unwrap();
    let many = dir.join("many.m3u");
    let text: String = (0..100_001).map(|i| format!("{i}.mp3\n")).collect();
    std::fs::write(&many, text).unwrap();
    let cases: [(&Path, &str); 5] = [
        (&fifo, "is a named pipe (FIFO), not a playlist file"),
        (Path::new("/dev/zero"), "is a device, not a playlist file"),
        (&dir, "is a folder, not a playlist file"),
        (&big, "larger than 16 MiB"),
        (&many, "more than 100,000 entries"),
    ];
    for (file, reason) in cases {
        let out = run_within_a_minute(
            &env,
            &[
                OsStr::new("playlist"),
                OsStr::new("import"),
                file.as_os_str(),
            ],
        );
        assert!(!out.status.success(), "{}", file.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: cannot import ")
                && stderr.contains(&*file.to_string_lossy())
                && stderr.contains(reason),
            "{stderr}"
        );
    }
    assert_eq!(env.ok(&["playlist", "ls"]), "", "nothing was imported");
    // Exactly at the limit is fine.
    let text: String = (0..100_000).map(|i| format!("{i}.mp3\n")).collect();
    std::fs::write(&many, text).unwrap();
    let out = env.run(&[
        OsStr::new("playlist"),
        OsStr::new("import"),
        many.as_os_str(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 0 of 100000 entries"));
}

#[test]
fn render_refuses_named_fifos_and_devices_and_plays_the_rest() {
    let env = Env::new();
    let music = env.music();
    let good = copy_fixture(&env, "library/flac/picture.flac", "good.flac");
    let fifo = music.join("fifo.flac");
    mkfifo(&fifo);
    let wav = env.dir.path().join("out.wav");
    let out = run_within_a_minute(
        &env,
        &[
            OsStr::new("render"),
            OsStr::new("-o"),
            wav.as_os_str(),
            fifo.as_os_str(),
            OsStr::new("/dev/urandom"),
            good.as_os_str(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The rest is rendered, and the files left out make the exit code 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(wav.exists(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is a named pipe (FIFO), not a music file; not played",
            fifo.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("/dev/urandom is a device, not a music file; not played"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("[1/1] ") && stdout.contains("FLAC Picture"),
        "{stdout}"
    );
    assert!(hound::WavReader::open(&wav).unwrap().duration() > 0);
    // With nothing left to play, a clear error.
    std::fs::remove_file(&wav).unwrap();
    let out = run_within_a_minute(
        &env,
        &[
            OsStr::new("render"),
            OsStr::new("-o"),
            wav.as_os_str(),
            fifo.as_os_str(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: nothing to play: every file named was left out"),
        "{stderr}"
    );
    assert!(!wav.exists());
    assert!(!env.db().exists(), "render only reads the library");
}

#[test]
fn control_characters_in_tags_and_paths_are_escaped_in_text_output() {
    let env = Env::new();
    let hostile = "\x1b]0;pwned\x07\x1b[2J";
    let path = copy_fixture(&env, "library/flac/picture.flac", "\x1b[31mred\n.flac");
    tapedeck::tags::write(
        &path,
        &tapedeck::tags::TagEdit {
            title: Some(hostile.into()),
            album: Some(format!("Album{hostile}")),
            artist: Some("Art\u{9b}31mist".into()),
            ..Default::default()
        },
    )
    .unwrap();
    copy_fixture(&env, "broken/text.mp3", "\x1b[2Jbroken.mp3");
    let scan = env.run(&[OsStr::new("scan"), env.music().as_os_str()]);
    assert!(scan.status.success());
    assert!(
        !scan.stderr.contains(&0x1b),
        "problem lines on stderr: {:?}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let shown = r"\e]0;pwned\x07\e[2J";
    let listings: &[(&[&str], &str)] = &[
        (&["ls"], shown),
        (&["ls", "-f", "$title|$path"], r"\e[31mred\n.flac"),
        (&["albums"], &format!("Album{shown}")),
        (&["artists"], r"Art\u{9b}31mist"),
        (&["problems"], r"\e[2Jbroken.mp3"),
        (&["playlist", "show", "P"], shown),
    ];
    env.ok(&["playlist", "new", "P"]);
    env.ok(&["playlist", "add", "P"]);
    for (args, expected) in listings {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.contains(['\x1b', '\x07', '\u{9b}']),
            "{args:?} printed a raw control character: {text:?}"
        );
        assert!(text.contains(expected), "{args:?}: {text:?}");
    }
    // Render's track line too.
    let wav = env.dir.path().join("out.wav");
    let out = env.run(&[
        OsStr::new("render"),
        OsStr::new("-o"),
        wav.as_os_str(),
        path.as_os_str(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(shown) && !text.contains('\x1b'), "{text:?}");
    // JSON keeps the exact values.
    let t = &env.tracks()[0];
    assert_eq!(t["title"], hostile);
    assert_eq!(t["path"], path.canonicalize().unwrap().to_str().unwrap());
    // And --paths stays byte-exact when piped.
    let paths = env.run(&["ls", "--paths"]).stdout;
    assert!(paths.windows(3).any(|w| w == b"\x1b[3"), "{paths:?}");
}

#[test]
fn read_commands_work_on_a_library_that_cannot_be_written() {
    let env = library_env();
    env.ok(&["playlist", "new", "Mix"]);
    env.ok(&["playlist", "add", "Mix", "format:flac"]);
    // The library alone in a folder that is read-only, as is the file.
    let folder = env.dir.path().join("ro");
    std::fs::create_dir_all(&folder).unwrap();
    let db = folder.join("library.db");
    std::fs::rename(env.db(), &db).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut side = env.db().into_os_string();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m));
    mode(&db, 0o444).unwrap();
    mode(&folder, 0o555).unwrap();
    // Others may reach the library (the temporary folder is private to its owner).
    mode(env.dir.path(), 0o755).unwrap();
    let before = (
        std::fs::read(&db).unwrap(),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    // Root writes whatever the permission bits say, so root runs the reads as `nobody`.
    let as_reader = |args: &[&str]| -> std::process::Output {
        let mut c = if unsafe { libc::geteuid() } == 0 {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_tapedeck"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_tapedeck"))
        };
        c.env("TAPEDECK_DB", &db)
            .env("TAPEDECK_CONFIG", env.config_file())
            .env_remove("XDG_DATA_HOME")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let reads: &[&[&str]] = &[
        &["ls"],
        &["ls", "--albums"],
        &["albums"],
        &["stats"],
        &["problems"],
        &["roots"],
        &["playlist", "ls"],
        &["playlist", "show", "Mix"],
        &["ls", "-p", "Mix", "title:picture"],
        &["exports"],
        &["converted"],
    ];
    for args in reads {
        let out = as_reader(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stats: Value = serde_json::from_slice(&as_reader(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["tracks"], EXPECTED.len() as u64);
    let listed = as_reader(&["playlist", "show", "Mix", "--paths"]).stdout;
    assert_eq!(
        listed
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count(),
        3
    );
    // A writer is refused.
    let out = as_reader(&["playlist", "new", "Other"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    mode(&folder, 0o755).unwrap();
    let after = (
        std::fs::read(&db).unwrap(),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    assert!(before == after, "a read changed the library file");
    let names: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        [OsStr::new("library.db")],
        "nothing was made beside it"
    );
}

#[test]
fn a_read_command_creates_no_library_and_says_there_is_none() {
    let env = Env::new();
    for args in [&["ls"][..], &["playlist", "ls"], &["stats"], &["problems"]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("there is no library at") && err.contains("tapedeck scan"),
            "{args:?}: {err}"
        );
    }
    assert!(!env.db().exists());
    assert!(!env.db().parent().unwrap().join("library.db-wal").exists());
}

#[test]
fn oversized_queries_are_refused_with_the_limit() {
    let env = library_env();
    let mut terms: Vec<String> = vec!["ls".into(), "-f".into(), "$title".into()];
    for i in 0..500 {
        if i > 0 {
            terms.push(",".into());
        }
        terms.push(if i == 0 {
            "title:picture".into()
        } else {
            format!("^zz{i}")
        });
    }
    // 500 alternatives, each negated: the deepest SQL a query can make.
    let out = env.run(&terms);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        EXPECTED.len()
    );
    terms.push(",".into());
    terms.push("one-too-many".into());
    let out = env.run(&terms);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: invalid query: the query has more than 500 terms"),
        "{stderr}"
    );
    assert!(!stderr.contains("Expression tree"), "{stderr}");
}

#[test]
fn scan_skips_folders_tapedeck_writes_into() {
    let env = Env::new();
    copy_fixture(&env, "library/mp3/id3v23.mp3", "a.mp3");
    copy_fixture(
        &env,
        "library/flac/picture.flac",
        "converted/Artist/copy.flac",
    );
    std::fs::create_dir_all(env.music().join("converted/.tapedeck")).unwrap();
    let out = env.run(&[
        OsStr::new("scan"),
        OsStr::new("--json"),
        env.music().as_os_str(),
    ]);
    assert!(out.status.success());
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["added"], 1);
    let target = env.music().canonicalize().unwrap().join("converted");
    assert_eq!(summary["targets_skipped"][0], target.to_str().unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "skipped {}: tapedeck writes there (convert/export target); --include-targets to index it",
            target.display()
        )),
        "{stderr}"
    );
    assert_eq!(env.tracks().len(), 1);
    let s = env.scan(&["--include-targets"]);
    assert_eq!(s["added"], 1);
    assert_eq!(s["targets_skipped"].as_array().unwrap().len(), 0);
    assert!(
        env.ok(&["ls", "--paths"])
            .contains("converted/Artist/copy.flac")
    );
    // Skipped again, what was indexed under it leaves the library, as hidden files do.
    let s = env.scan(&[]);
    assert_eq!(summary_counts(&s)[..5], [0, 0, 0, 1, 1]);
}

#[test]
fn regexes_match_decomposed_names_as_substrings_do() {
    let env = Env::new();
    // A folder named on macOS: "Café" stored decomposed (e + combining acute).
    copy_fixture(
        &env,
        "library/flac/picture.flac",
        "Cafe\u{301} del Mar/song.flac",
    );
    env.scan(&[env.music().to_str().unwrap()]);
    for q in [
        "path:café",
        "path::Café",
        "path::Caf\u{e9} del",
        "path::Cafe\u{301}",
    ] {
        let out = env.ok(&["ls", "--paths", q]);
        assert_eq!(out.lines().count(), 1, "{q}: {out}");
    }
    // The in-memory matcher (a playlist evaluated in memory) agrees.
    env.ok(&["playlist", "new", "Cafe", "--query", "path::Café"]);
    let out = env.ok(&["ls", "-p", "Cafe", "--paths"]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn a_malformed_tag_frame_costs_only_that_frame() {
    let env = Env::new();
    let path = copy_fixture(&env, "library/mp3/id3v24.mp3", "bad frame.mp3");
    // A v2.4 tag whose TDRC frame has an invalid text encoding byte, between good frames.
    let ok = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(
            r#"
import sys
from mutagen.id3 import ID3, TIT2, TPE1, TDRC
t = ID3()
t.add(TIT2(encoding=3, text="Good Title"))
t.add(TDRC(encoding=3, text="2011"))
t.add(TPE1(encoding=3, text="Good Artist"))
t.save(sys.argv[1], v2_version=4)
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"TDRC")
b[i + 10] = 9
open(sys.argv[1], "wb").write(b)
"#,
        )
        .arg(&path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "python3-mutagen (installed by make test) is needed");
    let summary = env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(summary["added"], 1, "{summary}");
    let tracks = env.tracks();
    assert_eq!(tracks[0]["title"], "Good Title");
    assert_eq!(tracks[0]["artist"], "Good Artist");
    let problems = env.ok(&["problems"]);
    assert!(
        problems.contains("bad frame.mp3") && problems.contains("tdrc"),
        "{problems}"
    );
}

#[test]
fn mp4_files_in_other_codecs_say_which_codec() {
    let env = Env::new();
    for (codec, name) in [
        ("ac3", "dolby.m4a"),
        ("eac3", "dolby plus.mp4"),
        ("libopus", "opus.mp4"),
    ] {
        let out = env.music().join(name);
        sine(&["-c:a", codec, "-strict", "-2"], &out);
    }
    env.scan(&[env.music().to_str().unwrap()]);
    let problems = env.ok(&["problems"]);
    for (name, want) in [
        ("dolby.m4a", "AC-3 (Dolby Digital)"),
        ("dolby plus.mp4", "E-AC-3 (Dolby Digital Plus)"),
        ("opus.mp4", "Opus"),
    ] {
        let line = problems
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not listed: {problems}"));
        assert!(
            line.contains(&format!(
                "the audio is {want}, which is not one of the formats"
            )),
            "{line}"
        );
    }
}

#[test]
fn unfinished_and_rf64_wavs_are_indexed_and_play_what_they_hold() {
    let env = Env::new();
    let ok = env.music().join("ok.wav");
    sine(&[], &ok);
    let bytes = std::fs::read(&ok).unwrap();
    let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
    // A recorder that never filled the data size in: 0, or the streaming placeholder.
    for (name, size) in [("zero.wav", 0u32), ("streaming.wav", u32::MAX)] {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&size.to_le_bytes());
        std::fs::write(env.music().join(name), b).unwrap();
    }
    // And an RF64 file, as broadcast recorders write.
    sine(&["-rf64", "always"], &env.music().join("broadcast.wav"));
    let summary = env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(summary["added"], 4, "{summary}");
    for t in env.tracks() {
        let d = t["duration"].as_f64().unwrap();
        assert!((d - 1.0).abs() < 0.01, "{t}");
    }
    // Each plays exactly the samples of the finished file.
    let render = |name: &str| {
        let out = env.dir.path().join(format!("{name}.out.wav"));
        env.ok(&[
            "render",
            "-q",
            env.music().join(name).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        std::fs::read(out).unwrap()
    };
    let want = render("ok.wav");
    assert_eq!(render("zero.wav"), want);
    assert_eq!(render("streaming.wav"), want);
    assert_eq!(render("broadcast.wav"), want);
}

#[test]
fn an_rf64_wav_past_4_gib_is_indexed_at_the_length_ds64_gives() {
    let env = Env::new();
    let path = env.music().join("long.wav");
    sine(&["-rf64", "always"], &path);
    // Grown to 5 GiB of audio: ds64's data size and a hole (a sparse file costs no disk).
    let mut bytes = std::fs::read(&path).unwrap();
    let ds64 = bytes.windows(4).position(|w| w == b"ds64").unwrap() + 8;
    let fmt = bytes.windows(4).position(|w| w == b"fmt ").unwrap() + 8;
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    assert_eq!(&bytes[data + 4..data + 8], &u32::MAX.to_le_bytes());
    let data_size = (5u64 << 30) + 2;
    bytes[ds64 + 8..ds64 + 16].copy_from_slice(&data_size.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(data as u64 + 8 + data_size).unwrap();
    let rate = u32::from_le_bytes(bytes[fmt + 4..fmt + 8].try_into().unwrap());
    let align = u16::from_le_bytes([bytes[fmt + 12], bytes[fmt + 13]]);
    let summary = env.scan(&[env.music().to_str().unwrap()]);
    assert_eq!(summary["added"], 1, "{summary}");
    assert_eq!(env.ok(&["problems"]), "");
    let tracks = env.tracks();
    let want = (data_size / u64::from(align)) as f64 / f64::from(rate);
    let got = tracks[0]["duration"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-6, "{got} s, want {want} s");
}

#[test]
fn an_empty_library_and_no_problems_are_said_on_a_terminal_only() {
    let env = Env::new();
    env.scan(&[env.music().to_str().unwrap()]);
    // On a terminal (a pseudo-terminal made by `script`, from util-linux).
    let on_terminal = |args: &str| {
        let cmd = format!("{} {args}", env!("CARGO_BIN_EXE_tapedeck"));
        let out = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("TAPEDECK_DB", env.db())
            .env("TAPEDECK_CONFIG", env.config_file())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(on_terminal("ls").contains("the library is empty: `tapedeck scan FOLDER` first"));
    assert!(on_terminal("problems").contains("no problems"));
    // Piped: nothing, for scripts.
    assert_eq!(env.ok(&["ls"]), "");
    assert_eq!(env.ok(&["problems"]), "");
}

#[test]
fn rate_sets_ratings_that_queries_see_and_reports_what_changed() {
    let env = library_env();
    let all = env.tracks().len();
    let out = env.ok(&["rate", "--json", "format:flac", "4"]);
    let changed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!changed.is_empty());
    assert!(
        changed.iter().all(|c| c["old"].is_null() && c["new"] == 4),
        "{out}"
    );
    let rated = env.ok(&["ls", "--paths", "rating:4"]);
    assert_eq!(rated.lines().count(), changed.len());
    // Again: nothing changes.
    assert_eq!(env.ok(&["rate", "--json", "format:flac", "4"]), "");
    // 0 clears.
    env.ok(&["rate", "-q", "format:flac", "0"]);
    assert_eq!(env.ok(&["ls", "--paths", "rating:1.."]), "");
    // Bad ratings and empty selections are usage errors that change nothing.
    for args in [
        &["rate", "format:flac", "6"][..],
        &["rate", "format:flac", "x"],
        &["rate", "5"],
        &["rate", "title:no-such-track", "3"],
    ] {
        assert_eq!(env.run(args).status.code(), Some(2), "{args:?}");
    }
    assert_eq!(env.tracks().len(), all);
    assert_eq!(env.ok(&["ls", "--paths", "rating:1.."]), "");
}

#[test]
fn roots_are_added_and_removed_with_their_tracks() {
    let env = Env::new();
    let a = env.music().join("a");
    let b = env.music().join("b");
    copy_fixture(&env, "library/flac/picture.flac", "a/one.flac");
    copy_fixture(&env, "library/mp3/id3v23.mp3", "b/two.mp3");
    env.scan(&[a.to_str().unwrap()]);
    // A root added is scanned by the next plain scan.
    let out = env.ok(&["roots", "add", b.to_str().unwrap()]);
    assert!(out.contains("tapedeck scan"), "{out}");
    env.scan(&[]);
    assert_eq!(env.tracks().len(), 2);
    // The folder goes away: every scan would warn about it; rm forgets it, asked for.
    std::fs::remove_dir_all(&a).unwrap();
    let out = env.run(&["roots", "rm", a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert_eq!(env.tracks().len(), 2);
    env.ok(&["roots", "rm", a.to_str().unwrap(), "--yes"]);
    let left: Vec<String> = env
        .tracks()
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left.len(), 1);
    assert!(left[0].ends_with("two.mp3"));
    let roots = env.ok(&["roots"]);
    assert!(!roots.contains("/a"), "{roots}");
    let scan = env.run(&["scan"]);
    assert!(scan.status.success());
    assert!(
        !String::from_utf8_lossy(&scan.stderr).contains("/a"),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    // Not a root: a usage error naming the roots.
    let out = env.run(&["roots", "rm", "/nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a root"));
}

#[test]
fn a_missing_file_named_to_play_is_no_such_file_not_a_query() {
    let env = library_env();
    let out_wav = env.dir.path().join("x.wav");
    let missing = env.dir.path().join("Music/nosuch.flac");
    let out = env.run(&[
        OsStr::new("render"),
        missing.as_os_str(),
        OsStr::new("-o"),
        out_wav.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: no such file: ") && err.contains("nosuch.flac"),
        "{err}"
    );
    assert!(!out_wav.exists());
}

/// One second of a sine tone made by ffmpeg (installed by `make test`) into `out`, with the
/// given output options.
fn sine(options: &[&str], out: &Path) {
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=1"])
        .args(options)
        .arg(out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make {}", out.display());
}

// ---------------------------------------------------------------------------------------------
// The settings file.

/// The titles of `ls --json` with the given extra arguments, in order.
fn json_titles(env: &Env, args: &[&str]) -> Vec<String> {
    let mut full = vec!["ls", "--json"];
    full.extend(args);
    env.ok(&full)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["title"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_settings_file_gives_ls_its_format_and_order_and_flags_override_it() {
    let env = library_env();
    let built_in = env.ok(&["ls"]);
    let descending = json_titles(&env, &["--sort", "title-"]);
    let ascending = json_titles(&env, &["--sort", "title+"]);
    assert_ne!(descending, ascending);
    let bracketed =
        |titles: &[String]| -> Vec<String> { titles.iter().map(|t| format!("[{t}]")).collect() };
    std::fs::write(
        env.config_file(),
        "# mine\n[list]\nformat = '[$title]'\nsort = 'title-'\n",
    )
    .unwrap();
    let lines =
        |args: &[&str]| -> Vec<String> { env.ok(args).lines().map(str::to_string).collect() };
    assert_eq!(lines(&["ls"]), bracketed(&descending));
    // --sort, and a sort term in the query, override the configured order.
    assert_eq!(lines(&["ls", "--sort", "title+"]), bracketed(&ascending));
    assert_eq!(lines(&["ls", "title+"]), bracketed(&ascending));
    // -f, --json and --paths override the configured format.
    assert_eq!(
        lines(&["ls", "-f", "$title", "--sort", "title+"]),
        ascending
    );
    assert_eq!(json_titles(&env, &[]), descending);
    assert!(lines(&["ls", "--paths"]).iter().all(|l| l.starts_with('/')));
    // Without the file, the built-in listing is back.
    std::fs::remove_file(env.config_file()).unwrap();
    assert_eq!(env.ok(&["ls"]), built_in);
}

#[test]
fn a_mistake_in_the_settings_file_names_the_file_line_and_key() {
    let env = library_env();
    std::fs::write(
        env.config_file(),
        "[list]\nformat = '$title'\n\n[play]\nvolum = 80\n",
    )
    .unwrap();
    let out = env.run(&["ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        format!(
            "error: {}, line 5: unknown key `play.volum`: did you mean `play.volume`?",
            env.config_file().display()
        )
    );
    std::fs::write(env.config_file(), "[play]\nvolume = 'loud'\n").unwrap();
    let err = String::from_utf8_lossy(&env.run(&["ls"]).stderr).into_owned();
    assert!(
        err.contains("line 2: `play.volume` takes an integer, not a string"),
        "{err}"
    );
}

#[test]
fn the_settings_file_gives_render_its_gain_and_convert_its_format() {
    let env = library_env();
    let dir = env.dir.path();
    let render = |name: &str, extra: &[&str]| -> Vec<u8> {
        let out = dir.join(name);
        let mut args = vec!["render", "title:=ALAC 16", "-o", out.to_str().unwrap()];
        args.extend(extra);
        env.ok(&args);
        std::fs::read(out).unwrap()
    };
    let plain = render("plain.wav", &[]);
    std::fs::write(
        env.config_file(),
        "[play]\npreamp = -6\nfallback_gain = -6\n\n[convert]\nformat = 'wav'\n",
    )
    .unwrap();
    let configured = render("configured.wav", &[]);
    assert_eq!(configured.len(), plain.len());
    assert_ne!(configured, plain, "the configured gain applies");
    let overridden = render("overridden.wav", &["--preamp", "0", "--fallback-gain", "0"]);
    assert_eq!(overridden, plain, "the flags override the configured gain");

    let to = dir.join("converted");
    let summary: Value = serde_json::from_str(
        env.ok(&[
            "convert",
            "title:=ALAC 16",
            "--json",
            "--to",
            to.to_str().unwrap(),
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(summary["format"], "wav");
    assert_eq!(summary["converted"], 1);
    let summary: Value = serde_json::from_str(
        env.ok(&[
            "convert",
            "title:=ALAC 16",
            "--json",
            "--format",
            "flac",
            "--to",
            to.to_str().unwrap(),
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(summary["format"], "flac");
    std::fs::remove_file(env.config_file()).unwrap();
    let out = env.run(&["convert", "--to", to.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format is needed"));
}

#[test]
fn config_shows_each_setting_and_where_it_comes_from() {
    let env = Env::new();
    let shown: Value = serde_json::from_str(env.ok(&["config", "--json"]).trim()).unwrap();
    assert_eq!(shown["config_file"]["exists"], false);
    assert_eq!(shown["config_file"]["source"], "env");
    assert_eq!(shown["db"]["source"], "env");
    assert_eq!(shown["db"]["path"], env.db().to_str().unwrap());
    assert_eq!(shown["settings"]["play.volume"]["value"], 100);
    assert_eq!(shown["settings"]["play.volume"]["source"], "default");
    assert_eq!(
        shown["settings"]["keys.quit"]["value"],
        serde_json::json!(["q", "esc"])
    );
    std::fs::write(
        env.config_file(),
        "[play]\nvolume = 70\n\n[keys]\nquit = 'x'\nnext = ['l', 'right']\n",
    )
    .unwrap();
    let shown: Value = serde_json::from_str(env.ok(&["config", "--json"]).trim()).unwrap();
    let volume = &shown["settings"]["play.volume"];
    assert_eq!(volume["value"], 70);
    assert_eq!(volume["source"], "file");
    assert_eq!(volume["line"], 2);
    assert_eq!(volume["file"], env.config_file().to_str().unwrap());
    assert_eq!(
        shown["settings"]["keys.quit"]["value"],
        serde_json::json!(["x"])
    );
    assert_eq!(
        shown["settings"]["keys.seek_forward"]["value"],
        serde_json::json!([]),
        "right went to next"
    );
    assert_eq!(shown["settings"]["list.sort"]["value"], Value::Null);
    let text = env.ok(&["config"]);
    let line = |key: &str| -> String {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} missing from:\n{text}"))
            .to_string()
    };
    assert!(
        line("play.volume").ends_with(&format!("70  [{}:2]", env.config_file().display())),
        "{text}"
    );
    assert!(
        line("play.replaygain").ends_with("auto  [default]"),
        "{text}"
    );
    assert!(line("db").ends_with("[TAPEDECK_DB]"), "{text}");
    let flagged = env.ok(&["--db", "/tmp/elsewhere.db", "config"]);
    assert!(
        flagged
            .lines()
            .any(|l| l.starts_with("db ") && l.ends_with("/tmp/elsewhere.db  [--db]")),
        "{flagged}"
    );
}

#[test]
fn album_lines_take_templates_of_album_fields() {
    let env = library_env();
    // The album's tracks, as `ls --json` shows them, are the oracle for its fields.
    let tracks: Vec<Value> = env
        .ok(&["ls", "--json", "year:2020"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut formats: Vec<&str> = tracks
        .iter()
        .map(|t| t["format"].as_str().unwrap())
        .collect();
    formats.sort();
    formats.dedup();
    let t = &tracks[0];
    let artist = t["albumartist"].as_str().or(t["artist"].as_str()).unwrap();
    let template = "$albumartist|$album|$year|$tracks|$formats|$length";
    let total: f64 = tracks.iter().map(|t| t["duration"].as_f64().unwrap()).sum();
    let total = total.round() as u64;
    let expected = format!(
        "{artist}|{}|2020|{}|{}|{}:{:02}\n",
        t["album"].as_str().unwrap(),
        tracks.len(),
        formats.join(","),
        total / 60,
        total % 60
    );
    assert_eq!(env.ok(&["albums", "-f", template, "year:2020"]), expected);
    assert_eq!(
        env.ok(&["ls", "--albums", "-f", template, "year:2020"]),
        expected
    );
    assert_eq!(env.ok(&["ls", "-a", "-f", template, "year:2020"]), expected);
    // A track field is not an album field: the usual error, with a suggestion.
    let out = env.run(&["albums", "-f", "$albm"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `$albm`") && err.contains("`$album`"),
        "{err}"
    );
    let out = env.run(&["ls", "-a", "-f", "$title"]);
    assert_eq!(out.status.code(), Some(2));
    // The configured album format applies to both, and -f and --json override it.
    std::fs::write(
        env.config_file(),
        "[list]\nalbum_format = '$album ($year)'\n",
    )
    .unwrap();
    let configured = format!("{} (2020)\n", t["album"].as_str().unwrap());
    assert_eq!(env.ok(&["albums", "year:2020"]), configured);
    assert_eq!(env.ok(&["ls", "-a", "year:2020"]), configured);
    assert_eq!(env.ok(&["albums", "-f", template, "year:2020"]), expected);
    let json: Value =
        serde_json::from_str(env.ok(&["albums", "--json", "year:2020"]).trim()).unwrap();
    assert_eq!(json["tracks"], tracks.len());
    assert_eq!(json["formats"], formats.join(","));
}

// ---------------------------------------------------------------------------------------------
// Help topics, the manual page and completions.

/// Runs `program args` with `input` on stdin, requiring success and no stderr; returns stdout.
fn filter(program: &str, args: &[&str], input: &[u8], envs: &[(&str, &str)]) -> String {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} (installed by `make test`): {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed");
    assert!(
        out.stderr.is_empty(),
        "{program} warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_manual_page_renders_and_holds_every_command() {
    use clap::CommandFactory;
    let env = Env::new();
    // A broken settings file does not stand in the way of the manual.
    std::fs::write(env.config_file(), "[nonsense\n").unwrap();
    let roff = env.ok(&["man"]);
    assert!(
        roff.starts_with(".ie") || roff.contains(".TH tapedeck 1"),
        "{}",
        &roff[..200]
    );
    // groff with warnings on, and man-db's own reader.
    let groff = filter(
        "groff",
        &["-k", "-man", "-Tutf8", "-ww"],
        roff.as_bytes(),
        &[],
    );
    let plain: String = {
        // Bold and underline are overstrikes in groff's terminal output.
        let mut s = String::new();
        for c in groff.chars() {
            if c == '\u{8}' {
                s.pop();
            } else {
                s.push(c);
            }
        }
        s
    };
    let man = filter(
        "man",
        &["-l", "-"],
        roff.as_bytes(),
        &[
            ("MANWIDTH", "100"),
            ("MAN_KEEP_FORMATTING", ""),
            ("PAGER", "cat"),
        ],
    );
    for text in [&plain, &man] {
        for heading in [
            "NAME",
            "SYNOPSIS",
            "COMMANDS",
            "QUERY",
            "TEMPLATES",
            "FILES",
            "EXIT STATUS",
        ] {
            assert!(text.lines().any(|l| l == heading), "{heading} missing");
        }
    }
    let cmd = tapedeck::cli::Args::command();
    let mut names = Vec::new();
    for sub in cmd.get_subcommands() {
        names.push(format!("tapedeck {}", sub.get_name()));
        for inner in sub.get_subcommands().filter(|s| s.get_name() != "help") {
            names.push(format!("tapedeck {} {}", sub.get_name(), inner.get_name()));
        }
    }
    assert!(names.len() > 25, "{names:?}");
    for name in &names {
        assert!(
            plain.lines().any(|l| l.trim() == name.as_str()),
            "{name} has no section"
        );
    }
    // Options carry their values: --replaygain lists its modes.
    assert!(plain.contains("--replaygain"));
    assert!(plain.contains("values: off, track, album, auto"), "{plain}");
    assert!(plain.contains("artist:=~björk"), "UTF-8 survives");
}

#[test]
fn help_topics_explain_queries_and_templates_and_name_commands() {
    let env = Env::new();
    let query = env.ok(&["help", "query"]);
    for needle in [
        "year:1990..1999",
        "artist:=Björk",
        "title::^Love",
        "a b , c",
        "^genre:",
    ] {
        assert!(query.contains(needle), "{needle} missing from help query");
    }
    let templates = env.ok(&["help", "templates"]);
    for needle in [
        "${title}s",
        "$$",
        "$disc",
        "albumartist",
        "tracks",
        "formats",
    ] {
        assert!(
            templates.contains(needle),
            "{needle} missing from help templates"
        );
    }
    // Commands still have their help, nested too, and the list names the topics.
    assert!(
        env.ok(&["help", "playlist", "new"])
            .contains("Usage: tapedeck playlist new")
    );
    let top = env.ok(&["help"]);
    assert!(
        top.contains("Usage: tapedeck") && top.contains("templates"),
        "{top}"
    );
    let out = env.run(&["help", "qeury"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `query`?"));
}

/// Runs `shell -c script` with the binary on PATH as `tapedeck` and this environment's library.
fn in_shell(env: &Env, shell: &str, script: &str) -> String {
    let bin = env.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("tapedeck");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tapedeck"), &link).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(shell)
        .arg("-c")
        .arg(script)
        .current_dir(env.dir.path())
        .env("PATH", path)
        .env("TAPEDECK_DB", env.db())
        .env("TAPEDECK_CONFIG", env.config_file())
        .output()
        .unwrap_or_else(|e| panic!("{shell} (installed by `make test`): {e}"));
    assert!(
        out.status.success(),
        "{shell} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_offer_formats_modes_profiles_and_playlist_names() {
    let env = Env::new();
    env.ok(&["playlist", "new", "Road trip"]);
    env.ok(&["playlist", "new", "Car"]);
    for shell in ["bash", "zsh", "fish"] {
        let script = env.ok(&["completions", shell]);
        std::fs::write(env.dir.path().join(format!("c.{shell}")), script).unwrap();
    }
    // bash: the completion function, called as bash calls it.
    let bash = |words: &[&str]| -> Vec<String> {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let script = format!(
            "source c.bash; COMP_WORDS=({}); COMP_CWORD={}; \
             _tapedeck_with_playlists tapedeck \"${{COMP_WORDS[COMP_CWORD]}}\" \
             \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            quoted.join(" "),
            words.len() - 1
        );
        let mut got: Vec<String> = in_shell(&env, "bash", &script)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        got.sort();
        got
    };
    assert_eq!(bash(&["tapedeck", "ls", "-p", ""]), ["Car", "Road\\ trip"]);
    assert_eq!(
        bash(&["tapedeck", "play", "--playlist", "R"]),
        ["Road\\ trip"]
    );
    assert_eq!(bash(&["tapedeck", "playlist", "show", "C"]), ["Car"]);
    assert_eq!(
        bash(&["tapedeck", "convert", "--format", ""]),
        ["aac", "aiff", "alac", "flac", "mp3", "wav"]
    );
    assert_eq!(
        bash(&["tapedeck", "export", "--profile", ""]),
        ["car", "car-strict", "stick"]
    );
    assert_eq!(
        bash(&["tapedeck", "play", "--replaygain", ""]),
        ["album", "auto", "off", "track"]
    );
    // fish: its own `complete -C` on a command line.
    let fish = |line: &str| -> Vec<String> {
        let out = in_shell(
            &env,
            "fish",
            &format!("source c.fish; complete -C '{line}'"),
        );
        let mut got: Vec<String> = out
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect();
        got.sort();
        got
    };
    assert_eq!(fish("tapedeck ls -p "), ["Car", "Road trip"]);
    assert_eq!(fish("tapedeck playlist show "), ["Car", "Road trip"]);
    assert_eq!(
        fish("tapedeck export --profile "),
        ["car", "car-strict", "stick"]
    );
    assert_eq!(
        fish("tapedeck play --replaygain "),
        ["album", "auto", "off", "track"]
    );
    assert_eq!(
        fish("tapedeck convert --copy "),
        ["aac", "aiff", "alac", "flac", "mp3", "wav"]
    );
    // zsh: the script parses, and the playlist helper lists the names.
    let zsh = in_shell(
        &env,
        "zsh",
        "zsh -n c.zsh && source c.zsh 2>/dev/null; compadd() { shift; print -l -- ${(P)1}; }; \
         _tapedeck_playlists",
    );
    assert_eq!(zsh.lines().collect::<Vec<_>>(), ["Car", "Road trip"]);
}

/// tapedeck's own messages and clap's are coloured by the same rules: on a terminal, not when
/// piped, never with NO_COLOR, always with CLICOLOR_FORCE, and as `--color` says over both.
#[test]
fn messages_are_coloured_like_clap_messages() {
    let env = Env::new();
    // `ls` with no library is tapedeck's error; `--bogus` is clap's.
    let run = |vars: &[(&str, &str)], extra: &[&str], terminal: bool| -> [String; 2] {
        [&["ls"][..], &["--bogus"][..]].map(|args| {
            let mut all: Vec<&str> = extra.to_vec();
            all.extend(args);
            let out = if terminal {
                // `script` runs the command on a pseudo-terminal; its output is what the
                // terminal showed, stderr included.
                let line = std::iter::once(env!("CARGO_BIN_EXE_tapedeck").to_string())
                    .chain(all.iter().map(|a| a.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ");
                let mut c = Command::new("script");
                c.env("TAPEDECK_DB", env.db())
                    .env("TERM", "xterm-256color")
                    .env_remove("NO_COLOR")
                    .env_remove("CLICOLOR_FORCE")
                    .env_remove("CLICOLOR")
                    .envs(vars.iter().copied())
                    .args(["-qec", &line, "/dev/null"]);
                let o = c.output().unwrap();
                String::from_utf8_lossy(&o.stdout).into_owned()
            } else {
                let o = env
                    .cmd()
                    .envs(vars.iter().copied())
                    .args(&all)
                    .output()
                    .unwrap();
                assert!(o.stdout.is_empty());
                String::from_utf8_lossy(&o.stderr).into_owned()
            };
            assert!(out.contains("error:"), "{args:?}: {out}");
            out
        })
    };
    // (environment, arguments, on a terminal, coloured)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], bool, bool);
    let cases: &[Case] = &[
        (&[], &[], false, false),
        (&[("CLICOLOR_FORCE", "1")], &[], false, true),
        (&[], &["--color", "always"], false, true),
        (&[("NO_COLOR", "1")], &["--color=always"], false, true),
        (
            &[("CLICOLOR_FORCE", "1")],
            &["--color", "never"],
            false,
            false,
        ),
        (&[], &[], true, true),
        (&[("NO_COLOR", "1")], &[], true, false),
        (&[], &["--color", "never"], true, false),
    ];
    for (vars, extra, terminal, coloured) in cases {
        let [ours, claps] = run(vars, extra, *terminal);
        let what = format!("{vars:?} {extra:?} terminal: {terminal}");
        assert_eq!(
            ours.contains("\x1b[1;31merror:\x1b[0m"),
            *coloured,
            "{what}: {ours:?}"
        );
        assert_eq!(ours.contains('\x1b'), *coloured, "{what}: {ours:?}");
        assert_eq!(claps.contains('\x1b'), *coloured, "{what}: {claps:?}");
    }
}
