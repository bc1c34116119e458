//! The library database: the only module with SQL in it.
//!
//! One SQLite file holds roots, tracks, their artists and the problem list. Each track also
//! carries folded copies ([`fold`]) of the fields free text searches, indexed by an FTS5 trigram
//! table, so substring queries stay fast at a million tracks; [`query`] compiles the query
//! language to SQL over them. The schema evolves
//! through an append-only list of migrations keyed on `PRAGMA user_version`. The database runs in
//! WAL mode so that reading (`ls`, `stats`) works while a scan writes, and every scan batch is one
//! transaction, so a scan killed at any moment leaves the library consistent.
//!
//! Paths are stored byte-exact: as TEXT when they are valid UTF-8 and as a BLOB of the raw bytes
//! otherwise, so a file whose name is not UTF-8 keeps a stable identity and can be opened again.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use rusqlite::ToSql;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

pub mod browse;
pub mod query;

use crate::model::{self, MEMBERS, Member, Storage, Store, Stored, Track, fold};

pub use rusqlite::Error as DbError;
pub type Result<T> = std::result::Result<T, DbError>;

/// Append-only: never edit a migration that has shipped, add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: roots, tracks, artists, problems.
    r#"
    CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path UNIQUE NOT NULL,
        added_at INTEGER NOT NULL,
        last_scan INTEGER
    );
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        path UNIQUE NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER NOT NULL,
        fingerprint BLOB NOT NULL,
        title TEXT NOT NULL,
        artist TEXT,
        album TEXT,
        albumartist TEXT,
        track INTEGER,
        tracktotal INTEGER,
        disc INTEGER,
        disctotal INTEGER,
        year INTEGER,
        date TEXT,
        genre TEXT,
        composer TEXT,
        compilation INTEGER NOT NULL DEFAULT 0,
        duration REAL NOT NULL,
        bitrate INTEGER,
        samplerate INTEGER,
        bitdepth INTEGER,
        channels INTEGER,
        codec TEXT NOT NULL,
        format TEXT NOT NULL,
        container TEXT NOT NULL,
        has_cover INTEGER NOT NULL DEFAULT 0,
        rg_track_gain REAL,
        rg_track_peak REAL,
        rg_album_gain REAL,
        rg_album_peak REAL,
        mb_trackid TEXT,
        mb_albumid TEXT,
        added_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        plays INTEGER NOT NULL DEFAULT 0,
        skips INTEGER NOT NULL DEFAULT 0,
        last_played INTEGER,
        rating INTEGER,
        -- Folded copies for matching (see model::fold); artists joined by U+001F.
        fold_title TEXT NOT NULL DEFAULT '',
        fold_artist TEXT NOT NULL DEFAULT '',
        fold_album TEXT NOT NULL DEFAULT '',
        fold_albumartist TEXT NOT NULL DEFAULT '',
        fold_genre TEXT NOT NULL DEFAULT '',
        fold_path TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX tracks_year ON tracks(year);
    CREATE INDEX tracks_added ON tracks(added_at);
    CREATE INDEX tracks_played ON tracks(last_played);
    CREATE INDEX tracks_format ON tracks(format);
    CREATE INDEX tracks_genre ON tracks(fold_genre);
    CREATE INDEX tracks_album ON tracks(fold_album);
    CREATE INDEX tracks_albumartist ON tracks(fold_albumartist);
    CREATE VIRTUAL TABLE track_search USING fts5(
        fold_title, fold_artist, fold_album, fold_albumartist, fold_genre, fold_path,
        content = 'tracks', content_rowid = 'id', tokenize = 'trigram case_sensitive 1');
    -- Album grouping (stats, albums, ls --albums) uses exactly this expression.
    CREATE INDEX tracks_album_key ON tracks(COALESCE(albumartist, artist, '') COLLATE NOCASE, fold_album);
    CREATE INDEX tracks_fingerprint ON tracks(fingerprint);
    CREATE INDEX tracks_album_order ON tracks(
        albumartist COLLATE NOCASE, year, album COLLATE NOCASE, disc, track);
    CREATE TABLE track_artists (
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        fold_name TEXT NOT NULL,
        PRIMARY KEY (track_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX track_artists_name ON track_artists(name COLLATE NOCASE);
    CREATE TABLE problems (
        path UNIQUE NOT NULL,
        size INTEGER,
        mtime INTEGER,
        reason TEXT NOT NULL,
        seen_at INTEGER NOT NULL
    );
    "#,
    // 2: playlists. A static playlist lists track ids (so entries follow moves); a smart one
    // stores a query, evaluated when used.
    r#"
    CREATE TABLE playlists (
        id INTEGER PRIMARY KEY,
        name TEXT UNIQUE NOT NULL COLLATE NOCASE,
        query TEXT,
        sort TEXT,
        limit_tracks INTEGER,
        limit_minutes REAL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE playlist_entries (
        playlist_id INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        PRIMARY KEY (playlist_id, position)
    ) WITHOUT ROWID;
    CREATE INDEX playlist_entries_track ON playlist_entries(track_id);
    "#,
    // 3: the player's last queue (for `play --resume`), one row.
    r#"
    CREATE TABLE player_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        saved_at INTEGER NOT NULL
    );
    "#,
    // 4: conversions: one row per run, and what each run wrote (so a rerun skips finished
    // files: same source fingerprint, same settings).
    r#"
    CREATE TABLE conversions (
        id INTEGER PRIMARY KEY,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        target TEXT NOT NULL,
        format TEXT NOT NULL,
        settings TEXT NOT NULL,
        selected INTEGER NOT NULL,
        written INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        refused INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE converted_files (
        output TEXT PRIMARY KEY,
        fingerprint BLOB NOT NULL,
        settings TEXT NOT NULL,
        track_id INTEGER,
        size INTEGER NOT NULL,
        written_at INTEGER NOT NULL
    );
    "#,
    // 5: export targets (`tapedeck exports`): one row per device folder, updated by each sync.
    r#"
    CREATE TABLE exports (
        target TEXT PRIMARY KEY,
        profile TEXT NOT NULL,
        first_sync INTEGER NOT NULL,
        last_sync INTEGER NOT NULL,
        tracks INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        result TEXT NOT NULL
    );
    "#,
    // 6: whether an export target was a mount point at its last sync (a folder that was, and is
    // not now, is most likely a stick that is not mounted).
    r#"
    ALTER TABLE exports ADD COLUMN mount_point INTEGER NOT NULL DEFAULT 0;
    "#,
    // 7: what each `convert` run was of: its query terms (shell-quoted) and playlist.
    r#"
    ALTER TABLE conversions ADD COLUMN query TEXT;
    ALTER TABLE conversions ADD COLUMN playlist TEXT;
    "#,
    // 8: track columns named as the track's members (and so as its JSON keys); columns for
    // members added later are made from the member list when a library opens (`missing_columns`).
    r#"
    ALTER TABLE tracks RENAME COLUMN samplerate TO sample_rate;
    ALTER TABLE tracks RENAME COLUMN bitdepth TO bit_depth;
    "#,
    // 9: a lighter write path for scans. The album-order index was never used (album order
    // sorts on COALESCE(albumartist, artist), which `tracks_album_key` serves), and the search
    // index keeps no per-row column sizes (they serve only ranking, which nothing uses).
    r#"
    DROP INDEX tracks_album_order;
    DROP TABLE track_search;
    CREATE VIRTUAL TABLE track_search USING fts5(
        fold_title, fold_artist, fold_album, fold_albumartist, fold_genre, fold_path,
        content = 'tracks', content_rowid = 'id', tokenize = 'trigram case_sensitive 1',
        columnsize = 0);
    INSERT INTO track_search (track_search) VALUES ('rebuild');
    "#,
    // 10: discs `tapedeck cd` made (`tapedeck converted` lists them): one row per image, with
    // its track list as JSON.
    r#"
    CREATE TABLE discs (
        id INTEGER PRIMARY KEY,
        made_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        image TEXT NOT NULL,
        title TEXT NOT NULL,
        disc INTEGER NOT NULL,
        discs INTEGER NOT NULL,
        length TEXT NOT NULL,
        tracks TEXT NOT NULL
    );
    "#,
    // 11: the track indexes a first scan drops while it loads an empty library, kept here
    // until they are made again (at the end of the scan, or by the next scan after one that
    // was cut short).
    r#"
    CREATE TABLE deferred_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL);
    "#,
    // 12: the browser's headings (album artists, credited artists) in folded order, case and
    // accents aside, each read from an index alone with the name it shows.
    r#"
    CREATE INDEX tracks_shelf ON tracks(
        (CASE WHEN albumartist IS NULL THEN fold_artist ELSE fold_albumartist END),
        COALESCE(albumartist, artist, ''));
    CREATE INDEX track_artists_fold ON track_artists(fold_name, name);
    "#,
];

/// The SQLite URI that opens the database at `path` as immutable (read without locks or a WAL
/// index), with every byte of the path that a URI would misread percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Converts a path to the SQL value that stores it byte-exact.
pub fn path_value(path: &Path) -> Value {
    match path.to_str() {
        Some(s) => Value::Text(s.to_string()),
        None => Value::Blob(path.as_os_str().as_bytes().to_vec()),
    }
}

fn path_from(value: ValueRef<'_>) -> rusqlite::Result<PathBuf> {
    match value {
        ValueRef::Text(b) | ValueRef::Blob(b) => Ok(PathBuf::from(OsString::from_vec(b.to_vec()))),
        other => Err(rusqlite::types::FromSqlError::InvalidType.into_error(other)),
    }
}

trait IntoRusqlite {
    fn into_error(self, v: ValueRef<'_>) -> rusqlite::Error;
}
impl IntoRusqlite for rusqlite::types::FromSqlError {
    fn into_error(self, v: ValueRef<'_>) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(0, v.data_type(), Box::new(self))
    }
}

/// A folder the user asked to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub path: PathBuf,
    pub last_scan: Option<i64>,
}

/// What the scanner needs to know about a file already in the library to decide whether to open it.
#[derive(Debug, Clone)]
pub struct KnownFile {
    pub id: i64,
    pub path: PathBuf,
    pub size: i64,
    pub mtime: i64,
}

/// What identifies a track's content, for matching a moved file to the track it was.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: i64,
    pub path: PathBuf,
    pub size: i64,
    pub fingerprint: Vec<u8>,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
}

