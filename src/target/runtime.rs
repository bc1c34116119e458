//! The player service's runtime folder and its socket: a folder only the user can enter
//! (created with mode 0700, refused when it is a link, someone else's, or open to others), and
//! the socket bound in it. A stale socket left by a service that ended is replaced; anything
//! else at the socket's name (a file, a link, a folder) is never touched.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::Error;

/// Makes `path` (its parent must exist) a folder only the user can enter, or checks that it is
/// one already.
pub fn private_folder(path: &Path) -> Result<(), Error> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.file_type().is_symlink() {
        return Err(Error::Link {
            path: path.to_path_buf(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: io::Error::other("not a folder of yours"),
        });
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Binds the socket at `path`. A socket already there is replaced only when nothing answers on
/// it (a service that ended without removing it); one that answers is [`Error::Busy`].
pub fn bind_socket(path: &Path) -> Result<UnixListener, Error> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(Error::Busy {
                    root: path.to_path_buf(),
                });
            }
            fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        }
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(Error::Link {
                path: path.to_path_buf(),
            });
        }
        Ok(_) => {
            return Err(Error::Exists {
                path: path.to_path_buf(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(path, e)),
    }
    UnixListener::bind(path).map_err(|e| Error::io(path, e))
}

/// Removes the socket this service bound (only if it is still a socket).
pub fn remove_socket(path: &Path) {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = fs::remove_file(path);
    }
}

/// The folder sockets live in: `$XDG_RUNTIME_DIR/tapedeck`, else a folder of the user's own in
/// the temporary folder.
pub fn default_folder() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("tapedeck"),
        None => {
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            std::env::temp_dir().join(format!("tapedeck-{uid}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_private_and_never_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        private_folder(&run).unwrap();
        let mode = fs::metadata(&run).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // Opened up by someone: closed again.
        fs::set_permissions(&run, fs::Permissions::from_mode(0o755)).unwrap();
        private_folder(&run).unwrap();
        assert_eq!(
            fs::metadata(&run).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&run, &link).unwrap();
        assert!(matches!(private_folder(&link), Err(Error::Link { .. })));
    }

    #[test]
    fn a_socket_replaces_only_a_dead_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("socket");
        let live = bind_socket(&sock).unwrap();
        assert!(matches!(bind_socket(&sock), Err(Error::Busy { .. })));
        drop(live);
        // Dead now: replaced.
        let _again = bind_socket(&sock).unwrap();
        // A file or a link at the name is left alone.
        let file = dir.path().join("file");
        fs::write(&file, b"mine").unwrap();
        assert!(matches!(bind_socket(&file), Err(Error::Exists { .. })));
        assert_eq!(fs::read(&file).unwrap(), b"mine");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(bind_socket(&link), Err(Error::Link { .. })));
        remove_socket(&file);
        assert!(file.exists(), "only sockets are removed");
    }
}
