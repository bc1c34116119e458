//! Drawing: the UI's state as one frame (tab bar, the current view, the now-playing lines, the
//! prompt or message line, the help overlay). Pure: it reads [`App`] and writes cells. Every
//! tag and path goes through `text::escape` first, so a control character is shown as an
//! escape and never reaches the terminal, and is measured in columns, so wide characters
//! align. The title is the last thing cut from the now-playing line.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::{Block, Clear, Widget};

use super::app::{App, Column, Spot, View};
use super::deck::Playing;
use super::keys;
use crate::config::{Bound, UiAction};
use crate::db::browse::Shelf;
use crate::model::Track;
use crate::player::queue::Repeat;
use crate::text::{self, clock};

/// Rows below the body: three now-playing lines and the message line.
pub const FOOTER: u16 = 4;
/// The tab bar and each view's header row.
pub const HEADER: u16 = 2;

/// The list rows the body has on a terminal `height` rows high.
pub fn list_rows(height: u16) -> usize {
    height.saturating_sub(HEADER + FOOTER).max(1) as usize
}

/// `s` cut to `width` columns (ending in `…` when cut) and padded with spaces to exactly
/// `width`.
pub fn fit(s: &str, width: usize) -> String {
    let s = text::escape(s);
    let w = text::width(&s);
    if w <= width {
        let mut out = s.into_owned();
        out.push_str(&" ".repeat(width - w));
        return out;
    }
    if width == 0 {
        return String::new();
    }
    let cut = text::cut_to(&s, width - 1).trim_end();
    let mut out = format!("{cut}…");
    out.push_str(&" ".repeat(width - 1 - text::width(cut)));
    out
}

/// `left` then `right` in `width` columns: `right` flush right when both fit, `left` cut first.
fn split_line(left: &str, right: &str, width: usize) -> String {
    let right = text::escape(right);
    let rw = text::width(&right);
    if rw + 1 >= width {
        return fit(left, width);
    }
    let mut out = fit(left, width - rw - 1);
    out.push(' ');
    out.push_str(&right);
    out
}

fn put(buf: &mut Buffer, x: u16, y: u16, s: &str, width: u16, style: Style) {
    buf.set_stringn(x, y, s, width as usize, style);
}

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const DIM_SELECTED: Style = Style::new()
    .add_modifier(Modifier::BOLD)
    .add_modifier(Modifier::UNDERLINED);
const HEADING: Style = Style::new().add_modifier(Modifier::BOLD);

pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    app.spots.clear();
    if area.width < 10 || area.height < 6 {
        frame.buffer_mut().set_stringn(
            0,
            0,
            "terminal too small",
            area.width as usize,
            Style::new(),
        );
        return;
    }
    tabs(frame.buffer_mut(), area, app);
    let body = Rect {
        x: area.x,
        y: area.y + 1,
        width: area.width,
        height: area.height.saturating_sub(1 + FOOTER),
    };
    match app.view {
        View::Library => library(frame.buffer_mut(), body, app),
        View::Tracks => tracks(frame.buffer_mut(), body, app),
        View::Playlists => playlists(frame.buffer_mut(), body, app),
        View::Queue => queue(frame.buffer_mut(), body, app),
        View::Problems => problems(frame.buffer_mut(), body, app),
    }
    now_playing(frame.buffer_mut(), area, app);
    let cursor = bottom_line(frame.buffer_mut(), area, app);
    if let Some(c) = cursor {
        frame.set_cursor_position(c);
    }
    if app.help {
        help(frame.buffer_mut(), area, app);
    }
}