/// A problem file remembered with the size and mtime it had, so an unchanged broken file is not
/// opened again on every scan.
#[derive(Debug, Clone)]
pub struct KnownProblem {
    pub path: PathBuf,
    pub size: Option<i64>,
    pub mtime: Option<i64>,
}

/// One file as the scanner read it, ready to be stored.
#[derive(Debug, Clone)]
pub struct FileRecord {
    pub fingerprint: [u8; 16],
    /// The file part of the track: path, size, mtime, tags and stream facts.
    pub track: Track,
    /// The folded search columns, computed where the record is made (on a reader thread during a
    /// scan), not by the one thread that writes.
    folded: Vec<String>,
}

impl FileRecord {
    pub fn new(fingerprint: [u8; 16], track: Track) -> FileRecord {
        FileRecord {
            folded: folded_values(&track),
            fingerprint,
            track,
        }
    }
}

/// A file `convert` wrote, as remembered for reruns.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvertedFile {
    pub fingerprint: Vec<u8>,
    pub settings: String,
    pub track_id: Option<i64>,
    pub size: i64,
}

/// One `convert` run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conversion {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub target: String,
    pub format: String,
    pub settings: String,
    pub selected: i64,
    pub written: i64,
    pub skipped: i64,
    pub refused: i64,
    pub failed: i64,
    /// The query terms, shell-quoted (`None`: no query).
    pub query: Option<String>,
    /// The playlist (`-p`), if one was used.
    pub playlist: Option<String>,
}

/// A disc image `tapedeck cd` made.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DiscMade {
    pub made_at: i64,
    /// "audio" or "mp3".
    pub kind: String,
    /// The image's path (the cue sheet of an audio CD, the ISO of an MP3 CD).
    pub image: String,
    pub title: String,
    /// Its number among the discs of one run, and how many there were.
    pub disc: i64,
    pub discs: i64,
    /// `mm:ss:ff` for an audio CD, the size in bytes for an MP3 CD.
    pub length: String,
    /// The track list (title, performer, start or file), as the command recorded it.
    pub tracks: serde_json::Value,
}

/// What a `convert` run is, as it starts.
#[derive(Debug, Clone)]
pub struct ConversionStart<'a> {
    pub target: &'a str,
    pub format: &'a str,
    pub settings: &'a str,
    pub query: Option<&'a str>,
    pub playlist: Option<&'a str>,
    pub selected: usize,
}

/// A device `export` syncs to, as the last sync left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportTarget {
    pub target: String,
    pub profile: String,
    pub first_sync: i64,
    pub last_sync: i64,
    pub tracks: i64,
    pub bytes: i64,
    /// "ok", or what went wrong ("2 failed", "full", "interrupted").
    pub result: String,
    /// Whether the folder was a mount point at the last sync.
    pub mount_point: bool,
}

/// A file that could not be indexed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub path: PathBuf,
    pub reason: String,
    pub seen_at: i64,
}

/// Library-wide counts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub tracks: u64,
    pub albums: u64,
    pub artists: u64,
    pub duration: f64,
    pub size: u64,
    pub formats: Vec<(String, u64)>,
    pub problems: u64,
}

/// The condition for "under the folder `dir`" on `t.path`: paths under `dir/` sort between
/// `dir/` and `dir0` ('0' follows '/'), so the path index answers it.
fn under(dir: Option<&Path>) -> (&'static str, Vec<Value>) {
    let Some(dir) = dir else {
        return ("1", Vec::new());
    };
    let mut low = dir.as_os_str().as_encoded_bytes().to_vec();
    if low.last() != Some(&b'/') {
        low.push(b'/');
    }
    let mut high = low.clone();
    *high.last_mut().expect("not empty") = b'0';
    let value = |b: Vec<u8>| match String::from_utf8(b) {
        Ok(s) => Value::Text(s),
        Err(e) => Value::Blob(e.into_bytes()),
    };
    (
        "t.path >= ?1 AND t.path < ?2",
        vec![value(low), value(high)],
    )
}

/// An open library.
pub struct Library {
    conn: Connection,
    /// Between [`Library::defer_indexes`] and [`Library::restore_indexes`]: writes leave the
    /// search index alone, which is rebuilt whole at the end.
    bulk: bool,
}

/// The columns a track is read from: every member stored in `tracks`, by name.
static TRACK_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    MEMBERS
        .iter()
        .filter(|m| m.store != Store::Beside)
        .map(|m| format!("t.{}", m.name))
        .collect::<Vec<_>>()
        .join(", ")
});

/// Which members of each track a listing reads.
#[derive(Debug, Clone, Copy)]
pub enum Members<'a> {
    /// All of them.
    All,
    /// Only the members with these names; the others are left at their defaults. For listings
    /// that show a few members of many tracks, where reading whole rows is most of the cost.
    Only(&'a [&'static str]),
}

