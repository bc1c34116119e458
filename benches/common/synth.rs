//! The synthetic library the query and UI benchmarks share, built straight into SQLite (no
//! audio files) through the crate's own writer (`Library::write`, `Writer::insert_track`, the
//! calls a scan makes), so the schema, folded columns and search index are the real ones. The
//! data comes from an inline xorshift generator, so it is the same on every run: about one
//! artist per 20 tracks (invented names mixing syllables, some accented: people, bands,
//! ensembles), albums of about 10 tracks, 4% compilations, 6% of tracks with a guest artist,
//! years 1950-2024 leaning recent, 45 weighted genres, mp3/aac/flac/alac/wav/aiff at
//! 52/20/18/6/2/2%, durations 60-600 s, paths `/music/<Artist>/<Album>/<NN Title>.<ext>`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tapedeck::db::{DbError, FileRecord, Library};
use tapedeck::model::Track;

/// Bumped whenever the generated library changes, so an old one is rebuilt, not reused.
const LAYOUT_VERSION: u32 = 1;
/// Tracks per write transaction while building.
const BATCH: usize = 50_000;

/// A tiny deterministic generator (xorshift64*), so every run builds the same library.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    /// Earlier items much more often than later ones, as word frequencies are (roughly Zipf).
    fn skewed<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let u = self.unit();
        items[(u * u * u * items.len() as f64) as usize]
    }
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.below(u64::from(total)) as u32;
        for &(item, w) in items {
            if r < w {
                return item;
            }
            r -= w;
        }
        items[items.len() - 1].0
    }
}