fn tabs(buf: &mut Buffer, area: Rect, app: &mut App) {
    let mut x = area.x;
    for (i, v) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, v.title());
        let w = text::width(&label) as u16;
        if x + w > area.right() {
            break;
        }
        let style = if *v == app.view {
            SELECTED
        } else {
            Style::new()
        };
        put(buf, x, area.y, &label, w, style);
        app.spots.push((Rect::new(x, area.y, w, 1), Spot::Tab(*v)));
        x += w;
    }
    if let Some((f, _)) = &app.filter {
        let room = area.right().saturating_sub(x + 1) as usize;
        if room > 8 {
            let busy = if app.filter_due.is_some() { "…" } else { "" };
            let label = fit(&format!("filter: {f}{busy}"), room);
            put(
                buf,
                x + 1,
                area.y,
                &label,
                room as u16,
                Style::new().fg(Color::Yellow),
            );
        }
    }
}

/// Draws a list column: a header, then rows from `top`, the selected one highlighted, or
/// `empty` when there are none.
#[allow(clippy::too_many_arguments)]
fn column<T>(
    buf: &mut Buffer,
    area: Rect,
    title: &str,
    col: &Column<T>,
    focused: bool,
    spot: usize,
    spots: &mut Vec<(Rect, Spot)>,
    empty: &str,
    row: &mut dyn FnMut(&T, usize) -> String,
) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let w = area.width as usize;
    let head_style = if focused {
        HEADING.add_modifier(Modifier::UNDERLINED)
    } else {
        HEADING
    };
    put(buf, area.x, area.y, &fit(title, w), area.width, head_style);
    let rows = area.height.saturating_sub(1) as usize;
    let list = Rect::new(area.x, area.y + 1, area.width, rows as u16);
    spots.push((list, Spot::Column(spot)));
    for (i, item) in col.items.iter().enumerate().skip(col.top).take(rows) {
        let y = list.y + (i - col.top) as u16;
        let line = row(item, w);
        let style = if i == col.sel {
            if focused { SELECTED } else { DIM_SELECTED }
        } else {
            Style::new()
        };
        put(buf, area.x, y, &line, area.width, style);
    }
    if col.items.is_empty() && rows > 0 {
        put(
            buf,
            area.x,
            list.y,
            &fit(empty, w),
            area.width,
            Style::new().add_modifier(Modifier::DIM),
        );
    }
}

fn separator(buf: &mut Buffer, x: u16, area: Rect) {
    for y in area.y..area.bottom() {
        put(buf, x, y, "│", 1, Style::new().add_modifier(Modifier::DIM));
    }
}

/// Splits `area` into columns of the given shares, with a one-column separator between.
fn columns(area: Rect, shares: &[u16]) -> Vec<Rect> {
    let total: u16 = shares.iter().sum();
    let seps = shares.len() as u16 - 1;
    let room = area.width.saturating_sub(seps);
    let mut out = Vec::new();
    let mut x = area.x;
    for (i, s) in shares.iter().enumerate() {
        let w = if i + 1 == shares.len() {
            area.right().saturating_sub(x)
        } else {
            (u32::from(room) * u32::from(*s) / u32::from(total)) as u16
        };
        out.push(Rect::new(x, area.y, w, area.height));
        x += w + 1;
    }
    out
}

fn track_line(t: &Track, w: usize, album_artist: Option<&str>) -> String {
    let number = match (t.disc, t.track) {
        (Some(d), Some(n)) if d > 1 => format!("{d}-{n:02} "),
        (_, Some(n)) => format!("{n:02} "),
        _ => String::new(),
    };
    let mut left = format!("{number}{}", t.title);
    if let (Some(a), Some(aa)) = (&t.artist, album_artist)
        && !a.eq_ignore_ascii_case(aa)
    {
        left.push_str(" · ");
        left.push_str(a);
    }
    split_line(&left, &clock(t.duration), w)
}