impl Members<'_> {
    fn wants(&self, m: &Member) -> bool {
        match self {
            Members::All => true,
            Members::Only(names) => names.contains(&m.name),
        }
    }

    /// The select list reading these members (the artist list through its subquery).
    fn columns(&self) -> String {
        if let Members::All = self {
            return format!("{}, {}", *TRACK_COLUMNS, query::ARTISTS_COLUMN);
        }
        MEMBERS
            .iter()
            .filter(|m| self.wants(m))
            .map(|m| match m.store {
                Store::Beside => query::ARTISTS_COLUMN.to_string(),
                _ => format!("t.{}", m.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Album order: album artist (the artist when there is none), year, album, disc (a missing disc
/// counts as disc 1), track, then path so that ties are stable.
const ALBUM_ORDER: &str = "COALESCE(t.albumartist, t.artist, '') COLLATE NOCASE, t.year, \
    t.album COLLATE NOCASE, COALESCE(t.disc, 1), t.track, t.path";

impl Library {
    /// Opens (creating if needed) the library at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Library> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 16 MiB of page cache (the default is 2 MiB): a scan's inserts touch a dozen indexes.
        conn.pragma_update(None, "cache_size", -16384)?;
        query::register_functions(&conn)?;
        let mut lib = Library { conn, bulk: false };
        lib.migrate()?;
        Ok(lib)
    }

    /// Opens the library at `path` for reading only, for the commands that never change it: they
    /// work on a library file (or folder) the user cannot write, and never create one.
    ///
    /// A WAL database read this way needs its `-shm` index: SQLite makes one beside the file when
    /// the folder is writable and reads the one a running writer keeps. When neither is possible
    /// (a read-only folder and no writer), the file is opened as immutable instead, which reads
    /// the database file alone; that is what it holds when no writer has it open.
    ///
    /// A library written by an older tapedeck needs its schema brought up to date, which is a
    /// write: it is opened with [`Library::open`] instead.
    pub fn open_read_only(path: &Path) -> Result<Library> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connect = |target: &Path, flags: OpenFlags| -> Result<Connection> {
            let conn = Connection::open_with_flags(target, flags)?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            // Reading the schema is what finds out whether the WAL index can be used.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })?;
            Ok(conn)
        };
        let conn = match connect(path, flags) {
            Ok(conn) => conn,
            Err(first) => connect(
                Path::new(&immutable_uri(path)),
                flags | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(|_| first)?,
        };
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < MIGRATIONS.len() as i64 || !missing_columns(&conn)?.is_empty() {
            drop(conn);
            return Library::open(path);
        }
        query::register_functions(&conn)?;
        let mut lib = Library { conn, bulk: false };
        lib.migrate()?;
        Ok(lib)
    }

    /// An empty library in memory: what a read command sees when there is no library file yet,
    /// without creating one.
    pub fn empty() -> Result<Library> {
        let conn = Connection::open_in_memory()?;
        query::register_functions(&conn)?;
        let mut lib = Library { conn, bulk: false };
        lib.migrate()?;
        Ok(lib)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize =
            self.conn
                .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        if version > MIGRATIONS.len() {
            return Err(DbError::InvalidParameterName(format!(
                "this library was written by a newer tapedeck (schema {version}, this one knows {}); \
                 upgrade tapedeck",
                MIGRATIONS.len()
            )));
        }
        if version == MIGRATIONS.len() && missing_columns(&self.conn)?.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        for m in missing_columns(&tx)? {
            tx.execute_batch(&format!("ALTER TABLE tracks ADD COLUMN {}", column_decl(m)))?;
        }
        tx.commit()
    }

    pub fn roots(&self) -> Result<Vec<Root>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, last_scan FROM roots ORDER BY path")?;
        let rows = stmt.query_map([], |r| {
            Ok(Root {
                path: path_from(r.get_ref(0)?)?,
                last_scan: r.get(1)?,
            })
        })?;
        rows.collect()
    }

    pub fn add_root(&self, path: &Path, now: i64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO roots (path, added_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING",
            params![path_value(path), now],
        )?;
        Ok(())
    }

    pub fn mark_root_scanned(&self, path: &Path, now: i64) -> Result<()> {
        self.conn.execute(
            "UPDATE roots SET last_scan = ?2 WHERE path = ?1",
            params![path_value(path), now],
        )?;
        Ok(())
    }

    /// Readies an empty library for a bulk load: drops the secondary indexes of the track
    /// tables and leaves the search index alone until the end (building an index once over all
    /// rows costs a fraction of keeping it up to date row by row). What is left to do is kept
    /// in `deferred_indexes` for [`Library::restore_indexes`], which the next scan runs first if
    /// the load is cut short (only a scan, under its lock, touches what is deferred). The unique
    /// index on paths stays: it is the table's own.
    pub fn defer_indexes(&mut self) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO deferred_indexes (name, sql) SELECT name, sql FROM sqlite_master \
             WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('tracks', 'track_artists')",
            [],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO deferred_indexes (name, sql) \
             VALUES ('track_search', 'INSERT INTO track_search (track_search) VALUES (''rebuild'')')",
            [],
        )?;
        let names: Vec<String> = tx
            .prepare("SELECT name FROM deferred_indexes WHERE name != 'track_search'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_>>()?;
        for name in names {
            tx.execute_batch(&format!(
                "DROP INDEX IF EXISTS \"{}\"",
                name.replace('"', "\"\"")
            ))?;
        }
        tx.commit()?;
        self.bulk = true;
        Ok(())
    }

    /// Makes again the indexes [`Library::defer_indexes`] dropped and fills the search index
    /// (nothing when nothing was deferred).
    pub fn restore_indexes(&mut self) -> Result<()> {
        self.bulk = false;
        let deferred: Vec<(String, String)> = self
            .conn
            .prepare("SELECT name, sql FROM deferred_indexes")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_>>()?;
        if deferred.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        for (name, sql) in deferred {
            // An index that is there already was made; the search index's entry is a statement.
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
                [&name],
                |r| r.get(0),
            )?;
            if !exists {
                tx.execute_batch(&sql)?;
            }
        }
        tx.execute("DELETE FROM deferred_indexes", [])?;
        tx.commit()
    }

    /// Whether the library holds no track and no problem record: nothing a scan could find
    /// again, so nothing can have moved.
    pub fn holds_no_files(&self) -> Result<bool> {
        self.conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM tracks) AND NOT EXISTS (SELECT 1 FROM problems)",
            [],
            |r| r.get(0),
        )
    }

    /// Whether any track lies under the folder `dir`.
    pub fn any_track_under(&self, dir: &Path) -> Result<bool> {
        let (where_, params) = under(Some(dir));
        self.conn.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM tracks t WHERE {where_})"),
            rusqlite::params_from_iter(params),
            |r| r.get(0),
        )
    }

    pub fn known_files(&self) -> Result<Vec<KnownFile>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path, size, mtime FROM tracks")?;
        let rows = stmt.query_map([], |r| {
            Ok(KnownFile {
                id: r.get(0)?,
                path: path_from(r.get_ref(1)?)?,
                size: r.get(2)?,
                mtime: r.get(3)?,
            })
        })?;
        rows.collect()
    }

    pub fn known_problems(&self) -> Result<Vec<KnownProblem>> {
        let mut stmt = self
            .conn
            .prepare("SELECT path, size, mtime FROM problems")?;
        let rows = stmt.query_map([], |r| {
            Ok(KnownProblem {
                path: path_from(r.get_ref(0)?)?,
                size: r.get(1)?,
                mtime: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Identities of the given tracks, for move detection.
    pub fn identities(&self, ids: &[i64]) -> Result<Vec<Identity>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, path, size, fingerprint, title, artist, album FROM tracks WHERE id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let found = stmt
                .query_row([id], |r| {
                    Ok(Identity {
                        id: r.get(0)?,
                        path: path_from(r.get_ref(1)?)?,
                        size: r.get(2)?,
                        fingerprint: r.get(3)?,
                        title: r.get(4)?,
                        artist: r.get(5)?,
                        album: r.get(6)?,
                    })
                })
                .optional()?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Runs `f` inside one transaction, committed when it returns `Ok`.
    pub fn write<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&Writer<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self.conn.transaction()?;
        let writer = Writer {
            tx: &tx,
            unindexed: std::cell::RefCell::new(Vec::new()),
            bulk: self.bulk,
        };
        let out = f(&writer)?;
        writer.index_for_search()?;
        tx.commit()?;
        Ok(out)
    }

    /// Calls `f` for every track the selection picks, in its order. Rows are streamed, never
    /// collected, so listing a large library takes constant memory.
    pub fn for_each_track(
        &self,
        sel: &query::Selection<'_>,
        f: impl FnMut(Track) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let (sql, params) = query::select_tracks(sel, &TRACK_COLUMNS, true);
        self.stream_tracks(&sql, params, Members::All, f)
    }

    /// Calls `f` for every track whose path lies under the folder `dir` (every track when
    /// `None`), in path order: what a folder listing reads. Uses the path index, never a scan
    /// of the table.
    pub fn for_each_track_under(
        &self,
        dir: Option<&Path>,
        members: Members<'_>,
        f: impl FnMut(Track) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let (where_, params) = under(dir);
        let sql = format!(
            "SELECT {} FROM tracks t WHERE {where_} ORDER BY t.path",
            members.columns()
        );
        self.stream_tracks(&sql, params, members, f)
    }

    /// Calls `f` for every track the query selects, in no particular order (the index's):
    /// what a protocol search that names no order gets, without sorting every match first.
    pub fn for_each_track_unsorted(
        &self,
        q: &crate::query::Query,
        members: Members<'_>,
        f: impl FnMut(Track) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let (where_, params) = query::where_clause(Some(q), false);
        let sql = format!("SELECT {} FROM tracks t WHERE {where_}", members.columns());
        self.stream_tracks(&sql, params, members, f)
    }

    /// The paths of the tracks under the folder `dir` (all when `None`), in path order, without
    /// reading the rest of each row.
    pub fn for_each_path_under(
        &self,
        dir: Option<&Path>,
        mut f: impl FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let (where_, params) = under(dir);
        let sql = format!("SELECT t.path FROM tracks t WHERE {where_} ORDER BY t.path");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            if let Err(e) = f(&path_from(row.get_ref(0)?)?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// Runs a track query, handing each row to `f` as it comes.
    fn stream_tracks(
        &self,
        sql: &str,
        params: Vec<Value>,
        members: Members<'_>,
        mut f: impl FnMut(Track) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let mut stmt = self.conn.prepare(sql)?;
        let columns = RowColumns::of(&stmt, members)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            if let Err(e) = f(columns.track(row)?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The library track at this path.
    pub fn track_by_path(&self, path: &Path) -> Result<Option<Track>> {
        let Some(id) = self.track_id_by_path(path)? else {
            return Ok(None);
        };
        Ok(self.tracks_by_ids(&[id])?.pop())
    }

    /// Every track, in album order.
    pub fn all_tracks(&self) -> Result<Vec<Track>> {
        self.tracks(&query::Selection::default())
    }

    /// Every track the selection picks, in its order.
    pub fn tracks(&self, sel: &query::Selection<'_>) -> Result<Vec<Track>> {
        let mut out = Vec::new();
        self.for_each_track(sel, |t| {
            out.push(t);
            Ok(())
        })?
        .expect("collecting cannot fail");
        Ok(out)
    }

    /// Calls `f` with the path of every track the selection picks, in its order: `ls --paths`
    /// without reading the rest of each row.
    pub fn for_each_path(
        &self,
        sel: &query::Selection<'_>,
        mut f: impl FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>> {
        let (sql, params) = query::select_tracks(sel, "t.path", false);
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            if let Err(e) = f(&path_from(row.get_ref(0)?)?) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    }

    /// The ids the selection picks, in its order.
    pub fn track_ids(&self, sel: &query::Selection<'_>) -> Result<Vec<i64>> {
        let (sql, params) = query::select_tracks(sel, "t.id", false);
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| r.get(0))?;
        rows.collect()
    }

    pub fn problems(&self) -> Result<Vec<Problem>> {
        self.problem_rows("SELECT path, reason, seen_at FROM problems ORDER BY path")
    }

    /// Tracks `analyze` found damaged, with the reason, by path.
    pub fn damaged(&self) -> Result<Vec<Problem>> {
        self.problem_rows(
            "SELECT path, damage, analysed_at FROM tracks \
             WHERE damage IS NOT NULL AND analysed_at IS NOT NULL ORDER BY path",
        )
    }

    /// Rows of (path, reason, time) as problems.
    fn problem_rows(&self, sql: &str) -> Result<Vec<Problem>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(Problem {
                path: path_from(r.get_ref(0)?)?,
                reason: r.get(1)?,
                seen_at: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Totals over the tracks a query selects (all when `None`).
    pub fn stats(&self, q: Option<&crate::query::Query>, within: bool) -> Result<Stats> {
        let (w, p) = query::where_clause(q, within);
        let params = || rusqlite::params_from_iter(p.iter());
        let (tracks, duration, size): (i64, f64, i64) = self.conn.query_row(
            &format!("SELECT count(*), COALESCE(sum(duration), 0), COALESCE(sum(size), 0) FROM tracks t WHERE {w}"),
            params(),
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let albums: i64 = self.conn.query_row(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM tracks t WHERE t.album IS NOT NULL AND ({w}) \
                 GROUP BY COALESCE(albumartist, artist, '') COLLATE NOCASE, fold_album)"
            ),
            params(),
            |r| r.get(0),
        )?;
        let artists: i64 = if q.is_none_or(|q| q.is_everything()) && !within {
            self.conn.query_row(
                "SELECT count(DISTINCT fold_name) FROM track_artists",
                [],
                |r| r.get(0),
            )?
        } else {
            self.conn.query_row(
                &format!(
                    "SELECT count(DISTINCT a.fold_name) FROM track_artists a JOIN tracks t ON t.id = a.track_id \
                     WHERE {w}"
                ),
                params(),
                |r| r.get(0),
            )?
        };
        let problems: i64 = self
            .conn
            .query_row("SELECT count(*) FROM problems", [], |r| r.get(0))?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT t.format, count(*) FROM tracks t WHERE {w} GROUP BY t.format ORDER BY count(*) DESC, t.format"
        ))?;
        let formats = stmt
            .query_map(params(), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>>>()?;
        Ok(Stats {
            tracks: tracks as u64,
            albums: albums as u64,
            artists: artists as u64,
            duration,
            size: size as u64,
            formats,
            problems: problems as u64,
        })
    }

    /// Artists, albums or genres among the tracks a query selects, each with its track count and
    /// total duration, sorted by name (albums by album artist, year, album).
    pub fn groups(
        &self,
        by: GroupBy,
        q: Option<&crate::query::Query>,
        within: bool,
    ) -> Result<Vec<Group>> {
        let (w, p) = query::where_clause(q, within);
        let sql = match by {
            GroupBy::Artist => format!(
                "SELECT min(a.name), NULL, NULL, count(*), sum(t.duration), NULL, NULL FROM track_artists a \
                 JOIN tracks t ON t.id = a.track_id WHERE {w} GROUP BY a.fold_name ORDER BY a.fold_name"
            ),
            GroupBy::Genre => format!(
                "SELECT min(t.genre), NULL, NULL, count(*), sum(t.duration), NULL, NULL FROM tracks t \
                 WHERE t.genre IS NOT NULL AND t.genre != '' AND ({w}) GROUP BY t.fold_genre ORDER BY t.fold_genre"
            ),
            GroupBy::Album => format!(
                "SELECT min(t.album), min(COALESCE(t.albumartist, t.artist)), min(t.year), count(*), \
                 sum(t.duration), group_concat(DISTINCT t.format), \
                 CASE WHEN count(DISTINCT NULLIF(t.fold_genre, '')) = 1 THEN min(NULLIF(t.genre, '')) END \
                 FROM tracks t WHERE t.album IS NOT NULL AND ({w}) \
                 GROUP BY COALESCE(t.albumartist, t.artist, '') COLLATE NOCASE, t.fold_album \
                 ORDER BY COALESCE(t.albumartist, t.artist, '') COLLATE NOCASE, min(t.year), t.fold_album"
            ),
        };
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(p.iter()), |r| {
            Ok(Group {
                name: r.get(0)?,
                artist: r.get(1)?,
                year: r.get(2)?,
                tracks: r.get::<_, i64>(3)? as u64,
                duration: r.get::<_, Option<f64>>(4)?.unwrap_or(0.0),
                formats: r.get::<_, Option<String>>(5)?.map(|f| {
                    let mut all: Vec<&str> = f.split(',').collect();
                    all.sort_unstable();
                    all.join(",")
                }),
                genre: r.get(6)?,
            })
        })?;
        rows.collect()
    }
}

/// A stored playlist.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Playlist {
    #[serde(skip)]
    pub id: i64,
    pub name: String,
    /// The saved query of a smart playlist; `None` for a static one.
    pub query: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub minutes: Option<f64>,
    /// Entries of a static playlist.
    pub entries: u64,
}

impl Playlist {
    /// A static playlist not stored yet (its entries are set after it is created).
    pub fn new_static(name: &str) -> Playlist {
        Playlist {
            id: 0,
            name: name.to_string(),
            query: None,
            sort: None,
            limit: None,
            minutes: None,
            entries: 0,
        }
    }
}

impl Library {
    pub fn playlists(&self) -> Result<Vec<Playlist>> {
        let mut stmt = self.conn.prepare(
            "SELECT p.id, p.name, p.query, p.sort, p.limit_tracks, p.limit_minutes, \
             (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id) \
             FROM playlists p ORDER BY p.name COLLATE NOCASE",
        )?;
        let rows = stmt.query_map([], playlist_row)?;
        rows.collect()
    }

    /// The playlist called `name` (case-insensitively).
    pub fn playlist(&self, name: &str) -> Result<Option<Playlist>> {
        self.conn
            .query_row(
                "SELECT p.id, p.name, p.query, p.sort, p.limit_tracks, p.limit_minutes, \
                 (SELECT count(*) FROM playlist_entries e WHERE e.playlist_id = p.id) \
                 FROM playlists p WHERE p.name = ?1",
                [name],
                playlist_row,
            )
            .optional()
    }

    /// A static playlist's track ids, in order.
    pub fn playlist_entries(&self, id: i64) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare(
            "SELECT track_id FROM playlist_entries WHERE playlist_id = ?1 ORDER BY position",
        )?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        rows.collect()
    }

    /// The id of the track stored at exactly this path.
    /// What the library remembers about a file `convert` wrote at `output`.
    /// Every converted file recorded beneath `root` (an absolute folder), with its path.
    pub fn converted_files_under(&self, root: &Path) -> Result<Vec<(PathBuf, ConvertedFile)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT output, fingerprint, settings, track_id, size FROM converted_files",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                path_from(r.get_ref(0)?)?,
                ConvertedFile {
                    fingerprint: r.get(1)?,
                    settings: r.get(2)?,
                    track_id: r.get(3)?,
                    size: r.get(4)?,
                },
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (p, f) = row?;
            if p.starts_with(root) {
                out.push((p, f));
            }
        }
        Ok(out)
    }

    pub fn converted_file(&self, output: &Path) -> Result<Option<ConvertedFile>> {
        self.conn
            .prepare_cached(
                "SELECT fingerprint, settings, track_id, size FROM converted_files WHERE output = ?1",
            )?
            .query_row([path_value(output)], |r| {
                Ok(ConvertedFile {
                    fingerprint: r.get(0)?,
                    settings: r.get(1)?,
                    track_id: r.get(2)?,
                    size: r.get(3)?,
                })
            })
            .optional()
    }

    /// Past `convert` runs, newest first.
    pub fn conversions(&self) -> Result<Vec<Conversion>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, started_at, finished_at, target, format, settings, selected, written, \
             skipped, refused, failed, query, playlist FROM conversions \
             ORDER BY started_at DESC, id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Conversion {
                id: r.get(0)?,
                started_at: r.get(1)?,
                finished_at: r.get(2)?,
                target: r.get(3)?,
                format: r.get(4)?,
                settings: r.get(5)?,
                selected: r.get(6)?,
                written: r.get(7)?,
                skipped: r.get(8)?,
                refused: r.get(9)?,
                failed: r.get(10)?,
                query: r.get(11)?,
                playlist: r.get(12)?,
            })
        })?;
        rows.collect()
    }

    /// Discs made, newest first.
    pub fn discs(&self) -> Result<Vec<DiscMade>> {
        let mut stmt = self.conn.prepare(
            "SELECT made_at, kind, image, title, disc, discs, length, tracks FROM discs \
             ORDER BY made_at DESC, id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            let tracks: String = r.get(7)?;
            Ok(DiscMade {
                made_at: r.get(0)?,
                kind: r.get(1)?,
                image: r.get(2)?,
                title: r.get(3)?,
                disc: r.get(4)?,
                discs: r.get(5)?,
                length: r.get(6)?,
                tracks: serde_json::from_str(&tracks).unwrap_or(serde_json::Value::Null),
            })
        })?;
        rows.collect()
    }

    /// Export targets, most recently synced first.
    pub fn exports(&self) -> Result<Vec<ExportTarget>> {
        let mut stmt = self.conn.prepare(
            "SELECT target, profile, first_sync, last_sync, tracks, bytes, result, mount_point \
             FROM exports ORDER BY last_sync DESC, target",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ExportTarget {
                target: r.get(0)?,
                profile: r.get(1)?,
                first_sync: r.get(2)?,
                last_sync: r.get(3)?,
                tracks: r.get(4)?,
                bytes: r.get(5)?,
                result: r.get(6)?,
                mount_point: r.get(7)?,
            })
        })?;
        rows.collect()
    }

    /// The player's saved queue, if any.
    pub fn player_state(&self) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT state FROM player_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
    }

    pub fn track_id_by_path(&self, path: &Path) -> Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT id FROM tracks WHERE path = ?1")?
            .query_row([path_value(path)], |r| r.get(0))
            .optional()
    }

    /// Makes `ids` (in order, repeats allowed) the set that a [`query::Selection`] with
    /// `within` draws from. It lives in a temporary table of this connection.
    /// The tracks with these ids, in this order (missing ids are left out).
    pub fn tracks_by_ids(&self, ids: &[i64]) -> Result<Vec<Track>> {
        self.load_selection(ids)?;
        self.tracks(&query::Selection {
            query: None,
            random: false,
            limit: None,
            within: true,
        })
    }

    pub fn load_selection(&self, ids: &[i64]) -> Result<()> {
        self.conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS selection (pos INTEGER PRIMARY KEY, track_id INTEGER NOT NULL); \
             DELETE FROM temp.selection;",
        )?;
        let mut stmt = self
            .conn
            .prepare_cached("INSERT INTO temp.selection (pos, track_id) VALUES (?1, ?2)")?;
        for (pos, id) in ids.iter().enumerate() {
            stmt.execute(params![pos as i64, id])?;
        }
        Ok(())
    }
}

