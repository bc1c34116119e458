//! What a sync will do, decided before anything is written: given the selected tracks, the
//! manifest, the profile and the files on the device, each track is added, re-encoded, retagged,
//! renamed or kept; manifest files no longer selected are deleted; folders whose directory
//! entries would fall out of play order are marked for rewriting; clashes with files tapedeck
//! did not write are reported; and the result is checked against the profile's limits and the
//! free space. Pure: no files, no clock, no database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::Manifest;
use super::profile::{PlaylistKind, Profile, TextEncoding};
use crate::audio::gain;
use crate::convert::encode::Format;
use crate::convert::plan::{is_lossless_codec, output_rate};
use crate::model::{Track, fold};
use crate::names::{self, Charset, Namer, PathTemplate};
use crate::playlist::file as playlist_file;

/// How a track's file is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Method {
    /// A byte copy of the source.
    Copy,
    /// A copy whose tags (and cover) are rewritten as the profile wants.
    CopyRetag,
    /// An MP3 copy whose frames' global gain is changed by `steps` of 1.5 dB, tags rewritten.
    CopyGain { steps: i32 },
    /// Encoded to the profile's format; `lossy` when the source is lossy too.
    Encode { lossy: bool },
}

/// What happens to one selected track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// No file of it on the device yet.
    Add,
    /// Its audio or the profile's audio settings changed: made again.
    Reencode,
    /// Only its tags changed.
    Retag,
    /// The same file under a new name (the template's output changed).
    Rename,
    /// Nothing to do.
    Keep,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Add => "add",
            Kind::Reencode => "reencode",
            Kind::Retag => "retag",
            Kind::Rename => "rename",
            Kind::Keep => "keep",
        }
    }
}

/// One selected track's fate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Index into the tracks given to [`plan`].
    #[serde(skip)]
    pub track: usize,
    pub kind: Kind,
    /// Where it ends up, relative to the device root.
    pub path: String,
    /// The file of ours it comes from, when it is already on the device.
    pub from: Option<String>,
    #[serde(flatten)]
    pub method: Method,
    /// The manifest's settings key for the file.
    #[serde(skip)]
    pub settings: String,
    /// The manifest's tag key for the file.
    #[serde(skip)]
    pub tags: String,
    /// Expected size of the new file, in bytes (0 when nothing is written).
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A file of ours to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delete {
    pub path: String,
    pub bytes: u64,
}

/// A folder that changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Folder {
    pub path: String,
    /// Every file of ours in it is taken out and put back in play order (else new files are
    /// only appended after the ones that stay).
    pub rewrite: bool,
    /// Items (indexes into [`Plan::items`]) that end up in it, in play order.
    #[serde(skip)]
    pub order: Vec<usize>,
    /// Whether the folder will have gaps in its directory after the sync.
    #[serde(skip)]
    pub holes_after: bool,
}

/// One playlist file to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaylistPart {
    /// Relative to the device root.
    pub path: String,
    /// The playlist it comes from.
    pub playlist: String,
    /// Its tracks, as indexes into the tracks given to [`plan`].
    #[serde(skip)]
    pub tracks: Vec<usize>,
    pub entries: usize,
    /// Whether the file on the device differs from what will be written (or is missing).
    pub changed: bool,
}

/// The plan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub items: Vec<Item>,
    pub deletes: Vec<Delete>,
    /// Manifest entries whose files are gone and that nothing wants: dropped silently.
    #[serde(skip)]
    pub forget: Vec<String>,
    pub folders: Vec<Folder>,
    pub playlists: Vec<PlaylistPart>,
    /// Playlist files of ours no longer wanted.
    pub playlist_deletes: Vec<String>,
    /// Names taken by files tapedeck did not write, and what was done instead.
    pub clashes: Vec<String>,
    /// What does not fit the device or the profile; nothing is written while there is any.
    pub problems: Vec<String>,
    /// Bytes of new files to write.
    pub bytes_needed: u64,
    /// Bytes of our files removed or replaced.
    pub bytes_freed: u64,
    /// Free space on the device, when known.
    pub free: Option<u64>,
}

impl Plan {
    pub fn count(&self, kind: Kind) -> usize {
        self.items.iter().filter(|i| i.kind == kind).count()
    }

