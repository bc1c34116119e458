//! The sync plan, case by case: a device and a manifest described as data, the plan checked
//! against the expected actions.

use super::*;
use crate::export::manifest::{FileEntry, FolderState};
use crate::export::profile::builtins;

fn profile(name: &str) -> Profile {
    builtins().into_iter().find(|p| p.name == name).unwrap()
}

/// A track of album `album` by "Artist": `n` is its number, `format` its format (the codec
/// follows), `id` also names its audio.
fn track(id: i64, album: &str, n: u32, title: &str, format: &str) -> Track {
    let codec = match format {
        "wav" | "aiff" => "pcm",
        f => f,
    };
    Track {
        id,
        path: PathBuf::from(format!("/music/{album}/{n:02}.{format}")),
        title: title.into(),
        artist: Some("Artist".into()),
        albumartist: Some("Artist".into()),
        album: Some(album.into()),
        track: Some(n),
        codec: codec.into(),
        format: format.into(),
        duration: 60.0,
        sample_rate: Some(44100),
        size: 1_000_000,
        ..Track::default()
    }
}

fn fields(t: &Track, f: &str) -> Option<String> {
    match f {
        "title" => Some(t.title.clone()),
        "artist" => t.artist.clone(),
        "albumartist" => t.albumartist.clone(),
        "album" => t.album.clone(),
        "genre" => t.genre.clone(),
        _ => None,
    }
}

/// A device: the manifest and the files on it.
#[derive(Clone)]
struct Device {
    manifest: Manifest,
    existing: HashMap<String, u64>,
    free: Option<u64>,
}

impl Device {
    fn empty() -> Device {
        Device {
            manifest: Manifest::new("car"),
            existing: HashMap::new(),
            free: None,
        }
    }

    /// A file someone else put there.
    fn foreign(mut self, path: &str) -> Device {
        self.existing.insert(path.into(), 5);
        self
    }

    /// The device after a sync that did everything the plan says.
    fn after(&self, plan: &Plan, tracks: &[Track], fps: &HashMap<i64, String>) -> Device {
        let mut d = self.clone();
        for del in &plan.deletes {
            d.manifest.files.remove(&del.path);
            d.existing.remove(&del.path);
        }
        for f in &plan.forget {
            d.manifest.files.remove(f);
        }
        let mut seq = d.manifest.next_seq;
        for folder in &plan.folders {
            for &n in &folder.order {
                let item = &plan.items[n];
                if item.kind == Kind::Keep && !folder.rewrite {
                    continue;
                }
                if let Some(from) = &item.from {
                    d.manifest.files.remove(from);
                    d.existing.remove(from);
                }
                let size = if item.bytes > 0 { item.bytes } else { 7 };
                d.manifest.files.insert(
                    item.path.clone(),
                    FileEntry {
                        source: fps[&tracks[item.track].id].clone(),
                        settings: item.settings.clone(),
                        tags: item.tags.clone(),
                        size,
                        xxh3: "0".into(),
                        seq,
                        written_at: 0,
                    },
                );
                seq += 1;
                d.existing.insert(item.path.clone(), size);
            }
            d.manifest.folders.insert(
                folder.path.clone(),
                FolderState {
                    holes: folder.holes_after,
                    created: true,
                },
            );
        }
        d.manifest.next_seq = seq;
        for pl in &plan.playlists {
            let lines: Vec<PlaylistLine> = pl
                .tracks
                .iter()
                .map(|&i| {
                    let item = plan.items.iter().find(|it| it.track == i).unwrap();
                    playlist_line(&tracks[i], &item.path)
                })
                .collect();
            d.manifest.playlists.insert(
                pl.path.clone(),
                playlist_digest(&render_playlist(&profile(&d.manifest.profile), &lines)),
            );
            d.existing.insert(pl.path.clone(), 10);
        }
        d
    }
}

