//! End-to-end tests of `tapedeck cd --audio`: the image is cut back into tracks by the cue
//! sheet and compared with the sources (bit-exact for 44.1 kHz/16-bit ones, exact length and
//! high correlation for resampled ones), a gapless album joins with no discontinuity, cueprint,
//! bchunk and cdrdao read the sheets (cdrdao's `show-data` reads the same samples through the
//! TOC), and the plan refuses or splits what does not fit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

mod common;

use common::Env;

/// A continuous test signal (two sines and a little deterministic noise), 16-bit stereo.
fn signal(frames: usize, rate: u32, seed: u64) -> Vec<i16> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(frames * 2);
    for n in 0..frames {
        let t = n as f64 / f64::from(rate);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let noise = (x >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
        let l = 0.4 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() + 0.02 * noise;
        let r = 0.3 * (2.0 * std::f64::consts::PI * 660.0 * t).sin() - 0.02 * noise;
        out.push((l * 32767.0) as i16);
        out.push((r * 32767.0) as i16);
    }
    out
}

/// Writes interleaved samples as WAV, then FLAC with tags (ffmpeg keeps the samples exact).
fn flac(path: &Path, samples: &[i32], channels: u16, rate: u32, bits: u16, tags: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let wav = path.with_extension("tmp.wav");
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for s in samples {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-loglevel", "error", "-y", "-i"]).arg(&wav);
    if bits == 24 {
        c.args(["-sample_fmt", "s32"]);
    }
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    let ok = c.arg(path).stdin(Stdio::null()).status().unwrap().success();
    assert!(ok, "ffmpeg could not make {}", path.display());
    std::fs::remove_file(&wav).unwrap();
}

struct Fixture {
    env: Env,
    /// The live album's whole signal, before it was cut into three tracks.
    live: Vec<i16>,
    /// Frames of each live track.
    live_cuts: Vec<usize>,
    /// The short mono track's samples.
    short: Vec<i16>,
    /// The 48 kHz track's samples (left channel, 24-bit).
    hires: Vec<i32>,
}

const LIVE_CUTS: [usize; 3] = [220_501, 180_037, 200_003];

fn fixture() -> Fixture {
    let env = Env::new();
    let music = env.music();
    let total: usize = LIVE_CUTS.iter().sum();
    let live = signal(total, 44_100, 7);
    let mut at = 0;
    for (i, n) in LIVE_CUTS.iter().enumerate() {
        let part: Vec<i32> = live[at * 2..(at + n) * 2]
            .iter()
            .map(|s| i32::from(*s))
            .collect();
        at += n;
        let title = format!("Live part {}", i + 1);
        let track = format!("{}", i + 1);
        flac(
            &music.join(format!("live/{}.flac", i + 1)),
            &part,
            2,
            44_100,
            16,
            &[
                ("title", &title),
                ("artist", "The Band"),
                ("album_artist", "The Band"),
                ("album", "Live at Home"),
                ("track", &track),
                ("composer", "Writer \"Q\""),
            ],
        );
    }
    // A 48 kHz 24-bit track of another album, with text outside ISO 8859-1.
    let hires_frames = 48_000 * 5 + 17;
    let hires: Vec<i32> = signal(hires_frames, 48_000, 11)
        .iter()
        .map(|s| i32::from(*s) * 256)
        .collect();
    flac(
        &music.join("hires/1.flac"),
        &hires,
        2,
        48_000,
        24,
        &[
            ("title", "Café Ωmega"),
            ("artist", "Björk"),
            ("album", "Studio"),
            ("track", "1"),
        ],
    );
    // A 1.5-second mono track: padded to 4 s, copied to both sides exactly.
    let short: Vec<i16> = signal(66_150, 44_100, 3).chunks(2).map(|f| f[0]).collect();
    flac(
        &music.join("short/1.flac"),
        &short.iter().map(|s| i32::from(*s)).collect::<Vec<_>>(),
        1,
        44_100,
        16,
        &[
            ("title", "Short"),
            ("artist", "Tiny"),
            ("album", "Shorts"),
            ("track", "1"),
        ],
    );
    env.ok(&["scan", "-q", music.to_str().unwrap()]);
    Fixture {
        env,
        live,
        live_cuts: LIVE_CUTS.to_vec(),
        short,
        hires: hires.chunks(2).map(|f| f[0]).collect(),
    }
}

impl Env {
    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("discs")
    }

    fn cd(&self, extra: &[&str]) -> Value {
        let out = self.out_dir();
        let mut args = vec![
            "cd",
            "--audio",
            "--json",
            "--sort",
            "album+ track+",
            "--to",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        let text = self.ok(&args);
        serde_json::from_str(text.trim()).unwrap()
    }
}

/// The image's samples, interleaved.
fn read_bin(path: &Path) -> Vec<i16> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(bytes.len() % 2352, 0, "{} is whole sectors", path.display());
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// `mm:ss:ff` to sectors.
fn sectors(msf: &str) -> u64 {
    let p: Vec<u64> = msf.split(':').map(|x| x.parse().unwrap()).collect();
    (p[0] * 60 + p[1]) * 75 + p[2]
}

/// The cue sheet's tracks: (index 00, index 01) in sectors, read by the test's own parser.
fn cue_indexes(cue: &str) -> Vec<(Option<u64>, u64)> {
    let mut out: Vec<(Option<u64>, u64)> = Vec::new();
    let mut i0 = None;
    for line in cue.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["INDEX", "00", at] => i0 = Some(sectors(at)),
            ["INDEX", "01", at] => out.push((i0.take(), sectors(at))),
            _ => {}
        }
    }
    out
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let mut num = 0.0;
    let mut da = 0.0;
    let mut db = 0.0;
    for i in 0..n {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    num / (da * db).sqrt()
}