fn playlist_row(r: &Row<'_>) -> rusqlite::Result<Playlist> {
    Ok(Playlist {
        id: r.get(0)?,
        name: r.get(1)?,
        query: r.get(2)?,
        sort: r.get(3)?,
        limit: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        minutes: r.get(5)?,
        entries: r.get::<_, i64>(6)? as u64,
    })
}

/// What [`Library::groups`] groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Artist,
    Album,
    Genre,
}

/// One artist, album or genre with its totals.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Group {
    pub name: String,
    /// The album artist, for albums.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub year: Option<i32>,
    pub tracks: u64,
    pub duration: f64,
    /// The formats of an album's tracks, comma-separated in alphabetical order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<String>,
    /// An album's genre, when all its tracks that have one share it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
}

/// The member each column of a track query holds, found by name once per statement.
struct RowColumns(Vec<(usize, &'static Member)>);

impl RowColumns {
    fn of(stmt: &rusqlite::Statement<'_>, members: Members<'_>) -> Result<RowColumns> {
        let mut found = Vec::new();
        for m in MEMBERS.iter().filter(|m| members.wants(m)) {
            found.push((stmt.column_index(m.name)?, m));
        }
        Ok(RowColumns(found))
    }

    fn track(&self, r: &Row<'_>) -> rusqlite::Result<Track> {
        let mut t = Track::default();
        for &(i, m) in &self.0 {
            let v = r.get_ref(i)?;
            let stored = match v {
                ValueRef::Null => Stored::Null,
                ValueRef::Integer(n) => Stored::Int(n),
                ValueRef::Real(x) => Stored::Real(x),
                ValueRef::Text(b) => match std::str::from_utf8(b) {
                    Ok(s) => Stored::Text(s),
                    Err(_) => Stored::Bytes(b),
                },
                ValueRef::Blob(b) => Stored::Bytes(b),
            };
            if !t.set_stored(m, stored) {
                return Err(rusqlite::types::FromSqlError::InvalidType.into_error(v));
            }
        }
        Ok(t)
    }
}

/// The members stored in `tracks` columns that this library's table lacks.
fn missing_columns(conn: &Connection) -> Result<Vec<&'static Member>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('tracks')")?;
    let have: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_>>()?;
    if have.is_empty() {
        // No tracks table yet: the migrations make it.
        return Ok(Vec::new());
    }
    Ok(MEMBERS
        .iter()
        .filter(|m| matches!(m.store, Store::File | Store::Library | Store::Analysis))
        .filter(|m| !have.iter().any(|h| h == m.name))
        .collect())
}

/// The column definition for a member added after the table was made.
fn column_decl(m: &Member) -> String {
    let (storage, nullable) = m.storage;
    let (ty, zero) = match storage {
        Storage::Int => ("INTEGER", "0"),
        Storage::Real => ("REAL", "0"),
        Storage::Text | Storage::Path => ("TEXT", "''"),
    };
    if nullable {
        format!("{} {ty}", m.name)
    } else {
        format!("{} {ty} NOT NULL DEFAULT {zero}", m.name)
    }
}

/// A member's value (or a blob) as an SQL parameter, paths byte-exact as [`path_value`]
/// stores them.
enum Param<'a> {
    Member(model::Value<'a>),
    Blob(&'a [u8]),
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput;
        let value = match *self {
            Param::Member(v) => v,
            Param::Blob(b) => return Ok(ToSqlOutput::Borrowed(ValueRef::Blob(b))),
        };
        Ok(match value {
            model::Value::Missing => ToSqlOutput::Owned(Value::Null),
            model::Value::Int(i) => ToSqlOutput::Owned(Value::Integer(i)),
            model::Value::Real(r) => ToSqlOutput::Owned(Value::Real(r)),
            model::Value::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(b))),
            model::Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            model::Value::Path(p) => match p.to_str() {
                Some(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
                None => ToSqlOutput::Borrowed(ValueRef::Blob(p.as_os_str().as_bytes())),
            },
            model::Value::List(l) => {
                ToSqlOutput::Owned(Value::Text(l.join(&model::LIST_SEPARATOR.to_string())))
            }
        })
    }
}

