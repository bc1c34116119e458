//! End-to-end tests of `tapedeck convert`: every output format decoded back (sample counts,
//! PCM identity for lossless), tags and covers checked with the project's reader and ffprobe,
//! hostile tags, collisions, refusals, and interrupt-and-rerun.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tapedeck::audio::decode::{Decoder, decode_all};

mod common;

use common::{Env, fixture};

impl Env {
    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn add(&self, rel: &str, name: &str) -> PathBuf {
        let dest = self.music().join(name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(fixture(rel), &dest).unwrap();
        dest
    }

    fn scan(&self) {
        self.ok(&["scan", "-q", self.music().to_str().unwrap()]);
    }

    fn convert(&self, extra: &[&str]) -> Value {
        let out_dir = self.out_dir();
        let mut args = vec!["convert", "--json", "--to", out_dir.to_str().unwrap()];
        args.extend(extra);
        let out = self.ok(&args);
        serde_json::from_str(out.trim()).unwrap()
    }
}

/// The files under `dir`, tapedeck's own folder (`.tapedeck`, its lock and record) left out.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".tapedeck")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// ffprobe's view of a file's tags (lower-case keys), or None when ffprobe is missing.
fn ffprobe_tags(path: &Path) -> Option<serde_json::Map<String, Value>> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
        .arg(path)
        .output()
        .ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let tags = v["format"]["tags"].as_object().cloned().unwrap_or_default();
    Some(
        tags.into_iter()
            .map(|(k, v)| (k.to_lowercase(), v))
            .collect(),
    )
}

#[test]
fn every_format_round_trips_with_exact_length_lossless_identity_tags_and_cover() {
    let env = Env::new();
    let src = env.add("library/flac/picture.flac", "a/picture.flac");
    env.scan();
    let (src_spec, src_pcm) = decode_all(&src).unwrap();
    let frames = src_pcm.len() / usize::from(src_spec.channels);
    for format in ["flac", "alac", "wav", "aiff", "mp3", "aac"] {
        let out_dir = env.dir.path().join(format!("out-{format}"));
        env.ok(&[
            "convert",
            "-q",
            "--to",
            out_dir.to_str().unwrap(),
            "--format",
            format,
        ]);
        let files = files_under(&out_dir);
        assert_eq!(files.len(), 1, "{format}: {files:?}");
        let out = &files[0];
        let (spec, pcm) = decode_all(out).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(spec.rate, src_spec.rate, "{format}");
        assert_eq!(
            pcm.len() / usize::from(spec.channels),
            frames,
            "{format}: frame count"
        );
        if matches!(format, "flac" | "alac" | "wav" | "aiff") {
            assert!(
                pcm == src_pcm,
                "{format}: decoded PCM differs from the source"
            );
        }
        // Tags, through the project's reader and ffprobe.
        let mut file = std::fs::File::open(out).unwrap();
        let tags = tapedeck::tags::read(&mut file).unwrap().raw;
        assert_eq!(tags.title, ["FLAC Picture"], "{format}");
        assert!(tapedeck::tags::read_cover(out).is_some(), "{format}: cover");
        if let Some(t) = ffprobe_tags(out) {
            assert_eq!(
                t.get("title").and_then(Value::as_str),
                Some("FLAC Picture"),
                "{format}: {t:?}"
            );
            assert_eq!(
                t.get("album").and_then(Value::as_str),
                Some("Eta Album"),
                "{format}"
            );
        }
        // No temporary files left behind.
        assert!(
            !files
                .iter()
                .any(|f| f.to_string_lossy().contains("tapedeck-part"))
        );
    }
}

