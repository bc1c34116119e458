//! The one place where tapedeck creates, replaces or removes files outside its library database.
//!
//! A [`Target`] is a folder handle (an open directory, not a path) plus the rules every write
//! obeys:
//!
//! - Confined: paths are [`RelPath`]s, walked one component at a time from the root's handle
//!   with `O_NOFOLLOW`, so no symbolic link is ever followed, written through, renamed over or
//!   emptied; a link in the way is an [`Error::Link`] naming it.
//! - Exclusive: [`Target::lock`] takes an advisory lock on the target's `.tapedeck` folder; a
//!   second writer gets [`Error::Busy`].
//! - Same device: the root's identity (device, inode) is taken at the start and
//!   [`Target::check_present`] compares it again before each commit step: a stick that was
//!   pulled or remounted is [`Error::Gone`], and since every call goes through the handle, nothing
//!   is ever written into a bare mount point left behind.
//! - Owned: [`Target::ownership`] tells whether a file is still byte-for-byte what tapedeck wrote
//!   (size, then checksum), before anything replaces, renames or removes it.
//! - No clobber: files are created with `O_EXCL`; renames refuse to land on a link, a folder or
//!   (unless asked) any existing file.
//!
//! [`OutputFile`] is the same for one named file (`render -o`, `playlist export -o`), and
//! [`Scratch`] is a private folder on the computer where files are prepared before one
//! sequential copy onto the target.

pub mod lock;
pub mod path;
pub mod runtime;

use std::collections::HashMap;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::fsat::{cvt, fstat, fstatat, openat};

pub use path::{BadPath, NAME_MAX, RelPath};

/// The folder in a target that holds tapedeck's own files (and marks the folder as a target).
pub const DIR: &str = ".tapedeck";
/// Where files are copied onto the target before they are renamed into place.
pub const STAGING: &str = ".tapedeck/tmp";

/// What can go wrong writing into a target. Callers match on the variant; `error.rs` maps each
/// to its message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: a symbolic link; tapedeck never writes through, over or into links")]
    Link { path: PathBuf },
    #[error("{path}: changed since tapedeck wrote it ({why}), so it is yours now and left alone")]
    NotOurs { path: PathBuf, why: &'static str },
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    #[error("{root} is in use by another tapedeck run (convert or export); try again when it ends")]
    Busy { root: PathBuf },
    #[error(
        "{root} is gone or was remounted during the run; stopped, and nothing more was written"
    )]
    Gone { root: PathBuf },
    #[error("{path}: no space left on the device")]
    Full { path: PathBuf },
    #[error("interrupted")]
    Interrupted,
    #[error(transparent)]
    BadPath(#[from] BadPath),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl Error {
    /// An I/O error at `path`, classified: a full device is [`Error::Full`], a vanished FUSE
    /// file system [`Error::Gone`].
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        match source.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => Error::Full { path },
            Some(libc::ENOTCONN | libc::ENODEV) => Error::Gone { root: path },
            _ => Error::Io { path, source },
        }
    }

    /// Whether the device is full.
    pub fn is_full(&self) -> bool {
        matches!(self, Error::Full { .. })
    }
}

/// What kind of entry a path names (links are never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Link,
    /// A FIFO, socket or device.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i64,
    /// Permission bits.
    pub mode: u32,
}

impl Meta {
    /// Nothing known beyond the kind (from a directory entry's type).
    const NONE: Meta = Meta {
        kind: Kind::Other,
        size: 0,
        mtime: 0,
        mode: 0,
    };
}

/// Whether a file is still what tapedeck wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    Ours,
    Missing,
    /// Something else is there now (why).
    Changed(&'static str),
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn meta_of(st: &libc::stat) -> Meta {
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFLNK => Kind::Link,
        _ => Kind::Other,
    };
    Meta {
        kind,
        size: st.st_size as u64,
        mtime: crate::fsat::mtime_ns(st),
        mode: st.st_mode & 0o7777,
    }
}

