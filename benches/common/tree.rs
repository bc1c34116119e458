//! The synthetic music tree the benchmarks that need real files share (the scan and service
//! benchmarks): tagged copies of `fixtures/library/` under `lib/base/`, then hard links to them
//! under `lib/more/` up to a larger count, each kept between runs behind a marker file.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use tapedeck::tags::{self, TagEdit};

/// Bumped whenever the generated tree changes shape, so old trees are rebuilt, not reused.
pub const LAYOUT_VERSION: u32 = 1;

/// Small fixtures with compressed audio: most of the library.
pub const COMPRESSED: &[&str] = &[
    "mp3/id3v23.mp3",
    "mp3/id3v24.mp3",
    "mp3/id3v1-only.mp3",
    "aac/tagged.m4a",
    "aac/adts.aac",
    "alac/alac16.m4a",
    "flac/picture.flac",
    "untagged/no-tags.flac",
];
/// PCM fixtures (about 180 KB each): only a few albums.
pub const PCM: &[&str] = &[
    "wav/list-info.wav",
    "wav/id3-chunk.wav",
    "aiff/id3.aiff",
    "aiff/name-auth.aif",
];
/// One album in this many is PCM.
pub const PCM_ALBUM_EVERY: u64 = 120;

/// Words for titles, albums and artists; a few are not ASCII, as in real libraries.
#[rustfmt::skip]
pub const WORDS: &[&str] = &[
    "Blue", "Night", "River", "Golden", "Electric", "Silent", "Morning", "Paper", "Glass", "Echo",
    "Northern", "Velvet", "Summer", "Winter", "Distant", "Broken", "Neon", "Harbour", "Wild", "Static",
    "Satellite", "Ocean", "Midnight", "Hollow", "Crimson", "Fever", "Garden", "Signal", "Orbit", "Lantern",
    "Café", "Señorita", "Über", "Jour", "Straße", "Ñandú", "Zoë", "Ångström",
];
#[rustfmt::skip]
pub const GENRES: &[&str] = &[
    "Rock", "Jazz", "Electronic", "Classical", "Hip-Hop", "Folk", "Ambient", "Pop", "Metal", "Soul",
    "Reggae", "Blues", "Música Popular Brasileira",
];

