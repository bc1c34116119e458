//! `tapedeck completions SHELL`: clap_complete's script, which offers every fixed value clap
//! knows (formats, ReplayGain modes, the built-in profiles), with playlist names added for
//! bash, zsh and fish. Those change as the library does, so the script asks the binary for
//! them when completing (`tapedeck playlist ls --names`): after `-p`/`--playlist` in every
//! shell, and for the playlist argument of `playlist add|rm|move|show|rename|delete|export`
//! in bash and fish (zsh's script names positionals by their id, which gives nothing to hook).

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use super::{Args, Shell};

/// The subcommands of `playlist` whose first argument is an existing playlist.
const TAKES_PLAYLIST: &str = "add rm move show rename delete export";

const BASH: &str = r#"
# Playlist names come from the library when completing.
_tapedeck_playlists() {
    local name
    COMPREPLY=()
    while IFS= read -r name; do
        [[ "$name" == "$1"* ]] && COMPREPLY+=("$(printf '%q' "$name")")
    done < <(command tapedeck playlist ls --names 2>/dev/null)
}

_tapedeck_with_playlists() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    if [[ "$prev" == -p || "$prev" == --playlist ]] ||
        [[ "${COMP_WORDS[1]}" == playlist && $COMP_CWORD -eq 3 &&
            " @TAKES@ " == *" ${COMP_WORDS[2]} "* ]]; then
        _tapedeck_playlists "$cur"
        return 0
    fi
    _tapedeck "$@"
}
"#;

const ZSH: &str = r#"
# Playlist names come from the library when completing.
_tapedeck_playlists() {
    local -a names
    names=("${(@f)$(command tapedeck playlist ls --names 2>/dev/null)}")
    compadd -a names
}
"#;

const FISH_NAMES: &str = "(command tapedeck playlist ls --names 2>/dev/null)";

/// The script for `shell`.
pub fn script(shell: Shell) -> Result<String> {
    let mut cmd = Args::command();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Elvish => clap_complete::Shell::Elvish,
        Shell::Powershell => clap_complete::Shell::PowerShell,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut cmd, "tapedeck", &mut buf);
    let text = String::from_utf8(buf)?;
    Ok(match shell {
        Shell::Bash => with_bash_playlists(&text),
        Shell::Zsh => with_zsh_playlists(&text),
        Shell::Fish => with_fish_playlists(&text),
        Shell::Elvish | Shell::Powershell => text,
    })
}

fn with_bash_playlists(text: &str) -> String {
    let mut out = text.replace(
        "complete -F _tapedeck ",
        "complete -F _tapedeck_with_playlists ",
    );
    out.push_str(&BASH.replace("@TAKES@", TAKES_PLAYLIST));
    out
}

fn with_zsh_playlists(text: &str) -> String {
    let hooked = text.replace(":PLAYLIST:_default'", ":PLAYLIST:_tapedeck_playlists'");
    // After the `#compdef` line, which must stay first.
    match hooked.split_once('\n') {
        Some((first, rest)) => format!("{first}\n{ZSH}{rest}"),
        None => hooked,
    }
}

fn with_fish_playlists(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4096);
    for line in text.lines() {
        out.push_str(line);
        if line.contains(" -l playlist ") && line.ends_with(" -r") {
            out.push_str(&format!(" -f -a \"{FISH_NAMES}\""));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "complete -c tapedeck -n \"__fish_tapedeck_using_subcommand playlist; and \
         __fish_seen_subcommand_from {TAKES_PLAYLIST}\" -f -a \"{FISH_NAMES}\"\n"
    ));
    out
}

pub fn run(shell: Shell, out: &mut dyn Write) -> Result<()> {
    out.write_all(script(shell)?.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_playlist_option_is_hooked() {
        let bash = script(Shell::Bash).unwrap();
        assert!(bash.contains("complete -F _tapedeck_with_playlists "));
        assert!(!bash.contains("complete -F _tapedeck "));
        let zsh = script(Shell::Zsh).unwrap();
        assert!(zsh.starts_with("#compdef tapedeck\n"));
        assert!(!zsh.contains(":PLAYLIST:_default"), "every -p is hooked");
        assert!(zsh.matches(":PLAYLIST:_tapedeck_playlists").count() >= 20);
        let fish = script(Shell::Fish).unwrap();
        for line in fish.lines().filter(|l| l.contains(" -l playlist ")) {
            assert!(line.ends_with(&format!("-a \"{FISH_NAMES}\"")), "{line}");
        }
    }
}