#[test]
fn audio_image_is_exact_and_readable_by_cue_and_toc_tools() {
    let f = fixture();
    let env = &f.env;
    let plan = env.cd(&["--dry-run"]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["fits"], true);
    assert!(
        !env.out_dir()
            .join("Live_at_Home_Shorts_Studio.bin")
            .exists()
    );

    let made = env.cd(&["--replaygain", "off"]);
    let disc = &made["discs"][0];
    let tracks = disc["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 5);
    let files = &disc["files"];
    let dir = env.out_dir();
    let bin = dir.join(files["bin"].as_str().unwrap());
    let cue_path = dir.join(files["cue"].as_str().unwrap());
    let toc_path = dir.join(files["toc"].as_str().unwrap());
    assert_eq!(
        files["bin"], "Live_at_Home_Shorts_Studio.bin",
        "named after the albums, in ASCII"
    );
    // Nothing but the image and tapedeck's own folder is left in the folder.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".tapedeck",
            "Live_at_Home_Shorts_Studio.bin",
            "Live_at_Home_Shorts_Studio.cue",
            "Live_at_Home_Shorts_Studio.toc"
        ]
    );

    let image = read_bin(&bin);
    assert_eq!(
        image.len() as u64 / 2,
        disc["image_frames"].as_u64().unwrap()
    );

    // The cue sheet's index points are the plan's, and its track spans tile the image.
    let cue_bytes = std::fs::read(&cue_path).unwrap();
    let cue: String = cue_bytes.iter().map(|b| char::from(*b)).collect(); // ISO 8859-1
    let indexes = cue_indexes(&cue);
    assert_eq!(indexes.len(), 5);
    for (t, (i0, i1)) in tracks.iter().zip(&indexes) {
        assert_eq!(t["start_sector"].as_u64().unwrap(), i1 + 150);
        assert_eq!(t["pregap_sectors"].as_u64(), i0.map(|i0| i1 - i0));
    }
    assert_eq!(indexes[0], (None, 0));
    assert!(
        indexes[1].0.is_none() && indexes[2].0.is_none(),
        "live tracks join"
    );
    assert_eq!(
        indexes[3].1 - indexes[3].0.unwrap(),
        150,
        "2 s between albums"
    );
    assert_eq!(indexes[4].1 - indexes[4].0.unwrap(), 150);
    // Each index 01 is the sector boundary nearest the track's first sample.
    for t in tracks {
        let off = t["image_offset_frames"].as_u64().unwrap();
        let i1 = t["start_sector"].as_u64().unwrap() - 150;
        assert_eq!(i1, (off + 294) / 588, "{t}");
    }

    // The live album: the three sources joined sample for sample, bit-exact, no gap.
    let live_len: usize = f.live_cuts.iter().sum();
    assert_eq!(tracks[0]["image_offset_frames"], 0);
    assert_eq!(&image[..live_len * 2], &f.live[..], "gapless and bit-exact");
    let mut at = 0u64;
    for (t, n) in tracks.iter().zip(&f.live_cuts) {
        assert_eq!(t["image_offset_frames"].as_u64().unwrap(), at);
        assert_eq!(t["frames"].as_u64().unwrap(), *n as u64);
        at += *n as u64;
    }
    // Silence pads the album to its sector and fills the pregap.
    let next_at = tracks[3]["image_offset_frames"].as_u64().unwrap() as usize;
    assert_eq!(next_at % 588, 0);
    assert!(image[live_len * 2..next_at * 2].iter().all(|s| *s == 0));

    // The 48 kHz 24-bit track: the resampler's exact length, and the same waveform.
    let hires_at = tracks[4]["image_offset_frames"].as_u64().unwrap() as usize;
    let hires_frames = tracks[4]["frames"].as_u64().unwrap() as usize;
    assert_eq!(
        hires_frames,
        ((f.hires.len() as u64 * 44_100 + 24_000) / 48_000) as usize
    );
    let got: Vec<f64> = image[hires_at * 2..(hires_at + hires_frames) * 2]
        .chunks(2)
        .map(|f| f64::from(f[0]))
        .collect();
    // Reference: the source resampled by ffmpeg (a different resampler).
    let reference = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(env.music().join("hires/1.flac"))
        .args(["-ar", "44100", "-ac", "2", "-f", "s16le", "-"])
        .output()
        .unwrap();
    assert!(reference.status.success());
    let reference: Vec<f64> = reference
        .stdout
        .chunks_exact(4)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    let c = correlation(&got, &reference);
    assert!(c > 0.999, "correlation with ffmpeg's resampling: {c}");

    // The short mono track: both sides exact, padded with silence to 4 s.
    let t = &tracks[3];
    assert_eq!(t["padded_to_4s"], true);
    assert_eq!(t["length"], "00:04:00");
    let at = t["image_offset_frames"].as_u64().unwrap() as usize;
    let frames: Vec<&[i16]> = image[at * 2..hires_at * 2].chunks(2).collect();
    for (i, s) in f.short.iter().enumerate() {
        assert_eq!(frames[i], [*s, *s], "frame {i}");
    }
    assert!(frames[f.short.len()..].iter().all(|f| f == &[0, 0]));
    assert_eq!(frames.len(), (300 + 150) * 588, "4 s, then the pregap");

    // CD-TEXT in the cue sheet, in ISO 8859-1, outside characters spelled out.
    for want in [
        "TITLE \"Live at Home / Shorts / Studio\"",
        "PERFORMER \"Various Artists\"",
        "TITLE \"Live part 2\"",
        "PERFORMER \"The Band\"",
        "SONGWRITER \"Writer 'Q'\"",
        "TITLE \"Café Omega\"",
        "PERFORMER \"Björk\"",
    ] {
        assert!(cue.contains(want), "{want} in\n{cue}");
    }

    // cueprint (libcue) reads it: five tracks, with their titles.
    let out = Command::new("cueprint")
        .args(["-d", "%T|%P\n", "-t", "%n|%t|%p|%c\n"])
        .arg(&cue_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("Live at Home / Shorts / Studio|Various Artists"),
        "{printed}"
    );
    assert!(printed.contains("2|Live part 2|The Band"), "{printed}");
    assert!(printed.contains("4|Short|Tiny"), "{printed}");

    // bchunk cuts the image by the cue sheet: its tracks are the image's spans.
    let chunks = env.dir.path().join("chunks");
    std::fs::create_dir_all(&chunks).unwrap();
    let out = Command::new("bchunk")
        .arg(&bin)
        .arg(&cue_path)
        .arg(chunks.join("track"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let first = std::fs::read(chunks.join("track01.cdr")).unwrap();
    let bin_bytes = std::fs::read(&bin).unwrap();
    let end = indexes[1].1 as usize * 2352;
    assert_eq!(
        first.len(),
        end,
        "bchunk's track 1 ends at track 2's index 01"
    );
    // bchunk's raw audio is big-endian.
    let swapped: Vec<u8> = bin_bytes[..end]
        .chunks_exact(2)
        .flat_map(|b| [b[1], b[0]])
        .collect();
    assert!(first == swapped || first == bin_bytes[..end]);

    // cdrdao reads the TOC: CD-TEXT present, and with --swap the same samples as the cue.
    let out = Command::new("cdrdao")
        .args(["show-toc"])
        .arg(toc_path.file_name().unwrap())
        .current_dir(&dir)
        .output()
        .unwrap();
    let shown =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{shown}");
    // toc2cddb (cdrdao's) prints the TOC's CD-TEXT and the tracks' start sectors.
    let out = Command::new("toc2cddb")
        .arg(toc_path.file_name().unwrap())
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cddb: String = out.stdout.iter().map(|b| char::from(*b)).collect();
    assert!(
        cddb.contains("DTITLE=Various Artists / Live at Home / Shorts / Studio"),
        "{cddb}"
    );
    for (i, want) in [
        "Live part 1",
        "Live part 2",
        "Live part 3",
        "Short",
        "Café Omega",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            cddb.contains(&format!("TTITLE{i}={want}\n")),
            "{want} in {cddb}"
        );
    }
    let offsets: Vec<u64> = cddb
        .lines()
        .filter_map(|l| l.strip_prefix("# ")?.trim().parse().ok())
        .collect();
    let starts: Vec<u64> = tracks
        .iter()
        .map(|t| t["start_sector"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, starts, "the TOC's track starts are the cue's");
    let out = Command::new("cdrdao")
        .args(["show-data", "--swap"])
        .arg(toc_path.file_name().unwrap())
        .current_dir(&dir)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let data = String::from_utf8_lossy(&out.stdout);
    // Lines are `index:left right` (a negative left sample touches the colon).
    let samples: Vec<i16> = data
        .lines()
        .filter_map(|l| {
            let (_, pair) = l.split_once(':')?;
            let w: Vec<&str> = pair.split_whitespace().collect();
            match w.as_slice() {
                [l, r] => Some([l.parse::<i16>().ok()?, r.parse::<i16>().ok()?]),
                _ => None,
            }
        })
        .flatten()
        .collect();
    assert_eq!(samples.len(), image.len(), "cdrdao reads every sample");
    assert!(
        samples == image,
        "cdrdao reads the same samples as the cue describes"
    );

    // Made again: the image is never replaced.
    let out = env.run(&[
        "cd",
        "--audio",
        "--sort",
        "album+ track+",
        "--to",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&bin).unwrap(), bin_bytes);

    // The history lists the disc with its track list (the dry run and the refusal left none).
    let history = env.ok(&["converted", "--json"]);
    let discs: Vec<Value> = history
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("kind").is_some())
        .collect();
    assert_eq!(discs.len(), 1, "{history}");
    assert_eq!(discs[0]["kind"], "audio");
    assert_eq!(discs[0]["image"], cue_path.to_str().unwrap());
    assert_eq!(discs[0]["tracks"].as_array().unwrap().len(), 5);
    assert_eq!(discs[0]["tracks"][2]["title"], "Live part 3");
    let text = env.ok(&["converted"]);
    assert!(
        text.contains("cd audio  Live at Home / Shorts / Studio (disc 1 of 1): 5 tracks"),
        "{text}"
    );
    assert!(text.contains("The Band - Live part 2"), "{text}");
}

