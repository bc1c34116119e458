//! `tapedeck scan`: bringing the library in line with the folders on disk.
//!
//! The shape: walk every root first (only `stat`, see [`walk`]), diff what was seen against
//! what the library knows, read the new and changed files on a pool of workers (tags through
//! [`crate::tags`], the audio fingerprint through [`payload`]), and send the results over a
//! bounded channel to the one thread that owns the database connection and writes them in
//! batched transactions. Moves are settled last, in one transaction with the removals, so a scan
//! killed at any moment leaves a consistent library that the next scan finishes.
//!
//! Invariant: music files are opened read-only and never written.
//! Invariant: nothing under a root that is missing, empty where it used to hold music, or
//! unreadable is removed from the library.

pub mod payload;
pub mod walk;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::container::{self, Pieces, mp4};
use crate::db::{self, FileRecord, Identity, Library};
use crate::identity::{Side, match_moves};
use crate::model::{Container, Track};
use crate::tags;
use walk::{SeenFile, Walked, io_reason};

/// The size and time of a file handed to a reader before anything `stat`ed it.
const UNKNOWN: i64 = -1;

/// How many results the writer commits in one transaction, at most.
const BATCH: usize = 5000;
/// How long the writer holds results before committing, at most.
const BATCH_TIME: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub include_hidden: bool,
    /// Also index folders tapedeck writes into (convert and export targets).
    pub include_targets: bool,
    /// Reader threads; 0 picks a default.
    pub jobs: usize,
}

/// What a scan did, for the one-line summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub added: u64,
    pub updated: u64,
    pub moved: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub problems: u64,
    pub hidden: u64,
    /// Folders skipped because tapedeck writes into them; what the library had under them is
    /// removed, as for hidden folders.
    #[serde(skip)]
    pub targets: Vec<PathBuf>,
    pub seconds: f64,
    /// Roots that could not be scanned, with the reason; nothing under them was removed.
    pub unavailable: Vec<(PathBuf, String)>,
    /// Each move found: (old path, new path).
    #[serde(skip)]
    pub moves: Vec<(PathBuf, PathBuf)>,
}