/// Separates artists inside the folded artist column; it never occurs in folded tag text.
pub const FOLD_SEPARATOR: char = model::LIST_SEPARATOR;

/// The folded copy of each searchable field, in `query::BARE_FIELDS` order: what the
/// `fold_*` columns and the FTS index hold.
fn folded_values(t: &Track) -> Vec<String> {
    crate::query::BARE_FIELDS
        .iter()
        .map(|&f| {
            crate::query::text_values(t, f)
                .iter()
                .map(|v| fold(v))
                .collect::<Vec<_>>()
                .join(&FOLD_SEPARATOR.to_string())
        })
        .collect()
}

/// The searchable fields' folded columns, in `query::BARE_FIELDS` order.
static SEARCH_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    crate::query::BARE_FIELDS
        .iter()
        .map(|&f| query::folded(f).expect("a bare field is searchable"))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The members `analyze` sets from the decoded audio.
fn analysis_members() -> impl Iterator<Item = &'static Member> {
    MEMBERS.iter().filter(|m| m.store == Store::Analysis)
}

/// `a = NULL, b = NULL, ...` over the analysis columns (all of them may be NULL).
static CLEAR_ANALYSIS: LazyLock<String> = LazyLock::new(|| {
    analysis_members()
        .map(|m| format!("{} = NULL", m.name))
        .collect::<Vec<_>>()
        .join(", ")
});

