//! Paths beneath a target: relative, `/`-separated, every component a plain name (no `.`, `..`,
//! empty part, NUL or leading `/`). Pure: any text (a manifest key, a journal line, a rendered
//! template) becomes a `RelPath` only by passing [`RelPath::parse`], so a path that could leave
//! the target's root never reaches a file-system call.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// The longest name most file systems take for one component, in bytes.
pub const NAME_MAX: usize = 255;

/// A checked path beneath a target's root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RelPath(String);

/// Why a text is not a path beneath the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a path beneath the target ({why})")]
pub struct BadPath {
    pub text: String,
    pub why: &'static str,
}

impl RelPath {
    /// Checks `text` (`/`-separated) and returns it as a path beneath the root.
    pub fn parse(text: &str) -> Result<RelPath, BadPath> {
        let bad = |why| {
            Err(BadPath {
                text: text.to_string(),
                why,
            })
        };
        if text.is_empty() {
            return bad("empty");
        }
        if text.starts_with('/') {
            return bad("absolute");
        }
        if text.contains('\0') {
            return bad("holds a NUL byte");
        }
        if text.contains('\\') && cfg!(windows) {
            return bad("holds a backslash");
        }
        for part in text.split('/') {
            match part {
                "" => return bad("empty component"),
                "." | ".." => return bad("`.` or `..` component"),
                p if p.len() > NAME_MAX => return bad("a component longer than 255 bytes"),
                _ => {}
            }
        }
        Ok(RelPath(text.to_string()))
    }

    /// Checks a relative `Path` (from a planner) the same way.
    pub fn from_path(p: &Path) -> Result<RelPath, BadPath> {
        let mut parts = Vec::new();
        for c in p.components() {
            match c {
                Component::Normal(s) => match s.to_str() {
                    Some(s) => parts.push(s),
                    None => {
                        return Err(BadPath {
                            text: p.to_string_lossy().into_owned(),
                            why: "not UTF-8",
                        });
                    }
                },
                _ => {
                    return Err(BadPath {
                        text: p.to_string_lossy().into_owned(),
                        why: "not a plain relative path",
                    });
                }
            }
        }
        RelPath::parse(&parts.join("/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components, first to last.
    pub fn parts(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The folder holding this path (`None` at the top).
    pub fn parent(&self) -> Option<RelPath> {
        self.0.rsplit_once('/').map(|(d, _)| RelPath(d.to_string()))
    }

    /// The last component.
    pub fn name(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, n)| n)
    }

    /// A child of this folder (`name` must be one plain component).
    pub fn join(&self, name: &str) -> Result<RelPath, BadPath> {
        RelPath::parse(&format!("{}/{name}", self.0))
    }

    /// Whether this path is `other` or beneath it.
    pub fn starts_with(&self, other: &RelPath) -> bool {
        self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    pub fn to_path_buf(&self) -> PathBuf {
        PathBuf::from(&self.0)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_paths_and_refuses_the_rest() {
        for ok in [
            "a",
            "A/B/01 x.mp3",
            ".tapedeck/tmp/1",
            "a b/..c",
            "...",
            "é/ü",
        ] {
            assert_eq!(RelPath::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "/etc/passwd",
            "../victim/taxes.txt",
            "a/../../b",
            "a//b",
            "a/",
            "./a",
            "a/.",
            "a\0b",
        ] {
            assert!(RelPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(RelPath::parse(&"x".repeat(256)).is_err());
        assert!(RelPath::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn from_path_and_relations() {
        let p = RelPath::from_path(Path::new("A/B/c.mp3")).unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "A/B");
        assert_eq!(p.name(), "c.mp3");
        assert!(p.starts_with(&RelPath::parse("A").unwrap()));
        assert!(!p.starts_with(&RelPath::parse("A/Bx").unwrap()));
        assert!(RelPath::from_path(Path::new("/abs")).is_err());
        assert!(RelPath::from_path(Path::new("a/../b")).is_err());
        assert!(RelPath::parse("a").unwrap().parent().is_none());
    }
}
