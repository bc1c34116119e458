//! End-to-end tests of `tapedeck analyze`: loudness against ffmpeg's `ebur128` filter and
//! album gain against loudgain on signals made at test time, EBU Tech 3341 levels, incremental
//! runs and what a rescan keeps, damaged copies found (and agreeing with `flac -t` and
//! `ffmpeg -v error`), `problems`, and the computed gain that `render` applies to untagged
//! tracks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

use common::Env;

/// Makes `path` with ffmpeg from a lavfi source (`-ac 2`), the extension choosing the format
/// unless `codec` is given.
fn make(path: &Path, source: &str, codec: &[&str], tags: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args([
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        source,
        "-ac",
        "2",
    ])
    .args(codec);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    let ok = c
        .arg(path)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ffmpeg could not make {}", path.display());
}

/// Integrated loudness (LUFS) and true peak (dBTP) as ffmpeg's `ebur128=peak=true` reports.
fn ffmpeg_loudness(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg failed on {}", path.display());
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = &text[text.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |label: &str| -> f64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} in {summary}"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// loudgain's album run (`-a -O`): each file's track gain, then the album gain, in dB.
fn loudgain_album(files: &[PathBuf]) -> (Vec<f64>, f64) {
    let out = Command::new("loudgain")
        .args(["-a", "-O", "-q"])
        .args(files)
        .output()
        .expect("loudgain runs (installed by make deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let gain = |line: &str| -> f64 {
        let col = line.split('\t').nth(8).unwrap();
        col.trim_end_matches(" dB").parse().unwrap()
    };
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let (album, tracks) = rows.split_last().unwrap();
    assert!(album.starts_with("Album\t"), "{text}");
    (tracks.iter().map(|l| gain(l)).collect(), gain(album))
}

impl Env {
    fn scan(&self) {
        self.ok(&["scan", "-q", self.music().to_str().unwrap()]);
    }

    fn analyze(&self, extra: &[&str]) -> Value {
        let mut args = vec!["analyze", "--json"];
        args.extend(extra);
        serde_json::from_str(self.ok(&args).trim()).unwrap()
    }

    /// Every track as `ls --json` prints it, by file name.
    fn tracks(&self, query: &[&str]) -> Vec<(String, Value)> {
        let mut args = vec!["ls", "--json"];
        args.extend(query);
        self.ok(&args)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let name = v["path"].as_str().map(str::to_string).unwrap_or_default();
                (name, v)
            })
            .collect()
    }

    fn track(&self, name: &str) -> Value {
        let path = self.music().join(name);
        let out = self.ok(&["ls", "--json", &format!("path:{}", path.display())]);
        let line = out
            .lines()
            .next()
            .unwrap_or_else(|| panic!("{name} not listed"));
        serde_json::from_str(line).unwrap()
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn loudness_and_true_peak_match_ffmpeg_on_every_format() {
    let env = Env::new();
    let noise = "anoisesrc=color=pink:duration=12:seed=7,volume=0.25";
    let formats: &[(&str, &[&str])] = &[
        ("t.flac", &[]),
        ("t.wav", &[]),
        ("t.aiff", &[]),
        ("t.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"]),
        ("t.m4a", &["-c:a", "aac", "-b:a", "160k"]),
        ("alac.m4a", &["-c:a", "alac"]),
    ];
    for (name, codec) in formats {
        make(&env.music().join(name), noise, codec, &[("title", name)]);
    }
    env.scan();
    let summary = env.analyze(&[]);
    assert_eq!(summary["analysed"], formats.len());
    assert_eq!(summary["damaged"].as_array().unwrap().len(), 0, "{summary}");
    for (name, _) in formats {
        let t = env.track(name);
        let (lufs, peak) = ffmpeg_loudness(&env.music().join(name));
        let ours = num(&t, "loudness");
        // ffmpeg prints a tenth; ours is a hundredth: within 0.1 LU plus ffmpeg's rounding.
        assert!(
            (ours - lufs).abs() <= 0.15,
            "{name}: {ours} vs ffmpeg {lufs}"
        );
        assert!(
            (num(&t, "truepeak") - peak).abs() <= 0.2,
            "{name}: true peak"
        );
        assert!(
            (num(&t, "rg_track") - (-18.0 - ours)).abs() < 0.011,
            "{name}"
        );
        assert_eq!(
            t["integrity"],
            Value::Null,
            "integrity is a computed field, not a key"
        );
        assert_eq!(t["damage"], Value::Null);
    }
    // Queryable: the fields, and integrity and analysed as computed ones.
    assert_eq!(env.tracks(&["integrity:ok"]).len(), formats.len());
    assert_eq!(env.tracks(&["analysed:false"]).len(), 0);
    assert_eq!(env.tracks(&["loudness:-100..-1"]).len(), formats.len());
    let formatted = env.ok(&["ls", "-f", "$integrity $analysed", "format:flac"]);
    assert_eq!(formatted.trim(), "ok yes");
}