fn library(buf: &mut Buffer, area: Rect, app: &mut App) {
    let cols = columns(area, &[30, 35, 35]);
    let l = &app.library;
    let empty_name = match l.shelf {
        Shelf::Genres => "(no genre)",
        _ => "(no artist)",
    };
    let mut spots = std::mem::take(&mut app.spots);
    let title = format!("{} ({})", l.shelf.title(), l.headings.items.len());
    let empty = if app.filter.is_some() {
        "(nothing matches the filter)"
    } else {
        "(no music yet: tapedeck scan FOLDER, then u)"
    };
    column(
        buf,
        cols[0],
        &title,
        &l.headings,
        l.focus == 0,
        0,
        &mut spots,
        empty,
        &mut |h, w| {
            let name = if h.name.is_empty() {
                empty_name
            } else {
                &h.name
            };
            split_line(name, &h.tracks.to_string(), w)
        },
    );
    separator(buf, cols[0].right(), area);
    let albums_title = match l.headings.selected() {
        Some(h) if !h.name.is_empty() => format!("Albums of {}", h.name),
        _ => "Albums".to_string(),
    };
    column(
        buf,
        cols[1],
        &albums_title,
        &l.albums,
        l.focus == 1,
        1,
        &mut spots,
        "(empty)",
        &mut |a, w| {
            let year = a.year.map_or("    ".to_string(), |y| format!("{y:04}"));
            let title = if a.title.is_empty() {
                "(no album)"
            } else {
                &a.title
            };
            let mut left = format!("{year} {title}");
            if l.shelf != Shelf::AlbumArtists && !a.artist.is_empty() {
                left.push_str(" · ");
                left.push_str(&a.artist);
            }
            let right = format!("{} {} {}", a.tracks, clock(a.duration), a.formats);
            // Details only when the title keeps most of the room.
            if text::width(&right) * 2 < w {
                split_line(&left, &right, w)
            } else {
                fit(&left, w)
            }
        },
    );
    separator(buf, cols[1].right(), area);
    let tracks_title = match l.albums.selected() {
        Some(a) if !a.title.is_empty() => a.title.clone(),
        _ => "Tracks".to_string(),
    };
    let album_artist = l.albums.selected().map(|a| a.artist.clone());
    column(
        buf,
        cols[2],
        &tracks_title,
        &l.tracks,
        l.focus == 2,
        2,
        &mut spots,
        "(empty)",
        &mut |t, w| track_line(t, w, album_artist.as_deref()),
    );
    app.spots = spots;
}

fn tracks(buf: &mut Buffer, area: Rect, app: &mut App) {
    let t = &app.tracks;
    let w = area.width as usize;
    let total = t.ids.as_ref().map_or(0, Vec::len);
    // Artist, title, album share what the year and length leave.
    let fixed = 5 + 8;
    let rest = w.saturating_sub(fixed + 2);
    let (wa, wt) = (rest * 25 / 100, rest * 40 / 100);
    let wb = rest - wa - wt;
    let sort = if t.sort_text.is_empty() {
        "album order".to_string()
    } else {
        format!("sorted by {}", t.sort_text)
    };
    let head = format!("Tracks: {total} · {sort} · artist, title, album, year, length");
    put(buf, area.x, area.y, &fit(&head, w), area.width, HEADING);
    let rows = area.height.saturating_sub(1) as usize;
    let list = Rect::new(area.x, area.y + 1, area.width, rows as u16);
    app.spots.push((list, Spot::Column(0)));
    for (k, track) in t.page.iter().enumerate().take(rows) {
        let i = t.page_top + k;
        let line = format!(
            "{} {} {}{}{}",
            fit(track.artist.as_deref().unwrap_or(""), wa),
            fit(&track.title, wt),
            fit(track.album.as_deref().unwrap_or(""), wb),
            fit(&track.year.map_or(String::new(), |y| format!(" {y}")), 5),
            fit(&format!("{:>8}", clock(track.duration)), 8),
        );
        let style = if i == t.sel { SELECTED } else { Style::new() };
        put(buf, area.x, list.y + k as u16, &line, area.width, style);
    }
    if total == 0 {
        put(
            buf,
            area.x,
            list.y,
            &fit("(no tracks)", w),
            area.width,
            Style::new(),
        );
    }
}

