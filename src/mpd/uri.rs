//! Song and folder URIs: paths relative to the library roots, under one virtual top folder per
//! root.
//!
//! MPD has one music directory; tapedeck has several roots. Each root shows as a folder at the
//! top named after its last path component; when two roots share that name, the later ones
//! (in root order) are named `name (2)`, `name (3)`... A URI is that folder's name and the
//! path below the root, joined with `/`. Only UTF-8 paths have a URI (the protocol is UTF-8),
//! and, as in MPD's update, no name holding a line break. A URI a client sends is checked
//! before it becomes a path: no absolute URI, no `.`, `..` or empty parts, no NUL.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Why a URI does not name a place under the roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// The URI is empty: the top folder, which is not a path.
    Top,
    /// The URI starts with `/`.
    Absolute,
    /// A part is empty, `.` or `..`.
    BadPart,
    /// The URI holds a NUL byte.
    Nul,
    /// The first part names no root.
    UnknownRoot,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::Top => "the top folder is not a file",
            UriError::Absolute | UriError::BadPart | UriError::Nul => "Malformed URI",
            UriError::UnknownRoot => "No such directory",
        })
    }
}

impl std::error::Error for UriError {}

/// What a folder URI names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder {
    /// The top: one folder per root (their names are [`Roots::names`]).
    Top,
    /// A folder (or file) on disk.
    Dir(PathBuf),
}

/// The library roots and their virtual folder names.
#[derive(Debug, Clone)]
pub struct Roots {
    roots: Vec<(String, PathBuf)>,
}

