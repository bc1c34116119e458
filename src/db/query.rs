//! The query language compiled to SQL: the execution every command uses.
//!
//! A negated condition is wrapped so that NULL counts as false before it is negated, which makes
//! negation the exact complement (a negated term matches tracks where the field is missing);
//! positive conditions stay bare so SQLite can use the FTS and column indexes for them. Substring conditions
//! on the searchable fields go through the FTS5 trigram index when the needle has at least three
//! characters (the shortest a trigram index can use); shorter needles and other fields scan the
//! folded columns. The rules are the ones `crate::query` documents; a property test checks that
//! this execution and the in-memory matcher agree.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};

use crate::model::fold;
use crate::query::{Cond, Direction, Field, Query, TextOp};

/// What to list: a query (all tracks when `None`), in the query's sort order or the default one,
/// optionally shuffled and limited.
#[derive(Debug, Clone, Default)]
pub struct Selection<'a> {
    pub query: Option<&'a Query>,
    pub random: bool,
    pub limit: Option<u64>,
    /// Draw from the ids loaded with `Library::load_selection`, in their order (a playlist),
    /// instead of the whole library.
    pub within: bool,
}

/// Registers the SQL functions queries use: `td_fold(x)` (the model's fold) and `regexp`
/// (so `x REGEXP pattern` works, on the text's composed form as the in-memory matcher does),
/// with each pattern compiled once per statement.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("td_fold", 1, flags, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Text(b) | ValueRef::Blob(b) => Some(fold(&String::from_utf8_lossy(b))),
            _ => None,
        })
    })?;
    conn.create_scalar_function("regexp", 2, flags, |ctx| {
        let re = ctx.get_or_create_aux(
            0,
            |v| -> Result<regex::Regex, Box<dyn std::error::Error + Send + Sync>> {
                Ok(regex::Regex::new(v.as_str()?)?)
            },
        )?;
        Ok(match ctx.get_raw(1) {
            ValueRef::Text(b) | ValueRef::Blob(b) => {
                Some(re.is_match(&crate::model::nfc(&String::from_utf8_lossy(b))))
            }
            _ => None,
        })
    })
}

/// The SQL expression over `tracks t` for a field: the member's column, except for the artists
/// (kept in `track_artists`, with their display string in `artist`) and computed fields.
fn column(f: Field) -> String {
    match f {
        Field::Artist => "t.artist".into(),
        Field::ReplayGain => "(t.rg_track_gain IS NOT NULL OR t.rg_album_gain IS NOT NULL)".into(),
        Field::Analysed => "(t.analysed_at IS NOT NULL)".into(),
        Field::Integrity => "(CASE WHEN t.analysed_at IS NULL THEN 'unchecked' \
                             WHEN t.damage IS NOT NULL THEN 'damaged' ELSE 'ok' END)"
            .into(),
        _ => format!(
            "t.{}",
            f.member()
                .expect("a computed field has its SQL expression here")
        ),
    }
}

/// The folded column (also the FTS column) of a searchable field.
pub fn folded(f: Field) -> Option<String> {
    crate::query::BARE_FIELDS
        .contains(&f)
        .then(|| format!("fold_{}", f.name()))
}

/// A quoted FTS5 phrase.
fn phrase(needle: &str) -> String {
    format!("\"{}\"", needle.replace('"', "\"\""))
}

struct Sql {
    text: String,
    params: Vec<Value>,
    /// Parameters the caller binds before these (`?1`..`?taken`).
    taken: usize,
}

/// The shortest substring the trigram index serves; shorter ones are matched row by row.
const TRIGRAM: usize = 3;

/// Whether `needle` is searched through the trigram index.
fn indexed(needle: &str) -> bool {
    needle.chars().count() >= TRIGRAM
}

impl Sql {
    fn param(&mut self, v: impl Into<Value>) -> String {
        self.params.push(v.into());
        format!("?{}", self.taken + self.params.len())
    }

