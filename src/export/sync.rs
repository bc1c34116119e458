//! Carrying out a plan on the device, every change through the device's [`Target`]: new files
//! are made off the device (retagged, gain-adjusted or encoded on a worker pool, in the run's
//! [`Scratch`] folder on the computer), then each batch is copied onto the device in one
//! sequential write into `.tapedeck/tmp`, flushed, and each folder committed in play order by
//! renaming files into it, with every change written to the journal first. Also the repair at
//! the start of a run (journal replayed, leftovers removed), the ownership check before
//! anything of ours is replaced, moved or removed, playlists, removal of empty folders we made,
//! and the final flush.
//!
//! Files tapedeck did not write are never opened for writing, renamed or removed: every
//! removal and every rename over a name is of a path the manifest lists, and a listed file that
//! changed since it was written is the user's (see [`verify`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::manifest::{self, FileEntry, FolderState, Journal, Manifest, Record};
use super::mp3gain;
use super::plan::{
    Item, Kind, Method, Plan, PlaylistLine, playlist_digest, playlist_line, render_playlist,
};
use super::profile::{Cover, Profile};
use crate::audio::gain;
use crate::convert::plan::Request;
use crate::convert::run::{self, ConvertError};
use crate::model::Track;
use crate::tags::{self, CoverPolicy, TransferOptions};
use crate::target::{self, Error, Kind as EntryKind, Ownership, RelPath, Scratch, Target};

/// A path the plan or the manifest names, checked again at the point of use.
fn rp(path: &str) -> Result<RelPath, Error> {
    Ok(RelPath::parse(path)?)
}

/// The files on the device (relative `/`-separated path to size), tapedeck's folder left out,
/// and the symbolic links found (listed with size 0, so no name is ever planned over one).
pub fn scan_device(t: &Target) -> Result<(HashMap<String, u64>, Vec<String>), Error> {
    let (mut files, links) = t.list_files()?;
    for l in &links {
        files.insert(l.clone(), 0);
    }
    Ok((files, links))
}

/// The manifest as it stands after replaying the journal of a run that did not finish. A
/// recorded put counts when the file is there with the recorded checksum; a recorded removal
/// counts when the file is gone (else the file stays ours). With `clean`, a file held away from
/// its folder goes home, and what an interrupted run left in the staging folder is removed
/// (nothing is changed on a dry run). Problems (links where files should be) are returned.
pub fn recover(
    t: &Target,
    loaded: manifest::Loaded,
    profile: &str,
    clean: bool,
) -> (Manifest, Vec<String>) {
    let mut problems = loaded.rejected;
    let mut m = loaded.manifest.unwrap_or_else(|| Manifest::new(profile));
    for r in &loaded.journal {
        let keep = match r {
            Record::Put { path, entry } => rp(path).is_ok_and(|p| {
                t.ownership(&p, entry.size, &entry.xxh3)
                    .is_ok_and(|o| o == Ownership::Ours)
            }),
            Record::Remove { path } => {
                rp(path).is_ok_and(|p| t.meta(&p).is_ok_and(|m| m.is_none()))
            }
            Record::Playlist { path, xxh3 } => match (rp(path), xxh3) {
                (Ok(p), Some(h)) => t.checksum(&p).is_ok_and(|(_, c)| &c == h),
                (Ok(p), None) => t.meta(&p).is_ok_and(|m| m.is_none()),
                (Err(_), _) => false,
            },
            Record::Folder { .. } => true,
            Record::Hold { path, hold } => {
                // Held away from its folder when the run stopped: back home.
                if clean && let (Ok(home), Ok(held)) = (rp(path), rp(hold)) {
                    let there = |p: &RelPath| t.meta(p).ok().flatten();
                    if there(&held).is_some_and(|m| m.kind == EntryKind::File)
                        && there(&home).is_none()
                        && let Err(e) = t.rename(&held, &home, false)
                    {
                        problems.push(format!("cannot put {path} back: {e}"));
                    }
                }
                true
            }
        };
        if keep {
            m.apply(r);
        }
    }
    if clean && let Ok(staging) = rp(target::STAGING) {
        if let Ok(entries) = t.list(Some(&staging)) {
            for (name, _) in entries {
                if let Ok(p) = staging.join(&name)
                    && let Err(e) = t.remove_file(&p)
                {
                    problems.push(format!("cannot clear the staging folder: {e}"));
                }
            }
        } else if let Ok(Some(meta)) = t.meta(&staging)
            && meta.kind == EntryKind::Link
        {
            problems.push(format!(
                "{}: a symbolic link where tapedeck keeps its staging folder; left alone",
                t.display(&staging).display()
            ));
        }
    }
    (m, problems)
}

/// Files of ours on the device that are not what tapedeck wrote any more: a different size
/// (or a link, or a folder) from the listing, or, for the `touch`ed paths (those a plan would
/// replace, move or remove), a different checksum. Each is returned with why; the caller drops
/// them from the manifest (they are the user's now) and plans again.
pub fn verify(
    t: &Target,
    m: &Manifest,
    existing: &HashMap<String, u64>,
    links: &[String],
    touch: &BTreeSet<String>,
) -> Vec<(String, &'static str)> {
    let links: HashSet<&str> = links.iter().map(String::as_str).collect();
    let mut changed = Vec::new();
    for (path, e) in &m.files {
        if links.contains(path.as_str()) {
            changed.push((path.clone(), "now a symbolic link"));
            continue;
        }
        match existing.get(path) {
            None => {}
            Some(&size) if size != e.size => changed.push((path.clone(), "its size changed")),
            Some(_) if touch.contains(path) => {
                match rp(path).and_then(|p| t.ownership(&p, e.size, &e.xxh3)) {
                    Ok(Ownership::Ours | Ownership::Missing) => {}
                    Ok(Ownership::Changed(why)) => changed.push((path.clone(), why)),
                    Err(_) => changed.push((path.clone(), "it cannot be read")),
                }
            }
            Some(_) => {}
        }
    }
    for (path, digest) in &m.playlists {
        if links.contains(path.as_str()) {
            changed.push((path.clone(), "now a symbolic link"));
        } else if existing.contains_key(path)
            && touch.contains(path)
            && !rp(path)
                .and_then(|p| t.checksum(&p))
                .is_ok_and(|(_, h)| &h == digest)
        {
            changed.push((path.clone(), "its contents changed"));
        }
    }
    changed
}