fn playlists(buf: &mut Buffer, area: Rect, app: &mut App) {
    let cols = columns(area, &[35, 65]);
    let p = &app.playlists;
    let mut spots = std::mem::take(&mut app.spots);
    let title = format!("Playlists ({})", p.lists.items.len());
    column(
        buf,
        cols[0],
        &title,
        &p.lists,
        p.focus == 0,
        0,
        &mut spots,
        "(empty)",
        &mut |pl, w| {
            let kind = if pl.query.is_some() { "smart" } else { "" };
            split_line(&pl.name, kind, w)
        },
    );
    separator(buf, cols[0].right(), area);
    let entries_title = p.lists.selected().map_or("Tracks".to_string(), |pl| {
        format!("{} ({})", pl.name, p.entries.items.len())
    });
    column(
        buf,
        cols[1],
        &entries_title,
        &p.entries,
        p.focus == 1,
        1,
        &mut spots,
        "(empty)",
        &mut |t, w| {
            let left = match &t.artist {
                Some(a) => format!("{a} — {}", t.title),
                None => t.title.clone(),
            };
            split_line(&left, &clock(t.duration), w)
        },
    );
    app.spots = spots;
}

fn queue(buf: &mut Buffer, area: Rect, app: &mut App) {
    let current = app.now.position;
    let total: f64 = app.queue.items.iter().map(|r| r.duration).sum();
    let n = app.queue.items.len();
    let title = format!(
        "Queue: {n} track{}, {}",
        if n == 1 { "" } else { "s" },
        clock(total)
    );
    let mut spots = std::mem::take(&mut app.spots);
    let digits = app.queue.items.len().max(1).to_string().len();
    let mut n = 0;
    column(
        buf,
        area,
        &title,
        &app.queue,
        true,
        0,
        &mut spots,
        "(empty)",
        &mut |r, w| {
            let i = app.queue.top + n;
            n += 1;
            let mark = if current == Some(i) { "▶" } else { " " };
            let mut left = format!("{mark}{:>digits$}. ", i + 1);
            if let Some(a) = &r.artist {
                left.push_str(a);
                left.push_str(" — ");
            }
            left.push_str(&r.title);
            if let Some(al) = &r.album {
                left.push_str(" (");
                left.push_str(al);
                left.push(')');
            }
            split_line(&left, &clock(r.duration), w)
        },
    );
    app.spots = spots;
    if let Some(c) = current
        && c >= app.queue.top
        && c < app.queue.top + area.height.saturating_sub(1) as usize
        && c != app.queue.sel
    {
        let y = area.y + 1 + (c - app.queue.top) as u16;
        buf.set_style(Rect::new(area.x, y, area.width, 1), HEADING);
    }
}

fn problems(buf: &mut Buffer, area: Rect, app: &mut App) {
    let title = format!(
        "Problems: {} files could not be indexed",
        app.problems.items.len()
    );
    let mut spots = std::mem::take(&mut app.spots);
    column(
        buf,
        area,
        &title,
        &app.problems,
        true,
        0,
        &mut spots,
        "(empty)",
        &mut |p, w| {
            let path = text::escape_path(&p.path);
            let pw = w * 6 / 10;
            format!(
                "{} {}",
                fit(&path, pw),
                fit(&p.reason, w.saturating_sub(pw + 1))
            )
        },
    );
    app.spots = spots;
}

/// The now-playing line: title, then artist, then album and year, dropped from the end (the
/// year first) until it fits; only then is the title cut.
pub fn title_line(now: &super::deck::Now, width: usize) -> String {
    let Some(title) = &now.title else {
        return fit("nothing playing", width);
    };
    let title = text::escape(title).into_owned();
    let artist = now.artist.as_deref().map(text::escape);
    let album = now.album.as_deref().map(text::escape);
    let year = now.year.as_deref().map(text::escape);
    let mut tries = Vec::new();
    let base = title.clone();
    let a = artist
        .as_ref()
        .map(|a| format!(" — {a}"))
        .unwrap_or_default();
    let b = album
        .as_ref()
        .map(|b| format!(" — {b}"))
        .unwrap_or_default();
    let y = year.as_ref().map(|y| format!(" ({y})")).unwrap_or_default();
    tries.push(format!("{base}{a}{b}{y}"));
    tries.push(format!("{base}{a}{b}"));
    tries.push(format!("{base}{a}"));
    for t in &tries {
        if text::width(t) <= width {
            return fit(t, width);
        }
    }
    fit(&base, width)
}

