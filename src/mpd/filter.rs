//! The arguments of MPD's search commands (`find`, `search`, `count`, `searchcount`, `list`,
//! `findadd`, `searchadd`, `searchaddpl`) turned into a [`Query`], with the trailing `sort`,
//! `window`, `group` and `position` arguments.
//!
//! Both of MPD's syntaxes are read: tag/value pairs (`find artist "X" album "Y"`) and filter
//! expressions (`((artist == "X") AND (album contains "Y"))`), by MPD's parser's rules and with
//! its error texts. The meaning is MPD's (`TagSongFilter`):
//! - `find`, `count`, `list` compare case-sensitively; `search` and the other `search*` commands
//!   compare folded ([`fold`]: case- and accent-insensitive). A tag/value pair is an exact match
//!   for `find` and a substring match for `search`.
//! - A tag matches when any of its values does. A track without the tag uses MPD's fallback
//!   (AlbumArtist falls back to Artist, sort tags to what they sort), and without that either it
//!   matches only an empty value: `find artist ""` finds tracks with no artist. `!=`, `!contains`,
//!   `!~`, `!starts_with` and `(!(...))` are the exact complement.
//! - `any` matches any of the tags a song block can carry (an OR over their fields; the path is
//!   not one of them, as in MPD).
//! - `file` and `base` name URIs ([`Roots`]); `base` selects the folder's tracks by a path
//!   prefix, `file ==` one track by its path. Substring and prefix matches on `file` look at the
//!   path below the root, not at the root's virtual name.
//! - `modified-since` and `added-since` take ISO 8601 or Unix seconds.
//! - Track and Disc are numbers in tapedeck: `==` needs a whole number, and `contains` or
//!   `starts_with` compare the number whole (MPD compares the tag's text); regular
//!   expressions on them are refused.
//! - Case-sensitive substring and prefix matches, and the folded prefix match, run as regular
//!   expressions on the composed (NFC) text; the folded prefix is case-insensitive only.
//!
//! MPD's expressions nest NOT and AND over conditions that may themselves be ORs (fallbacks,
//! `any`); the result is expanded into the query's OR-of-ANDs, negations pushed to the terms,
//! refused past [`MAX_TERMS`] terms.

use std::fmt;

use crate::model::{Field, fold, nfc};
use crate::query::{Cond, Direction, MAX_TERMS, Query, Term, TextOp};

use super::request::{AckCode, ArgError, Range, parse_range};
use super::tags::TagType;
use super::uri::{Roots, UriError};
use crate::query::days_from_civil;

/// The commands whose arguments are a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Find,
    Search,
    Count,
    SearchCount,
    List,
    FindAdd,
    SearchAdd,
    SearchAddPl,
}

impl Command {
    /// The command a protocol name names (MPD compares command names exactly).
    pub fn parse(name: &str) -> Option<Command> {
        Some(match name {
            "find" => Command::Find,
            "search" => Command::Search,
            "count" => Command::Count,
            "searchcount" => Command::SearchCount,
            "list" => Command::List,
            "findadd" => Command::FindAdd,
            "searchadd" => Command::SearchAdd,
            "searchaddpl" => Command::SearchAddPl,
            _ => return None,
        })
    }

    /// Whether the command compares folded (the `search` family).
    pub fn folds(self) -> bool {
        matches!(
            self,
            Command::Search | Command::SearchCount | Command::SearchAdd | Command::SearchAddPl
        )
    }
}

/// What `sort` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Tag(TagType),
    LastModified,
    Added,
}

/// A search command's arguments, read.
#[derive(Debug, Clone)]
pub struct Request {
    /// The filter; its `sort` holds the field `sort` names when tapedeck keeps that tag.
    pub query: Query,
    /// `sort TAG` (`true`: descending, written `-TAG`).
    pub sort: Option<(SortKey, bool)>,
    /// `window START:END`.
    pub window: Option<Range>,
    /// `list`: the tag listed.
    pub list: Option<TagType>,
    /// `count ... group TAG`, `list ... group TAG...`: in the order written.
    pub group: Vec<TagType>,
    /// `searchaddpl`: the playlist's name.
    pub playlist: Option<String>,
    /// `findadd`/`searchadd`/`searchaddpl ... position POS`, as written (`+N`/`-N` are
    /// relative to the current song, which only the queue knows).
    pub position: Option<String>,
}