/// The members a scan sets from a file.
fn file_members() -> impl Iterator<Item = &'static Member> {
    MEMBERS.iter().filter(|m| m.store == Store::File)
}

/// The columns a scan sets from a file, in the order of `FileRecord::params`: the file
/// members, the fingerprint, the time of the change and the folded search columns. Insert and
/// update share them.
static FILE_COLUMNS: LazyLock<(String, usize)> = LazyLock::new(|| {
    let mut columns: Vec<String> = file_members().map(|m| m.name.to_string()).collect();
    columns.extend(["fingerprint".to_string(), "updated_at".to_string()]);
    columns.extend(SEARCH_COLUMNS.split(", ").map(str::to_string));
    (columns.join(", "), columns.len())
});

/// `?1, ?2, ... ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FileRecord {
    /// The values of [`FILE_COLUMNS`], in order.
    fn params(&self, now: i64) -> Vec<Param<'_>> {
        let mut v: Vec<Param<'_>> = file_members()
            .map(|m| Param::Member((m.get)(&self.track)))
            .collect();
        v.push(Param::Blob(&self.fingerprint));
        v.push(Param::Member(model::Value::Int(now)));
        v.extend(
            self.folded
                .iter()
                .map(|f| Param::Member(model::Value::Text(f))),
        );
        debug_assert_eq!(v.len(), FILE_COLUMNS.1);
        v
    }
}

/// Writes inside one transaction.
///
/// The search index is maintained here rather than by triggers: FTS5 writes a new index segment
/// for every statement that changes it, so rows added in a transaction are indexed together, in
/// one statement, just before it commits. Until then they are listed in `unindexed`.
pub struct Writer<'a> {
    tx: &'a Transaction<'a>,
    unindexed: std::cell::RefCell<Vec<i64>>,
    /// The search index is rebuilt after a bulk load: nothing to add or remove now.
    bulk: bool,
}

