//! System calls relative to an open folder (`openat`, `fstatat`, `fstat`, listing a folder's
//! names): what the safe-write layer walks with, so that no link is followed by accident, and
//! what the scan's walk uses to look at each name once, without the kernel walking the whole path
//! again. Thin and safe wrappers; the policy lives with the callers.

use std::ffi::{CStr, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// A system call's result: the error from `errno` when it is negative.
pub fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `openat` with close-on-exec, retried when interrupted.
pub fn openat(
    dir: RawFd,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    loop {
        // SAFETY: `name` is a valid C string; the returned descriptor is owned by the caller.
        let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        if fd >= 0 {
            // SAFETY: a descriptor just returned by openat.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The `stat` of `name` in `dir` itself: a link is described, not followed.
pub fn fstatat(dir: RawFd, name: &CStr) -> io::Result<libc::stat> {
    stat_at(dir, name, libc::AT_SYMLINK_NOFOLLOW)
}

/// The `stat` of what `name` in `dir` leads to, following links.
pub fn fstatat_following(dir: RawFd, name: &CStr) -> io::Result<libc::stat> {
    stat_at(dir, name, 0)
}

fn stat_at(dir: RawFd, name: &CStr, flags: libc::c_int) -> io::Result<libc::stat> {
    // SAFETY: zeroed is a valid `stat`; `name` is a valid C string.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: as above.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    cvt(unsafe { libc::fstat(fd, &mut st) })?;
    Ok(st)
}

/// Modification time from a `stat`, in nanoseconds since the epoch.
pub fn mtime_ns(st: &libc::stat) -> i64 {
    st.st_mtime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec)
}

/// Whether a `stat` describes a folder.
pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// One name in a folder, with the type its directory entry gives (`libc::DT_*`;
/// `DT_UNKNOWN` where the file system does not say, and then only a `stat` tells).
pub struct Entry {
    pub name: OsString,
    pub kind: u8,
}

/// The names in the open folder `dir` (without `.` and `..`), in byte order.
pub fn list(dir: &OwnedFd) -> io::Result<Vec<Entry>> {
    // `fdopendir` takes the descriptor over: give it a copy, so `dir` stays open for `*at` calls.
    let copy = cvt(unsafe { libc::fcntl(dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) })?;
    // SAFETY: `copy` is a descriptor of a folder that nothing else owns.
    let stream = unsafe { libc::fdopendir(copy) };
    if stream.is_null() {
        let e = io::Error::last_os_error();
        // SAFETY: `copy` was not taken over.
        unsafe { libc::close(copy) };
        return Err(e);
    }
    // Read from the start, whatever an earlier listing of the same descriptor left.
    // SAFETY: `stream` is an open directory stream.
    unsafe { libc::rewinddir(stream) };
    let mut out = Vec::new();
    let result = loop {
        // readdir reports an error only through errno, which it leaves alone at the end.
        // SAFETY: errno is thread-local; `stream` is open.
        unsafe { *libc::__errno_location() = 0 };
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let e = io::Error::last_os_error();
            break match e.raw_os_error() {
                Some(0) | None => Ok(()),
                Some(_) => Err(e),
            };
        }
        // SAFETY: a non-null entry from readdir is valid until the next call on `stream`, and
        // `d_name` is NUL-terminated.
        let (name, kind) = unsafe {
            (
                CStr::from_ptr((*entry).d_name.as_ptr()).to_bytes(),
                (*entry).d_type,
            )
        };
        if name != b"." && name != b".." {
            out.push(Entry {
                name: OsStr::from_bytes(name).to_os_string(),
                kind,
            });
        }
    };
    // SAFETY: closes `stream` and the copy it owns.
    unsafe { libc::closedir(stream) };
    result?;
    out.sort_unstable_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

/// Makes a FIFO at `path`, for tests that plant one where a file is expected.
#[cfg(test)]
pub fn make_fifo(path: &std::path::Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path");
    // SAFETY: `name` is a valid C string.
    assert_eq!(
        unsafe { libc::mkfifo(name.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}