/// Why a search command's arguments were refused. Answered with [`FilterError::code`]; the
/// texts are MPD's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// No filter, or a tag without its value.
    ArgCount,
    /// A tag/value pair with an unknown tag.
    UnknownFilterType,
    /// An expression with an unknown tag.
    UnknownFilterTypeNamed(String),
    WordExpected,
    QuotedStringExpected,
    ClosingQuoteNotFound,
    /// `'==' or '!=' expected`
    OperatorExpected,
    /// `'==' or '=~' expected` (AudioFormat)
    FormatOperatorExpected,
    AndExpected,
    OpenExpected,
    CloseExpected,
    Garbage,
    BadUri,
    NoSuchDirectory,
    BadTime(String),
    BadAudioFormat(String),
    BadRegex(String),
    UnknownSortTag,
    /// `list`/`group` with an unknown tag.
    UnknownTagType(String),
    ConflictingGroup,
    /// The legacy `list TAG ARTIST` with a tag other than Album.
    ShouldBeAlbum,
    Arg(ArgError),
    /// Something MPD accepts that a library search cannot do (`prio`, regular expressions on
    /// URIs and numbers).
    Unsupported(&'static str),
    /// The expression expands past [`MAX_TERMS`] terms.
    TooComplex,
}

impl FilterError {
    pub fn code(&self) -> AckCode {
        match self {
            FilterError::NoSuchDirectory => AckCode::NoExist,
            _ => AckCode::Arg,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FilterError::*;
        match self {
            ArgCount => f.write_str("Incorrect number of filter arguments"),
            UnknownFilterType => f.write_str("Unknown filter type"),
            UnknownFilterTypeNamed(n) => write!(f, "Unknown filter type: {n}"),
            WordExpected => f.write_str("Word expected"),
            QuotedStringExpected => f.write_str("Quoted string expected"),
            ClosingQuoteNotFound => f.write_str("Closing quote not found"),
            OperatorExpected => f.write_str("'==' or '!=' expected"),
            FormatOperatorExpected => f.write_str("'==' or '=~' expected"),
            AndExpected => f.write_str("'AND' expected"),
            OpenExpected => f.write_str("'(' expected"),
            CloseExpected => f.write_str("')' expected"),
            Garbage => f.write_str("Unparsed garbage after expression"),
            BadUri => f.write_str("Bad URI"),
            NoSuchDirectory => f.write_str("No such directory"),
            BadTime(s) => write!(f, "Failed to parse time stamp: {s}"),
            BadAudioFormat(s) => write!(f, "Failed to parse audio format: {s}"),
            BadRegex(s) => write!(f, "Invalid regular expression: {s}"),
            UnknownSortTag => f.write_str("Unknown sort tag"),
            UnknownTagType(s) => write!(f, "Unknown tag type: {s}"),
            ConflictingGroup => f.write_str("Conflicting group"),
            ShouldBeAlbum => f.write_str("should be \"Album\" for 3 arguments"),
            Arg(e) => e.fmt(f),
            Unsupported(what) => write!(f, "Unsupported filter: {what}"),
            TooComplex => write!(f, "Filter expands to more than {MAX_TERMS} terms"),
        }
    }
}

impl std::error::Error for FilterError {}

impl From<ArgError> for FilterError {
    fn from(e: ArgError) -> Self {
        FilterError::Arg(e)
    }
}

/// Reads a search command's arguments (without the command word).
pub fn parse(cmd: Command, args: &[String], roots: &Roots) -> Result<Request, FilterError> {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut req = Request {
        query: Query::default(),
        sort: None,
        window: None,
        list: None,
        group: Vec::new(),
        playlist: None,
        position: None,
    };
    let fold_case = cmd.folds();
    let trailing = |args: &mut Vec<&str>, word: &str| -> Option<String> {
        (args.len() >= 2 && args[args.len() - 2] == word).then(|| {
            let v = args.pop().expect("two left").to_string();
            args.pop();
            v
        })
    };
    let mut formula = F::True;
    match cmd {
        Command::Find
        | Command::Search
        | Command::FindAdd
        | Command::SearchAdd
        | Command::SearchAddPl => {
            if cmd == Command::SearchAddPl {
                if args.is_empty() {
                    return Err(FilterError::ArgCount);
                }
                req.playlist = Some(args.remove(0).to_string());
            }
            if matches!(
                cmd,
                Command::FindAdd | Command::SearchAdd | Command::SearchAddPl
            ) {
                req.position = trailing(&mut args, "position");
            }
            if let Some(w) = trailing(&mut args, "window") {
                req.window = Some(parse_range(&w)?);
            }
            if let Some(s) = trailing(&mut args, "sort") {
                req.sort = Some(parse_sort(&s)?);
            }
            formula = parse_filter(&args, fold_case, roots)?;
        }
        Command::Count | Command::SearchCount => {
            if let Some(g) = trailing(&mut args, "group") {
                req.group
                    .push(TagType::parse(&g).ok_or(FilterError::UnknownTagType(g))?);
            }
            if !args.is_empty() {
                formula = parse_filter(&args, fold_case, roots)?;
            }
        }
        Command::List => {
            if args.is_empty() {
                return Err(FilterError::ArgCount);
            }
            let name = args.remove(0);
            let listed = TagType::parse(name)
                .ok_or_else(|| FilterError::UnknownTagType(name.to_string()))?;
            req.list = Some(listed);
            if args.len() == 1 && !args[0].starts_with('(') {
                // MPD before 0.12: `list album ARTIST`.
                if listed != TagType::Album {
                    return Err(FilterError::ShouldBeAlbum);
                }
                formula = tag_match(TagType::Artist, &StringFilter::full(args[0], false))?;
                args.clear();
            }
            let mut groups = Vec::new();
            while let Some(g) = trailing(&mut args, "group") {
                let tag = TagType::parse(&g).ok_or(FilterError::UnknownTagType(g))?;
                if tag == listed || groups.contains(&tag) {
                    return Err(FilterError::ConflictingGroup);
                }
                groups.push(tag);
            }
            groups.reverse();
            req.group = groups;
            if !args.is_empty() {
                formula = parse_filter(&args, fold_case, roots)?;
            }
        }
    }
    req.query = to_query(formula)?;
    if let Some((key, descending)) = req.sort {
        let field = match key {
            SortKey::Tag(t) => t.sort_field(),
            SortKey::LastModified => Some(Field::Modified),
            SortKey::Added => Some(Field::Added),
        };
        let dir = if descending {
            Direction::Desc
        } else {
            Direction::Asc
        };
        req.query.sort = field.map(|f| (f, dir)).into_iter().collect();
    }
    Ok(req)
}

fn parse_sort(s: &str) -> Result<(SortKey, bool), FilterError> {
    let (name, descending) = match s.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let key = if name.eq_ignore_ascii_case("Last-Modified") {
        SortKey::LastModified
    } else if name.eq_ignore_ascii_case("Added") {
        SortKey::Added
    } else if name.eq_ignore_ascii_case("prio") {
        return Err(FilterError::Unsupported("sort prio"));
    } else {
        SortKey::Tag(TagType::parse(name).ok_or(FilterError::UnknownSortTag)?)
    };
    Ok((key, descending))
}

/// A boolean formula over query terms, before it is expanded into OR-of-ANDs.
#[derive(Debug, Clone)]
enum F {
    True,
    False,
    Lit(Term),
    And(Vec<F>),
    Or(Vec<F>),
}

fn lit(cond: Cond) -> F {
    F::Lit(Term {
        negated: false,
        cond,
    })
}

fn and(a: F, b: F) -> F {
    match (a, b) {
        (F::False, _) | (_, F::False) => F::False,
        (F::True, x) | (x, F::True) => x,
        (a, b) => F::And(vec![a, b]),
    }
}

fn or(a: F, b: F) -> F {
    match (a, b) {
        (F::True, _) | (_, F::True) => F::True,
        (F::False, x) | (x, F::False) => x,
        (a, b) => F::Or(vec![a, b]),
    }
}

fn any_of(items: Vec<F>) -> F {
    items.into_iter().fold(F::False, or)
}

/// The complement, negations pushed down to the terms.
fn not(f: F) -> F {
    match f {
        F::True => F::False,
        F::False => F::True,
        F::Lit(t) => F::Lit(Term {
            negated: !t.negated,
            cond: t.cond,
        }),
        F::And(items) => F::Or(items.into_iter().map(not).collect()),
        F::Or(items) => F::And(items.into_iter().map(not).collect()),
    }
}

/// OR-of-ANDs: an empty list is false, a list holding an empty group is true.
fn dnf(f: F) -> Result<Vec<Vec<Term>>, FilterError> {
    Ok(match f {
        F::True => vec![Vec::new()],
        F::False => Vec::new(),
        F::Lit(t) => vec![vec![t]],
        F::Or(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(dnf(i)?);
                if out.len() > MAX_TERMS {
                    return Err(FilterError::TooComplex);
                }
            }
            out
        }
        F::And(items) => {
            let mut out = vec![Vec::new()];
            for i in items {
                let right = dnf(i)?;
                if out.len() * right.len() > MAX_TERMS {
                    return Err(FilterError::TooComplex);
                }
                let mut next = Vec::new();
                for l in &out {
                    for r in &right {
                        let mut g: Vec<Term> = l.clone();
                        g.extend(r.iter().cloned());
                        next.push(g);
                    }
                }
                out = next;
            }
            out
        }
    })
}