    /// Files to add, re-encode, retag, rename or delete.
    pub fn changes(&self) -> usize {
        self.items.iter().filter(|i| i.kind != Kind::Keep).count() + self.deletes.len()
    }

    pub fn rewrites(&self) -> usize {
        self.folders.iter().filter(|f| f.rewrite).count()
    }

    /// Whether the sync would change anything on the device.
    pub fn is_empty(&self) -> bool {
        self.changes() == 0
            && self.rewrites() == 0
            && self.forget.is_empty()
            && self.playlist_deletes.is_empty()
            && self.playlists.iter().all(|p| !p.changed)
    }
}

/// What the planner is given.
pub struct Input<'a> {
    /// The selected tracks (any order).
    pub tracks: &'a [Track],
    /// Audio fingerprints (hex) by track id.
    pub fingerprints: &'a HashMap<i64, String>,
    /// Playlists to write: name and track ids in order.
    pub playlists: &'a [(String, Vec<i64>)],
    pub manifest: &'a Manifest,
    pub profile: &'a Profile,
    pub template: &'a PathTemplate,
    pub fields: &'a dyn Fn(&Track, &str) -> Option<String>,
    /// Files on the device now (relative `/`-separated path to size), tapedeck's own folder
    /// left out.
    pub existing: &'a HashMap<String, u64>,
    /// Free bytes on the device, when known.
    pub free: Option<u64>,
    /// Whether the device folds case in names (FAT does).
    pub fold_case: bool,
    /// Play the tracks in the order given (a playlist), each numbered (`$track`) by its place,
    /// instead of in album order with the tags' numbers.
    pub given_order: bool,
}

/// Play order: album artist, year, album, disc (missing counts as 1), track, title, path.
type OrderKey = (String, i32, String, u32, u32, String, PathBuf);

fn order_key(t: &Track) -> OrderKey {
    (
        fold(
            t.albumartist
                .as_deref()
                .or(t.artist.as_deref())
                .unwrap_or(""),
        ),
        t.year.unwrap_or(i32::MIN),
        fold(t.album.as_deref().unwrap_or("")),
        t.disc.unwrap_or(1),
        t.track.unwrap_or(u32::MAX),
        fold(&t.title),
        t.path.clone(),
    )
}

/// The gain steps (1.5 dB each) that bring an MP3 to its ReplayGain, rounded to the nearest
/// step but never above what the tagged peak allows.
pub fn gain_steps(mode: gain::Mode, t: &Track) -> i32 {
    let applied = gain_for(mode, t);
    if applied.db == 0.0 {
        return 0;
    }
    let mut steps = (applied.db / 1.5).round() as i32;
    // The peaks that go with the gain: the tags', or the computed true peaks.
    let tags = gain::Tags::from(t);
    let peak = match applied.source {
        gain::Source::Album => tags.album_peak.or(tags.track_peak),
        _ => tags.track_peak,
    };
    if let Some(p) = peak.filter(|p| p.is_finite() && *p > 0.0) {
        while steps > 0 && p * 10f64.powf(f64::from(steps) * 1.5 / 20.0) > 1.0 {
            steps -= 1;
        }
    }
    steps
}

/// The ReplayGain decision for baking into a track (no preamp; peak-limited).
pub fn gain_for(mode: gain::Mode, t: &Track) -> gain::Applied {
    gain::bake(mode, &t.into())
}

/// How the profile makes this track's file, and the extension it gets.
pub fn method_for(profile: &Profile, t: &Track) -> (Method, String) {
    if profile.copies(&t.format, t.sample_rate) {
        let ext = t
            .path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_else(|| t.format.clone());
        let method = match profile.gain {
            Some(mode) if mode != gain::Mode::Off && t.format == "mp3" => {
                match gain_steps(mode, t) {
                    0 => Method::CopyRetag,
                    steps => Method::CopyGain { steps },
                }
            }
            Some(mode) if mode != gain::Mode::Off && gain_for(mode, t).scale != 1.0 => {
                // Only MP3 frames carry a gain that can change without decoding.
                Method::Encode {
                    lossy: !is_lossless_codec(&t.codec),
                }
            }
            _ if profile.rewrites_tags() => Method::CopyRetag,
            _ => Method::Copy,
        };
        if matches!(method, Method::Encode { .. }) {
            return (method, profile.format.extension().to_string());
        }
        return (method, ext);
    }
    (
        Method::Encode {
            lossy: !is_lossless_codec(&t.codec),
        },
        profile.format.extension().to_string(),
    )
}

