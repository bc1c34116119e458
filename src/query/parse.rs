//! Parsing query terms into a [`Query`], with errors that point at the offending text.

use super::{Cond, Direction, Field, Kind, Query, Term, TextOp};
use crate::model::fold;

/// A query that cannot be understood: what is wrong, where, and a hint when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub message: String,
    /// The whole query as the user wrote it, terms joined by spaces.
    pub text: String,
    /// Byte offset and length of the offending part within `text`.
    pub offset: usize,
    pub len: usize,
    pub hint: Option<String>,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Columns are counted in characters, so the caret lines up under non-ASCII text.
        let offset = floor_char_boundary(&self.text, self.offset);
        let end = floor_char_boundary(&self.text, offset + self.len);
        let pad = self.text[..offset].chars().count();
        let width = self.text[offset..end].chars().count().max(1);
        write!(
            f,
            "{}\n  {}\n  {}{}",
            self.message,
            self.text,
            " ".repeat(pad),
            "^".repeat(width)
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  {hint}")?;
        }
        Ok(())
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl std::error::Error for QueryError {}

/// Parses a query stored as one string (a smart playlist, the config file): split shell-style,
/// then parsed like command-line terms.
pub fn parse_str(text: &str, now: i64) -> Result<Query, QueryError> {
    let terms = shlex::split(text).ok_or_else(|| QueryError {
        message: "unbalanced quotes in the query".into(),
        text: text.to_string(),
        offset: 0,
        len: text.len(),
        hint: None,
    })?;
    parse(&terms, now)
}

/// Parses a sort order written as one string, `year+ album+ track-`: only sort keys allowed.
pub fn parse_sort(text: &str) -> Result<Vec<(Field, Direction)>, QueryError> {
    let mut keys = Vec::new();
    let mut offset = 0;
    for word in text.split(' ') {
        let at = offset;
        offset += word.len() + 1;
        if word.is_empty() {
            continue;
        }
        let err = |message: String, hint: Option<String>| QueryError {
            message,
            text: text.to_string(),
            offset: at,
            len: word.len(),
            hint,
        };
        match sort_term(word) {
            Some(Ok(key)) => keys.push(key),
            Some(Err((name, hint))) => {
                return Err(err(format!("unknown field `{name}` to sort by"), hint));
            }
            None => {
                return Err(err(
                    format!("`{word}` is not a sort key: use a field name followed by + or -"),
                    Some("as in 'year+ album+ track+'".into()),
                ));
            }
        }
    }
    Ok(keys)
}

/// The most terms (conditions and sort keys) one query may have. Each condition is a level of
/// the SQL expression a query compiles to, and SQLite refuses expressions nested 1,000 deep;
/// half that leaves room for what a single condition adds.
pub const MAX_TERMS: usize = 500;

/// Parses command-line terms: each argument is one term. `now` (unix seconds) anchors relative
/// dates such as `added:-1w..`. More than [`MAX_TERMS`] terms are refused.
pub fn parse<S: AsRef<str>>(terms: &[S], now: i64) -> Result<Query, QueryError> {
    let text = terms
        .iter()
        .map(|t| t.as_ref())
        .collect::<Vec<_>>()
        .join(" ");
    let mut query = Query::default();
    let mut group: Vec<Term> = Vec::new();
    let mut offset = 0;
    let mut saw_term = false;
    let mut counted = 0;
    for term in terms {
        let term = term.as_ref();
        let at = offset;
        offset += term.len() + 1;
        let err = |message: String, start: usize, len: usize, hint: Option<String>| QueryError {
            message,
            text: text.clone(),
            offset: at + start,
            len,
            hint,
        };
        if term != "," {
            counted += 1;
            if counted > MAX_TERMS {
                return Err(err(
                    format!("the query has more than {MAX_TERMS} terms, the most one may have"),
                    0,
                    term.len(),
                    Some("one regular expression matches many values, as in `artist::^(abba|queen)$`".into()),
                ));
            }
        }
        if term == "," {
            if group.is_empty() {
                return Err(err("`,` needs terms on both sides".into(), 0, 1, None));
            }
            query.groups.push(std::mem::take(&mut group));
            continue;
        }
        // Several sort keys written as one argument, as `--sort` takes them: 'year+ title-'.
        if let Some(keys) = sort_words(term) {
            for (start, word, key) in keys {
                match key {
                    Ok(s) => query.sort.push(s),
                    Err((name, hint)) => {
                        return Err(err(
                            format!("unknown field `{name}` to sort by"),
                            start,
                            word.len() - 1,
                            hint,
                        ));
                    }
                }
            }
            continue;
        }
        if let Some(sort) = sort_term(term) {
            match sort {
                Ok(s) => query.sort.push(s),
                Err((name, hint)) => {
                    return Err(err(
                        format!("unknown field `{name}` to sort by"),
                        0,
                        name.len(),
                        hint,
                    ));
                }
            }
            continue;
        }
        saw_term = true;
        let (negated, body, skip) = match term.strip_prefix(['^', '-']) {
            Some(rest) if !rest.is_empty() => (true, rest, 1),
            _ => (false, term, 0),
        };
        let cond =
            parse_cond(body, now).map_err(|e| err(e.message, skip + e.start, e.len, e.hint))?;
        group.push(Term { negated, cond });
    }
    if !group.is_empty() {
        query.groups.push(group);
    } else if !query.groups.is_empty() {
        return Err(QueryError {
            message: "`,` needs terms on both sides".into(),
            offset: text.len().saturating_sub(1),
            len: 1,
            text,
            hint: None,
        });
    }
    if !saw_term {
        query.groups.clear();
    }
    Ok(query)
}