/// A term no track matches: every track has an id.
fn never() -> Term {
    Term {
        negated: true,
        cond: Cond::Present(Field::Id),
    }
}

fn to_query(f: F) -> Result<Query, FilterError> {
    let groups = dnf(f)?;
    if groups.iter().map(Vec::len).sum::<usize>() > MAX_TERMS {
        return Err(FilterError::TooComplex);
    }
    let groups = if groups.is_empty() {
        vec![vec![never()]]
    } else if groups.iter().any(Vec::is_empty) {
        Vec::new()
    } else {
        groups
    };
    Ok(Query {
        groups,
        sort: Vec::new(),
    })
}

/// Where a string filter's value must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Full,
    Anywhere,
    Prefix,
    Regex,
}

/// MPD's `StringFilter`: a value, how it matches, folded or not, negated or not.
#[derive(Debug, Clone)]
struct StringFilter {
    value: String,
    fold_case: bool,
    position: Position,
    negated: bool,
}

impl StringFilter {
    fn full(value: &str, fold_case: bool) -> StringFilter {
        StringFilter {
            value: value.to_string(),
            fold_case,
            position: Position::Full,
            negated: false,
        }
    }

    /// The regular expression for a value matched as text at this position.
    fn regex(&self, prefix: &str) -> Result<regex::Regex, FilterError> {
        let flags = if self.fold_case { "(?i)" } else { "" };
        let body = match self.position {
            Position::Regex => self.value.clone(),
            Position::Prefix => format!("^{prefix}{}", regex::escape(&nfc(&self.value))),
            _ => format!("{prefix}{}", regex::escape(&nfc(&self.value))),
        };
        regex::Regex::new(&format!("{flags}{body}"))
            .map_err(|_| FilterError::BadRegex(self.value.clone()))
    }

