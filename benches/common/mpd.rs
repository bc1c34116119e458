//! MPD beside tapedeck in the benchmarks: a raw protocol client (send a line, read up to `OK`),
//! MPD started on a tree with a configuration of its own, and a process's resident memory.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A raw MPD client on a Unix socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

/// One answer: its bytes, its `file:` lines, and its lines when asked to keep them.
#[derive(Default)]
pub struct Answer {
    pub bytes: usize,
    pub files: usize,
    pub lines: Vec<String>,
}

impl Client {
    pub fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("read timeout");
        let mut reader = BufReader::with_capacity(64 * 1024, stream.try_clone().expect("clone"));
        let mut hello = String::new();
        reader.read_line(&mut hello).expect("read the greeting");
        assert!(hello.starts_with("OK MPD "), "greeting: {hello:?}");
        Client {
            reader,
            writer: stream,
        }
    }

    pub fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("send a request");
    }

    /// Reads one answer, up to `OK` (an `ACK` panics: every request here is valid).
    pub fn read(&mut self, keep: bool) -> Answer {
        let mut a = Answer::default();
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            let n = self.reader.read_until(b'\n', &mut line).expect("read");
            assert!(n > 0, "the server closed the connection");
            a.bytes += n;
            if line == b"OK\n" {
                return a;
            }
            if line.starts_with(b"ACK ") {
                panic!("server answered {}", String::from_utf8_lossy(&line).trim());
            }
            if line.starts_with(b"file: ") {
                a.files += 1;
            }
            if keep {
                a.lines
                    .push(String::from_utf8_lossy(&line).trim_end().to_string());
            }
        }
    }

    pub fn ask(&mut self, line: &str) -> Answer {
        self.send(line);
        self.read(true)
    }

    /// Whether something is waiting to be read (without blocking).
    pub fn pending(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let mut fds = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&self.writer),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the length of the call.
        unsafe { libc::poll(&mut fds, 1, 0) > 0 }
    }
}

pub fn field<'a>(a: &'a Answer, key: &str) -> Option<&'a str> {
    a.lines
        .iter()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
pub fn memory(pid: u32) -> (f64, f64) {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// MPD on `music` with its database at `db_file`, brought up to date with `update` before it
/// is handed back (the time that took is printed).
pub fn start_mpd(music: &Path, db_file: &Path, work: &Path) -> Result<(Child, PathBuf), String> {
    let socket = work.join("mpd.socket");
    let conf = work.join("mpd.conf");
    fs::write(
        &conf,
        format!(
            "music_directory \"{}\"\ndb_file \"{}\"\nlog_file \"/dev/null\"\n\
             pid_file \"{}\"\nbind_to_address \"{}\"\nauto_update \"no\"\n\
             max_output_buffer_size \"1048576\"\n\
             audio_output {{\n  type \"null\"\n  name \"null\"\n}}\n",
            music.display(),
            db_file.display(),
            work.join("mpd.pid").display(),
            socket.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new("mpd")
        .arg("--no-daemon")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start mpd: {e}"))?;
    let result = (|| {
        let limit = Duration::from_secs(60);
        while UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("mpd exited before listening: {status}"));
            }
            if started.elapsed() > limit {
                return Err("mpd did not start listening".to_string());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut c = Client::connect(&socket);
        // A missing database is built at start-up; then one `update` for anything changed.
        let wait_done = |c: &mut Client| {
            while field(&c.ask("status"), "updating_db").is_some() {
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        wait_done(&mut c);
        c.ask("update");
        std::thread::sleep(Duration::from_millis(20));
        wait_done(&mut c);
        Ok(())
    })();
    match result {
        Ok(()) => {
            println!(
                "  MPD: started and its database brought up to date in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok((child, socket))
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}