impl Roots {
    pub fn new(roots: &[PathBuf]) -> Roots {
        let mut named: Vec<(String, PathBuf)> = Vec::new();
        for root in roots {
            let base = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| !n.is_empty() && !n.contains(['/', '\n']))
                .unwrap_or_else(|| "root".to_string());
            let mut name = base.clone();
            let mut n = 1;
            while named.iter().any(|(used, _)| *used == name) {
                n += 1;
                name = format!("{base} ({n})");
            }
            named.push((name, root.clone()));
        }
        Roots { roots: named }
    }

    /// Each root's virtual name and path, in root order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.roots.iter().map(|(n, p)| (n.as_str(), p.as_path()))
    }

    /// The top folder's entries, in root order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roots.iter().map(|(n, _)| n.as_str())
    }

    /// The URI of a path under a root (the innermost root when roots nest); `None` when it is
    /// under none, or a part of it below the root is not UTF-8 or holds a line break.
    pub fn uri_of(&self, path: &Path) -> Option<String> {
        // The common case, a plain UTF-8 path under one root, without walking components.
        if let Some(text) = path.to_str()
            && let Some(uri) = self.fast_uri(text)
        {
            return Some(uri);
        }
        self.uri_by_components(path)
    }

    /// The URI of a UTF-8 path made only of plain parts (no `.`, `..`, empty parts or line
    /// breaks) under exactly one root; `None` sends the path the slow way.
    fn fast_uri(&self, text: &str) -> Option<String> {
        if text.contains("//") || text.contains('\n') || text.ends_with('/') {
            return None;
        }
        let mut found = None;
        for (name, root) in &self.roots {
            let root = root.to_str()?;
            let Some(rest) = text.strip_prefix(root).and_then(|r| r.strip_prefix('/')) else {
                continue;
            };
            if found.is_some() {
                // Nested roots: the innermost is found the slow way.
                return None;
            }
            found = Some((name, rest));
        }
        let (name, rest) = found?;
        if rest.is_empty() || rest.split('/').any(|p| p == "." || p == "..") {
            return None;
        }
        let mut uri = String::with_capacity(name.len() + 1 + rest.len());
        uri.push_str(name);
        uri.push('/');
        uri.push_str(rest);
        Some(uri)
    }

    fn uri_by_components(&self, path: &Path) -> Option<String> {
        let (name, rel) = self
            .roots
            .iter()
            .filter_map(|(name, root)| path.strip_prefix(root).ok().map(|rel| (name, rel)))
            .min_by_key(|(_, rel)| rel.components().count())?;
        let mut uri = name.clone();
        for c in rel.components() {
            let Component::Normal(part) = c else {
                return None;
            };
            let part = part.to_str()?;
            if part.contains('\n') {
                return None;
            }
            uri.push('/');
            uri.push_str(part);
        }
        Some(uri)
    }

    /// The path a URI names (a song or a folder).
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, UriError> {
        if uri.is_empty() {
            return Err(UriError::Top);
        }
        if uri.starts_with('/') {
            return Err(UriError::Absolute);
        }
        if uri.contains('\0') {
            return Err(UriError::Nul);
        }
        if uri
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(UriError::BadPart);
        }
        let mut parts = uri.split('/');
        let first = parts.next().unwrap_or_default();
        let mut path = self
            .roots
            .iter()
            .find(|(name, _)| name == first)
            .map(|(_, root)| root.clone())
            .ok_or(UriError::UnknownRoot)?;
        path.extend(parts);
        Ok(path)
    }

    /// What a folder URI (`lsinfo`, `listall`, `base`) names: `""` (or `/`, as MPD allows for
    /// `lsinfo`) is the top.
    pub fn folder_of(&self, uri: &str) -> Result<Folder, UriError> {
        if uri.is_empty() || uri == "/" {
            return Ok(Folder::Top);
        }
        self.path_of(uri).map(Folder::Dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    fn roots() -> Roots {
        Roots::new(&[
            PathBuf::from("/home/u/Music"),
            PathBuf::from("/mnt/nas/Music"),
            PathBuf::from("/media/Vinyl rips"),
            PathBuf::from("/srv/Music"),
            PathBuf::from("/home/u/Music/Live"),
        ])
    }

    #[test]
    fn roots_get_their_last_component_numbered_when_shared() {
        let r = roots();
        let names: Vec<&str> = r.names().collect();
        assert_eq!(
            names,
            ["Music", "Music (2)", "Vinyl rips", "Music (3)", "Live"]
        );
        let clash = Roots::new(&[
            PathBuf::from("/a/x (2)"),
            PathBuf::from("/b/x"),
            PathBuf::from("/c/x"),
            PathBuf::from("/"),
        ]);
        let names: Vec<&str> = clash.names().collect();
        assert_eq!(names, ["x (2)", "x", "x (3)", "root"]);
    }

    #[test]
    fn paths_become_uris() {
        let r = roots();
        let cases: &[(&str, Option<&str>)] = &[
            ("/home/u/Music/A/B/01 x.flac", Some("Music/A/B/01 x.flac")),
            ("/mnt/nas/Music/A/t.mp3", Some("Music (2)/A/t.mp3")),
            (
                "/media/Vinyl rips/Side A.flac",
                Some("Vinyl rips/Side A.flac"),
            ),
            ("/srv/Music/é/ü.m4a", Some("Music (3)/é/ü.m4a")),
            // The innermost root wins.
            ("/home/u/Music/Live/1999/a.flac", Some("Live/1999/a.flac")),
            ("/home/u/Music", Some("Music")),
            ("/home/u/Musical/a.flac", None),
            ("/elsewhere/a.flac", None),
            ("/home/u/Music/two\nlines.flac", None),
        ];
        for (path, want) in cases {
            assert_eq!(r.uri_of(Path::new(path)).as_deref(), *want, "{path:?}");
        }
        let bad = Path::new(OsStr::from_bytes(b"/home/u/Music/caf\xe9.flac"));
        assert_eq!(r.uri_of(bad), None);
    }

    #[test]
    fn uris_become_paths_and_bad_ones_are_refused() {
        let r = roots();
        let cases: &[(&str, Result<&str, UriError>)] = &[
            ("Music/A/B/01 x.flac", Ok("/home/u/Music/A/B/01 x.flac")),
            ("Music (2)/A", Ok("/mnt/nas/Music/A")),
            ("Music", Ok("/home/u/Music")),
            ("Live/x.flac", Ok("/home/u/Music/Live/x.flac")),
            ("", Err(UriError::Top)),
            ("/home/u/Music/a.flac", Err(UriError::Absolute)),
            ("Music/../etc/passwd", Err(UriError::BadPart)),
            ("Music/./a.flac", Err(UriError::BadPart)),
            ("Music//a.flac", Err(UriError::BadPart)),
            ("Music/A/", Err(UriError::BadPart)),
            ("Music/a\0b", Err(UriError::Nul)),
            ("..", Err(UriError::BadPart)),
            ("./Music", Err(UriError::BadPart)),
            ("Nope/a.flac", Err(UriError::UnknownRoot)),
            ("music/a.flac", Err(UriError::UnknownRoot)),
        ];
        for (uri, want) in cases {
            let got = r.path_of(uri);
            match want {
                Ok(p) => assert_eq!(got, Ok(PathBuf::from(p)), "{uri:?}"),
                Err(e) => assert_eq!(&got.unwrap_err(), e, "{uri:?}"),
            }
        }
    }

    #[test]
    fn every_uri_made_goes_back_to_its_path() {
        let r = roots();
        for p in [
            "/home/u/Music/A/B/01 x.flac",
            "/mnt/nas/Music/AC\u{2215}DC/t.mp3",
            "/srv/Music/a \"quoted\" name.flac",
            "/home/u/Music/Live",
        ] {
            let uri = r.uri_of(Path::new(p)).unwrap();
            assert_eq!(r.path_of(&uri).unwrap(), PathBuf::from(p), "{uri}");
        }
    }

    #[test]
    fn folders_name_the_top_or_a_path() {
        let r = roots();
        assert_eq!(r.folder_of(""), Ok(Folder::Top));
        assert_eq!(r.folder_of("/"), Ok(Folder::Top));
        assert_eq!(
            r.folder_of("Music (2)/A"),
            Ok(Folder::Dir(PathBuf::from("/mnt/nas/Music/A")))
        );
        assert_eq!(r.folder_of("Music/.."), Err(UriError::BadPart));
        assert_eq!(r.folder_of("//"), Err(UriError::Absolute));
    }

    #[test]
    fn the_quick_way_and_the_component_way_agree() {
        let r = roots();
        for path in [
            "/home/u/Music/a/b.flac",
            "/home/u/Music/Live/x.mp3",
            "/home/u/Musicals/x.mp3",
            "/home/u/Music",
            "/home/u/Music/",
            "/home/u/Music//a.flac",
            "/home/u/Music/./a.flac",
            "/home/u/Music/../a.flac",
            "/mnt/nas/Music/deep/er/song.m4a",
            "/media/Vinyl rips/Side A.wav",
            "/elsewhere/a.flac",
            "/home/u/Music/line\nbreak.flac",
        ] {
            let p = Path::new(path);
            let fast = r.fast_uri(path);
            if let Some(f) = &fast {
                assert_eq!(Some(f.clone()), r.uri_by_components(p), "{path}");
            }
            assert_eq!(r.uri_of(p), r.uri_by_components(p), "{path}");
        }
    }
}