    /// The condition on one text field (positive, without MPD's absent-tag rule).
    fn text(&self, f: Field) -> Result<F, FilterError> {
        let op = match (self.position, self.fold_case) {
            (Position::Full, false) => TextOp::Equals(self.value.clone()),
            (Position::Full, true) => TextOp::EqualsFolded(fold(&self.value)),
            (Position::Anywhere, true) => TextOp::Contains(fold(&self.value)),
            _ => TextOp::Regex(self.regex("")?),
        };
        Ok(lit(Cond::Text(f, op)))
    }

    /// The condition on a numeric tag (Track, Disc).
    fn number(&self, f: Field) -> Result<F, FilterError> {
        if self.position == Position::Regex {
            return Err(FilterError::Unsupported("regular expression on a number"));
        }
        if self.value.is_empty() && self.position != Position::Full {
            return Ok(lit(Cond::Present(f)));
        }
        Ok(match self.value.parse::<u32>() {
            Ok(n) if self.value.bytes().all(|b| b.is_ascii_digit()) => {
                lit(Cond::Range(f, Some(f64::from(n)), Some(f64::from(n))))
            }
            _ => F::False,
        })
    }

    fn field(&self, f: Field) -> Result<F, FilterError> {
        if matches!(f, Field::Track | Field::Disc) {
            self.number(f)
        } else {
            self.text(f)
        }
    }
}

