//! The output folder of a `convert` run: its [`Target`] (locked, so one run writes into it at a
//! time, and marked by its `.tapedeck` folder, which `scan` skips), the record of what runs
//! finished there (`.tapedeck/converted.jsonl`, one line per file, written and flushed before
//! the file is renamed into place, so a run killed at any moment is known by the next), and
//! putting a finished file in place.
//!
//! A file counts as written by an earlier run only while it is exactly what that run wrote
//! (size, and checksum before it is replaced); anything else at a name is the user's.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::plan::{OutputFolder, Written};
use crate::target::{self, Error, Kind, RelPath, Target};

/// The record's name beneath the output folder.
pub const RECORD: &str = ".tapedeck/converted.jsonl";
/// The largest record read.
const MAX_RECORD: u64 = 256 << 20;

/// One file a run wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub track: Option<i64>,
    /// The source's audio fingerprint (hex).
    pub source: String,
    pub settings: String,
    pub size: u64,
    pub xxh3: String,
}

/// Answers, for a path, what the library remembers writing there before the folder had its
/// own record: (track, fingerprint, settings, size).
pub type Legacy = Box<dyn Fn(&Path) -> Option<(Option<i64>, Vec<u8>, String, i64)> + Sync>;

/// The output folder, open for a run.
pub struct OutputDir {
    /// `None` on a dry run into a folder that does not exist yet.
    target: Option<Target>,
    /// Every entry recorded for each path (a killed run can leave a line for a file that
    /// never arrived, so the older ones still count).
    entries: HashMap<String, Vec<Entry>>,
    /// Earlier runs' records kept in the library (from before the folder had its own record):
    /// path to (track, fingerprint, settings, size).
    legacy: Legacy,
    log: Option<Mutex<File>>,
    /// Lines ignored because their path is not a plain path beneath the folder.
    pub rejected: Vec<String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl OutputDir {
    /// Opens the folder (creating it unless `dry_run`), takes its lock, reads its record and
    /// removes what a killed run left in `.tapedeck/tmp`. `legacy` answers for files recorded
    /// only in the library.
    pub fn open(root: &Path, dry_run: bool, legacy: Legacy) -> Result<OutputDir, Error> {
        let mut target = if dry_run && !root.exists() {
            None
        } else if dry_run {
            Some(Target::open(root)?)
        } else {
            Some(Target::create(root)?)
        };
        let mut entries: HashMap<String, Vec<Entry>> = HashMap::new();
        let mut rejected = Vec::new();
        let mut log = None;
        if let Some(t) = target.as_mut() {
            if !dry_run {
                t.lock()?;
            }
            let rec = RelPath::parse(RECORD)?;
            if let Some(bytes) = t.read(&rec, MAX_RECORD)? {
                for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let Ok(e) = serde_json::from_slice::<Entry>(line) else {
                        continue;
                    };
                    match RelPath::parse(&e.path) {
                        Ok(p) if p.parts().next() != Some(target::DIR) => {
                            entries.entry(e.path.clone()).or_default().push(e)
                        }
                        _ => rejected.push(format!("record line ignored: {:?}", e.path)),
                    }
                }
            }
            if !dry_run {
                let staging = RelPath::parse(target::STAGING)?;
                t.ensure_dir(&staging)?;
                for (name, _) in t.list(Some(&staging))? {
                    if let Ok(p) = staging.join(&name) {
                        let _ = t.remove_file(&p);
                    }
                }
                log = Some(Mutex::new(t.open_append(&rec)?));
            }
        }
        Ok(OutputDir {
            target,
            entries,
            legacy,
            log,
            rejected,
        })
    }

    /// Copies a finished file from the scratch folder into place at `rel`: into
    /// `.tapedeck/tmp` in one write, flushed, recorded, then renamed. `replace` allows
    /// replacing a file there (which the plan found to be exactly what an earlier run wrote).
    pub fn install(
        &self,
        made: &Path,
        rel: &Path,
        entry: Entry,
        replace: bool,
    ) -> Result<u64, Error> {
        let input = File::open(made).map_err(|e| Error::io(made, e))?;
        self.install_from(input, rel, entry, replace)
    }