/// Syllables for invented names; a few carry accents, as real names do.
#[rustfmt::skip]
const SYLLABLES: &[&str] = &[
    "ka", "lo", "ri", "ven", "dor", "mar", "el", "an", "to", "sa", "li", "ber", "fin", "gal", "ho",
    "is", "jo", "lu", "ne", "or", "pe", "ros", "sol", "ta", "ul", "vi", "wen", "za", "yo", "zem",
    "bra", "cor", "dan", "fel", "gor", "hal", "kin", "lor", "mon", "nor", "pol", "quin", "ras",
    "sten", "tur", "val", "wick", "ley", "ton", "son", "bré", "dö", "mé", "lé", "rö", "nå", "sé",
    "kö", "ja", "mi", "ru", "te", "zy",
];
#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Anna", "Björn", "Chloé", "José", "Zoë", "Sören", "André", "Renée", "Jürgen", "Inès", "Åsa",
    "Noël", "Léa", "Mika", "Oskar", "Nina", "Marcus", "Elena", "David", "Sara", "Tomás", "Hélène",
    "Joël", "Maëlle", "Ömer", "François", "John", "Mary", "James", "Linda", "Robert", "Patricia",
    "Michael", "Jennifer", "William", "Elizabeth", "Richard", "Susan", "Thomas", "Karen", "Daniel",
    "Lisa", "Paul", "Nancy", "Mark", "Betty", "Steven", "Helen", "Kevin", "Sandra", "Brian",
    "Donna", "George", "Carol", "Ed", "Ruth", "Ron", "Sharon", "Tim", "Laura", "Jason", "Emily",
    "Jeff", "Amy", "Ryan", "Angela", "Gary", "Anna", "Nick", "Kate", "Eric", "Maria", "Ken", "Sofia",
    "Lars", "Ingrid", "Dmitri", "Olga", "Kenji", "Yuki", "Amara", "Kofi", "Priya", "Ravi", "Luis",
    "Carmen", "Pablo", "Lucía", "Matteo", "Giulia", "Hans", "Greta", "Ali", "Leila", "Sam", "Max",
];
pub const ENSEMBLES: &[&str] = &[
    "Trio",
    "Quartet",
    "Orchestra",
    "Collective",
    "Ensemble",
    "Band",
    "Sound System",
    "Project",
    "Brothers",
    "Sisters",
    "Experience",
    "Choir",
];
/// Words for titles and albums, most common first.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "Love", "Night", "Time", "Heart", "Day", "Life", "World", "Home", "Blue", "Light", "Dream",
    "Baby", "Way", "Rain", "Fire", "Sun", "Girl", "Man", "Soul", "Moon", "Song", "Road", "Down",
    "Gone", "Away", "Again", "Never", "Forever", "Tonight", "Together", "Summer", "River", "Golden",
    "Electric", "Silent", "Morning", "Paper", "Glass", "Echo", "Northern", "Velvet", "Winter",
    "Distant", "Broken", "Neon", "Harbour", "Wild", "Static", "Satellite", "Ocean", "Midnight",
    "Hollow", "Crimson", "Fever", "Garden", "Signal", "Orbit", "City", "Street", "Angel", "Devil",
    "Train", "Highway", "Window", "Mirror", "Shadow", "Stone", "Water", "Wind", "Storm", "Thunder",
    "Lightning", "Star", "Sky", "Heaven", "Ghost", "Kiss", "Tears", "Smile", "Eyes", "Hands",
    "Run", "Dance", "Fall", "Rise", "Burn", "Shine", "Walk", "Talk", "Cry", "Hold", "Feel",
    "Lonely", "Sweet", "Little", "Big", "Old", "New", "Young", "Last", "First", "Lost", "Free",
    "Cold", "Hot", "Dark", "Bright", "Slow", "Fast", "High", "Low", "Deep", "Long", "Open",
    "Secret", "Simple", "Strange", "Beautiful", "Crazy", "Happy", "Sad", "Empty", "Wonder",
    "Paradise", "Desert", "Island", "Mountain", "Valley", "Forest", "Flower", "Rose", "Honey",
    "Sugar", "Candy", "Wine", "Whiskey", "Coffee", "Radio", "Television", "Telephone", "Machine",
    "Engine", "Rocket", "Planet", "Galaxy", "Universe", "Memory", "Promise", "Story", "Letter",
    "Picture", "Photograph", "Movie", "Party", "Holiday", "Weekend", "Sunday", "Monday", "Friday",
    "December", "April", "July", "October", "Spring", "Autumn", "Harvest", "Border", "Bridge",
    "Tower", "Castle", "Palace", "Kingdom", "Empire", "Crown", "Queen", "King", "Prince",
    "Soldier", "Sailor", "Stranger", "Lover", "Friend", "Brother", "Sister", "Mother", "Father",
    "Daughter", "Children", "Family", "Wedding", "Funeral", "Prayer", "Miracle", "Magic",
    "Mystery", "Riddle", "Puzzle", "Circle", "Square", "Line", "Edge", "Corner", "Horizon",
    "Frontier", "Compass", "Anchor", "Lantern", "Candle", "Ember", "Ashes", "Smoke", "Mist",
    "Fog", "Frost", "Snow", "Ice", "Crystal", "Diamond", "Silver", "Copper", "Iron", "Steel",
    "Velvet", "Satin", "Leather", "Lace", "Cotton", "Feather", "Wing", "Bird", "Sparrow",
    "Raven", "Eagle", "Falcon", "Wolf", "Fox", "Tiger", "Lion", "Horse", "Whale", "Dolphin",
    "Butterfly", "Spider", "Serpent", "Dragon", "Phoenix", "Unicorn", "Café", "Señorita", "Über",
    "Jour", "Straße", "Ñandú", "Ångström", "Noël", "Fiancée", "Déjà", "Vu", "Naïve", "Résumé",
    "Mañana", "Müde", "Schön", "Kärlek", "Amor", "Corazón", "Été", "Hiver", "Mëtal", "Zephyr",
    "Quixotic", "Jubilee", "Kaleidoscope", "Labyrinth", "Oxygen", "Vertigo", "Yesterday", "Zero",
    "Jukebox", "Quasar", "Voodoo", "Jazzman", "Xylophone", "Yodel", "Zigzag", "Fizzy", "Buzz",
];
#[rustfmt::skip]
const GENRES: &[(&str, u32)] = &[
    ("Rock", 120), ("Pop", 100), ("Electronic", 80), ("Hip-Hop", 70), ("Jazz", 50),
    ("Classical", 50), ("Indie Rock", 50), ("Alternative", 40), ("Metal", 40), ("Folk", 40),
    ("R&B", 40), ("Soul", 30), ("Blues", 30), ("Country", 30), ("Reggae", 20), ("Punk", 20),
    ("Ambient", 20), ("House", 20), ("Techno", 20), ("Soundtrack", 20), ("Funk", 20),
    ("Singer-Songwriter", 20), ("Hard Rock", 20), ("Latin", 20), ("Disco", 10),
    ("Progressive Rock", 10), ("Psychedelic Rock", 10), ("Bossa Nova", 10),
    ("Música Popular Brasileira", 10), ("Chanson", 10), ("Schlager", 10), ("World", 10),
    ("Gospel", 10), ("Trip-Hop", 10), ("Drum & Bass", 10), ("Dubstep", 10), ("New Wave", 10),
    ("Post-Punk", 10), ("Shoegaze", 10), ("Afrobeat", 10), ("K-Pop", 10), ("Flamenco", 5),
    ("Tango", 5), ("Acid Jazz", 5), ("Électro-Pop", 5),
];