/// MPD's `TagSongFilter` without its negation: any value matches, or the tag is absent and its
/// fallback matches, or nothing is there and the value is empty.
fn tag_match(tag: TagType, sf: &StringFilter) -> Result<F, FilterError> {
    let mut acc = if sf.value.is_empty() {
        F::True
    } else {
        F::False
    };
    for &f in tag.fields().iter().rev() {
        let absent = not(lit(Cond::Present(f)));
        acc = or(sf.field(f)?, and(absent, acc));
    }
    Ok(acc)
}

fn with_negation(f: F, sf: &StringFilter) -> F {
    if sf.negated { not(f) } else { f }
}

/// The fields `any` searches: those the song block carries.
const ANY_FIELDS: &[Field] = &[
    Field::Artist,
    Field::Album,
    Field::AlbumArtist,
    Field::Title,
    Field::Track,
    Field::Genre,
    Field::Date,
    Field::Composer,
    Field::Disc,
    Field::MbAlbumId,
    Field::MbTrackId,
];

fn any_match(sf: &StringFilter) -> Result<F, FilterError> {
    let mut items = Vec::new();
    for &f in ANY_FIELDS {
        let numeric = matches!(f, Field::Track | Field::Disc);
        if numeric && sf.position == Position::Regex {
            continue;
        }
        items.push(sf.field(f)?);
    }
    Ok(any_of(items))
}

/// `file`: the track's URI.
fn file_match(sf: &StringFilter, roots: &Roots) -> Result<F, FilterError> {
    let path_text = |p: &std::path::Path| p.to_string_lossy().into_owned();
    match sf.position {
        Position::Full => Ok(match roots.path_of(&sf.value) {
            Ok(p) => {
                let p = path_text(&p);
                let op = if sf.fold_case {
                    TextOp::EqualsFolded(fold(&p))
                } else {
                    TextOp::Equals(p)
                };
                lit(Cond::Text(Field::Path, op))
            }
            Err(_) => F::False,
        }),
        Position::Regex => Err(FilterError::Unsupported("regular expression on a URI")),
        Position::Anywhere => {
            let mut items = Vec::new();
            for (_, root) in roots.entries() {
                let root = format!("^{}/.*", regex::escape(&nfc(&path_text(root))));
                items.push(lit(Cond::Text(
                    Field::Path,
                    TextOp::Regex(sf.regex(&root)?),
                )));
            }
            Ok(any_of(items))
        }
        Position::Prefix => {
            let mut items = Vec::new();
            let starts = |s: &str, p: &str| {
                if sf.fold_case {
                    fold(s).starts_with(&fold(p))
                } else {
                    s.starts_with(p)
                }
            };
            let v = sf.value.as_str();
            for (name, root) in roots.entries() {
                let root = regex::escape(&nfc(&path_text(root)));
                let rest = v
                    .get(..name.len())
                    .filter(|head| starts(head, name))
                    .and_then(|_| v[name.len()..].strip_prefix('/'));
                if starts(name, v) {
                    let re = regex::Regex::new(&format!("^{root}/")).expect("escaped");
                    items.push(lit(Cond::Text(Field::Path, TextOp::Regex(re))));
                } else if let Some(rest) = rest {
                    let inner = StringFilter {
                        value: rest.to_string(),
                        ..sf.clone()
                    };
                    let re = inner.regex(&format!("{root}/"))?;
                    items.push(lit(Cond::Text(Field::Path, TextOp::Regex(re))));
                }
            }
            Ok(any_of(items))
        }
    }
}