fn fps(tracks: &[Track]) -> HashMap<i64, String> {
    tracks
        .iter()
        .map(|t| (t.id, format!("fp{}", t.id)))
        .collect()
}

fn run_with(
    tracks: &[Track],
    fps: &HashMap<i64, String>,
    device: &Device,
    p: &Profile,
    template: &str,
    playlists: &[(String, Vec<i64>)],
) -> Plan {
    let template = PathTemplate::parse(template).unwrap();
    plan(&Input {
        tracks,
        fingerprints: fps,
        playlists,
        manifest: &device.manifest,
        profile: p,
        template: &template,
        fields: &fields,
        existing: &device.existing,
        free: device.free,
        fold_case: true,
        given_order: false,
    })
}

fn run(tracks: &[Track], device: &Device, p: &Profile) -> Plan {
    run_with(tracks, &fps(tracks), device, p, &p.template, &[])
}

/// (action, path) for everything that changes, deletions last.
fn actions(plan: &Plan) -> Vec<(String, String)> {
    plan.items
        .iter()
        .filter(|i| i.kind != Kind::Keep)
        .map(|i| (i.kind.name().to_string(), i.path.clone()))
        .chain(
            plan.deletes
                .iter()
                .map(|d| ("delete".to_string(), d.path.clone())),
        )
        .collect()
}

fn check(plan: &Plan, expected: &[(&str, &str)]) {
    let got = actions(plan);
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(a, p)| (a.to_string(), p.to_string()))
        .collect();
    assert_eq!(got, want);
}

fn album() -> Vec<Track> {
    vec![
        track(1, "Road", 1, "One", "flac"),
        track(2, "Road", 2, "Two", "flac"),
        track(3, "Road", 3, "Three", "flac"),
    ]
}

#[test]
fn a_fresh_device_gets_every_track_in_play_order() {
    // Given out of order; planned in play order.
    let mut tracks = album();
    tracks.reverse();
    let plan = run(&tracks, &Device::empty(), &profile("car"));
    check(
        &plan,
        &[
            ("add", "Artist/Road/01 One.mp3"),
            ("add", "Artist/Road/02 Two.mp3"),
            ("add", "Artist/Road/03 Three.mp3"),
        ],
    );
    assert_eq!(plan.folders.len(), 1);
    assert!(!plan.folders[0].rewrite, "a new folder is written in order");
    assert!(plan.problems.is_empty() && plan.clashes.is_empty());
    assert!(plan.bytes_needed > 3 * 60 * 40_000, "{}", plan.bytes_needed);
}

#[test]
fn methods_follow_the_profile() {
    let mut mp3 = track(1, "A", 1, "Loud", "mp3");
    mp3.rg_album_gain = Some(-6.5);
    mp3.rg_album_peak = Some(1.0);
    let quiet_mp3 = track(2, "A", 2, "Plain", "mp3");
    let aac = track(3, "A", 3, "Phone", "aac");
    let flac = track(4, "A", 4, "Lossless", "flac");
    let tracks = vec![mp3, quiet_mp3, aac, flac];
    let cases: &[(&str, [Method; 4], [&str; 4])] = &[
        (
            "car",
            [
                Method::CopyGain { steps: -4 },
                Method::CopyRetag,
                Method::Encode { lossy: true },
                Method::Encode { lossy: false },
            ],
            ["mp3", "mp3", "mp3", "mp3"],
        ),
        (
            "stick",
            [Method::Copy, Method::Copy, Method::Copy, Method::Copy],
            ["mp3", "mp3", "aac", "flac"],
        ),
    ];
    for (name, methods, exts) in cases {
        let plan = run(&tracks, &Device::empty(), &profile(name));
        let got: Vec<Method> = plan.items.iter().map(|i| i.method).collect();
        assert_eq!(&got[..], &methods[..], "{name}");
        let got: Vec<&str> = plan
            .items
            .iter()
            .map(|i| i.path.rsplit_once('.').unwrap().1)
            .collect();
        assert_eq!(&got[..], &exts[..], "{name}");
    }
    // The lossy-to-lossy case says so.
    let plan = run(&tracks, &Device::empty(), &profile("car"));
    assert!(
        plan.items[2]
            .note
            .as_deref()
            .unwrap()
            .contains("lossy to lossy")
    );
    assert!(plan.items[3].note.is_none());
}

