//! The browser's pages, for the full-screen UI: the first column's headings (album artists,
//! track artists or genres), a heading's albums, an album's tracks, each narrowed by a live
//! filter; and the searches that jump to the next heading or track holding a match. Headings
//! and albums are read whole (names and counts, thousands of rows at most); tracks are read per
//! album or per page of ids, never the whole library up front.

use std::collections::HashMap;

use rusqlite::OptionalExtension;
use rusqlite::types::Value;

use super::{Library, Members, Result, query};
use crate::model::Track;
use crate::query::Query;

/// What the browser's first column lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shelf {
    /// Album artists (the artist where a track has none): albums sit under one name.
    #[default]
    AlbumArtists,
    /// Every artist credited on a track, so a guest's albums show under them too.
    Artists,
    Genres,
}

impl Shelf {
    pub fn next(self) -> Shelf {
        match self {
            Shelf::AlbumArtists => Shelf::Artists,
            Shelf::Artists => Shelf::Genres,
            Shelf::Genres => Shelf::AlbumArtists,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Shelf::AlbumArtists => "Album artists",
            Shelf::Artists => "Artists",
            Shelf::Genres => "Genres",
        }
    }

    /// The heading's key over `tracks t` (folded: case and accents aside, so headings sort and
    /// group as people read them), the name it shows, and the table it comes from. Each pair
    /// of key and name is an index's, so an unfiltered list reads the index alone.
    fn key(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Shelf::AlbumArtists => (
                "(CASE WHEN t.albumartist IS NULL THEN t.fold_artist ELSE t.fold_albumartist END)",
                "COALESCE(t.albumartist, t.artist, '')",
                "tracks t",
            ),
            Shelf::Artists => (
                "a.fold_name",
                "a.name",
                "track_artists a JOIN tracks t ON t.id = a.track_id",
            ),
            Shelf::Genres => ("t.fold_genre", "COALESCE(t.genre, '')", "tracks t"),
        }
    }

    /// The condition (over `tracks t`) that a track sits under the heading whose key is `?N`.
    fn holds(self, n: usize) -> String {
        match self {
            Shelf::AlbumArtists => format!(
                "(CASE WHEN t.albumartist IS NULL THEN t.fold_artist ELSE t.fold_albumartist END) = ?{n}"
            ),
            Shelf::Artists => {
                format!("t.id IN (SELECT track_id FROM track_artists WHERE fold_name = ?{n})")
            }
            Shelf::Genres => format!("t.fold_genre = ?{n}"),
        }
    }
}

/// One entry of the first column.
#[derive(Debug, Clone, PartialEq)]
pub struct Heading {
    /// As tagged (one spelling when several differ only in case or accents); empty for tracks
    /// with none.
    pub name: String,
    /// The folded name: what the other calls take to name the heading.
    pub key: String,
    pub tracks: u64,
}

/// One album under a heading.
#[derive(Debug, Clone, PartialEq)]
pub struct AlbumRow {
    /// The album's title as tagged; empty for tracks without one.
    pub title: String,
    /// The album artist (the artist where there is none).
    pub artist: String,
    /// The folded title, which names the album together with `artist`.
    pub key: String,
    pub year: Option<i32>,
    pub tracks: u64,
    pub duration: f64,
    /// The formats of its tracks, comma-separated in alphabetical order.
    pub formats: String,
}

/// Which album a matching track belongs to, for a search that jumps to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub artist: String,
    pub album_key: String,
    pub id: i64,
}

/// The AND of a live filter and a search (either may be missing).
pub fn both(a: Option<&Query>, b: Option<&Query>) -> Option<Query> {
    match (a, b) {
        (None, None) => None,
        (Some(q), None) | (None, Some(q)) => Some(q.clone()),
        (Some(a), Some(b)) => {
            if a.is_everything() {
                return Some(b.clone());
            }
            if b.is_everything() {
                return Some(a.clone());
            }
            let mut groups = Vec::with_capacity(a.groups.len() * b.groups.len());
            for x in &a.groups {
                for y in &b.groups {
                    groups.push(x.iter().chain(y).cloned().collect());
                }
            }
            Some(Query {
                groups,
                sort: a.sort.clone(),
            })
        }
    }
}

/// A WHERE expression with its parameters, numbered after `taken` ones the caller binds first.
fn filter_sql(filter: Option<&Query>, taken: usize) -> (String, Vec<Value>) {
    query::where_clause_after(filter, false, taken)
}

