//! Walking a root: which files are music, which entries are hidden, and which parts of the tree
//! could not be read. Only `stat` happens here; no file is opened (folders are opened to list
//! them).
//!
//! The walk goes one folder at a time through open folder handles: each folder is listed once,
//! and each name is looked at relative to its folder (`fstatat`), so the kernel never walks the
//! whole path again for every file. Names come in byte order, folders depth first.
//!
//! Symbolic links are followed (libraries often link in folders from other drives); a folder
//! that is one of its own ancestors (by device and inode) is a loop, which becomes a problem
//! record instead of an endless walk. FIFOs, sockets and devices are never opened, even when
//! their names end in `.mp3`.
//!
//! A folder that tapedeck writes into (a `convert --to` or `export --to` target) holds a
//! [`TARGET_MARKER`] folder at its top. Its files are copies of the library, not sources, so it
//! is skipped whole unless the caller asks for targets.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::fsat;
use crate::model::{is_hidden_name, is_music_name};

/// A music file found by the walk, with the facts that decide whether it must be read.
#[derive(Debug, Clone)]
pub struct SeenFile {
    pub path: PathBuf,
    pub size: i64,
    pub mtime: i64,
}

/// Something under a root that cannot be indexed, found without opening any file.
#[derive(Debug, Clone)]
pub struct WalkProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// The folder convert and export keep at the top of a folder they write into.
pub const TARGET_MARKER: &str = crate::target::DIR;

/// Whether an open folder, whose names are listed, is one tapedeck writes into: it holds a
/// [`TARGET_MARKER`] folder.
fn holds_marker(dir: &OwnedFd, names: &[fsat::Entry]) -> bool {
    let listed = names
        .iter()
        .any(|e| e.name.as_bytes() == TARGET_MARKER.as_bytes());
    let marker = CString::new(TARGET_MARKER).expect("no NUL in the marker's name");
    listed && fsat::fstatat(dir.as_raw_fd(), &marker).is_ok_and(|st| fsat::is_dir(&st))
}

#[derive(Debug, Default)]
pub struct Walked {
    pub files: Vec<SeenFile>,
    /// Hidden files and folders skipped (a skipped folder counts once).
    pub hidden: u64,
    /// Folders skipped because tapedeck writes into them (they hold a [`TARGET_MARKER`]).
    pub targets: Vec<PathBuf>,
    pub problems: Vec<WalkProblem>,
    /// Paths whose contents could not be listed: what the library knows under them is kept.
    pub unreadable: Vec<PathBuf>,
}

/// Modification time in nanoseconds since the epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// A folder being walked: its handle, its path, what is left of its names, and its identity
/// (for telling a loop).
struct Level {
    fd: OwnedFd,
    path: PathBuf,
    names: std::vec::IntoIter<fsat::Entry>,
    id: (u64, u64),
}