struct TermError {
    message: String,
    start: usize,
    len: usize,
    hint: Option<String>,
}

fn term_err(message: impl Into<String>, start: usize, len: usize) -> TermError {
    TermError {
        message: message.into(),
        start,
        len,
        hint: None,
    }
}

/// A sort key, or the unknown field name and a suggestion.
type SortKey = Result<(Field, Direction), (String, Option<String>)>;

/// `year+`, `title-`: a sort key. Returns `None` when the term is not shaped like one.
fn sort_term(term: &str) -> Option<SortKey> {
    let (name, dir) = match term.as_bytes().last()? {
        b'+' => (&term[..term.len() - 1], Direction::Asc),
        b'-' => (&term[..term.len() - 1], Direction::Desc),
        _ => return None,
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
        return None;
    }
    Some(match Field::lookup(name) {
        Some(f) => Ok((f, dir)),
        None => Err((name.to_string(), suggestion(name))),
    })
}

/// A term made only of sort keys separated by spaces (`year+ title-`, one quoted argument):
/// each word with its offset. `None` when the term has one word or a word is not a sort key.
#[allow(clippy::type_complexity)]
fn sort_words(
    term: &str,
) -> Option<
    Vec<(
        usize,
        &str,
        Result<(Field, Direction), (String, Option<String>)>,
    )>,
> {
    let words = words(term);
    if words.len() < 2 {
        return None;
    }
    words
        .into_iter()
        .map(|(at, w)| sort_term(w).map(|k| (at, w, k)))
        .collect()
}

/// The space-separated words of `text`, with their byte offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

/// Mistakes in a text value (or a bare word) that would make it match nothing, or not what was
/// meant, without a word: a sort key inside a quoted argument (`'beatles year+'`), and a comma
/// stuck to a term (`genre:techno,`), which is part of the text rather than an `or`. `start` is
/// where `value` begins within the term.
fn check_text(value: &str, start: usize) -> Result<(), TermError> {
    if value.contains(char::is_whitespace) {
        for (at, word) in words(value) {
            if let Some(Ok(_)) = sort_term(word) {
                let mut e = term_err(
                    format!(
                        "`{word}` is a sort key inside a quoted argument, so it would be matched as text"
                    ),
                    start + at,
                    word.len(),
                );
                e.hint = Some(
                    "give sort keys as arguments of their own: 'artist:the beatles' year+".into(),
                );
                return Err(e);
            }
        }
    }
    let trimmed = value.trim_end();
    let (at, comma) = if trimmed.ends_with(',') && trimmed.len() > 1 {
        (trimmed.len() - 1, true)
    } else if value.starts_with(',') && value.len() > 1 {
        (0, true)
    } else {
        (0, false)
    };
    if comma {
        let mut e = term_err(
            "a comma that touches a term is matched as text, not as `or`",
            start + at,
            1,
        );
        e.hint = Some(
            "separate alternatives with a `,` of its own: genre:techno , genre:house \
             (a comma within a value is matched with a regular expression: genre::techno,)"
                .into(),
        );
        return Err(e);
    }
    Ok(())
}

fn suggestion(name: &str) -> Option<String> {
    crate::template::closest(&name.to_ascii_lowercase(), &Field::names())
        .map(|s| format!("did you mean `{s}`?"))
}