/// The decoded audio of a file, as ffmpeg's MD5 of its PCM.
fn audio_md5(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-f", "md5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg could not decode {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The ReplayGain tags mutagen reads from a file, whatever its tag format, keys lowercased.
fn mutagen_replaygain(path: &Path) -> std::collections::BTreeMap<String, String> {
    let script = r#"
import sys, json, mutagen
f = mutagen.File(sys.argv[1])
out = {}
for k, v in (f.tags or {}).items():
    key = k.split(':')[-1].lower()
    if 'replaygain' in key:
        if isinstance(v, list):
            v = v[0]
        if hasattr(v, 'text'):
            v = v.text[0]
        if isinstance(v, bytes) or type(v).__name__ == 'MP4FreeForm':
            v = bytes(v).decode()
        out[key] = str(v)
print(json.dumps(out))
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn write_tags_puts_replaygain_into_every_format_and_only_when_asked() {
    let env = Env::new();
    let tone = "sine=frequency=440:duration=6,volume=0.3";
    let formats: &[(&str, &[&str])] = &[
        ("a/1.flac", &[]),
        ("a/2.mp3", &["-c:a", "libmp3lame", "-b:a", "192k"]),
        ("a/3.m4a", &["-c:a", "aac", "-b:a", "160k"]),
        ("a/4.wav", &[]),
        ("a/5.aiff", &[]),
    ];
    for (i, (name, codec)) in formats.iter().enumerate() {
        let n = (i + 1).to_string();
        make(
            &env.music().join(name),
            tone,
            codec,
            &[
                ("title", name),
                ("album", "Tones"),
                ("artist", "T"),
                ("track", &n),
            ],
        );
    }
    env.scan();
    let before: Vec<(Vec<u8>, String)> = formats
        .iter()
        .map(|(n, _)| {
            let p = env.music().join(n);
            (std::fs::read(&p).unwrap(), audio_md5(&p))
        })
        .collect();
    // Without the flag, nothing is written.
    env.analyze(&[]);
    for ((name, _), (bytes, _)) in formats.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(env.music().join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    let summary = env.analyze(&["--write-tags"]);
    assert_eq!(summary["tags"]["written"], formats.len(), "{summary}");
    assert_eq!(summary["tags"]["failed"], 0, "{summary}");
    let mut with_album = 0;
    for ((name, _), (_, md5)) in formats.iter().zip(&before) {
        let path = env.music().join(name);
        let t = env.track(name);
        let tags = mutagen_replaygain(&path);
        let gain = |key: &str| -> f64 {
            tags.get(key)
                .unwrap_or_else(|| panic!("{name}: no {key} in {tags:?}"))
                .trim_end_matches(" dB")
                .parse()
                .unwrap()
        };
        assert!(
            (gain("replaygain_track_gain") - num(&t, "rg_track")).abs() < 0.006,
            "{name}"
        );
        // ffmpeg writes no album into an AIFF file: a lone track gets no album values.
        match t["rg_album"].as_f64() {
            Some(album) => {
                assert!(
                    (gain("replaygain_album_gain") - album).abs() < 0.006,
                    "{name}"
                );
                with_album += 1;
            }
            None => assert!(!tags.contains_key("replaygain_album_gain"), "{name}"),
        }
        let peak = 10f64.powf(num(&t, "truepeak") / 20.0);
        assert!(
            (gain("replaygain_track_peak") - peak).abs() < 1e-5,
            "{name}: {tags:?}"
        );
        // The audio is untouched, and no copy is left beside the file.
        assert_eq!(&audio_md5(&path), md5, "{name}: audio changed");
    }
    assert!(with_album >= 4, "{with_album}");
    let left: Vec<_> = std::fs::read_dir(env.music().join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A rescan reads the new tags; files that already say the same are left alone.
    env.scan();
    let bytes: Vec<Vec<u8>> = formats
        .iter()
        .map(|(n, _)| std::fs::read(env.music().join(n)).unwrap())
        .collect();
    let again = env.analyze(&["--write-tags"]);
    assert_eq!(again["tags"]["written"], 0, "{again}");
    assert_eq!(again["tags"]["already_matching"], formats.len(), "{again}");
    for ((name, _), b) in formats.iter().zip(&bytes) {
        assert_eq!(&std::fs::read(env.music().join(name)).unwrap(), b, "{name}");
    }
}

#[test]
fn write_tags_leaves_a_file_changed_since_the_scan_and_a_link_alone() {
    let env = Env::new();
    let tone = "sine=frequency=330:duration=5,volume=0.2";
    make(
        &env.music().join("b/1.flac"),
        tone,
        &[],
        &[("title", "One")],
    );
    make(
        &env.music().join("b/2.flac"),
        tone,
        &[],
        &[("title", "Two")],
    );
    let outside = env.dir.path().join("outside.flac");
    make(&outside, tone, &[], &[("title", "Outside")]);
    std::os::unix::fs::symlink(&outside, env.music().join("b/3.flac")).unwrap();
    env.scan();
    env.analyze(&[]);
    // Changed after the scan: same content, a new time.
    let changed = env.music().join("b/2.flac");
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&changed)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let outside_before = std::fs::read(&outside).unwrap();
    let two_before = std::fs::read(&changed).unwrap();
    let out = env.run(&["analyze", "--write-tags", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2.flac: tags not written: it changed since the last scan"),
        "{err}"
    );
    assert!(err.contains("3.flac: tags not written"), "{err}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["tags"]["written"], 1, "{summary}");
    assert_eq!(summary["tags"]["failed"], 2, "{summary}");
    assert_eq!(
        std::fs::read(&outside).unwrap(),
        outside_before,
        "the link's target"
    );
    assert_eq!(std::fs::read(&changed).unwrap(), two_before);
    assert!(
        std::fs::symlink_metadata(env.music().join("b/3.flac"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        mutagen_replaygain(&env.music().join("b/1.flac")).contains_key("replaygain_track_gain")
    );
}

#[test]
fn ebu_tech_3341_levels_come_out_within_a_tenth() {
    let env = Env::new();
    // Tech 3341 cases 1, 2 and 3: a stereo 1 kHz sine at -23 and -33 dBFS, and -36/-23/-36 dBFS
    // for 10/60/10 s (made with sox, whose `vol` is exact in dB).
    type Case<'a> = (&'a str, &'a [(f64, f64)], f64);
    let cases: &[Case] = &[
        ("c1.wav", &[(-23.0, 20.0)], -23.0),
        ("c2.wav", &[(-33.0, 20.0)], -33.0),
        (
            "c3.wav",
            &[(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
            -23.0,
        ),
    ];
    for (name, parts, _) in cases {
        let mut pieces = Vec::new();
        for (i, (level, secs)) in parts.iter().enumerate() {
            let piece = env.dir.path().join(format!("{name}-{i}.wav"));
            let ok = Command::new("sox")
                .args(["-n", "-r", "48000", "-b", "24", "-c", "2"])
                .arg(&piece)
                .args([
                    "synth",
                    &secs.to_string(),
                    "sine",
                    "1000",
                    "vol",
                    &format!("{level}dB"),
                ])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "sox could not make {}", piece.display());
            pieces.push(piece);
        }
        let ok = Command::new("sox")
            .args(&pieces)
            .arg(env.music().join(name))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
    }
    env.scan();
    env.analyze(&[]);
    for (name, _, want) in cases {
        let got = num(&env.track(name), "loudness");
        assert!((got - want).abs() <= 0.1, "{name}: {got} LUFS, want {want}");
    }
}

#[test]
fn album_gain_matches_loudgain_and_is_gated_over_the_whole_album() {
    let env = Env::new();
    let album = env.music().join("album");
    let files: Vec<PathBuf> = [(0.4, 20), (0.12, 8), (0.03, 10)]
        .iter()
        .enumerate()
        .map(|(i, (vol, secs))| {
            let p = album.join(format!("{i}.flac"));
            make(
                &p,
                &format!("anoisesrc=color=pink:duration={secs}:seed={i},volume={vol}"),
                &[],
                &[
                    ("album", "Gated"),
                    ("artist", "Noise"),
                    ("track", &(i + 1).to_string()),
                ],
            );
            p
        })
        .collect();
    env.scan();
    // Selecting one track analyses the whole album.
    let summary = env.analyze(&["track:2"]);
    assert_eq!(summary["analysed"], 3, "{summary}");
    assert_eq!(summary["albums"], 1);
    let (tracks, album_gain) = loudgain_album(&files);
    let mut track_gains = Vec::new();
    for (i, want) in tracks.iter().enumerate() {
        let t = env.track(&format!("album/{i}.flac"));
        let got = num(&t, "rg_track");
        assert!(
            (got - want).abs() <= 0.1,
            "track {i}: {got} vs loudgain {want}"
        );
        let album = num(&t, "rg_album");
        assert!(
            (album - album_gain).abs() <= 0.1,
            "album: {album} vs loudgain {album_gain}"
        );
        track_gains.push(got);
    }
    // Not the mean of the track values: the loud, long track dominates the gated album.
    let mean = track_gains.iter().sum::<f64>() / 3.0;
    assert!(
        (album_gain - mean).abs() > 1.0,
        "{album_gain} vs mean {mean}"
    );
}

#[test]
fn reruns_skip_analysed_tracks_and_a_rescan_keeps_values_unless_the_audio_changed() {
    let env = Env::new();
    let a = env.music().join("a.flac");
    let b = env.music().join("b.flac");
    make(&a, "sine=frequency=500:duration=4", &[], &[("title", "A")]);
    make(&b, "sine=frequency=700:duration=4", &[], &[("title", "B")]);
    env.scan();
    assert_eq!(env.analyze(&[])["analysed"], 2);
    let again = env.analyze(&[]);
    assert_eq!(
        (again["analysed"].clone(), again["skipped"].clone()),
        (0.into(), 2.into())
    );
    assert_eq!(env.analyze(&["--force", "title:A"])["analysed"], 1);
    let before = env.track("b.flac");
    // A retag (same audio) keeps the analysis; new audio under the same name clears it.
    let ok = Command::new("metaflac")
        .args(["--set-tag=GENRE=Retagged"])
        .arg(&b)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok);
    make(
        &a,
        "sine=frequency=900:duration=5,volume=0.2",
        &[],
        &[("title", "A")],
    );
    env.scan();
    let b_after = env.track("b.flac");
    assert_eq!(b_after["genre"], "Retagged");
    assert_eq!(b_after["loudness"], before["loudness"]);
    assert_eq!(b_after["analysed_at"], before["analysed_at"]);
    let a_after = env.track("a.flac");
    assert_eq!(a_after["loudness"], Value::Null);
    assert_eq!(a_after["analysed_at"], Value::Null);
    assert_eq!(env.tracks(&["analysed:false"]).len(), 1);
    assert_eq!(
        env.ok(&["ls", "-f", "$integrity", "title:A"]).trim(),
        "unchecked"
    );
    assert_eq!(env.analyze(&[])["analysed"], 1);
}

/// Flips `n` bytes spread over the middle half of `path`.
fn flip(path: &Path, n: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let len = bytes.len();
    for i in 0..n {
        let at = len / 4 + i * (len / 2) / n;
        bytes[at] ^= 0x5a;
    }
    std::fs::write(path, bytes).unwrap();
}

/// Breaks the sync word of three MPEG frame headers past the middle of `path` (the reader
/// resyncs past them and their audio is lost).
fn break_frames(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let find = |b: &[u8], from: usize| {
        from + b[from..]
            .windows(2)
            .position(|w| w == [0xff, 0xfb])
            .unwrap()
    };
    let mut at = find(&bytes, bytes.len() / 2);
    for _ in 0..3 {
        at = find(&bytes, at + 100);
        bytes[at] = 0;
        bytes[at + 1] = 0;
    }
    std::fs::write(path, bytes).unwrap();
}

/// Zeroes 4 KiB a third of the way into an MP4's `mdat`.
fn zero_mdat(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    let at = mdat + bytes.len() / 3;
    bytes[at..at + 4096].fill(0);
    std::fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path, keep: f64) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
}

/// How many stereo frames ffmpeg decodes from the file.
fn ffmpeg_frames(path: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "quiet", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-ac", "2", "-"])
        .output()
        .unwrap();
    out.stdout.len() / 4
}

/// Whether `flac -t` finds the file sound.
fn flac_test_ok(path: &Path) -> bool {
    Command::new("flac")
        .args(["-t", "-s"])
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Whether `ffmpeg -v error` decodes the file without a word (checking frame CRCs, which it
/// skips unless asked).
fn ffmpeg_clean(path: &Path) -> bool {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-err_detect", "crccheck", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    out.status.success() && out.stderr.is_empty()
}

#[test]
fn damaged_copies_are_found_clean_files_never_and_the_oracles_agree() {
    let env = Env::new();
    let noise = "anoisesrc=color=pink:duration=20:seed=3,volume=0.3";
    let mp3 = ["-c:a", "libmp3lame", "-b:a", "192k"];
    make(&env.music().join("clean.flac"), noise, &[], &[]);
    make(&env.music().join("clean.mp3"), noise, &mp3, &[]);
    make(&env.music().join("clean.m4a"), noise, &["-c:a", "aac"], &[]);
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 5] = [
        ("flipped.flac", |p| flip(p, 8)),
        ("cut.flac", |p| truncate(p, 0.6)),
        ("resynced.mp3", break_frames),
        ("cut.mp3", |p| truncate(p, 0.6)),
        ("zeroed.m4a", zero_mdat),
    ];
    for (name, damage) in damages {
        let ext = Path::new(name).extension().unwrap().to_str().unwrap();
        let dest = env.music().join(name);
        std::fs::copy(env.music().join(format!("clean.{ext}")), &dest).unwrap();
        damage(&dest);
    }
    env.scan();
    let summary = env.analyze(&[]);
    let damaged: Vec<String> = summary["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let p = d["path"].as_str().unwrap();
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut found = damaged.clone();
    found.sort();
    assert_eq!(
        found,
        [
            "cut.flac",
            "cut.mp3",
            "flipped.flac",
            "resynced.mp3",
            "zeroed.m4a"
        ],
        "{summary}"
    );
    let clean = ["clean.flac", "clean.mp3", "clean.m4a"].map(String::from);
    for name in clean.iter().chain(&found) {
        let path = env.music().join(name);
        let ours = !damaged.contains(name);
        if name == "cut.mp3" {
            // ffmpeg stays silent on an MP3 cut at a frame; it agrees once asked how much
            // audio there is, against the LAME header's promise.
            let clean = ffmpeg_frames(&env.music().join("clean.mp3"));
            assert!(
                ffmpeg_frames(&path) < clean * 3 / 4,
                "ffmpeg decodes it whole"
            );
        } else {
            assert_eq!(
                ffmpeg_clean(&path),
                ours,
                "{name}: ffmpeg -v error disagrees"
            );
        }
        if name.ends_with(".flac") {
            assert_eq!(flac_test_ok(&path), ours, "{name}: flac -t disagrees");
        }
    }
    let t = env.track("flipped.flac");
    let reason = t["damage"].as_str().unwrap();
    assert!(reason.contains(" at 0:"), "a place is named: {reason}");
    assert_eq!(
        env.ok(&["ls", "-f", "$integrity", "path:cut.flac"]).trim(),
        "damaged"
    );
    // `problems` lists them beside the files a scan could not index.
    let problems = env.ok(&["problems"]);
    for name in &found {
        assert!(
            problems
                .lines()
                .any(|l| l.contains(name.as_str()) && l.contains("damaged audio")),
            "{name} in {problems}"
        );
    }
    assert!(!problems.contains("clean."), "{problems}");
}

#[test]
fn render_applies_the_computed_gain_to_an_untagged_track() {
    let env = Env::new();
    let quiet = env.music().join("quiet.flac");
    make(
        &quiet,
        "anoisesrc=color=pink:duration=10:seed=5,volume=0.05",
        &[],
        &[],
    );
    env.scan();
    let rendered = env.dir.path().join("out.wav");
    let render = |path: &Path| {
        env.ok(&[
            "render",
            "-q",
            "-o",
            path.to_str().unwrap(),
            "--replaygain",
            "track",
            "path:quiet",
        ]);
    };
    render(&rendered);
    let (before, _) = ffmpeg_loudness(&rendered);
    let (source, _) = ffmpeg_loudness(&quiet);
    assert!((before - source).abs() < 0.2, "no gain before analysis");
    env.analyze(&[]);
    let after_path = env.dir.path().join("after.wav");
    render(&after_path);
    let (after, _) = ffmpeg_loudness(&after_path);
    assert!(
        (after - -18.0).abs() <= 0.2,
        "rendered at {after} LUFS, want -18"
    );
}

#[test]
fn a_setting_prefers_the_computed_gain_over_the_files_own_tags() {
    let env = Env::new();
    let tagged = env.music().join("tagged.flac");
    // Tags that say no gain is needed, on a quiet track that needs a lot.
    make(
        &tagged,
        "anoisesrc=color=pink:duration=10:seed=9,volume=0.05",
        &[],
        &[
            ("replaygain_track_gain", "+0.00 dB"),
            ("replaygain_track_peak", "1.000000"),
        ],
    );
    env.scan();
    env.analyze(&[]);
    let render = |name: &str| -> f64 {
        let path = env.dir.path().join(name);
        env.ok(&[
            "render",
            "-q",
            "-o",
            path.to_str().unwrap(),
            "--replaygain",
            "track",
            "path:tagged",
        ]);
        ffmpeg_loudness(&path).0
    };
    let (source, _) = ffmpeg_loudness(&tagged);
    let by_tags = render("tags.wav");
    assert!(
        (by_tags - source).abs() < 0.2,
        "the file's own tags apply: {by_tags} vs {source}"
    );
    std::fs::write(env.config_file(), "[gain]\nprefer_computed = true\n").unwrap();
    let computed = render("computed.wav");
    assert!(
        (computed - -18.0).abs() <= 0.2,
        "rendered at {computed} LUFS, want -18"
    );
    let shown: Value = serde_json::from_str(env.ok(&["config", "--json"]).trim()).unwrap();
    assert_eq!(shown["settings"]["gain.prefer_computed"]["value"], true);
    // A wrong value is refused with its line.
    std::fs::write(env.config_file(), "[gain]\nprefer_computed = 1\n").unwrap();
    let out = env.run(&["ls"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn ctrl_c_keeps_what_is_done_and_a_rerun_does_the_rest() {
    let env = Env::new();
    let first = env.music().join("00.flac");
    make(
        &first,
        "anoisesrc=color=pink:duration=40:seed=9,volume=0.2",
        &[],
        &[],
    );
    for i in 1..16 {
        std::fs::copy(&first, env.music().join(format!("{i:02}.flac"))).unwrap();
    }
    env.scan();
    let child = env
        .cmd()
        .args(["analyze", "-j", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first track is stored.
    let started = std::time::Instant::now();
    while env.tracks(&["analysed:true"]).is_empty() {
        assert!(
            started.elapsed().as_secs() < 120,
            "nothing analysed in two minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an interrupted run fails: {stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let kept = env.tracks(&["analysed:true"]).len();
    assert!((1..16).contains(&kept), "{kept} analysed");
    let rest = env.analyze(&[]);
    assert_eq!(rest["analysed"], 16 - kept, "{rest}");
    assert_eq!(env.tracks(&["analysed:false"]).len(), 0);
}

/// A melody of its own for each seed: two voices of random notes (a quarter to half a second
/// each) over `secs` seconds, mono 16-bit at 22.05 kHz.
fn melody(path: &Path, seed: u64, secs: f64) {
    let rate = 22_050u32;
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let total = (secs * f64::from(rate)) as u64;
    let mut voices = [(0u64, 0.0f64, 0.0f64), (0, 0.0, 0.0)]; // (ends at, frequency, phase)
    for i in 0..total {
        let mut v = 0.0;
        for (k, voice) in voices.iter_mut().enumerate() {
            if i >= voice.0 {
                let len = u64::from(rate) / 4 + next() % (u64::from(rate) / 4);
                let semitone = (next() % 24) as f64;
                voice.0 = i + len;
                voice.1 = 110.0 * (1 + k) as f64 * 2f64.powf(semitone / 12.0);
            }
            voice.2 += voice.1 / f64::from(rate);
            v += 0.3 * (2.0 * std::f64::consts::PI * voice.2).sin();
        }
        w.write_sample((v * 16_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Converts `from` with ffmpeg into `to` at 44.1 kHz stereo (the extension and `codec`
/// choose the format).
fn encode(from: &Path, to: &Path, codec: &[&str], tags: &[(&str, &str)]) {
    let mut c = Command::new("ffmpeg");
    c.args(["-loglevel", "error", "-y", "-i"])
        .arg(from)
        .args(["-ar", "44100", "-ac", "2"])
        .args(codec);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    assert!(
        c.arg(to).status().is_ok_and(|s| s.success()),
        "{}",
        to.display()
    );
}

#[test]
fn dupes_groups_one_recording_across_formats_and_never_different_songs() {
    let env = Env::new();
    let source = env.dir.path().join("song.wav");
    melody(&source, 12_345, 40.0);
    type Copy<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let copies: [Copy; 4] = [
        (
            "copies/song.flac",
            &[],
            &[("title", "Song"), ("artist", "Band"), ("album", "LP")],
        ),
        (
            "copies/song-320.mp3",
            &["-b:a", "320k"],
            &[("title", "Song (MP3)")],
        ),
        ("copies/other name.mp3", &["-b:a", "128k"], &[]),
        (
            "copies/song.m4a",
            &["-c:a", "aac", "-b:a", "128k"],
            &[("title", "x")],
        ),
    ];
    for (name, codec, tags) in copies {
        let to = env.music().join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        encode(&source, &to, codec, tags);
    }
    let others = env.music().join("others");
    std::fs::create_dir_all(&others).unwrap();
    for seed in 0..200 {
        melody(&others.join(format!("{seed:03}.wav")), seed, 15.0);
    }
    env.scan();
    env.analyze(&[]);
    let out = env.ok(&["dupes", "--json"]);
    let groups: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(groups.len(), 1, "{out}");
    let names: Vec<String> = groups[0]["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let p = c["path"].as_str().unwrap();
            p.rsplit_once("/music/").unwrap().1.to_string()
        })
        .collect();
    // Lossless first, then by bitrate; the two 128k copies by their tags.
    assert_eq!(names[0], "copies/song.flac", "{out}");
    assert_eq!(names[1], "copies/song-320.mp3", "{out}");
    assert_eq!(names.len(), 4, "{out}");
    for c in groups[0]["copies"].as_array().unwrap() {
        assert!(num(c, "score") >= 0.88, "{c}");
    }
    // A query limits the candidates; text output names the best copy.
    let text = env.ok(&["dupes", "format:mp3"]);
    assert!(text.starts_with("best mp3 320k"), "{text}");
    assert!(
        text.contains("1 recordings with more than one copy (1 extra copies)"),
        "{text}"
    );
}