/// The sample rate a track is encoded at: the source's when the format carries it (else the
/// nearest of its family), never above the profile's maximum.
pub fn encode_rate(profile: &Profile, t: &Track) -> u32 {
    let rate = output_rate(profile.format, t.sample_rate.unwrap_or(44100), None);
    profile.max_sample_rate.map_or(rate, |m| rate.min(m))
}

/// The settings key of a track's file: what shapes its audio.
pub fn settings_key(profile: &Profile, t: &Track, method: Method) -> String {
    match method {
        Method::Copy | Method::CopyRetag => "copy".into(),
        Method::CopyGain { steps } => format!("copy gain={steps}"),
        Method::Encode { .. } => {
            let e = profile.encode();
            let mut k = format!("encode {}", e.format.name());
            match e.format {
                Format::Mp3 => match e.vbr {
                    Some(v) => k.push_str(&format!(" vbr=V{v}")),
                    None => k.push_str(&format!(" {}k", e.bitrate.unwrap_or(320))),
                },
                Format::Aac => k.push_str(&format!(" {}k", e.bitrate.unwrap_or(256))),
                _ => {}
            }
            k.push_str(&format!(" rate={}", encode_rate(profile, t)));
            if let Some(b) = profile.bit_depth {
                k.push_str(&format!(" bits={b}"));
            }
            if let Some(mode) = profile.gain {
                let g = gain_for(mode, t);
                if g.scale != 1.0 {
                    k.push_str(&format!(" gain={:.2}", g.db));
                }
            }
            k
        }
    }
}

