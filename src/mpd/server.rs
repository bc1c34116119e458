//! The MPD protocol server: listeners on a Unix socket and (when asked) TCP, and one thread pair
//! per client: a reader that cuts the stream into request lines (capped, so a huge line costs
//! nothing) and the connection loop that answers them: command lists, `idle`/`noidle`, the
//! password, and `close`. Commands themselves are [`super::commands`]. A client that sends
//! garbage, stalls or disconnects mid-reply ends its own connection and nothing else.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use super::commands::{Flow, Session};
use super::request::{self, Ack, AckCode};
use crate::service::{Changes, Service};

/// The protocol version announced to clients.
pub const PROTOCOL_VERSION: &str = "0.23.5";
/// The longest request line read; a longer one is an error and ends the connection.
pub const MAX_LINE: usize = 64 * 1024;
/// The most commands one command list may hold.
pub const MAX_LIST: usize = 10_000;
/// The most bytes one command list may hold.
pub const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;
/// The most clients connected at once.
pub const MAX_CLIENTS: usize = 256;
/// How long a reply may take to be read by a client before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// What every connection shares.
pub struct Server {
    pub service: Service,
    /// The library file (each connection reads it through its own connection).
    pub db_path: PathBuf,
    /// Required of TCP clients before anything but `password`, `ping`, `close` and the command
    /// lists; Unix socket clients are trusted (the socket's folder is the user's alone).
    pub password: Option<String>,
    /// Whether the gain `analyze` computed stands in for files' own tags (queue items).
    pub prefer_computed: bool,
    pub started: Instant,
    /// The running library update's job id, 0 when none runs.
    pub updating: AtomicU32,
    pub next_update: AtomicU32,
    clients: AtomicUsize,
    pub stopping: AtomicBool,
}

impl Server {
    pub fn new(
        service: Service,
        db_path: PathBuf,
        password: Option<String>,
        prefer_computed: bool,
    ) -> Arc<Server> {
        Arc::new(Server {
            service,
            db_path,
            password,
            prefer_computed,
            started: Instant::now(),
            updating: AtomicU32::new(0),
            next_update: AtomicU32::new(1),
            clients: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        })
    }
}

/// Starts accepting clients on the Unix socket and, when given, on TCP, each on its own thread.
pub fn listen(server: Arc<Server>, unix: UnixListener, tcp: Option<TcpListener>) {
    let s = server.clone();
    let _ = thread::Builder::new()
        .name("tapedeck-listen".into())
        .spawn(move || accept(s, unix.incoming(), true));
    if let Some(tcp) = tcp {
        let _ = thread::Builder::new()
            .name("tapedeck-listen-tcp".into())
            .spawn(move || accept(server, tcp.incoming(), false));
    }
}

/// A stream a client connects with: it can be cloned (one half reads, the other writes) and
/// shut down.
pub trait Stream: Read + Shut + Sized + 'static {
    fn duplicate(&self) -> io::Result<Self>;
    fn prepare(&self);
}

impl Stream for UnixStream {
    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn prepare(&self) {
        let _ = self.set_write_timeout(Some(WRITE_TIMEOUT));
    }
}

impl Stream for TcpStream {
    fn duplicate(&self) -> io::Result<Self> {
        self.try_clone()
    }
    fn prepare(&self) {
        let _ = self.set_write_timeout(Some(WRITE_TIMEOUT));
        let _ = self.set_nodelay(true);
    }
}

/// Accepts clients until the listener fails; `local` is true for the Unix socket.
fn accept<S: Stream>(
    server: Arc<Server>,
    incoming: impl Iterator<Item = io::Result<S>>,
    local: bool,
) {
    for stream in incoming {
        if server.stopping.load(Ordering::Acquire) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(reader) = stream.duplicate() else {
            continue;
        };
        stream.prepare();
        spawn_client(server.clone(), Box::new(reader), Box::new(stream), local);
    }
}

/// Shuts a stream down both ways (so its reader thread wakes up and ends).
pub trait Shut: Write + Send {
    fn shut(&self);
}