    /// A folded substring test on one field.
    fn contains(&mut self, f: Field, needle: &str) -> String {
        match folded(f) {
            Some(col) if indexed(needle) => {
                let p = self.param(format!("{col} : {}", phrase(needle)));
                format!("t.id IN (SELECT rowid FROM track_search WHERE track_search MATCH {p})")
            }
            Some(col) => {
                let p = self.param(needle.to_string());
                format!("(t.{col} != '' AND instr(t.{col}, {p}) > 0)")
            }
            None => {
                let c = column(f);
                let p = self.param(needle.to_string());
                format!("({c} != '' AND instr(td_fold({c}), {p}) > 0)")
            }
        }
    }

    fn cond(&mut self, cond: &Cond) -> String {
        match cond {
            Cond::Bare(needle) if indexed(needle) => {
                let p = self.param(phrase(needle));
                format!("t.id IN (SELECT rowid FROM track_search WHERE track_search MATCH {p})")
            }
            Cond::Bare(needle) => {
                let parts: Vec<String> =
                    crate::query::BARE_FIELDS.iter().map(|&f| self.contains(f, needle)).collect();
                format!("({})", parts.join(" OR "))
            }
            Cond::Text(f, op) => {
                if *f == Field::Artist {
                    let test = match op {
                        TextOp::Contains(n) => return self.contains(*f, n),
                        TextOp::Equals(v) => format!("a.name = {}", self.param(v.clone())),
                        TextOp::EqualsFolded(v) => format!("a.fold_name = {}", self.param(v.clone())),
                        TextOp::Regex(re) => format!("a.name REGEXP {}", self.param(re.as_str().to_string())),
                    };
                    return format!(
                        "EXISTS (SELECT 1 FROM track_artists a WHERE a.track_id = t.id AND a.name != '' AND {test})"
                    );
                }
                let c = column(*f);
                match op {
                    TextOp::Contains(n) => self.contains(*f, n),
                    TextOp::Equals(v) => format!("({c} != '' AND {c} = {})", self.param(v.clone())),
                    TextOp::EqualsFolded(v) => {
                        let p = self.param(v.clone());
                        match folded(*f) {
                            Some(fc) => format!("({c} != '' AND t.{fc} = {p})"),
                            None => format!("({c} != '' AND td_fold({c}) = {p})"),
                        }
                    }
                    TextOp::Regex(re) => {
                        let p = self.param(re.as_str().to_string());
                        // Paths may be stored as BLOBs; CAST is not needed, regexp reads both.
                        format!("({c} != '' AND {c} REGEXP {p})")
                    }
                }
            }
            Cond::Range(f, lo, hi) => {
                let c = column(*f);
                let mut parts = vec![format!("{c} IS NOT NULL")];
                if let Some(lo) = lo {
                    parts.push(format!("{c} >= {}", self.param(*lo)));
                }
                if let Some(hi) = hi {
                    parts.push(format!("{c} <= {}", self.param(*hi)));
                }
                format!("({})", parts.join(" AND "))
            }
            Cond::Bool(f, want) => format!("({} = {})", column(*f), if *want { 1 } else { 0 }),
            Cond::Present(f) => match f.kind() {
                crate::query::Kind::MultiText => {
                    "EXISTS (SELECT 1 FROM track_artists a WHERE a.track_id = t.id AND a.name != '')".into()
                }
                crate::query::Kind::Text => {
                    let c = column(*f);
                    format!("({c} IS NOT NULL AND {c} != '')")
                }
                crate::query::Kind::Bool => format!("({} = 1)", column(*f)),
                _ => format!("({} IS NOT NULL)", column(*f)),
            },
        }
    }

    fn query(&mut self, q: &Query) -> String {
        if q.is_everything() {
            return "1".into();
        }
        let groups: Vec<String> = q
            .groups
            .iter()
            .map(|g| {
                let terms: Vec<String> = g
                    .iter()
                    .map(|term| {
                        // A NULL rejects a row just as 0 does, so positive terms stay bare and
                        // can use indexes; only negation needs the NULL turned into 0.
                        let e = self.cond(&term.cond);
                        if term.negated {
                            format!("NOT COALESCE({e}, 0)")
                        } else {
                            e
                        }
                    })
                    .collect();
                format!("({})", terms.join(" AND "))
            })
            .collect();
        groups.join(" OR ")
    }
}

