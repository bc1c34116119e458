//! Lock files beside the library (`library.db.scan-lock`, `library.db.serve-lock`): an advisory
//! lock held while the value lives and released by the OS however the process ends. The file
//! is never opened through a link, never blocks on a FIFO left at its name, and must be a
//! regular file; it is created when missing and its contents are never written.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct LockFile {
    _file: File,
}

impl LockFile {
    /// The lock file `suffix` of the library at `db_path`.
    pub fn path(db_path: &Path, suffix: &str) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Takes the lock, or `None` when another process holds it.
    pub fn try_acquire(db_path: &Path, suffix: &str) -> io::Result<Option<LockFile>> {
        let path = LockFile::path(db_path, suffix);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                path.display()
            )));
        }
        match file.try_lock() {
            Ok(()) => Ok(Some(LockFile { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_nothing_but_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("library.db");
        let held = LockFile::try_acquire(&db, "scan-lock").unwrap();
        assert!(held.is_some());
        assert!(LockFile::try_acquire(&db, "scan-lock").unwrap().is_none());
        drop(held);
        assert!(LockFile::try_acquire(&db, "scan-lock").unwrap().is_some());
        // A link at the name is not followed, and its target is left as it was.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"mine").unwrap();
        std::os::unix::fs::symlink(&victim, LockFile::path(&db, "serve-lock")).unwrap();
        assert!(LockFile::try_acquire(&db, "serve-lock").is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"mine");
        // A FIFO at the name is refused at once instead of blocking the open.
        let fifo = LockFile::path(&db, "other-lock");
        crate::fsat::make_fifo(&fifo);
        let (tx, rx) = std::sync::mpsc::channel();
        let db2 = db.clone();
        std::thread::spawn(move || {
            let _ = tx.send(LockFile::try_acquire(&db2, "other-lock").is_err());
        });
        let refused = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("opening a FIFO lock does not hang");
        assert!(refused);
    }
}