impl Shut for UnixStream {
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

impl Shut for TcpStream {
    fn shut(&self) {
        let _ = self.shutdown(std::net::Shutdown::Both);
    }
}

fn spawn_client(
    server: Arc<Server>,
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Shut>,
    local: bool,
) {
    if server.clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
        server.clients.fetch_sub(1, Ordering::AcqRel);
        let mut w = writer;
        let _ = w.write_all(b"ACK [52@0] {} too many clients\n");
        w.shut();
        return;
    }
    let _ = thread::Builder::new()
        .name("tapedeck-client".into())
        .spawn(move || {
            let lines = read_lines(reader);
            let mut conn = Connection {
                session: Session::new(server.clone(), local),
                lines,
                out: BufWriter::with_capacity(64 * 1024, ShutOnDrop(writer)),
            };
            let _ = conn.run();
            server.clients.fetch_sub(1, Ordering::AcqRel);
        });
}

/// The writing half, shut down when the connection ends so its reader stops too.
struct ShutOnDrop(Box<dyn Shut>);

impl Write for ShutOnDrop {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Drop for ShutOnDrop {
    fn drop(&mut self) {
        self.0.shut();
    }
}

/// One thing the reader saw.
enum Input {
    Line(String),
    /// A line longer than [`MAX_LINE`], or not UTF-8.
    Bad(&'static str),
}

/// Reads request lines on their own thread (so `idle` can wait for a line and for changes at
/// once). The channel is bounded: a client that sends faster than it is answered waits.
fn read_lines(reader: Box<dyn Read + Send>) -> Receiver<Input> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    let _ = thread::Builder::new()
        .name("tapedeck-client-reader".into())
        .spawn(move || {
            let mut reader = BufReader::with_capacity(16 * 1024, reader);
            let mut line = Vec::new();
            loop {
                line.clear();
                match read_capped(&mut reader, &mut line) {
                    Ok(Some(true)) => {
                        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            line.pop();
                        }
                        let input = match String::from_utf8(std::mem::take(&mut line)) {
                            Ok(s) => Input::Line(s),
                            Err(_) => Input::Bad("Invalid UTF-8 in request"),
                        };
                        if tx.send(input).is_err() {
                            return;
                        }
                    }
                    Ok(Some(false)) => {
                        let _ = tx.send(Input::Bad("Line too long"));
                        return;
                    }
                    // End of stream (a last line without a newline is not a request).
                    Ok(None) | Err(_) => return,
                }
            }
        });
    rx
}

/// Reads one line into `line`: `Some(true)` when a whole line came, `Some(false)` when it grew
/// past [`MAX_LINE`], `None` at the end of the stream.
fn read_capped(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(None);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > MAX_LINE {
            return Ok(Some(false));
        }
        if done {
            return Ok(Some(true));
        }
    }
}

struct Connection {
    session: Session,
    lines: Receiver<Input>,
    out: BufWriter<ShutOnDrop>,
}

/// A command list being gathered.
struct List {
    ok_each: bool,
    commands: Vec<String>,
    bytes: usize,
}