/// The tag key of a track's file: a digest of every tag value written and the profile's tag
/// settings, plus the source's size (a retag almost always changes it).
pub fn tags_key(profile: &Profile, t: &Track) -> String {
    let text = format!(
        "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\
         \u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\
         \u{1f}{:?}\u{1f}{:?}\u{1f}{:?}\u{1f}{}",
        profile.tag_key(),
        t.title,
        t.artists,
        t.artist,
        t.album,
        t.albumartist,
        t.track,
        t.tracktotal,
        t.disc,
        t.disctotal,
        t.year,
        t.date,
        t.genre,
        t.composer,
        t.compilation,
        t.has_cover,
        t.rg_track_gain,
        t.rg_track_peak,
        t.rg_album_gain,
        t.rg_album_peak,
        t.mb_trackid,
        t.mb_albumid,
        t.size,
    );
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// The expected size of a new file.
fn estimate(profile: &Profile, t: &Track, method: Method) -> u64 {
    let source = t.size.max(0) as u64;
    match method {
        Method::Copy | Method::CopyRetag | Method::CopyGain { .. } => source,
        Method::Encode { .. } => {
            let e = profile.encode();
            let secs = t.duration.max(0.0);
            let kbps = match e.format {
                Format::Mp3 => e.bitrate.unwrap_or(320),
                Format::Aac => e.bitrate.unwrap_or(256),
                _ => {
                    let rate = t.sample_rate.unwrap_or(44100);
                    let ch = u32::from(t.channels.unwrap_or(2));
                    let bits = u32::from(profile.bit_depth.unwrap_or(match t.bit_depth {
                        Some(b) if b > 16 => 24,
                        _ => 16,
                    }));
                    let pcm = rate * ch * bits / 1000;
                    if e.format == Format::Flac || e.format == Format::Alac {
                        pcm * 6 / 10
                    } else {
                        pcm
                    }
                }
            };
            (secs * f64::from(kbps) * 125.0) as u64 + 64 * 1024
        }
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn path_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A case-folded path for comparing names as FAT does.
fn fold_name(path: &str, fold_case: bool) -> String {
    if fold_case {
        path.chars().flat_map(char::to_uppercase).collect()
    } else {
        path.to_string()
    }
}

/// The name of part `n` of a folder or playlist split because of a limit: "Name 2", or
/// "Name_2" in ASCII, cut so the suffix always fits.
pub fn part_name(base: &str, n: usize, rules: &names::NameRules) -> String {
    let suffix = if rules.charset == Charset::Ascii {
        format!("_{n}")
    } else {
        format!(" {n}")
    };
    let mut r = rules.clone();
    r.max_name = rules.name_limit().saturating_sub(suffix.len()).max(1);
    let mut head = names::component(base, &r);
    while head.len() + suffix.len() > rules.name_limit() && head.pop().is_some() {}
    format!("{head}{suffix}")
}

/// Plans a sync.
pub fn plan(input: &Input<'_>) -> Plan {
    let p = input.profile;
    let rules = p.name_rules();
    let m = input.manifest;
    let mut plan = Plan {
        free: input.free,
        ..Plan::default()
    };

    // Tracks in play order.
    let mut order: Vec<usize> = (0..input.tracks.len()).collect();
    let numbers = if input.given_order {
        let n = input.tracks.len() as u32;
        (1..=n)
            .map(|i| crate::names::Numbering::new(Some(i), Some(n), None, None))
            .collect()
    } else {
        let keys: Vec<OrderKey> = input.tracks.iter().map(order_key).collect();
        order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
        crate::convert::plan::numbering(input.tracks)
    };

    // What each track wants: method, extension, path.
    let methods: Vec<(Method, String)> = input.tracks.iter().map(|t| method_for(p, t)).collect();
    let mut wanted: Vec<String> = input
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            path_string(&input.template.render(
                &|f| (input.fields)(t, f),
                numbers[i],
                &methods[i].1,
                &rules,
            ))
        })
        .collect();

    // Files on the device that are not ours: their names are taken.
    let ours: HashSet<&str> = m
        .files
        .keys()
        .chain(m.playlists.keys())
        .map(String::as_str)
        .collect();
    let foreign: BTreeSet<&str> = input
        .existing
        .keys()
        .map(String::as_str)
        .filter(|k| !ours.contains(k))
        .collect();
    let foreign_folded: HashSet<String> = foreign
        .iter()
        .map(|f| fold_name(f, input.fold_case))
        .collect();

    // Folders over the file limit are split into parts, in play order.
    if let Some(limit) = p.files_per_folder {
        let mut by_folder: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in &order {
            by_folder
                .entry(fold_name(parent_of(&wanted[i]), input.fold_case))
                .or_default()
                .push(i);
        }
        for members in by_folder.values() {
            if members.len() <= limit {
                continue;
            }
            for (n, chunk) in members.chunks(limit).enumerate() {
                for &i in chunk {
                    let folder = parent_of(&wanted[i]).to_string();
                    let name = &wanted[i][folder.len()..]
                        .trim_start_matches('/')
                        .to_string();
                    let (up, base) = folder.rsplit_once('/').unwrap_or(("", folder.as_str()));
                    let part = part_name(base, n + 1, &rules);
                    wanted[i] = if up.is_empty() {
                        format!("{part}/{name}")
                    } else {
                        format!("{up}/{part}/{name}")
                    };
                }
            }
        }
    }

    let mut namer = Namer::new(rules.clone());
    for f in &foreign {
        namer.reserve(PathBuf::from(f));
    }
    let mut assigned: Vec<String> = vec![String::new(); input.tracks.len()];
    for &i in &order {
        let got = path_string(&namer.assign(PathBuf::from(&wanted[i])));
        if got != wanted[i] && foreign_folded.contains(&fold_name(&wanted[i], input.fold_case)) {
            plan.clashes.push(format!(
                "{} is on the device but was not written by tapedeck: it is left alone, and {} \
                 is written as {got}",
                wanted[i],
                input.tracks[i].path.display()
            ));
        }
        assigned[i] = got;
    }

    // Manifest entries by source fingerprint.
    let mut by_source: HashMap<&str, Vec<&str>> = HashMap::new();
    for (path, e) in &m.files {
        by_source
            .entry(e.source.as_str())
            .or_default()
            .push(path.as_str());
    }
    // Which file of ours each track comes from: first the entry at its own path with its
    // audio, then any other entry with its audio (a rename), then an entry at its own path
    // that no track's audio claims (the source's audio changed).
    let fp_of = |i: usize| {
        input
            .fingerprints
            .get(&input.tracks[i].id)
            .map(String::as_str)
            .unwrap_or("")
    };
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut from_of: Vec<Option<String>> = vec![None; input.tracks.len()];
    for &i in &order {
        if let Some((k, e)) = m.files.get_key_value(&assigned[i])
            && e.source == fp_of(i)
        {
            claimed.insert(k.as_str());
            from_of[i] = Some(k.clone());
        }
    }
    for &i in &order {
        if from_of[i].is_some() {
            continue;
        }
        if let Some(c) = by_source
            .get(fp_of(i))
            .and_then(|cs| cs.iter().find(|c| !claimed.contains(**c)).copied())
        {
            claimed.insert(c);
            from_of[i] = Some(c.to_string());
        }
    }
    for &i in &order {
        if from_of[i].is_none()
            && let Some((k, _)) = m.files.get_key_value(&assigned[i])
            && !claimed.contains(k.as_str())
        {
            claimed.insert(k.as_str());
            from_of[i] = Some(k.clone());
        }
    }
    for &i in &order {
        let t = &input.tracks[i];
        let (method, _) = methods[i];
        let settings = settings_key(p, t, method);
        let tags = tags_key(p, t);
        let path = assigned[i].clone();
        let from = from_of[i].take();
        let audio_changed = from.as_ref().is_some_and(|c| m.files[c].source != fp_of(i));
        let source_note = match method {
            Method::Encode { lossy: true } => Some(format!(
                "lossy to lossy: {} is not played by the `{}` profile, so it is encoded again as {}",
                t.format,
                p.name,
                p.format.name()
            )),
            _ => None,
        };
        let (kind, from) = match from {
            None => (Kind::Add, None),
            Some(c) => {
                let e = &m.files[&c];
                match input.existing.get(&c) {
                    None => {
                        // Ours, but gone from the device: written again.
                        if c != path {
                            plan.forget.push(c.clone());
                        }
                        (Kind::Add, None)
                    }
                    Some(&size) if size != e.size || audio_changed => (Kind::Reencode, Some(c)),
                    Some(_) if e.settings != settings => (Kind::Reencode, Some(c)),
                    Some(_) if e.tags != tags => (Kind::Retag, Some(c)),
                    Some(_) if c != path => (Kind::Rename, Some(c)),
                    Some(_) => (Kind::Keep, Some(c)),
                }
            }
        };
        let bytes = match kind {
            Kind::Add | Kind::Reencode => estimate(p, t, method),
            Kind::Retag => from
                .as_ref()
                .and_then(|c| m.files.get(c))
                .map_or(0, |e| e.size)
                .max(match method {
                    Method::Encode { .. } => 0,
                    _ => estimate(p, t, method),
                }),
            Kind::Rename | Kind::Keep => 0,
        };
        if matches!(kind, Kind::Reencode | Kind::Retag)
            && let Some(c) = &from
        {
            plan.bytes_freed += input.existing.get(c).copied().unwrap_or(0);
        }
        plan.bytes_needed += bytes;
        plan.items.push(Item {
            track: i,
            kind,
            path,
            from,
            method,
            settings,
            tags,
            bytes,
            note: if matches!(kind, Kind::Add | Kind::Reencode) {
                source_note
            } else {
                None
            },
        });
    }

    // Our files nothing wants any more.
    for path in m.files.keys() {
        if claimed.contains(path.as_str()) {
            continue;
        }
        match input.existing.get(path) {
            Some(&size) => {
                plan.bytes_freed += size;
                plan.deletes.push(Delete {
                    path: path.clone(),
                    bytes: size,
                });
            }
            None => plan.forget.push(path.clone()),
        }
    }
    plan.forget.sort();
    plan.forget.dedup();

    plan_folders(&mut plan, m);
    plan_playlists(&mut plan, input, &assigned, &mut namer);
    check_limits(&mut plan, input, &foreign);
    plan
}

/// Decides, for every folder that gains, loses or replaces a file, whether new files can be
/// appended after the ones that stay (their directory entries then follow play order) or the
/// folder must be rewritten in order. FAT puts a new entry in the first free slots large
/// enough, so appending is only safe when no entry of ours was removed from before one that
/// stays, and the files that stay are already in play order, before every new one.
fn plan_folders(plan: &mut Plan, m: &Manifest) {
    let mut incoming: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut all: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    // Sequence numbers of our files removed from each folder (deleted, moved away, replaced).
    let mut removed: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (n, item) in plan.items.iter().enumerate() {
        let folder = parent_of(&item.path);
        all.entry(folder).or_default().push(n);
        if item.kind != Kind::Keep {
            incoming.entry(folder).or_default().push(n);
        }
        if let Some(from) = &item.from
            && item.kind != Kind::Keep
            && let Some(e) = m.files.get(from)
        {
            removed.entry(parent_of(from)).or_default().push(e.seq);
        }
    }
    for d in &plan.deletes {
        if let Some(e) = m.files.get(&d.path) {
            removed.entry(parent_of(&d.path)).or_default().push(e.seq);
        }
    }
    let touched: BTreeSet<&str> = incoming.keys().chain(removed.keys()).copied().collect();
    let mut folders = Vec::new();
    for folder in touched {
        // `all` holds items in play order, as items were made in play order.
        let members = all.get(folder).cloned().unwrap_or_default();
        let mut kept: Vec<(u64, usize)> = members
            .iter()
            .filter(|&&n| plan.items[n].kind == Kind::Keep)
            .map(|&n| (m.files[&plan.items[n].path].seq, n))
            .collect();
        kept.sort();
        let last_kept = kept.last().map(|k| k.0);
        let gone = removed.get(folder).cloned().unwrap_or_default();
        let gap_made = last_kept.is_some_and(|l| gone.iter().any(|&s| s < l));
        let had_holes = m.folders.get(folder).is_some_and(|f| f.holes);
        let has_incoming = incoming.contains_key(folder);
        let (rewrite, holes_after) = if !has_incoming {
            (false, had_holes || gap_made)
        } else if kept.is_empty() {
            // Nothing of ours stays: writing every file in play order is already in order.
            (false, false)
        } else {
            let kept_in_seq: Vec<usize> = kept.iter().map(|k| k.1).collect();
            let in_order = members[..kept_in_seq.len()] == kept_in_seq[..];
            (!in_order || had_holes || gap_made, false)
        };
        folders.push(Folder {
            path: folder.to_string(),
            rewrite,
            order: members,
            holes_after,
        });
    }
    plan.folders = folders;
}

/// Playlist files for `-p`: at the device root, named after the playlist, split into parts of
/// at most the profile's entry limit.
fn plan_playlists(plan: &mut Plan, input: &Input<'_>, assigned: &[String], namer: &mut Namer) {
    let p = input.profile;
    let ext = match p.playlist {
        PlaylistKind::M3u => "m3u",
        PlaylistKind::M3u8 => "m3u8",
        PlaylistKind::None => {
            plan.playlist_deletes = input.manifest.playlists.keys().cloned().collect();
            return;
        }
    };
    let rules = p.name_rules();
    let index: HashMap<i64, usize> = input
        .tracks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id, i))
        .collect();
    let mut wanted_paths = HashSet::new();
    for (name, ids) in input.playlists {
        let tracks: Vec<usize> = ids
            .iter()
            .filter_map(|id| index.get(id).copied())
            .filter(|&i| !assigned[i].is_empty())
            .collect();
        let limit = p.playlist_entries.unwrap_or(usize::MAX).max(1);
        let parts = tracks.len().div_ceil(limit).max(1);
        for n in 0..parts {
            let stem = if parts == 1 {
                names::component(name, &rules)
            } else {
                part_name(name, n + 1, &rules)
            };
            let wanted = format!("{stem}.{ext}");
            // A playlist of ours keeps its name; anything else takes a free one.
            let path = if input.manifest.playlists.contains_key(&wanted) {
                wanted
            } else {
                path_string(&namer.assign(PathBuf::from(&wanted)))
            };
            wanted_paths.insert(path.clone());
            let chunk: Vec<usize> = tracks.iter().skip(n * limit).take(limit).copied().collect();
            let lines: Vec<PlaylistLine> = chunk
                .iter()
                .map(|&i| playlist_line(&input.tracks[i], &assigned[i]))
                .collect();
            let digest = playlist_digest(&render_playlist(p, &lines));
            let changed = input.manifest.playlists.get(&path) != Some(&digest)
                || !input.existing.contains_key(&path);
            plan.playlists.push(PlaylistPart {
                path,
                playlist: name.clone(),
                entries: chunk.len(),
                tracks: chunk,
                changed,
            });
        }
    }
    plan.playlist_deletes = input
        .manifest
        .playlists
        .keys()
        .filter(|k| !wanted_paths.contains(*k) && input.existing.contains_key(*k))
        .cloned()
        .collect();
}

