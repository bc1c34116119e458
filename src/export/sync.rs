//! Carrying out a plan on the device: new files are made complete in `.tapedeck/tmp` (copied,
//! retagged, gain-adjusted or encoded on a worker pool), then each folder is committed in play
//! order by renaming files into it, with every change written to the journal first. Also the
//! repair at the start of a run (journal replayed, leftovers removed), playlists, removal of
//! empty folders we made, and the final flush.
//!
//! Files tapedeck did not write are never opened for writing, renamed or removed: every
//! removal and every rename over a name is of a path the manifest lists.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::manifest::{self, FileEntry, FolderState, Journal, Manifest, Record};
use super::mp3gain;
use super::plan::{
    Item, Kind, Method, Plan, PlaylistLine, playlist_digest, playlist_line, render_playlist,
};
use super::profile::{Cover, Profile};
use crate::audio::gain;
use crate::convert::plan::Request;
use crate::convert::run;
use crate::model::Track;
use crate::tags::{self, CoverPolicy, TransferOptions};

/// The files on the device (relative `/`-separated path to size), tapedeck's folder left out.
pub fn scan_device(root: &Path) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !(e.depth() == 1 && e.file_name() == manifest::DIR));
    for e in walk.flatten() {
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(root) else {
            continue;
        };
        let key = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        out.insert(key, size);
    }
    out
}

