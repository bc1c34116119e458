//! What a `convert` run will do, decided before anything is written: for each selected track,
//! the output path (template, sanitised, unique), the output's shape (rate, bit depth), and
//! whether it is converted, copied as it is (a source format the run copies), skipped as
//! already done, or refused. Pure: what exists on the
//! target and what earlier runs wrote is asked through an [`OutputFolder`]. A file is replaced
//! only when it is still exactly what an earlier run wrote from the same track.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::encode::{Format, Settings};
use crate::audio::gain;
use crate::model::Track;
use crate::names::{NameRules, Namer, Numbering, PathTemplate};

/// Everything the user asked for that shapes the output files.
#[derive(Debug, Clone)]
pub struct Request {
    pub encode: Settings,
    pub sample_rate: Option<u32>,
    pub bit_depth: Option<u16>,
    /// Bake this ReplayGain into the samples (and write no gain tags).
    pub apply_gain: Option<gain::Mode>,
    pub allow_lossy_source: bool,
    pub id3v23: bool,
    /// Also write an ID3v1 tag (MP3), for players that read nothing newer.
    pub id3v1: bool,
    pub cover_max: Option<u32>,
    /// Source formats copied byte for byte (tags included) instead of converted.
    pub copy: Vec<Format>,
}

/// The settings key of a file copied as it is.
pub const COPY_KEY: &str = "copy";

impl Request {
    /// Whether a track of this format (as the library names it) is copied as it is.
    pub fn copies(&self, format: &str) -> bool {
        self.copy.iter().any(|f| f.name() == format)
    }

    /// A canonical description of the settings that change the output's bytes. A rerun skips
    /// a file only when this and the source fingerprint are unchanged.
    pub fn key(&self) -> String {
        let e = &self.encode;
        let mut k = format!("format={}", e.format.name());
        match e.format {
            Format::Mp3 => match e.vbr {
                Some(v) => k.push_str(&format!(" vbr=V{v}")),
                None => k.push_str(&format!(" bitrate={}", e.bitrate.unwrap_or(320))),
            },
            Format::Aac => k.push_str(&format!(" bitrate={}", e.bitrate.unwrap_or(256))),
            Format::Flac => k.push_str(&format!(" level={}", e.flac_level)),
            _ => {}
        }
        if let Some(r) = self.sample_rate {
            k.push_str(&format!(" rate={r}"));
        }
        if let Some(b) = self.bit_depth {
            k.push_str(&format!(" bits={b}"));
        }
        if let Some(g) = self.apply_gain {
            k.push_str(&format!(" gain={g:?}").to_lowercase());
        }
        if self.id3v23 {
            k.push_str(" id3v23");
        }
        if self.id3v1 {
            k.push_str(" id3v1");
        }
        if let Some(c) = self.cover_max {
            k.push_str(&format!(" cover={c}"));
        }
        k
    }
}

/// Whether a track's codec is lossless (so converting it loses nothing).
pub fn is_lossless_codec(codec: &str) -> bool {
    matches!(codec, "flac" | "alac" | "pcm")
        || codec.starts_with("pcm_s")
        || codec.starts_with("pcm_f")
}

/// Sample rates MP3 can carry.
const MP3_RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
/// Sample rates AAC-LC can carry.
const AAC_RATES: [u32; 12] = [
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];

/// The rate to write: the user's, else the source's when the format can carry it, else the
/// nearest of 44.1/48 kHz's family (a 96 kHz source becomes 48 kHz MP3, 88.2 kHz becomes 44.1).
pub fn output_rate(format: Format, source: u32, wanted: Option<u32>) -> u32 {
    if let Some(w) = wanted {
        return w;
    }
    let allowed: &[u32] = match format {
        Format::Mp3 => &MP3_RATES,
        Format::Aac => &AAC_RATES,
        _ => return source,
    };
    if allowed.contains(&source) {
        source
    } else if source.is_multiple_of(11025) {
        44100
    } else {
        48000
    }
}

/// The bit depth to write for lossless and PCM formats: the user's, else the source's (16 or
/// 24; deeper sources are written at 24), 16 for lossy sources.
pub fn output_bits(wanted: Option<u16>, source: Option<u8>) -> u16 {
    wanted.unwrap_or(match source {
        Some(b) if b > 16 => 24,
        _ => 16,
    })
}

/// What happens to one track.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Convert,
    /// Copied byte for byte (its format is one the run copies).
    Copy,
    /// Already written by an earlier run from the same audio with the same settings.
    Skip,
    /// Not converted, and why.
    Refuse(String),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub track: Track,
    /// Relative to the target folder.
    pub output: PathBuf,
    pub action: Action,
}

/// What an earlier run recorded writing at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub track_id: Option<i64>,
    pub fingerprint: Vec<u8>,
    pub settings: String,
}

