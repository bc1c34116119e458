//! The query language: beets' syntax, parsed once into a [`Query`] that has two executions.
//!
//! The database compiles a `Query` to indexed SQL (that is what commands use); [`Query::matches`]
//! evaluates it against one [`Track`] in memory. Both follow the rules written here, and a
//! property test checks that they select the same tracks. Pure: no I/O, no SQL.
//!
//! Rules shared by both executions:
//! - Text is compared folded ([`fold`]): case- and accent-insensitive substring for `field:value`
//!   and bare words; `field:=value` is exact and case-sensitive on the stored text;
//!   `field:=~value` is exact on folded text; `field::regex` runs the regex on the stored text.
//! - A multi-valued field (artist) matches when any of its values does.
//! - A positive condition never matches a track where the field is missing; a negated one
//!   (`^term`, `-term`) is its exact complement, so it does match those tracks.
//! - Numeric, duration and date ranges are inclusive of both ends, resolved to numbers when
//!   parsed (relative dates against the `now` given to the parser).

mod parse;

pub use parse::{MAX_TERMS, QueryError, days_from_civil, parse, parse_sort, parse_str};

pub use crate::model::{FIELDS, Field, Kind};
use crate::model::{Track, Value, fold};

/// Fields a bare word searches.
pub const BARE_FIELDS: &[Field] = &[
    Field::Title,
    Field::Artist,
    Field::Album,
    Field::AlbumArtist,
    Field::Genre,
    Field::Path,
];

/// The fields of an album line (`ls --albums -f`, `albums -f`): what the album grouping knows.
/// `artist` is the album artist; `length` and `duration` are the total, `format` and `formats`
/// the formats of its tracks; `genre` is shown when all its tracks share one.
pub const ALBUM_FIELDS: &[&str] = &[
    "albumartist",
    "artist",
    "album",
    "year",
    "tracks",
    "length",
    "duration",
    "formats",
    "format",
    "genre",
];

/// How a text value is compared.
#[derive(Debug, Clone)]
pub enum TextOp {
    /// Folded substring; the needle is stored folded.
    Contains(String),
    /// Exact, case-sensitive.
    Equals(String),
    /// Exact on folded text; the value is stored folded.
    EqualsFolded(String),
    Regex(regex::Regex),
}

/// One condition on a track.
#[derive(Debug, Clone)]
pub enum Cond {
    /// A folded substring in any of the bare-word fields.
    Bare(String),
    Text(Field, TextOp),
    /// Inclusive range; `None` ends are open. Values are in the field's stored unit.
    Range(Field, Option<f64>, Option<f64>),
    Bool(Field, bool),
    /// The field has a value.
    Present(Field),
}

/// A condition, possibly negated.
#[derive(Debug, Clone)]
pub struct Term {
    pub negated: bool,
    pub cond: Cond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A parsed query: groups of terms (OR between groups, AND within one), and a sort order.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// An empty list matches every track.
    pub groups: Vec<Vec<Term>>,
    /// Empty means the default album order.
    pub sort: Vec<(Field, Direction)>,
}

impl Query {
    /// True when the query selects every track.
    pub fn is_everything(&self) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g.is_empty())
    }

    /// The in-memory execution.
    pub fn matches(&self, t: &Track) -> bool {
        self.is_everything()
            || self
                .groups
                .iter()
                .any(|g| g.iter().all(|term| term.cond.matches(t) != term.negated))
    }
}

/// A field's text values on a track; empty when missing. An empty string counts as missing.
pub fn text_values(t: &Track, f: Field) -> Vec<String> {
    let mut values = raw_text_values(t, f);
    values.retain(|v| !v.is_empty());
    values
}

fn raw_text_values(t: &Track, f: Field) -> Vec<String> {
    match f.get(t) {
        Value::Text(s) => vec![s.to_string()],
        Value::List(l) => l.to_vec(),
        Value::Path(p) => vec![p.to_string_lossy().into_owned()],
        _ => Vec::new(),
    }
}

/// A field's numeric value on a track, in the unit ranges use.
pub fn number_value(t: &Track, f: Field) -> Option<f64> {
    match f.get(t) {
        Value::Int(i) => Some(i as f64),
        Value::Real(r) => Some(r),
        _ => None,
    }
}

/// A field's value as text for display and templates: numbers plain, lengths as m:ss, dates
/// as YYYY-MM-DD (UTC), several artists joined with "; ". `None` when missing.
pub fn display_value(t: &Track, f: Field) -> Option<String> {
    match f.kind() {
        Kind::Text => text_values(t, f).into_iter().next(),
        Kind::MultiText => {
            let values = text_values(t, f);
            (!values.is_empty()).then(|| values.join(crate::model::ARTIST_JOIN))
        }
        Kind::Bool => Some(if bool_value(t, f) { "yes" } else { "no" }.to_string()),
        Kind::Duration => number_value(t, f).map(|s| {
            let s = s.round() as u64;
            if s >= 3600 {
                format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            } else {
                format!("{}:{:02}", s / 60, s % 60)
            }
        }),
        Kind::Date => number_value(t, f).map(|secs| civil_date(secs as i64)),
        Kind::Number | Kind::Bitrate => number_value(t, f).map(|v| format!("{v}")),
    }
}

/// A field's display value by any of its names (what templates and file names use).
pub fn field_text(t: &Track, name: &str) -> Option<String> {
    Field::lookup(name).and_then(|f| display_value(t, f))
}

/// "YYYY-MM-DD HH:MM" of a unix time, UTC.
pub fn civil_date_time(secs: i64) -> String {
    let t = secs.rem_euclid(86_400);
    format!("{} {:02}:{:02}", civil_date(secs), t / 3600, t / 60 % 60)
}

/// YYYY-MM-DD of a unix time, UTC.
pub fn civil_date(secs: i64) -> String {
    let (y, m, d) = civil_ymd(secs);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Year, month and day of a unix time, UTC.
pub fn civil_ymd(secs: i64) -> (i64, i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn bool_value(t: &Track, f: Field) -> bool {
    f.get(t) == Value::Bool(true)
}

impl Cond {
    pub fn matches(&self, t: &Track) -> bool {
        match self {
            Cond::Bare(needle) => BARE_FIELDS.iter().any(|&f| {
                text_values(t, f)
                    .iter()
                    .any(|v| fold(v).contains(needle.as_str()))
            }),
            Cond::Text(f, op) => text_values(t, *f).iter().any(|v| match op {
                TextOp::Contains(needle) => fold(v).contains(needle.as_str()),
                TextOp::Equals(want) => v == want,
                TextOp::EqualsFolded(want) => fold(v) == *want,
                TextOp::Regex(re) => re.is_match(&crate::model::nfc(v)),
            }),
            Cond::Range(f, lo, hi) => number_value(t, *f)
                .is_some_and(|v| lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)),
            Cond::Bool(f, want) => bool_value(t, *f) == *want,
            Cond::Present(f) => match f.kind() {
                Kind::Text | Kind::MultiText => !text_values(t, *f).is_empty(),
                Kind::Bool => bool_value(t, *f),
                _ => number_value(t, *f).is_some(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