/// Walks one root. `seen` is called with the running count of music files found. `take` is
/// offered each music file as it is found: it keeps the ones it wants handled now (a file the
/// library does not know yet goes straight to the readers) and hands back the rest, which are
/// `stat`ed and listed in `out.files`.
pub fn walk(
    root: &Path,
    include_hidden: bool,
    include_targets: bool,
    out: &mut Walked,
    mut seen: impl FnMut(usize),
    mut take: impl FnMut(PathBuf) -> Option<PathBuf>,
) {
    let mut found = 0usize;
    let mut stack: Vec<Level> = Vec::new();
    // The root: opened by its path (links followed), then everything below through handles.
    match CString::new(root.as_os_str().as_bytes()) {
        Ok(c) => {
            if let Some(level) = enter(
                fsat::openat(libc::AT_FDCWD, &c, DIR_FLAGS, 0),
                root.to_path_buf(),
                &stack,
                include_targets,
                out,
            ) {
                stack.push(level);
            }
        }
        Err(_) => folder_problem(out, root.to_path_buf(), &invalid_name()),
    }
    while let Some(top) = stack.last_mut() {
        let Some(entry) = top.names.next() else {
            stack.pop();
            continue;
        };
        let name = entry.name.as_bytes();
        if !include_hidden && is_hidden_name(name) {
            out.hidden += 1;
            continue;
        }
        // Most names in a music folder that are not music are plain files (covers, logs).
        if entry.kind == libc::DT_REG && !is_music_name(name) {
            continue;
        }
        let dir = top.fd.as_raw_fd();
        let path = top.path.join(&entry.name);
        let c = CString::new(name).expect("a listed name holds no NUL");
        // What the entry is, following a link (and asking when the listing does not say).
        let mut followed: Option<std::io::Result<libc::stat>> = None;
        let is_dir = match entry.kind {
            libc::DT_DIR => true,
            libc::DT_REG => false,
            libc::DT_LNK | libc::DT_UNKNOWN => {
                let st = fsat::fstatat_following(dir, &c);
                let is_dir = st.as_ref().is_ok_and(fsat::is_dir);
                followed = Some(st);
                is_dir
            }
            _ => false,
        };
        if is_dir {
            let opened = fsat::openat(dir, &c, DIR_FLAGS, 0);
            if let Some(level) = enter(opened, path, &stack, include_targets, out) {
                stack.push(level);
            }
            continue;
        }
        if !is_music_name(name) {
            continue;
        }
        let st = match followed {
            Some(Ok(st)) => Some(st),
            Some(Err(e)) => {
                if entry.kind == libc::DT_LNK || is_link(&path) {
                    out.unreadable.push(path.clone());
                    out.problems.push(WalkProblem {
                        path,
                        reason: "broken symbolic link".into(),
                    });
                } else {
                    cannot_read(out, path, &e);
                }
                continue;
            }
            None => None,
        };
        let regular = match &st {
            Some(st) => st.st_mode & libc::S_IFMT == libc::S_IFREG,
            None => entry.kind == libc::DT_REG,
        };
        if !regular {
            let kind =
                std::fs::metadata(&path).map_or("not a regular file", |m| kind_of(&m.file_type()));
            out.problems.push(WalkProblem {
                path,
                reason: format!("not a regular file: {kind}"),
            });
            continue;
        }
        found += 1;
        seen(found);
        let Some(path) = take(path) else {
            continue;
        };
        // Size and time decide whether a known file must be read again: most of a no-change
        // rescan is this `stat`, made relative to the open folder.
        let st = match st {
            Some(st) => Ok(st),
            None => fsat::fstatat_following(dir, &c),
        };
        match st {
            Ok(st) => {
                out.files.push(SeenFile {
                    path,
                    size: st.st_size,
                    mtime: fsat::mtime_ns(&st),
                });
            }
            Err(e) => cannot_read(out, path, &e),
        }
    }
}

/// Folders are opened to be listed; `O_DIRECTORY` follows a link to a folder and refuses
/// anything else.
const DIR_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK;

/// A folder just opened, made ready to walk: `None` (with the reason recorded) when it cannot
/// be listed, is a loop back to an ancestor, or is a target folder to skip.
fn enter(
    opened: std::io::Result<OwnedFd>,
    path: PathBuf,
    stack: &[Level],
    include_targets: bool,
    out: &mut Walked,
) -> Option<Level> {
    let fd = match opened {
        Ok(fd) => fd,
        Err(e) => {
            folder_problem(out, path, &e);
            return None;
        }
    };
    let id = match fsat::fstat(fd.as_raw_fd()) {
        Ok(st) => (st.st_dev, st.st_ino),
        Err(e) => {
            folder_problem(out, path, &e);
            return None;
        }
    };
    if let Some(ancestor) = stack.iter().find(|l| l.id == id) {
        out.unreadable.push(path.clone());
        out.problems.push(WalkProblem {
            path,
            reason: format!("symbolic link loop back to {}", ancestor.path.display()),
        });
        return None;
    }
    let names = match fsat::list(&fd) {
        Ok(names) => names,
        Err(e) => {
            folder_problem(out, path, &e);
            return None;
        }
    };
    if !include_targets && holds_marker(&fd, &names) {
        out.targets.push(path);
        return None;
    }
    Some(Level {
        fd,
        path,
        names: names.into_iter(),
        id,
    })
}