/// The paths of ours a plan would replace, move or remove.
pub fn touched(plan: &Plan, m: &Manifest) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = plan.deletes.iter().map(|d| d.path.clone()).collect();
    out.extend(
        plan.items
            .iter()
            .filter(|i| i.kind != Kind::Keep)
            .filter_map(|i| i.from.clone()),
    );
    let rewritten: HashSet<&str> = plan
        .folders
        .iter()
        .filter(|f| f.rewrite)
        .map(|f| f.path.as_str())
        .collect();
    out.extend(
        m.files
            .keys()
            .filter(|k| rewritten.contains(k.rsplit_once('/').map_or("", |(d, _)| d)))
            .cloned(),
    );
    out.extend(plan.playlist_deletes.iter().cloned());
    out.extend(
        plan.playlists
            .iter()
            .filter(|p| p.changed)
            .map(|p| p.path.clone()),
    );
    out
}

/// Drops files that are the user's now from the manifest (they become names a plan avoids).
pub fn disown(m: &mut Manifest, changed: &[(String, &'static str)]) {
    for (path, _) in changed {
        m.files.remove(path);
        m.playlists.remove(path);
    }
}

/// What a sync did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Outcome {
    pub added: usize,
    pub reencoded: usize,
    pub retagged: usize,
    pub renamed: usize,
    pub deleted: usize,
    pub kept: usize,
    pub folders_rewritten: usize,
    pub playlists_written: usize,
    pub failed: usize,
    pub bytes_written: u64,
    /// The device filled up; what was finished is kept.
    pub full: bool,
    pub interrupted: bool,
    /// The device vanished or was remounted: the run stopped and wrote nothing more.
    pub gone: bool,
    /// Tracks on the device after the sync, and their size.
    pub tracks: usize,
    pub bytes: u64,
    /// Per-file messages: (file, what went wrong).
    #[serde(skip)]
    pub failures: Vec<(String, String)>,
    /// Notes that are not failures (an MP3 whose gain could not be changed in place).
    #[serde(skip)]
    pub notes: Vec<(String, String)>,
    /// Whether anything on the device changed.
    #[serde(skip)]
    pub changed: bool,
}

/// Everything a sync needs.
pub struct Sync<'a> {
    pub target: &'a Target,
    pub plan: &'a Plan,
    pub tracks: &'a [Track],
    pub fingerprints: &'a HashMap<i64, String>,
    pub profile: &'a Profile,
    pub manifest: Manifest,
    pub cancel: &'a AtomicBool,
    pub workers: usize,
    /// Called once per file made (for a progress bar).
    pub progress: &'a (dyn Fn() + std::marker::Sync),
    pub now: i64,
}

/// A file ready to go onto the device.
enum Made {
    /// A byte copy of this source file (nothing to prepare).
    Source(PathBuf),
    /// Prepared in the scratch folder.
    Scratch(PathBuf),
}

/// A finished file in the device's staging folder.
struct Staged {
    path: RelPath,
    size: u64,
    xxh3: String,
}

/// Why making a file failed.
enum Failure {
    /// Not attempted (the device filled, or Ctrl-C).
    Skipped,
    Interrupted,
    Full,
    Gone,
    Other(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match e {
            Error::Full { .. } => Failure::Full,
            Error::Gone { .. } => Failure::Gone,
            Error::Interrupted => Failure::Interrupted,
            e => Failure::Other(e.to_string()),
        }
    }
}

impl From<ConvertError> for Failure {
    fn from(e: ConvertError) -> Failure {
        match e {
            ConvertError::Interrupted => Failure::Interrupted,
            ConvertError::Write(e) => e.into(),
            ConvertError::Failed(m) => Failure::Other(m),
        }
    }
}

/// Copies a file, with `std::io::copy` (no permissions copied, which fusefat refuses).
fn copy_file(src: &std::path::Path, dst: &std::path::Path) -> Result<(), Failure> {
    let mut input = File::open(src)
        .map_err(|e| Failure::Other(format!("cannot read {}: {e}", src.display())))?;
    let mut out = Scratch::create(dst).map_err(|e| Failure::from(Error::io(dst, e)))?;
    std::io::copy(&mut input, &mut out).map_err(|e| Failure::from(Error::io(dst, e)))?;
    Ok(())
}

/// A batch sent to the writer: its folder parts (folder, start, end), how many copies are
/// still to come back, and whether any was written.
type Batch = (Vec<(usize, usize, usize)>, usize, bool);

/// What the writer did with one made file.
enum Copied {
    /// On the device, in the staging folder.
    Done(Staged),
    /// Not attempted (the device filled, or the run stopped).
    Skipped,
    /// The source could not be read (why).
    ReadFailed(String),
    Failed(Error),
}

/// Copies a made file into the device's staging folder at `dst`, in one sequential write.
fn copy_one(t: &Target, mk: &Made, dst: &RelPath) -> Copied {
    let src = match mk {
        Made::Source(p) | Made::Scratch(p) => p,
    };
    // A source replaced by a FIFO or device since the scan is never opened to block.
    match crate::scan::open_regular(src) {
        Ok((f, _)) => match t.copy_in(f, dst) {
            Ok((size, xxh3)) => Copied::Done(Staged {
                path: dst.clone(),
                size,
                xxh3,
            }),
            Err(e) => Copied::Failed(e),
        },
        Err(e) => Copied::ReadFailed(format!("cannot read {}: {e}", src.display())),
    }
}