fn parse_cond(body: &str, now: i64) -> Result<Cond, TermError> {
    let bare = |body: &str| check_text(body, 0).map(|()| Cond::Bare(fold(body)));
    let Some(colon) = body.find(':') else {
        return bare(body);
    };
    let name = &body[..colon];
    let value = &body[colon + 1..];
    let vstart = colon + 1;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return bare(body);
    }
    if name.eq_ignore_ascii_case("has") {
        if value.is_empty() {
            let mut e = term_err("`has:` needs a field name", 0, colon + 1);
            e.hint = Some("as in has:cover or has:year".into());
            return Err(e);
        }
        let Some(field) = Field::lookup(value) else {
            let mut e = term_err(
                format!("unknown field `{value}` after `has:`"),
                vstart,
                value.len(),
            );
            e.hint = suggestion(value);
            return Err(e);
        };
        return Ok(Cond::Present(field));
    }
    let Some(field) = Field::lookup(name) else {
        return match suggestion(name) {
            Some(hint) => Err(TermError {
                message: format!("unknown field `{name}`"),
                start: 0,
                len: name.len(),
                hint: Some(hint),
            }),
            // Not a near miss of any field: a bare word that contains a colon ("Re:Stacks").
            None => bare(body),
        };
    };
    match field.kind() {
        Kind::Text | Kind::MultiText => Ok(if let Some(v) = value.strip_prefix("=~") {
            exact_value(field, v, "=~", vstart)?;
            Cond::Text(field, TextOp::EqualsFolded(fold(v)))
        } else if let Some(v) = value.strip_prefix('=') {
            exact_value(field, v, "=", vstart)?;
            Cond::Text(field, TextOp::Equals(v.to_string()))
        } else if let Some(pattern) = value.strip_prefix(':') {
            // Matched against composed text, so the pattern is composed too.
            let re = regex::Regex::new(&crate::model::nfc(pattern)).map_err(|e| {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or("").trim().to_string();
                term_err(
                    format!(
                        "invalid regular expression: {}",
                        last.trim_start_matches("error: ")
                    ),
                    vstart + 1,
                    pattern.len(),
                )
            })?;
            Cond::Text(field, TextOp::Regex(re))
        } else if value.is_empty() {
            Cond::Present(field)
        } else {
            check_text(value, vstart)?;
            Cond::Text(field, TextOp::Contains(fold(value)))
        }),
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "" | "true" | "yes" | "1" | "y" => Ok(Cond::Bool(field, true)),
            "false" | "no" | "0" | "n" => Ok(Cond::Bool(field, false)),
            _ => Err(term_err(
                format!("`{}:` takes true or false", field.name()),
                vstart,
                value.len(),
            )),
        },
        kind => {
            let value = value.strip_prefix('=').unwrap_or(value);
            if value.is_empty() {
                return Ok(Cond::Present(field));
            }
            parse_range(field, kind, value, now).map_err(|(message, at, len)| {
                let mut e = term_err(message, vstart + at, len);
                // `year:1990-1999`: a range written with a dash.
                if let Some((a, b)) = value.split_once('-')
                    && kind != Kind::Date
                    && !a.is_empty()
                    && bounds(kind, a, now).is_some()
                    && bounds(kind, b, now).is_some()
                {
                    e.hint = Some(format!("a range is written with two dots: {a}..{b}"));
                }
                e
            })
        }
    }
}

/// `artist:=` with nothing after it would look for an empty value, which is never stored.
fn exact_value(field: Field, v: &str, op: &str, vstart: usize) -> Result<(), TermError> {
    if v.is_empty() {
        let mut e = term_err(
            format!("`{}:{op}` needs a value", field.name()),
            0,
            vstart + op.len(),
        );
        e.hint = Some(format!(
            "`{0}:` alone matches tracks that have a {0}, `^{0}:` those without",
            field.name()
        ));
        return Err(e);
    }
    check_text(v, vstart + op.len())
}

type RangeError = (String, usize, usize);

fn parse_range(field: Field, kind: Kind, value: &str, now: i64) -> Result<Cond, RangeError> {
    let parse_end = |s: &str, at: usize, upper: bool| -> Result<Option<f64>, RangeError> {
        if s.is_empty() {
            return Ok(None);
        }
        let bounds =
            bounds(kind, s, now).ok_or_else(|| (describe_expected(field, kind, s), at, s.len()))?;
        Ok(Some(if upper { bounds.1 } else { bounds.0 }))
    };
    if let Some(i) = value.find("..") {
        let (a, b) = (&value[..i], &value[i + 2..]);
        let lo = parse_end(a, 0, false)?;
        let hi = parse_end(b, i + 2, true)?;
        if let (Some(l), Some(h)) = (lo, hi)
            && l > h
        {
            return Err((
                format!("the range `{value}` is empty: its start is after its end"),
                0,
                value.len(),
            ));
        }
        return Ok(Cond::Range(field, lo, hi));
    }
    let (lo, hi) = bounds(kind, value, now)
        .ok_or_else(|| (describe_expected(field, kind, value), 0, value.len()))?;
    // A lone relative date means "since then": `added:-1w` is `added:-1w..`.
    if kind == Kind::Date && value.starts_with('-') {
        return Ok(Cond::Range(field, Some(lo), None));
    }
    Ok(Cond::Range(field, Some(lo), Some(hi)))
}