/// What the planner needs to know about the output folder.
pub trait OutputFolder {
    /// Whether anything (file, folder, link) exists at this relative path.
    fn exists(&self, rel: &Path) -> bool;
    /// What an earlier run recorded writing at this relative path, when the file there is
    /// still what it wrote: the same size, and with `verify` the same checksum (asked only
    /// before a file would be replaced).
    fn written(&self, rel: &Path, verify: bool) -> Option<Written>;
}

/// Album-wide numbering: multi-disc albums get a disc prefix, and track numbers are padded to
/// the album's width, even when a track's own tags lack the totals. Shared with export.
pub fn numbering(tracks: &[Track]) -> Vec<Numbering> {
    let key = |t: &Track| {
        (
            t.albumartist
                .clone()
                .or(t.artist.clone())
                .unwrap_or_default(),
            t.album.clone().unwrap_or_default(),
            t.path.parent().map(Path::to_path_buf),
        )
    };
    let mut albums: HashMap<_, (u32, u32)> = HashMap::new();
    for t in tracks {
        let e = albums.entry(key(t)).or_insert((1, 0));
        e.0 = e.0.max(t.disc.unwrap_or(1)).max(t.disctotal.unwrap_or(1));
        e.1 = e.1.max(t.track.unwrap_or(0)).max(t.tracktotal.unwrap_or(0));
    }
    tracks
        .iter()
        .map(|t| {
            let (discs, most) = albums[&key(t)];
            let mut n = Numbering::new(t.track, t.tracktotal, t.disc, t.disctotal);
            n.multi_disc = discs > 1;
            n.track_width = n.track_width.max(most.to_string().len()).max(2);
            n
        })
        .collect()
}