impl Connection {
    fn run(&mut self) -> io::Result<()> {
        writeln!(self.out, "OK MPD {PROTOCOL_VERSION}")?;
        self.out.flush()?;
        let mut list: Option<List> = None;
        while let Ok(input) = self.lines.recv() {
            let line = match input {
                Input::Line(l) => l,
                Input::Bad(why) => {
                    writeln!(self.out, "{}", Ack::new(AckCode::Arg, "", why))?;
                    self.out.flush()?;
                    return Ok(());
                }
            };
            if let Some(l) = &mut list {
                match line.as_str() {
                    "command_list_end" => {
                        let l = list.take().expect("a list");
                        if self.run_list(&l)? == Flow::Close {
                            return Ok(());
                        }
                    }
                    _ => {
                        l.bytes += line.len();
                        l.commands.push(line);
                        if l.commands.len() > MAX_LIST || l.bytes > MAX_LIST_BYTES {
                            writeln!(
                                self.out,
                                "{}",
                                Ack::new(AckCode::NotList, "", "command list is too long")
                            )?;
                            self.out.flush()?;
                            return Ok(());
                        }
                    }
                }
                continue;
            }
            match line.trim() {
                "command_list_begin" | "command_list_ok_begin" => {
                    list = Some(List {
                        ok_each: line.trim() == "command_list_ok_begin",
                        commands: Vec::new(),
                        bytes: 0,
                    });
                    continue;
                }
                _ => {}
            }
            let args = match request::split(&line) {
                Ok(a) => a,
                Err(e) => {
                    writeln!(self.out, "{}", Ack::new(e.code(), "", e))?;
                    self.out.flush()?;
                    continue;
                }
            };
            let flow = match args[0].as_str() {
                "idle" => self.idle(&args[1..])?,
                "noidle" => Flow::Done,
                "close" => Flow::Close,
                _ => match self.session.run(&args, &mut self.out) {
                    Ok(flow) => flow,
                    Err(ack) => {
                        writeln!(self.out, "{ack}")?;
                        self.out.flush()?;
                        continue;
                    }
                },
            };
            if flow == Flow::Close {
                self.out.flush()?;
                return Ok(());
            }
            self.out.write_all(b"OK\n")?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn run_list(&mut self, list: &List) -> io::Result<Flow> {
        for (index, line) in list.commands.iter().enumerate() {
            let args = match request::split(line) {
                Ok(a) => a,
                Err(e) => {
                    let mut ack = Ack::new(e.code(), "", e);
                    ack.index = index;
                    writeln!(self.out, "{ack}")?;
                    self.out.flush()?;
                    return Ok(Flow::Done);
                }
            };
            let result = match args[0].as_str() {
                "idle" | "noidle" | "command_list_begin" | "command_list_ok_begin" => Err(
                    Ack::new(AckCode::Arg, &args[0], "not allowed in a command list"),
                ),
                "close" => return Ok(Flow::Close),
                _ => self.session.run(&args, &mut self.out),
            };
            match result {
                Ok(Flow::Close) => return Ok(Flow::Close),
                Ok(Flow::Done) => {
                    if list.ok_each {
                        self.out.write_all(b"list_OK\n")?;
                    }
                }
                Err(mut ack) => {
                    ack.index = index;
                    writeln!(self.out, "{ack}")?;
                    self.out.flush()?;
                    return Ok(Flow::Done);
                }
            }
        }
        self.out.write_all(b"OK\n")?;
        self.out.flush()?;
        Ok(Flow::Done)
    }

    /// Waits for a change in the named subsystems (all when none is named), or for `noidle`.
    /// Changes gathered since the last `idle` are answered at once.
    fn idle(&mut self, names: &[String]) -> io::Result<Flow> {
        let mut mask = Changes::default();
        for n in names {
            match Changes::by_name(n) {
                Some(c) => mask = mask.union(c),
                None => {
                    writeln!(
                        self.out,
                        "{}",
                        Ack::new(
                            AckCode::Arg,
                            "idle",
                            format!("Unrecognized idle event: {n}")
                        )
                    )?;
                    self.out.flush()?;
                    return Ok(Flow::Done);
                }
            }
        }
        if mask.is_empty() {
            mask = Changes::all();
        }
        if !self.session.may_read() {
            writeln!(
                self.out,
                "{}",
                Ack::new(
                    AckCode::Permission,
                    "idle",
                    "you don't have permission for \"idle\""
                )
            )?;
            self.out.flush()?;
            return Ok(Flow::Done);
        }
        let sub = self.session.subscription();
        loop {
            let got = sub.take();
            let matched = Changes(got.0 & mask.0);
            // What was not asked for waits for a later idle.
            let rest = Changes(got.0 & !mask.0);
            if !rest.is_empty() {
                self.session.keep(rest);
            }
            if !matched.is_empty() {
                for name in matched.names() {
                    writeln!(self.out, "changed: {name}")?;
                }
                return Ok(Flow::Done);
            }
            select! {
                recv(sub.wake()) -> _ => {}
                recv(self.lines) -> input => {
                    return match input {
                        Ok(Input::Line(l)) if l.trim() == "noidle" => Ok(Flow::Done),
                        // Anything else while idle ends the connection, as with MPD.
                        _ => Ok(Flow::Close),
                    };
                }
            }
        }
    }
}