/// How an album is stored: format, codec, container, extension.
#[derive(Clone, Copy)]
struct Format {
    format: &'static str,
    codec: &'static str,
    container: &'static str,
    ext: &'static str,
    lossless: bool,
}
#[rustfmt::skip]
const FORMATS: &[(Format, u32)] = &[
    (Format { format: "mp3", codec: "mp3", container: "mp3", ext: "mp3", lossless: false }, 52),
    (Format { format: "aac", codec: "aac", container: "mp4", ext: "m4a", lossless: false }, 20),
    (Format { format: "flac", codec: "flac", container: "flac", ext: "flac", lossless: true }, 18),
    (Format { format: "alac", codec: "alac", container: "mp4", ext: "m4a", lossless: true }, 6),
    (Format { format: "wav", codec: "pcm", container: "wav", ext: "wav", lossless: true }, 2),
    (Format { format: "aiff", codec: "pcm", container: "aiff", ext: "aiff", lossless: true }, 2),
];

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An invented word of 2 or 3 syllables, capitalized.
fn coined(rng: &mut Rng) -> String {
    let n = rng.between(2, 3);
    capitalized(&(0..n).map(|_| rng.pick(SYLLABLES)).collect::<String>())
}

/// An artist name: a person, a band, a one-word act or an ensemble.
fn artist_name(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..45 => format!("{} {}", rng.pick(FIRST_NAMES), coined(rng)),
        45..70 => format!("The {}s", coined(rng)),
        70..88 => coined(rng),
        _ => format!("{} {}", coined(rng), rng.pick(ENSEMBLES)),
    }
}