impl Library {
    /// The first column: every heading with its track count, in folded name order.
    /// Unfiltered, album artists and credited artists are read from an index alone.
    pub fn headings(&self, shelf: Shelf, filter: Option<&Query>) -> Result<Vec<Heading>> {
        let (key, name, from) = shelf.key();
        let (w, p) = filter_sql(filter, 0);
        let sql = format!(
            "SELECT min({name}), {key}, count(*) FROM {from} WHERE {w} GROUP BY {key} ORDER BY {key}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| {
            Ok(Heading {
                name: r.get(0)?,
                key: r.get(1)?,
                tracks: r.get::<_, i64>(2)? as u64,
            })
        })?;
        rows.collect()
    }

    /// The albums under the heading keyed `heading`, by year (undated last), then title.
    pub fn heading_albums(
        &self,
        shelf: Shelf,
        heading: &str,
        filter: Option<&Query>,
    ) -> Result<Vec<AlbumRow>> {
        let (w, mut p) = filter_sql(filter, 1);
        p.insert(0, Value::Text(heading.to_string()));
        let sql = format!(
            "SELECT min(COALESCE(t.album, '')), min(COALESCE(t.albumartist, t.artist, '')), t.fold_album, \
             min(t.year), count(*), sum(t.duration), group_concat(DISTINCT t.format) \
             FROM tracks t WHERE {} AND ({w}) \
             GROUP BY COALESCE(t.albumartist, t.artist, '') COLLATE NOCASE, t.fold_album \
             ORDER BY min(t.year) IS NULL, min(t.year), t.fold_album, \
             COALESCE(t.albumartist, t.artist, '') COLLATE NOCASE",
            shelf.holds(1)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| {
            let formats: Option<String> = r.get(6)?;
            let mut formats: Vec<String> = formats
                .unwrap_or_default()
                .split(',')
                .map(str::to_string)
                .collect();
            formats.sort_unstable();
            Ok(AlbumRow {
                title: r.get(0)?,
                artist: r.get(1)?,
                key: r.get(2)?,
                year: r.get(3)?,
                tracks: r.get::<_, i64>(4)? as u64,
                duration: r.get::<_, Option<f64>>(5)?.unwrap_or(0.0),
                formats: formats.join(","),
            })
        })?;
        rows.collect()
    }

    /// An album's tracks under the heading keyed `heading`, in disc and track order.
    pub fn album_tracks(
        &self,
        shelf: Shelf,
        heading: &str,
        album: &AlbumRow,
        filter: Option<&Query>,
        members: Members<'_>,
    ) -> Result<Vec<Track>> {
        let (w, mut p) = filter_sql(filter, 3);
        p.splice(
            0..0,
            [
                Value::Text(heading.to_string()),
                Value::Text(album.artist.clone()),
                Value::Text(album.key.clone()),
            ],
        );
        let sql = format!(
            "SELECT {} FROM tracks t WHERE {} AND COALESCE(t.albumartist, t.artist, '') = ?2 COLLATE NOCASE \
             AND t.fold_album = ?3 AND ({w}) ORDER BY COALESCE(t.disc, 1), t.track, t.path",
            members.columns(),
            shelf.holds(1)
        );
        let mut out = Vec::new();
        self.stream_tracks(&sql, p, members, |t| {
            out.push(t);
            Ok(())
        })?
        .expect("collecting cannot fail");
        Ok(out)
    }

    /// The key of the first heading after the one keyed `after` (before it when `backwards`)
    /// that holds a track the query selects, wrapping around the ends; the heading itself when
    /// it is the only one.
    pub fn next_heading(
        &self,
        shelf: Shelf,
        after: Option<&str>,
        q: &Query,
        backwards: bool,
    ) -> Result<Option<String>> {
        let (key, _, from) = shelf.key();
        let (op, dir) = if backwards {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let ask = |after: Option<&str>| -> Result<Option<String>> {
            let (w, mut p) = filter_sql(Some(q), usize::from(after.is_some()));
            let bound = match after {
                Some(a) => {
                    p.insert(0, Value::Text(a.to_string()));
                    format!("{key} {op} ?1 AND ")
                }
                None => String::new(),
            };
            let sql =
                format!("SELECT {key} FROM {from} WHERE {bound}({w}) ORDER BY {key} {dir} LIMIT 1");
            self.conn
                .query_row(&sql, rusqlite::params_from_iter(p), |r| r.get(0))
                .optional()
        };
        match after {
            // Past the last one, the search wraps around to the first.
            Some(a) => match ask(Some(a))? {
                Some(found) => Ok(Some(found)),
                None => ask(None),
            },
            None => ask(None),
        }
    }

    /// The tracks under the heading keyed `heading` that the query selects, with the album
    /// each is on, in an album's track order.
    pub fn matches_under(&self, shelf: Shelf, heading: &str, q: &Query) -> Result<Vec<Found>> {
        let (w, mut p) = filter_sql(Some(q), 1);
        p.insert(0, Value::Text(heading.to_string()));
        let sql = format!(
            "SELECT COALESCE(t.albumartist, t.artist, ''), t.fold_album, t.id FROM tracks t \
             WHERE {} AND ({w}) ORDER BY COALESCE(t.disc, 1), t.track, t.path",
            shelf.holds(1)
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| {
            Ok(Found {
                artist: r.get(0)?,
                album_key: r.get(1)?,
                id: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Every track id the query selects, in no particular order (no sort to pay for).
    pub fn matching_ids(&self, q: &Query) -> Result<Vec<i64>> {
        let (w, p) = filter_sql(Some(q), 0);
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT t.id FROM tracks t WHERE {w}"))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| r.get(0))?;
        rows.collect()
    }

    /// Which of these track ids the query selects (in no particular order).
    pub fn matching_among(&self, ids: &[i64], q: &Query) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (w, p) = filter_sql(Some(q), 0);
        let mut list = String::with_capacity(ids.len() * 8);
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(&id.to_string());
        }
        let sql = format!("SELECT t.id FROM tracks t WHERE t.id IN ({list}) AND ({w})");
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p), |r| r.get(0))?;
        rows.collect()
    }

    /// The tracks with these ids, in the order given (missing ones left out), reading only
    /// `members`: a page of a long list.
    pub fn page(&self, ids: &[i64], members: Members<'_>) -> Result<Vec<Track>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut list = String::with_capacity(ids.len() * 8);
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            list.push_str(&id.to_string());
        }
        let sql = format!(
            "SELECT t.id AS td_id, {} FROM tracks t WHERE t.id IN ({list})",
            members.columns()
        );
        let mut found: HashMap<i64, Track> = HashMap::with_capacity(ids.len());
        let mut stmt = self.conn.prepare(&sql)?;
        let columns = super::RowColumns::of(&stmt, members)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            found.insert(row.get(0)?, columns.track(row)?);
        }
        // The order asked; an id given twice (a playlist's repeated entry) is shown twice.
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }
}

#[cfg(test)]
mod tests;
