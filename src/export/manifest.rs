//! The manifest on the device (`.tapedeck/manifest.json`): what tapedeck wrote there, so a
//! sync runs from any machine and never trusts FAT timestamps. Also the journal beside it
//! (`.tapedeck/journal.jsonl`), where each change is recorded before it is made, so a run that
//! is killed (or a stick pulled) at any moment is completed or undone by the next one.
//!
//! Every path read from either is checked before use ([`check_path`]): a line or entry that
//! could reach outside the device, or into tapedeck's own folder, is ignored and reported.
//!
//! The manifest is replaced atomically: written to a temporary file, flushed to the device,
//! then renamed over the old one. Journal lines are appended and flushed in batches, always
//! before the renames and removals they describe.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::target::{Error, RelPath, Target};

/// The folder on the device that holds tapedeck's own files.
pub const DIR: &str = crate::target::DIR;
pub const MANIFEST: &str = "manifest.json";
pub const JOURNAL: &str = "journal.jsonl";
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

/// The `.tapedeck` folder, the manifest and the journal, as paths beneath the device root.
fn rel(name: &str) -> RelPath {
    RelPath::parse(&format!("{DIR}/{name}")).expect("a constant path")
}

/// The largest manifest or journal read (a hostile device could offer any size).
const MAX_STATE: u64 = 512 << 20;

/// What [`load`] found.
#[derive(Debug)]
pub struct Loaded {
    pub manifest: Option<Manifest>,
    /// Journal records not yet folded into the manifest (a run that did not finish).
    pub journal: Vec<Record>,
    /// Entries and journal lines ignored because a path in them is not a plain path beneath
    /// the device root (or points into tapedeck's own folder): each named, with why.
    pub rejected: Vec<String>,
}

/// Whether a manifest or journal path may be used: a plain relative path beneath the root,
/// outside tapedeck's own folder.
pub fn check_path(path: &str) -> Result<RelPath, String> {
    let r = RelPath::parse(path).map_err(|e| e.to_string())?;
    if r.parts().next() == Some(DIR) {
        return Err(format!("{path:?} points into tapedeck's own folder"));
    }
    Ok(r)
}

/// Whether a hold path may be used: a name directly in the staging folder.
pub fn check_hold(path: &str) -> Result<RelPath, String> {
    let r = RelPath::parse(path).map_err(|e| e.to_string())?;
    if r.parent().as_ref().map(RelPath::as_str) != Some(crate::target::STAGING) {
        return Err(format!("{path:?} is not in {}", crate::target::STAGING));
    }
    Ok(r)
}

impl Record {
    /// Checks every path the record names.
    fn check(&self) -> Result<(), String> {
        match self {
            Record::Put { path, .. }
            | Record::Remove { path }
            | Record::Folder { path, .. }
            | Record::Playlist { path, .. } => check_path(path).map(|_| ()),
            Record::Hold { path, hold } => {
                check_path(path)?;
                check_hold(hold).map(|_| ())
            }
        }
    }
}

impl Manifest {
    /// Drops entries whose paths could leave the root, naming each in `rejected`.
    fn keep_valid(&mut self, rejected: &mut Vec<String>) {
        let mut drop_bad = |keys: Vec<String>, what: &str| -> Vec<String> {
            let mut bad = Vec::new();
            for k in keys {
                if let Err(why) = check_path(&k) {
                    rejected.push(format!("manifest {what} entry ignored: {why}"));
                    bad.push(k);
                }
            }
            bad
        };
        for k in drop_bad(self.files.keys().cloned().collect(), "file") {
            self.files.remove(&k);
        }
        for k in drop_bad(
            self.folders
                .keys()
                .filter(|k| !k.is_empty())
                .cloned()
                .collect(),
            "folder",
        ) {
            self.folders.remove(&k);
        }
        for k in drop_bad(self.playlists.keys().cloned().collect(), "playlist") {
            self.playlists.remove(&k);
        }
    }
}

