//! The prompt's line editor: a line of text and a cursor (a byte offset on a character
//! boundary), edited with the keys shells use. Pure.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text changed (a search or filter runs again).
    Changed,
    /// Only the cursor moved.
    Moved,
    /// Not an editing key.
    Ignored,
}

fn before(text: &str, at: usize) -> usize {
    text[..at].char_indices().next_back().map_or(0, |(i, _)| i)
}

fn after(text: &str, at: usize) -> usize {
    text[at..].chars().next().map_or(at, |c| at + c.len_utf8())
}

/// Applies `key` to the line.
pub fn edit(text: &mut String, cursor: &mut usize, key: KeyEvent) -> Edit {
    *cursor = (*cursor).min(text.len());
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char(c) if !ctrl => {
            text.insert(*cursor, c);
            *cursor += c.len_utf8();
            Edit::Changed
        }
        KeyCode::Backspace if *cursor > 0 => {
            let from = before(text, *cursor);
            text.replace_range(from..*cursor, "");
            *cursor = from;
            Edit::Changed
        }
        KeyCode::Delete if *cursor < text.len() => {
            let to = after(text, *cursor);
            text.replace_range(*cursor..to, "");
            Edit::Changed
        }
        KeyCode::Left => {
            *cursor = before(text, *cursor);
            Edit::Moved
        }
        KeyCode::Right => {
            *cursor = after(text, *cursor);
            Edit::Moved
        }
        KeyCode::Home => {
            *cursor = 0;
            Edit::Moved
        }
        KeyCode::End => {
            *cursor = text.len();
            Edit::Moved
        }
        KeyCode::Char('a') if ctrl => {
            *cursor = 0;
            Edit::Moved
        }
        KeyCode::Char('e') if ctrl => {
            *cursor = text.len();
            Edit::Moved
        }
        // Ctrl-U: everything before the cursor; Ctrl-K: everything after it.
        KeyCode::Char('u') if ctrl => {
            text.replace_range(..*cursor, "");
            *cursor = 0;
            Edit::Changed
        }
        KeyCode::Char('k') if ctrl => {
            text.truncate(*cursor);
            Edit::Changed
        }
        // Ctrl-W: the word before the cursor, and the spaces after it.
        KeyCode::Char('w') if ctrl => {
            let head = &text[..*cursor];
            let word_end = head.trim_end().len();
            let from = head[..word_end].rfind(' ').map_or(0, |i| i + 1);
            text.replace_range(from..*cursor, "");
            *cursor = from;
            Edit::Changed
        }
        KeyCode::Backspace | KeyCode::Delete => Edit::Moved,
        _ => Edit::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    #[test]
    fn keys_edit_at_the_cursor_over_wide_and_accented_text() {
        let (mut t, mut c) = (String::new(), 0);
        for ch in "genre:jazz 日本".chars() {
            assert_eq!(edit(&mut t, &mut c, key(KeyCode::Char(ch))), Edit::Changed);
        }
        assert_eq!((t.as_str(), c), ("genre:jazz 日本", t.len()));
        edit(&mut t, &mut c, key(KeyCode::Left));
        edit(&mut t, &mut c, key(KeyCode::Backspace));
        assert_eq!(t, "genre:jazz 本");
        edit(&mut t, &mut c, key(KeyCode::Char('é')));
        assert_eq!(t, "genre:jazz é本");
        edit(&mut t, &mut c, ctrl('a'));
        edit(&mut t, &mut c, key(KeyCode::Delete));
        assert_eq!((t.as_str(), c), ("enre:jazz é本", 0));
        edit(&mut t, &mut c, key(KeyCode::Char('g')));
        edit(&mut t, &mut c, ctrl('e'));
        assert_eq!(c, t.len());
        // Ctrl-W takes the word before the cursor, Ctrl-K what follows, Ctrl-U what precedes.
        assert_eq!(edit(&mut t, &mut c, ctrl('w')), Edit::Changed);
        assert_eq!(t, "genre:jazz ");
        for _ in 0..3 {
            edit(&mut t, &mut c, key(KeyCode::Left));
        }
        edit(&mut t, &mut c, ctrl('k'));
        assert_eq!(t, "genre:ja");
        edit(&mut t, &mut c, key(KeyCode::Left));
        edit(&mut t, &mut c, ctrl('u'));
        assert_eq!((t.as_str(), c), ("a", 0));
        // Nothing to take back at the ends; other keys are not the line's.
        assert_eq!(edit(&mut t, &mut c, key(KeyCode::Backspace)), Edit::Moved);
        assert_eq!(edit(&mut t, &mut c, key(KeyCode::Left)), Edit::Moved);
        assert_eq!(c, 0);
        edit(&mut t, &mut c, key(KeyCode::End));
        assert_eq!(edit(&mut t, &mut c, key(KeyCode::Delete)), Edit::Moved);
        assert_eq!(edit(&mut t, &mut c, key(KeyCode::Up)), Edit::Ignored);
        assert_eq!(t, "a");
    }
}