/// Checks the layout after the sync against the profile's limits and the free space.
fn check_limits(plan: &mut Plan, input: &Input<'_>, foreign: &BTreeSet<&str>) {
    let p = input.profile;
    let mut per_folder: BTreeMap<String, usize> = BTreeMap::new();
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut deepest: Vec<&str> = Vec::new();
    let files: Vec<&str> = plan
        .items
        .iter()
        .map(|i| i.path.as_str())
        .chain(plan.playlists.iter().map(|pl| pl.path.as_str()))
        .chain(foreign.iter().copied())
        .collect();
    for f in &files {
        *per_folder
            .entry(fold_name(parent_of(f), input.fold_case))
            .or_default() += 1;
        let mut folder = parent_of(f);
        while !folder.is_empty() {
            folders.insert(fold_name(folder, input.fold_case));
            folder = parent_of(folder);
        }
        if let Some(max) = p.max_depth
            && names::depth(Path::new(f)) > max
        {
            deepest.push(f);
        }
    }
    if let Some(max) = p.files_per_folder {
        for (folder, n) in &per_folder {
            if *n > max {
                let shown = if folder.is_empty() {
                    "the top folder"
                } else {
                    folder
                };
                plan.problems.push(format!(
                    "{shown} would hold {n} files; the `{}` profile allows {max} per folder",
                    p.name
                ));
            }
        }
    }
    if let Some(max) = p.max_folders
        && folders.len() > max
    {
        plan.problems.push(format!(
            "the device would hold {} folders; the `{}` profile allows {max}",
            folders.len(),
            p.name
        ));
    }
    if let Some(max) = p.max_files
        && files.len() > max
    {
        plan.problems.push(format!(
            "the device would hold {} files; the `{}` profile allows {max}",
            files.len(),
            p.name
        ));
    }
    if !deepest.is_empty() {
        let max = p.max_depth.unwrap_or(0);
        let shown: Vec<&str> = deepest.iter().take(3).copied().collect();
        plan.problems.push(format!(
            "{} files would be more than {max} folder levels deep (the `{}` profile's limit), \
             such as {}; use a template with fewer `/`",
            deepest.len(),
            p.name,
            shown.join(", ")
        ));
    }
    if let Some(free) = input.free {
        let reserve = p.reserve_mb * 1_000_000;
        let need = plan.bytes_needed + reserve;
        let have = free + plan.bytes_freed;
        if need > have {
            plan.problems.push(format!(
                "not enough space: the sync writes about {} and the device has {} free{}{}; \
                 select less, or free space on it",
                mb(plan.bytes_needed),
                mb(free),
                if plan.bytes_freed > 0 {
                    format!(" (plus {} that the sync frees)", mb(plan.bytes_freed))
                } else {
                    String::new()
                },
                if reserve > 0 {
                    format!(", keeping {} free", mb(reserve))
                } else {
                    String::new()
                }
            ));
        }
    }
}

