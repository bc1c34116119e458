//! MP3 CD images: an ISO 9660 image with Joliet and Rock Ridge names, made by xorriso from a
//! finished folder tree and streamed into the target under a hidden name, renamed into place
//! only when complete and within the size limit.
//!
//! ISO 9660 and Joliet keep each folder's directory records sorted by name, so the play order a
//! head unit reads from them is the names' order: the tree's file names start with their
//! zero-padded track numbers (the car profiles' template), which keeps an album in play order.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::names::{self, Charset, NameRules};
use crate::target::{self, RelPath, Target};

use super::burn;

/// Bytes in a data sector.
pub const SECTOR_BYTES: u64 = 2048;

/// The head-unit limits most car stereo manuals state for MP3 discs (and ISO 9660's depth):
/// files per folder, folders, files, folder depth, and Joliet's 64-character names.
pub const FILES_PER_FOLDER: usize = 255;
pub const MAX_FOLDERS: usize = 255;
pub const MAX_FILES: usize = 999;
pub const MAX_DEPTH: usize = 8;
pub const MAX_NAME: usize = 64;

/// A volume identifier for `title`: ISO 9660's d-characters (`A-Z 0-9 _`), at most 32.
pub fn volume_id(title: &str) -> String {
    let rules = NameRules {
        charset: Charset::Ascii,
        max_name: 32,
        max_path: 32,
    };
    let id: String = names::component(title, &rules)
        .to_ascii_uppercase()
        .chars()
        .take(32)
        .collect();
    if id == "_" { "MP3_CD".into() } else { id }
}

/// xorriso writing the image of `tree` to its standard output (tapedeck's own `.tapedeck`
/// folder left out).
pub fn build_command(tree: &Path, volid: &str) -> burn::Command {
    let mut args: Vec<std::ffi::OsString> = [
        // Writing to standard output must be the first thing asked.
        "-outdev",
        "-",
        "-no_rc",
        "-abort_on",
        "FAILURE",
        "-report_about",
        "SORRY",
        "-joliet",
        "on",
        "-volid",
        volid,
        "-not_leaf",
        ".tapedeck",
        "-map",
    ]
    .map(Into::into)
    .to_vec();
    args.push(tree.as_os_str().to_owned());
    args.extend(["/", "-commit"].map(Into::into));
    burn::Command {
        program: "xorriso",
        args,
    }
}

/// Why an image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IsoError {
    #[error("cannot run xorriso: {0}")]
    Spawn(std::io::Error),
    #[error("xorriso failed: {0}")]
    Failed(String),
    #[error("the image is {size} bytes, more than the {limit} allowed (--size); nothing was kept")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Target(#[from] target::Error),
}

/// Makes `name` in `target`: the image of `tree`, at most `limit` bytes. Returns its size.
pub fn write(
    target: &Target,
    name: &str,
    tree: &Path,
    volid: &str,
    limit: u64,
) -> Result<u64, IsoError> {
    let rel = RelPath::parse(name).map_err(target::Error::from)?;
    if target.meta(&rel)?.is_some() {
        return Err(target::Error::Exists {
            path: target.display(&rel),
        }
        .into());
    }
    let tmp = target.temp_name(&rel)?;
    let mut file = target.create_new(&tmp)?;
    let shown = target.display(&rel);
    let result = (|| {
        let cmd = build_command(tree, volid);
        let mut child = Command::new(cmd.program)
            .args(&cmd.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(IsoError::Spawn)?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let copied = std::io::copy(&mut stdout, &mut file);
        let status = child.wait().map_err(IsoError::Spawn)?;
        let text = errors.join().unwrap_or_default();
        let size = copied.map_err(|e| target::Error::io(&shown, e))?;
        if !status.success() {
            let last = text
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .to_string();
            return Err(IsoError::Failed(format!("{status}: {last}")));
        }
        if size > limit {
            return Err(IsoError::TooLarge { size, limit });
        }
        file.flush()
            .and_then(|_| file.sync_all())
            .map_err(|e| target::Error::io(&shown, e))?;
        target.rename(&tmp, &rel, false)?;
        Ok(size)
    })();
    if result.is_err() {
        let _ = target.remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_ids() {
        let cases = [
            ("Road Trip", "ROAD_TRIP"),
            ("Björk: Début", "BJORK_DEBUT"),
            ("東京", "DONG_JING"),
            ("", "MP3_CD"),
            (
                "A very long title for a disc that goes on",
                "A_VERY_LONG_TITLE_FOR_A_DISC_THA",
            ),
        ];
        for (title, want) in cases {
            assert_eq!(volume_id(title), want, "{title:?}");
        }
    }

    #[test]
    fn xorriso_command_line() {
        let c = build_command(Path::new("/tmp/tree"), "ROAD_TRIP");
        assert_eq!(
            c.shell_line(),
            "xorriso -outdev - -no_rc -abort_on FAILURE -report_about SORRY -joliet on \
             -volid ROAD_TRIP -not_leaf .tapedeck -map /tmp/tree / -commit"
        );
    }
}
