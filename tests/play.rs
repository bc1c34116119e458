//! End-to-end player tests without a sound card: the real binary plays through ALSA's file
//! device (tests/alsa/capture.conf), and the captured PCM is compared with the decoded source.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tapedeck::audio::decode::decode_all;

mod common;

use common::{Env, file_device, fixture, succeeded};

impl Env {
    fn capture(&self) -> PathBuf {
        self.dir.path().join("capture.raw")
    }

    /// The binary with ALSA configured by `conf` (and writing to `capture.raw` when `conf`
    /// uses the file device).
    fn cmd_with_alsa(&self, conf: &Path) -> Command {
        let mut c = self.cmd();
        c.env(
            "ALSA_CONFIG_PATH",
            format!("/usr/share/alsa/alsa.conf:{}", conf.display()),
        )
        .env("ALSA_OUT_FILE", self.capture());
        c
    }

    /// The binary playing into `capture.raw` (tests/alsa/capture.conf).
    fn player(&self) -> Command {
        self.cmd_with_alsa(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alsa/capture.conf"))
    }

    /// Plays `args` and returns every captured sample.
    fn play(&self, args: &[&str]) -> Vec<f32> {
        let _ = std::fs::remove_file(self.capture());
        let mut full = vec!["play"];
        full.extend(args);
        succeeded(&full, self.player().args(&full).output().unwrap());
        read_f32(&self.capture())
    }
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

fn decoded(paths: &[&str]) -> Vec<f32> {
    paths
        .iter()
        .flat_map(|p| decode_all(&fixture(p)).unwrap().1)
        .collect()
}

/// `expected` must appear in `captured` exactly, after leading silence, with only silence after.
fn assert_contains_exactly(captured: &[f32], expected: &[f32], what: &str) {
    let lead_c = captured
        .iter()
        .position(|&s| s != 0.0)
        .unwrap_or(captured.len());
    let lead_e = expected
        .iter()
        .position(|&s| s != 0.0)
        .unwrap_or(expected.len());
    assert!(lead_c >= lead_e, "{what}: captured starts too early");
    let start = lead_c - lead_e;
    assert_eq!(start % 2, 0, "{what}: misaligned by a sample");
    let got = &captured[start..(start + expected.len()).min(captured.len())];
    assert_eq!(got.len(), expected.len(), "{what}: captured is short");
    if let Some(i) = got.iter().zip(expected).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at sample {i} of {} (captured {}, expected {})",
            expected.len(),
            got[i],
            expected[i]
        );
    }
    let after = &captured[start + expected.len()..];
    assert!(
        after.iter().all(|&s| s == 0.0),
        "{what}: {} non-silent samples after the end",
        after.iter().filter(|&&s| s != 0.0).count()
    );
}

#[test]
fn lossless_sources_reach_the_device_bit_exact() {
    let env = Env::new();
    for rel in [
        "library/flac/picture.flac",
        "library/wav/list-info.wav",
        "library/wav/id3-chunk.wav",
        "library/aiff/id3.aiff",
        "library/alac/alac16.m4a",
        "library/alac/alac24.m4a",
    ] {
        let captured = env.play(&["--replaygain", "off", fixture(rel).to_str().unwrap()]);
        assert_contains_exactly(&captured, &decoded(&[rel]), rel);
    }
}

#[test]
fn two_tracks_in_a_row_are_their_exact_concatenation() {
    let env = Env::new();
    for pair in [
        ["library/flac/picture.flac", "library/untagged/no-tags.flac"],
        ["library/mp3/id3v23.mp3", "library/mp3/id3v24.mp3"],
        ["library/aac/tagged.m4a", "library/aac/tagged.m4a"],
    ] {
        let a = fixture(pair[0]);
        let b = fixture(pair[1]);
        let captured = env.play(&[
            "--replaygain",
            "off",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ]);
        assert_contains_exactly(&captured, &decoded(&pair), &format!("{pair:?}"));
    }
}