impl Sync<'_> {
    fn transfer_options(&self) -> TransferOptions {
        TransferOptions {
            id3v23: self.profile.id3v23,
            id3v1: self.profile.id3v1,
            replaygain: self.profile.gain.is_none(),
            cover: match self.profile.cover {
                Cover::Keep => CoverPolicy::Keep,
                Cover::Drop => CoverPolicy::Drop,
                Cover::Fit(max_px) => CoverPolicy::Fit { max_px },
            },
        }
    }

    fn request(&self, t: &Track) -> Request {
        let p = self.profile;
        Request {
            encode: p.encode(),
            sample_rate: Some(super::plan::encode_rate(p, t)).filter(|r| Some(*r) != t.sample_rate),
            bit_depth: p.bit_depth,
            apply_gain: p.gain.filter(|g| *g != gain::Mode::Off),
            allow_lossy_source: true,
            id3v23: p.id3v23,
            id3v1: p.id3v1,
            cover_max: match p.cover {
                Cover::Fit(px) => Some(px),
                _ => None,
            },
            // The profile's copies are planned by export itself.
            copy: Vec::new(),
        }
    }

    /// Makes the file for `item` (in the scratch folder at `dst`, unless it is a plain copy).
    /// `input` is the device's copy to retag, for a file we encoded.
    fn make(
        &self,
        item: &Item,
        input: Option<&RelPath>,
        dst: &std::path::Path,
        notes: &mut Vec<(String, String)>,
    ) -> Result<Made, Failure> {
        let t = &self.tracks[item.track];
        let src = &t.path;
        let retag = |dst: &std::path::Path| {
            tags::transfer(src, dst, &self.transfer_options())
                .map_err(|e| Failure::Other(e.to_string()))
        };
        // Retagging a file we encoded works on the device's copy, not a new encode.
        if let Some(input) = input {
            let mut from = self.target.open_read(input)?;
            let mut out = Scratch::create(dst).map_err(|e| Failure::from(Error::io(dst, e)))?;
            std::io::copy(&mut from, &mut out).map_err(|e| Failure::from(Error::io(dst, e)))?;
            retag(dst)?;
            return Ok(Made::Scratch(dst.to_path_buf()));
        }
        match item.method {
            Method::Copy => Ok(Made::Source(src.clone())),
            Method::CopyRetag => {
                copy_file(src, dst)?;
                retag(dst)?;
                Ok(Made::Scratch(dst.to_path_buf()))
            }
            Method::CopyGain { steps } => {
                let mut data = std::fs::read(src)
                    .map_err(|e| Failure::Other(format!("cannot read {}: {e}", src.display())))?;
                match mp3gain::apply(&mut data, steps) {
                    Ok(_) => {
                        Scratch::create(dst)
                            .and_then(|mut f| std::io::Write::write_all(&mut f, &data))
                            .map_err(|e| Failure::from(Error::io(dst, e)))?;
                        retag(dst)?;
                    }
                    Err(why) => {
                        notes.push((
                            src.display().to_string(),
                            format!(
                                "cannot change the gain of its frames ({why}): encoded again instead"
                            ),
                        ));
                        self.encode(t, dst)?;
                    }
                }
                Ok(Made::Scratch(dst.to_path_buf()))
            }
            Method::Encode { .. } => {
                self.encode(t, dst)?;
                Ok(Made::Scratch(dst.to_path_buf()))
            }
        }
    }

    fn encode(&self, t: &Track, dst: &std::path::Path) -> Result<(), Failure> {
        run::convert_one(t, dst, &self.request(t), self.cancel)?;
        if self.profile.cover == Cover::Drop {
            let opts = TransferOptions {
                cover: CoverPolicy::Drop,
                ..self.transfer_options()
            };
            tags::transfer(&t.path, dst, &opts).map_err(|e| Failure::Other(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs the plan.
    pub fn run(mut self) -> Result<(Outcome, Manifest), Error> {
        let t = self.target;
        t.check_present()?;
        let staging = rp(target::STAGING)?;
        t.ensure_dir(&staging)?;
        let reserve = rp(&format!("{}/reserve", manifest::DIR))?;
        make_reserve(t, &reserve);
        let scratch = Scratch::new().map_err(|e| Error::io("the scratch folder", e))?;
        let journal = Journal::open(t)?;
        let mut m = std::mem::replace(&mut self.manifest, Manifest::new(""));
        m.profile = self.profile.name.clone();
        // Where each of our files is now (it moves to the staging folder while its folder is
        // rewritten, or on its way to another folder).
        let location: HashMap<String, RelPath> = m
            .files
            .keys()
            .filter_map(|k| rp(k).ok().map(|p| (k.clone(), p)))
            .collect();
        let mut in_folder: HashMap<String, Vec<String>> = HashMap::new();
        for k in m.files.keys() {
            let d = k.rsplit_once('/').map_or("", |(d, _)| d);
            in_folder.entry(d.to_string()).or_default().push(k.clone());
        }
        let mut run = Run {
            sync: &self,
            m,
            location,
            in_folder,
            journal,
            out: Outcome::default(),
            staged: HashMap::new(),
            staging,
            copied: 0,
        };
        let result = (|| -> Result<(), Error> {
            run.delete_unwanted()?;
            run.make_and_commit(&scratch)?;
            run.put_back_held();
            if !run.out.full && !run.out.interrupted {
                run.write_playlists()?;
            }
            run.remove_empty_folders();
            Ok(())
        })();
        match result {
            Ok(()) => {}
            Err(Error::Gone { .. }) => {
                run.out.gone = true;
                return Ok((run.out, run.m));
            }
            Err(e) => return Err(e),
        }
        run.finish(&reserve)?;
        Ok((run.out, run.m))
    }
}

/// The state of one sync while it runs.
struct Run<'s, 'a> {
    sync: &'s Sync<'a>,
    m: Manifest,
    location: HashMap<String, RelPath>,
    in_folder: HashMap<String, Vec<String>>,
    journal: Journal,
    out: Outcome,
    /// Items whose file is in the device's staging folder, ready to be renamed into place.
    staged: HashMap<usize, Staged>,
    staging: RelPath,
    /// Files copied into the staging folder so far (their names).
    copied: usize,
}

impl Run<'_, '_> {
    fn target(&self) -> &Target {
        self.sync.target
    }

    fn track_name(&self, item: usize) -> String {
        self.sync.tracks[self.sync.plan.items[item].track]
            .path
            .display()
            .to_string()
    }

    /// Step 1: deletions first, to make room. Each file is checked again for its size just
    /// before (its checksum was checked when planning).
    fn delete_unwanted(&mut self) -> Result<(), Error> {
        let plan = self.sync.plan;
        for d in &plan.deletes {
            self.journal.push(&Record::Remove {
                path: d.path.clone(),
            });
        }
        for pl in &plan.playlist_deletes {
            self.journal.push(&Record::Playlist {
                path: pl.clone(),
                xxh3: None,
            });
        }
        self.journal.flush()?;
        for d in &plan.deletes {
            let p = rp(&d.path)?;
            let expected = self.m.files.get(&d.path).map(|e| e.size);
            let r = match self.target().meta(&p)? {
                Some(meta) if meta.kind == EntryKind::File && Some(meta.size) == expected => {
                    self.target().remove_file(&p)
                }
                None => Ok(()),
                Some(_) => Err(Error::NotOurs {
                    path: self.target().display(&p),
                    why: "it changed since tapedeck wrote it",
                }),
            };
            match r {
                Ok(()) => {
                    self.out.deleted += 1;
                    self.out.changed = true;
                    self.m.files.remove(&d.path);
                    self.location.remove(&d.path);
                }
                Err(e @ Error::Gone { .. }) => return Err(e),
                Err(e) => {
                    self.m.files.remove(&d.path);
                    self.location.remove(&d.path);
                    self.out
                        .failures
                        .push((d.path.clone(), format!("not removed: {e}")));
                }
            }
        }
        for pl in &plan.playlist_deletes {
            if let Ok(p) = rp(pl)
                && self.target().remove_file(&p).is_ok()
            {
                self.out.changed = true;
            }
            self.m.playlists.remove(pl);
        }
        for f in &plan.forget {
            self.m.files.remove(f);
            self.location.remove(f);
        }
        Ok(())
    }

    /// Step 2: new files are made on worker threads in play order, and the main thread commits
    /// each folder as soon as its files are ready, a batch at a time: the batch is copied into
    /// the staging folder in one sequential write and flushed before any rename refers to it.
    fn make_and_commit(&mut self, scratch: &Scratch) -> Result<(), Error> {
        let sync = self.sync;
        let plan = sync.plan;
        let folder_of: HashMap<usize, usize> = plan
            .folders
            .iter()
            .enumerate()
            .flat_map(|(f, folder)| folder.order.iter().map(move |&i| (i, f)))
            .collect();
        let mut pending: Vec<usize> = vec![0; plan.folders.len()];
        let mut jobs: Vec<(usize, Option<RelPath>, PathBuf)> = Vec::new();
        let mut first_jobs: Vec<(usize, Option<RelPath>, PathBuf)> = Vec::new();
        for (f, folder) in plan.folders.iter().enumerate() {
            for &i in &folder.order {
                let item = &plan.items[i];
                if !needs_making(item) {
                    continue;
                }
                pending[f] += 1;
                let ext = item.path.rsplit_once('.').map_or("bin", |(_, e)| e);
                let dst = scratch.path(jobs.len() + first_jobs.len() + 1, ext);
                if is_retag_of_encoded(item) {
                    // Made first, from the device's copy, before any commit moves it.
                    let input = item
                        .from
                        .as_ref()
                        .and_then(|f| self.location.get(f))
                        .cloned();
                    first_jobs.push((i, input, dst));
                } else {
                    jobs.push((i, None, dst));
                }
            }
        }
        first_jobs.extend(jobs);
        let jobs = first_jobs;
        // Per folder: how much of its play order is committed, and whether a put failed.
        let mut committed: Vec<usize> = vec![0; plan.folders.len()];
        let mut failed_in: Vec<bool> = vec![false; plan.folders.len()];
        let mut cleared: Vec<bool> = vec![false; plan.folders.len()];
        let mut closed: Vec<bool> = vec![false; plan.folders.len()];
        let mut finished: HashSet<usize> = HashSet::new();
        let mut ready: Vec<usize> = (0..plan.folders.len()).collect();
        let mut made: HashMap<usize, Made> = HashMap::new();
        let stop = AtomicBool::new(false);
        let next = AtomicUsize::new(0);
        // Files made but not yet copied onto the device: the workers wait while there are many,
        // so the scratch folder never holds much more than a batch (a slow stick sets the pace).
        let waiting = AtomicUsize::new(0);
        // A folder rewritten in order goes in whole, so all of its files may wait together.
        let largest_rewrite = plan
            .folders
            .iter()
            .filter(|f| f.rewrite)
            .map(|f| {
                f.order
                    .iter()
                    .filter(|&&i| needs_making(&plan.items[i]))
                    .count()
            })
            .max()
            .unwrap_or(0);
        let most_waiting = 64 + 4 * sync.workers.max(1) + largest_rewrite;
        let (tx, rx) = crossbeam_channel::unbounded::<(usize, Result<Made, Failure>, Vec<_>)>();
        let mut last_commit = Instant::now();
        let mut last_save = Instant::now();
        std::thread::scope(|scope| -> Result<(), Error> {
            for w in 0..sync.workers.max(1) {
                let tx = tx.clone();
                let (jobs, stop, next, waiting) = (&jobs, &stop, &next, &waiting);
                std::thread::Builder::new()
                    .name(format!("export-{w}"))
                    .spawn_scoped(scope, move || {
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let Some((i, input, dst)) = jobs.get(n) else {
                                break;
                            };
                            let mut notes = Vec::new();
                            while waiting.load(Ordering::Relaxed) >= most_waiting
                                && !stop.load(Ordering::Relaxed)
                                && !sync.cancel.load(Ordering::Relaxed)
                            {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            if stop.load(Ordering::Relaxed) || sync.cancel.load(Ordering::Relaxed) {
                                let _ = tx.send((*i, Err(Failure::Skipped), notes));
                                continue;
                            }
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                sync.make(&plan.items[*i], input.as_ref(), dst, &mut notes)
                            }))
                            .unwrap_or_else(|_| {
                                Err(Failure::Other(
                                    "the exporter failed unexpectedly on this file".into(),
                                ))
                            });
                            match &r {
                                Ok(Made::Scratch(_)) => {
                                    waiting.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(Made::Source(_)) => {}
                                Err(_) => scratch.discard(dst),
                            }
                            (sync.progress)();
                            if tx.send((*i, r, notes)).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(|e| Error::io("the workers", e))?;
            }
            drop(tx);
            // One writer copies made files onto the device, one after another (a sequential
            // write), while this thread commits the batch before.
            let (copy_tx, copy_rx) = crossbeam_channel::unbounded::<(usize, Made, RelPath)>();
            let (copied_tx, copied_rx) = crossbeam_channel::unbounded::<(usize, Copied)>();
            {
                let (target, stop) = (sync.target, &stop);
                std::thread::Builder::new()
                    .name("export-writer".into())
                    .spawn_scoped(scope, move || {
                        for (i, mk, dst) in copy_rx.iter() {
                            let r = if stop.load(Ordering::Relaxed) {
                                Copied::Skipped
                            } else {
                                copy_one(target, &mk, &dst)
                            };
                            if let Made::Scratch(p) = &mk {
                                scratch.discard(p);
                            }
                            if copied_tx.send((i, r)).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(|e| Error::io("the writer", e))?;
            }
            let mut ready_files = 0usize;
            let mut ready_bytes = 0u64;
            let mut workers_done = false;
            // Batches sent to the writer, oldest first: their parts, how many copies are still
            // to come back, and whether any was written.
            let mut batches: std::collections::VecDeque<Batch> = std::collections::VecDeque::new();
            let never = crossbeam_channel::never();
            let result = (|| -> Result<(), Error> {
                loop {
                    let from_workers = if workers_done { &never } else { &rx };
                    crossbeam_channel::select! {
                        recv(from_workers) -> msg => match msg {
                            Ok((i, r, notes)) => {
                                self.out.notes.extend(notes);
                                match r {
                                    Ok(mk) => {
                                        ready_files += 1;
                                        ready_bytes += plan.items[i].bytes;
                                        made.insert(i, mk);
                                    }
                                    Err(Failure::Skipped) => {}
                                    Err(Failure::Interrupted) => self.out.interrupted = true,
                                    Err(Failure::Full) => {
                                        self.out.full = true;
                                        stop.store(true, Ordering::Relaxed);
                                    }
                                    Err(Failure::Gone) => return Err(self.gone()),
                                    Err(Failure::Other(message)) => {
                                        self.out.failed += 1;
                                        self.out.failures.push((self.track_name(i), message));
                                    }
                                }
                                finished.insert(i);
                                let f = folder_of[&i];
                                pending[f] -= 1;
                                ready.push(f);
                            }
                            Err(_) => workers_done = true,
                        },
                        recv(copied_rx) -> msg => {
                            if let Ok((i, c)) = msg {
                                let wrote = self.take_copied(i, c, &stop)?;
                                if let Some(front) = batches.iter_mut().find(|b| b.1 > 0) {
                                    front.1 -= 1;
                                    front.2 |= wrote;
                                }
                            }
                        },
                        default(Duration::from_millis(200)) => {},
                    }
                    // Batches whose files are all on the device: flushed, then committed.
                    while batches.front().is_some_and(|b| b.1 == 0) {
                        let (parts, _, wrote) = batches.pop_front().expect("a batch");
                        // The device must still be the one we started on.
                        self.target().check_present()?;
                        if wrote {
                            self.target().sync()?;
                        }
                        for (f, start, end) in parts {
                            let folder = &plan.folders[f];
                            self.commit_folder(
                                folder,
                                Part {
                                    items: &folder.order[start..end],
                                    cleared: &mut cleared[f],
                                    last: end == folder.order.len(),
                                    failed: &mut failed_in[f],
                                },
                            )?;
                        }
                        if last_save.elapsed() > Duration::from_secs(20) {
                            self.m.last_sync = sync.now;
                            if manifest::save(self.target(), &self.m).is_ok() {
                                last_save = Instant::now();
                            }
                        }
                    }
                    // Few flushes for many small files; at most a couple of seconds of work,
                    // or 64 MB, lost to a kill.
                    let due = workers_done
                        || ready_files >= 512
                        || ready_bytes >= 64_000_000
                        || (!ready.is_empty() && last_commit.elapsed() > Duration::from_secs(2));
                    if due && !ready.is_empty() {
                        ready.sort_unstable();
                        ready.dedup();
                        // Which part of each ready folder goes in now.
                        let mut parts: Vec<(usize, usize, usize)> = Vec::new();
                        for f in std::mem::take(&mut ready) {
                            let folder = &plan.folders[f];
                            let order = &folder.order;
                            let start = committed[f];
                            if closed[f] {
                                continue;
                            }
                            // A rewrite goes in whole; otherwise the ready start of what is left.
                            let end = if folder.rewrite {
                                if pending[f] > 0 {
                                    continue;
                                }
                                order.len()
                            } else {
                                start
                                    + order[start..]
                                        .iter()
                                        .take_while(|&&i| {
                                            !needs_making(&plan.items[i]) || finished.contains(&i)
                                        })
                                        .count()
                            };
                            if end == start && !(start == 0 && order.is_empty()) {
                                continue;
                            }
                            committed[f] = end;
                            closed[f] = end == order.len();
                            parts.push((f, start, end));
                        }
                        if !parts.is_empty() {
                            self.target().check_present()?;
                            let mut sent = 0;
                            for &(f, start, end) in &parts {
                                for &i in &plan.folders[f].order[start..end] {
                                    if let Some(mk) = made.remove(&i) {
                                        if matches!(mk, Made::Scratch(_)) {
                                            waiting.fetch_sub(1, Ordering::Relaxed);
                                        }
                                        let dst = self.staging_name(i)?;
                                        if copy_tx.send((i, mk, dst)).is_ok() {
                                            sent += 1;
                                        }
                                    }
                                }
                            }
                            batches.push_back((parts, sent, false));
                        }
                        ready_files = 0;
                        ready_bytes = 0;
                        last_commit = Instant::now();
                    }
                    if workers_done && ready.is_empty() && batches.is_empty() {
                        return Ok(());
                    }
                }
            })();
            drop(copy_tx);
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
                // Drain the workers and the writer so the scope can end; what the writer put
                // in the staging folder is removed.
                for _ in rx.iter() {}
                for (_, c) in copied_rx.iter() {
                    if let Copied::Done(st) = c {
                        let _ = sync.target.remove_file(&st.path);
                    }
                }
            }
            result
        })?;
        if sync.cancel.load(Ordering::Relaxed) {
            self.out.interrupted = true;
        }
        for (_, mk) in made {
            if let Made::Scratch(p) = mk {
                scratch.discard(&p);
            }
        }
        for (_, st) in std::mem::take(&mut self.staged) {
            let _ = self.target().remove_file(&st.path);
        }
        Ok(())
    }

    fn gone(&self) -> Error {
        Error::Gone {
            root: self.target().root().to_path_buf(),
        }
    }

    /// A fresh name in the device's staging folder for item `i`'s file.
    fn staging_name(&mut self, i: usize) -> Result<RelPath, Error> {
        let item = &self.sync.plan.items[i];
        let ext = item.path.rsplit_once('.').map_or("bin", |(_, e)| e);
        self.copied += 1;
        Ok(self.staging.join(&format!("{:06}.{ext}", self.copied))?)
    }

    /// Takes what the writer did with item `i`'s file. Returns whether anything was written;
    /// a full device stops the making (what is staged is still committed).
    fn take_copied(&mut self, i: usize, c: Copied, stop: &AtomicBool) -> Result<bool, Error> {
        let full = |this: &mut Self| {
            this.out.full = true;
            stop.store(true, Ordering::Relaxed);
            Ok(false)
        };
        match c {
            Copied::Done(st) => {
                if self.out.full {
                    // Past a full device nothing more is committed; the next run does it.
                    let _ = self.target().remove_file(&st.path);
                    return Ok(true);
                }
                self.staged.insert(i, st);
                Ok(true)
            }
            Copied::Skipped => Ok(false),
            Copied::ReadFailed(why) => {
                self.out.failed += 1;
                self.out.failures.push((self.track_name(i), why));
                Ok(false)
            }
            Copied::Failed(Error::Full { .. }) => full(self),
            Copied::Failed(e @ Error::Gone { .. }) => Err(e),
            // fusefat reports a full device as EPERM on write; names in the staging folder are
            // always accepted, so there it means full.
            Copied::Failed(Error::Io { source, .. })
                if source.raw_os_error() == Some(libc::EPERM) =>
            {
                full(self)
            }
            Copied::Failed(e) => {
                self.out.failed += 1;
                self.out.failures.push((
                    self.track_name(i),
                    format!("cannot write to the device: {e}"),
                ));
                Ok(false)
            }
        }
    }

    /// Commits one folder: removes what leaves it, then puts every file that arrives (and,
    /// for a rewrite, every file that stays) in play order.
    fn commit_folder(&mut self, folder: &super::plan::Folder, part: Part<'_>) -> Result<(), Error> {
        let plan = self.sync.plan;
        let t = self.sync.target;
        let dir = if folder.path.is_empty() {
            None
        } else {
            Some(rp(&folder.path)?)
        };
        // Nothing arrives (every new file failed to be made, and nothing moves in): the folder
        // is left exactly as it is, so a file that keeps failing costs no rewrite.
        let arriving = part.items.iter().any(|&i| {
            let item = &plan.items[i];
            match item.kind {
                Kind::Keep => false,
                Kind::Rename => true,
                _ => self.staged.contains_key(&i),
            }
        });
        if !arriving {
            if part.last && *part.cleared {
                self.folder_done(folder, &part);
            } else if part.last && folder.holes_after {
                // Untouched now, but step 1's deletions may have left gaps.
                self.m.folders.entry(folder.path.clone()).or_default().holes = true;
            }
            return Ok(());
        }
        if !*part.cleared {
            self.clear_folder(folder)?;
            *part.cleared = true;
        }

        // Put everything in, in play order.
        if let Some(dir) = &dir {
            match t.ensure_dir(dir) {
                Ok(created) => {
                    for made in created {
                        let state = FolderState {
                            holes: false,
                            created: true,
                        };
                        self.m.folders.insert(made.to_string(), state.clone());
                        self.journal.push(&Record::Folder {
                            path: made.to_string(),
                            state: Some(state),
                        });
                        self.out.changed = true;
                    }
                }
                Err(e @ Error::Gone { .. }) => return Err(e),
                Err(e) => {
                    self.out.full |= e.is_full();
                    let why = match &e {
                        Error::Io { source, .. }
                            if matches!(
                                source.raw_os_error(),
                                Some(libc::EACCES | libc::EPERM | libc::EINVAL)
                            ) =>
                        {
                            format!(
                                "the device refused the folder name {} ({e}); pick a profile \
                                 with stricter names, such as car-strict",
                                folder.path
                            )
                        }
                        _ => format!("cannot create the folder {}: {e}", folder.path),
                    };
                    for &i in part.items {
                        if let Some(s) = self.staged.remove(&i) {
                            let _ = t.remove_file(&s.path);
                            if !e.is_full() {
                                self.out.failed += 1;
                                self.out.failures.push((self.track_name(i), why.clone()));
                            }
                        }
                    }
                    return Ok(());
                }
            }
        }
        struct Put {
            item: usize,
            from: RelPath,
            entry: FileEntry,
            old: Option<String>,
        }
        let mut puts: Vec<Put> = Vec::new();
        for &i in part.items {
            let item = &plan.items[i];
            let (from, size, xxh3, old) = match item.kind {
                Kind::Keep if !folder.rewrite => continue,
                Kind::Keep | Kind::Rename => {
                    let Some(src) = item.from.as_ref() else {
                        continue;
                    };
                    let Some(loc) = self.location.get(src) else {
                        continue;
                    };
                    let Some(e) = self.m.files.get(src) else {
                        continue;
                    };
                    (loc.clone(), e.size, e.xxh3.clone(), Some(src.clone()))
                }
                _ => match self.staged.remove(&i) {
                    Some(s) => (s.path, s.size, s.xxh3, item.from.clone()),
                    None => continue,
                },
            };
            let entry = FileEntry {
                source: self
                    .sync
                    .fingerprints
                    .get(&self.sync.tracks[item.track].id)
                    .cloned()
                    .unwrap_or_default(),
                settings: item.settings.clone(),
                tags: item.tags.clone(),
                size,
                xxh3,
                seq: self.m.next_seq,
                written_at: self.sync.now,
            };
            self.m.next_seq += 1;
            self.journal.push(&Record::Put {
                path: item.path.clone(),
                entry: entry.clone(),
            });
            if let Some(o) = &old
                && *o != item.path
            {
                self.journal.push(&Record::Remove { path: o.clone() });
            }
            puts.push(Put {
                item: i,
                from,
                entry,
                old,
            });
        }
        self.journal.flush()?;
        for put in puts {
            let item = &plan.items[put.item];
            let target = rp(&item.path)?;
            match t.rename(&put.from, &target, false) {
                Ok(()) => {
                    if let Some(o) = &put.old {
                        // A held input of a retag is not needed any more.
                        if let Some(loc) = self.location.remove(o)
                            && loc != target
                            && loc != put.from
                            && !matches!(item.kind, Kind::Keep | Kind::Rename)
                            && loc.starts_with(&self.staging)
                        {
                            let _ = t.remove_file(&loc);
                        }
                        if *o != item.path {
                            self.m.files.remove(o);
                        }
                    }
                    self.location.insert(item.path.clone(), target);
                    self.out.bytes_written += if matches!(item.kind, Kind::Keep | Kind::Rename) {
                        0
                    } else {
                        put.entry.size
                    };
                    self.m.files.insert(item.path.clone(), put.entry);
                    self.out.changed = true;
                    match item.kind {
                        Kind::Add => self.out.added += 1,
                        Kind::Reencode => self.out.reencoded += 1,
                        Kind::Retag => self.out.retagged += 1,
                        Kind::Rename => self.out.renamed += 1,
                        Kind::Keep => {}
                    }
                }
                Err(e @ Error::Gone { .. }) => return Err(e),
                Err(e) => {
                    *part.failed = true;
                    let full = e.is_full();
                    self.out.full |= full;
                    let why = match &e {
                        Error::Io { source, .. }
                            if matches!(
                                source.raw_os_error(),
                                Some(libc::EACCES | libc::EPERM | libc::EINVAL)
                            ) =>
                        {
                            format!(
                                "the device refused the name {} ({e}); pick a profile with \
                                 stricter names, such as car-strict",
                                item.path
                            )
                        }
                        _ => format!("cannot write {}: {e}", item.path),
                    };
                    if matches!(item.kind, Kind::Keep | Kind::Rename) {
                        // Held files go back where they were when they can.
                        if let Some(o) = &put.old
                            && let Ok(home) = rp(o)
                            && (put.from == home || t.rename(&put.from, &home, false).is_ok())
                        {
                            self.location.insert(o.clone(), home);
                            continue;
                        }
                        if put.from.starts_with(&self.staging) {
                            let _ = t.remove_file(&put.from);
                        }
                        if let Some(o) = &put.old {
                            self.location.remove(o);
                            self.m.files.remove(o);
                        }
                    } else {
                        let _ = t.remove_file(&put.from);
                    }
                    if !full {
                        self.out.failed += 1;
                        self.out.failures.push((self.track_name(put.item), why));
                    }
                }
            }
        }
        if part.last {
            self.folder_done(folder, &part);
        }
        Ok(())
    }

    /// Records a folder's state after its last commit.
    fn folder_done(&mut self, folder: &super::plan::Folder, part: &Part<'_>) {
        if folder.rewrite {
            self.out.folders_rewritten += 1;
        }
        let holes = folder.holes_after || *part.failed;
        let state = self.m.folders.entry(folder.path.clone()).or_default();
        state.holes = holes;
    }

    /// Before a folder's first commit: our files in it that must leave (or, for a rewrite,
    /// step out into the staging folder to be put back in order).
    fn clear_folder(&mut self, folder: &super::plan::Folder) -> Result<(), Error> {
        let plan = self.sync.plan;
        let t = self.sync.target;
        let staying_in_place: BTreeSet<&str> = if folder.rewrite {
            BTreeSet::new()
        } else {
            folder
                .order
                .iter()
                .filter(|&&i| plan.items[i].kind == Kind::Keep)
                .map(|&i| plan.items[i].path.as_str())
                .collect()
        };
        let ours_here = self
            .in_folder
            .get(&folder.path)
            .cloned()
            .unwrap_or_default();
        let leaving: Vec<(String, RelPath)> = ours_here
            .iter()
            .filter(|path| !staying_in_place.contains(path.as_str()))
            .filter_map(|path| {
                let home = rp(path).ok()?;
                (self.location.get(path.as_str()) == Some(&home)
                    && t.meta(&home)
                        .ok()
                        .flatten()
                        .is_some_and(|m| m.kind == EntryKind::File))
                .then(|| (path.clone(), home))
            })
            .collect();
        // Which of the leaving files are needed again (kept, renamed, or the input of a retag
        // of an encoded file, which is already made by now).
        let wanted: BTreeSet<&str> = plan
            .items
            .iter()
            .filter(|i| matches!(i.kind, Kind::Keep | Kind::Rename) || is_retag_of_encoded(i))
            .filter_map(|i| i.from.as_deref())
            .collect();
        if folder.rewrite {
            self.journal.push(&Record::Folder {
                path: folder.path.clone(),
                state: Some(FolderState {
                    holes: true,
                    ..self
                        .m
                        .folders
                        .get(&folder.path)
                        .cloned()
                        .unwrap_or_default()
                }),
            });
        }
        let tag = xxhash_rust::xxh3::xxh3_64(folder.path.as_bytes());
        let mut holds = Vec::new();
        for (n, (path, home)) in leaving.into_iter().enumerate() {
            if wanted.contains(path.as_str()) {
                let hold = self.staging.join(&format!("hold-{tag:016x}-{n}"))?;
                self.journal.push(&Record::Hold {
                    path: path.clone(),
                    hold: hold.to_string(),
                });
                holds.push((path, home, Some(hold)));
            } else {
                self.journal.push(&Record::Remove { path: path.clone() });
                holds.push((path, home, None));
            }
        }
        self.journal.flush()?;
        for (path, home, hold) in holds {
            let r = match &hold {
                Some(hold) => t.rename(&home, hold, false),
                None => t.remove_file(&home),
            };
            match r {
                Ok(()) => {
                    self.out.changed = true;
                    match hold {
                        Some(hold) => {
                            self.location.insert(path, hold);
                        }
                        None => {
                            self.m.files.remove(&path);
                            self.location.remove(&path);
                        }
                    }
                }
                Err(e @ Error::Gone { .. }) => return Err(e),
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    if hold.is_none() {
                        self.m.files.remove(&path);
                        self.location.remove(&path);
                    }
                }
                Err(e) => self
                    .out
                    .failures
                    .push((path, format!("cannot move it: {e}"))),
            }
        }
        Ok(())
    }

    /// Files held for a rewrite whose folder was never committed (full, interrupted) go back
    /// where they were; what cannot is written again next time.
    fn put_back_held(&mut self) {
        let t = self.sync.target;
        let mut lost = Vec::new();
        for (path, loc) in self.location.iter() {
            let Ok(home) = rp(path) else { continue };
            if *loc != home
                && loc.starts_with(&self.staging)
                && t.meta(loc).ok().flatten().is_some()
                && t.rename(loc, &home, false).is_err()
            {
                let _ = t.remove_file(loc);
                lost.push(path.clone());
            }
        }
        for p in lost {
            self.m.files.remove(&p);
        }
    }

    /// Step 3: playlists, pointing at what is on the device now. A playlist of ours is
    /// replaced (its contents were checked when planning); any other name is never written over.
    fn write_playlists(&mut self) -> Result<(), Error> {
        let sync = self.sync;
        let t = sync.target;
        let by_track: HashMap<usize, &Item> =
            sync.plan.items.iter().map(|i| (i.track, i)).collect();
        for part in &sync.plan.playlists {
            let lines: Vec<PlaylistLine> = part
                .tracks
                .iter()
                .filter_map(|t| by_track.get(t))
                .filter(|i| self.m.files.contains_key(&i.path))
                .map(|i| playlist_line(&sync.tracks[i.track], &i.path))
                .collect();
            let bytes = render_playlist(sync.profile, &lines);
            let xxh3 = playlist_digest(&bytes);
            let target = rp(&part.path)?;
            let there = t.meta(&target)?;
            if self.m.playlists.get(&part.path) == Some(&xxh3) && there.is_some() {
                continue;
            }
            let ours = self.m.playlists.contains_key(&part.path);
            self.journal.push(&Record::Playlist {
                path: part.path.clone(),
                xxh3: Some(xxh3.clone()),
            });
            self.journal.flush()?;
            match t.write_atomic(&target, &bytes, ours) {
                Ok(()) => {
                    self.m.playlists.insert(part.path.clone(), xxh3);
                    self.out.playlists_written += 1;
                    self.out.changed = true;
                }
                Err(e @ Error::Gone { .. }) => return Err(e),
                Err(e) => self
                    .out
                    .failures
                    .push((part.path.clone(), format!("cannot write it: {e}"))),
            }
        }
        Ok(())
    }

    /// Step 4: folders we made that are now empty.
    fn remove_empty_folders(&mut self) {
        let t = self.sync.target;
        let mut made: Vec<String> = self
            .m
            .folders
            .iter()
            .filter(|(k, f)| f.created && !k.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        made.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
        for f in made {
            let Ok(dir) = rp(&f) else {
                self.m.folders.remove(&f);
                continue;
            };
            match t.list(Some(&dir)) {
                Ok(entries) if entries.is_empty() => {
                    if t.remove_dir(&dir).is_ok() {
                        self.m.folders.remove(&f);
                        self.out.changed = true;
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    self.m.folders.remove(&f);
                }
            }
        }
        // Folders we did not create are remembered only while they hold files of ours.
        let parents: BTreeSet<&str> = self
            .m
            .files
            .keys()
            .map(|k| k.rsplit_once('/').map_or("", |(d, _)| d))
            .collect();
        let stale: Vec<String> = self
            .m
            .folders
            .iter()
            .filter(|(k, f)| !f.created && !parents.contains(k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.m.folders.remove(&k);
        }
    }

    /// Step 5: the manifest, then everything flushed.
    fn finish(&mut self, reserve: &RelPath) -> Result<(), Error> {
        let plan = self.sync.plan;
        let t = self.sync.target;
        self.out.kept = plan.count(Kind::Keep);
        self.out.tracks = self.m.files.len();
        self.out.bytes = self.m.files.values().map(|e| e.size).sum();
        if self.out.changed || !plan.forget.is_empty() || self.m.profile != self.sync.profile.name {
            self.m.last_sync = self.sync.now;
            t.check_present()?;
            if manifest::save(t, &self.m).is_err() {
                // Full: give up the reserve so the manifest fits.
                let _ = t.remove_file(reserve);
                manifest::save(t, &self.m)?;
            }
        }
        if !self.out.full {
            make_reserve(t, reserve);
        }
        t.sync()
    }
}

/// Which part of a folder a commit puts in place: a rewrite is committed whole; otherwise
/// files are appended in play order as they become ready.
struct Part<'a> {
    /// Items to put, in play order.
    items: &'a [usize],
    /// Whether what leaves the folder has gone (before its first put).
    cleared: &'a mut bool,
    /// The folder's last commit (its state is recorded).
    last: bool,
    /// Whether any put into the folder failed (so far).
    failed: &'a mut bool,
}

/// Whether an item retags a file we encoded (made from the device's copy, not the source).
fn is_retag_of_encoded(item: &Item) -> bool {
    item.kind == Kind::Retag && matches!(item.method, Method::Encode { .. }) && item.from.is_some()
}

/// Whether an item needs a new file made.
fn needs_making(item: &Item) -> bool {
    matches!(item.kind, Kind::Add | Kind::Reencode | Kind::Retag)
}

/// Keeps a little space in reserve on the device (a file of zeros in tapedeck's folder), given
/// up when the device fills so the manifest can still be written.
fn make_reserve(t: &Target, reserve: &RelPath) {
    let manifest_size = rp(&format!("{}/{}", manifest::DIR, manifest::MANIFEST))
        .ok()
        .and_then(|p| t.meta(&p).ok().flatten())
        .map_or(0, |m| m.size);
    let want = (256 * 1024 + 2 * manifest_size).next_multiple_of(64 * 1024);
    match t.meta(reserve) {
        Ok(Some(m)) if m.kind == EntryKind::File && m.size >= want => return,
        Ok(Some(m)) if m.kind == EntryKind::File => {
            if t.remove_file(reserve).is_err() {
                return;
            }
        }
        Ok(None) => {}
        // A link or anything else there: no reserve (and nothing written through it).
        _ => return,
    }
    let zeros = vec![0u8; want as usize];
    if t.copy_in(&zeros[..], reserve).is_err() {
        let _ = t.remove_file(reserve);
    }
}

/// Groups files by folder for reporting (folder to file names).
pub fn by_folder<'a>(paths: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in paths {
        let (d, f) = p.rsplit_once('/').unwrap_or(("", p));
        out.entry(d).or_default().push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::manifest::{Loaded, Record};

    fn entry(size: u64, xxh3: &str) -> FileEntry {
        FileEntry {
            source: "s".into(),
            settings: "copy".into(),
            tags: "t".into(),
            size,
            xxh3: xxh3.into(),
            seq: 1,
            written_at: 0,
        }
    }

    fn hash(b: &[u8]) -> String {
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(b))
    }

    #[test]
    fn journal_replay_counts_only_what_happened_and_puts_held_files_home() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(".tapedeck/tmp")).unwrap();
        std::fs::create_dir_all(root.join("A")).unwrap();
        std::fs::write(root.join("A/done.mp3"), b"done").unwrap();
        std::fs::write(root.join("A/other.mp3"), b"someone else's").unwrap();
        std::fs::write(root.join("A/kept.mp3"), b"kept").unwrap();
        std::fs::write(root.join(".tapedeck/tmp/hold-1"), b"held").unwrap();
        std::fs::write(root.join(".tapedeck/tmp/000001.mp3"), b"leftover").unwrap();
        let t = Target::open(root).unwrap();
        let loaded = Loaded {
            manifest: None,
            journal: vec![
                // Renamed into place before the kill: ours.
                Record::Put {
                    path: "A/done.mp3".into(),
                    entry: entry(4, &hash(b"done")),
                },
                // Not renamed: what is there is not what was recorded.
                Record::Put {
                    path: "A/other.mp3".into(),
                    entry: entry(4, &hash(b"othr")),
                },
                // Never arrived.
                Record::Put {
                    path: "A/missing.mp3".into(),
                    entry: entry(1, &hash(b"x")),
                },
                // The removal did not happen: still ours.
                Record::Put {
                    path: "A/kept.mp3".into(),
                    entry: entry(4, &hash(b"kept")),
                },
                Record::Remove {
                    path: "A/kept.mp3".into(),
                },
                // Held away while its folder was rewritten.
                Record::Put {
                    path: "A/held.mp3".into(),
                    entry: entry(4, &hash(b"held")),
                },
                Record::Hold {
                    path: "A/held.mp3".into(),
                    hold: ".tapedeck/tmp/hold-1".into(),
                },
            ],
            rejected: vec![],
        };
        let (m, problems) = recover(&t, loaded, "car", true);
        assert!(problems.is_empty(), "{problems:?}");
        // The put of held.mp3 is replayed before the file is back, so only the hold brings it
        // home; its entry counts on the next run's listing.
        assert_eq!(std::fs::read(root.join("A/held.mp3")).unwrap(), b"held");
        let mut files: Vec<&str> = m.files.keys().map(String::as_str).collect();
        files.sort();
        assert_eq!(files, ["A/done.mp3", "A/kept.mp3"]);
        assert_eq!(
            std::fs::read(root.join("A/other.mp3")).unwrap(),
            b"someone else's"
        );
        assert_eq!(
            std::fs::read_dir(root.join(".tapedeck/tmp"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn verify_finds_files_that_changed_since_they_were_written() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("same.mp3"), b"ours").unwrap();
        std::fs::write(root.join("edited.mp3"), b"OURS").unwrap();
        std::fs::write(root.join("grown.mp3"), b"ours and more").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("linked.mp3")).unwrap();
        let t = Target::open(root).unwrap();
        let mut m = Manifest::new("car");
        for p in [
            "same.mp3",
            "edited.mp3",
            "grown.mp3",
            "linked.mp3",
            "gone.mp3",
        ] {
            m.files.insert(p.into(), entry(4, &hash(b"ours")));
        }
        let (existing, links) = scan_device(&t).unwrap();
        let all: BTreeSet<String> = m.files.keys().cloned().collect();
        let mut changed = verify(&t, &m, &existing, &links, &all);
        changed.sort();
        assert_eq!(
            changed,
            [
                ("edited.mp3".to_string(), "its contents changed"),
                ("grown.mp3".to_string(), "its size changed"),
                ("linked.mp3".to_string(), "now a symbolic link"),
            ]
        );
        // Contents are read only for the files a plan touches.
        let none = BTreeSet::new();
        let changed = verify(&t, &m, &existing, &links, &none);
        assert_eq!(changed.len(), 2, "{changed:?}");
        let changed = verify(&t, &m, &existing, &links, &all);
        disown(&mut m, &changed);
        assert_eq!(m.files.len(), 2);
    }
}