/// A size for people: "12.3 MB".
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// One playlist entry as written.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistLine {
    /// Relative to the device root, `/`-separated.
    pub path: String,
    pub title: String,
    pub seconds: f64,
}

/// The entry for a track exported at `path`: "Artist - Title" and its length.
pub fn playlist_line(t: &Track, path: &str) -> PlaylistLine {
    PlaylistLine {
        path: path.to_string(),
        title: match &t.artist {
            Some(a) => format!("{a} - {}", t.title),
            None => t.title.clone(),
        },
        seconds: t.duration,
    }
}

/// The manifest's record of a playlist file's content.
pub fn playlist_digest(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// The bytes of one playlist file: extended M3U (written by [`playlist_file::write_m3u`]),
/// paths relative to the playlist's folder (the device root) with the profile's separator,
/// `\r\n` line endings, in the profile's encoding.
pub fn render_playlist(profile: &Profile, lines: &[PlaylistLine]) -> Vec<u8> {
    let entries: Vec<playlist_file::Entry> = lines
        .iter()
        .map(|l| playlist_file::Entry {
            location: l.path.clone(),
            title: Some(l.title.clone()),
            duration: Some(l.seconds),
        })
        .collect();
    let style = playlist_file::M3uStyle {
        line_end: "\r\n",
        separator: profile.playlist_separator,
    };
    let text = playlist_file::write_m3u(&entries, style);
    match profile.playlist_encoding {
        TextEncoding::Utf8 => text.into_bytes(),
        TextEncoding::Latin1 => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect(),
    }
}

#[cfg(test)]
mod tests;