impl Writer<'_> {
    /// Removes a track's current values from the search index, unless it is still waiting to
    /// be indexed (then there is nothing to remove).
    fn unindex(&self, id: i64) -> Result<()> {
        if self.bulk {
            return Ok(());
        }
        let mut pending = self.unindexed.borrow_mut();
        if let Some(i) = pending.iter().position(|&p| p == id) {
            pending.swap_remove(i);
            return Ok(());
        }
        let search = &*SEARCH_COLUMNS;
        self.tx
            .prepare_cached(&format!(
                "INSERT INTO track_search (track_search, rowid, {search}) \
                 SELECT 'delete', id, {search} FROM tracks WHERE id = ?1"
            ))?
            .execute([id])?;
        Ok(())
    }

    /// Indexes every track added or changed in this transaction, in one statement.
    fn index_for_search(&self) -> Result<()> {
        let pending = std::mem::take(&mut *self.unindexed.borrow_mut());
        if pending.is_empty() || self.bulk {
            return Ok(());
        }
        let ids = serde_json::to_string(&pending).expect("ids serialise");
        let search = &*SEARCH_COLUMNS;
        self.tx.execute(
            &format!(
                "INSERT INTO track_search (rowid, {search}) SELECT id, {search} \
                 FROM tracks WHERE id IN (SELECT value FROM json_each(?1))"
            ),
            [ids],
        )?;
        Ok(())
    }

    /// Adds a new track and returns its id.
    pub fn insert_track(&self, rec: &FileRecord, now: i64) -> Result<i64> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "INSERT INTO tracks ({}, added_at) VALUES ({})",
                FILE_COLUMNS.0,
                placeholders(FILE_COLUMNS.1 + 1)
            )
        });
        let mut params = rec.params(now);
        params.push(Param::Member(model::Value::Int(now)));
        self.tx
            .prepare_cached(&SQL)?
            .execute(rusqlite::params_from_iter(params))?;
        let id = self.tx.last_insert_rowid();
        self.set_artists(id, &rec.track.artists)?;
        self.unindexed.borrow_mut().push(id);
        Ok(id)
    }

    /// Rewrites everything the file says about track `id`, including its path (a move), while
    /// keeping its id and date added.
    ///
    /// What `analyze` found describes the audio: it is kept when the audio fingerprint is the
    /// same (a retag or a move) and cleared when the audio changed.
    pub fn update_track(&self, id: i64, rec: &FileRecord, now: i64) -> Result<()> {
        self.unindex(id)?;
        self.unindexed.borrow_mut().push(id);
        self.tx
            .prepare_cached(&format!(
                "UPDATE tracks SET {} WHERE id = ?1 AND fingerprint != ?2",
                &*CLEAR_ANALYSIS
            ))?
            .execute(params![id, &rec.fingerprint[..]])?;
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "UPDATE tracks SET ({}) = ({}) WHERE id = ?{}",
                FILE_COLUMNS.0,
                placeholders(FILE_COLUMNS.1),
                FILE_COLUMNS.1 + 1
            )
        });
        let mut params = rec.params(now);
        params.push(Param::Member(model::Value::Int(id)));
        self.tx
            .prepare_cached(&SQL)?
            .execute(rusqlite::params_from_iter(params))?;
        self.tx
            .prepare_cached("DELETE FROM track_artists WHERE track_id = ?1")?
            .execute([id])?;
        self.set_artists(id, &rec.track.artists)
    }

    /// Stores what `analyze` found for track `id`: every analysis member of `t` (the rest of
    /// `t` is not read).
    pub fn set_analysis(&self, id: i64, t: &Track) -> Result<()> {
        static SQL: LazyLock<(String, usize)> = LazyLock::new(|| {
            let names: Vec<&str> = analysis_members().map(|m| m.name).collect();
            (
                format!(
                    "UPDATE tracks SET ({}) = ({}) WHERE id = ?{}",
                    names.join(", "),
                    placeholders(names.len()),
                    names.len() + 1
                ),
                names.len(),
            )
        });
        let mut params: Vec<Param<'_>> = analysis_members()
            .map(|m| Param::Member((m.get)(t)))
            .collect();
        debug_assert_eq!(params.len(), SQL.1);
        params.push(Param::Member(model::Value::Int(id)));
        self.tx
            .prepare_cached(&SQL.0)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(())
    }

    fn set_artists(&self, id: i64, artists: &[String]) -> Result<()> {
        let mut stmt = self
            .tx
            .prepare_cached("INSERT INTO track_artists (track_id, position, name, fold_name) VALUES (?1, ?2, ?3, ?4)")?;
        for (pos, name) in artists.iter().enumerate() {
            stmt.execute(params![id, pos as i64, name, fold(name)])?;
        }
        Ok(())
    }

    /// Sets the listening history of a track.
    pub fn set_play_stats(
        &self,
        id: i64,
        plays: u32,
        skips: u32,
        last_played: Option<i64>,
        rating: Option<u8>,
    ) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE tracks SET plays = ?2, skips = ?3, last_played = ?4, rating = ?5 WHERE id = ?1")?
            .execute(params![id, plays, skips, last_played, rating])?;
        Ok(())
    }

    /// Sets a track's rating (`None` clears it).
    pub fn set_rating(&self, id: i64, rating: Option<u8>) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE tracks SET rating = ?2 WHERE id = ?1")?
            .execute(params![id, rating])?;
        Ok(())
    }

    /// Remembers a disc image `tapedeck cd` made.
    pub fn record_disc(&self, d: &DiscMade) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO discs (made_at, kind, image, title, disc, discs, length, tracks) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                d.made_at,
                d.kind,
                d.image,
                d.title,
                d.disc,
                d.discs,
                d.length,
                d.tracks.to_string()
            ])?;
        Ok(())
    }

    /// Starts the record of a `convert` run; returns its id.
    pub fn start_conversion(&self, run: &ConversionStart<'_>, now: i64) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO conversions (started_at, target, format, settings, selected, \
                 query, playlist) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                now,
                run.target,
                run.format,
                run.settings,
                run.selected as i64,
                run.query,
                run.playlist
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Completes the record of a `convert` run: counts of files written, skipped as already
    /// done, refused (lossy sources) and failed.
    pub fn finish_conversion(&self, id: i64, counts: [usize; 4], now: i64) -> Result<()> {
        let [written, skipped, refused, failed] = counts.map(|c| c as i64);
        self.tx
            .prepare_cached(
                "UPDATE conversions SET finished_at = ?2, written = ?3, skipped = ?4, \
                 refused = ?5, failed = ?6 WHERE id = ?1",
            )?
            .execute(params![id, now, written, skipped, refused, failed])?;
        Ok(())
    }

    /// Remembers a file `convert` wrote (replacing what was known about that output).
    pub fn record_converted(&self, output: &Path, file: &ConvertedFile, now: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO converted_files \
                 (output, fingerprint, settings, track_id, size, written_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                path_value(output),
                file.fingerprint,
                file.settings,
                file.track_id,
                file.size,
                now
            ])?;
        Ok(())
    }

    /// Records a sync to an export target (keeping the date of its first sync).
    pub fn record_export(&self, e: &ExportTarget) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO exports \
                 (target, profile, first_sync, last_sync, tracks, bytes, result, mount_point) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(target) DO UPDATE SET \
                 profile = excluded.profile, last_sync = excluded.last_sync, \
                 tracks = excluded.tracks, bytes = excluded.bytes, result = excluded.result, \
                 mount_point = excluded.mount_point",
            )?
            .execute(params![
                e.target,
                e.profile,
                e.first_sync,
                e.last_sync,
                e.tracks,
                e.bytes,
                e.result,
                e.mount_point
            ])?;
        Ok(())
    }

    /// Counts a play of a track at `at` (seconds since the epoch).
    pub fn record_play(&self, id: i64, at: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE tracks SET plays = plays + 1, last_played = ?2 WHERE id = ?1")?
            .execute(params![id, at])?;
        Ok(())
    }

    /// Counts a skip of a track.
    pub fn record_skip(&self, id: i64) -> Result<()> {
        self.tx
            .prepare_cached("UPDATE tracks SET skips = skips + 1 WHERE id = ?1")?
            .execute(params![id])?;
        Ok(())
    }

    /// Saves the player's queue and position (an opaque JSON document) for `play --resume`.
    pub fn save_player_state(&self, state: &str, now: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO player_state (id, state, saved_at) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at",
            )?
            .execute(params![state, now])?;
        Ok(())
    }

    /// Creates a playlist (smart when `query` is set) and returns its id.
    pub fn create_playlist(&self, p: &Playlist, now: i64) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO playlists (name, query, sort, limit_tracks, limit_minutes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![p.name, p.query, p.sort, p.limit.map(|v| v as i64), p.minutes, now])?;
        Ok(self.tx.last_insert_rowid())
    }

    pub fn rename_playlist(&self, id: i64, name: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE playlists SET name = ?2 WHERE id = ?1",
            params![id, name],
        )?;
        Ok(())
    }

    pub fn delete_playlist(&self, id: i64) -> Result<()> {
        self.tx
            .execute("DELETE FROM playlists WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Replaces a static playlist's entries with `ids`, in order.
    pub fn set_playlist_entries(&self, id: i64, ids: &[i64]) -> Result<()> {
        self.tx
            .execute("DELETE FROM playlist_entries WHERE playlist_id = ?1", [id])?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO playlist_entries (playlist_id, position, track_id) VALUES (?1, ?2, ?3)",
        )?;
        for (pos, track) in ids.iter().enumerate() {
            stmt.execute(params![id, pos as i64, track])?;
        }
        Ok(())
    }

    /// Forgets a root folder and the problems recorded under it (its tracks are removed one by
    /// one with [`Writer::delete_track`], by the caller, who knows which other roots hold them).
    pub fn remove_root(&self, path: &Path) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM roots WHERE path = ?1")?
            .execute([path_value(path)])?;
        let under: Vec<PathBuf> = {
            let mut stmt = self.tx.prepare_cached("SELECT path FROM problems")?;
            let rows = stmt.query_map([], |r| path_from(r.get_ref(0)?))?;
            rows.collect::<Result<Vec<_>>>()?
                .into_iter()
                .filter(|p| p.starts_with(path))
                .collect()
        };
        for p in under {
            self.tx
                .prepare_cached("DELETE FROM problems WHERE path = ?1")?
                .execute([path_value(&p)])?;
        }
        Ok(())
    }

    pub fn delete_track(&self, id: i64) -> Result<()> {
        self.unindex(id)?;
        self.tx
            .prepare_cached("DELETE FROM tracks WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    pub fn set_problem(
        &self,
        path: &Path,
        size: Option<i64>,
        mtime: Option<i64>,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO problems (path, size, mtime, reason, seen_at) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT(path) DO UPDATE SET size = ?2, mtime = ?3, reason = ?4, seen_at = ?5",
            )?
            .execute(params![path_value(path), size, mtime, reason, now])?;
        Ok(())
    }

    pub fn clear_problem(&self, path: &Path) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM problems WHERE path = ?1")?
            .execute([path_value(path)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, title: &str) -> FileRecord {
        let mut track = Track {
            path: PathBuf::from(path),
            size: 10,
            mtime: 20,
            title: title.into(),
            codec: "flac".into(),
            format: "flac".into(),
            container: "flac".into(),
            ..Track::default()
        };
        track.set_artists(vec!["A".into(), "B".into()]);
        FileRecord::new([7; 16], track)
    }

    #[test]
    fn non_utf8_paths_round_trip_byte_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
        let odd = PathBuf::from(OsString::from_vec(b"/music/caf\xe9.flac".to_vec()));
        let mut track = record("/x", "t").track;
        track.path = odd.clone();
        let rec = FileRecord::new([7; 16], track);
        lib.write(|w| w.insert_track(&rec, 1)).unwrap();
        let known = lib.known_files().unwrap();
        assert_eq!(known.len(), 1);
        assert_eq!(known[0].path, odd);
    }

    #[test]
    fn update_keeps_id_and_date_added_and_replaces_artists() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
        let id = lib
            .write(|w| w.insert_track(&record("/a.flac", "one"), 100))
            .unwrap();
        let mut track = record("/b.flac", "two").track;
        track.set_artists(vec!["C".into()]);
        let moved = FileRecord::new([7; 16], track);
        lib.write(|w| w.update_track(id, &moved, 200)).unwrap();
        let rows = lib.all_tracks().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, id);
        assert_eq!(rows[0].added_at, 100);
        assert_eq!(rows[0].path, PathBuf::from("/b.flac"));
        assert_eq!(rows[0].artists, vec!["C"]);
    }

    /// The search index is maintained by hand; FTS5's integrity check compares it with the
    /// tracks table after inserts, updates and deletes within and across transactions.
    #[test]
    fn the_search_index_stays_in_step_with_tracks() {
        let dir = tempfile::tempdir().unwrap();
        let mut lib = Library::open(&dir.path().join("lib.db")).unwrap();
        let check = |lib: &Library| {
            lib.conn
                .execute(
                    "INSERT INTO track_search (track_search, rank) VALUES ('integrity-check', 1)",
                    [],
                )
                .unwrap();
        };
        let (a, b) = lib
            .write(|w| -> Result<(i64, i64)> {
                let a = w.insert_track(&record("/a.flac", "first song"), 1)?;
                let b = w.insert_track(&record("/b.flac", "second song"), 1)?;
                // Changed and removed before the transaction indexes them.
                w.update_track(a, &record("/a.flac", "renamed song"), 1)?;
                let c = w.insert_track(&record("/c.flac", "third"), 1)?;
                w.delete_track(c)?;
                Ok((a, b))
            })
            .unwrap();
        check(&lib);
        lib.write(|w| -> Result<()> {
            w.update_track(b, &record("/moved/b.flac", "second again"), 2)?;
            w.delete_track(a)?;
            w.insert_track(&record("/d.flac", "fourth"), 2)?;
            Ok(())
        })
        .unwrap();
        check(&lib);
        let q = crate::query::parse(&["again"], 0).unwrap();
        let ids = lib
            .track_ids(&query::Selection {
                query: Some(&q),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ids, vec![b]);
        let q = crate::query::parse(&["renamed"], 0).unwrap();
        assert!(
            lib.track_ids(&query::Selection {
                query: Some(&q),
                ..Default::default()
            })
            .unwrap()
            .is_empty()
        );
    }

    /// A first scan's bulk load: indexes dropped, the search index left alone, all made again
    /// at the end; a load cut short keeps what is left to do for the next scan.
    #[test]
    fn a_bulk_load_builds_its_indexes_at_the_end_or_in_the_next_scan() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lib.db");
        let indexes = |lib: &Library| -> Vec<String> {
            lib.conn
                .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get::<_, Option<String>>(0))
                .unwrap()
                .map(|r| r.unwrap().unwrap_or_default())
                .collect()
        };
        let found = |lib: &Library, word: &str| -> usize {
            let q = crate::query::parse(&[word], 0).unwrap();
            let sel = query::Selection {
                query: Some(&q),
                ..Default::default()
            };
            lib.track_ids(&sel).unwrap().len()
        };
        let check = |lib: &Library| {
            lib.conn
                .execute(
                    "INSERT INTO track_search (track_search, rank) VALUES ('integrity-check', 1)",
                    [],
                )
                .unwrap();
        };
        let mut lib = Library::open(&db).unwrap();
        let all = indexes(&lib);
        for cut_short in [false, true] {
            lib.defer_indexes().unwrap();
            assert!(indexes(&lib).len() < all.len());
            let title = if cut_short {
                "nightfall two"
            } else {
                "nightfall one"
            };
            let path = format!("/{cut_short}.flac");
            lib.write(|w| w.insert_track(&record(&path, title), 1))
                .unwrap();
            if cut_short {
                drop(lib);
                lib = Library::open(&db).unwrap();
                assert!(indexes(&lib).len() < all.len());
            }
            lib.restore_indexes().unwrap();
            assert_eq!(indexes(&lib), all);
            check(&lib);
            assert_eq!(found(&lib, "nightfall"), 1 + usize::from(cut_short));
            // Later writes index as usual.
            lib.write(|w| w.insert_track(&record(&format!("/{cut_short}b.flac"), "dawn"), 2))
                .unwrap();
            check(&lib);
            assert_eq!(found(&lib, "dawn"), 1 + usize::from(cut_short));
        }
    }

    #[test]
    fn a_library_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.db");
        drop(Library::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap();
        let err = Library::open(&path).err().expect("refused").to_string();
        assert!(err.contains("newer tapedeck"), "{err}");
    }

    #[test]
    fn a_read_only_library_reads_and_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.db");
        let mut lib = Library::open(&path).unwrap();
        lib.write(|w| w.insert_track(&record("/a.flac", "one"), 1))
            .unwrap();
        drop(lib);
        let mut lib = Library::open_read_only(&path).unwrap();
        assert_eq!(lib.stats(None, false).unwrap().tracks, 1);
        // Selections live in a temporary table, which a read-only connection may still make.
        assert_eq!(lib.tracks_by_ids(&[1]).unwrap().len(), 1);
        let err = lib
            .write(|w| w.insert_track(&record("/b.flac", "two"), 1))
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
        // A library from before the latest migration is brought up to date first.
        let old = dir.path().join("old.db");
        let conn = Connection::open(&old).unwrap();
        for sql in &MIGRATIONS[..MIGRATIONS.len() - 1] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 - 1)
            .unwrap();
        drop(conn);
        let lib = Library::open_read_only(&old).unwrap();
        let version: i64 = lib
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }

    #[test]
    fn immutable_uris_encode_what_a_uri_would_misread() {
        assert_eq!(
            immutable_uri(Path::new("/home/me/lib.db")),
            "file:/home/me/lib.db?immutable=1"
        );
        let odd = PathBuf::from(OsString::from_vec(b"/m/a b?c#d%e\xe9.db".to_vec()));
        assert_eq!(
            immutable_uri(&odd),
            "file:/m/a%20b%3Fc%23d%25e%E9.db?immutable=1"
        );
    }

    #[test]
    fn an_empty_library_lives_in_memory() {
        let lib = Library::empty().unwrap();
        assert_eq!(lib.stats(None, false).unwrap().tracks, 0);
        assert!(lib.playlists().unwrap().is_empty());
    }

    #[test]
    fn a_member_without_a_column_gets_one_and_old_columns_are_renamed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.db");
        // A library as the previous schema left it, with a track in it.
        let conn = Connection::open(&path).unwrap();
        for sql in &MIGRATIONS[..7] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(
            "PRAGMA user_version = 7;
             INSERT INTO tracks (path, size, mtime, fingerprint, title, duration, samplerate,
                 bitdepth, codec, format, container, added_at, updated_at)
             VALUES ('/a.flac', 1, 2, x'00', 'A', 3.0, 48000, 24, 'flac', 'flac', 'flac', 5, 5);
             ALTER TABLE tracks DROP COLUMN rating;",
        )
        .unwrap();
        drop(conn);
        // A read-only open cannot bring it up to date, so it opens for writing and does.
        let lib = Library::open_read_only(&path).unwrap();
        let t = &lib.all_tracks().unwrap()[0];
        assert_eq!(
            (t.sample_rate, t.bit_depth, t.rating),
            (Some(48000), Some(24), None)
        );
        assert!(missing_columns(&lib.conn).unwrap().is_empty());
        lib.conn
            .execute("UPDATE tracks SET rating = 4", [])
            .unwrap();
        assert_eq!(lib.all_tracks().unwrap()[0].rating, Some(4));
    }

    #[test]
    fn reopening_does_not_rerun_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lib.db");
        let mut lib = Library::open(&path).unwrap();
        lib.write(|w| w.insert_track(&record("/a.flac", "one"), 1))
            .unwrap();
        drop(lib);
        let lib = Library::open(&path).unwrap();
        assert_eq!(lib.stats(None, false).unwrap().tracks, 1);
    }
}