#[test]
fn gain_steps_round_and_respect_the_peak() {
    let cases: &[(Option<f64>, Option<f64>, i32)] = &[
        (Some(-6.5), None, -4),
        (Some(-0.7), None, 0),
        (Some(-0.8), None, -1),
        (Some(4.0), None, 3),
        // +4 dB would clip a peak of 0.9: 0.9 allows 0.9 dB, less than a step.
        (Some(4.0), Some(0.9), 0),
        (Some(4.0), Some(0.5), 3),
        (None, None, 0),
    ];
    for &(g, peak, steps) in cases {
        let mut t = track(1, "A", 1, "x", "mp3");
        t.rg_track_gain = g;
        t.rg_track_peak = peak;
        assert_eq!(gain_steps(gain::Mode::Track, &t), steps, "{g:?} {peak:?}");
        // The same values computed by `analyze` on an untagged track (the peak as dBTP).
        let mut computed = track(1, "A", 1, "x", "mp3");
        computed.rg_track = g;
        computed.truepeak = peak.map(|p| 20.0 * p.log10());
        assert_eq!(
            gain_steps(gain::Mode::Track, &computed),
            steps,
            "computed {g:?} {peak:?}"
        );
    }
}

#[test]
fn a_second_run_with_nothing_changed_plans_nothing() {
    let tracks = album();
    let f = fps(&tracks);
    for name in ["car", "car-strict", "stick"] {
        let p = profile(name);
        let lists = vec![("Mix".to_string(), vec![3, 1])];
        let first = run_with(&tracks, &f, &Device::empty(), &p, &p.template, &lists);
        let mut device = Device::empty();
        device.manifest.profile = name.into();
        let device = device.after(&first, &tracks, &f);
        let second = run_with(&tracks, &f, &device, &p, &p.template, &lists);
        assert!(second.is_empty(), "{name}: {:?}", actions(&second));
        assert_eq!(second.count(Kind::Keep), 3);
        assert_eq!(second.bytes_needed, 0);
    }
}

/// Syncs `before`, then plans `after` against the result.
fn resync(before: &[Track], after: &[Track], p: &Profile, q: &Profile) -> Plan {
    let audio = |ts: &[Track]| -> HashMap<i64, String> {
        ts.iter()
            .map(|t| (t.id, format!("fp{}-{}", t.id, t.size)))
            .collect()
    };
    let f = audio(before);
    let first = run_with(before, &f, &Device::empty(), p, &p.template, &[]);
    let mut device = Device::empty();
    device.manifest.profile = p.name.clone();
    let device = device.after(&first, before, &f);
    run_with(after, &audio(after), &device, q, &q.template, &[])
}