/// The details line: the parts dropped from the least needed (the gain) until it fits.
pub fn details_line(now: &super::deck::Now, width: usize) -> String {
    // (text, importance): lower importance goes first.
    let mut parts: Vec<(String, u8)> = Vec::new();
    if let (Some(f), true) = (&now.format, now.state != Playing::Stopped) {
        let mut s = f.clone();
        if let Some(r) = &now.rate {
            s.push(' ');
            s.push_str(r);
        }
        parts.push((s, 2));
    }
    if let Some(g) = &now.gain {
        parts.push((format!("gain {g}"), 1));
    }
    parts.push((format!("vol {}%", now.volume), 4));
    parts.push((
        format!("shuffle {}", if now.shuffle { "on" } else { "off" }),
        3,
    ));
    parts.push((
        format!(
            "repeat {}",
            match now.repeat {
                Repeat::Off => "off",
                Repeat::All => "all",
                Repeat::One => "one",
            }
        ),
        3,
    ));
    let place = match now.position {
        Some(p) => format!("{}/{}", p + 1, now.length),
        None => format!("-/{}", now.length),
    };
    parts.push((place, 5));
    loop {
        let line = parts
            .iter()
            .map(|(s, _)| text::escape(s).into_owned())
            .collect::<Vec<_>>()
            .join(" · ");
        if text::width(&line) <= width || parts.len() <= 1 {
            return fit(&line, width);
        }
        let least = parts
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, imp))| (*imp, usize::MAX - i))
            .map(|(i, _)| i)
            .expect("parts are not empty");
        parts.remove(least);
    }
}

/// The progress line: state, position, a bar, length.
pub fn progress_line(now: &super::deck::Now, width: usize) -> (String, usize, usize) {
    let state = match now.state {
        Playing::Playing => "▶",
        Playing::Paused => "‖",
        Playing::Stopped => "■",
    };
    let left = format!("{state} {} ", clock(now.elapsed));
    let right = format!(" {}", clock(now.duration));
    let room = width.saturating_sub(text::width(&left) + text::width(&right));
    let filled = if now.duration > 0.0 {
        ((now.elapsed / now.duration).clamp(0.0, 1.0) * room as f64).round() as usize
    } else {
        0
    };
    let bar = format!("{}{}", "━".repeat(filled), "─".repeat(room - filled));
    let start = text::width(&left);
    (format!("{left}{bar}{right}"), start, filled)
}

fn now_playing(buf: &mut Buffer, area: Rect, app: &App) {
    let w = area.width as usize;
    let y = area.bottom() - FOOTER;
    let now = &app.now;
    put(buf, area.x, y, &title_line(now, w), area.width, HEADING);
    let (bar, start, filled) = progress_line(now, w);
    put(buf, area.x, y + 1, &bar, area.width, Style::new());
    buf.set_style(
        Rect::new(area.x + start as u16, y + 1, filled as u16, 1),
        Style::new().fg(Color::Cyan),
    );
    put(
        buf,
        area.x,
        y + 2,
        &details_line(now, w),
        area.width,
        Style::new().add_modifier(Modifier::DIM),
    );
}