/// Plans the run. `fingerprints` maps track ids to their audio fingerprints.
pub fn plan(
    tracks: Vec<Track>,
    fingerprints: &HashMap<i64, Vec<u8>>,
    request: &Request,
    template: &PathTemplate,
    rules: &NameRules,
    fields: &dyn Fn(&Track, &str) -> Option<String>,
    target: &dyn OutputFolder,
) -> Vec<Job> {
    let encode_key = request.key();
    let copies: Vec<bool> = tracks.iter().map(|t| request.copies(&t.format)).collect();
    let key_of = |copy: bool| if copy { COPY_KEY } else { encode_key.as_str() };
    let numbers = numbering(&tracks);
    let wanted: Vec<PathBuf> = tracks
        .iter()
        .zip(&numbers)
        .zip(&copies)
        .map(|((t, n), &copy)| {
            // A copy keeps its own extension (`.m4a` and `.aac` both hold AAC).
            let ext = if copy {
                t.path
                    .extension()
                    .map(|e| e.to_string_lossy().to_ascii_lowercase())
                    .unwrap_or_else(|| t.format.clone())
            } else {
                request.encode.format.extension().to_string()
            };
            template.render(&|f| fields(t, f), *n, &ext, rules)
        })
        .collect();
    // Files on the target that an earlier run wrote from another track, or that we did not
    // write at all, are never overwritten: their names are taken.
    let mut namer = Namer::new(rules.clone());
    for ((t, w), &copy) in tracks.iter().zip(&wanted).zip(&copies) {
        if target.exists(w) {
            let from_this = |r: &Written| {
                r.track_id == Some(t.id) || fingerprints.get(&t.id) == Some(&r.fingerprint)
            };
            // A file that would be skipped is only read for its size; one that would be
            // replaced is checked in full first.
            let ours = match target.written(w, false) {
                Some(r) if from_this(&r) && r.settings == key_of(copy) => true,
                Some(r) if from_this(&r) => target.written(w, true).is_some(),
                _ => false,
            };
            if !ours {
                namer.reserve(w.clone());
            }
        }
    }
    let mut jobs = Vec::with_capacity(tracks.len());
    for ((track, w), copy) in tracks.into_iter().zip(wanted).zip(copies) {
        let output = namer.assign(w);
        let lossless = is_lossless_codec(&track.codec);
        let action = if !copy && !lossless && !request.allow_lossy_source {
            let target = request.encode.format;
            let also = format!(
                "pass --copy {} to copy such files as they are, or --allow-lossy-source to \
                 convert them anyway",
                track.format
            );
            Action::Refuse(if target.is_lossless() {
                format!(
                    "the source is lossy ({}): a {} copy would be bigger and sound no better; \
                     {also}",
                    track.codec,
                    target.name()
                )
            } else {
                format!(
                    "the source is lossy ({}): encoding it again as {} loses quality; {also}",
                    track.codec,
                    target.name()
                )
            })
        } else {
            let done = target.written(&output, false).is_some_and(|r| {
                fingerprints.get(&track.id) == Some(&r.fingerprint) && r.settings == key_of(copy)
            });
            if done {
                Action::Skip
            } else if copy {
                Action::Copy
            } else {
                Action::Convert
            }
        };
        jobs.push(Job {
            track,
            output,
            action,
        });
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashSet;

    /// What an earlier run wrote: track, fingerprint, settings, and whether the file's
    /// contents are still what was written.
    type Record = (Option<i64>, Vec<u8>, String, bool);

    /// The output folder: files, and what earlier runs wrote.
    struct FakeTarget {
        files: HashSet<PathBuf>,
        written: RefCell<HashMap<PathBuf, Record>>,
    }

    impl OutputFolder for FakeTarget {
        fn exists(&self, rel: &Path) -> bool {
            self.files.contains(rel)
        }
        fn written(&self, rel: &Path, verify: bool) -> Option<Written> {
            let w = self.written.borrow();
            let (id, fp, settings, intact) = w.get(rel)?;
            (!verify || *intact).then(|| Written {
                track_id: *id,
                fingerprint: fp.clone(),
                settings: settings.clone(),
            })
        }
    }

    fn track(id: i64, title: &str, album: &str, n: u32, disc: Option<u32>, codec: &str) -> Track {
        Track {
            id,
            path: PathBuf::from(format!("/m/{album}/{n}.flac")),
            title: title.into(),
            artist: Some("Artist".into()),
            albumartist: Some("Artist".into()),
            album: Some(album.into()),
            track: Some(n),
            disc,
            codec: codec.into(),
            format: codec.into(),
            ..Track::default()
        }
    }

    fn fields(t: &Track, f: &str) -> Option<String> {
        match f {
            "title" => Some(t.title.clone()),
            "artist" => t.artist.clone(),
            "albumartist" => t.albumartist.clone(),
            "album" => t.album.clone(),
            _ => None,
        }
    }

    fn request(format: Format) -> Request {
        Request {
            encode: Settings::new(format),
            sample_rate: None,
            bit_depth: None,
            apply_gain: None,
            allow_lossy_source: false,
            id3v23: false,
            id3v1: false,
            cover_max: None,
            copy: Vec::new(),
        }
    }

    fn run(tracks: Vec<Track>, req: &Request, target: &FakeTarget) -> Vec<Job> {
        let fps = tracks.iter().map(|t| (t.id, vec![t.id as u8])).collect();
        let template = PathTemplate::parse(crate::names::DEFAULT_TEMPLATE).unwrap();
        plan(
            tracks,
            &fps,
            req,
            &template,
            &NameRules::convert(),
            &fields,
            target,
        )
    }

    fn empty() -> FakeTarget {
        FakeTarget {
            files: HashSet::new(),
            written: RefCell::new(HashMap::new()),
        }
    }

    #[test]
    fn default_template_pads_and_prefixes_multi_disc_albums() {
        let tracks = vec![
            track(1, "One", "Single", 1, None, "flac"),
            track(2, "Two", "Double", 5, Some(1), "flac"),
            track(3, "Three", "Double", 12, Some(2), "flac"),
        ];
        let jobs = run(tracks, &request(Format::Mp3), &empty());
        let paths: Vec<String> = jobs
            .iter()
            .map(|j| j.output.display().to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "Artist/Single/01 One.mp3",
                "Artist/Double/1-05 Two.mp3",
                "Artist/Double/2-12 Three.mp3"
            ]
        );
    }

    #[test]
    fn lossy_sources_are_refused_unless_allowed() {
        let tracks = vec![
            track(1, "A", "X", 1, None, "aac"),
            track(2, "B", "X", 2, None, "flac"),
        ];
        let jobs = run(tracks.clone(), &request(Format::Mp3), &empty());
        assert!(
            matches!(&jobs[0].action, Action::Refuse(why) if why.contains("--allow-lossy-source"))
        );
        assert_eq!(jobs[1].action, Action::Convert);
        let jobs = run(tracks.clone(), &request(Format::Flac), &empty());
        assert!(
            matches!(jobs[0].action, Action::Refuse(_)),
            "lossy to lossless too"
        );
        let mut allowed = request(Format::Mp3);
        allowed.allow_lossy_source = true;
        assert_eq!(run(tracks, &allowed, &empty())[0].action, Action::Convert);
    }

    #[test]
    fn same_names_get_distinct_paths_and_foreign_files_are_not_overwritten() {
        let tracks = vec![
            track(1, "Same", "X", 1, None, "flac"),
            track(2, "Same", "X", 1, None, "flac"),
        ];
        let mut target = empty();
        // A file the user put there, with the name the first track wants.
        target.files.insert(PathBuf::from("Artist/X/01 Same.mp3"));
        let jobs = run(tracks, &request(Format::Mp3), &target);
        let paths: Vec<String> = jobs
            .iter()
            .map(|j| j.output.display().to_string())
            .collect();
        assert_eq!(paths.len(), 2);
        assert!(
            !paths.contains(&"Artist/X/01 Same.mp3".to_string()),
            "{paths:?}"
        );
        assert_ne!(paths[0], paths[1]);
    }

    #[test]
    fn a_rerun_skips_what_is_done_and_redoes_what_changed() {
        let tracks = vec![
            track(1, "A", "X", 1, None, "flac"),
            track(2, "B", "X", 2, None, "flac"),
        ];
        let req = request(Format::Mp3);
        let mut target = empty();
        let a = PathBuf::from("Artist/X/01 A.mp3");
        let b = PathBuf::from("Artist/X/02 B.mp3");
        target.files.insert(a.clone());
        target.files.insert(b.clone());
        target
            .written
            .borrow_mut()
            .insert(a.clone(), (Some(1), vec![1], req.key(), true));
        // B was written with other settings: redo it, in place (it is ours).
        target
            .written
            .borrow_mut()
            .insert(b.clone(), (Some(2), vec![2], "format=flac".into(), true));
        let jobs = run(tracks.clone(), &req, &target);
        assert_eq!(
            (jobs[0].output.clone(), jobs[0].action.clone()),
            (a.clone(), Action::Skip)
        );
        assert_eq!(
            (jobs[1].output.clone(), jobs[1].action.clone()),
            (b.clone(), Action::Convert)
        );
        // A different bitrate is a different output.
        let mut other = req.clone();
        other.encode.bitrate = Some(192);
        assert_eq!(
            run(tracks.clone(), &other, &target)[0].action,
            Action::Convert
        );
        // B's file was changed by the user since: it is theirs, and B gets another name.
        target.written.borrow_mut().get_mut(&b).unwrap().3 = false;
        let jobs = run(tracks, &req, &target);
        assert_eq!(jobs[1].action, Action::Convert);
        assert_ne!(jobs[1].output, b);
    }

    #[test]
    fn copied_formats_keep_their_extension_and_skip_once_copied() {
        let mut tracks = vec![
            track(1, "Lossy", "X", 1, None, "mp3"),
            track(2, "Lossless", "X", 2, None, "flac"),
            track(3, "Other", "X", 3, None, "aac"),
        ];
        tracks[0].path = PathBuf::from("/m/X/1.MP3");
        tracks[2].path = PathBuf::from("/m/X/3.m4a");
        let mut req = request(Format::Mp3);
        req.copy = vec![Format::Mp3];
        let jobs = run(tracks.clone(), &req, &empty());
        let got: Vec<(String, Action)> = jobs
            .iter()
            .map(|j| (j.output.display().to_string(), j.action.clone()))
            .collect();
        assert_eq!(got[0], ("Artist/X/01 Lossy.mp3".into(), Action::Copy));
        assert_eq!(got[1], ("Artist/X/02 Lossless.mp3".into(), Action::Convert));
        assert!(
            matches!(&got[2].1, Action::Refuse(why) if why.contains("--copy aac")),
            "{got:?}"
        );
        // Copied before: skipped. Converted before (another key): copied over it.
        let mut target = empty();
        let out = PathBuf::from("Artist/X/01 Lossy.mp3");
        target.files.insert(out.clone());
        target
            .written
            .borrow_mut()
            .insert(out.clone(), (Some(1), vec![1], COPY_KEY.into(), true));
        assert_eq!(run(tracks.clone(), &req, &target)[0].action, Action::Skip);
        target
            .written
            .borrow_mut()
            .insert(out.clone(), (Some(1), vec![1], req.key(), true));
        let jobs = run(tracks.clone(), &req, &target);
        assert_eq!(
            (jobs[0].output.clone(), jobs[0].action.clone()),
            (out, Action::Copy)
        );
        // Copying AAC too keeps the .m4a extension.
        req.copy.push(Format::Aac);
        let jobs = run(tracks, &req, &empty());
        assert_eq!(jobs[2].output, PathBuf::from("Artist/X/03 Other.m4a"));
        assert_eq!(jobs[2].action, Action::Copy);
    }

    #[test]
    fn rates_fit_the_format() {
        assert_eq!(output_rate(Format::Mp3, 96000, None), 48000);
        assert_eq!(output_rate(Format::Mp3, 88200, None), 44100);
        assert_eq!(output_rate(Format::Mp3, 44100, None), 44100);
        assert_eq!(output_rate(Format::Flac, 96000, None), 96000);
        assert_eq!(output_rate(Format::Flac, 96000, Some(44100)), 44100);
        assert_eq!(output_bits(None, Some(24)), 24);
        assert_eq!(output_bits(None, Some(32)), 24);
        assert_eq!(output_bits(None, None), 16);
        assert_eq!(output_bits(Some(24), Some(16)), 24);
    }
}