#[test]
fn changes_give_exactly_the_expected_plan() {
    let car = profile("car");
    let stick = profile("stick");
    let base = album();
    type Change = fn(&mut Vec<Track>);
    type Case<'a> = (&'a str, Change, &'a [(&'a str, &'a str)], usize);
    let cases: &[Case] = &[
        (
            "retitled: tags only, the name follows",
            |t| t[2].genre = Some("Jazz".into()),
            &[("retag", "Artist/Road/03 Three.mp3")],
            0,
        ),
        (
            "removed track",
            |t| {
                t.remove(1);
            },
            &[("delete", "Artist/Road/02 Two.mp3")],
            0,
        ),
        (
            "new audio for a track (size changes its fingerprint here)",
            |t| t[2].size += 1,
            &[("reencode", "Artist/Road/03 Three.mp3")],
            0,
        ),
        (
            "renamed album: retagged into a new folder",
            |t| {
                for x in t.iter_mut() {
                    x.album = Some("Highway".into());
                }
            },
            &[
                ("retag", "Artist/Highway/01 One.mp3"),
                ("retag", "Artist/Highway/02 Two.mp3"),
                ("retag", "Artist/Highway/03 Three.mp3"),
            ],
            0,
        ),
        (
            "a track inserted before others rewrites the folder",
            |t| t.push(track(9, "Road", 0, "Intro", "flac")),
            &[("add", "Artist/Road/00 Intro.mp3")],
            1,
        ),
        (
            "a track appended after the others does not",
            |t| t.push(track(9, "Road", 4, "Four", "flac")),
            &[("add", "Artist/Road/04 Four.mp3")],
            0,
        ),
        (
            "retagging the first track rewrites the folder",
            |t| t[0].genre = Some("Jazz".into()),
            &[("retag", "Artist/Road/01 One.mp3")],
            1,
        ),
    ];
    for (what, change, expected, rewrites) in cases {
        let mut after = base.clone();
        change(&mut after);
        let plan = resync(&base, &after, &car, &car);
        let got = actions(&plan);
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(a, p)| (a.to_string(), p.to_string()))
            .collect();
        assert_eq!(got, want, "{what}");
        assert_eq!(plan.rewrites(), *rewrites, "{what}");
    }
    // A new template renames the files and changes nothing else.
    let mut flat = car.clone();
    flat.template = "$albumartist - $album/$track $title".into();
    let plan = resync(&base, &base, &car, &flat);
    check(
        &plan,
        &[
            ("rename", "Artist - Road/01 One.mp3"),
            ("rename", "Artist - Road/02 Two.mp3"),
            ("rename", "Artist - Road/03 Three.mp3"),
        ],
    );
    assert_eq!(plan.bytes_needed, 0);
    // A changed profile re-encodes every file, each from the old one's place.
    let plan = resync(&base, &base, &stick, &car);
    check(
        &plan,
        &[
            ("reencode", "Artist/Road/01 One.mp3"),
            ("reencode", "Artist/Road/02 Two.mp3"),
            ("reencode", "Artist/Road/03 Three.mp3"),
        ],
    );
    assert_eq!(
        plan.items[0].from.as_deref(),
        Some("Artist/Road/01 One.flac")
    );
}

#[test]
fn deleting_then_adding_in_a_folder_with_a_gap_rewrites_it() {
    let car = profile("car");
    let base = album();
    let f = fps(&base);
    let first = run_with(&base, &f, &Device::empty(), &car, &car.template, &[]);
    let device = Device::empty().after(&first, &base, &f);
    // Track 1 goes: a gap before tracks that stay.
    let fewer = base[1..].to_vec();
    let plan = run_with(&fewer, &f, &device, &car, &car.template, &[]);
    check(&plan, &[("delete", "Artist/Road/01 One.mp3")]);
    assert!(!plan.folders[0].rewrite && plan.folders[0].holes_after);
    let device = device.after(&plan, &fewer, &f);
    // Appending after the others would land in the gap on FAT: the folder is rewritten.
    let mut more = fewer.clone();
    more.push(track(4, "Road", 4, "Four", "flac"));
    let mut f2 = f.clone();
    f2.insert(4, "fp4".into());
    let plan = run_with(&more, &f2, &device, &car, &car.template, &[]);
    check(&plan, &[("add", "Artist/Road/04 Four.mp3")]);
    assert!(plan.folders[0].rewrite);
    // Deleting the last track leaves no gap before the others.
    let device2 = Device::empty().after(&first, &base, &f);
    let plan = run_with(&base[..2], &f, &device2, &car, &car.template, &[]);
    assert!(!plan.folders[0].holes_after);
}