fn phrase(rng: &mut Rng, words: u64) -> String {
    (0..words)
        .map(|_| rng.skewed(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

fn album_title(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..4 => format!(
            "Live at the {} {}",
            rng.pick(WORDS),
            rng.pick(&["Hall", "Club", "Arena", "Theatre"])
        ),
        4..7 => format!("{} Sessions", rng.pick(WORDS)),
        7..9 => format!("Greatest Hits Vol. {}", rng.between(1, 4)),
        _ => {
            let words = rng.between(1, 3);
            phrase(rng, words)
        }
    }
}

fn uuid(rng: &mut Rng) -> String {
    let (a, b) = (rng.next(), rng.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Generates the library: ~20 tracks per artist (one to a dozen albums of ~10 tracks), a few
/// compilations, a few tracks with a second credited artist.
struct Generator {
    rng: Rng,
    artists: Vec<String>,
    names: HashSet<String>,
    /// (album artist, album) pairs taken, so that no two albums share a folder.
    albums: HashSet<(String, String)>,
    added_at: i64,
    artist_count: usize,
    album_count: usize,
}

impl Generator {
    fn new() -> Generator {
        Generator {
            rng: Rng::new(0x007A_9EDE_CC0F_F1CE),
            artists: Vec::new(),
            names: HashSet::new(),
            albums: HashSet::new(),
            added_at: 1_300_000_000,
            artist_count: 0,
            album_count: 0,
        }
    }

    fn new_artist(&mut self) -> String {
        loop {
            let name = artist_name(&mut self.rng);
            if name != "Various Artists" && self.names.insert(name.clone()) {
                self.artists.push(name.clone());
                self.artist_count += 1;
                return name;
            }
        }
    }

    /// An artist met before, for guest appearances and compilations.
    fn known_artist(&mut self) -> String {
        if self.artists.is_empty() {
            return self.new_artist();
        }
        let i = self.rng.below(self.artists.len() as u64) as usize;
        self.artists[i].clone()
    }

    /// Calls `emit` with each of `n` tracks and its date added.
    fn run(&mut self, n: usize, mut emit: impl FnMut(FileRecord, i64)) {
        let mut made = 0;
        while made < n {
            let compilation_run = self.rng.chance(0.04);
            let (folder_artist, tag_artist) = if compilation_run {
                (
                    "Various Artists".to_string(),
                    Some("Various Artists".to_string()),
                )
            } else {
                let a = self.new_artist();
                (a.clone(), Some(a))
            };
            // One album, or a career: 1 + geometric, so about two albums per artist on average.
            let mut albums = 1;
            while albums < 12 && !compilation_run && self.rng.chance(0.5) {
                albums += 1;
            }
            // Release years lean recent, as libraries do.
            let mut year = 1950 + (75.0 * self.rng.unit().sqrt()) as i64;
            for _ in 0..albums {
                if made >= n {
                    return;
                }
                for rec in self.album(&folder_artist, &tag_artist, compilation_run, year) {
                    if made >= n {
                        return;
                    }
                    emit(rec, self.added_at);
                    made += 1;
                }
                self.added_at += self.rng.between(60, 20_000) as i64;
                year += self.rng.between(1, 4) as i64;
            }
        }
    }

    fn album(
        &mut self,
        folder_artist: &str,
        tag_artist: &Option<String>,
        compilation: bool,
        year: i64,
    ) -> Vec<FileRecord> {
        self.album_count += 1;
        let rng = &mut self.rng;
        // A career that runs past the present ends in recent years.
        let year = if year > 2024 {
            2024 - rng.below(5) as i32
        } else {
            year as i32
        };
        let title = loop {
            let t = album_title(rng);
            if self.albums.insert((folder_artist.to_string(), t.clone())) {
                break t;
            }
        };
        let genre = rng.weighted(GENRES).to_string();
        let fmt = rng.weighted(FORMATS);
        // Not every file names its album artist; compilations always do.
        let album_artist = if compilation || rng.chance(0.75) {
            tag_artist.clone()
        } else {
            None
        };
        // Singles and EPs, albums, and a few long albums (about 10 tracks on average).
        let tracks = match rng.below(100) {
            0..8 => rng.between(1, 4),
            8..90 => rng.between(7, 12),
            _ => rng.between(13, 24),
        } as u32;
        let discs = if tracks >= 18 && rng.chance(0.5) {
            2
        } else {
            1
        };
        let per_disc = tracks.div_ceil(discs);
        let date = if rng.chance(0.4) {
            format!("{year}-{:02}-{:02}", rng.between(1, 12), rng.between(1, 28))
        } else {
            year.to_string()
        };
        let has_cover = rng.chance(0.7);
        let album_gain = rng.chance(0.4).then(|| -(rng.unit() * 12.0));
        let mb_album = rng.chance(0.3).then(|| uuid(rng));
        let (sample_rate, bit_depth): (u32, u8) = if fmt.lossless {
            [(44_100, 16), (44_100, 16), (48_000, 24), (96_000, 24)][rng.below(4) as usize]
        } else {
            (44_100, 0)
        };
        let bitrate_base = match fmt.format {
            "mp3" => [128, 192, 256, 320, 320][rng.below(5) as usize],
            "aac" => 256,
            _ => (sample_rate * u32::from(bit_depth) * 2) / 1000,
        };
        let composer = matches!(genre.as_str(), "Classical" | "Jazz" | "Soundtrack")
            .then(|| format!("{} {}", rng.pick(FIRST_NAMES), coined(rng)));
        let mtime = 1_100_000_000 + rng.below(620_000_000) as i64;
        let mut out = Vec::with_capacity(tracks as usize);
        let mut guests = Vec::new();
        for t in 0..tracks {
            let (disc, no) = (t / per_disc + 1, t % per_disc + 1);
            let words = self.rng.between(1, 4);
            let track_title = phrase(&mut self.rng, words);
            let mut artists = Vec::new();
            if compilation {
                artists.push(self.known_artist());
            } else {
                artists.push(tag_artist.clone().expect("an album artist"));
            }
            if self.rng.chance(0.06) {
                artists.push(self.known_artist());
            }
            guests.push(artists.len() > 1);
            let rng = &mut self.rng;
            let duration = match rng.below(100) {
                0..3 => 60.0 + rng.unit() * 60.0,
                3..95 => 120.0 + 240.0 * (rng.unit() + rng.unit()) / 2.0,
                _ => 360.0 + rng.unit() * 240.0,
            };
            let duration = (duration * 1000.0).round() / 1000.0;
            let bitrate = if fmt.format == "flac" || fmt.format == "alac" {
                (f64::from(bitrate_base) * (0.45 + rng.unit() * 0.25)) as u32
            } else if fmt.format == "mp3" && bitrate_base == 320 && rng.chance(0.3) {
                rng.between(190, 260) as u32 // VBR
            } else {
                bitrate_base
            };
            let size = (duration * f64::from(bitrate) * 125.0) as i64
                + 4_096
                + if has_cover { 150_000 } else { 0 };
            let file = if discs > 1 {
                format!("{disc}-{no:02} {track_title}.{}", fmt.ext)
            } else {
                format!("{no:02} {track_title}.{}", fmt.ext)
            };
            let mut fingerprint = [0u8; 16];
            fingerprint[..8].copy_from_slice(&rng.next().to_le_bytes());
            fingerprint[8..].copy_from_slice(&rng.next().to_le_bytes());
            let track_gain = album_gain.map(|g| g + (rng.unit() - 0.5) * 3.0);
            out.push(FileRecord::new(
                fingerprint,
                Track {
                    path: PathBuf::from(format!("/music/{folder_artist}/{title}/{file}")),
                    size,
                    mtime: mtime + rng.below(600) as i64,
                    title: track_title,
                    artist: (!artists.is_empty()).then(|| artists.join("; ")),
                    artists,
                    album: Some(title.clone()),
                    albumartist: album_artist.clone(),
                    track: Some(no),
                    tracktotal: Some(per_disc),
                    disc: Some(disc),
                    disctotal: Some(discs),
                    year: Some(year),
                    date: Some(date.clone()),
                    genre: Some(genre.clone()),
                    composer: composer.clone(),
                    compilation,
                    duration,
                    bitrate: Some(bitrate),
                    sample_rate: Some(sample_rate),
                    bit_depth: (bit_depth > 0).then_some(bit_depth),
                    channels: Some(2),
                    codec: fmt.codec.into(),
                    format: fmt.format.into(),
                    container: fmt.container.into(),
                    has_cover,
                    rg_track_gain: track_gain,
                    rg_track_peak: track_gain.map(|_| 0.7 + rng.unit() * 0.3),
                    rg_album_gain: album_gain,
                    rg_album_peak: album_gain.map(|_| 0.99),
                    mb_trackid: mb_album.as_ref().map(|_| uuid(rng)),
                    mb_albumid: mb_album.clone(),
                    ..Track::default()
                },
            ));
        }
        out
    }
}

/// Builds (or reuses) the library. Returns its path.
pub fn build_library(root: &Path, n: usize) -> PathBuf {
    let db = root.join("library.db");
    let marker = root.join("library.marker");
    let want = format!("layout={LAYOUT_VERSION} tracks={n} batch={BATCH}\n");
    if db.is_file() && fs::read_to_string(&marker).is_ok_and(|s| s == want) {
        println!(
            "  reusing {} ({n} tracks; marker {} matches)",
            db.display(),
            marker.display()
        );
        return db;
    }
    let _ = fs::remove_file(&marker);
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.clone().into_os_string();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
    println!(
        "  building {} with {n} tracks, {BATCH} per transaction ...",
        db.display()
    );
    let started = Instant::now();
    let mut lib = Library::open(&db).expect("open the bench library");
    let mut generator = Generator::new();
    let mut batch: Vec<(FileRecord, i64)> = Vec::with_capacity(BATCH);
    let mut written = 0usize;
    let mut generating = Duration::ZERO;
    let mut writing = Duration::ZERO;
    let mut mark = Instant::now();
    let mut flush = |batch: &mut Vec<(FileRecord, i64)>,
                     written: &mut usize,
                     generating: &mut Duration,
                     writing: &mut Duration,
                     mark: &mut Instant| {
        *generating += mark.elapsed();
        let t = Instant::now();
        lib.write(|w| {
            for (rec, added) in batch.iter() {
                w.insert_track(rec, *added)?;
            }
            Ok::<_, DbError>(())
        })
        .expect("write a batch");
        *writing += t.elapsed();
        *written += batch.len();
        batch.clear();
        if (*written).is_multiple_of(250_000) || *written == n {
            println!(
                "    {written:>9} tracks, {:.1} s (last batch {:.2} s)",
                started.elapsed().as_secs_f64(),
                t.elapsed().as_secs_f64()
            );
        }
        *mark = Instant::now();
    };
    generator.run(n, |rec, added| {
        batch.push((rec, added));
        if batch.len() == BATCH {
            flush(
                &mut batch,
                &mut written,
                &mut generating,
                &mut writing,
                &mut mark,
            );
        }
    });
    if !batch.is_empty() {
        flush(
            &mut batch,
            &mut written,
            &mut generating,
            &mut writing,
            &mut mark,
        );
    }
    drop(lib);
    let took = started.elapsed();
    fs::write(&marker, &want).expect("write marker");
    println!(
        "  built {n} tracks ({} artists, {} albums) in {:.1} s: {:.0} tracks/s; generating {:.1} s, \
         writing {:.1} s; {:.0} MB on disk",
        generator.artist_count,
        generator.album_count,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        generating.as_secs_f64(),
        writing.as_secs_f64(),
        db_bytes(&db) as f64 / 1e6
    );
    db
}

pub fn db_bytes(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|s| {
            let mut p = db.to_path_buf().into_os_string();
            p.push(s);
            fs::metadata(PathBuf::from(p)).map_or(0, |m| m.len())
        })
        .sum()
}