fn describe_expected(field: Field, kind: Kind, got: &str) -> String {
    let what = match kind {
        Kind::Duration => "a length such as 270, 4:30 or 1:02:03",
        Kind::Bitrate => "a bitrate such as 192k",
        Kind::Date => "a date such as 2024, 2024-06, 2024-06-30 or a span such as -2w",
        _ if field == Field::SampleRate => "a sample rate such as 44100 or 44.1k",
        _ if field == Field::Size => "a size such as 5000000 or 5M",
        _ => "a number",
    };
    format!("`{}:` takes {what}, not `{got}`", field.name())
}

/// The inclusive interval a single value stands for, in the field's stored unit.
fn bounds(kind: Kind, s: &str, now: i64) -> Option<(f64, f64)> {
    match kind {
        Kind::Duration => {
            let secs = parse_duration(s)?;
            // `length:4:30` means any length that shows as 4:30.
            Some((secs, secs + 0.999_999))
        }
        Kind::Bitrate => {
            // `192k` and `192` are kilobits per second; `192000` is bits per second.
            let lower = s.to_ascii_lowercase();
            let kbps = match lower.strip_suffix('k') {
                Some(digits) => digits.parse::<f64>().ok().filter(|v| v.is_finite())?,
                None => {
                    let v = scaled(s)?;
                    if v >= 10_000.0 { v / 1000.0 } else { v }
                }
            };
            Some((kbps, kbps))
        }
        Kind::Date => date_bounds(s, now),
        _ => {
            let v = scaled(s)?;
            Some((v, v))
        }
    }
}

/// A number with an optional k/m/g suffix (x1000 each): `44.1k`, `5M`.
fn scaled(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, factor) = match t.as_bytes().last()? {
        b'k' => (&t[..t.len() - 1], 1e3),
        b'm' => (&t[..t.len() - 1], 1e6),
        b'g' => (&t[..t.len() - 1], 1e9),
        _ => (t, 1.0),
    };
    let v: f64 = digits.parse().ok()?;
    v.is_finite().then_some(v * factor)
}

/// `270`, `4:30`, `1:02:03`, `4:30.5` -> seconds.
fn parse_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        let v: f64 = p.parse().ok()?;
        if !v.is_finite() || v < 0.0 || (i > 0 && v >= 60.0) {
            return None;
        }
        total = total * 60.0 + v;
    }
    Some(total)
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A date (UTC) or a relative span back from `now`, as the inclusive interval of unix seconds it
/// covers: `2024` is the whole year, `2024-06` the month, `-2w` the instant two weeks ago.
fn date_bounds(s: &str, now: i64) -> Option<(f64, f64)> {
    if let Some(rel) = s.strip_prefix('-') {
        let unit = rel.chars().last()?;
        let n: f64 = rel[..rel.len() - unit.len_utf8()].parse().ok()?;
        let secs = match unit {
            'h' => 3600.0,
            'd' => 86_400.0,
            'w' => 7.0 * 86_400.0,
            'm' => 30.0 * 86_400.0,
            'y' => 365.0 * 86_400.0,
            _ => return None,
        };
        let t = now as f64 - n * secs;
        return n.is_finite().then_some((t, t));
    }
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let num = |p: &str, len: usize| {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())
            .flatten()
    };
    let y = num(parts.first()?, 4)?;
    let m = parts.get(1).map(|p| num(p, 2)).unwrap_or(Some(1))?;
    let d = parts.get(2).map(|p| num(p, 2)).unwrap_or(Some(1))?;
    if parts.len() > 3 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let start_day = days_from_civil(y, m, d);
    let (start, end) = match (parts.len(), time) {
        (1, None) => (start_day, days_from_civil(y + 1, 1, 1)),
        (2, None) => (
            start_day,
            if m == 12 {
                days_from_civil(y + 1, 1, 1)
            } else {
                days_from_civil(y, m + 1, 1)
            },
        ),
        (3, None) => (start_day, start_day + 1),
        (3, Some(t)) => {
            let hms: Vec<&str> = t.split(':').collect();
            let h = num(hms.first()?, 2)?;
            let mi = hms.get(1).map(|p| num(p, 2)).unwrap_or(Some(0))?;
            let se = hms.get(2).map(|p| num(p, 2)).unwrap_or(Some(0))?;
            let start = start_day * 86_400 + h * 3600 + mi * 60 + se;
            let span = match hms.len() {
                1 => 3600,
                2 => 60,
                _ => 1,
            };
            return Some((start as f64, (start + span - 1) as f64));
        }
        _ => return None,
    };
    Some(((start * 86_400) as f64, (end * 86_400 - 1) as f64))
}

#[cfg(test)]
pub(super) fn test_date_bounds(s: &str, now: i64) -> Option<(f64, f64)> {
    date_bounds(s, now)
}
