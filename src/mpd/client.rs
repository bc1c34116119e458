//! A small MPD protocol client over the service's Unix socket: what the remote commands
//! (`tapedeck status`, `next`, `queue add`…) speak to a running `tapedeck serve`. Requests are
//! quoted as MPD expects; answers come back as key/value pairs, an `ACK` as a typed error.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error(
        "no player service is running (nothing answers on {0}); start one with `tapedeck serve`"
    )]
    NotRunning(PathBuf),
    /// The service answered with an error.
    #[error("{message}")]
    Ack { code: u32, message: String },
    #[error("the player service did not answer as expected: {0}")]
    Protocol(String),
    #[error("lost the connection to the player service: {0}")]
    Io(#[from] io::Error),
}

pub struct Client {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

/// Quotes one argument for a request line.
pub fn quote(arg: &str) -> String {
    let mut q = String::with_capacity(arg.len() + 2);
    q.push('"');
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn line_of(args: &[&str]) -> String {
    let mut line = args[0].to_string();
    for a in &args[1..] {
        line.push(' ');
        line.push_str(&quote(a));
    }
    line.push('\n');
    line
}

/// The value of `key` (any case) among an answer's pairs.
pub fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// An answer listing songs (`playlistinfo`...) cut into one list of pairs per song, each
/// starting at its `file:` line.
pub fn songs(pairs: Vec<(String, String)>) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    for (k, v) in pairs {
        if k == "file" {
            out.push(Vec::new());
        }
        if let Some(song) = out.last_mut() {
            song.push((k, v));
        }
    }
    out
}

impl Client {
    pub fn connect(socket: &Path) -> Result<Client, ClientError> {
        let stream =
            UnixStream::connect(socket).map_err(|_| ClientError::NotRunning(socket.into()))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut hello = String::new();
        reader.read_line(&mut hello)?;
        if !hello.starts_with("OK MPD ") {
            return Err(ClientError::Protocol(hello.trim_end().to_string()));
        }
        Ok(Client {
            writer: stream,
            reader,
        })
    }

    /// Sends one command and reads its answer.
    pub fn command(&mut self, args: &[&str]) -> Result<Vec<(String, String)>, ClientError> {
        self.writer.write_all(line_of(args).as_bytes())?;
        self.answer()
    }

    /// Sends commands as one list (applied together, stopping at the first error).
    pub fn command_list(&mut self, commands: &[Vec<String>]) -> Result<(), ClientError> {
        let mut text = String::from("command_list_begin\n");
        for c in commands {
            let args: Vec<&str> = c.iter().map(String::as_str).collect();
            text.push_str(&line_of(&args));
        }
        text.push_str("command_list_end\n");
        self.writer.write_all(text.as_bytes())?;
        self.answer().map(|_| ())
    }

    /// Waits, however long it takes, until the service reports a change (MPD's `idle`), and
    /// returns the subsystems that changed.
    pub fn idle(&mut self) -> Result<Vec<String>, ClientError> {
        self.writer.write_all(b"idle\n")?;
        self.writer.set_read_timeout(None)?;
        let answer = self.answer();
        self.writer
            .set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(answer?
            .into_iter()
            .filter(|(k, _)| k == "changed")
            .map(|(_, v)| v)
            .collect())
    }

    fn answer(&mut self) -> Result<Vec<(String, String)>, ClientError> {
        let mut pairs = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
            let l = line.trim_end_matches('\n');
            if l == "OK" {
                return Ok(pairs);
            }
            if let Some(rest) = l.strip_prefix("ACK [") {
                let code = rest
                    .split('@')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                let message = rest.split_once("} ").map_or(rest, |(_, m)| m).to_string();
                return Err(ClientError::Ack { code, message });
            }
            match l.split_once(": ") {
                Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                None => return Err(ClientError::Protocol(l.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_with_escapes() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
        assert_eq!(line_of(&["add", "x y"]), "add \"x y\"\n");
    }

    #[test]
    fn songs_start_at_their_file_lines() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let answer = vec![
            pair("file", "a.flac"),
            pair("Title", "A"),
            pair("file", "b.flac"),
            pair("title", "B"),
            pair("Id", "2"),
        ];
        let songs = songs(answer);
        assert_eq!(songs.len(), 2);
        assert_eq!(field(&songs[0], "title"), Some("A"));
        assert_eq!(field(&songs[1], "Title"), Some("B"), "keys in any case");
        assert_eq!(field(&songs[1], "id"), Some("2"));
        assert_eq!(field(&songs[0], "Id"), None);
    }
}