/// `base`: the tracks in a folder (or the one file a URI names).
fn base_match(uri: &str, roots: &Roots) -> Result<F, FilterError> {
    if uri.is_empty() {
        return Ok(F::True);
    }
    let path = roots.path_of(uri).map_err(|e| match e {
        UriError::UnknownRoot => FilterError::NoSuchDirectory,
        _ => FilterError::BadUri,
    })?;
    let re = format!("^{}(?:/|$)", regex::escape(&nfc(&path.to_string_lossy())));
    Ok(lit(Cond::Text(
        Field::Path,
        TextOp::Regex(regex::Regex::new(&re).expect("escaped")),
    )))
}

fn since(field: Field, value: &str) -> Result<F, FilterError> {
    let t = parse_time(value).ok_or_else(|| FilterError::BadTime(value.to_string()))?;
    Ok(lit(Cond::Range(field, Some(t as f64), None)))
}

/// ISO 8601 (`2024-01-02`, `2024-01-02T03:04:05Z`, `2024-01-02T03:04+01:00`...) or Unix seconds,
/// as MPD's `ParseTimeStamp` reads them.
pub fn parse_time(s: &str) -> Option<i64> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&day)
    {
        return None;
    }
    let mut secs = days_from_civil(y, m, day) * 86_400;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix('Z') {
            (c, 0)
        } else if let Some(i) = t.find(['+', '-']) {
            let (c, z) = t.split_at(i);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = z[1..].replace(':', "");
            if z.len() != 4 {
                return None;
            }
            let (h, mi) = (num(&z[..2])?, num(&z[2..])?);
            (c, sign * (h * 3600 + mi * 60))
        } else {
            (t, 0)
        };
        let parts: Vec<&str> = clock.split(':').collect();
        if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        let vals: Vec<i64> = parts.iter().map(|p| num(p)).collect::<Option<_>>()?;
        let (h, mi, se) = (
            vals[0],
            *vals.get(1).unwrap_or(&0),
            *vals.get(2).unwrap_or(&0),
        );
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se - offset;
    }
    Some(secs)
}

/// `AudioFormat == "R:B:C"` (or `=~` with `*` for any).
fn audio_format_match(value: &str, mask: bool) -> Result<F, FilterError> {
    let bad = || FilterError::BadAudioFormat(value.to_string());
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut f = F::True;
    let exact = |field: Field, n: f64| lit(Cond::Range(field, Some(n), Some(n)));
    if !(mask && parts[0] == "*") {
        let rate: u32 = parts[0].parse().map_err(|_| bad())?;
        f = and(f, exact(Field::SampleRate, f64::from(rate)));
    }
    if !(mask && parts[1] == "*") {
        let bits = match parts[1] {
            "f" => not(lit(Cond::Present(Field::BitDepth))),
            "8" => lit(Cond::Range(Field::BitDepth, Some(1.0), Some(8.0))),
            "16" => lit(Cond::Range(Field::BitDepth, Some(9.0), Some(16.0))),
            "24" => lit(Cond::Range(Field::BitDepth, Some(17.0), Some(24.0))),
            "32" => lit(Cond::Range(Field::BitDepth, Some(25.0), None)),
            "dsd" => F::False,
            _ => return Err(bad()),
        };
        f = and(f, bits);
    }
    if !(mask && parts[2] == "*") {
        let channels: u8 = parts[2].parse().map_err(|_| bad())?;
        f = and(f, exact(Field::Channels, f64::from(channels)));
    }
    Ok(and(f, lit(Cond::Present(Field::SampleRate))))
}

