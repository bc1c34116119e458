//! The manifest on the device (`.tapedeck/manifest.json`): what tapedeck wrote there, so a
//! sync runs from any machine and never trusts FAT timestamps. Also the journal beside it
//! (`.tapedeck/journal.jsonl`), where each change is recorded before it is made, so a run that
//! is killed (or a stick pulled) at any moment is completed or undone by the next one.
//!
//! The manifest is replaced atomically: written to a temporary file, flushed to the device,
//! then renamed over the old one. Journal lines are appended and flushed in batches, always
//! before the renames and removals they describe.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The folder on the device that holds tapedeck's own files.
pub const DIR: &str = ".tapedeck";
pub const MANIFEST: &str = "manifest.json";
pub const JOURNAL: &str = "journal.jsonl";
/// Where new files are made before they are moved into place.
pub const STAGING: &str = "tmp";
pub const VERSION: u32 = 1;

/// One file tapedeck wrote, keyed in [`Manifest::files`] by its path relative to the device
/// root (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The source's audio fingerprint (hex): the same audio on any machine.
    pub source: String,
    /// How the audio was made (copy, encoder settings, baked gain): a change re-encodes.
    pub settings: String,
    /// A digest of the tag values and tag settings written: a change retags.
    pub tags: String,
    pub size: u64,
    /// xxh3-64 of the file as written (hex).
    pub xxh3: String,
    /// Creation order on the device: within a folder, directory-entry order.
    pub seq: u64,
    pub written_at: i64,
}

/// What the manifest knows about a folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    /// Some of our entries were removed from before others: a file added now could land in
    /// the gap (FAT reuses free directory slots), so additions rewrite the folder.
    #[serde(default)]
    pub holes: bool,
    /// tapedeck created it, so it removes it again once it is empty (a folder the user made is
    /// left alone, even empty).
    #[serde(default)]
    pub created: bool,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub profile: String,
    /// The path template in use, when it is not the profile's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    pub last_sync: i64,
    pub next_seq: u64,
    pub files: BTreeMap<String, FileEntry>,
    /// Folders tapedeck wrote into: whether it created them, and whether they have gaps.
    #[serde(default)]
    pub folders: BTreeMap<String, FolderState>,
    /// Playlist files tapedeck wrote: path to xxh3.
    #[serde(default)]
    pub playlists: BTreeMap<String, String>,
}

impl Manifest {
    pub fn new(profile: &str) -> Manifest {
        Manifest {
            version: VERSION,
            profile: profile.to_string(),
            template: None,
            last_sync: 0,
            next_seq: 1,
            files: BTreeMap::new(),
            folders: BTreeMap::new(),
            playlists: BTreeMap::new(),
        }
    }

    /// Applies one journal record.
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::Put { path, entry } => {
                self.next_seq = self.next_seq.max(entry.seq + 1);
                self.files.insert(path.clone(), entry.clone());
            }
            Record::Remove { path } => {
                self.files.remove(path);
            }
            Record::Folder { path, state } => match state {
                Some(s) => {
                    self.folders.insert(path.clone(), s.clone());
                }
                None => {
                    self.folders.remove(path);
                }
            },
            Record::Hold { .. } => {}
            Record::Playlist { path, xxh3 } => match xxh3 {
                Some(h) => {
                    self.playlists.insert(path.clone(), h.clone());
                }
                None => {
                    self.playlists.remove(path);
                }
            },
        }
    }
}

/// One journal line: a change about to be made on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Record {
    /// A finished file is about to be renamed to `path`.
    Put { path: String, entry: FileEntry },
    /// Our file at `path` is about to be removed (or moved away to be put back in order).
    Remove { path: String },
    /// A folder's state changed (`None`: the folder is gone).
    Folder {
        path: String,
        state: Option<FolderState>,
    },
    /// A playlist file was written (`None`: removed).
    Playlist { path: String, xxh3: Option<String> },
    /// Our file at `path` is about to be moved to `hold` (relative to the device root) while
    /// its folder is rewritten; a run killed before it is put back moves it home.
    Hold { path: String, hold: String },
}

/// xxh3-64 of a whole file, as hex.
pub fn checksum(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let len = f.metadata().map_or(1 << 20, |m| m.len() + 1);
    let mut buf = vec![0u8; len.clamp(4096, 1 << 20) as usize];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:016x}", h.digest()))
}

/// The `.tapedeck` folder of a device root.
pub fn dir(root: &Path) -> PathBuf {
    root.join(DIR)
}

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    pub manifest: Option<Manifest>,
    /// Journal records not yet folded into the manifest (a run that did not finish).
    pub journal: Vec<Record>,
}