/// xxh3-64 (hex) and length of everything `r` yields.
pub fn hash_reader(mut r: impl Read) -> io::Result<(u64, String)> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((n_total, format!("{:016x}", h.digest())))
}

/// A folder tapedeck writes into.
#[derive(Debug)]
pub struct Target {
    root: PathBuf,
    fd: Arc<OwnedFd>,
    /// Folders walked to already (relative path to handle), so a batch of files into one
    /// folder walks to it once. A handle keeps naming the folder it was opened on, even if a
    /// link is later put in its place.
    dirs: Mutex<HashMap<String, Arc<OwnedFd>>>,
    /// Whether the file system refused `RENAME_NOREPLACE` (the names are checked first then).
    no_noreplace: AtomicBool,
    identity: (u64, u64),
    mount_point: bool,
    lock: Option<OwnedFd>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How folders are opened on the way to a path: a handle for the `*at` calls only, refusing a
/// link.
const WALK: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;

/// A readable descriptor for the folder a walk handle names.
fn real(dir: &OwnedFd) -> io::Result<OwnedFd> {
    openat(dir.as_raw_fd(), c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

impl Target {
    /// Opens an existing folder as a target. The path the user named may pass through links
    /// (it is the user's choice of target); nothing beneath it will.
    pub fn open(root: &Path) -> Result<Target, Error> {
        let c = CString::new(root.as_os_str().as_bytes())
            .map_err(|e| Error::io(root, io::Error::other(e)))?;
        let fd = openat(libc::AT_FDCWD, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(|e| Error::io(root, e))?;
        let st = fstat(fd.as_raw_fd()).map_err(|e| Error::io(root, e))?;
        let parent = openat(fd.as_raw_fd(), c"..", libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .and_then(|p| fstat(p.as_raw_fd()));
        let mount_point = parent.is_ok_and(|p| p.st_dev != st.st_dev || p.st_ino == st.st_ino);
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        Ok(Target {
            root,
            fd: Arc::new(fd),
            identity: (st.st_dev, st.st_ino),
            mount_point,
            lock: None,
            dirs: Mutex::new(HashMap::new()),
            no_noreplace: AtomicBool::new(false),
        })
    }

    /// Creates the folder (and its parents) if needed, then opens it.
    pub fn create(root: &Path) -> Result<Target, Error> {
        if let Err(e) = std::fs::create_dir_all(root) {
            return Err(Error::io(root, e));
        }
        Target::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of `rel`, for messages (never for writing).
    pub fn display(&self, rel: &RelPath) -> PathBuf {
        self.root.join(rel.as_str())
    }

    /// Whether the root was a mount point when opened.
    pub fn is_mount_point(&self) -> bool {
        self.mount_point
    }

    /// Takes the target's writer lock (creating `.tapedeck`). Held until the target is dropped.
    pub fn lock(&mut self) -> Result<(), Error> {
        let dir = RelPath::parse(DIR)?;
        self.ensure_dir(&dir)?;
        let fd = real(&*self.walk(&dir)?).map_err(|e| Error::io(self.display(&dir), e))?;
        // SAFETY: a valid descriptor.
        let r = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                Error::Busy {
                    root: self.root.clone(),
                }
            } else {
                Error::io(self.display(&dir), e)
            });
        }
        self.lock = Some(fd);
        Ok(())
    }

    /// Whether the root path still names the folder opened at the start, on a device that
    /// answers.
    pub fn check_present(&self) -> Result<(), Error> {
        let gone = || Error::Gone {
            root: self.root.clone(),
        };
        let here = fstat(self.fd.as_raw_fd()).map_err(|_| gone())?;
        let named = std::fs::metadata(&self.root).map_err(|_| gone())?;
        use std::os::unix::fs::MetadataExt;
        if (named.dev(), named.ino()) != self.identity || here.st_nlink == 0 {
            return Err(gone());
        }
        Ok(())
    }

    /// Opens the folder `rel` (or the root for `None`) without following any link, as an
    /// `O_PATH` handle: good for the `*at` calls and `fstat`, not for reading (see [`Self::real`]).
    /// No file system is asked to open a folder on the way (on FUSE that is a round trip each).
    fn walk_opt(&self, rel: Option<&RelPath>) -> Result<Arc<OwnedFd>, Error> {
        let Some(rel) = rel else {
            return Ok(self.fd.clone());
        };
        if let Some(fd) = self.cached(rel) {
            return Ok(fd);
        }
        let mut fd = self.fd.try_clone().map_err(|e| Error::io(&self.root, e))?;
        let mut so_far = String::new();
        for part in rel.parts() {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            let c = cstring(part).map_err(|e| Error::io(self.root.join(&so_far), e))?;
            fd = match openat(fd.as_raw_fd(), &c, WALK, 0) {
                Ok(next) => next,
                Err(e) => {
                    let path = self.root.join(&so_far);
                    if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR))
                        && fstatat(fd.as_raw_fd(), &c)
                            .is_ok_and(|st| meta_of(&st).kind == Kind::Link)
                    {
                        return Err(Error::Link { path });
                    }
                    return Err(Error::io(path, e));
                }
            };
        }
        let fd = Arc::new(fd);
        let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        if dirs.len() >= 256 {
            dirs.clear();
        }
        dirs.insert(rel.to_string(), fd.clone());
        Ok(fd)
    }

    fn cached(&self, rel: &RelPath) -> Option<Arc<OwnedFd>> {
        let dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        dirs.get(rel.as_str()).cloned()
    }

    /// Forgets the handles of `rel` and everything beneath it (it was removed or moved).
    fn forget(&self, rel: &RelPath) {
        let mut dirs = self.dirs.lock().unwrap_or_else(|e| e.into_inner());
        let (whole, under) = (rel.as_str(), format!("{}/", rel.as_str()));
        dirs.retain(|k, _| k != whole && !k.starts_with(&under));
    }

    fn walk(&self, rel: &RelPath) -> Result<Arc<OwnedFd>, Error> {
        self.walk_opt(Some(rel))
    }

    /// The folder holding `rel`, opened, and `rel`'s last component.
    fn parent(&self, rel: &RelPath) -> Result<(Arc<OwnedFd>, CString), Error> {
        let fd = self.walk_opt(rel.parent().as_ref())?;
        let name = cstring(rel.name()).map_err(|e| Error::io(self.display(rel), e))?;
        Ok((fd, name))
    }

    /// What `rel` is, without following a link; `None` when nothing is there.
    pub fn meta(&self, rel: &RelPath) -> Result<Option<Meta>, Error> {
        let (dir, name) = match self.parent(rel) {
            Ok(p) => p,
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match fstatat(dir.as_raw_fd(), &name) {
            Ok(st) => Ok(Some(meta_of(&st))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(self.display(rel), e)),
        }
    }

    /// Makes the folder `rel` and any missing parents; returns the folders it created, top first.
    pub fn ensure_dir(&self, rel: &RelPath) -> Result<Vec<RelPath>, Error> {
        let mut created = Vec::new();
        let mut fd = self.fd.try_clone().map_err(|e| Error::io(&self.root, e))?;
        let mut so_far = String::new();
        for part in rel.parts() {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            let path = self.root.join(&so_far);
            let c = cstring(part).map_err(|e| Error::io(&path, e))?;
            let flags = WALK;
            let next = match openat(fd.as_raw_fd(), &c, flags, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // SAFETY: valid descriptor and C string.
                    let r = unsafe { libc::mkdirat(fd.as_raw_fd(), c.as_ptr(), 0o777) };
                    if r != 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() != io::ErrorKind::AlreadyExists {
                            return Err(Error::io(path, e));
                        }
                    } else {
                        created.push(RelPath::parse(&so_far)?);
                    }
                    openat(fd.as_raw_fd(), &c, flags, 0)
                        .map_err(|e| self.link_or(fd.as_raw_fd(), &c, path, e))?
                }
                Err(e) => return Err(self.link_or(fd.as_raw_fd(), &c, path, e)),
            };
            fd = next;
        }
        Ok(created)
    }