#[test]
fn files_of_others_are_never_planned_over() {
    let car = profile("car");
    let tracks = album();
    let device = Device::empty()
        .foreign("Artist/Road/02 Two.mp3")
        .foreign("artist/road/03 three.MP3");
    let plan = run(&tracks, &device, &car);
    check(
        &plan,
        &[
            ("add", "Artist/Road/01 One.mp3"),
            ("add", "Artist/Road/02 Two (2).mp3"),
            ("add", "Artist/Road/03 Three (2).mp3"),
        ],
    );
    assert_eq!(plan.clashes.len(), 2, "{:?}", plan.clashes);
    assert!(plan.clashes[0].contains("not written by tapedeck"));
    assert!(plan.deletes.is_empty());
}

#[test]
fn full_folders_split_into_parts_in_play_order() {
    let mut p = profile("car-strict");
    p.files_per_folder = Some(2);
    let tracks: Vec<Track> = (1..=5)
        .map(|n| track(n, "Long Album Name", n as u32, "Song", "flac"))
        .collect();
    let plan = run(&tracks, &Device::empty(), &p);
    let paths: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Artist/Long_Album_Name_1/01_Song.mp3",
            "Artist/Long_Album_Name_1/02_Song.mp3",
            "Artist/Long_Album_Name_2/03_Song.mp3",
            "Artist/Long_Album_Name_2/04_Song.mp3",
            "Artist/Long_Album_Name_3/05_Song.mp3",
        ]
    );
    assert!(plan.problems.is_empty(), "{:?}", plan.problems);
    assert_eq!(
        part_name("A Very Long Folder Name Indeed!!", 12, &p.name_rules()).len(),
        31
    );
}

#[test]
fn what_does_not_fit_is_listed() {
    let tracks = album();
    let strict = profile("car-strict");
    let plan = run_with(
        &tracks,
        &fps(&tracks),
        &Device::empty(),
        &strict,
        "$genre/$albumartist/$album/$title",
        &[],
    );
    assert!(
        plan.problems.iter().any(|p| p.contains("folder levels")),
        "{:?}",
        plan.problems
    );
    let mut small = Device::empty();
    small.free = Some(1_000_000);
    let plan = run(&tracks, &small, &profile("car"));
    assert!(
        plan.problems.iter().any(|p| p.contains("not enough space")),
        "{:?}",
        plan.problems
    );
    let mut few = profile("stick");
    few.max_files = Some(2);
    few.max_folders = Some(1);
    let plan = run(&tracks, &Device::empty(), &few);
    assert_eq!(plan.problems.len(), 2, "{:?}", plan.problems);
}

#[test]
fn playlists_split_at_the_entry_limit_and_point_at_exported_names() {
    let mut p = profile("car-strict");
    p.playlist_entries = Some(2);
    let tracks = album();
    let lists = vec![("Road Trip".to_string(), vec![3, 2, 1])];
    let plan = run_with(
        &tracks,
        &fps(&tracks),
        &Device::empty(),
        &p,
        &p.template,
        &lists,
    );
    let parts: Vec<(&str, usize)> = plan
        .playlists
        .iter()
        .map(|pl| (pl.path.as_str(), pl.entries))
        .collect();
    assert_eq!(parts, [("Road_Trip_1.m3u", 2), ("Road_Trip_2.m3u", 1)]);
    let line = playlist_line(&tracks[2], &plan.items[2].path);
    let bytes = render_playlist(&p, &[line]);
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "#EXTM3U\r\n#EXTINF:60,Artist - Three\r\nArtist/Road/03_Three.mp3\r\n"
    );
    let mut back = p.clone();
    back.playlist_separator = '\\';
    back.playlist_encoding = TextEncoding::Latin1;
    let bytes = render_playlist(
        &back,
        &[PlaylistLine {
            path: "A/B.mp3".into(),
            title: "Björk – ok".into(),
            seconds: 1.4,
        }],
    );
    assert_eq!(bytes, b"#EXTM3U\r\n#EXTINF:1,Bj\xf6rk ? ok\r\nA\\B.mp3\r\n");
}