/// What a filter-type word names.
enum Kind {
    Tag(TagType),
    Any,
    File,
    Base,
    ModifiedSince,
    AddedSince,
    AudioFormat,
    Prio,
}

/// MPD's `locate_parse_type`.
fn filter_kind(name: &str) -> Option<Kind> {
    Some(
        if name.eq_ignore_ascii_case("file") || name.eq_ignore_ascii_case("filename") {
            Kind::File
        } else if name.eq_ignore_ascii_case("any") {
            Kind::Any
        } else if name == "base" {
            Kind::Base
        } else if name == "modified-since" {
            Kind::ModifiedSince
        } else if name == "added-since" {
            Kind::AddedSince
        } else if name.eq_ignore_ascii_case("AudioFormat") {
            Kind::AudioFormat
        } else if name.eq_ignore_ascii_case("prio") {
            Kind::Prio
        } else {
            Kind::Tag(TagType::parse(name)?)
        },
    )
}

/// `SongFilter::Parse`: expressions and tag/value pairs, ANDed.
fn parse_filter(args: &[&str], fold_case: bool, roots: &Roots) -> Result<F, FilterError> {
    if args.is_empty() {
        return Err(FilterError::ArgCount);
    }
    let mut out = F::True;
    let mut i = 0;
    while i < args.len() {
        if args[i].starts_with('(') {
            let mut p = Parser {
                s: args[i],
                fold_case,
                roots,
            };
            let f = p.expression()?;
            if !p.s.is_empty() {
                return Err(FilterError::Garbage);
            }
            out = and(out, f);
            i += 1;
            continue;
        }
        if args.len() - i < 2 {
            return Err(FilterError::ArgCount);
        }
        out = and(out, pair(args[i], args[i + 1], fold_case, roots)?);
        i += 2;
    }
    Ok(out)
}

/// A tag/value pair: exact for `find`, folded substring for `search`.
fn pair(tag: &str, value: &str, fold_case: bool, roots: &Roots) -> Result<F, FilterError> {
    let sf = StringFilter {
        value: value.to_string(),
        fold_case,
        position: if fold_case {
            Position::Anywhere
        } else {
            Position::Full
        },
        negated: false,
    };
    match filter_kind(tag) {
        Some(Kind::Tag(t)) => tag_match(t, &sf),
        Some(Kind::Any) => any_match(&sf),
        Some(Kind::File) => file_match(&sf, roots),
        Some(Kind::Base) => base_match(value, roots),
        Some(Kind::ModifiedSince) => since(Field::Modified, value),
        Some(Kind::AddedSince) => since(Field::Added, value),
        Some(Kind::AudioFormat | Kind::Prio) | None => Err(FilterError::UnknownFilterType),
    }
}

/// MPD's filter expression parser over one argument.
struct Parser<'a> {
    s: &'a str,
    fold_case: bool,
    roots: &'a Roots,
}

