//! `tapedeck ui`: the full-screen terminal UI, a front end of the player service like `serve`
//! and MPRIS. `app.rs` is the state and what keys do, `draw.rs` draws it, `deck.rs` is the
//! player it drives (in this process, or a running `serve` over its socket), `keys.rs` maps
//! terminal keys to the configuration's. This file is the terminal: raw mode and the alternate
//! screen (restored on quit, on error, on panic and around Ctrl-Z), the event loop, and
//! redrawing only when something changed.

pub mod app;
pub mod deck;
pub mod draw;
pub mod keys;
pub mod line;

use std::io::{self, Stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, after, never, select};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use app::{App, Flow};
use deck::Playing;

/// How often the position is read again while music plays (the bar redraws only when the
/// shown second changes).
const PLAYING_TICK: Duration = Duration::from_millis(250);
const SCAN_TICK: Duration = Duration::from_millis(200);
/// How often a signal's flag is looked at when nothing else happens.
const IDLE_TICK: Duration = Duration::from_secs(1);

/// The terminal in full-screen mode, put back however the UI ends.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Where stderr went before the screen took it: libraries (ALSA's among them) print to
/// stderr, which would scribble over the screen, so while the UI is up stderr is a pipe that a
/// thread empties, and it is put back before anything (a panic's message) is printed.
static SAVED_STDERR: std::sync::Mutex<Option<std::os::fd::OwnedFd>> = std::sync::Mutex::new(None);

fn quiet_stderr() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut saved = SAVED_STDERR.lock().unwrap_or_else(|p| p.into_inner());
    if saved.is_some() {
        return;
    }
    let Ok((mut reader, writer)) = io::pipe() else {
        return;
    };
    // SAFETY: dup and dup2 on descriptors this process owns; the duplicate is owned below.
    unsafe {
        let copy = libc::dup(libc::STDERR_FILENO);
        if copy < 0 {
            return;
        }
        if libc::dup2(writer.as_raw_fd(), libc::STDERR_FILENO) < 0 {
            libc::close(copy);
            return;
        }
        *saved = Some(OwnedFd::from_raw_fd(copy));
    }
    // Stderr holds the pipe open now; when it is put back the reader sees the end.
    drop(writer);
    let _ = thread::Builder::new()
        .name("tapedeck-ui-stderr".into())
        .spawn(move || io::copy(&mut reader, &mut io::sink()));
}

fn restore_stderr() {
    use std::os::fd::AsRawFd;
    let mut saved = SAVED_STDERR.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(fd) = saved.take() {
        // SAFETY: dup2 of a descriptor we own onto stderr.
        unsafe {
            libc::dup2(fd.as_raw_fd(), libc::STDERR_FILENO);
        }
    }
}

fn enter_terminal() -> io::Result<()> {
    terminal::enable_raw_mode()?;
    crossterm::execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    Ok(())
}

fn leave_terminal() {
    restore_stderr();
    let _ = crossterm::execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}

impl Screen {
    fn open() -> io::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            leave_terminal();
            previous(info);
        }));
        enter_terminal()?;
        let terminal = match Terminal::new(CrosstermBackend::new(io::stdout())) {
            Ok(t) => t,
            Err(e) => {
                leave_terminal();
                return Err(e);
            }
        };
        Ok(Screen { terminal })
    }

    /// Ctrl-Z: the terminal as it was, the process stopped until `fg`, then full screen again.
    fn suspend(&mut self) -> io::Result<()> {
        leave_terminal();
        // SAFETY: raising a signal at ourselves; the default action stops the process and
        // returns here when it is continued.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        enter_terminal()?;
        quiet_stderr();
        self.repaint()
    }

    /// Clears the screen; the next draw paints all of it.
    fn repaint(&mut self) -> io::Result<()> {
        // A new terminal has a blank previous frame, so the next draw paints everything on
        // the cleared screen. (`Terminal::clear` would ask the terminal for the cursor's
        // position, an answer the input thread would swallow.)
        crossterm::execute!(io::stdout(), terminal::Clear(terminal::ClearType::All))?;
        self.terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        leave_terminal();
    }
}

/// Terminal events, read on their own thread so the loop can wait on the player too.
fn input() -> Receiver<Event> {
    let (tx, rx) = crossbeam_channel::bounded(64);
    thread::Builder::new()
        .name("tapedeck-ui-input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        })
        .expect("spawn a thread");
    rx
}

/// Runs the UI until the user quits or `stop` is set (SIGTERM, SIGINT).
pub fn run(mut app: App, stop: Arc<AtomicBool>) -> io::Result<App> {
    let mut screen = Screen::open()?;
    let keys = input();
    let mut wake = app.deck.wake();
    let mut first = true;
    loop {
        if app.dirty {
            let size = screen.terminal.size()?;
            app.fit(draw::list_rows(size.height));
            screen.terminal.draw(|f| draw::draw(f, &mut app))?;
            app.dirty = false;
            if first {
                crate::timing::mark("first frame");
                // From here on stderr would scribble over the screen.
                quiet_stderr();
                first = false;
            }
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        let tick = if let Some(due) = app.filter_due {
            after(due.saturating_duration_since(std::time::Instant::now()))
        } else if app.scanning() {
            after(SCAN_TICK)
        } else if app.now.state == Playing::Playing {
            after(PLAYING_TICK)
        } else {
            after(IDLE_TICK)
        };
        select! {
            recv(keys) -> ev => match ev {
                Ok(Event::Key(k)) => match app.key(k) {
                    Flow::Go => {}
                    Flow::Quit => break,
                    Flow::Suspend => {
                        screen.suspend()?;
                        app.dirty = true;
                    }
                    Flow::Repaint => {
                        screen.repaint()?;
                        app.dirty = true;
                    }
                },
                Ok(Event::Mouse(m)) => app.mouse(m),
                Ok(Event::Resize(..)) => app.dirty = true,
                Ok(_) => {}
                Err(_) => break,
            },
            recv(wake) -> w => match w {
                Ok(()) => app.refresh_player(),
                Err(_) => {
                    app.complain("the player service went away");
                    app.dirty = true;
                    // Nothing more will come from it.
                    wake = never();
                }
            },
            recv(tick) -> _ => {
                app.poll_filter();
                app.tick();
                app.poll_scan();
            }
        }
    }
    drop(screen);
    Ok(app)
}

#[cfg(test)]
mod tests;
