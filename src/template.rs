//! Format templates such as `$artist - $title ($year)`: parsed once, rendered per track.
//!
//! `tapedeck ls -f` uses them for output, and file naming will use them for paths
//! (`$albumartist/$album/$disc$track $title`). A template is checked against the known field names
//! when it is parsed, so a typo is reported once, with a suggestion, instead of rendering as an
//! empty string for every track. What a field's text is (and whether it needs cleaning for use in
//! a path) is the caller's business: [`Template::render`] only asks for it by name.
//!
//! [`closest`] is the "did you mean" used here and by the query language. Pure string handling.

use std::fmt;

/// A parsed template: literal text and field references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Field(String),
}

/// Why a template did not parse, and the byte offset in the template where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub offset: usize,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

impl TemplateError {
    fn new(offset: usize, message: String) -> TemplateError {
        TemplateError { message, offset }
    }
}

/// The hint for a `$` that starts no field: most likely a price or a shell habit.
const LITERAL_DOLLAR: &str = "write `$$` for a literal `$`";

impl Template {
    /// Parses `$name`, `${name}` (so that `${title}s` works) and `$$`, a literal `$`. A name is a
    /// letter or `_` followed by letters, digits and `_`, and must be one of `known_fields`; an
    /// unknown one is an error that suggests the closest known name.
    pub fn parse(text: &str, known_fields: &[&str]) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest_start = 0;
        while let Some(found) = text[rest_start..].find('$') {
            let dollar = rest_start + found;
            literal.push_str(&text[rest_start..dollar]);
            let after = &text[dollar + 1..];

            // Every character this function looks at to find the end of a reference is ASCII, so
            // each slice below falls on a character boundary.
            let (name, written) = if after.starts_with('$') {
                literal.push('$');
                rest_start = dollar + 2;
                continue;
            } else if let Some(inner) = after.strip_prefix('{') {
                // A `$` or `{` before the closing brace means the brace was forgotten; reporting
                // the whole stretch as one strange field name would hide that.
                match inner.find(['}', '$', '{']) {
                    Some(close) if inner.as_bytes()[close] == b'}' => {
                        let name = &inner[..close];
                        if name.is_empty() {
                            return Err(TemplateError::new(
                                dollar,
                                format!("empty field name `${{}}` at {dollar}"),
                            ));
                        }
                        (name, &text[dollar..dollar + 3 + close])
                    }
                    _ => {
                        return Err(TemplateError::new(
                            dollar,
                            format!("unclosed `${{` at {dollar}: expected `}}` after the name"),
                        ));
                    }
                }
            } else {
                let len = after
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                let starts_well = after
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
                if !starts_well {
                    let message = if after.is_empty() {
                        format!("lone `$` at {dollar} ends the template: {LITERAL_DOLLAR}")
                    } else {
                        format!("expected a field name after `$` at {dollar}: {LITERAL_DOLLAR}")
                    };
                    return Err(TemplateError::new(dollar, message));
                }
                (&after[..len], &text[dollar..dollar + 1 + len])
            };

            if !known_fields.contains(&name) {
                return Err(unknown_field(name, written, dollar, known_fields));
            }
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field(name.to_string()));
            rest_start = dollar + written.len();
        }
        literal.push_str(&text[rest_start..]);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// Renders the template. `lookup` gives a field's text; a missing field renders as nothing.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Field(name) => {
                    if let Some(value) = lookup(name) {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }

    /// The field names the template uses, in order of first use, each once. Callers use this to
    /// load only what the template needs.
    pub fn fields(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for part in &self.parts {
            if let Part::Field(name) = part
                && !names.contains(&name.as_str())
            {
                names.push(name);
            }
        }
        names
    }
}

/// The error for a name that is not a field, worded in the form the user wrote (`$x` or `${x}`).
fn unknown_field(name: &str, written: &str, offset: usize, known: &[&str]) -> TemplateError {
    let braced = written.starts_with("${");
    let mut message = format!("unknown field `{written}` at {offset}");
    if let Some(suggestion) = closest(name, known) {
        if braced {
            message.push_str(&format!(": did you mean `${{{suggestion}}}`?"));
        } else {
            message.push_str(&format!(": did you mean `${suggestion}`?"));
        }
    }
    TemplateError::new(offset, message)
}