    /// [`OutputDir::install`] from an open file: a source copied as it is, opened by the
    /// caller (as a regular file, without blocking).
    pub fn install_from(
        &self,
        input: File,
        rel: &Path,
        mut entry: Entry,
        replace: bool,
    ) -> Result<u64, Error> {
        let t = self.target()?;
        // A folder on a stick that was pulled or remounted: stop, writing nothing more.
        t.check_present()?;
        let rel = RelPath::from_path(rel)?;
        if let Some(dir) = rel.parent() {
            t.ensure_dir(&dir)?;
        }
        let tmp = t.temp_name(&RelPath::parse(&format!("{}/x", target::STAGING))?)?;
        let (size, xxh3) = t.copy_in(input, &tmp)?;
        let result = (|| {
            let f = t.open_read(&tmp)?;
            f.sync_all().map_err(|e| Error::io(t.display(&tmp), e))?;
            entry.path = rel.to_string();
            entry.size = size;
            entry.xxh3 = xxh3;
            if let Some(log) = &self.log {
                let mut line = serde_json::to_vec(&entry).expect("entries serialise");
                line.push(b'\n');
                let mut f = log.lock().unwrap_or_else(|e| e.into_inner());
                f.write_all(&line)
                    .and_then(|_| f.sync_data())
                    .map_err(|e| Error::io(t.root().join(RECORD), e))?;
            }
            t.rename(&tmp, &rel, replace)
        })();
        if result.is_err() {
            let _ = t.remove_file(&tmp);
        }
        result.map(|_| size)
    }

    /// The recorded entry at `rel` that the file there still matches (by size; with `verify`,
    /// also by checksum).
    fn matching(&self, rel: &RelPath, verify: bool) -> Option<&Entry> {
        let t = self.target.as_ref()?;
        let meta = t.meta(rel).ok()??;
        if meta.kind != Kind::File {
            return None;
        }
        let candidates = self.entries.get(rel.as_str())?;
        let sized: Vec<&Entry> = candidates
            .iter()
            .rev()
            .filter(|e| e.size == meta.size)
            .collect();
        if sized.is_empty() {
            return None;
        }
        if !verify {
            return sized.first().copied();
        }
        let (_, h) = t.checksum(rel).ok()?;
        sized.into_iter().find(|e| e.xxh3 == h)
    }
}

impl OutputFolder for OutputDir {
    fn exists(&self, rel: &Path) -> bool {
        let Some(t) = &self.target else { return false };
        match RelPath::from_path(rel) {
            Ok(r) => !matches!(t.meta(&r), Ok(None)),
            // A name that cannot be checked is treated as taken.
            Err(_) => true,
        }
    }

    fn written(&self, rel: &Path, verify: bool) -> Option<Written> {
        let r = RelPath::from_path(rel).ok()?;
        if let Some(e) = self.matching(&r, verify) {
            return Some(Written {
                track_id: e.track,
                fingerprint: (0..e.source.len() / 2)
                    .filter_map(|i| u8::from_str_radix(e.source.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect(),
                settings: e.settings.clone(),
            });
        }
        if self.entries.contains_key(r.as_str()) {
            return None;
        }
        // Recorded only in the library (no checksum there): the size must match.
        let t = self.target.as_ref()?;
        let (track, fp, settings, size) = (self.legacy)(&t.display(&r))?;
        let meta = t.meta(&r).ok()??;
        (meta.kind == Kind::File && meta.size == size as u64).then_some(Written {
            track_id: track,
            fingerprint: fp,
            settings,
        })
    }
}

/// An entry for a file about to be installed (path, size and checksum are filled in then).
pub fn entry(track: i64, fingerprint: &[u8], settings: &str) -> Entry {
    Entry {
        path: String::new(),
        track: Some(track),
        source: hex(fingerprint),
        settings: settings.to_string(),
        size: 0,
        xxh3: String::new(),
    }
}

/// Whether a file that exists at `rel` may be replaced (it is still what a run wrote).
pub fn replaceable(out: &OutputDir, rel: &Path) -> bool {
    let Some(t) = &out.target else { return true };
    RelPath::from_path(rel)
        .is_ok_and(|r| matches!(t.meta(&r), Ok(None)) || out.matching(&r, true).is_some())
}

impl OutputDir {
    /// The open target (missing only on a dry run into a folder that does not exist, which
    /// never writes).
    pub fn target(&self) -> Result<&Target, Error> {
        self.target.as_ref().ok_or_else(|| {
            Error::io(
                "the output folder",
                io::Error::new(io::ErrorKind::NotFound, "not created on a dry run"),
            )
        })
    }

    /// The folder's absolute path.
    pub fn root(&self, fallback: &Path) -> std::path::PathBuf {
        self.target.as_ref().map_or_else(
            || std::path::absolute(fallback).unwrap_or(fallback.to_path_buf()),
            |t| t.root().to_path_buf(),
        )
    }
}