impl Parser<'_> {
    fn skip(&mut self) {
        self.s = self.s.trim_start_matches(|c: char| c <= ' ');
    }

    fn eat(&mut self, prefix: &str) -> bool {
        match self.s.strip_prefix(prefix) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    /// `)` and the white space after it.
    fn close(&mut self) -> Result<(), FilterError> {
        if !self.eat(")") {
            return Err(FilterError::CloseExpected);
        }
        self.skip();
        Ok(())
    }

    fn word(&mut self) -> Result<&str, FilterError> {
        let end = self
            .s
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_' || c == '-'))
            .unwrap_or(self.s.len());
        if end == 0 {
            return Err(FilterError::WordExpected);
        }
        let (w, rest) = self.s.split_at(end);
        self.s = rest;
        self.skip();
        Ok(w)
    }

    fn quoted(&mut self) -> Result<String, FilterError> {
        let mut chars = self.s.chars();
        let quote = match chars.next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(FilterError::QuotedStringExpected),
        };
        let mut out = String::new();
        loop {
            match chars.next() {
                None => return Err(FilterError::ClosingQuoteNotFound),
                Some(c) if c == quote => break,
                Some('\\') => match chars.next() {
                    None => return Err(FilterError::ClosingQuoteNotFound),
                    Some(c) => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
        self.s = chars.as_str();
        self.skip();
        Ok(out)
    }

    /// The operator and value of a string condition (`ParseStringFilter`).
    fn string_filter(&mut self) -> Result<StringFilter, FilterError> {
        let ops = [
            ("contains ", Position::Anywhere, false),
            ("!contains ", Position::Anywhere, true),
            ("starts_with ", Position::Prefix, false),
            ("!starts_with ", Position::Prefix, true),
        ];
        for (word, position, negated) in ops {
            if self
                .s
                .get(..word.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(word))
            {
                self.s = &self.s[word.len()..];
                self.skip();
                let value = self.quoted()?;
                return Ok(StringFilter {
                    value,
                    fold_case: self.fold_case,
                    position,
                    negated,
                });
            }
        }
        let (position, negated) = if self.eat("=~") {
            (Position::Regex, false)
        } else if self.eat("!~") {
            (Position::Regex, true)
        } else if self.eat("==") {
            (Position::Full, false)
        } else if self.eat("!=") {
            (Position::Full, true)
        } else {
            return Err(FilterError::OperatorExpected);
        };
        self.skip();
        let value = self.quoted()?;
        Ok(StringFilter {
            value,
            fold_case: self.fold_case,
            position,
            negated,
        })
    }

    /// `SongFilter::ParseExpression`, at a `(`.
    fn expression(&mut self) -> Result<F, FilterError> {
        if !self.eat("(") {
            return Err(FilterError::OpenExpected);
        }
        self.skip();
        if self.s.starts_with('(') {
            let mut all = self.expression()?;
            loop {
                if self.s.starts_with(')') {
                    self.close()?;
                    return Ok(all);
                }
                if self.word()? != "AND" {
                    return Err(FilterError::AndExpected);
                }
                if !self.s.starts_with('(') {
                    return Err(FilterError::OpenExpected);
                }
                all = and(all, self.expression()?);
            }
        }
        if self.eat("!") {
            self.skip();
            if !self.s.starts_with('(') {
                return Err(FilterError::OpenExpected);
            }
            let inner = self.expression()?;
            self.close()?;
            return Ok(not(inner));
        }
        let name = self.word()?.to_string();
        let kind =
            filter_kind(&name).ok_or_else(|| FilterError::UnknownFilterTypeNamed(name.clone()))?;
        let f = match kind {
            Kind::ModifiedSince | Kind::AddedSince => {
                let value = self.quoted()?;
                let field = if matches!(kind, Kind::ModifiedSince) {
                    Field::Modified
                } else {
                    Field::Added
                };
                since(field, &value)?
            }
            Kind::Base => {
                let value = self.quoted()?;
                base_match(&value, self.roots)?
            }
            Kind::AudioFormat => {
                let mask = if self.eat("==") {
                    false
                } else if self.eat("=~") {
                    true
                } else {
                    return Err(FilterError::FormatOperatorExpected);
                };
                self.skip();
                let value = self.quoted()?;
                audio_format_match(&value, mask)?
            }
            Kind::Prio => return Err(FilterError::Unsupported("prio")),
            Kind::Tag(t) => {
                let sf = self.string_filter()?;
                with_negation(tag_match(t, &sf)?, &sf)
            }
            Kind::Any => {
                let sf = self.string_filter()?;
                with_negation(any_match(&sf)?, &sf)
            }
            Kind::File => {
                let sf = self.string_filter()?;
                with_negation(file_match(&sf, self.roots)?, &sf)
            }
        };
        self.close()?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests;