    fn link_or(&self, dir: RawFd, name: &CStr, path: PathBuf, e: io::Error) -> Error {
        if fstatat(dir, name).is_ok_and(|st| meta_of(&st).kind == Kind::Link) {
            Error::Link { path }
        } else {
            Error::io(path, e)
        }
    }

    /// Creates a new file at `rel` (never over anything that exists, never through a link).
    pub fn create_new(&self, rel: &RelPath) -> Result<File, Error> {
        let (dir, name) = self.parent(rel)?;
        match openat(
            dir.as_raw_fd(),
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            0o666,
        ) {
            Ok(fd) => Ok(File::from(fd)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(self
                .link_or(dir.as_raw_fd(), &name, self.display(rel), e)
                .exists_unless_link()),
            Err(e) => Err(Error::io(self.display(rel), e)),
        }
    }

    /// Opens a regular file for reading (never a link, FIFO or device).
    pub fn open_read(&self, rel: &RelPath) -> Result<File, Error> {
        self.open_regular(rel, libc::O_RDONLY)
    }

    /// Opens a file tapedeck has just made (a copy it is about to finish) for reading and
    /// writing in place.
    pub fn open_update(&self, rel: &RelPath) -> Result<File, Error> {
        self.open_regular(rel, libc::O_RDWR)
    }

    /// Opens a file of tapedeck's own (a journal) for appending, creating it if needed.
    pub fn open_append(&self, rel: &RelPath) -> Result<File, Error> {
        self.open_regular(rel, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT)
    }

    /// Opens `rel` with `flags`, never through a link and without blocking, and only if it is a
    /// regular file.
    fn open_regular(&self, rel: &RelPath, flags: libc::c_int) -> Result<File, Error> {
        let (dir, name) = self.parent(rel)?;
        let fd = openat(
            dir.as_raw_fd(),
            &name,
            flags | libc::O_NOFOLLOW | libc::O_NONBLOCK,
            0o666,
        )
        .map_err(|e| self.link_or(dir.as_raw_fd(), &name, self.display(rel), e))?;
        let st = fstat(fd.as_raw_fd()).map_err(|e| Error::io(self.display(rel), e))?;
        if meta_of(&st).kind != Kind::File {
            return Err(Error::NotOurs {
                path: self.display(rel),
                why: "not a regular file",
            });
        }
        Ok(File::from(fd))
    }

    /// Reads a whole regular file of at most `max` bytes (`None` when it is missing).
    pub fn read(&self, rel: &RelPath, max: u64) -> Result<Option<Vec<u8>>, Error> {
        let f = match self.open_read(rel) {
            Ok(f) => f,
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        f.take(max + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(self.display(rel), e))?;
        if out.len() as u64 > max {
            return Err(Error::io(
                self.display(rel),
                io::Error::other(format!("larger than {max} bytes")),
            ));
        }
        Ok(Some(out))
    }

    /// Size and xxh3-64 of a regular file.
    pub fn checksum(&self, rel: &RelPath) -> Result<(u64, String), Error> {
        let f = self.open_read(rel)?;
        hash_reader(f).map_err(|e| Error::io(self.display(rel), e))
    }

    /// Whether the file at `rel` is still the one tapedeck wrote: same size, then same checksum.
    pub fn ownership(&self, rel: &RelPath, size: u64, xxh3: &str) -> Result<Ownership, Error> {
        match self.meta(rel)? {
            None => return Ok(Ownership::Missing),
            Some(m) if m.kind == Kind::Link => {
                return Ok(Ownership::Changed("now a symbolic link"));
            }
            Some(m) if m.kind != Kind::File => {
                return Ok(Ownership::Changed("not a file any more"));
            }
            Some(m) if m.size != size => return Ok(Ownership::Changed("its size changed")),
            Some(_) => {}
        }
        let (_, h) = self.checksum(rel)?;
        Ok(if h == xxh3 {
            Ownership::Ours
        } else {
            Ownership::Changed("its contents changed")
        })
    }

    /// Renames `from` to `to`. The destination may not be a link or a folder; an existing file
    /// there is replaced only with `replace` (the caller has checked it is ours).
    pub fn rename(&self, from: &RelPath, to: &RelPath, replace: bool) -> Result<(), Error> {
        let (fdir, fname) = self.parent(from)?;
        let (tdir, tname) = self.parent(to)?;
        // A folder moved away takes its cached handles' paths with it. (`from` itself is not
        // checked: renaming a link moves the link, and writes through nothing.)
        self.forget(from);
        // Without replacing, the kernel refuses an existing name itself (one round trip fewer
        // on FUSE); a file system that cannot do that has the name checked first.
        if !replace && !self.no_noreplace.load(Ordering::Relaxed) {
            // SAFETY: valid descriptors and C strings.
            let r = unsafe {
                libc::renameat2(
                    fdir.as_raw_fd(),
                    fname.as_ptr(),
                    tdir.as_raw_fd(),
                    tname.as_ptr(),
                    libc::RENAME_NOREPLACE,
                )
            };
            if r == 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => {
                    self.no_noreplace.store(true, Ordering::Relaxed);
                }
                Some(libc::EEXIST) => {
                    let path = self.display(to);
                    return Err(
                        if fstatat(tdir.as_raw_fd(), &tname)
                            .is_ok_and(|st| meta_of(&st).kind == Kind::Link)
                        {
                            Error::Link { path }
                        } else {
                            Error::Exists { path }
                        },
                    );
                }
                _ => return Err(Error::io(self.display(to), e)),
            }
        }
        match fstatat(tdir.as_raw_fd(), &tname) {
            Ok(st) => match meta_of(&st).kind {
                Kind::Link => {
                    return Err(Error::Link {
                        path: self.display(to),
                    });
                }
                Kind::File if replace => {}
                _ => {
                    return Err(Error::Exists {
                        path: self.display(to),
                    });
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(self.display(to), e)),
        }
        // SAFETY: valid descriptors and C strings.
        cvt(unsafe {
            libc::renameat(
                fdir.as_raw_fd(),
                fname.as_ptr(),
                tdir.as_raw_fd(),
                tname.as_ptr(),
            )
        })
        .map_err(|e| Error::io(self.display(to), e))?;
        Ok(())
    }

    /// Removes a file (never a link's target: a link is refused).
    pub fn remove_file(&self, rel: &RelPath) -> Result<(), Error> {
        let (dir, name) = self.parent(rel)?;
        let st = fstatat(dir.as_raw_fd(), &name).map_err(|e| Error::io(self.display(rel), e))?;
        match meta_of(&st).kind {
            Kind::Link => Err(Error::Link {
                path: self.display(rel),
            }),
            Kind::Dir => Err(Error::io(
                self.display(rel),
                io::Error::from_raw_os_error(libc::EISDIR),
            )),
            _ => {
                // SAFETY: valid descriptor and C string.
                cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
                    .map_err(|e| Error::io(self.display(rel), e))?;
                Ok(())
            }
        }
    }

    /// Removes an empty folder (a link is refused).
    pub fn remove_dir(&self, rel: &RelPath) -> Result<(), Error> {
        let (dir, name) = self.parent(rel)?;
        let st = fstatat(dir.as_raw_fd(), &name).map_err(|e| Error::io(self.display(rel), e))?;
        if meta_of(&st).kind == Kind::Link {
            return Err(Error::Link {
                path: self.display(rel),
            });
        }
        self.forget(rel);
        // SAFETY: valid descriptor and C string.
        cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) })
            .map_err(|e| Error::io(self.display(rel), e))?;
        Ok(())
    }

    /// The names in folder `rel` (the root for `None`), with what each is (and a file's size).
    /// Only files are asked for their size; folders and links are known from the listing.
    pub fn list(&self, rel: Option<&RelPath>) -> Result<Vec<(String, Meta)>, Error> {
        let here = || rel.map_or(self.root.clone(), |r| self.display(r));
        let fd = real(&*self.walk_opt(rel)?).map_err(|e| Error::io(here(), e))?;
        let raw = fd.as_raw_fd();
        // SAFETY: fdopendir takes ownership of the descriptor on success.
        let dirp = unsafe { libc::fdopendir(raw) };
        if dirp.is_null() {
            return Err(Error::io(here(), io::Error::last_os_error()));
        }
        std::mem::forget(fd);
        let mut out = Vec::new();
        loop {
            // SAFETY: `dirp` is a valid open directory stream.
            let ent = unsafe { libc::readdir(dirp) };
            if ent.is_null() {
                break;
            }
            // SAFETY: readdir returned a valid entry whose name is NUL-terminated.
            let (name, d_type) = unsafe { (CStr::from_ptr((*ent).d_name.as_ptr()), (*ent).d_type) };
            let bytes = name.to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let meta = match d_type {
                libc::DT_DIR => Meta {
                    kind: Kind::Dir,
                    ..Meta::NONE
                },
                libc::DT_LNK => Meta {
                    kind: Kind::Link,
                    ..Meta::NONE
                },
                libc::DT_FIFO | libc::DT_SOCK | libc::DT_CHR | libc::DT_BLK => Meta {
                    kind: Kind::Other,
                    ..Meta::NONE
                },
                _ => fstatat(raw, name).map_or(
                    Meta {
                        kind: Kind::Other,
                        ..Meta::NONE
                    },
                    |st| meta_of(&st),
                ),
            };
            out.push((
                OsStr::from_bytes(bytes).to_string_lossy().into_owned(),
                meta,
            ));
        }
        // SAFETY: closes the stream and its descriptor.
        unsafe { libc::closedir(dirp) };
        Ok(out)
    }

    /// Every regular file beneath the root (relative path to size), leaving out `.tapedeck`,
    /// and the symbolic links found (which are never followed).
    pub fn list_files(
        &self,
    ) -> Result<(std::collections::HashMap<String, u64>, Vec<String>), Error> {
        let mut files = std::collections::HashMap::new();
        let mut links = Vec::new();
        let mut stack: Vec<Option<RelPath>> = vec![None];
        while let Some(dir) = stack.pop() {
            let entries = match self.list(dir.as_ref()) {
                Ok(e) => e,
                Err(Error::Io { .. }) if dir.is_some() => continue,
                Err(e) => return Err(e),
            };
            for (name, meta) in entries {
                if dir.is_none() && name == DIR {
                    continue;
                }
                let Ok(rel) = (match &dir {
                    Some(d) => d.join(&name),
                    None => RelPath::parse(&name),
                }) else {
                    continue;
                };
                match meta.kind {
                    Kind::Dir => stack.push(Some(rel)),
                    Kind::Link => links.push(rel.to_string()),
                    Kind::File => {
                        files.insert(rel.to_string(), meta.size);
                    }
                    Kind::Other => {}
                }
            }
        }
        links.sort();
        Ok((files, links))
    }

    /// Copies `input` into a new file at `rel`, in one sequential write, hashing as it goes.
    pub fn copy_in(&self, input: impl Read, rel: &RelPath) -> Result<(u64, String), Error> {
        let mut out = self.create_new(rel)?;
        let r = copy_hashing(input, &mut out);
        if let Err(e) = r {
            drop(out);
            let _ = self.remove_file(rel);
            return Err(Error::io(self.display(rel), e));
        }
        r.map_err(|e| Error::io(self.display(rel), e))
    }

    /// Writes `bytes` at `rel` through a temporary name beside it, flushed, then renamed into
    /// place. An existing file at `rel` is replaced only with `replace` (the caller has checked
    /// it is ours).
    pub fn write_atomic(&self, rel: &RelPath, bytes: &[u8], replace: bool) -> Result<(), Error> {
        let tmp = self.temp_name(rel)?;
        let result = (|| {
            let mut f = self.create_new(&tmp)?;
            f.write_all(bytes)
                .map_err(|e| Error::io(self.display(rel), e))?;
            f.sync_all().map_err(|e| Error::io(self.display(rel), e))?;
            drop(f);
            self.rename(&tmp, rel, replace)
        })();
        if result.is_err() {
            let _ = self.remove_file(&tmp);
        }
        result
    }

    /// A fresh hidden name beside `rel`, short whatever `rel`'s length.
    pub fn temp_name(&self, rel: &RelPath) -> Result<RelPath, Error> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(".tapedeck-{}-{n}.part", std::process::id());
        Ok(match rel.parent() {
            Some(d) => d.join(&name)?,
            None => RelPath::parse(&name)?,
        })
    }

    /// Flushes everything written on the target's file system.
    pub fn sync(&self) -> Result<(), Error> {
        // SAFETY: a valid descriptor.
        cvt(unsafe { libc::syncfs(self.fd.as_raw_fd()) }).map_err(|e| Error::io(&self.root, e))?;
        Ok(())
    }

    /// Flushes one folder's entries (best effort: some file systems refuse).
    pub fn sync_dir(&self, rel: Option<&RelPath>) {
        if let Ok(fd) = self
            .walk_opt(rel)
            .and_then(|d| real(&d).map_err(|e| Error::io(&self.root, e)))
        {
            // SAFETY: a valid descriptor.
            unsafe { libc::fsync(fd.as_raw_fd()) };
        }
    }

    /// Free bytes on the target's file system; `None` when it cannot tell (fusefat answers
    /// 0 of 0).
    pub fn free_space(&self) -> Option<u64> {
        // SAFETY: zeroed is a valid statvfs; the descriptor is valid.
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatvfs(self.fd.as_raw_fd(), &mut s) } != 0 || s.f_blocks == 0 {
            return None;
        }
        Some(s.f_bavail as u64 * s.f_frsize as u64)
    }
}