/// Minutes of silent FLAC, quick to make and to scan.
fn silence(path: &Path, minutes: u32, tags: &[(&str, &str)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "anullsrc=r=44100:cl=stereo,atrim=duration={}",
            minutes * 60
        ))
        .args(["-sample_fmt", "s16"]);
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    assert!(c.arg(path).status().unwrap().success());
}

#[test]
fn what_does_not_fit_is_refused_or_split_on_album_boundaries() {
    let env = Env::new();
    let music = env.music();
    for (album, tracks) in [("A", 2), ("B", 2), ("C", 1)] {
        for n in 1..=tracks {
            silence(
                &music.join(format!("{album}/{n}.flac")),
                15,
                &[
                    ("album", album),
                    ("title", &format!("{album}{n}")),
                    ("track", &n.to_string()),
                    ("artist", "X"),
                ],
            );
        }
    }
    env.ok(&["scan", "-q", music.to_str().unwrap()]);
    let dir = env.dir.path().join("discs");
    // 75 minutes: 80-minute media takes it, 74-minute media does not.
    let out = env.run(&["cd", "--audio", "--dry-run", "--to", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("disc 1 of 1: X - A / B / C: 5 tracks, 75:06:00 of 79:57:00"),
        "{text}"
    );
    let out = env.run(&["cd", "--audio", "--74", "--to", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not fit: 75:06:00 long, 01:06:00 more than a 74:00:00 disc holds"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("[does not fit]"));
    assert!(!dir.join("A_B_C.bin").exists(), "nothing written");
    // --split: two discs, cut between albums (A and B fill the first, C goes on the second).
    let titles = |plan: &Value| -> Vec<Vec<String>> {
        plan["discs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["tracks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["title"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let plan = env.cd(&["--74", "--split", "--dry-run"]);
    assert_eq!(titles(&plan), [vec!["A1", "A2", "B1", "B2"], vec!["C1"]]);
    let discs = plan["discs"].as_array().unwrap();
    assert_eq!(discs[0]["files"]["bin"], "A_B_disc_1_of_2.bin");
    assert_eq!(discs[1]["of"], 2);
    for d in discs {
        assert!(d["sectors"].as_u64().unwrap() <= 333_000);
    }

    // 90 minutes: more than an 80-minute disc holds; refused, or split on album boundaries.
    silence(
        &music.join("D/1.flac"),
        15,
        &[
            ("album", "D"),
            ("title", "D1"),
            ("track", "1"),
            ("artist", "X"),
        ],
    );
    env.ok(&["scan", "-q", music.to_str().unwrap()]);
    let out = env.run(&["cd", "--audio", "--to", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not fit: 90:08:00 long, 10:11:00 more than a 79:57:00 disc holds"),
        "{err}"
    );
    assert!(!dir.exists(), "nothing written");
    let plan = env.cd(&["--split", "--dry-run"]);
    assert_eq!(
        titles(&plan),
        [vec!["A1", "A2", "B1", "B2", "C1"], vec!["D1"]]
    );
    assert_eq!(plan["fits"], false);
    assert_eq!(plan["over_sectors"], (10 * 60 + 11) * 75);
}

#[test]
fn a_track_that_cannot_be_decoded_is_left_off_by_name() {
    let env = Env::new();
    for (n, title) in [(1, "Good"), (2, "Spoilt")] {
        common::tone(
            &env.music().join(format!("a/{n}.flac")),
            440,
            5.0,
            &[
                ("album", "Tone"),
                ("title", title),
                ("track", &n.to_string()),
            ],
        );
    }
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
    // Damaged after the scan: the library still lists it.
    std::fs::write(env.music().join("a/2.flac"), vec![0x5a; 4096]).unwrap();
    let dir = env.dir.path().join("discs");
    let out = env.run(&["cd", "--audio", "--to", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines().any(|l| l.starts_with("error: ")
            && l.contains("2.flac")
            && l.ends_with("left off the disc")),
        "{err}"
    );
    let cue = std::fs::read_to_string(dir.join("Tone.cue")).unwrap();
    assert_eq!(cue.matches("TRACK ").count(), 1, "{cue}");
    assert!(cue.contains("Good") && !cue.contains("Spoilt"), "{cue}");
}

#[test]
fn burning_without_a_drive_says_so_and_keeps_the_image() {
    let env = Env::new();
    common::tone(
        &env.music().join("a/1.flac"),
        440,
        5.0,
        &[
            ("album", "Tone"),
            ("title", "One"),
            ("artist", "T"),
            ("replaygain_album_gain", "-6.02 dB"),
            ("replaygain_album_peak", "0.125"),
            ("replaygain_track_gain", "+3.00 dB"),
            ("replaygain_track_peak", "0.125"),
        ],
    );
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
    let dir = env.dir.path().join("discs");
    let out = env.run(&[
        "cd",
        "--audio",
        "--to",
        dir.to_str().unwrap(),
        "--burn",
        "/dev/no-such-drive",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no drive at /dev/no-such-drive"), "{err}");
    assert!(
        err.contains("cdrdao write --device /dev/no-such-drive --swap -n --eject Tone.toc"),
        "{err}"
    );
    for ext in ["bin", "cue", "toc"] {
        assert!(dir.join(format!("Tone.{ext}")).is_file(), "{ext}");
    }
    // The album gain went into the samples (-6 dB halves the peak); track gain is +3 dB,
    // within the tagged peak; off leaves the source's level.
    let peak = |path: &Path| {
        read_bin(path)
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap()
    };
    let level = |gain: &str| {
        let to = env.dir.path().join(gain);
        env.ok(&[
            "cd",
            "--audio",
            "--replaygain",
            gain,
            "--to",
            to.to_str().unwrap(),
        ]);
        f64::from(peak(&to.join("Tone.bin")))
    };
    let source = level("off");
    let track = level("track");
    let album = f64::from(peak(&dir.join("Tone.bin")));
    assert!(
        (album / source - 0.5).abs() < 0.01,
        "album: {album} of {source}"
    );
    assert!(
        (track / source - 1.413).abs() < 0.01,
        "track: {track} of {source}"
    );
}

/// The files of an ISO image's Joliet tree, in directory-record order (depth first), read by
/// the test's own parser.
fn joliet_files(iso: &[u8]) -> Vec<String> {
    let sector = |n: usize| &iso[n * 2048..(n + 1) * 2048];
    let mut root = None;
    for n in 16..32 {
        let d = sector(n);
        if d[0] == 255 {
            break;
        }
        // A supplementary descriptor with a UCS-2 escape sequence is Joliet's.
        if d[0] == 2 && &d[88..90] == b"%/" {
            root = Some(d[156..156 + 34].to_vec());
        }
    }
    let root = root.expect("a Joliet volume descriptor");
    let u32le = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    fn walk(
        iso: &[u8],
        extent: usize,
        size: usize,
        prefix: &str,
        out: &mut Vec<String>,
        u32le: &dyn Fn(&[u8]) -> usize,
    ) {
        let mut at = extent * 2048;
        let end = at + size;
        let mut seen = 0;
        while at < end {
            let len = iso[at] as usize;
            if len == 0 {
                at = (at / 2048 + 1) * 2048;
                continue;
            }
            let r = &iso[at..at + len];
            at += len;
            seen += 1;
            if seen <= 2 {
                continue; // `.` and `..`
            }
            let name_len = r[32] as usize;
            let units: Vec<u16> = r[33..33 + name_len]
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            let mut name = String::from_utf16(&units).unwrap();
            if let Some(i) = name.find(';') {
                name.truncate(i);
            }
            let path = format!("{prefix}{name}");
            if r[25] & 2 != 0 {
                walk(
                    iso,
                    u32le(&r[2..]),
                    u32le(&r[10..]),
                    &format!("{path}/"),
                    out,
                    u32le,
                );
            } else {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        iso,
        u32le(&root[2..]),
        u32le(&root[10..]),
        "",
        &mut out,
        &u32le,
    );
    out
}

#[test]
fn mp3_cd_image_holds_the_car_profiles_files_in_play_order() {
    let env = Env::new();
    let music = env.music();
    let made = [
        ("Alpha", "Ärger", 1, 3.0),
        ("Alpha", "Second", 2, 2.5),
        ("Alpha", "Tenth", 10, 2.0),
        ("Beta", "Only", 1, 2.2),
    ];
    for (album, title, n, secs) in made {
        common::tone(
            &music.join(format!("{album}/{n}.flac")),
            330 + n * 20,
            secs,
            &[
                ("album", album),
                ("title", title),
                ("track", &n.to_string()),
                ("artist", "Band"),
                ("album_artist", "Band"),
            ],
        );
    }
    env.ok(&["scan", "-q", music.to_str().unwrap()]);
    let dir = env.dir.path().join("discs");
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["cd", "--mp3", "--json", "--title", "Road Trip", "--to"]
            .map(String::from)
            .to_vec();
        a.push(dir.to_str().unwrap().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let plan: Value = serde_json::from_str(env.ok(&args(&["--dry-run"])).trim()).unwrap();
    assert_eq!(plan["fits"], true);
    assert!(
        !dir.join("Road_Trip.iso").exists(),
        "a dry run writes nothing"
    );
    let made: Value = serde_json::from_str(env.ok(&args(&[])).trim()).unwrap();
    let files: Vec<&str> = made["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "Band/Alpha/01 Ärger.mp3",
            "Band/Alpha/02 Second.mp3",
            "Band/Alpha/10 Tenth.mp3",
            "Band/Beta/01 Only.mp3"
        ]
    );
    let iso_path = dir.join("Road_Trip.iso");
    let iso = std::fs::read(&iso_path).unwrap();
    assert_eq!(made["bytes"].as_u64().unwrap(), iso.len() as u64);
    assert!(iso.len() as u64 <= made["limit_bytes"].as_u64().unwrap());
    // The directory records are in play order, with the Joliet names.
    assert_eq!(joliet_files(&iso), files);
    // xorriso reads the same tree from the Joliet names.
    let out = Command::new("xorriso")
        .args(["-rockridge", "off", "-joliet", "on", "-indev"])
        .arg(&iso_path)
        .args(["-find", "/", "-type", "f"])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_matches('\'').trim_start_matches('/').to_string())
        .collect();
    let mut sorted = files.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    sorted.sort();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, sorted, "xorriso lists {listed:?}");
    // Every file extracted from the image decodes fully, at the source's length.
    let extracted = env.dir.path().join("extracted");
    let status = Command::new("xorriso")
        .args(["-osirrox", "on", "-indev"])
        .arg(&iso_path)
        .args(["-extract", "/"])
        .arg(&extracted)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    for (f, secs) in files.iter().zip([3.0, 2.5, 2.0, 2.2]) {
        let (spec, samples) = tapedeck::audio::decode::decode_all(&extracted.join(f)).unwrap();
        assert_eq!(spec.rate, 44_100);
        let frames = samples.len() as u64 / u64::from(spec.channels);
        assert_eq!(frames, (secs * 44_100.0f64).round() as u64, "{f}");
    }
    // A size limit the files do not fit is refused before anything is made.
    let out = env.run(&args(&["--size", "1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fit an MP3 CD"));
    // Made again: never replaced.
    let out = env.run(&args(&[]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&iso_path).unwrap(), iso);
    let text = env.ok(&["converted"]);
    assert!(
        text.contains("cd mp3  Road Trip (disc 1 of 1): 4 tracks"),
        "{text}"
    );
    assert!(text.contains("Band/Alpha/10 Tenth.mp3"), "{text}");

    // From a playlist: one folder, numbered in the playlist's order, which the head unit plays.
    env.ok(&["playlist", "new", "Mix"]);
    for title in ["Only", "Tenth", "Ärger"] {
        env.ok(&["playlist", "add", "Mix", &format!("title:={title}")]);
    }
    let mixed = env.dir.path().join("mixed");
    let made: Value = serde_json::from_str(
        env.ok(&[
            "cd",
            "--mp3",
            "--json",
            "-p",
            "Mix",
            "--title",
            "Mix",
            "--to",
            mixed.to_str().unwrap(),
        ])
        .trim(),
    )
    .unwrap();
    let files: Vec<&str> = made["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "01 Band - Only.mp3",
            "02 Band - Tenth.mp3",
            "03 Band - Ärger.mp3"
        ]
    );
    let iso = std::fs::read(mixed.join("Mix.iso")).unwrap();
    assert_eq!(joliet_files(&iso), files);
}

#[test]
fn surround_sources_fold_down_to_stereo() {
    let env = Env::new();
    // 5.1 (L R C LFE BL BR): a signal in the centre only, another in the LFE.
    let frames = 44_100 * 5;
    let tone = signal(frames, 44_100, 5);
    let mut samples = Vec::with_capacity(frames * 6);
    for f in 0..frames {
        let c = i32::from(tone[f * 2]);
        samples.extend([0, 0, c, i32::from(tone[f * 2 + 1]), 0, 0]);
    }
    flac(
        &env.music().join("s/1.flac"),
        &samples,
        6,
        44_100,
        16,
        &[("album", "Surround"), ("title", "Centre"), ("track", "1")],
    );
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
    let made = env.cd(&["--replaygain", "off"]);
    let image = read_bin(&env.out_dir().join("Surround.bin"));
    assert_eq!(made["discs"][0]["tracks"][0]["frames"], frames);
    // The centre goes to both sides at -3 dB, scaled by 1 / (1 + 2 x 0.707); the LFE nowhere.
    let weight = std::f64::consts::FRAC_1_SQRT_2 / (1.0 + std::f64::consts::SQRT_2);
    for f in (0..frames).step_by(997) {
        let want = f64::from(tone[f * 2]) * weight;
        for side in 0..2 {
            let got = f64::from(image[f * 2 + side]);
            assert!(
                (got - want).abs() <= 1.5,
                "frame {f} side {side}: {got} vs {want}"
            );
        }
    }
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn an_interrupted_or_killed_run_leaves_no_image_and_the_next_one_completes() {
    let env = Env::new();
    silence(
        &env.music().join("long/1.flac"),
        40,
        &[("album", "Long"), ("title", "Long"), ("track", "1")],
    );
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
    let dir = env.out_dir();
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let mut child = env
            .cmd()
            .args(["cd", "--audio", "--to", dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the image is being written, then stop the run.
        let started = std::time::Instant::now();
        while !dir.exists() || !names_in(&dir).iter().any(|n| n.ends_with(".part")) {
            assert!(
                started.elapsed().as_secs() < 30,
                "the run never started writing"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert!(!status.success(), "the run was stopped");
        let left = names_in(&dir);
        assert!(
            !left.iter().any(|n| n.starts_with("Long.")),
            "no file under a real name: {left:?}"
        );
        if signal == libc::SIGINT {
            assert_eq!(left, [".tapedeck"], "an interrupted run cleans up");
        } else {
            assert!(left.iter().any(|n| n.ends_with(".part")), "{left:?}");
        }
    }
    // The next run removes what the killed one left and makes the image.
    env.ok(&["cd", "--audio", "--to", dir.to_str().unwrap()]);
    assert_eq!(
        names_in(&dir),
        [".tapedeck", "Long.bin", "Long.cue", "Long.toc"]
    );
}

#[test]
fn mp3_cd_with_the_strict_profile_has_short_ascii_names() {
    let env = Env::new();
    common::tone(
        &env.music().join("x/1.flac"),
        440,
        1.0,
        &[
            ("album", "Ωκεανός: a very long album title indeed"),
            ("title", "Début — the first song of a long night"),
            ("track", "1"),
            ("artist", "Björk"),
        ],
    );
    env.ok(&["scan", "-q", env.music().to_str().unwrap()]);
    let dir = env.out_dir();
    let out = env.ok(&[
        "cd",
        "--mp3",
        "--json",
        "--profile",
        "car-strict",
        "--to",
        dir.to_str().unwrap(),
    ]);
    let made: Value = serde_json::from_str(out.trim()).unwrap();
    let iso = std::fs::read(dir.join(made["image"].as_str().unwrap())).unwrap();
    let files = joliet_files(&iso);
    assert_eq!(files.len(), 1);
    for part in files[0].split('/') {
        assert!(part.len() <= 31, "{part}");
        assert!(
            part.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.'),
            "{part}"
        );
    }
    assert!(
        files[0].starts_with("Bjork/Okeanos_a_very_long"),
        "{files:?}"
    );
    assert!(files[0].ends_with(".mp3"), "{files:?}");
    // An unknown profile is named with the known ones.
    let out = env.run(&[
        "cd",
        "--mp3",
        "--profile",
        "van",
        "--to",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no profile named `van`; profiles are car, car-strict, stick"),
        "{err}"
    );
}