/// The last line: the prompt (with the query's error and caret above it), or a message, or
/// the hint. Returns where the cursor goes.
fn bottom_line(buf: &mut Buffer, area: Rect, app: &App) -> Option<Position> {
    let w = area.width as usize;
    let y = area.bottom() - 1;
    if let Some(p) = &app.prompt {
        let label = p.kind.label();
        let shown = text::escape(&p.text);
        let line = format!("{label}{shown}");
        // The typed text scrolls so the cursor stays on screen (its end, when it fits).
        let lw = text::width(&line);
        let cur =
            text::width(label) + text::width(&text::escape(&p.text[..p.cursor.min(p.text.len())]));
        let skip = lw.saturating_sub(w.saturating_sub(1)).min(cur);
        let mut skipped = 0;
        let visible: String = line
            .chars()
            .skip_while(|c| {
                let cw = unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0);
                if skipped < skip {
                    skipped += cw;
                    true
                } else {
                    false
                }
            })
            .collect();
        let cursor_x = area.x + cur.saturating_sub(skipped).min(w.saturating_sub(1)) as u16;
        match &p.error {
            Some((message, at)) => {
                let before: String = p.text.chars().take(*at).collect();
                let col = text::width(label) + text::width(&text::escape(&before));
                let col = col.saturating_sub(skipped);
                put(
                    buf,
                    area.x,
                    y - 1,
                    &fit(&visible, w),
                    area.width,
                    Style::new(),
                );
                let caret = format!("{}^ {message}", " ".repeat(col.min(w.saturating_sub(1))));
                put(
                    buf,
                    area.x,
                    y,
                    &fit(&caret, w),
                    area.width,
                    Style::new().fg(Color::Red),
                );
                return Some(Position::new(cursor_x, y - 1));
            }
            None => {
                put(buf, area.x, y, &fit(&visible, w), area.width, Style::new());
                let vw = text::width(&visible);
                if p.missed && vw + 12 < w {
                    put(
                        buf,
                        area.x + vw as u16 + 2,
                        y,
                        "(no match)",
                        10,
                        Style::new().fg(Color::Red),
                    );
                }
                return Some(Position::new(cursor_x, y));
            }
        }
    }
    let (line, style) = match &app.message {
        Some(m) if m.error => (format!("error: {}", m.text), Style::new().fg(Color::Red)),
        Some(m) => (m.text.clone(), Style::new()),
        None if app.now.error.is_some() => (
            format!("error: {}", app.now.error.as_deref().unwrap_or_default()),
            Style::new().fg(Color::Red),
        ),
        None => {
            let mut hint = String::from("? help");
            if app.deck.is_remote() {
                hint.push_str(" · attached to tapedeck serve");
            }
            if app.search.is_some() {
                hint.push_str(" · n/N next/previous match, Esc ends the search");
            }
            (hint, Style::new().add_modifier(Modifier::DIM))
        }
    };
    put(buf, area.x, y, &fit(&line, w), area.width, style);
    None
}

fn help(buf: &mut Buffer, area: Rect, app: &App) {
    let w = area.width.saturating_sub(2).min(72);
    let h = area.height.saturating_sub(2);
    let rect = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    Clear.render(rect, buf);
    Block::bordered()
        .title(" Keys: any key closes, j/k scroll ")
        .render(rect, buf);
    let inner = Rect::new(
        rect.x + 1,
        rect.y + 1,
        w.saturating_sub(2),
        h.saturating_sub(2),
    );
    let mut lines: Vec<String> = UiAction::ALL
        .iter()
        .map(|a| {
            let keys = app.keys.keys(*a).join(" ");
            format!("{} {}", fit(&keys, 14), keys::describe(*a))
        })
        .collect();
    for (keys, what) in keys::FIXED {
        lines.push(format!("{} {what}", fit(keys, 14)));
    }
    let rows = inner.height as usize;
    let top = app.help_top.min(lines.len().saturating_sub(rows));
    for (i, l) in lines.iter().skip(top).take(rows).enumerate() {
        put(
            buf,
            inner.x,
            inner.y + i as u16,
            &fit(l, inner.width as usize),
            inner.width,
            Style::new(),
        );
    }
}
