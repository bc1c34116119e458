//! Keys: a terminal key event as the configuration names keys, and what each of the UI's
//! actions does, as the help overlay lists them.

use crossterm::event::KeyCode;

use crate::config::{Key, UiAction};

/// The key a terminal key code is, in the configuration's terms; `None` for keys that cannot
/// be bound.
pub fn key_of(code: KeyCode) -> Option<Key> {
    Some(match code {
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Esc => Key::Esc,
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab => Key::Tab,
        KeyCode::BackTab => Key::BackTab,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Delete => Key::Delete,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        _ => return None,
    })
}

/// Keys that cannot be rebound, and the mouse, for the help overlay.
pub const FIXED: &[(&str, &str)] = &[
    ("esc", "end the search, close a prompt, put away an error"),
    (
        "left right",
        "in a prompt: move (also home, end, ctrl-a, ctrl-e)",
    ),
    ("ctrl-w", "in a prompt: take back a word"),
    (
        "ctrl-u ctrl-k",
        "in a prompt: delete before, after the cursor",
    ),
    ("ctrl-l", "repaint the screen"),
    ("ctrl-z", "suspend (fg resumes)"),
    ("ctrl-c", "quit"),
    ("click", "select; a double click plays"),
    ("wheel", "scroll"),
];

/// What an action does, for the help overlay.
pub fn describe(action: UiAction) -> &'static str {
    use UiAction as A;
    match action {
        A::Library => "library: artists, albums, tracks",
        A::Tracks => "every track, sorted by any field",
        A::Playlists => "playlists and their tracks",
        A::Queue => "the queue",
        A::Problems => "files that could not be indexed",
        A::Up => "up",
        A::Down => "down",
        A::PageUp => "a page up",
        A::PageDown => "a page down",
        A::Top => "to the top",
        A::Bottom => "to the bottom",
        A::NextColumn => "next column",
        A::PreviousColumn => "previous column",
        A::Play => "play the selection (replaces the queue)",
        A::Append => "add the selection to the queue",
        A::PlayNext => "add the selection to play next",
        A::Pause => "pause / play",
        A::Next => "next track",
        A::Previous => "previous track",
        A::SeekForward => "seek forward 5 s",
        A::SeekBack => "seek back 5 s",
        A::VolumeUp => "volume up",
        A::VolumeDown => "volume down",
        A::Shuffle => "shuffle on / off",
        A::Repeat => "repeat: off, all, one",
        A::Search => "search as you type (a query)",
        A::SearchNext => "next match (next track when no search)",
        A::SearchPrevious => "previous match",
        A::Filter => "filter every view by a query",
        A::Sort => "sort the track list (year- title)",
        A::Shelf => "album artists / artists / genres",
        A::Delete => "remove from the queue",
        A::MoveUp => "move up in the queue",
        A::MoveDown => "move down in the queue",
        A::Clear => "clear the queue",
        A::ShuffleQueue => "shuffle the queue's order",
        A::Save => "save the queue as a playlist",
        A::Scan => "scan the library for changes",
        A::Help => "this help",
        A::Quit => "quit",
    }
}