#[test]
fn replaygain_scale_matches_the_tag() {
    let env = Env::new();
    let rel = "library/flac/picture.flac";
    // The tag, read by an independent reader when installed, else by ffprobe.
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags=REPLAYGAIN_TRACK_GAIN",
        ])
        .args(["-of", "csv=p=0"])
        .arg(fixture(rel))
        .output();
    let Ok(out) = out else {
        eprintln!("ffprobe missing: gain check skipped");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let gain: f64 = text
        .trim()
        .trim_end_matches("dB")
        .trim()
        .parse()
        .expect("fixture has a track gain");
    let captured = env.play(&[
        "--replaygain",
        "track",
        "--allow-clipping",
        fixture(rel).to_str().unwrap(),
    ]);
    let source = decoded(&[rel]);
    let scale = 10f64.powf(gain / 20.0);
    let start = captured.iter().position(|&s| s != 0.0).unwrap()
        - source.iter().position(|&s| s != 0.0).unwrap();
    let mut worst = 0f64;
    for (c, s) in captured[start..].iter().zip(&source) {
        worst = worst.max((f64::from(*c) - f64::from(*s) * scale).abs());
    }
    assert!(worst < 1e-6, "off by {worst} from a scale of {scale}");
}

#[test]
fn render_writes_the_same_pipeline_to_a_wav_file() {
    let env = Env::new();
    let out = env.dir.path().join("mix.wav");
    let a = fixture("library/flac/picture.flac");
    let b = fixture("library/untagged/no-tags.flac");
    let broken = fixture("broken/random.m4a");
    let result = env
        .cmd()
        .args(["render", "--replaygain", "off", "-o"])
        .arg(&out)
        .args([&a, &broken, &b])
        .output()
        .unwrap();
    // The broken file is reported by name and reflected in the exit code; the rest is written.
    assert_eq!(result.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("random.m4a"), "{stderr}");
    let mut reader = hound::WavReader::open(&out).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.bits_per_sample, spec.channels),
        (44100, 16, 2)
    );
    let samples: Vec<f32> = reader
        .samples::<i32>()
        .map(|s| tapedeck::audio::from_int(s.unwrap(), 16))
        .collect();
    let expected = decoded(&["library/flac/picture.flac", "library/untagged/no-tags.flac"]);
    assert!(
        samples == expected,
        "rendered PCM differs from the decoded sources"
    );
}