/// Reads the manifest and the journal. A missing manifest is `None`; a damaged one is an error
/// that names it (a half-written one is never seen: it is replaced by rename). A journal line cut
/// short by a pulled stick ends the journal.
pub fn load(root: &Path) -> Result<Loaded, String> {
    let d = dir(root);
    let path = d.join(MANIFEST);
    let manifest = match fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
            format!(
                "the manifest {} is damaged ({e}); move it away to start this device afresh \
                 (files tapedeck wrote will then count as someone else's)",
                path.display()
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    if let Some(m) = &manifest
        && m.version > VERSION
    {
        return Err(format!(
            "{} was written by a newer tapedeck (manifest version {}); upgrade tapedeck",
            path.display(),
            m.version
        ));
    }
    let journal = match fs::read(d.join(JOURNAL)) {
        Ok(bytes) => bytes
            .split(|&b| b == b'\n')
            .map_while(|line| serde_json::from_slice::<Record>(line).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(Loaded { manifest, journal })
}

/// Writes the manifest atomically: a temporary file, flushed, renamed over the old one, and
/// the folder flushed. The journal is emptied afterwards (its records are now in the manifest).
pub fn save(root: &Path, m: &Manifest) -> std::io::Result<()> {
    let d = dir(root);
    fs::create_dir_all(&d)?;
    let tmp = d.join("manifest.json.tmp");
    let json = serde_json::to_vec(m).map_err(std::io::Error::other)?;
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, d.join(MANIFEST))?;
    sync_dir(&d);
    let j = d.join(JOURNAL);
    if j.exists() {
        let f = OpenOptions::new().write(true).truncate(true).open(&j)?;
        f.sync_all()?;
    }
    Ok(())
}

/// The journal, open for appending.
pub struct Journal {
    file: File,
    pending: Vec<u8>,
}

impl Journal {
    pub fn open(root: &Path) -> std::io::Result<Journal> {
        let d = dir(root);
        fs::create_dir_all(&d)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join(JOURNAL))?;
        Ok(Journal {
            file,
            pending: Vec::new(),
        })
    }

    /// Queues a record; [`Journal::flush`] writes what is queued.
    pub fn push(&mut self, r: &Record) {
        serde_json::to_writer(&mut self.pending, r).expect("records serialise");
        self.pending.push(b'\n');
    }

    /// Writes the queued records and waits until the device has them.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file.write_all(&self.pending)?;
        self.file.sync_data()?;
        self.pending.clear();
        Ok(())
    }
}

/// Flushes a folder's entries (best effort: some file systems refuse fsync on folders).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> FileEntry {
        FileEntry {
            source: "ab".into(),
            settings: "copy".into(),
            tags: "t".into(),
            size: 3,
            xxh3: "00".into(),
            seq,
            written_at: 0,
        }
    }

    #[test]
    fn save_load_and_journal_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(load(root).unwrap().manifest.is_none());
        let mut m = Manifest::new("car");
        m.apply(&Record::Put {
            path: "A/01 x.mp3".into(),
            entry: entry(1),
        });
        save(root, &m).unwrap();
        let mut j = Journal::open(root).unwrap();
        let recs = [
            Record::Put {
                path: "A/02 y.mp3".into(),
                entry: entry(2),
            },
            Record::Remove {
                path: "A/01 x.mp3".into(),
            },
            Record::Folder {
                path: "A".into(),
                state: Some(FolderState {
                    holes: true,
                    created: true,
                }),
            },
        ];
        for r in &recs {
            j.push(r);
        }
        j.flush().unwrap();
        // A line cut short by a pulled stick ends the journal.
        std::fs::OpenOptions::new()
            .append(true)
            .open(root.join(DIR).join(JOURNAL))
            .unwrap()
            .write_all(b"{\"op\":\"put\",\"pa")
            .unwrap();
        let loaded = load(root).unwrap();
        assert_eq!(loaded.manifest.as_ref(), Some(&m));
        assert_eq!(loaded.journal, recs);
        let mut m2 = loaded.manifest.unwrap();
        for r in &loaded.journal {
            m2.apply(r);
        }
        assert_eq!(m2.files.keys().collect::<Vec<_>>(), ["A/02 y.mp3"]);
        assert_eq!(m2.next_seq, 3);
        assert!(m2.folders["A"].holes);
        save(root, &m2).unwrap();
        let again = load(root).unwrap();
        assert!(again.journal.is_empty());
        assert_eq!(again.manifest, Some(m2));
    }

    #[test]
    fn a_damaged_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(DIR)).unwrap();
        std::fs::write(dir.path().join(DIR).join(MANIFEST), b"{nope").unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(e.contains("manifest") && e.contains("damaged"), "{e}");
    }
}
