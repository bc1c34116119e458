//! What the end-to-end tests share: the fixtures, and a throwaway environment (temporary
//! folder, library and config) in which the real binary runs. Each test file adds the methods
//! of its own command.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

/// A temporary folder holding the library, the config and any music a test makes.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The music folder (created on first use).
    pub fn music(&self) -> PathBuf {
        let p = self.dir.path().join("music");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("library.db")
    }

    /// The settings file (`TAPEDECK_CONFIG`); device profiles go in `profiles.toml` beside it.
    pub fn config_file(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// The binary with this environment's library and config, and no terminal input.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tapedeck"));
        c.env("TAPEDECK_DB", self.db())
            .env("TAPEDECK_CONFIG", self.config_file())
            .env_remove("XDG_DATA_HOME")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .stdin(Stdio::null());
        c
    }

    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and requires success, returning stdout.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        succeeded(args, self.run(args))
    }
}

/// Requires `out` to be a success, returning its stdout.
pub fn succeeded<S: AsRef<OsStr>>(args: &[S], out: Output) -> String {
    assert!(
        out.status.success(),
        "tapedeck {:?} failed ({:?}): {}\n{}",
        args.iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The 32-bit float samples the ALSA file device captured (none when it wrote nothing).
pub fn captured_samples(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Writes an ALSA configuration at `conf` whose default device is the file device writing raw
/// samples into `capture` (paced to real time through pv when `paced`: 44.1 kHz stereo f32 is
/// 352800 bytes a second), and returns the `ALSA_CONFIG_PATH` value that selects it.
pub fn file_device(conf: &Path, capture: &Path, paced: bool) -> String {
    let file = if paced {
        format!("\"|pv -q -L 352800 > {}\"", capture.display())
    } else {
        format!("\"{}\"", capture.display())
    };
    std::fs::write(
        conf,
        format!("pcm.!default {{ type file slave.pcm \"null\" file {file} format \"raw\" }}\n"),
    )
    .unwrap();
    format!("/usr/share/alsa/alsa.conf:{}", conf.display())
}

pub mod stick;

/// Makes a tone with ffmpeg (installed by `make test`): `secs` seconds into `path` (the
/// extension picks the format), with the given tags.
pub fn tone(path: &Path, freq: u32, secs: f64, tags: &[(&str, &str)]) -> bool {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut c = Command::new("ffmpeg");
    c.args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={freq}:duration={secs}"))
        .args(["-ac", "2"]);
    if path.extension().is_some_and(|e| e == "mp3") {
        c.args(["-c:a", "libmp3lame", "-b:a", "128k"]);
    }
    for (k, v) in tags {
        c.arg("-metadata").arg(format!("{k}={v}"));
    }
    c.arg(path);
    let ok = c
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ffmpeg could not make {}", path.display());
    ok
}