#[test]
fn lossless_formats_convert_into_each_other_bit_exactly() {
    let env = Env::new();
    env.add("library/wav/id3-chunk.wav", "w/24bit.wav");
    env.scan();
    let (_, original) = decode_all(&env.music().join("w/24bit.wav")).unwrap();
    // WAV 24 -> FLAC -> ALAC -> AIFF -> WAV, each step scanned and converted again.
    let mut current = env.music();
    for (i, format) in ["flac", "alac", "aiff", "wav"].iter().enumerate() {
        let step = env.dir.path().join(format!("step{i}"));
        let db = env.dir.path().join(format!("step{i}.db"));
        let run = |args: &[&str]| {
            let out = env
                .cmd()
                .env("TAPEDECK_DB", &db)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        // Each step's output is a convert target, which a scan skips unless asked.
        run(&["scan", "-q", "--include-targets", current.to_str().unwrap()]);
        run(&[
            "convert",
            "-q",
            "--to",
            step.to_str().unwrap(),
            "--format",
            format,
        ]);
        let files = files_under(&step);
        assert_eq!(files.len(), 1);
        let d = Decoder::open(&files[0]).unwrap();
        assert_eq!(d.spec().bits, Some(24), "{format} keeps 24 bits");
        let (_, pcm) = decode_all(&files[0]).unwrap();
        assert!(pcm == original, "{format}: PCM changed");
        current = step;
    }
}

#[test]
fn hostile_tags_never_escape_the_target_and_collisions_get_distinct_names() {
    let env = Env::new();
    let hostile = [
        ("../../../../tmp/escape", "..", "/"),
        ("a/b\\c", "../..", "CON"),
        ("\u{202e}txt.exe", ".", "x\u{0}y"),
        ("same", "Album", "Artist"),
        ("same", "Album", "Artist"),
        ("SAME", "album", "artist"),
    ];
    for (i, (title, album, artist)) in hostile.iter().enumerate() {
        let p = env.add("library/flac/picture.flac", &format!("h/{i}.flac"));
        tapedeck::tags::write(
            &p,
            &tapedeck::tags::TagEdit {
                title: Some(title.to_string()),
                album: Some(album.to_string()),
                artist: Some(artist.to_string()),
                album_artist: Some(artist.to_string()),
                track: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    }
    env.scan();
    let summary = env.convert(&["--format", "flac"]);
    assert_eq!(summary["converted"], 6, "{summary}");
    let out_dir = env.out_dir().canonicalize().unwrap();
    let files = files_under(&out_dir);
    assert_eq!(files.len(), 6, "nothing skipped or overwritten: {files:?}");
    let mut lower: Vec<String> = files
        .iter()
        .map(|f| f.to_string_lossy().to_lowercase())
        .collect();
    lower.sort();
    lower.dedup();
    assert_eq!(lower.len(), 6, "distinct even ignoring case: {files:?}");
    for f in &files {
        let real = f.canonicalize().unwrap();
        assert!(real.starts_with(&out_dir), "{} escaped", real.display());
        for c in f.strip_prefix(&out_dir).unwrap().components() {
            let s = c.as_os_str().to_string_lossy();
            assert!(!s.chars().any(char::is_control), "{s:?}");
            assert!(!s.contains('\u{202e}'), "{s:?}");
            assert!(s != "." && s != ".." && !s.is_empty());
        }
    }
    assert!(!Path::new("/tmp/escape.flac").exists());
}

#[test]
fn lossy_sources_are_refused_unless_allowed_and_reruns_skip_what_is_done() {
    let env = Env::new();
    env.add("library/mp3/id3v23.mp3", "m/a.mp3");
    env.add("library/flac/picture.flac", "m/b.flac");
    env.scan();
    let out = env.run(&[
        "convert",
        "--to",
        env.out_dir().to_str().unwrap(),
        "--format",
        "aac",
    ]);
    assert!(out.status.success());
    // One line per reason, with its count; -v names each file; --json lists them all.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused 1 file: the source is lossy (mp3)")
            && stderr.contains("--allow-lossy-source")
            && !stderr.contains("a.mp3"),
        "{stderr}"
    );
    assert_eq!(files_under(&env.out_dir()).len(), 1);
    let dry = env.run(&[
        "-v",
        "convert",
        "--to",
        env.out_dir().to_str().unwrap(),
        "--format",
        "aac",
        "--dry-run",
        "--json",
    ]);
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stderr).contains("a.mp3"));
    let plan: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(plan["refuse"], 1, "{plan}");
    assert_eq!(plan["skip"], 1, "{plan}");
    let refused: Vec<&serde_json::Value> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["action"] == "refuse")
        .collect();
    assert!(
        refused[0]["source"].as_str().unwrap().ends_with("a.mp3"),
        "{plan}"
    );
    assert!(
        refused[0]["reason"].as_str().unwrap().contains("lossy"),
        "{plan}"
    );
    // Same settings again: nothing to do.
    let again = env.convert(&["--format", "aac"]);
    assert_eq!(
        (again["converted"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(1))
    );
    // Allowed: the lossy source converts too; the done one is still skipped.
    let allowed = env.convert(&["--format", "aac", "--allow-lossy-source"]);
    assert_eq!(
        (allowed["converted"].as_u64(), allowed["skipped"].as_u64()),
        (Some(1), Some(1))
    );
    // Other settings: redone in place, not duplicated.
    let other = env.convert(&[
        "--format",
        "aac",
        "--bitrate",
        "128",
        "--allow-lossy-source",
    ]);
    assert_eq!(other["converted"], 2);
    assert_eq!(files_under(&env.out_dir()).len(), 2);
    // History.
    let history: Vec<Value> = env
        .ok(&["converted", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0]["written"], 2);
    assert_eq!(history[3]["refused"], 1);
}