/// Free bytes on the file system holding `root`; `None` when it cannot tell (fusefat answers
/// 0 of 0).
pub fn free_space(root: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(root.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `s` a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 || s.f_blocks == 0 {
        return None;
    }
    Some(s.f_bavail as u64 * s.f_frsize as u64)
}

/// Flushes everything written on the file system holding `root`.
pub fn flush_device(root: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(root)?;
    // SAFETY: a valid open file descriptor.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The manifest as it stands after replaying the journal of a run that did not finish. A
/// recorded put counts when the file is there with the recorded checksum; a recorded removal
/// counts when the file is gone (else the file stays ours). With `clean`, what an interrupted
/// run left in the staging folder is removed (nothing is removed on a dry run).
pub fn recover(root: &Path, loaded: manifest::Loaded, profile: &str, clean: bool) -> Manifest {
    let mut m = loaded.manifest.unwrap_or_else(|| Manifest::new(profile));
    for r in &loaded.journal {
        let keep = match r {
            Record::Put { path, entry } => {
                let p = root.join(path);
                p.metadata().is_ok_and(|md| md.len() == entry.size)
                    && manifest::checksum(&p).is_ok_and(|h| h == entry.xxh3)
            }
            Record::Remove { path } => !root.join(path).exists(),
            Record::Playlist { path, xxh3 } => match xxh3 {
                Some(h) => manifest::checksum(&root.join(path)).is_ok_and(|c| &c == h),
                None => !root.join(path).exists(),
            },
            Record::Folder { .. } => true,
            Record::Hold { path, hold } => {
                // Held away from its folder when the run stopped: back home.
                let (home, held) = (root.join(path), root.join(hold));
                if clean && held.exists() && !home.exists() {
                    let _ = fs::rename(&held, &home);
                }
                true
            }
        };
        if keep {
            m.apply(r);
        }
    }
    if clean {
        let staging = manifest::dir(root).join(manifest::STAGING);
        if let Ok(entries) = fs::read_dir(&staging) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    m
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
    pub root: &'a Path,
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

/// A finished file in the staging folder.
struct Staged {
    path: PathBuf,
    size: u64,
    xxh3: String,
}

/// A file made (or not) for item `.0`, with notes about it.
type Made = (usize, Result<Staged, Failure>, Vec<(String, String)>);

/// Why making a file failed.
struct Failure {
    message: String,
    /// The device ran out of space.
    full: bool,
}

fn failure(message: String) -> Failure {
    let full = is_full_message(&message);
    Failure { message, full }
}

/// Whether an error message says the device is full. fusefat reports a full device as
/// "Operation not permitted" on write, so that counts too when writing into our staging folder
/// (whose names it always accepts).
fn is_full_message(m: &str) -> bool {
    m.contains("os error 28")
        || m.contains("No space left")
        || m.contains("os error 122")
        || m.contains("os error 27")
        || m.contains("os error 1)")
        || m.contains("Operation not permitted")
}

fn io_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(28 | 122 | 27))
}

/// Copies `src` to `dst`, hashing as it goes. (`std::fs::copy` also copies permissions,
/// which fusefat refuses.)
pub fn copy_hashed(src: &Path, dst: &Path) -> std::io::Result<(u64, String)> {
    copy_from(File::open(src)?, dst)
}

fn copy_from(mut input: File, dst: &Path) -> std::io::Result<(u64, String)> {
    let mut out = File::create(dst)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    // No bigger than the file: zeroing a large buffer per small file costs more than the copy.
    let len = input.metadata().map_or(1 << 20, |m| m.len() + 1);
    let mut buf = vec![0u8; len.clamp(4096, 1 << 20) as usize];
    let mut n_total = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        n_total += n as u64;
    }
    out.flush()?;
    Ok((n_total, format!("{:016x}", h.digest())))
}

impl Sync<'_> {
    fn staging(&self) -> PathBuf {
        manifest::dir(self.root).join(manifest::STAGING)
    }

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
        }
    }

    /// Makes the file for `item` at `dst` in the staging folder.
    fn make(
        &self,
        item: &Item,
        input: Option<&Path>,
        dst: &Path,
        notes: &mut Vec<(String, String)>,
    ) -> Result<Staged, Failure> {
        let t = &self.tracks[item.track];
        let src = &t.path;
        let source = File::open(src).map_err(|e| Failure {
            message: format!("cannot read {}: {e}", src.display()),
            full: false,
        })?;
        let werr = |e: std::io::Error| Failure {
            full: io_full(&e) || e.kind() == std::io::ErrorKind::PermissionDenied,
            message: format!("cannot write to the device: {e}"),
        };
        let retag = |dst: &Path| {
            tags::transfer(src, dst, &self.transfer_options()).map_err(|e| failure(e.to_string()))
        };
        let hashed = |dst: &Path| -> Result<Staged, Failure> {
            let size = dst.metadata().map_err(werr)?.len();
            let xxh3 = manifest::checksum(dst).map_err(werr)?;
            Ok(Staged {
                path: dst.to_path_buf(),
                size,
                xxh3,
            })
        };
        // Retagging a file we encoded works on the device's copy, not a new encode.
        if let Some(input) = input {
            copy_hashed(input, dst).map_err(werr)?;
            retag(dst)?;
            return hashed(dst);
        }
        match item.method {
            Method::Copy => {
                let (size, xxh3) = copy_from(source, dst).map_err(werr)?;
                Ok(Staged {
                    path: dst.to_path_buf(),
                    size,
                    xxh3,
                })
            }
            Method::CopyRetag => {
                copy_hashed(src, dst).map_err(werr)?;
                retag(dst)?;
                hashed(dst)
            }
            Method::CopyGain { steps } => {
                let mut data = fs::read(src)
                    .map_err(|e| failure(format!("cannot read {}: {e}", src.display())))?;
                match mp3gain::apply(&mut data, steps) {
                    Ok(_) => {
                        fs::write(dst, &data).map_err(werr)?;
                        retag(dst)?;
                        hashed(dst)
                    }
                    Err(why) => {
                        notes.push((
                            src.display().to_string(),
                            format!(
                                "cannot change the gain of its frames ({why}): encoded again instead"
                            ),
                        ));
                        self.encode(t, dst)?;
                        hashed(dst)
                    }
                }
            }
            Method::Encode { .. } => {
                self.encode(t, dst)?;
                hashed(dst)
            }
        }
    }

    fn encode(&self, t: &Track, dst: &Path) -> Result<(), Failure> {
        run::convert_one(t, dst, &self.request(t), self.cancel).map_err(failure)?;
        if self.profile.cover == Cover::Drop {
            let opts = TransferOptions {
                cover: CoverPolicy::Drop,
                ..self.transfer_options()
            };
            tags::transfer(&t.path, dst, &opts).map_err(|e| failure(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs the plan.
    pub fn run(mut self) -> Result<(Outcome, Manifest), String> {
        let mut out = Outcome::default();
        let root = self.root.to_path_buf();
        let staging = self.staging();
        fs::create_dir_all(&staging)
            .map_err(|e| format!("cannot write to {}: {e}", root.display()))?;
        let reserve = manifest::dir(&root).join("reserve");
        make_reserve(&reserve, &root);
        let mut journal =
            Journal::open(&root).map_err(|e| format!("cannot write to {}: {e}", root.display()))?;
        let plan = self.plan;
        let mut m = std::mem::replace(&mut self.manifest, Manifest::new(""));
        m.profile = self.profile.name.clone();
        let mut last_save = Instant::now();

        // Where each of our files is now (it moves to the staging folder while its folder is
        // rewritten, or on its way to another folder).
        let mut location: HashMap<String, PathBuf> =
            m.files.keys().map(|k| (k.clone(), root.join(k))).collect();
        let mut in_folder: HashMap<String, Vec<String>> = HashMap::new();
        for k in m.files.keys() {
            let d = k.rsplit_once('/').map_or("", |(d, _)| d);
            in_folder.entry(d.to_string()).or_default().push(k.clone());
        }

        // 1. Deletions first, to make room.
        for d in &plan.deletes {
            journal.push(&Record::Remove {
                path: d.path.clone(),
            });
        }
        for pl in &plan.playlist_deletes {
            journal.push(&Record::Playlist {
                path: pl.clone(),
                xxh3: None,
            });
        }
        journal
            .flush()
            .map_err(|e| format!("cannot write the journal on {}: {e}", root.display()))?;
        for d in &plan.deletes {
            match fs::remove_file(root.join(&d.path)) {
                Ok(()) => {
                    out.deleted += 1;
                    out.changed = true;
                    m.files.remove(&d.path);
                    location.remove(&d.path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    m.files.remove(&d.path);
                    location.remove(&d.path);
                }
                Err(e) => out
                    .failures
                    .push((d.path.clone(), format!("cannot remove it: {e}"))),
            }
        }
        for pl in &plan.playlist_deletes {
            if fs::remove_file(root.join(pl)).is_ok() {
                out.changed = true;
            }
            m.playlists.remove(pl);
        }
        for f in &plan.forget {
            m.files.remove(f);
            location.remove(f);
        }

        // 2. New files are made on worker threads in play order, and the main thread commits
        // each folder as soon as its files are ready, a batch at a time: one flush makes the
        // batch's data durable before any rename refers to it.
        let folder_of: HashMap<usize, usize> = plan
            .folders
            .iter()
            .enumerate()
            .flat_map(|(f, folder)| folder.order.iter().map(move |&i| (i, f)))
            .collect();
        let mut pending: Vec<usize> = vec![0; plan.folders.len()];
        let mut jobs: Vec<(usize, Option<PathBuf>, PathBuf)> = Vec::new();
        let mut first_jobs: Vec<(usize, Option<PathBuf>, PathBuf)> = Vec::new();
        for (f, folder) in plan.folders.iter().enumerate() {
            for &i in &folder.order {
                let item = &plan.items[i];
                if !needs_making(item) {
                    continue;
                }
                pending[f] += 1;
                let ext = item.path.rsplit_once('.').map_or("bin", |(_, e)| e);
                let dst = staging.join(format!("{:06}.{ext}", jobs.len() + first_jobs.len() + 1));
                if is_retag_of_encoded(item) {
                    // Made first, from the device's copy, before any commit moves it.
                    let input = item.from.as_ref().and_then(|f| location.get(f)).cloned();
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
        let mut closed: Vec<bool> = vec![false; plan.folders.len()];
        let mut finished: std::collections::HashSet<usize> = std::collections::HashSet::new();
        let mut ready: Vec<usize> = (0..plan.folders.len()).collect();
        let mut staged: HashMap<usize, Staged> = HashMap::new();
        let full = AtomicBool::new(false);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = crossbeam_channel::unbounded::<Made>();
        let this = &self;
        let mut last_commit = Instant::now();
        std::thread::scope(|scope| -> Result<(), String> {
            for w in 0..self.workers.max(1) {
                let tx = tx.clone();
                let (jobs, full, next) = (&jobs, &full, &next);
                std::thread::Builder::new()
                    .name(format!("export-{w}"))
                    .spawn_scoped(scope, move || {
                        loop {
                            let n = next.fetch_add(1, Ordering::Relaxed);
                            let Some((i, input, dst)) = jobs.get(n) else {
                                break;
                            };
                            let mut notes = Vec::new();
                            if full.load(Ordering::Relaxed) || this.cancel.load(Ordering::Relaxed) {
                                let skipped = Failure {
                                    message: "not written".into(),
                                    full: false,
                                };
                                let _ = tx.send((*i, Err(skipped), notes));
                                continue;
                            }
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                this.make(&this.plan.items[*i], input.as_deref(), dst, &mut notes)
                            }))
                            .unwrap_or_else(|_| {
                                Err(failure(
                                    "the exporter failed unexpectedly on this file".into(),
                                ))
                            });
                            if let Err(f) = &r {
                                let _ = fs::remove_file(dst);
                                if f.full {
                                    full.store(true, Ordering::Relaxed);
                                }
                            }
                            (this.progress)();
                            if tx.send((*i, r, notes)).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(|e| format!("cannot start the workers: {e}"))?;
            }
            drop(tx);
            let mut ready_files = 0usize;
            let mut ready_bytes = 0u64;
            let mut done = false;
            while !done {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok((i, r, notes)) => {
                        out.notes.extend(notes);
                        match r {
                            Ok(st) => {
                                ready_files += 1;
                                ready_bytes += st.size;
                                staged.insert(i, st);
                            }
                            Err(f) if f.message == "not written" => {}
                            Err(f) if f.message == "interrupted" => out.interrupted = true,
                            Err(f) if f.full => out.full = true,
                            Err(f) => {
                                out.failed += 1;
                                out.failures.push((
                                    self.tracks[plan.items[i].track].path.display().to_string(),
                                    f.message,
                                ));
                            }
                        }
                        finished.insert(i);
                        let f = folder_of[&i];
                        pending[f] -= 1;
                        ready.push(f);
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => done = true,
                }
                // Few flushes for many small files; at most a couple of seconds of work, or
                // 64 MB, lost to a kill.
                let due = done
                    || ready_files >= 512
                    || ready_bytes >= 64_000_000
                    || (!ready.is_empty() && last_commit.elapsed() > Duration::from_secs(2));
                if !due || ready.is_empty() {
                    continue;
                }
                // The batch's new files reach the device before any rename refers to them.
                if ready_files > 0 {
                    let _ = flush_device(&root);
                }
                ready.sort_unstable();
                ready.dedup();
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
                    self.commit_folder(
                        folder,
                        in_folder.get(&folder.path).map_or(&[][..], Vec::as_slice),
                        Part {
                            items: &order[start..end],
                            first: start == 0,
                            last: end == order.len(),
                            failed: &mut failed_in[f],
                        },
                        &mut staged,
                        &mut m,
                        &mut location,
                        &mut journal,
                        &mut out,
                    )?;
                }
                ready_files = 0;
                ready_bytes = 0;
                last_commit = Instant::now();
                if last_save.elapsed() > Duration::from_secs(20) {
                    m.last_sync = self.now;
                    if manifest::save(&root, &m).is_ok() {
                        last_save = Instant::now();
                    }
                }
            }
            Ok(())
        })?;
        if self.cancel.load(Ordering::Relaxed) {
            out.interrupted = true;
        }
        for st in staged.into_values() {
            let _ = fs::remove_file(st.path);
        }
        // Files held for a rewrite whose folder was never committed (full, interrupted) go
        // back where they were; what cannot is written again next time.
        for (path, loc) in location.iter() {
            let home = root.join(path);
            if *loc != home && loc.exists() && fs::rename(loc, &home).is_err() {
                let _ = fs::remove_file(loc);
                m.files.remove(path);
            }
        }

        // 3. Playlists, pointing at what is on the device now.
        if !out.full && !out.interrupted {
            self.write_playlists(&mut m, &mut journal, &mut out)?;
        }

        // 4. Folders we made that are now empty.
        let mut made: Vec<String> = m
            .folders
            .iter()
            .filter(|(k, f)| f.created && !k.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        made.sort_by_key(|f| std::cmp::Reverse(f.matches('/').count()));
        for f in made {
            let dir = root.join(&f);
            let empty = fs::read_dir(&dir).map(|mut d| d.next().is_none());
            match empty {
                Ok(true) => {
                    if fs::remove_dir(&dir).is_ok() {
                        m.folders.remove(&f);
                        out.changed = true;
                    }
                }
                Ok(false) => {}
                Err(_) => {
                    m.folders.remove(&f);
                }
            }
        }

        // Folders we did not create are remembered only while they hold files of ours.
        let parents: BTreeSet<&str> = m
            .files
            .keys()
            .map(|k| k.rsplit_once('/').map_or("", |(d, _)| d))
            .collect();
        let stale: Vec<String> = m
            .folders
            .iter()
            .filter(|(k, f)| !f.created && !parents.contains(k.as_str()))
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            m.folders.remove(&k);
        }

        out.kept = plan.count(Kind::Keep);
        out.tracks = m.files.len();
        out.bytes = m.files.values().map(|e| e.size).sum();
        // 5. The manifest, then everything flushed.
        if out.changed || !plan.forget.is_empty() || m.profile != self.profile.name {
            m.last_sync = self.now;
            if manifest::save(&root, &m).is_err() {
                // Full: give up the reserve so the manifest fits.
                let _ = fs::remove_file(&reserve);
                manifest::save(&root, &m).map_err(|e| {
                    format!(
                        "cannot write the manifest on {}: {e}; the journal has every change, \
                         so the next run completes it",
                        root.display()
                    )
                })?;
            }
        }
        let _ = fs::remove_file(manifest::dir(&root).join("manifest.json.tmp"));
        if !out.full {
            make_reserve(&reserve, &root);
        }
        flush_device(&root).map_err(|e| format!("cannot flush {}: {e}", root.display()))?;
        Ok((out, m))
    }

    /// Commits one folder: removes what leaves it, then puts every file that arrives (and,
    /// for a rewrite, every file that stays) in play order.
    #[allow(clippy::too_many_arguments)]
    fn commit_folder(
        &self,
        folder: &super::plan::Folder,
        ours_here: &[String],
        part: Part<'_>,
        staged: &mut HashMap<usize, Staged>,
        m: &mut Manifest,
        location: &mut HashMap<String, PathBuf>,
        journal: &mut Journal,
        out: &mut Outcome,
    ) -> Result<(), String> {
        let root = self.root;
        let plan = self.plan;
        let staging = self.staging();
        let dir = root.join(&folder.path);
        let jerr =
            |e: std::io::Error| format!("cannot write the journal on {}: {e}", root.display());
        if part.first {
            // Our files now in this folder that must leave it (or, for a rewrite, step out).
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
            let leaving: Vec<String> = ours_here
                .iter()
                .filter(|path| {
                    location.get(path.as_str()) == Some(&root.join(path.as_str()))
                        && !staying_in_place.contains(path.as_str())
                        && root.join(path.as_str()).exists()
                })
                .cloned()
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
                journal.push(&Record::Folder {
                    path: folder.path.clone(),
                    state: Some(FolderState {
                        holes: true,
                        ..m.folders.get(&folder.path).cloned().unwrap_or_default()
                    }),
                });
            }
            let holds: Vec<(String, PathBuf)> = leaving
                .iter()
                .enumerate()
                .map(|(n, path)| {
                    let hold = staging.join(format!(
                        "hold-{:016x}-{n}",
                        xxhash_rust::xxh3::xxh3_64(folder.path.as_bytes())
                    ));
                    (path.clone(), hold)
                })
                .collect();
            for (path, hold) in &holds {
                if wanted.contains(path.as_str()) {
                    let rel = hold.strip_prefix(root).unwrap_or(hold);
                    journal.push(&Record::Hold {
                        path: path.clone(),
                        hold: rel.to_string_lossy().into_owned(),
                    });
                } else {
                    journal.push(&Record::Remove { path: path.clone() });
                }
            }
            journal.flush().map_err(jerr)?;
            for (path, hold) in holds {
                let here = root.join(&path);
                if wanted.contains(path.as_str()) {
                    match fs::rename(&here, &hold) {
                        Ok(()) => {
                            location.insert(path, hold);
                        }
                        Err(e) => out.failures.push((path, format!("cannot move it: {e}"))),
                    }
                } else {
                    match fs::remove_file(&here) {
                        Ok(()) => {
                            m.files.remove(&path);
                            location.remove(&path);
                            out.changed = true;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            m.files.remove(&path);
                            location.remove(&path);
                        }
                        Err(e) => out.failures.push((path, format!("cannot remove it: {e}"))),
                    }
                }
            }
        }

        // Put everything in, in play order.
        if !dir.exists() {
            let mut made = PathBuf::new();
            for name in folder.path.split('/').filter(|s| !s.is_empty()) {
                made.push(name);
                let d = root.join(&made);
                if !d.exists() {
                    match fs::create_dir(&d) {
                        Ok(()) => {
                            let key = made.to_string_lossy().into_owned();
                            let state = FolderState {
                                holes: false,
                                created: true,
                            };
                            m.folders.insert(key.clone(), state.clone());
                            journal.push(&Record::Folder {
                                path: key,
                                state: Some(state),
                            });
                            out.changed = true;
                        }
                        Err(e) => {
                            out.full |= io_full(&e);
                            let why = if e.kind() == std::io::ErrorKind::PermissionDenied {
                                format!(
                                    "the device refused the folder name {} ({e}); pick a profile \
                                     with stricter names, such as car-strict",
                                    made.display()
                                )
                            } else {
                                format!("cannot create the folder {}: {e}", made.display())
                            };
                            for &i in part.items {
                                if let Some(s) = staged.remove(&i) {
                                    let _ = fs::remove_file(s.path);
                                    if !io_full(&e) {
                                        out.failed += 1;
                                        out.failures.push((
                                            self.tracks[plan.items[i].track]
                                                .path
                                                .display()
                                                .to_string(),
                                            why.clone(),
                                        ));
                                    }
                                }
                            }
                            return Ok(());
                        }
                    }
                }
            }
        }
        struct Put {
            item: usize,
            from: PathBuf,
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
                    let Some(loc) = location.get(src) else {
                        continue;
                    };
                    let Some(e) = m.files.get(src) else { continue };
                    (loc.clone(), e.size, e.xxh3.clone(), Some(src.clone()))
                }
                _ => match staged.remove(&i) {
                    Some(s) => (s.path, s.size, s.xxh3, item.from.clone()),
                    None => continue,
                },
            };
            let entry = FileEntry {
                source: self
                    .fingerprints
                    .get(&self.tracks[item.track].id)
                    .cloned()
                    .unwrap_or_default(),
                settings: item.settings.clone(),
                tags: item.tags.clone(),
                size,
                xxh3,
                seq: m.next_seq,
                written_at: self.now,
            };
            m.next_seq += 1;
            journal.push(&Record::Put {
                path: item.path.clone(),
                entry: entry.clone(),
            });
            if let Some(o) = &old
                && *o != item.path
            {
                journal.push(&Record::Remove { path: o.clone() });
            }
            puts.push(Put {
                item: i,
                from,
                entry,
                old,
            });
        }
        journal.flush().map_err(jerr)?;
        for put in puts {
            let item = &plan.items[put.item];
            let target = root.join(&item.path);
            match fs::rename(&put.from, &target) {
                Ok(()) => {
                    if let Some(o) = &put.old {
                        // A held input of a retag is not needed any more.
                        if let Some(loc) = location.remove(o)
                            && loc != target
                            && !matches!(item.kind, Kind::Keep | Kind::Rename)
                        {
                            let _ = fs::remove_file(loc);
                        }
                        if *o != item.path {
                            m.files.remove(o);
                        }
                    }
                    location.insert(item.path.clone(), target);
                    out.bytes_written += if matches!(item.kind, Kind::Keep | Kind::Rename) {
                        0
                    } else {
                        put.entry.size
                    };
                    m.files.insert(item.path.clone(), put.entry);
                    out.changed = true;
                    match item.kind {
                        Kind::Add => out.added += 1,
                        Kind::Reencode => out.reencoded += 1,
                        Kind::Retag => out.retagged += 1,
                        Kind::Rename => out.renamed += 1,
                        Kind::Keep => {}
                    }
                }
                Err(e) => {
                    *part.failed = true;
                    let full = io_full(&e);
                    out.full |= full;
                    let why = if e.kind() == std::io::ErrorKind::PermissionDenied
                        || e.raw_os_error() == Some(libc::EPERM)
                    {
                        format!(
                            "the device refused the name {} ({e}); pick a profile with stricter \
                             names, such as car-strict",
                            item.path
                        )
                    } else {
                        format!("cannot write {}: {e}", item.path)
                    };
                    if matches!(item.kind, Kind::Keep | Kind::Rename) {
                        // Held files go back where they were when they can.
                        if let Some(o) = &put.old
                            && fs::rename(&put.from, root.join(o)).is_ok()
                        {
                            location.insert(o.clone(), root.join(o));
                            continue;
                        }
                        let _ = fs::remove_file(&put.from);
                        if let Some(o) = &put.old {
                            location.remove(o);
                            m.files.remove(o);
                        }
                    } else {
                        let _ = fs::remove_file(&put.from);
                    }
                    if !full {
                        out.failed += 1;
                        out.failures
                            .push((self.tracks[item.track].path.display().to_string(), why));
                    }
                }
            }
        }
        if part.last {
            if folder.rewrite {
                out.folders_rewritten += 1;
            }
            let holes = folder.holes_after || *part.failed;
            let state = m.folders.entry(folder.path.clone()).or_default();
            state.holes = holes;
        }
        Ok(())
    }

    fn write_playlists(
        &self,
        m: &mut Manifest,
        journal: &mut Journal,
        out: &mut Outcome,
    ) -> Result<(), String> {
        let root = self.root;
        let by_track: HashMap<usize, &Item> =
            self.plan.items.iter().map(|i| (i.track, i)).collect();
        for (n, part) in self.plan.playlists.iter().enumerate() {
            let lines: Vec<PlaylistLine> = part
                .tracks
                .iter()
                .filter_map(|t| by_track.get(t))
                .filter(|i| m.files.contains_key(&i.path))
                .map(|i| playlist_line(&self.tracks[i.track], &i.path))
                .collect();
            let bytes = render_playlist(self.profile, &lines);
            let xxh3 = playlist_digest(&bytes);
            let target = root.join(&part.path);
            if m.playlists.get(&part.path) == Some(&xxh3) && target.exists() {
                continue;
            }
            let tmp = self.staging().join(format!("playlist-{n}"));
            let written = fs::write(&tmp, &bytes).and_then(|_| File::open(&tmp)?.sync_all());
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                out.failures
                    .push((part.path.clone(), format!("cannot write it: {e}")));
                continue;
            }
            journal.push(&Record::Playlist {
                path: part.path.clone(),
                xxh3: Some(xxh3.clone()),
            });
            journal
                .flush()
                .map_err(|e| format!("cannot write the journal on {}: {e}", root.display()))?;
            match fs::rename(&tmp, &target) {
                Ok(()) => {
                    m.playlists.insert(part.path.clone(), xxh3);
                    out.playlists_written += 1;
                    out.changed = true;
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    out.failures
                        .push((part.path.clone(), format!("cannot write it: {e}")));
                }
            }
        }
        Ok(())
    }
}

/// Which part of a folder a commit puts in place: a rewrite is committed whole; otherwise
/// files are appended in play order as they become ready.
struct Part<'a> {
    /// Items to put, in play order.
    items: &'a [usize],
    /// The folder's first commit (what leaves it goes now).
    first: bool,
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

/// Keeps a little space in reserve on the device (a file of zeros), given up when the device
/// fills so the manifest can still be written.
fn make_reserve(path: &Path, root: &Path) {
    let manifest_size = manifest::dir(root)
        .join(manifest::MANIFEST)
        .metadata()
        .map_or(0, |m| m.len());
    let want = (256 * 1024 + 2 * manifest_size).next_multiple_of(64 * 1024);
    if path.metadata().is_ok_and(|m| m.len() >= want) {
        return;
    }
    let zeros = vec![0u8; want as usize];
    if fs::write(path, &zeros).is_err() {
        let _ = fs::remove_file(path);
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
