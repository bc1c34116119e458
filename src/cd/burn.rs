//! The burners' command lines and what they say about a medium. Pure: the command line runs
//! them (`cdrdao` for audio, with CD-TEXT from the TOC; `xorriso` for data discs) and gives
//! their output here.

use std::ffi::OsString;
use std::path::Path;

/// A program and its arguments, run in `dir` (the image's folder: the TOC names its `.bin`
/// relative to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: &'static str,
    pub args: Vec<OsString>,
}

impl Command {
    /// The line as a shell would take it (for messages and `--dry-run`).
    pub fn shell_line(&self) -> String {
        let mut words = vec![self.program.to_string()];
        for a in &self.args {
            let a = a.to_string_lossy();
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+".contains(&b))
            {
                words.push(a.into_owned());
            } else {
                words.push(format!("'{}'", a.replace('\'', "'\\''")));
            }
        }
        words.join(" ")
    }
}

/// Asks the drive how many sectors the medium in it can take.
pub fn media_space(device: &str) -> Command {
    Command {
        program: "xorriso",
        args: ["-outdev", device, "-tell_media_space"]
            .map(OsString::from)
            .to_vec(),
    }
}

/// Burns an audio image from its TOC in disc-at-once mode, with CD-TEXT. The `.bin` is
/// little-endian, so `--swap`; `-n` skips cdrdao's 10-second pause; the tray opens at the end.
pub fn audio(device: &str, toc: &Path) -> Command {
    let mut args: Vec<OsString> = ["write", "--device", device, "--swap", "-n", "--eject"]
        .map(OsString::from)
        .to_vec();
    args.push(toc.as_os_str().to_owned());
    Command {
        program: "cdrdao",
        args,
    }
}

/// Burns an ISO 9660 image (an MP3 CD) in one closed session.
pub fn data(device: &str, iso: &Path) -> Command {
    let mut args: Vec<OsString> = ["-as", "cdrecord", "-v", "-eject", "-dao"]
        .map(OsString::from)
        .to_vec();
    args.push(format!("dev={device}").into());
    args.push(iso.as_os_str().to_owned());
    Command {
        program: "xorriso",
        args,
    }
}

/// The free sectors in `xorriso -tell_media_space`'s output (`Media space  : 359844s`).
pub fn parse_media_space(output: &str) -> Option<u64> {
    output.lines().find_map(|l| {
        let rest = l.strip_prefix("Media space")?;
        let value = rest.trim_start().strip_prefix(':')?.trim();
        value.strip_suffix('s')?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let cases = [
            (
                audio("/dev/sr0", Path::new("Mix.toc")),
                "cdrdao write --device /dev/sr0 --swap -n --eject Mix.toc",
            ),
            (
                audio("/dev/sr1", Path::new("It's live.toc")),
                "cdrdao write --device /dev/sr1 --swap -n --eject 'It'\\''s live.toc'",
            ),
            (
                data("/dev/sr0", Path::new("/tmp/car.iso")),
                "xorriso -as cdrecord -v -eject -dao dev=/dev/sr0 /tmp/car.iso",
            ),
            (
                media_space("/dev/sr0"),
                "xorriso -outdev /dev/sr0 -tell_media_space",
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.shell_line(), want);
        }
    }

    #[test]
    fn media_space_is_read_from_xorriso() {
        let cases = [
            (
                "Media current: CD-R\nMedia status : is blank\nMedia space  : 359844s\nAfter commit : 359844s\n",
                Some(359_844),
            ),
            ("Media space  : 17052726s\n", Some(17_052_726)),
            (
                "xorriso : FAILURE : Cannot acquire drive '/dev/sr0'\n",
                None,
            ),
            ("Media space  : lots\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_media_space(text), want, "{text:?}");
        }
    }
}