#[test]
fn dry_run_writes_nothing_and_bad_options_are_usage_errors() {
    let env = Env::new();
    env.add("library/flac/picture.flac", "a.flac");
    env.scan();
    let out = env.ok(&[
        "convert",
        "--dry-run",
        "--to",
        env.out_dir().to_str().unwrap(),
        "--format",
        "mp3",
    ]);
    assert!(out.contains("convert\t"), "{out}");
    assert!(!env.out_dir().exists());
    for bad in [
        vec!["--format", "ogg"],
        vec!["--format", "mp3", "--bitrate", "500"],
        vec!["--format", "flac", "--bitrate", "320"],
        vec!["--format", "aac", "--vbr", "V2"],
        vec!["--format", "mp3", "--bit-depth", "24"],
        vec!["--format", "flac", "--bit-depth", "20"],
        vec!["--format", "mp3", "--template", "$nosuchfield"],
    ] {
        let mut args = vec!["convert", "--to", "/tmp/never"];
        args.extend(bad.iter().copied());
        let out = env.run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn apply_gain_bakes_the_gain_and_drops_the_tags() {
    let env = Env::new();
    let src = env.add("library/flac/picture.flac", "g.flac");
    env.scan();
    let track: Value = serde_json::from_str(env.ok(&["ls", "--json"]).trim()).unwrap();
    let gain = track["rg_track_gain"]
        .as_f64()
        .expect("fixture has a track gain");
    let peak = track["rg_track_peak"].as_f64().unwrap_or(0.0);
    env.convert(&[
        "--format",
        "flac",
        "--apply-gain",
        "track",
        "--bit-depth",
        "24",
    ]);
    let out = &files_under(&env.out_dir())[0];
    let (_, src_pcm) = decode_all(&src).unwrap();
    let (_, out_pcm) = decode_all(out).unwrap();
    let db = if peak > 0.0 {
        gain.min(-20.0 * peak.log10())
    } else {
        gain
    };
    let scale = 10f64.powf(db / 20.0);
    let worst = src_pcm
        .iter()
        .zip(&out_pcm)
        .map(|(s, o)| (f64::from(*s) * scale - f64::from(*o)).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2.0 / 8_388_608.0, "off by {worst}");
    let mut f = std::fs::File::open(out).unwrap();
    let raw = tapedeck::tags::read(&mut f).unwrap().raw;
    assert!(
        raw.rg_track_gain.is_empty() && raw.rg_album_gain.is_empty(),
        "gain tags dropped"
    );
}

#[test]
fn an_interrupted_run_leaves_no_partial_file_and_a_rerun_finishes() {
    let env = Env::new();
    for i in 0..12 {
        env.add("library/flac/picture.flac", &format!("i/{i:02}.flac"));
    }
    // Distinct audio identities are not needed: each file is its own track.
    env.scan();
    let out_dir = env.out_dir();
    let mut child = env
        .cmd()
        .args([
            "convert",
            "-q",
            "-j",
            "1",
            "--to",
            out_dir.to_str().unwrap(),
            "--format",
            "flac",
            "--flac-level",
            "8",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    child.wait().unwrap();
    // Whatever was written is complete; a temporary file may remain (hidden), never a partial
    // file under a real name.
    for f in files_under(&out_dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".tapedeck-part") {
            assert!(name.starts_with('.'));
            continue;
        }
        decode_all(&f).unwrap_or_else(|e| panic!("{name} is damaged: {e}"));
    }
    let summary = env.convert(&["--format", "flac", "--flac-level", "8"]);
    let done = summary["converted"].as_u64().unwrap() + summary["skipped"].as_u64().unwrap();
    assert_eq!(done, 12, "{summary}");
    let names: Vec<PathBuf> = files_under(&out_dir);
    assert_eq!(names.len(), 12, "temporary files cleaned: {names:?}");
}

#[test]
fn copied_formats_arrive_byte_identical_are_skipped_on_rerun_and_the_history_keeps_the_query() {
    let env = Env::new();
    let mp3 = env.add("library/mp3/id3v23.mp3", "m/a.mp3");
    let m4a = env.add("library/aac/tagged.m4a", "m/c.m4a");
    let flac = env.add("library/flac/picture.flac", "m/b.flac");
    env.scan();
    // Without --copy the MP3 and AAC sources are refused: "an MP3 folder" was impossible.
    let refused = env.convert(&["--format", "mp3", "--dry-run"]);
    assert_eq!(
        (refused["refuse"].as_u64(), refused["convert"].as_u64()),
        (Some(2), Some(1))
    );
    let first = env.convert(&[
        "--format",
        "mp3",
        "--copy-matching",
        "--copy",
        "aac",
        "path:/m/",
    ]);
    assert_eq!(
        (
            first["converted"].as_u64(),
            first["copied"].as_u64(),
            first["refused"].as_u64()
        ),
        (Some(1), Some(2), Some(0)),
        "{first}"
    );
    let files = files_under(&env.out_dir());
    assert_eq!(files.len(), 3, "{files:?}");
    let by_ext = |ext: &str| -> Vec<&PathBuf> {
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect()
    };
    // Copies keep their bytes (tags included) and their own extension.
    let copied_mp3: Vec<&PathBuf> = by_ext("mp3")
        .into_iter()
        .filter(|p| std::fs::read(p).unwrap() == std::fs::read(&mp3).unwrap())
        .collect();
    assert_eq!(copied_mp3.len(), 1, "{files:?}");
    let copied_m4a = by_ext("m4a");
    assert_eq!(copied_m4a.len(), 1, "{files:?}");
    assert_eq!(
        std::fs::read(copied_m4a[0]).unwrap(),
        std::fs::read(&m4a).unwrap()
    );
    // The FLAC source was encoded, so its MP3 is not its bytes.
    let encoded: Vec<&PathBuf> = by_ext("mp3")
        .into_iter()
        .filter(|p| !copied_mp3.contains(p))
        .collect();
    assert_eq!(encoded.len(), 1);
    assert_ne!(
        std::fs::read(encoded[0]).unwrap(),
        std::fs::read(&flac).unwrap()
    );
    let (spec, _) = decode_all(encoded[0]).unwrap();
    assert!(spec.rate > 0);
    // A rerun skips all three, copies included.
    let again = env.convert(&["--format", "mp3", "--copy", "mp3,aac"]);
    assert_eq!(
        (
            again["converted"].as_u64(),
            again["copied"].as_u64(),
            again["skipped"].as_u64()
        ),
        (Some(0), Some(0), Some(3)),
        "{again}"
    );
    assert_eq!(files_under(&env.out_dir()), files);
    // The history says what each run was of.
    let history: Vec<Value> = env
        .ok(&["converted", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["query"], "path:/m/");
    assert_eq!(history[1]["playlist"], Value::Null);
    assert!(
        history[1]["settings"]
            .as_str()
            .unwrap()
            .ends_with("copy=aac,mp3"),
        "{}",
        history[1]
    );
    assert_eq!(history[0]["query"], Value::Null);
    let text = env.ok(&["converted"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].contains("query: path:/m/"), "{text}");
    assert!(lines[0].contains("everything"), "{text}");
    // A query with spaces and a playlist are recorded as given.
    env.ok(&["playlist", "new", "Road trip"]);
    env.ok(&["playlist", "add", "Road trip", "format:flac"]);
    let out = env.run(&[
        "convert",
        "--to",
        env.out_dir().to_str().unwrap(),
        "--format",
        "mp3",
        "-p",
        "Road trip",
        "^artist:no one",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let latest: Value =
        serde_json::from_str(env.ok(&["converted", "--json"]).lines().next().unwrap()).unwrap();
    assert_eq!(latest["query"], "'^artist:no one'");
    assert_eq!(latest["playlist"], "Road trip");
}