/// Reads the manifest and the journal. A missing manifest is `None`; a damaged one is an error
/// that names it (a half-written one is never seen: it is replaced by rename). A journal line cut
/// short by a pulled stick ends the journal. Paths are checked: an entry or line naming a path
/// that is not plain and beneath the root is ignored and named in [`Loaded::rejected`].
pub fn load(t: &Target) -> Result<Loaded, String> {
    let path = t.display(&rel(MANIFEST));
    let mut rejected = Vec::new();
    let manifest = match t.read(&rel(MANIFEST), MAX_STATE) {
        Ok(Some(bytes)) => Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
            format!(
                "the manifest {} is damaged ({e}); move it away to start this device afresh \
                 (files tapedeck wrote will then count as someone else's)",
                path.display()
            )
        })?),
        Ok(None) => None,
        Err(e) => return Err(format!("cannot read the manifest: {e}")),
    };
    let manifest = manifest.map(|mut m| {
        m.keep_valid(&mut rejected);
        m
    });
    if let Some(m) = &manifest
        && m.version > VERSION
    {
        return Err(format!(
            "{} was written by a newer tapedeck (manifest version {}); upgrade tapedeck",
            path.display(),
            m.version
        ));
    }
    let bytes = match t.read(&rel(JOURNAL), MAX_STATE) {
        Ok(b) => b.unwrap_or_default(),
        Err(e) => return Err(format!("cannot read the journal: {e}")),
    };
    let mut journal = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let Ok(r) = serde_json::from_slice::<Record>(line) else {
            break;
        };
        match r.check() {
            Ok(()) => journal.push(r),
            Err(why) => rejected.push(format!("journal line ignored: {why}")),
        }
    }
    Ok(Loaded {
        manifest,
        journal,
        rejected,
    })
}

/// Writes the manifest atomically: a temporary file, flushed, renamed over the old one, and
/// the folder flushed. The journal is emptied afterwards (its records are now in the manifest).
pub fn save(t: &Target, m: &Manifest) -> Result<(), Error> {
    t.ensure_dir(&RelPath::parse(DIR).expect("a constant path"))?;
    let json = serde_json::to_vec(m).map_err(|e| Error::io(t.root(), std::io::Error::other(e)))?;
    t.write_atomic(&rel(MANIFEST), &json, true)?;
    t.sync_dir(Some(&RelPath::parse(DIR).expect("a constant path")));
    if t.meta(&rel(JOURNAL))?.is_some() {
        let f = t.open_append(&rel(JOURNAL))?;
        f.set_len(0)
            .map_err(|e| Error::io(t.display(&rel(JOURNAL)), e))?;
        f.sync_all()
            .map_err(|e| Error::io(t.display(&rel(JOURNAL)), e))?;
    }
    Ok(())
}

/// The journal, open for appending.
pub struct Journal {
    file: File,
    pending: Vec<u8>,
    path: std::path::PathBuf,
}

impl Journal {
    pub fn open(t: &Target) -> Result<Journal, Error> {
        t.ensure_dir(&RelPath::parse(DIR).expect("a constant path"))?;
        Ok(Journal {
            file: t.open_append(&rel(JOURNAL))?,
            pending: Vec::new(),
            path: t.display(&rel(JOURNAL)),
        })
    }

    /// Queues a record; [`Journal::flush`] writes what is queued.
    pub fn push(&mut self, r: &Record) {
        serde_json::to_writer(&mut self.pending, r).expect("records serialise");
        self.pending.push(b'\n');
    }