#[test]
fn no_usable_device_is_a_clear_error() {
    let env = Env::new();
    let conf = env.dir.path().join("nodevice.conf");
    std::fs::write(
        &conf,
        "pcm.!default { type hw card 97 }\nctl.!default { type hw card 97 }\n",
    )
    .unwrap();
    let out = env
        .cmd_with_alsa(&conf)
        .args([
            "play",
            fixture("library/flac/picture.flac").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tapedeck render"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn track_json(env: &Env, query: &str) -> serde_json::Value {
    let out = env.ok(&["ls", "--json", query]);
    serde_json::from_str(out.lines().next().expect("a track")).unwrap()
}

#[test]
fn plays_are_counted_in_the_library() {
    let env = Env::new();
    let music = env.dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::copy(fixture("library/flac/picture.flac"), music.join("a.flac")).unwrap();
    env.ok(&["scan", music.to_str().unwrap()]);
    assert_eq!(track_json(&env, "a.flac")["plays"], 0);
    env.play(&["a.flac"]);
    let t = track_json(&env, "a.flac");
    assert_eq!(t["plays"], 1, "{t}");
    assert!(t["last_played"].as_i64().is_some(), "{t}");
    // And the history is queryable.
    assert_eq!(env.ok(&["ls", "plays:1", "--paths"]).lines().count(), 1);
}

#[test]
fn resume_continues_where_an_interrupted_queue_stopped() {
    let env = Env::new();
    // Ten seconds of audio, played at real-time pace through pv, interrupted after ~2 s.
    let long = env.dir.path().join("long.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&long, spec).unwrap();
    for i in 0..441_000i32 {
        let v = ((i % 441) - 220) * 100 + 1;
        w.write_sample(v as i16).unwrap();
        w.write_sample(v as i16).unwrap();
    }
    w.finalize().unwrap();
    let paced = env.dir.path().join("paced.conf");
    file_device(&paced, &env.capture(), true);
    let mut child = env
        .cmd_with_alsa(&paced)
        .args(["play", "--replaygain", "off", long.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "Ctrl-C without a terminal stops cleanly: {status:?}"
    );
    // Resume, unpaced: the rest of the track comes out, starting near where it stopped.
    let rest = env.play(&["--resume", "--replaygain", "off"]);
    let frames = rest.len() / 2;
    assert!(
        frames < 441_000 - 44_100 && frames > 441_000 - 6 * 44_100,
        "resumed {frames} frames of 441000"
    );
    // What came out is the end of the track, exactly (the test signal has no zero samples).
    let (_, all) = decode_all(&long).unwrap();
    let first = rest.iter().position(|&s| s != 0.0).unwrap();
    let last = rest.iter().rposition(|&s| s != 0.0).unwrap();
    assert!(
        all.ends_with(&rest[first..=last]),
        "resumed samples are not the track's end"
    );
}

/// A resumed queue keeps what the listener set: the shuffled order, the volume, the ReplayGain
/// mode; a flag given with `--resume` still wins.
#[test]
fn resume_keeps_order_volume_and_replaygain_mode() {
    let env = Env::new();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut files = Vec::new();
    for n in 0..6i32 {
        let path = env.dir.path().join(format!("{n}.wav"));
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..4410i32 {
            let v = ((i * (n + 2)) % 200 - 100) * 50 + 1;
            w.write_sample(v as i16).unwrap();
            w.write_sample(v as i16).unwrap();
        }
        w.finalize().unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let mut args = vec!["--shuffle", "--volume", "50", "--replaygain", "off"];
    args.extend(files.iter().map(String::as_str));
    // What was heard, without the silence a device adds before and after.
    let heard = |v: Vec<f32>| -> Vec<f32> {
        let first = v.iter().position(|&s| s != 0.0).unwrap_or(0);
        let last = v.iter().rposition(|&s| s != 0.0).map_or(0, |i| i + 1);
        v[first..last].to_vec()
    };
    let first = heard(env.play(&args));
    assert!(first.len() > 6 * 4000 * 2, "{}", first.len());
    // The queue played to its end: resuming plays it again, in the same order, as loud.
    let resumed = heard(env.play(&["--resume"]));
    assert!(resumed == first, "the resumed queue sounds different");
    // A flag given now wins over what was remembered.
    let louder = heard(env.play(&["--resume", "--volume", "100"]));
    assert_eq!(louder.len(), first.len());
    let peak = |v: &[f32]| v.iter().fold(0f32, |m, s| m.max(s.abs()));
    assert!(
        peak(&louder) > peak(&first) * 1.5,
        "--volume 100 with --resume"
    );
    // And that volume is what is remembered next.
    assert!(heard(env.play(&["--resume"])) == louder);
}

/// `devices` lists the short name `--device` takes, the description apart, the default first and
/// marked; `--device NAME` plays on that device.
#[test]
fn devices_are_listed_by_the_name_play_takes() {
    let env = Env::new();
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alsa/devices.conf");
    let text = succeeded(
        &["devices"],
        env.cmd_with_alsa(&conf).arg("devices").output().unwrap(),
    );
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("* default "), "{text}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with('*')).count(),
        1,
        "{text}"
    );
    let bench = lines
        .iter()
        .find(|l| l.starts_with("  bench "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        bench.contains("  Test Bench Card, Analog Output With A Long Name"),
        "{bench}"
    );
    let json = succeeded(
        &["devices", "--json"],
        env.cmd_with_alsa(&conf)
            .args(["devices", "--json"])
            .output()
            .unwrap(),
    );
    let devices: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bench = devices.iter().find(|d| d["name"] == "bench").unwrap();
    assert_eq!(bench["default"], false);
    assert!(
        bench["description"]
            .as_str()
            .unwrap()
            .starts_with("Test Bench Card")
    );
    assert_eq!(devices[0]["name"], "default");
    assert_eq!(devices[0]["default"], true);

    let track = fixture("library/flac/picture.flac");
    let args = [
        "play",
        "--device",
        "bench",
        "--replaygain",
        "off",
        track.to_str().unwrap(),
    ];
    succeeded(&args, env.cmd_with_alsa(&conf).args(args).output().unwrap());
    assert_contains_exactly(
        &read_f32(&env.capture()),
        &decoded(&["library/flac/picture.flac"]),
        "--device bench",
    );
    let args = ["play", "--device", "nosuch", track.to_str().unwrap()];
    let out = env.cmd_with_alsa(&conf).args(args).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no output device named \"nosuch\"") && err.contains("bench"),
        "{err}"
    );
}