fn invalid_name() -> std::io::Error {
    std::io::Error::from(std::io::ErrorKind::InvalidInput)
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A folder that could not be opened or listed: what the library knows under it is kept.
fn folder_problem(out: &mut Walked, path: PathBuf, e: &std::io::Error) {
    let reason = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() && std::fs::metadata(&path).is_err() => {
            "broken symbolic link".to_string()
        }
        Ok(m) if m.is_dir() || m.file_type().is_symlink() => {
            format!("cannot read folder: {}", io_reason(e))
        }
        _ => format!("cannot read: {}", io_reason(e)),
    };
    out.unreadable.push(path.clone());
    out.problems.push(WalkProblem { path, reason });
}

fn cannot_read(out: &mut Walked, path: PathBuf, e: &std::io::Error) {
    out.unreadable.push(path.clone());
    out.problems.push(WalkProblem {
        path,
        reason: format!("cannot read: {}", io_reason(e)),
    });
}

/// What a file type is, in words: "a named pipe (FIFO)", "a socket", "a device", "a folder".
pub fn kind_of(ft: &std::fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "a named pipe (FIFO)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else if ft.is_dir() {
        "a folder"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// An I/O error in lowercase words without the "(os error 13)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        PermissionDenied => "permission denied".into(),
        NotFound => "not found".into(),
        _ => {
            let text = e.to_string();
            let text = match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            };
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn walks_in_name_order_following_links_and_naming_what_it_skips() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("music");
        let mk = |p: &str| {
            let p = root.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"x").unwrap();
        };
        mk("b/02.flac");
        mk("b/01.mp3");
        mk("a/z.wav");
        mk("a/cover.jpg");
        mk(".hidden/01.flac");
        mk("b/.partial.flac");
        mk("export/.tapedeck/manifest.json");
        mk("export/01.mp3");
        symlink(&root, root.join("a/loop")).unwrap();
        symlink(root.join("b/01.mp3"), root.join("c.mp3")).unwrap();
        symlink(root.join("nowhere.flac"), root.join("d.flac")).unwrap();
        fsat::make_fifo(&root.join("e.mp3"));

        let mut out = Walked::default();
        let mut counted = 0;
        walk(&root, false, false, &mut out, |n| counted = n, Some);
        let rel = |p: &Path| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        let files: Vec<String> = out.files.iter().map(|f| rel(&f.path)).collect();
        assert_eq!(files, ["a/z.wav", "b/01.mp3", "b/02.flac", "c.mp3"]);
        assert_eq!(counted, 4);
        assert!(out.files.iter().all(|f| f.size == 1 && f.mtime > 0));
        assert_eq!(out.hidden, 2);
        assert_eq!(out.targets, [root.join("export")]);
        let problems: Vec<(String, String)> = out
            .problems
            .iter()
            .map(|p| (rel(&p.path), p.reason.clone()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "a/loop".to_string(),
                    format!("symbolic link loop back to {}", root.display())
                ),
                ("d.flac".to_string(), "broken symbolic link".to_string()),
                (
                    "e.mp3".to_string(),
                    "not a regular file: a named pipe (FIFO)".to_string()
                ),
            ]
        );
        // What could not be looked into keeps what the library knows there.
        assert_eq!(out.unreadable, [root.join("a/loop"), root.join("d.flac")]);

        // With hidden entries and targets asked for, both are walked; a file `take` keeps is
        // not listed.
        let mut out = Walked::default();
        walk(
            &root,
            true,
            true,
            &mut out,
            |_| {},
            |p| (!p.ends_with("02.flac")).then_some(p),
        );
        let files: Vec<String> = out.files.iter().map(|f| rel(&f.path)).collect();
        assert_eq!(
            files,
            [
                ".hidden/01.flac",
                "a/z.wav",
                "b/.partial.flac",
                "b/01.mp3",
                "c.mp3",
                "export/01.mp3"
            ]
        );
        assert_eq!((out.hidden, out.targets.len()), (0, 0));
    }
}