impl Error {
    /// EEXIST from an exclusive create: a link there is [`Error::Link`], anything else
    /// [`Error::Exists`].
    fn exists_unless_link(self) -> Error {
        match self {
            Error::Io { path, .. } => Error::Exists { path },
            e => e,
        }
    }
}

thread_local! {
    /// One copy buffer per thread, made once: zeroing a fresh megabyte for each of thousands
    /// of small files would cost more than copying them.
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 1 << 20]);
}

fn copy_hashing(input: impl Read, out: &mut File) -> io::Result<(u64, String)> {
    BUFFER.with(|b| copy_with(input, out, &mut b.borrow_mut()))
}

fn copy_with(mut input: impl Read, out: &mut File, buf: &mut [u8]) -> io::Result<(u64, String)> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut n_total = 0u64;
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        n_total += n as u64;
    }
    out.flush()?;
    Ok((n_total, format!("{:016x}", h.digest())))
}

/// A private folder on the computer (in the user's cache folder) where files are made before
/// one sequential copy onto a target. Removed with everything in it when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> io::Result<Scratch> {
        let base = directories::ProjectDirs::from("", "", "tapedeck")
            .map(|d| d.cache_dir().join("scratch"))
            .unwrap_or_else(|| std::env::temp_dir().join("tapedeck-scratch"));
        // What a killed run left (a day old: no run still uses it).
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let old = e
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .is_some_and(|t| {
                        t.elapsed()
                            .is_ok_and(|age| age > std::time::Duration::from_secs(86_400))
                    });
                let ours = e.file_name().to_string_lossy().starts_with("run-");
                if ours && old && e.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = std::fs::create_dir_all(&base)
            .and_then(|_| tempfile::Builder::new().prefix("run-").tempdir_in(&base))
            .or_else(|_| tempfile::Builder::new().prefix("tapedeck-").tempdir())?;
        Ok(Scratch { dir })
    }

    /// A path for the `n`th file (with extension `ext`, which some writers need).
    pub fn path(&self, n: usize, ext: &str) -> PathBuf {
        self.dir.path().join(format!("{n:06}.{ext}"))
    }

    /// Creates a new file at a path this scratch folder handed out ([`Scratch::path`]): never
    /// over an existing file, never through a link.
    pub fn create(p: &Path) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(p)
    }

    /// Removes a file made here (only paths this scratch folder handed out).
    pub fn discard(&self, p: &Path) {
        if p.parent() == Some(self.dir.path()) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// One named output file (`render -o`, `playlist export -o`): written under a hidden temporary
/// name in the same folder, then renamed into place. An existing file is refused unless the
/// caller allows replacing it; a link, a folder or a special file at the name is always refused.
pub struct OutputFile {
    folder: Target,
    rel: RelPath,
    tmp: RelPath,
    replace: bool,
    file: Option<File>,
    done: bool,
}

impl OutputFile {
    /// Starts writing `path`. `force` allows replacing an existing regular file; `protected`
    /// are files that must never be replaced, even with `force` (the run's inputs, library
    /// tracks), compared by identity (device and inode), so another spelling cannot get past.
    pub fn create(path: &Path, force: bool, protected: &[PathBuf]) -> Result<OutputFile, Error> {
        let name = path.file_name().ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            source: io::Error::other("not a file name"),
        })?;
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let folder = Target::open(parent)?;
        let name = name.to_str().ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            source: io::Error::other("the name is not UTF-8"),
        })?;
        let rel = RelPath::parse(name)?;
        let shown = path.to_path_buf();
        match folder.meta(&rel)? {
            None => {}
            Some(m) if m.kind == Kind::Link => return Err(Error::Link { path: shown }),
            Some(m) if m.kind != Kind::File => return Err(Error::Exists { path: shown }),
            Some(_) => {
                if is_protected(path, protected) {
                    return Err(Error::NotOurs {
                        path: shown,
                        why: "it is an input of this run or a track of the library",
                    });
                }
                if !force {
                    return Err(Error::Exists { path: shown });
                }
            }
        }
        let tmp = folder.temp_name(&rel)?;
        let file = folder.create_new(&tmp)?;
        Ok(OutputFile {
            folder,
            rel,
            tmp,
            replace: force,
            file: Some(file),
            done: false,
        })
    }

    /// The open temporary file to write into.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Takes the open temporary file (for a writer that owns it); commit afterwards.
    pub fn take_file(&mut self) -> File {
        self.file.take().expect("open until committed")
    }

    /// Flushes the file and renames it into place.
    pub fn commit(mut self) -> Result<(), Error> {
        if let Some(f) = self.file.take() {
            f.sync_all()
                .map_err(|e| Error::io(self.folder.display(&self.rel), e))?;
        } else if let Ok(f) = self.folder.open_read(&self.tmp) {
            let _ = f.sync_all();
        }
        self.folder.rename(&self.tmp, &self.rel, self.replace)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.done {
            self.file.take();
            let _ = self.folder.remove_file(&self.tmp);
        }
    }
}

/// Whether `path` is the same file as one of `protected`.
pub fn is_protected(path: &Path, protected: &[PathBuf]) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(path) else {
        return false;
    };
    protected
        .iter()
        .any(|p| std::fs::metadata(p).is_ok_and(|o| o.dev() == m.dev() && o.ino() == m.ino()))
}

#[cfg(test)]
mod tests;