/// The known name closest to `name` by edit distance (Levenshtein, compared without regard to
/// case), or `None` when even the closest is too far to be a typo: more than a third of the name's
/// length, and always at least one edit is allowed. On a tie the earlier name in `known` wins.
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name: Vec<char> = name.to_lowercase().chars().collect();
    let limit = (name.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for &candidate in known {
        let other: Vec<char> = candidate.to_lowercase().chars().collect();
        // The distance is at least the difference in length; skipping those keeps a long
        // mistyped name from costing a full comparison against every field.
        if name.len().abs_diff(other.len()) > limit {
            continue;
        }
        let distance = edit_distance(&name, &other);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// Edit distance where insertions, deletions, substitutions and swaps of two neighbouring
/// characters each cost one (optimal string alignment), so `titel` is one step from `title`.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        rows[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &[
        "artist",
        "albumartist",
        "album",
        "title",
        "year",
        "track",
        "disc",
        "genre",
        "a_b2",
    ];

    fn lookup(name: &str) -> Option<String> {
        match name {
            "artist" => Some("Queen".into()),
            "albumartist" => Some("Queen".into()),
            "album" => Some("A Night at the Opera".into()),
            "title" => Some("Bohemian Rhapsody".into()),
            "year" => Some("1975".into()),
            "track" => Some("11".into()),
            "disc" => Some("1".into()),
            "a_b2" => Some("$title".into()),
            _ => None,
        }
    }

    fn check(template: &str, expected: &str) {
        let parsed = Template::parse(template, KNOWN)
            .unwrap_or_else(|e| panic!("template {template:?} failed: {e}"));
        assert_eq!(parsed.render(&lookup), expected, "template {template:?}");
    }

    #[test]
    fn renders() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain text", "plain text"),
            (
                "$artist - $title ($year)",
                "Queen - Bohemian Rhapsody (1975)",
            ),
            ("${title}s", "Bohemian Rhapsodys"),
            ("$title.mp3", "Bohemian Rhapsody.mp3"),
            (
                "$albumartist/$album/$disc$track $title",
                "Queen/A Night at the Opera/111 Bohemian Rhapsody",
            ),
            ("$artist$artist", "QueenQueen"),
            ("$$", "$"),
            ("$$artist", "$artist"),
            ("$$$artist", "$Queen"),
            ("price: 5$$", "price: 5$"),
            ("[$genre]", "[]"),
            ("${genre}x", "x"),
            ("$a_b2", "$title"),
            ("$year-", "1975-"),
            ("café – $title ♪", "café – Bohemian Rhapsody ♪"),
            ("{$year}", "{1975}"),
            ("}", "}"),
        ];
        for (template, expected) in cases {
            check(template, expected);
        }
    }

    #[test]
    fn greedy_names_take_every_name_character() {
        // `$artist_` would read as the field `artist_`, which is unknown: braces are the way to
        // put a name character right after a field.
        assert_eq!(
            Template::parse("$title_x", KNOWN).unwrap_err().message,
            "unknown field `$title_x` at 0: did you mean `$title`?"
        );
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str, usize)] = &[
            (
                "$artst",
                "unknown field `$artst` at 0: did you mean `$artist`?",
                0,
            ),
            (
                "x ${artst}",
                "unknown field `${artst}` at 2: did you mean `${artist}`?",
                2,
            ),
            (
                "$Artist",
                "unknown field `$Artist` at 0: did you mean `$artist`?",
                0,
            ),
            (
                "$albmartist",
                "unknown field `$albmartist` at 0: did you mean `$albumartist`?",
                0,
            ),
            ("$zzz", "unknown field `$zzz` at 0", 0),
            (
                "${ title }",
                "unknown field `${ title }` at 0: did you mean `${title}`?",
                0,
            ),
            ("é $nope", "unknown field `$nope` at 3", 3),
            (
                "$",
                "lone `$` at 0 ends the template: write `$$` for a literal `$`",
                0,
            ),
            (
                "abc $",
                "lone `$` at 4 ends the template: write `$$` for a literal `$`",
                4,
            ),
            (
                "$5",
                "expected a field name after `$` at 0: write `$$` for a literal `$`",
                0,
            ),
            (
                "a $ b",
                "expected a field name after `$` at 2: write `$$` for a literal `$`",
                2,
            ),
            (
                "$é",
                "expected a field name after `$` at 0: write `$$` for a literal `$`",
                0,
            ),
            ("${", "unclosed `${` at 0: expected `}` after the name", 0),
            (
                "${title",
                "unclosed `${` at 0: expected `}` after the name",
                0,
            ),
            (
                "${title - $year}",
                "unclosed `${` at 0: expected `}` after the name",
                0,
            ),
            (
                "${{title}}",
                "unclosed `${` at 0: expected `}` after the name",
                0,
            ),
            ("${}", "empty field name `${}` at 0", 0),
        ];
        for (template, message, offset) in cases {
            let err = Template::parse(template, KNOWN).expect_err(template);
            assert_eq!(err.message, *message, "template {template:?}");
            assert_eq!(err.offset, *offset, "template {template:?}");
            assert_eq!(err.to_string(), *message);
        }
    }

    #[test]
    fn fields_are_listed_once_in_order() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("$$title", &[]),
            ("$title", &["title"]),
            (
                "$artist - $title - ${artist} $year $title",
                &["artist", "title", "year"],
            ),
        ];
        for (template, expected) in cases {
            let parsed = Template::parse(template, KNOWN).unwrap();
            assert_eq!(parsed.fields(), *expected, "template {template:?}");
        }
    }

    #[test]
    fn suggestions() {
        let cases: &[(&str, Option<&str>)] = &[
            ("artst", Some("artist")),
            ("ARTIST", Some("artist")),
            ("tilte", Some("title")), // One swap of neighbours.
            ("tlite", None),          // Two edits in five letters: too far.
            ("titl", Some("title")),
            ("yeer", Some("year")),
            ("yera", Some("year")),
            ("yrae", None),
            ("albumartst", Some("albumartist")),
            ("albmartst", Some("albumartist")),
            ("albm", Some("album")),
            ("dsc", Some("disc")),
            ("x", None),
            ("completely unrelated", None),
            ("", None),
        ];
        for (name, expected) in cases {
            assert_eq!(closest(name, KNOWN), *expected, "name {name:?}");
        }
        // A tie goes to the name listed first.
        assert_eq!(closest("ab", &["a", "b"]), Some("a"));
        assert_eq!(closest("ab", &["b", "a"]), Some("b"));
        assert_eq!(closest("artist", &[]), None);
    }

    #[test]
    fn distances() {
        let cases: &[(&str, &str, usize)] = &[
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("kitten", "sitting", 3),
            ("flaw", "lawn", 2),
            ("year", "yera", 1),
            ("ca", "abc", 3),
            ("ünï", "uni", 2),
        ];
        for (a, b, expected) in cases {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            assert_eq!(edit_distance(&a, &b), *expected, "{a:?} {b:?}");
            assert_eq!(edit_distance(&b, &a), *expected, "{b:?} {a:?}");
        }
    }

    #[test]
    fn hostile_templates_do_not_panic() {
        let long_name = format!("${}", "a".repeat(1 << 20));
        let long_literal = "x".repeat(1 << 20);
        let inputs = [
            long_name.as_str(),
            long_literal.as_str(),
            "$$$$$$$",
            "${${${",
            "$}{$",
            "\u{0}$\u{0}",
            "${\u{10FFFF}}",
            "$$é$",
        ];
        for input in inputs {
            if let Ok(t) = Template::parse(input, KNOWN) {
                t.render(&lookup);
            }
        }
        assert_eq!(
            Template::parse(&long_literal, KNOWN)
                .unwrap()
                .render(&lookup)
                .len(),
            1 << 20
        );
    }
}