fn order_by(q: Option<&Query>, default_order: &str) -> String {
    let Some(q) = q.filter(|q| !q.sort.is_empty()) else {
        return default_order.to_string();
    };
    let mut keys: Vec<String> = q
        .sort
        .iter()
        .map(|(f, dir)| {
            let c = match folded(*f) {
                Some(fc) => format!("t.{fc}"),
                None => column(*f),
            };
            let d = if *dir == Direction::Desc {
                "DESC"
            } else {
                "ASC"
            };
            format!("{c} {d}")
        })
        .collect();
    keys.push(default_order.to_string());
    keys.join(", ")
}

/// The WHERE expression (over `tracks t`) and its parameters for a query; everything when `None`.
pub fn where_clause(q: Option<&Query>, within: bool) -> (String, Vec<Value>) {
    where_clause_after(q, within, 0)
}

/// [`where_clause`] for a statement whose own parameters `?1`..`?taken` come first: the
/// query's are numbered after them.
pub fn where_clause_after(q: Option<&Query>, within: bool, taken: usize) -> (String, Vec<Value>) {
    let mut sql = Sql {
        text: String::new(),
        params: Vec::new(),
        taken,
    };
    let mut w = q.map_or("1".to_string(), |q| sql.query(q));
    if within {
        w = format!("({w}) AND t.id IN (SELECT track_id FROM temp.selection)");
    }
    (w, sql.params)
}

/// Whether a query makes SQLite read every row: a substring shorter than the trigram index
/// serves, a regex, or a test that a field is present. A caller may want to wait before
/// running such a query as it is typed.
pub fn scans_every_row(q: &Query) -> bool {
    q.groups.iter().flatten().any(|t| match &t.cond {
        Cond::Bare(w) => !indexed(w),
        Cond::Text(f, TextOp::Contains(w)) => folded(*f).is_none() || !indexed(w),
        Cond::Text(_, TextOp::Regex(_)) | Cond::Present(_) => true,
        _ => false,
    })
}

/// The track's artists in order, joined by U+001F, as the result column `artists`.
pub const ARTISTS_COLUMN: &str = "(SELECT group_concat(name, char(31)) FROM \
    (SELECT name FROM track_artists a WHERE a.track_id = t.id ORDER BY position)) AS artists";

/// The SELECT for a selection: `columns` from `tracks t`, plus the track's artists joined by
/// U+001F as the last column when `with_artists`. Without a sort of its own it lists in album
/// order, or in playlist order when drawing from a loaded selection.
pub fn select_tracks(
    sel: &Selection<'_>,
    columns: &str,
    with_artists: bool,
) -> (String, Vec<Value>) {
    let mut sql = Sql {
        text: String::new(),
        params: Vec::new(),
        taken: 0,
    };
    let where_ = sel.query.map_or("1".to_string(), |q| sql.query(q));
    let natural = if sel.within {
        "s.pos"
    } else {
        super::ALBUM_ORDER
    };
    let order = if sel.random {
        "random()".to_string()
    } else {
        order_by(sel.query, natural)
    };
    let from = if sel.within {
        "temp.selection s JOIN tracks t ON t.id = s.track_id"
    } else {
        "tracks t"
    };
    let artists = if with_artists {
        format!(", {ARTISTS_COLUMN}")
    } else {
        String::new()
    };
    sql.text = format!("SELECT {columns}{artists} FROM {from} WHERE {where_} ORDER BY {order}");
    if let Some(limit) = sel.limit {
        let p = sql.param(limit as i64);
        sql.text.push_str(&format!(" LIMIT {p}"));
    }
    (sql.text, sql.params)
}

#[cfg(test)]
mod tests;