/// Receives progress while a scan runs. Implementations must be cheap: they are called per file.
pub trait Progress: Sync {
    fn walked(&self, _files_seen: u64) {}
    fn reading(&self, _to_read: u64) {}
    fn read_one(&self) {}
    /// A file that could not be indexed, found during this scan.
    fn problem(&self, _path: &Path, _reason: &str) {}
    /// Reading is done; moves and removals are being settled in the last transaction.
    fn settling(&self) {}
    /// A change the library records, as it is written.
    fn changed(&self, _change: Change<'_>) {}
}

/// One track's change, for a verbose listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    Added(&'a Path),
    Updated(&'a Path),
    Moved { from: &'a Path, to: &'a Path },
    Removed(&'a Path),
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("another scan of this library is running (lock held on {0}); wait for it to finish")]
    Busy(PathBuf),
    #[error("cannot create the lock file {0}: {1}")]
    Lock(PathBuf, io::Error),
    #[error("cannot start reader threads: {0}")]
    Threads(String),
    #[error(transparent)]
    Db(#[from] db::DbError),
}

/// Held for the duration of a scan; a second scan of the same library fails to take it. The lock
/// is an OS file lock, so it goes away with the process however the process ends.
pub struct ScanLock {
    _file: crate::target::lock::LockFile,
}

impl ScanLock {
    pub fn acquire(db_path: &Path) -> Result<ScanLock, ScanError> {
        match crate::target::lock::LockFile::try_acquire(db_path, "scan-lock") {
            Ok(Some(file)) => Ok(ScanLock { _file: file }),
            Ok(None) => Err(ScanError::Busy(crate::target::lock::LockFile::path(
                db_path,
                "scan-lock",
            ))),
            Err(e) => Err(ScanError::Lock(
                crate::target::lock::LockFile::path(db_path, "scan-lock"),
                e,
            )),
        }
    }
}

/// Rescans every root of the library at `db_path`, under the scan lock and without progress:
/// what a running service does when a client asks for an update.
pub fn rescan(db_path: &Path, now: i64) -> Result<Summary, ScanError> {
    rescan_with(db_path, now, &NoProgress)
}

/// [`rescan`], reporting progress: what the full-screen UI's scan key runs.
pub fn rescan_with(
    db_path: &Path,
    now: i64,
    progress: &dyn Progress,
) -> Result<Summary, ScanError> {
    let _lock = ScanLock::acquire(db_path)?;
    let mut lib = Library::open(db_path)?;
    scan(&mut lib, &[], &ScanOptions::default(), progress, now)
}

impl Summary {
    /// Whether the library changed.
    pub fn changed(&self) -> bool {
        self.added + self.updated + self.moved + self.removed > 0
    }
}

/// Drops roots that lie inside another root of the list, so no file is walked twice.
pub fn outermost(mut roots: Vec<PathBuf>) -> Vec<PathBuf> {
    roots.sort();
    roots.dedup();
    let mut out: Vec<PathBuf> = Vec::new();
    for r in roots {
        if !out.iter().any(|o| r.starts_with(o)) {
            out.push(r);
        }
    }
    out
}

/// Why a root cannot be scanned now, or `None` when it can.
fn unavailable_reason(root: &Path, had_tracks: bool) -> Option<String> {
    let meta = match std::fs::metadata(root) {
        Ok(m) => m,
        Err(e) => return Some(format!("missing or unreadable ({})", io_reason(&e))),
    };
    if !meta.is_dir() {
        return None;
    }
    match std::fs::read_dir(root) {
        Err(e) => Some(format!("cannot be read ({})", io_reason(&e))),
        Ok(mut entries) => {
            if had_tracks && entries.next().is_none() {
                Some("is empty but held music before; is the drive unmounted?".into())
            } else {
                None
            }
        }
    }
}

/// What the walk found: the files the library knows (to compare), the roots walked and those
/// that are not there, and how many music files it found and sent to the readers.
#[derive(Default)]
struct Walk {
    walked: Walked,
    available: Vec<PathBuf>,
    unavailable: Vec<(PathBuf, String)>,
    found: u64,
    sent: u64,
}

/// One file read by a worker: the record to store, or why it could not be read.
enum Outcome {
    /// Read; the warning, when there is one, is kept as a problem beside the track.
    Read(FileRecord, Option<String>),
    Problem {
        path: PathBuf,
        size: i64,
        mtime: i64,
        reason: String,
    },
}

/// Opens a file for reading without following it into a FIFO's blocking open, and checks that
/// what was opened is still a regular file.
pub fn open_regular(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok((file, meta))
}

/// A buffered reader that keeps its buffer across seeks that land inside it and knows its
/// position without asking the kernel. Tag and container parsers hop back and forth over small
/// distances; with a plain `BufReader` every hop is an `lseek` plus a fresh buffer fill.
pub struct SeekBuf<R> {
    inner: io::BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: io::Read + io::Seek> SeekBuf<R> {
    pub fn new(inner: R, len: u64) -> SeekBuf<R> {
        SeekBuf {
            inner: io::BufReader::with_capacity(64 * 1024, inner),
            pos: 0,
            len,
        }
    }
}

impl<R: io::Read> io::Read for SeekBuf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: io::Read + io::Seek> io::Seek for SeekBuf<R> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        let delta = i64::try_from(i128::from(target) - i128::from(self.pos))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.inner.seek_relative(delta)?;
        self.pos = target;
        Ok(target)
    }
}

/// Reads one file: tags, properties and fingerprint, plus a warning when the file is readable but
/// damaged (cut short, or a tag frame that could not be read).
pub fn read_file(seen: &SeenFile) -> Result<(FileRecord, Option<String>), String> {
    let (file, meta) =
        open_regular(&seen.path).map_err(|e| format!("cannot open: {}", io_reason(&e)))?;
    let len = meta.len();
    if len == 0 {
        return Err("empty file (0 bytes)".into());
    }
    let mut file = SeekBuf::new(file, len);
    // An unfinished WAV (its data size never filled in) is read as the audio that is there, an
    // RF64 one as the plain WAV it holds, and a FLAC file's tags from its first comment block.
    let patch = container::read_patches(&mut file, len)
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    io::Seek::seek(&mut file, io::SeekFrom::Start(0))
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let mut file = container::Patched::new(file, patch)
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    // Tags laid out where the tag reader does not look (several ID3v2 tags stacked at the start,
    // of which the first is the file's; an MP4 `meta` box outside `moov/udta`) are read through
    // a view of the file as the reader expects it.
    let view = container::tag_view(&mut file, len)
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let read = match view {
        Some(pieces) => tags::read(&mut Pieces::new(&mut file, pieces)),
        None => {
            io::Seek::seek(&mut file, io::SeekFrom::Start(0))
                .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
            tags::read(&mut file)
        }
    };
    let found = match read {
        Ok(found) => found,
        Err(e) => {
            // A file cut short is the most common way a good file goes bad; say so when the
            // container's own sizes show it.
            let guess = tags::container_from_name(seen.path.as_os_str().as_bytes());
            let truncated = guess
                .and_then(|c| payload::inspect(&mut file, len, c).ok())
                .and_then(|p| p.truncated);
            // An MP4 whose sound is in a codec the reader does not know: say which.
            if let Ok(Some(kind)) = mp4::sound_codec(&mut file, len)
                && let Some(name) = unplayable_mp4_codec(&kind)
            {
                return Err(format!(
                    "the audio is {name}, which is not one of the formats tapedeck plays \
                     (MP3, AAC, ALAC, FLAC, WAV, AIFF)"
                ));
            }
            return Err(match truncated {
                Some(t) => format!("{t}, and what remains cannot be read ({})", e.0),
                None => e.0,
            });
        }
    };
    let container = found.props.container.unwrap_or(Container::Mp3);
    let payload = payload::inspect(&mut file, len, container)
        .map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    let stem = seen
        .path
        .file_stem()
        .map(|s| String::from_utf8_lossy(s.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut track = Track::from_raw(&found.raw, &found.props, &stem);
    track.has_cover |= payload.has_cover;
    if let Some(exact) = payload.exact_duration {
        // The container's own exact length excludes encoder delay, priming and padding; the
        // tag reader's estimate does not.
        track.duration = exact;
    }
    track.path = seen.path.clone();
    track.size = len as i64;
    track.mtime = walk::mtime_ns(&meta);
    Ok((
        FileRecord::new(payload.fingerprint, track),
        match (payload.truncated, found.warning) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        },
    ))
}

/// A person's name for an MP4 sample entry type that is not AAC, ALAC, FLAC or MP3.
fn unplayable_mp4_codec(kind: &[u8; 4]) -> Option<String> {
    Some(match kind {
        b"mp4a" | b"alac" | b"fLaC" | b".mp3" => return None,
        b"ac-3" => "AC-3 (Dolby Digital)".into(),
        b"ec-3" => "E-AC-3 (Dolby Digital Plus)".into(),
        b"ac-4" => "AC-4".into(),
        b"Opus" => "Opus".into(),
        b"dtsc" | b"dtsh" | b"dtsl" | b"dtse" => "DTS".into(),
        b"samr" | b"sawb" => "AMR".into(),
        other => format!("`{}`", String::from_utf8_lossy(other).escape_debug()),
    })
}

fn read_outcome(seen: &SeenFile) -> Outcome {
    // A panic inside a tag or container parser on a hostile file must cost that file, not the scan.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_file(seen)))
        .unwrap_or_else(|_| Err("the file could not be parsed (the reader failed on it)".into()));
    match result {
        Ok((rec, warning)) => Outcome::Read(rec, warning),
        Err(reason) => {
            // A problem is remembered with the size and time it had, so it is not read again
            // until it changes; a file handed over straight from the walk has them looked up.
            let (size, mtime) = if seen.size == UNKNOWN {
                std::fs::metadata(&seen.path)
                    .map(|m| (m.len() as i64, walk::mtime_ns(&m)))
                    .unwrap_or((UNKNOWN, UNKNOWN))
            } else {
                (seen.size, seen.mtime)
            };
            Outcome::Problem {
                path: seen.path.clone(),
                size,
                mtime,
                reason,
            }
        }
    }
}

/// Scans `roots` (all remembered roots when empty) into the library.
pub fn scan(
    lib: &mut Library,
    roots: &[PathBuf],
    opts: &ScanOptions,
    progress: &dyn Progress,
    now: i64,
) -> Result<Summary, ScanError> {
    let started = Instant::now();
    let mut summary = Summary::default();
    for root in roots {
        lib.add_root(root, now)?;
    }
    let roots: Vec<PathBuf> = if roots.is_empty() {
        lib.roots()?.into_iter().map(|r| r.path).collect()
    } else {
        roots.to_vec()
    };
    let roots = outermost(roots);

    crate::timing::mark("scan: library open");
    // A first scan that was cut short left its indexes to build.
    lib.restore_indexes()?;
    // On a first scan nothing can have moved, so the writer need not wait for the walk: the
    // walk runs beside it, handing each file straight to the readers. A rescan walks while the
    // library's list of known files is read, and compares the two after.
    let fresh = lib.holds_no_files()?;
    let had_tracks = roots
        .iter()
        .map(|r| lib.any_track_under(r))
        .collect::<Result<Vec<bool>, _>>()?;
    let walk_all = |file_tx: Option<crossbeam_channel::Sender<SeenFile>>| -> Walk {
        let mut w = Walk::default();
        for (root, &had_tracks) in roots.iter().zip(&had_tracks) {
            if let Some(reason) = unavailable_reason(root, had_tracks) {
                w.unavailable.push((root.clone(), reason));
                continue;
            }
            let base = w.found;
            let mut in_root = 0;
            walk::walk(
                root,
                opts.include_hidden,
                opts.include_targets,
                &mut w.walked,
                |n| {
                    in_root = n as u64;
                    if n % 256 == 0 {
                        progress.walked(base + n as u64)
                    }
                },
                |path| {
                    let Some(tx) = file_tx.as_ref() else {
                        return Some(path);
                    };
                    w.sent += 1;
                    // Its size and time come from the reader's own `stat`.
                    let _ = tx.send(SeenFile {
                        path,
                        size: UNKNOWN,
                        mtime: UNKNOWN,
                    });
                    None
                },
            );
            w.found += in_root;
            w.available.push(root.clone());
        }
        progress.walked(w.found);
        crate::timing::mark("scan: walked");
        w
    };
    let (known, known_problems, rewalked) = std::thread::scope(|s| -> Result<_, ScanError> {
        let walker = (!fresh).then(|| s.spawn(|| walk_all(None)));
        let known = lib.known_files()?;
        let known_problems: HashMap<PathBuf, db::KnownProblem> = lib
            .known_problems()?
            .into_iter()
            .map(|p| (p.path.clone(), p))
            .collect();
        crate::timing::mark("scan: known files read");
        let walked = walker.map(|w| w.join().expect("the walk does not panic"));
        Ok((known, known_problems, walked))
    })?;
    // Paths are keyed by their bytes: hashing a `Path` walks its components, which is most of
    // the cost of a no-change rescan.
    let known_index: HashMap<&[u8], usize> = known
        .iter()
        .enumerate()
        .map(|(i, k)| (key(&k.path), i))
        .collect();

    // The readers: on a first scan they start with the walk, each file read as soon as it is
    // found; on a rescan they get the new and changed files once the walk is compared with the
    // library, when moves can be told from additions.
    let jobs = if opts.jobs > 0 {
        opts.jobs
    } else {
        // Reading is often waiting on the disk or a network share, so use more threads than cores.
        std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| ScanError::Threads(e.to_string()))?;
    let (file_tx, file_rx) = crossbeam_channel::unbounded::<SeenFile>();
    let (tx, rx) = crossbeam_channel::bounded::<Outcome>(BATCH);
    let mut pending_moves: Vec<FileRecord> = Vec::new();
    let mut current_problems: HashSet<PathBuf> = HashSet::new();
    let mut vanished: Vec<Identity> = Vec::new();
    // On a first scan, whether the walk has told the progress how many files there are to read.
    let walk_done = std::sync::atomic::AtomicBool::new(!fresh);
    // A first scan loads an empty library: its indexes are built once, at the end.
    if fresh {
        lib.defer_indexes()?;
    }
    let unreported = std::cell::Cell::new(0u64);
    let (write_result, walk_result) = std::thread::scope(|s| {
        s.spawn(move || {
            pool.install(|| {
                file_rx.into_iter().par_bridge().for_each_with(tx, |tx, f| {
                    let _ = tx.send(read_outcome(&f));
                });
            })
        });
        let mut file_tx = Some(file_tx);
        let (mut done_walk, walker) = match (rewalked, file_tx.take()) {
            (Some(w), tx) => {
                file_tx = tx;
                (Some(w), None)
            }
            // The readers' channel closes when the walk ends and drops its sender.
            (None, Some(tx)) => {
                let walk_done = &walk_done;
                let walk_all = &walk_all;
                let walker = s.spawn(move || {
                    let w = walk_all(Some(tx));
                    progress.reading(w.sent);
                    walk_done.store(true, std::sync::atomic::Ordering::Release);
                    w
                });
                (None, Some(walker))
            }
            (None, None) => (None, None),
        };
        let write = (|| -> Result<(), ScanError> {
            let mut sent = 0u64;
            if let Some(w) = &done_walk {
                sent = w.sent;
                // Compare what the library knows with what the walk found.
                let mut seen_known = vec![false; known.len()];
                for f in &w.walked.files {
                    let changed = match known_index.get(key(&f.path)) {
                        Some(&i) => {
                            seen_known[i] = true;
                            let k = &known[i];
                            if k.size == f.size && k.mtime == f.mtime {
                                summary.unchanged += 1;
                                // A damaged but readable track keeps its warning until the file changes.
                                if known_problems.contains_key(&f.path) {
                                    current_problems.insert(f.path.clone());
                                }
                                false
                            } else {
                                true
                            }
                        }
                        None => match known_problems.get(&f.path) {
                            Some(p) if p.size == Some(f.size) && p.mtime == Some(f.mtime) => {
                                current_problems.insert(f.path.clone());
                                false
                            }
                            _ => true,
                        },
                    };
                    if changed {
                        sent += 1;
                        if let Some(tx) = &file_tx {
                            let _ = tx.send(f.clone());
                        }
                    }
                }
                drop(file_tx.take());
                let protected = |p: &Path| w.walked.unreadable.iter().any(|u| p.starts_with(u));
                let vanished_ids: Vec<i64> = known
                    .iter()
                    .zip(&seen_known)
                    .filter(|(k, seen)| {
                        !**seen
                            && w.available.iter().any(|r| k.path.starts_with(r))
                            && !protected(&k.path)
                    })
                    .map(|(k, _)| k.id)
                    .collect();
                vanished = lib.identities(&vanished_ids)?;
            }
            let vanished_fps: HashSet<&[u8]> =
                vanished.iter().map(|v| v.fingerprint.as_slice()).collect();
            crate::timing::mark("scan: compared with the library");
            if !fresh {
                progress.reading(sent);
            }

            // Write on this thread, as the readers' results come.
            let mut batch: Vec<Outcome> = Vec::with_capacity(BATCH);
            let mut last_commit = Instant::now();
            loop {
                let next = rx.recv_timeout(BATCH_TIME);
                let done = matches!(next, Err(crossbeam_channel::RecvTimeoutError::Disconnected));
                if let Ok(outcome) = next {
                    // Counted once the walk has told how many there are to read.
                    unreported.set(unreported.get() + 1);
                    if walk_done.load(std::sync::atomic::Ordering::Acquire) {
                        for _ in 0..unreported.replace(0) {
                            progress.read_one();
                        }
                    }
                    batch.push(outcome);
                }
                if !batch.is_empty()
                    && (done || batch.len() >= BATCH || last_commit.elapsed() >= BATCH_TIME)
                {
                    lib.write(|w| -> Result<(), ScanError> {
                        for outcome in batch.drain(..) {
                            match outcome {
                                Outcome::Read(rec, warning) => {
                                    match &warning {
                                        Some(reason) => {
                                            progress.problem(&rec.track.path, reason);
                                            w.set_problem(
                                                &rec.track.path,
                                                Some(rec.track.size),
                                                Some(rec.track.mtime),
                                                reason,
                                                now,
                                            )?;
                                            current_problems.insert(rec.track.path.clone());
                                        }
                                        None if known_problems.contains_key(&rec.track.path) => {
                                            w.clear_problem(&rec.track.path)?
                                        }
                                        None => {}
                                    }
                                    if let Some(&i) = known_index.get(key(&rec.track.path)) {
                                        w.update_track(known[i].id, &rec, now)?;
                                        progress.changed(Change::Updated(&rec.track.path));
                                        summary.updated += 1;
                                    } else if vanished_fps.contains(&rec.fingerprint[..]) {
                                        pending_moves.push(rec);
                                    } else {
                                        w.insert_track(&rec, now)?;
                                        progress.changed(Change::Added(&rec.track.path));
                                        summary.added += 1;
                                    }
                                }
                                Outcome::Problem {
                                    path,
                                    size,
                                    mtime,
                                    reason,
                                } => {
                                    progress.problem(&path, &reason);
                                    w.set_problem(&path, Some(size), Some(mtime), &reason, now)?;
                                    current_problems.insert(path);
                                }
                            }
                        }
                        Ok(())
                    })?;
                    last_commit = Instant::now();
                }
                if done {
                    return Ok(());
                }
            }
        })();
        if let Some(walker) = walker {
            done_walk = Some(walker.join().expect("the walk does not panic"));
            for _ in 0..unreported.replace(0) {
                progress.read_one();
            }
        }
        (write, done_walk.expect("walked"))
    });
    // Made whether the load went through or not, so the library stays complete to query.
    let restored = if fresh {
        progress.settling();
        lib.restore_indexes()
    } else {
        Ok(())
    };
    write_result?;
    restored?;
    let Walk {
        available,
        unavailable,
        walked,
        ..
    } = walk_result;
    summary.unavailable.extend(unavailable);
    summary.hidden = walked.hidden;
    summary.targets = walked.targets.clone();
    crate::timing::mark("scan: read and written");

    // Settle moves and removals together.
    progress.settling();
    let protected = |p: &Path| walked.unreadable.iter().any(|u| p.starts_with(u));
    let appeared: Vec<Side> = pending_moves.iter().map(side_of_record).collect();
    let gone: Vec<Side> = vanished.iter().map(side_of_identity).collect();
    let matches = match_moves(&appeared, &gone);
    let matched_new: HashSet<usize> = matches.iter().map(|&(i, _)| i).collect();
    let matched_gone: HashSet<usize> = matches.iter().map(|&(_, j)| j).collect();
    for p in &walked.problems {
        current_problems.insert(p.path.clone());
    }
    let stale_problems: Vec<PathBuf> = known_problems
        .keys()
        .filter(|p| {
            !current_problems.contains(*p)
                && available.iter().any(|r| p.starts_with(r))
                && !protected(p)
        })
        .cloned()
        .collect();
    lib.write(|w| -> Result<(), ScanError> {
        for &(i, j) in &matches {
            w.update_track(vanished[j].id, &pending_moves[i], now)?;
            progress.changed(Change::Moved {
                from: &vanished[j].path,
                to: &pending_moves[i].track.path,
            });
            summary.moved += 1;
            summary.moves.push((
                vanished[j].path.clone(),
                pending_moves[i].track.path.clone(),
            ));
        }
        for (i, rec) in pending_moves.iter().enumerate() {
            if !matched_new.contains(&i) {
                w.insert_track(rec, now)?;
                progress.changed(Change::Added(&rec.track.path));
                summary.added += 1;
            }
        }
        for (j, v) in vanished.iter().enumerate() {
            if !matched_gone.contains(&j) {
                w.delete_track(v.id)?;
                progress.changed(Change::Removed(&v.path));
                summary.removed += 1;
            }
        }
        for p in &walked.problems {
            progress.problem(&p.path, &p.reason);
            w.set_problem(&p.path, None, None, &p.reason, now)?;
        }
        for p in &stale_problems {
            w.clear_problem(p)?;
        }
        Ok(())
    })?;
    for root in &available {
        lib.mark_root_scanned(root, now)?;
    }
    summary.problems = current_problems.len() as u64;
    crate::timing::mark("scan: settled");
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn key(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

fn file_name(p: &Path) -> Vec<u8> {
    p.file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default()
}

fn side_of_record(r: &FileRecord) -> Side {
    Side {
        fingerprint: r.fingerprint,
        name: file_name(&r.track.path),
        size: r.track.size,
        title: r.track.title.clone(),
        artist: r.track.artist.clone(),
        album: r.track.album.clone(),
    }
}

fn side_of_identity(v: &Identity) -> Side {
    let mut fingerprint = [0u8; 16];
    if v.fingerprint.len() == 16 {
        fingerprint.copy_from_slice(&v.fingerprint);
    }
    Side {
        fingerprint,
        name: file_name(&v.path),
        size: v.size,
        title: v.title.clone(),
        artist: v.artist.clone(),
        album: v.album.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seekbuf_reads_like_the_file_it_wraps() {
        use std::io::{Cursor, Read, Seek, SeekFrom};
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut plain = Cursor::new(data.clone());
        let mut buffered = SeekBuf::new(Cursor::new(data.clone()), data.len() as u64);
        let moves = [
            SeekFrom::Start(10),
            SeekFrom::Current(5),
            SeekFrom::Current(-12),
            SeekFrom::Start(70_000),
            SeekFrom::End(-100),
            SeekFrom::Current(-65_000),
            SeekFrom::Start(0),
            SeekFrom::End(0),
        ];
        for m in moves {
            assert_eq!(buffered.seek(m).unwrap(), plain.seek(m).unwrap(), "{m:?}");
            let (mut a, mut b) = (vec![0u8; 777], vec![0u8; 777]);
            let n = buffered.read(&mut a).unwrap();
            plain.read_exact(&mut b[..n]).unwrap();
            assert_eq!(a[..n], b[..n], "{m:?}");
        }
        assert!(buffered.seek(SeekFrom::Current(-10_000_000)).is_err());
    }

    #[test]
    fn nested_roots_are_walked_once() {
        let roots = outermost(vec![
            "/m/a".into(),
            "/m".into(),
            "/n".into(),
            "/m/b/c".into(),
            "/n".into(),
        ]);
        assert_eq!(roots, vec![PathBuf::from("/m"), PathBuf::from("/n")]);
        // A sibling whose name merely starts with the same letters is not nested.
        let roots = outermost(vec!["/music".into(), "/music2".into()]);
        assert_eq!(roots.len(), 2);
    }
}