    /// Writes the queued records and waits until the device has them.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))?;
        self.pending.clear();
        Ok(())
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
        let t = Target::open(dir.path()).unwrap();
        let root = &t;
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
            .open(dir.path().join(DIR).join(JOURNAL))
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
        let e = load(&Target::open(dir.path()).unwrap()).unwrap_err();
        assert!(e.contains("manifest") && e.contains("damaged"), "{e}");
    }

    #[test]
    fn paths_that_leave_the_root_are_ignored_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::open(dir.path()).unwrap();
        let mut m = Manifest::new("car");
        m.files.insert("A/ok.mp3".into(), entry(1));
        m.files.insert("../escape.mp3".into(), entry(2));
        m.files.insert(".tapedeck/manifest.json".into(), entry(3));
        m.folders.insert("../x".into(), FolderState::default());
        m.playlists.insert("/etc/passwd".into(), "00".into());
        save(&t, &m).unwrap();
        let lines = [
            r#"{"op":"hold","path":"stolen.txt","hold":"../victim/taxes.txt"}"#,
            r#"{"op":"hold","path":"../victim/taxes.txt","hold":".tapedeck/tmp/hold-1"}"#,
            r#"{"op":"hold","path":"a.mp3","hold":"elsewhere/hold-1"}"#,
            r#"{"op":"remove","path":"a/../../b"}"#,
            r#"{"op":"remove","path":"A/ok.mp3"}"#,
        ];
        std::fs::write(
            dir.path().join(DIR).join(JOURNAL),
            lines.join(
                "
",
            ) + "
",
        )
        .unwrap();
        let loaded = load(&t).unwrap();
        let m = loaded.manifest.unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["A/ok.mp3"]);
        assert!(m.folders.is_empty() && m.playlists.is_empty());
        assert_eq!(
            loaded.journal,
            [Record::Remove {
                path: "A/ok.mp3".into()
            }]
        );
        assert_eq!(loaded.rejected.len(), 8, "{:?}", loaded.rejected);
        assert!(
            loaded
                .rejected
                .iter()
                .any(|r| r.contains("../victim/taxes.txt"))
        );
    }

    mod random_lines {
        use super::*;
        use proptest::prelude::*;

        /// Path-like text built from parts an attacker would use.
        fn hostile_path() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                Just(".."),
                Just("."),
                Just(""),
                Just("a"),
                Just("victim"),
                Just(".tapedeck"),
                Just("tmp"),
                Just("hold-1"),
                Just("x\0y"),
                Just("/"),
            ];
            (any::<bool>(), prop::collection::vec(part, 1..6)).prop_map(|(abs, parts)| {
                let p = parts.join("/");
                if abs { format!("/{p}") } else { p }
            })
        }

        fn line() -> impl Strategy<Value = String> {
            (0..5u8, hostile_path(), hostile_path()).prop_map(|(op, a, b)| {
                let (a, b) = (serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
                match op {
                    0 => format!(r#"{{"op":"hold","path":{a},"hold":{b}}}"#),
                    1 => format!(r#"{{"op":"remove","path":{a}}}"#),
                    2 => format!(r#"{{"op":"playlist","path":{a},"xxh3":null}}"#),
                    3 => format!(r#"{{"op":"folder","path":{a},"state":null}}"#),
                    _ => format!(
                        r#"{{"op":"put","path":{a},"entry":{{"source":"","settings":"","tags":"","size":3,"xxh3":"0","seq":1,"written_at":0}}}}"#
                    ),
                }
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn no_path_from_the_device_leaves_the_root(
                lines in prop::collection::vec(line(), 1..12),
                keys in prop::collection::vec(hostile_path(), 0..6),
            ) {
                let dir = tempfile::tempdir().unwrap();
                let root = dir.path().join("stick");
                let victim = dir.path().join("victim");
                std::fs::create_dir_all(root.join(".tapedeck/tmp")).unwrap();
                std::fs::create_dir_all(&victim).unwrap();
                std::fs::write(victim.join("taxes.txt"), b"taxes").unwrap();
                std::fs::write(root.join("a"), b"abc").unwrap();
                std::fs::write(root.join(".tapedeck/tmp/hold-1"), b"held").unwrap();
                let t = Target::open(&root).unwrap();
                let mut m = Manifest::new("car");
                for k in &keys {
                    m.files.insert(k.clone(), entry(1));
                    m.folders.insert(k.clone(), FolderState::default());
                    m.playlists.insert(k.clone(), "0".into());
                }
                std::fs::write(root.join(".tapedeck/manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
                std::fs::write(root.join(".tapedeck/journal.jsonl"), lines.join("\n")).unwrap();
                let loaded = load(&t).unwrap();
                let m = loaded.manifest.as_ref().unwrap();
                let inside = |p: &str| {
                    RelPath::parse(p).is_ok()
                        && std::path::Path::new(p).components().all(|c| matches!(c, std::path::Component::Normal(_)))
                };
                // The root folder's key is "" (files at the top of the device).
                let folders = m.folders.keys().filter(|k| !k.is_empty());
                for k in m.files.keys().chain(m.playlists.keys()).chain(folders) {
                    prop_assert!(inside(k), "{k:?}");
                    prop_assert!(!k.starts_with(".tapedeck"), "{k:?}");
                }
                for r in &loaded.journal {
                    match r {
                        Record::Hold { path, hold } => {
                            prop_assert!(inside(path) && inside(hold), "{r:?}");
                            prop_assert!(hold.starts_with(".tapedeck/tmp/"), "{r:?}");
                        }
                        Record::Put { path, .. } | Record::Remove { path }
                        | Record::Playlist { path, .. } | Record::Folder { path, .. } => {
                            prop_assert!(inside(path) && !path.starts_with(".tapedeck"), "{r:?}")
                        }
                    }
                }
                // Replaying it touches nothing outside the stick.
                let _ = crate::export::sync::recover(&t, loaded, "car", true);
                prop_assert_eq!(std::fs::read(victim.join("taxes.txt")).unwrap(), b"taxes");
                prop_assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
                prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
            }
        }
    }
}