/// A tiny deterministic generator (SplitMix64), so every run plans the same tree.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    pub fn phrase(&mut self, words: u64) -> String {
        (0..words)
            .map(|_| self.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// One planned file of the base library.
pub struct Planned {
    pub artist: usize,
    /// Path below the artist folder: `Album NNNN/NN Title.ext`.
    pub below_artist: PathBuf,
    pub fixture: usize,
    pub edit: TagEdit,
}

pub fn artist_dir(n: usize) -> String {
    format!("Artist {n:04}")
}

/// Plans `n` files: artists with 1 to 6 albums of 10 to 15 tracks, each album in one format.
pub fn plan(n: usize, fixtures: &[Fixture]) -> (Vec<Planned>, usize) {
    let compressed: Vec<usize> = (0..fixtures.len()).filter(|&i| !fixtures[i].pcm).collect();
    let pcm: Vec<usize> = (0..fixtures.len()).filter(|&i| fixtures[i].pcm).collect();
    let mut rng = Rng(0x7A9E_DECC);
    let mut out = Vec::with_capacity(n);
    let mut artist = 0usize;
    let mut album_no = 0u64;
    while out.len() < n {
        artist += 1;
        let artist_name = format!(
            "{} {}",
            rng.pick(WORDS),
            rng.pick(&["Band", "Trio", "Collective", "Ensemble", "Project"])
        );
        let albums = 1 + rng.below(6) as usize;
        for album in 1..=albums {
            if out.len() >= n {
                break;
            }
            album_no += 1;
            let fixture = if !pcm.is_empty() && album_no.is_multiple_of(PCM_ALBUM_EVERY) {
                pcm[rng.below(pcm.len() as u64) as usize]
            } else {
                compressed[rng.below(compressed.len() as u64) as usize]
            };
            let words = 1 + rng.below(3);
            let album_title = rng.phrase(words);
            let year = 1960 + rng.below(65) as i32;
            let genre = rng.pick(GENRES).to_string();
            let compilation = rng.below(10) == 0;
            let tracks = 10 + rng.below(6) as u32;
            for track in 1..=tracks {
                if out.len() >= n {
                    break;
                }
                let words = 1 + rng.below(4);
                let title = rng.phrase(words);
                let track_artist = if compilation {
                    format!("{} {}", rng.pick(WORDS), rng.pick(WORDS))
                } else {
                    artist_name.clone()
                };
                let ext = &fixtures[fixture].ext;
                out.push(Planned {
                    artist,
                    below_artist: PathBuf::from(format!("Album {album:04}"))
                        .join(format!("{track:02} {title}.{ext}")),
                    fixture,
                    edit: TagEdit {
                        title: Some(title),
                        artist: Some(track_artist),
                        album: Some(album_title.clone()),
                        album_artist: Some(if compilation {
                            "Various Artists".into()
                        } else {
                            artist_name.clone()
                        }),
                        track: Some(track),
                        year: Some(year),
                        genre: Some(genre.clone()),
                    },
                });
            }
        }
    }
    (out, artist)
}

pub struct Fixture {
    pub src: PathBuf,
    pub ext: String,
    pub pcm: bool,
}

/// The fixtures that exist and that `tags::write` can tag (tried on a scratch copy).
pub fn usable_fixtures(fixture_root: &Path, scratch: &Path) -> Vec<Fixture> {
    fs::create_dir_all(scratch).expect("create scratch folder");
    let mut out = Vec::new();
    for (list, pcm) in [(COMPRESSED, false), (PCM, true)] {
        for rel in list {
            let src = fixture_root.join(rel);
            if !src.is_file() {
                println!("  note: fixture {rel} is missing; not used");
                continue;
            }
            let ext = src.extension().unwrap().to_string_lossy().into_owned();
            let probe = scratch.join(format!("probe.{ext}"));
            fs::copy(&src, &probe).expect("copy fixture");
            let edit = TagEdit {
                title: Some("Probe".into()),
                track: Some(1),
                year: Some(2000),
                ..TagEdit::default()
            };
            match tags::write(&probe, &edit) {
                Ok(()) => out.push(Fixture { src, ext, pcm }),
                Err(e) => println!(
                    "  note: tags::write fails on fixture {rel} ({}); not used",
                    e.0
                ),
            }
            let _ = fs::remove_file(&probe);
        }
    }
    let _ = fs::remove_dir(scratch);
    assert!(
        out.iter().any(|f| !f.pcm),
        "no usable compressed fixture under {}",
        fixture_root.display()
    );
    out
}

pub fn marker_ok(marker: &Path, want: &str, dir: &Path) -> bool {
    dir.is_dir() && fs::read_to_string(marker).is_ok_and(|s| s == want)
}

/// Builds (or reuses) `lib/base` with `n` tagged copies. Returns the plan's artist count.
pub fn build_base(bench_root: &Path, fixtures: &[Fixture], n: usize) -> (Vec<Planned>, usize) {
    let lib = bench_root.join("lib");
    let base = lib.join("base");
    let marker = bench_root.join("base.marker");
    let names: Vec<&str> = fixtures
        .iter()
        .map(|f| f.src.file_name().unwrap().to_str().unwrap())
        .collect();
    let want = format!(
        "layout={LAYOUT_VERSION} files={n} fixtures={}\n",
        names.join(",")
    );
    let (planned, artists) = plan(n, fixtures);
    if marker_ok(&marker, &want, &base) {
        println!(
            "  reusing {} ({n} files; marker {} matches)",
            base.display(),
            marker.display()
        );
        return (planned, artists);
    }
    // Anything built before from another plan goes, including the hard links that point into it.
    let _ = fs::remove_file(&marker);
    let _ = fs::remove_file(bench_root.join("more.marker"));
    if lib.exists() {
        fs::remove_dir_all(&lib).expect("remove old bench library");
    }
    println!(
        "  building {} with {n} files ({} fixtures) ...",
        base.display(),
        fixtures.len()
    );
    let started = Instant::now();
    let failures: Vec<String> = planned
        .par_iter()
        .filter_map(|p| {
            let dst = base.join(artist_dir(p.artist)).join(&p.below_artist);
            fs::create_dir_all(dst.parent().unwrap()).expect("create album folder");
            fs::copy(&fixtures[p.fixture].src, &dst).expect("copy fixture");
            tags::write(&dst, &p.edit)
                .err()
                .map(|e| format!("{}: {}", dst.display(), e.0))
        })
        .collect();
    let took = started.elapsed();
    if !failures.is_empty() {
        println!(
            "  note: {} files kept their fixture tags (tags::write failed), e.g. {}",
            failures.len(),
            failures[0]
        );
    }
    fs::write(&marker, &want).expect("write marker");
    println!(
        "  built {n} files in {:.1} s ({:.0} files/s, {:.0} MB on disk)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        dir_bytes(&base) as f64 / 1e6
    );
    (planned, artists)
}

/// Builds (or reuses) `lib/more`: hard links to the base files, so that `lib` holds `total` files.
pub fn build_more(bench_root: &Path, planned: &[Planned], artists: usize, total: usize) {
    let lib = bench_root.join("lib");
    let base = lib.join("base");
    let more = lib.join("more");
    let marker = bench_root.join("more.marker");
    let extra = total - planned.len();
    let want = format!(
        "layout={LAYOUT_VERSION} base={} files={total}\n",
        planned.len()
    );
    if marker_ok(&marker, &want, &more) {
        println!(
            "  reusing {} ({extra} hard links; marker matches)",
            more.display()
        );
        return;
    }
    let _ = fs::remove_file(&marker);
    if more.exists() {
        fs::remove_dir_all(&more).expect("remove old hard links");
    }
    println!("  linking {extra} more files under {} ...", more.display());
    let started = Instant::now();
    (0..extra).into_par_iter().for_each(|j| {
        let p = &planned[j % planned.len()];
        let copy = 1 + j / planned.len();
        let src = base.join(artist_dir(p.artist)).join(&p.below_artist);
        let dst = more
            .join(artist_dir(p.artist + copy * artists))
            .join(&p.below_artist);
        fs::create_dir_all(dst.parent().unwrap()).expect("create album folder");
        fs::hard_link(&src, &dst).unwrap_or_else(|e| panic!("hard link {}: {e}", dst.display()));
    });
    fs::write(&marker, &want).expect("write marker");
    println!(
        "  linked {extra} files in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

pub fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => total += e.metadata().map_or(0, |m| m.len()),
                Err(_) => {}
            }
        }
    }
    total
}
