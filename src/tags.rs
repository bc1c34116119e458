//! Reading tags and audio properties from music files. This is the only module that names lofty.
//!
//! It turns one open file into the format-neutral [`RawTags`] and [`AudioProps`] of the model;
//! interpreting the text (numbers, dates, gains) is the model's job, not this one's. Every tag
//! type present in a file is read, primary first, so an MP3 carrying both ID3v2 and ID3v1 gets
//! ID3v1's values only where ID3v2 is silent.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFile, TaggedFileExt};
use lofty::iff::aiff::{AiffCompressionType, AiffFile};
use lofty::mp4::{Mp4Codec, Mp4File};
use lofty::probe::Probe;
use lofty::tag::{ItemKey, ItemValue, Tag, TagItem, TagType};

use crate::model::{AudioProps, Container, RawTags};

/// Why a file could not be read, in words meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

/// What the tag reader learned about one file.
#[derive(Debug, Clone)]
pub struct FileTags {
    pub raw: RawTags,
    pub props: AudioProps,
    /// What was wrong with a file that could still be read (a malformed tag frame).
    pub warning: Option<String>,
}

fn parse_options() -> ParseOptions {
    // Best-attempt parsing keeps going past the small mistakes real taggers make; lofty's own
    // allocation limit (16 MiB per item) bounds what an absurd size field can make us allocate.
    ParseOptions::new()
        .parsing_mode(ParsingMode::BestAttempt)
        .read_cover_art(true)
}

/// Whether pictures are read for a file type. Pictures are several megabytes in many libraries
/// and are skipped where the scanner can see a cover from the tag structure alone (MP3, ADTS,
/// FLAC, MP4); WAV and AIFF covers are rare, and read so they are not missed.
fn reads_covers(file_type: FileType) -> bool {
    matches!(file_type, FileType::Wav | FileType::Aiff)
}

/// Reads tags and properties from an open file. The format is taken from the content, not the
/// name, so FLAC data named `.mp3` is read as FLAC. The reader should be buffered: the tag reader
/// makes many small reads and seeks.
pub fn read<R: Read + Seek>(reader: &mut R) -> Result<FileTags, ReadError> {
    let probe = Probe::new(&mut *reader)
        .options(parse_options())
        .guess_file_type()
        .map_err(|e| ReadError(format!("cannot read: {e}")))?;
    let Some(file_type) = probe.file_type() else {
        return Err(ReadError("not a recognised audio format".into()));
    };
    let container = match file_type {
        FileType::Mpeg => Container::Mp3,
        FileType::Mp4 => Container::Mp4,
        FileType::Aac => Container::Adts,
        FileType::Wav => Container::Wav,
        FileType::Flac => Container::Flac,
        FileType::Aiff => Container::Aiff,
        other => {
            return Err(ReadError(format!(
                "{} files are not supported",
                format!("{other:?}").to_lowercase()
            )));
        }
    };

    // A malformed frame can make the whole tag unreadable: read again relaxed (bad items are
    // dropped), and failing that without tags, so the file is still indexed, with a warning.
    let (tagged, codec, warning) =
        match read_tagged_file(reader, file_type, container, parse_options()) {
            Ok((t, c)) => (t, c, None),
            Err(ReadFailure::Format(e)) => return Err(e),
            Err(ReadFailure::Parse(first)) => {
                let relaxed = parse_options().parsing_mode(ParsingMode::Relaxed);
                let untagged = parse_options().read_tags(false);
                match read_tagged_file(reader, file_type, container, relaxed) {
                    Ok((t, c)) => (
                        t,
                        c,
                        Some(format!(
                            "{}; the rest of its tags was read",
                            tag_trouble(&first)
                        )),
                    ),
                    Err(_) => match without_bad_frame(reader, file_type, container) {
                        Some((t, c, id)) => (
                            t,
                            c,
                            Some(format!(
                                "{}; its {id} frame was left out and the rest of its tags read",
                                tag_trouble(&first)
                            )),
                        ),
                        None => match read_tagged_file(reader, file_type, container, untagged) {
                            Ok((t, c)) => (
                                t,
                                c,
                                Some(format!("{}; indexed without its tags", tag_trouble(&first))),
                            ),
                            Err(_) => return Err(first),
                        },
                    },
                }
            }
        };
    let p = tagged.properties();
    let mut raw = RawTags::default();
    let mut has_cover = false;
    // The primary tag first, then the others, so fallbacks only fill gaps.
    let primary = tagged.primary_tag_type();
    let mut tags: Vec<&Tag> = tagged.tags().iter().collect();
    tags.sort_by_key(|t| t.tag_type() != primary);
    for tag in tags {
        let mut this = RawTags::default();
        collect(tag, &mut this);
        raw.fill_gaps(this);
        has_cover |= tag.picture_count() > 0;
    }
    // lofty drops a full date written as TDRC inside an ID3v2.3 tag (as mutagen and many
    // taggers write it) while combining TYER/TDAT; read such a tag again without that step.
    if raw.date.is_empty()
        && tagged.tag(TagType::Id3v2).is_some()
        && may_hold_id3v23(reader, container)
        && let Ok((again, _)) = read_tagged_file(
            reader,
            file_type,
            container,
            parse_options().implicit_conversions(false),
        )
        && let Some(id3) = again.tag(TagType::Id3v2)
    {
        let mut dates = RawTags::default();
        collect(id3, &mut dates);
        raw.date = dates.date;
    }
    // lofty keeps only the last of several frames with one id (two TPE1 frames, as some
    // taggers add instead of replacing); mutagen and TagLib join their values in tag order.
    if matches!(container, Container::Mp3 | Container::Adts)
        && let Some(id3) = tagged.tag(TagType::Id3v2)
    {
        let has_artists = id3.get_strings(ItemKey::TrackArtists).next().is_some();
        let frames = crate::container::id3::text_frames(reader, 0).unwrap_or_default();
        let joined = |id: &[u8; 4]| {
            let of_id = || frames.iter().filter(|f| &f.id == id);
            (of_id().count() > 1).then(|| {
                of_id()
                    .flat_map(|f| f.values.iter().cloned())
                    .collect::<Vec<_>>()
            })
        };
        if let Some(artists) = joined(b"TPE1").filter(|_| !has_artists) {
            raw.artists = artists;
        }
        if let Some(album_artists) = joined(b"TPE2") {
            raw.album_artist = album_artists;
        }
        if let Some(composers) = joined(b"TCOM") {
            raw.composer = composers;
        }
    }
    let duration = p.duration().as_secs_f64();
    if codec == "unknown" || (p.sample_rate().is_none() && duration == 0.0) {
        return Err(ReadError("no audio stream found".into()));
    }
    let props = AudioProps {
        duration,
        bitrate_kbps: p.audio_bitrate().or(p.overall_bitrate()),
        sample_rate: p.sample_rate(),
        bit_depth: p.bit_depth(),
        channels: p.channels(),
        codec: codec.to_string(),
        container: Some(container),
        has_cover,
    };
    Ok(FileTags {
        raw,
        props,
        warning,
    })
}

/// A parse error as a warning about a file that was read after all: "part of its tags could
/// not be read (failed to parse frame 'tdrc': ...)".
fn tag_trouble(e: &ReadError) -> String {
    let detail = match e.0.split_once(" file: ") {
        Some((head, rest)) if head.starts_with("not a valid") => rest,
        _ => e.0.as_str(),
    };
    format!("part of its tags could not be read ({detail})")
}

/// Whether a file's ID3v2 tag may be version 2.3: an MP3's tag is at its start, so its header
/// says; a WAV's or AIFF's sits in a chunk and is assumed to. (Only such tags are read again
/// for a date lofty dropped.)
fn may_hold_id3v23<R: Read + Seek>(reader: &mut R, container: Container) -> bool {
    if !matches!(container, Container::Mp3 | Container::Adts) {
        return true;
    }
    crate::container::id3::header_at(reader, 0)
        .ok()
        .flatten()
        .is_some_and(|tag| tag.version == 3)
}

/// A tag that even a relaxed read rejects because of one frame (a text frame with an encoding
/// no version has, a compressed frame whose data does not inflate): read again with each frame
/// of the file's leading ID3v2 tag left out in turn, as mutagen drops such a frame; the first
/// read that succeeds, with the id of the frame left out.
fn without_bad_frame<R: Read + Seek>(
    reader: &mut R,
    file_type: FileType,
    container: Container,
) -> Option<(TaggedFile, &'static str, String)> {
    use crate::container::{Patched, id3};
    let frames = id3::frames(reader, 0).ok()?;
    for (at, head) in frames.into_iter().take(64) {
        let mut view = Patched::new(&mut *reader, id3::left_out(at, &head).to_vec()).ok()?;
        let relaxed = parse_options().parsing_mode(ParsingMode::Relaxed);
        if let Ok((t, c)) = read_tagged_file(&mut view, file_type, container, relaxed) {
            return Some((t, c, String::from_utf8_lossy(&head[..4]).into_owned()));
        }
    }
    None
}

/// Why reading a file failed: not a format tapedeck plays (or DRM), or a parse error that a
/// more lenient read may get past.
enum ReadFailure {
    Format(ReadError),
    Parse(ReadError),
}

/// Reads the file's tags and properties with `options` (from the start of `reader`), and the
/// codec.
fn read_tagged_file<R: Read + Seek>(
    reader: &mut R,
    file_type: FileType,
    container: Container,
    mut options: ParseOptions,
) -> Result<(TaggedFile, &'static str), ReadFailure> {
    let io = |e: std::io::Error| ReadFailure::Format(ReadError(format!("cannot read: {e}")));
    let parse = |e: lofty::error::FileParseError| {
        if e.is_unknown_format() {
            ReadFailure::Format(describe(e))
        } else {
            ReadFailure::Parse(describe(e))
        }
    };
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let options = options.read_cover_art(reads_covers(file_type));
    Ok(if file_type == FileType::Mp4 {
        let mp4 = Mp4File::read_from(reader, options).map_err(parse)?;
        if mp4.properties().is_drm_protected() {
            return Err(ReadFailure::Format(ReadError(
                "protected by DRM: only unprotected files can be indexed and played".into(),
            )));
        }
        let codec = match mp4.properties().codec() {
            Some(Mp4Codec::AAC) => "aac",
            Some(Mp4Codec::ALAC) => "alac",
            Some(Mp4Codec::MP3) => "mp3",
            Some(Mp4Codec::FLAC) => "flac",
            _ => "unknown",
        };
        (TaggedFile::from(mp4), codec)
    } else if file_type == FileType::Aiff {
        let aiff = AiffFile::read_from(reader, options).map_err(parse)?;
        let codec = match aiff.properties().compression_type() {
            None | Some(AiffCompressionType::None) | Some(AiffCompressionType::sowt) => "pcm",
            Some(AiffCompressionType::fl32) | Some(AiffCompressionType::fl64) => "pcm-float",
            Some(AiffCompressionType::alaw) => "alaw",
            Some(AiffCompressionType::ulaw) => "ulaw",
            Some(_) => "compressed",
        };
        (TaggedFile::from(aiff), codec)
    } else {
        let codec = match container {
            Container::Mp3 => "mp3",
            Container::Adts => "aac",
            Container::Flac => "flac",
            Container::Wav => "pcm",
            Container::Mp4 | Container::Aiff => unreachable!("handled above"),
        };
        let tagged = Probe::new(&mut *reader)
            .options(options)
            .set_file_type(file_type)
            .read()
            .map_err(parse)?;
        (tagged, codec)
    })
}

fn describe(e: lofty::error::FileParseError) -> ReadError {
    use std::error::Error;
    if e.is_unknown_format() {
        return ReadError("not a recognised audio format".into());
    }
    // lofty's own message names only the format; the cause is one level down.
    let mut text = e.to_string().replace("failed to parse", "not a valid");
    let mut source = e.source();
    while let Some(cause) = source {
        let detail = cause.to_string();
        if !detail.is_empty() && !text.contains(&detail) {
            text.push_str(": ");
            text.push_str(&detail.to_lowercase());
        }
        source = cause.source();
    }
    ReadError(
        text.replace("mpeg file", "MP3 file")
            .replace("Mpeg file", "MP3 file"),
    )
}

/// The container a file name suggests, for explaining why a file that could not be read is
/// broken. Reading itself always goes by content.
pub fn container_from_name(name: &[u8]) -> Option<Container> {
    let dot = name.iter().rposition(|&b| b == b'.')?;
    let ext = String::from_utf8_lossy(&name[dot + 1..]).to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp3" => Container::Mp3,
        "m4a" | "m4b" | "mp4" | "m4p" => Container::Mp4,
        "aac" => Container::Adts,
        "wav" | "wave" => Container::Wav,
        "flac" => Container::Flac,
        "aif" | "aiff" | "aifc" => Container::Aiff,
        _ => return None,
    })
}

/// Where lofty spells an ID3v1 genre differently from the standard (Winamp) list, as mutagen,
/// TagLib and players show it: (lofty, standard). A file whose genre text is literally one of
/// lofty's spellings is shown in the standard one too.
const GENRE_SPELLINGS: [(&str, &str); 24] = [
    ("Classic rock", "Classic Rock"),
    ("Death metal", "Death Metal"),
    ("Jazz & Funk", "Jazz+Funk"),
    ("Sound clip", "Sound Clip"),
    ("Alternative Rock", "Alt. Rock"),
    ("Gangsta", "Gangsta Rap"),
    ("Native US", "Native American"),
    ("Show tunes", "Showtunes"),
    ("Rock \u{2019}n\u{2019} Roll", "Rock & Roll"),
    ("Fast Fusion", "Fast-Fusion"),
    ("Slow rock", "Slow Rock"),
    ("Chamber music", "Chamber Music"),
    ("Booty bass", "Booty Bass"),
    ("Porn groove", "Porn Groove"),
    ("Slow jam", "Slow Jam"),
    ("A cappella", "A Cappella"),
    ("Goa music", "Goa"),
    ("Hardcore Techno", "Hardcore"),
    ("Negerpunk", "Afro-Punk"),
    ("Christian rock", "Christian Rock"),
    ("Jpop", "JPop"),
    ("Big beat", "Big Beat"),
    ("Audio theatre", "Audio Theatre"),
    ("Indie-Rock", "Indie Rock"),
];

fn collect(tag: &Tag, raw: &mut RawTags) {
    let take = |key: ItemKey, into: &mut Vec<String>| {
        into.extend(tag.get_strings(key).map(str::to_string));
    };
    take(ItemKey::TrackTitle, &mut raw.title);
    // A dedicated multi-artist field (ARTISTS) is the better list when a tagger wrote one.
    let mut artists = Vec::new();
    take(ItemKey::TrackArtists, &mut artists);
    if artists.is_empty() {
        take(ItemKey::TrackArtist, &mut artists);
    }
    raw.artists.extend(artists);
    take(ItemKey::AlbumTitle, &mut raw.album);
    take(ItemKey::AlbumArtist, &mut raw.album_artist);
    take(ItemKey::TrackNumber, &mut raw.track);
    take(ItemKey::TrackTotal, &mut raw.track_total);
    take(ItemKey::DiscNumber, &mut raw.disc);
    take(ItemKey::DiscTotal, &mut raw.disc_total);
    take(ItemKey::RecordingDate, &mut raw.date);
    take(ItemKey::Year, &mut raw.date);
    take(ItemKey::ReleaseDate, &mut raw.date);
    // An original release date (TORY, TDOR, ORIGINALDATE) is not the track's date: a remaster
    // from 2011 of a 1970 album is dated 2011, as mutagen, TagLib and players show it. The
    // model has no field for it.
    // Genre numbers (ID3 `(1)`, ID3v1's byte, MP4's `gnre`) come out in lofty's spelling of the
    // ID3v1 list; the standard list's spelling is what every other tool shows.
    let numbered = matches!(
        tag.tag_type(),
        TagType::Id3v1 | TagType::Id3v2 | TagType::Mp4Ilst
    );
    raw.genre.extend(tag.get_strings(ItemKey::Genre).map(|g| {
        match GENRE_SPELLINGS
            .iter()
            .find(|(lofty, _)| numbered && *lofty == g)
        {
            Some((_, standard)) => standard.to_string(),
            None => g.to_string(),
        }
    }));
    take(ItemKey::Composer, &mut raw.composer);
    take(ItemKey::FlagCompilation, &mut raw.compilation);
    take(ItemKey::ReplayGainTrackGain, &mut raw.rg_track_gain);
    take(ItemKey::ReplayGainTrackPeak, &mut raw.rg_track_peak);
    take(ItemKey::ReplayGainAlbumGain, &mut raw.rg_album_gain);
    take(ItemKey::ReplayGainAlbumPeak, &mut raw.rg_album_peak);
    take(ItemKey::MusicBrainzRecordingId, &mut raw.mb_track_id);
    take(ItemKey::MusicBrainzReleaseId, &mut raw.mb_album_id);
}

/// Text fields to set in a file's primary tag. `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TagEdit {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    pub track: Option<u32>,
    pub year: Option<i32>,
    pub genre: Option<String>,
}

/// ReplayGain values as they are written into a file's tags ("-6.54 dB", "0.988553").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayGainText {
    pub track_gain: String,
    pub track_peak: String,
    /// Album gain and peak, when the track is part of an album.
    pub album: Option<(String, String)>,
}

/// Writes ReplayGain values into the file open as `file` (read and write; a copy that is about
/// to replace the user's file), in its primary tag: TXXX frames in ID3v2 (MP3, WAV, AIFF),
/// Vorbis comments (FLAC), freeform atoms (MP4). Every other tag item is kept as it was.
pub fn write_replaygain(file: &mut std::fs::File, rg: &ReplayGainText) -> Result<(), ReadError> {
    use lofty::config::WriteOptions;
    let io = |e: std::io::Error| ReadError(format!("cannot read the copy: {e}"));
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let reader = std::io::BufReader::new(file.try_clone().map_err(io)?);
    let mut tagged = Probe::new(reader)
        .options(parse_options().parsing_mode(ParsingMode::Relaxed))
        .guess_file_type()
        .map_err(|e| ReadError(format!("cannot read the copy: {e}")))?
        .read()
        .map_err(describe)?;
    let tag_type = tagged.primary_tag_type();
    if tagged.tag_mut(tag_type).is_none() {
        tagged.insert_tag(Tag::new(tag_type));
    }
    let tag = tagged.tag_mut(tag_type).expect("inserted above");
    tag.insert_text(ItemKey::ReplayGainTrackGain, rg.track_gain.clone());
    tag.insert_text(ItemKey::ReplayGainTrackPeak, rg.track_peak.clone());
    // Without an album value, album tags another program wrote are left as they are.
    if let Some((gain, peak)) = &rg.album {
        tag.insert_text(ItemKey::ReplayGainAlbumGain, gain.clone());
        tag.insert_text(ItemKey::ReplayGainAlbumPeak, peak.clone());
    }
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    tagged
        .save_to(file, WriteOptions::default())
        .map_err(|e| ReadError(format!("cannot write tags: {e}")))
}

/// Sets fields in the file's primary tag (creating the tag when there is none), leaving the audio
/// untouched. Only used where the user asked for a file to be written, and by tests and benchmarks
/// on their own copies.
pub fn write(path: &std::path::Path, edit: &TagEdit) -> Result<(), ReadError> {
    use lofty::config::WriteOptions;
    let mut tagged = Probe::open(path)
        .and_then(|p| p.options(parse_options()).read())
        .map_err(describe)?;
    let tag_type = tagged.primary_tag_type();
    if tagged.tag_mut(tag_type).is_none() {
        tagged.insert_tag(Tag::new(tag_type));
    }
    let tag = tagged.tag_mut(tag_type).expect("inserted above");
    let text = [
        (ItemKey::TrackTitle, &edit.title),
        (ItemKey::TrackArtist, &edit.artist),
        (ItemKey::AlbumTitle, &edit.album),
        (ItemKey::AlbumArtist, &edit.album_artist),
        (ItemKey::Genre, &edit.genre),
    ];
    for (key, value) in text {
        if let Some(v) = value {
            tag.insert_text(key, v.clone());
        }
    }
    if let Some(n) = edit.track {
        tag.insert_text(ItemKey::TrackNumber, n.to_string());
    }
    if let Some(y) = edit.year {
        tag.insert_text(ItemKey::RecordingDate, y.to_string());
    }
    tagged
        .save_to_path(path, WriteOptions::default())
        .map_err(|e| ReadError(format!("cannot write tags: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Carrying tags from one file to another: `convert` and `export` encode a new file, then call
// `transfer` to give it the source's tags.

/// What to do with the source's cover picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverPolicy {
    /// The new file gets no picture.
    Drop,
    /// The front cover (else the first picture) is copied byte for byte.
    Keep,
    /// The front cover (else the first picture) is scaled down to fit in `max_px` x `max_px` and
    /// made a baseline JPEG (see [`crate::cover::fit`]). A picture that cannot be decoded is
    /// dropped rather than copied.
    Fit { max_px: u32 },
}

/// How [`transfer`] writes the new file's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferOptions {
    /// Write ID3v2.3 rather than ID3v2.4 (MP3, and the ID3 chunk of WAV and AIFF).
    pub id3v23: bool,
    /// Also write an ID3v1 tag (MP3 only).
    pub id3v1: bool,
    /// Carry ReplayGain (and R128) gains and peaks. False when the gain was baked into the
    /// audio: the old values would then apply it twice.
    pub replaygain: bool,
    pub cover: CoverPolicy,
}

impl Default for TransferOptions {
    fn default() -> Self {
        TransferOptions {
            id3v23: false,
            id3v1: false,
            replaygain: true,
            cover: CoverPolicy::Keep,
        }
    }
}

/// Why tags could not be carried over, naming the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("cannot read the tags of {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
    #[error("cannot write tags to {}: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

fn read_error(path: &Path, reason: impl ToString) -> TagError {
    TagError::Read {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn write_error(path: &Path, reason: impl ToString) -> TagError {
    TagError::Write {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads every tag of a file, going by its content. The file is opened read-only.
fn read_tagged(path: &Path, covers: bool) -> Result<TaggedFile, TagError> {
    // As the scan reads: a tag with a malformed frame is read again relaxed (the bad items
    // dropped), and failing that the file is read without its tags (the scan has already
    // reported the trouble), so one bad frame does not stop a conversion or an export.
    let strict = || parse_options().read_cover_art(covers);
    let relaxed = || strict().parsing_mode(ParsingMode::Relaxed);
    let mut first = None;
    // Returns the file, or records the error (and says whether to go on).
    let mut attempt =
        |options: ParseOptions, extra: Vec<crate::container::Patch>| match read_tagged_with(
            path, options, extra,
        ) {
            Ok(file) => Some(Ok(file)),
            Err((e, true)) => Some(Err(first.take().unwrap_or(e))),
            Err((e, false)) => {
                first.get_or_insert(e);
                None
            }
        };
    if let Some(done) = attempt(strict(), Vec::new()) {
        return done;
    }
    if let Some(done) = attempt(relaxed(), Vec::new()) {
        return done;
    }
    // Each frame of the leading ID3v2 tag left out in turn, as the scan does; the frames are
    // listed only for a tag that needs it.
    let frames = std::fs::File::open(path)
        .and_then(|mut f| crate::container::id3::frames(&mut f, 0))
        .unwrap_or_default();
    for (at, head) in frames.iter().take(64) {
        let patches = crate::container::id3::left_out(*at, head).to_vec();
        if let Some(done) = attempt(relaxed(), patches) {
            return done;
        }
    }
    if let Some(done) = attempt(strict().read_tags(false), Vec::new()) {
        return done;
    }
    Err(first.expect("at least one attempt"))
}

/// One attempt of [`read_tagged`]; the error says whether the format itself was not known (no
/// retry helps then).
fn read_tagged_with(
    path: &Path,
    options: ParseOptions,
    extra: Vec<crate::container::Patch>,
) -> Result<TaggedFile, (TagError, bool)> {
    let fail = |e: TagError| (e, false);
    let file = std::fs::File::open(path).map_err(|e| fail(read_error(path, e)))?;
    let len = file
        .metadata()
        .map_err(|e| fail(read_error(path, e)))?
        .len();
    let mut file = std::io::BufReader::new(file);
    // Seen as the scan sees it: a FLAC file's later comment blocks hidden, a WAV header made
    // plain, stacked ID3v2 tags after the first left out, an MP4 `meta` box moved to `udta`.
    let mut patches =
        crate::container::read_patches(&mut file, len).map_err(|e| fail(read_error(path, e)))?;
    patches.extend(extra);
    file.seek(SeekFrom::Start(0))
        .map_err(|e| fail(read_error(path, e)))?;
    let mut file =
        crate::container::Patched::new(file, patches).map_err(|e| fail(read_error(path, e)))?;
    let view = crate::container::tag_view(&mut file, len).map_err(|e| fail(read_error(path, e)))?;
    let file = crate::container::Pieces::new(
        file,
        view.unwrap_or_else(|| vec![crate::container::Piece::File { start: 0, end: len }]),
    );
    let probe = Probe::new(file)
        .options(options)
        .guess_file_type()
        .map_err(|e| fail(read_error(path, e)))?;
    if probe.file_type().is_none() {
        return Err((read_error(path, "not a recognised audio format"), true));
    }
    probe.read().map_err(|e| {
        let unknown = e.is_unknown_format();
        (read_error(path, describe(e).0), unknown)
    })
}

/// A file's tags, the format's primary tag first.
fn ordered_tags(file: &TaggedFile) -> Vec<&Tag> {
    let primary = file.primary_tag_type();
    let mut tags: Vec<&Tag> = file.tags().iter().collect();
    tags.sort_by_key(|t| t.tag_type() != primary);
    tags
}

/// The front cover, else the first picture, looking through the tags in order.
fn choose_picture<'a>(tags: &[&'a Tag]) -> Option<&'a lofty::picture::Picture> {
    use lofty::picture::PictureType;
    let pictures = || {
        tags.iter()
            .flat_map(|t| t.pictures())
            .filter(|p| !p.data().is_empty())
    };
    pictures()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures().next())
}

/// The front cover (else the first picture) of a file, from any of its tags.
pub fn read_cover(path: &Path) -> Option<Vec<u8>> {
    let file = read_tagged(path, true).ok()?;
    choose_picture(&ordered_tags(&file)).map(|p| p.data().to_vec())
}

/// Fields that describe how the source was encoded, not the music: wrong for the new file.
const ENCODING_KEYS: &[ItemKey] = &[
    ItemKey::EncoderSoftware,
    ItemKey::EncoderSettings,
    ItemKey::EncodedBy,
    ItemKey::EncodingTime,
    ItemKey::Length,
];

const GAIN_KEYS: &[ItemKey] = &[
    ItemKey::ReplayGainTrackGain,
    ItemKey::ReplayGainTrackPeak,
    ItemKey::ReplayGainAlbumGain,
    ItemKey::ReplayGainAlbumPeak,
    ItemKey::R128TrackGain,
    ItemKey::R128AlbumGain,
];

/// Keys ID3v2 keeps one value of (a timestamp frame each).
const SINGLE_VALUED: &[ItemKey] = &[
    ItemKey::RecordingDate,
    ItemKey::OriginalReleaseDate,
    ItemKey::ReleaseDate,
    ItemKey::Year,
];

/// Keys ID3v2 stores as an involved-people list (TIPL), one pair per value: never joined.
const PEOPLE_LIST_KEYS: &[ItemKey] = &[
    ItemKey::Producer,
    ItemKey::Arranger,
    ItemKey::Engineer,
    ItemKey::MixDj,
    ItemKey::MixEngineer,
];

fn item_text(item: &TagItem) -> Option<&str> {
    match item.value() {
        ItemValue::Text(t) | ItemValue::Locator(t) => Some(t),
        ItemValue::Binary(_) => None,
    }
}

fn text_item(key: ItemKey, text: String) -> TagItem {
    TagItem::new(key, ItemValue::Text(text))
}

/// Every text item of the source worth carrying, one tag type's values per key: the primary
/// tag's values win, the other tags only fill keys it lacks.
fn gather(tags: &[&Tag], dst: TagType, opts: &TransferOptions) -> Vec<TagItem> {
    use std::collections::HashSet;
    let mut out = Vec::new();
    let mut taken: HashSet<ItemKey> = HashSet::new();
    for tag in tags {
        let mut here = HashSet::new();
        for item in tag.items() {
            let key = item.key();
            if taken.contains(&key)
                || ENCODING_KEYS.contains(&key)
                || (!opts.replaygain && GAIN_KEYS.contains(&key))
            {
                continue;
            }
            let Some(text) = item_text(item) else {
                continue;
            };
            if text
                .trim_matches(|c: char| c.is_whitespace() || c == '\0')
                .is_empty()
            {
                continue;
            }
            // Comments and lyrics with a description are ID3v2's own (iTunes writes its
            // normalisation and gapless data as such comments: those describe the old
            // encoding). Other formats have nowhere to put a description.
            if matches!(key, ItemKey::Comment | ItemKey::UnsyncLyrics)
                && !item.description().is_empty()
                && (dst != TagType::Id3v2 || item.description().starts_with("iTun"))
            {
                continue;
            }
            out.push(item.clone());
            here.insert(key);
        }
        taken.extend(here);
    }
    out
}

/// Turns gathered items into the values the destination tag type can hold: numbers split
/// into number and total, flags as "1", dates ID3v2 can parse, and equivalent keys renamed
/// where the destination knows only one of them.
fn normalise(mut items: Vec<TagItem>, dst: TagType) -> Vec<TagItem> {
    use crate::model::{parse_number_pair, parse_year};
    let has = |items: &[TagItem], key: ItemKey| items.iter().any(|i| i.key() == key);
    let supports = |key: ItemKey| key.map_key(dst).is_some();

    // Numbers: "3/12" in a number field gives both; an explicit total field wins.
    for (number_key, total_key) in [
        (ItemKey::TrackNumber, ItemKey::TrackTotal),
        (ItemKey::DiscNumber, ItemKey::DiscTotal),
    ] {
        let (mut number, mut inline_total, mut total) = (None, None, None);
        for item in &items {
            let Some(text) = item_text(item) else {
                continue;
            };
            if item.key() == number_key {
                let (n, t) = parse_number_pair(text);
                number = number.or(n);
                inline_total = inline_total.or(t);
            } else if item.key() == total_key {
                total = total.or(parse_number_pair(text).0);
            }
        }
        items.retain(|i| i.key() != number_key && i.key() != total_key);
        if let Some(n) = number {
            items.push(text_item(number_key, n.to_string()));
        }
        if let Some(t) = total.or(inline_total) {
            items.push(text_item(total_key, t.to_string()));
        }
    }

    // Flags: set or absent.
    for key in [ItemKey::FlagCompilation, ItemKey::FlagPodcast] {
        let set = items.iter().filter(|i| i.key() == key).any(|i| {
            item_text(i).is_some_and(|t| {
                matches!(
                    t.trim().to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "y"
                )
            })
        });
        items.retain(|i| i.key() != key);
        if set {
            items.push(text_item(key, "1".into()));
        }
    }

    // One value for the date fields.
    for key in SINGLE_VALUED {
        let mut seen = false;
        items.retain(|i| {
            if i.key() != *key {
                return true;
            }
            let keep = !seen;
            seen = true;
            keep
        });
    }

    // Keys the destination knows under another name.
    let rename = |items: &mut Vec<TagItem>, from: ItemKey, to: ItemKey| {
        for item in items.iter_mut().filter(|i| i.key() == from) {
            let mut renamed = TagItem::new(to, item.value().clone());
            renamed.set_lang(*item.lang());
            renamed.set_description(item.description().to_string());
            *item = renamed;
        }
    };
    if !supports(ItemKey::Year) && has(&items, ItemKey::Year) {
        if has(&items, ItemKey::RecordingDate) {
            items.retain(|i| i.key() != ItemKey::Year);
        } else {
            rename(&mut items, ItemKey::Year, ItemKey::RecordingDate);
        }
    }
    if !supports(ItemKey::Lyrics)
        && supports(ItemKey::UnsyncLyrics)
        && !has(&items, ItemKey::UnsyncLyrics)
    {
        rename(&mut items, ItemKey::Lyrics, ItemKey::UnsyncLyrics);
    }
    // Vorbis comments have both; players read LYRICS.
    if supports(ItemKey::Lyrics)
        && ItemKey::Lyrics.map_key(dst) != ItemKey::UnsyncLyrics.map_key(dst)
        && !has(&items, ItemKey::Lyrics)
    {
        rename(&mut items, ItemKey::UnsyncLyrics, ItemKey::Lyrics);
    }
    // ID3v2's TPUB is read as the publisher; MP4 has only a label field, which is what
    // taggers mean by TPUB.
    if !supports(ItemKey::Publisher) && !has(&items, ItemKey::Label) {
        rename(&mut items, ItemKey::Publisher, ItemKey::Label);
    }
    // Two keys written to the same field: keep the first one's values only.
    for (keep, other) in [
        (ItemKey::Lyrics, ItemKey::UnsyncLyrics),
        (ItemKey::Label, ItemKey::Publisher),
        (ItemKey::Lyricist, ItemKey::Writer),
    ] {
        if keep.map_key(dst).is_some()
            && keep.map_key(dst) == other.map_key(dst)
            && has(&items, keep)
        {
            items.retain(|i| i.key() != other);
        }
    }
    // BPM: ID3v2 and MP4 want a whole number, Vorbis comments take any.
    let whole_bpm = |text: &str| -> Option<String> {
        let bpm: f64 = text.trim().replace(',', ".").parse().ok()?;
        (0.5..10_000.0)
            .contains(&bpm)
            .then(|| (bpm.round() as u32).to_string())
    };
    if supports(ItemKey::IntegerBpm) {
        let integer: Vec<String> = items
            .iter()
            .filter(|i| i.key() == ItemKey::IntegerBpm)
            .filter_map(item_text)
            .filter_map(whole_bpm)
            .collect();
        let from_bpm = items
            .iter()
            .filter(|i| i.key() == ItemKey::Bpm)
            .filter_map(item_text)
            .find_map(whole_bpm);
        items.retain(|i| i.key() != ItemKey::IntegerBpm);
        if let Some(bpm) = integer.into_iter().next().or(from_bpm) {
            items.push(text_item(ItemKey::IntegerBpm, bpm));
        }
    } else if supports(ItemKey::Bpm) && !has(&items, ItemKey::Bpm) {
        rename(&mut items, ItemKey::IntegerBpm, ItemKey::Bpm);
    }

    // ID3v2 dates are timestamps; a date it cannot parse keeps its year.
    if dst == TagType::Id3v2 {
        for item in items.iter_mut().filter(|i| {
            matches!(
                i.key(),
                ItemKey::RecordingDate | ItemKey::OriginalReleaseDate | ItemKey::ReleaseDate
            )
        }) {
            let Some(text) = item_text(item) else {
                continue;
            };
            let text = text.trim();
            if text.parse::<lofty::tag::items::Timestamp>().is_err()
                && let Some(year) = parse_year(text)
            {
                *item = text_item(item.key(), year.to_string());
            }
        }
    }

    // ID3v2 comments and lyrics name a language; "XXX" (unknown) is what lofty gives text from
    // formats without one, and some players show only English ones.
    if dst == TagType::Id3v2 {
        for item in items.iter_mut() {
            if matches!(item.key(), ItemKey::Comment | ItemKey::UnsyncLyrics)
                && item.lang() == &lofty::tag::items::UNKNOWN_LANGUAGE
            {
                item.set_lang(*b"eng");
            }
        }
    }

    items.retain(|i| supports(i.key()));
    items
}

/// ID3v2.3 has no multi-value separator: values of one field are joined with "; ".
fn join_for_id3v23(items: Vec<TagItem>) -> Vec<TagItem> {
    let mut out: Vec<TagItem> = Vec::new();
    for item in items {
        let joinable = !PEOPLE_LIST_KEYS.contains(&item.key())
            && item.key() != ItemKey::Popularimeter
            && matches!(item.value(), ItemValue::Text(_));
        let existing = out.iter_mut().find(|o| {
            joinable
                && o.key() == item.key()
                && o.lang() == item.lang()
                && o.description() == item.description()
        });
        match (existing, item_text(&item)) {
            (Some(existing), Some(text)) => {
                let joined = format!(
                    "{}{}{text}",
                    item_text(existing).unwrap_or_default(),
                    crate::model::ARTIST_JOIN
                );
                let mut replaced = text_item(existing.key(), joined);
                replaced.set_lang(*existing.lang());
                replaced.set_description(existing.description().to_string());
                *existing = replaced;
            }
            _ => out.push(item),
        }
    }
    out
}

/// Text for ID3v1, which holds Latin-1 only: accents outside Latin-1 are dropped from their
/// letters, other characters become "?", and a field that would be more than a quarter
/// question marks (a Japanese title) is left out rather than written as noise.
fn latin1_approximation(text: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::new();
    let (mut replaced, mut visible) = (0, 0);
    for c in text.trim().chars() {
        if !c.is_whitespace() {
            visible += 1;
        }
        if u32::from(c) <= 0xFF {
            out.push(c);
            continue;
        }
        let base: String = c
            .to_string()
            .nfkd()
            .filter(|d| !is_combining_mark(*d) && u32::from(*d) <= 0xFF)
            .collect();
        if base.is_empty() {
            out.push('?');
            replaced += 1;
        } else {
            out.push_str(&base);
        }
    }
    (visible > 0 && replaced * 4 <= visible).then_some(out)
}

/// The ID3v1 tag for an MP3: title, artist, album, year, comment, track and genre.
fn id3v1_tag(items: &[TagItem]) -> Tag {
    let values = |key: ItemKey| {
        items
            .iter()
            .filter(move |i| i.key() == key && i.description().is_empty())
            .filter_map(item_text)
    };
    let mut tag = Tag::new(TagType::Id3v1);
    let mut set = |key: ItemKey, text: Option<String>| {
        if let Some(text) = text.as_deref().and_then(latin1_approximation) {
            tag.insert_text(key, text);
        }
    };
    set(
        ItemKey::TrackTitle,
        values(ItemKey::TrackTitle).next().map(str::to_string),
    );
    let artists: Vec<&str> = values(ItemKey::TrackArtist).collect();
    set(
        ItemKey::TrackArtist,
        (!artists.is_empty()).then(|| artists.join(crate::model::ARTIST_JOIN)),
    );
    set(
        ItemKey::AlbumTitle,
        values(ItemKey::AlbumTitle).next().map(str::to_string),
    );
    set(
        ItemKey::Comment,
        values(ItemKey::Comment).next().map(str::to_string),
    );
    set(
        ItemKey::Genre,
        values(ItemKey::Genre).next().map(str::to_string),
    );
    let year = values(ItemKey::RecordingDate)
        .chain(values(ItemKey::Year))
        .find_map(crate::model::parse_year);
    if let Some(year) = year {
        tag.insert_text(ItemKey::Year, year.to_string());
    }
    if let Some(track) = values(ItemKey::TrackNumber).find_map(|t| t.parse::<u8>().ok()) {
        tag.insert_text(ItemKey::TrackNumber, track.to_string());
    }
    tag
}

/// The picture the new file gets under the cover policy, as its front cover.
fn cover_for(
    source: Option<&lofty::picture::Picture>,
    policy: CoverPolicy,
    dst_type: FileType,
) -> Option<lofty::picture::Picture> {
    use lofty::picture::{MimeType, Picture, PictureType};
    let source = source?;
    let sniffed = |data: &[u8]| {
        if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MimeType::Jpeg)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(MimeType::Png)
        } else if data.starts_with(b"GIF8") {
            Some(MimeType::Gif)
        } else if data.starts_with(b"BM") {
            Some(MimeType::Bmp)
        } else {
            None
        }
    };
    let (data, mime) = match policy {
        CoverPolicy::Drop => return None,
        CoverPolicy::Keep => {
            let data = source.data().to_vec();
            let mime = sniffed(&data).or_else(|| source.mime_type().cloned())?;
            // MP4 cover atoms can only say JPEG, PNG or BMP.
            if dst_type == FileType::Mp4
                && !matches!(mime, MimeType::Jpeg | MimeType::Png | MimeType::Bmp)
            {
                return None;
            }
            (data, mime)
        }
        CoverPolicy::Fit { max_px } => {
            let fitted = crate::cover::fit(source.data(), max_px).ok()?;
            (fitted.data, MimeType::Jpeg)
        }
    };
    Some(
        Picture::unchecked(data)
            .pic_type(PictureType::CoverFront)
            .mime_type(mime)
            .build(),
    )
}

/// Whether an MP4 atom is one the encoder wrote about the new file itself, kept when its tags
/// are replaced: the gapless playback data (iTunSMPB).
fn is_encoder_atom(atom: &lofty::mp4::Atom<'_>) -> bool {
    use lofty::mp4::AtomIdent;
    match atom.ident() {
        AtomIdent::Freeform { name, .. } => name.eq_ignore_ascii_case("iTunSMPB"),
        AtomIdent::Fourcc(_) => false,
    }
}

/// Carries the tags of `src` over to `dst`, a file just encoded from it, so that `dst` ends
/// up with exactly one tag of its format's primary type (ID3v2 for MP3, WAV and AIFF; MP4
/// atoms; Vorbis comments for FLAC), plus ID3v1 for MP3 when asked. Every other tag type in
/// `dst` is removed, so no reader finds stale values. `src` is opened read-only.
///
/// Everything the destination tag type can hold is carried: every generic field lofty maps
/// (titles, people, dates, numbers with their totals, flags, sort fields, identifiers,
/// MusicBrainz ids, ReplayGain unless `opts.replaygain` is false, lyrics, comments), and the
/// front cover by the cover policy. Fields about the source's encoding (encoder, encoder
/// settings, length, iTunes normalisation) are not carried; `dst`'s own encoder name and MP4
/// gapless data (iTunSMPB) are kept.
pub fn transfer(src: &Path, dst: &Path, opts: &TransferOptions) -> Result<(), TagError> {
    use lofty::config::WriteOptions;
    use lofty::tag::TagExt;

    if let (Ok(a), Ok(b)) = (src.canonicalize(), dst.canonicalize())
        && a == b
    {
        return Err(write_error(dst, "it is the source file itself"));
    }
    let source = read_tagged(src, opts.cover != CoverPolicy::Drop)?;
    let source_tags = ordered_tags(&source);
    let target = read_tagged(dst, false)?;
    let file_type = target.file_type();
    let tag_type = file_type.primary_tag_type();
    if !file_type.tag_support(tag_type).is_writable() {
        return Err(write_error(dst, "its format cannot hold tags"));
    }

    let mut gathered = gather(&source_tags, tag_type, opts);
    // lofty leaves MP4's integer tempo atom out of its generic tag.
    if source.file_type() == FileType::Mp4
        && !gathered.iter().any(|i| i.key() == ItemKey::IntegerBpm)
        && let Some(bpm) = mp4_tempo(src)
    {
        gathered.push(text_item(ItemKey::IntegerBpm, bpm.to_string()));
    }
    let items = normalise(gathered, tag_type);
    let mut primary = Tag::new(tag_type);
    let to_write = if tag_type == TagType::Id3v2 && opts.id3v23 {
        join_for_id3v23(items.clone())
    } else {
        items.clone()
    };
    for item in to_write {
        primary.push(item);
    }
    // The new file's own encoder name stays (for FLAC, the vendor string).
    if let Some(encoder) = target
        .tag(tag_type)
        .and_then(|t| t.get_string(ItemKey::EncoderSoftware))
    {
        primary.insert_text(ItemKey::EncoderSoftware, encoder.to_string());
    }
    if let Some(picture) = cover_for(choose_picture(&source_tags), opts.cover, file_type) {
        primary.push_picture(picture);
    }

    // Every other tag type goes, so nothing stale is left for a reader to prefer.
    let write_options = WriteOptions::new().use_id3v23(opts.id3v23);
    let wanted_id3v1 = file_type == FileType::Mpeg && opts.id3v1;
    for other in target.tags().iter().map(Tag::tag_type) {
        if other == tag_type || (other == TagType::Id3v1 && wanted_id3v1) {
            continue;
        }
        other
            .remove_from_path(dst, write_options)
            .map_err(|e| write_error(dst, format!("cannot remove its {other:?} tag: {e}")))?;
    }

    let saved = match tag_type {
        TagType::Mp4Ilst => {
            let kept: Vec<lofty::mp4::Atom<'static>> = {
                let mut file = std::fs::File::open(dst).map_err(|e| read_error(dst, e))?;
                let mp4 = Mp4File::read_from(&mut file, parse_options().read_cover_art(false))
                    .map_err(|e| read_error(dst, describe(e).0))?;
                mp4.ilst()
                    .map(|ilst| ilst.into_iter().filter(|a| is_encoder_atom(a)).cloned())
                    .into_iter()
                    .flatten()
                    .collect()
            };
            mp4_ilst(primary, kept).save_to_path(dst, write_options)
        }
        TagType::VorbisComments => {
            lofty::ogg::tag::VorbisComments::from(primary).save_to_path(dst, write_options)
        }
        TagType::Id3v2 => {
            let mut id3 = lofty::id3::v2::Id3v2Tag::from(primary);
            if opts.id3v23 {
                keep_v24_frames_for_v23(&mut id3);
            }
            id3.save_to_path(dst, write_options)
        }
        _ => primary.save_to_path(dst, write_options),
    };
    saved.map_err(|e| write_error(dst, e))?;

    if wanted_id3v1 {
        id3v1_tag(&items)
            .save_to_path(dst, write_options)
            .map_err(|e| write_error(dst, format!("cannot write its ID3v1 tag: {e}")))?;
    }
    Ok(())
}

/// The tempo (BPM) atom of an MP4 file.
fn mp4_tempo(path: &Path) -> Option<u32> {
    use lofty::mp4::{AtomData, AtomIdent};
    let mut file = std::fs::File::open(path).ok()?;
    let mp4 = Mp4File::read_from(&mut file, parse_options().read_cover_art(false)).ok()?;
    let atom = mp4.ilst()?.get(&AtomIdent::Fourcc(*b"tmpo"))?;
    atom.data()
        .find_map(|d| match d {
            AtomData::SignedInteger(n) => u32::try_from(*n).ok(),
            AtomData::UnsignedInteger(n) => Some(*n),
            AtomData::UTF8(text) => text.trim().parse().ok(),
            _ => None,
        })
        .filter(|&n| n > 0)
}

/// The MP4 atoms for a tag, in the order iTunes writes them: the atoms kept from the file
/// first, one atom per field holding all its values (lofty writes one atom per value, and most
/// readers then see only the last), the tempo as the integer atom readers expect, and the
/// cover last. The order matters: ffmpeg turns `covr` into a picture stream and applies an
/// `iTunSMPB` that comes after it to that stream instead of the audio, losing gapless playback.
fn mp4_ilst(tag: Tag, kept: Vec<lofty::mp4::Atom<'static>>) -> lofty::mp4::Ilst {
    use lofty::mp4::{Atom, AtomData, AtomIdent, Ilst};
    const TEMPO: AtomIdent<'static> = AtomIdent::Fourcc(*b"tmpo");
    const COVER: AtomIdent<'static> = AtomIdent::Fourcc(*b"covr");
    let mut ilst = Ilst::new();
    for atom in kept {
        ilst.insert(atom);
    }
    let mut covers = Vec::new();
    for atom in Ilst::from(tag) {
        if *atom.ident() == COVER {
            covers.push(atom);
        } else if *atom.ident() == TEMPO {
            let bpm = atom.data().find_map(|d| match d {
                AtomData::UTF8(text) => text.parse::<i32>().ok(),
                _ => None,
            });
            if let Some(bpm) = bpm
                && ilst.get(&TEMPO).is_none()
            {
                ilst.insert(Atom::new(TEMPO, AtomData::SignedInteger(bpm)));
            }
        } else {
            ilst.insert(atom);
        }
    }
    for atom in covers {
        ilst.insert(atom);
    }
    ilst
}

/// lofty drops ID3v2.4-only frames when writing ID3v2.3; these are kept as TXXX frames under
/// the names Vorbis comments use.
fn keep_v24_frames_for_v23(id3: &mut lofty::id3::v2::Id3v2Tag) {
    use lofty::id3::v2::FrameId;
    use std::borrow::Cow;
    const MOVED: &[(&str, &str)] = &[
        ("TMOO", "MOOD"),
        ("TDRL", "RELEASEDATE"),
        ("TSST", "DISCSUBTITLE"),
        ("TSOA", "ALBUMSORT"),
        ("TSOP", "ARTISTSORT"),
        ("TSOT", "TITLESORT"),
    ];
    for (frame, description) in MOVED {
        let id = FrameId::Valid(Cow::Borrowed(*frame));
        let Some(text) = id3
            .get_text(&id)
            .map(|t| t.replace('\0', crate::model::ARTIST_JOIN))
        else {
            continue;
        };
        id3.remove(&id).for_each(drop);
        id3.insert_user_text((*description).to_string(), text);
    }
}

#[cfg(test)]
mod transfer_tests {
    //! End-to-end tests of `transfer` on real files made by ffmpeg and tagged by mutagen, read
    //! back by our own reader and by mutagen and ffprobe as independent oracles.

    use super::*;
    use crate::model::Track;
    use serde_json::Value;
    use std::process::Command;

    const PYTHON: &str = "/usr/bin/python3";
    const TITLE: &str = "日本語のタイトル ♫ Ünïcødé";
    const OLD_TITLE: &str = "Stale Old Title";
    const MB_TRACK: &str = "0d7cb2bb-6e6f-4b8d-9f1c-9d1f6c7e6a11";
    const MB_ALBUM: &str = "6a0c6a39-2a8c-43e1-9a3c-5c2d6f0f8b22";
    const MB_ARTIST: &str = "a1b2c3d4-0000-4000-8000-1234567890ab";

    /// Requires ffmpeg, ffprobe and mutagen (a test fails without them).
    fn tools() -> bool {
        let ok = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let here = ok("ffmpeg", &["-version"])
            && ok("ffprobe", &["-version"])
            && ok(PYTHON, &["-c", "import mutagen"]);
        assert!(
            here,
            "ffmpeg, ffprobe and python3-mutagen are needed (`make test` installs them)"
        );
        here
    }

    fn run(cmd: &mut Command) -> String {
        let out = cmd.output().expect("run tool");
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// One second of a sine tone, encoded by ffmpeg with the given output arguments.
    fn encode(path: &Path, args: &[&str]) {
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("sine=frequency=440:duration=1:sample_rate=44100")
            .args(args)
            .arg(path));
    }

    /// Runs a Python snippet with mutagen imported; `sys.argv[1:]` are the given arguments.
    fn python(script: &str, args: &[&Path]) -> String {
        let script = format!(
            "import sys, json, hashlib, mutagen\n{}",
            script.trim_start_matches('\n')
        );
        run(Command::new(PYTHON).arg("-c").arg(script).args(args))
    }

    /// What mutagen sees: the tag class, ID3 version, every field as a list of strings, and the
    /// pictures (type, MIME type, SHA-1 of the data).
    const DUMP: &str = r#"
from mutagen.id3 import ID3
f = mutagen.File(sys.argv[1])
out = {"tags": {}, "pictures": [], "version": None}
def text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, tuple):
        return "/".join(str(x) for x in v)
    return str(v)
def pic(data, mime, kind):
    out["pictures"].append({"sha1": hashlib.sha1(bytes(data)).hexdigest(), "mime": mime, "type": kind})
t = f.tags
if isinstance(t, ID3):
    out["version"] = list(t.version)
    for frame in t.values():
        if frame.FrameID == "APIC":
            pic(frame.data, frame.mime, int(frame.type))
        elif frame.FrameID == "UFID":
            out["tags"][frame.HashKey] = [frame.data.decode()]
        elif hasattr(frame, "text"):
            values = [frame.text] if isinstance(frame.text, str) else frame.text
            out["tags"][frame.HashKey] = [text(x) for x in values]
elif type(t).__name__ == "MP4Tags":
    for k, v in t.items():
        if k == "covr":
            for c in v:
                pic(c, "image/png" if c.imageformat == 14 else "image/jpeg", 3)
        else:
            out["tags"][k] = [text(x) for x in (v if isinstance(v, list) else [v])]
elif t is not None:
    for k in t.keys():
        out["tags"][k.lower()] = list(t[k])
for p in getattr(f, "pictures", []):
    pic(p.data, p.mime, int(p.type))
print(json.dumps(out))
"#;

    struct Mutagen {
        tags: serde_json::Map<String, Value>,
        pictures: Vec<Value>,
        version: Option<Vec<u64>>,
    }

    impl Mutagen {
        fn values(&self, key: &str) -> Vec<String> {
            self.tags
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        }

        fn one(&self, key: &str) -> String {
            let values = self.values(key);
            assert_eq!(values.len(), 1, "mutagen {key}: {values:?}");
            values[0].clone()
        }

        fn all_text(&self) -> String {
            Value::Object(self.tags.clone()).to_string()
        }
    }

    fn mutagen(path: &Path) -> Mutagen {
        let v: Value = serde_json::from_str(&python(DUMP, &[path])).unwrap();
        Mutagen {
            tags: v["tags"].as_object().cloned().unwrap_or_default(),
            pictures: v["pictures"].as_array().cloned().unwrap_or_default(),
            version: v["version"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect()),
        }
    }

    /// ffprobe's container-level tags, keys in lower case.
    fn ffprobe(path: &Path) -> std::collections::BTreeMap<String, String> {
        let out = run(Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "format_tags", "-of", "json"])
            .arg(path));
        let v: Value = serde_json::from_str(&out).unwrap();
        v["format"]["tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What our own reader makes of a file.
    fn ours(path: &Path) -> Track {
        let mut reader = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let tags = read(&mut reader).unwrap();
        Track::from_raw(&tags.raw, &tags.props, "stem")
    }

    fn sha1(data: &[u8]) -> String {
        let out = Command::new(PYTHON)
            .args([
                "-c",
                "import sys, hashlib; print(hashlib.sha1(sys.stdin.buffer.read()).hexdigest())",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(data)?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The chunk ids of a RIFF (WAV, little-endian sizes) or FORM (AIFF, big-endian) file,
    /// with the list type for LIST chunks ("LIST/INFO").
    fn chunks(path: &Path) -> Vec<String> {
        let data = std::fs::read(path).unwrap();
        let big_endian = &data[0..4] == b"FORM";
        let mut ids = Vec::new();
        let mut at = 12;
        while at + 8 <= data.len() {
            let id = String::from_utf8_lossy(&data[at..at + 4]).to_string();
            let size_bytes: [u8; 4] = data[at + 4..at + 8].try_into().unwrap();
            let size = if big_endian {
                u32::from_be_bytes(size_bytes)
            } else {
                u32::from_le_bytes(size_bytes)
            } as usize;
            if id == "LIST" && at + 12 <= data.len() {
                ids.push(format!(
                    "LIST/{}",
                    String::from_utf8_lossy(&data[at + 8..at + 12])
                ));
            } else {
                ids.push(id);
            }
            at += 8 + size + (size & 1);
        }
        ids
    }

    /// The ID3v2 major version of the ID3 chunk of a WAV or AIFF file.
    fn id3_chunk_version(path: &Path) -> Option<u8> {
        let data = std::fs::read(path).unwrap();
        let at = data
            .windows(4)
            .position(|w| w.eq_ignore_ascii_case(b"ID3 "))?;
        (data.get(at + 8..at + 11)? == b"ID3").then(|| data[at + 11])
    }

    /// The FLAC metadata block types, in order.
    fn flac_blocks(path: &Path) -> Vec<u8> {
        let data = std::fs::read(path).unwrap();
        assert_eq!(&data[0..4], b"fLaC", "FLAC stream marker at the start");
        let mut at = 4;
        let mut kinds = Vec::new();
        loop {
            let header = data[at];
            kinds.push(header & 0x7F);
            let len = u32::from_be_bytes([0, data[at + 1], data[at + 2], data[at + 3]]) as usize;
            at += 4 + len;
            if header & 0x80 != 0 {
                break;
            }
        }
        kinds
    }

    fn has_id3v1(path: &Path) -> bool {
        let data = std::fs::read(path).unwrap();
        data.len() >= 128 && &data[data.len() - 128..data.len() - 125] == b"TAG"
    }

    fn contains(path: &Path, needle: &[u8]) -> bool {
        std::fs::read(path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    }

    /// The MD5 of a file's decoded audio, by ffmpeg.
    fn audio_md5(path: &Path) -> String {
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(path)
            .args(["-map", "0:a", "-f", "md5", "-"]))
    }

    /// Transfers, checking the source's bytes are untouched and the destination's audio
    /// decodes to the same samples as before.
    fn transfer_checked(src: &Path, dst: &Path, opts: &TransferOptions) {
        let before = std::fs::read(src).unwrap();
        let modified = std::fs::metadata(src).unwrap().modified().unwrap();
        let audio = audio_md5(dst);
        transfer(src, dst, opts).unwrap();
        assert!(
            std::fs::read(src).unwrap() == before,
            "the source file changed"
        );
        assert_eq!(
            std::fs::metadata(src).unwrap().modified().unwrap(),
            modified
        );
        assert_eq!(audio_md5(dst), audio, "the destination's audio changed");
    }

    /// Checks the cover in `dst`: exactly one picture (by mutagen), a front cover, baseline
    /// JPEG within `max_px` by our reader, and the same bytes mutagen sees.
    fn assert_fitted_cover(dst: &Path, m: &Mutagen, max_px: u32) {
        assert_eq!(m.pictures.len(), 1, "mutagen pictures: {:?}", m.pictures);
        let cover = read_cover(dst).expect("a cover");
        assert_eq!(m.pictures[0]["sha1"], sha1(&cover).as_str());
        assert_eq!(m.pictures[0]["type"], 3);
        assert_eq!(m.pictures[0]["mime"], "image/jpeg");
        assert!(cover.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(!crate::cover::is_progressive_jpeg(&cover));
        let fitted = crate::cover::fit(&cover, max_px).unwrap();
        assert!(
            !fitted.changed,
            "the cover is not a baseline JPEG within {max_px} px"
        );
        assert!(fitted.width <= max_px && fitted.height <= max_px);
        assert_eq!(
            fitted.width.max(fitted.height),
            max_px,
            "scaled to the limit"
        );
    }

    /// A FLAC file with rich Vorbis comments: two artists, every number with its total,
    /// ReplayGain, MusicBrainz ids, sort fields, lyrics, a 1200x1200 PNG front cover and a small
    /// back cover before it.
    fn rich_flac(dir: &Path) -> PathBuf {
        let src = dir.join("source.flac");
        encode(&src, &["-c:a", "flac"]);
        let front = dir.join("front.png");
        std::fs::write(&front, crate::cover::test_images::png(1200, 1200, false)).unwrap();
        let back = dir.join("back.png");
        std::fs::write(&back, crate::cover::test_images::png(50, 40, false)).unwrap();
        python(
            r#"
from mutagen.flac import FLAC, Picture
f = FLAC(sys.argv[1])
f.clear()
tags = json.loads(sys.argv[4])
for k, v in tags.items():
    f[k] = v
for path, kind, size in ((sys.argv[3], 4, (50, 40)), (sys.argv[2], 3, (1200, 1200))):
    p = Picture()
    p.type = kind
    p.mime = "image/png"
    p.width, p.height = size
    p.depth = 24
    p.data = open(path, "rb").read()
    f.add_picture(p)
f.save()
"#,
            &[&src, &front, &back, Path::new(&rich_vorbis_json())],
        );
        src
    }

    fn rich_vorbis_json() -> String {
        serde_json::json!({
            "TITLE": TITLE,
            "ARTIST": ["Beyoncé", "Björk"],
            "ALBUM": "Ελληνικά 🎵",
            "ALBUMARTIST": "Various Artists",
            "COMPOSER": "Ennio Morricone",
            "GENRE": "Soundtrack",
            "COMMENT": "A comment",
            "LYRICS": "La la la\nLa la",
            "DATE": "2001-05-04",
            "ORIGINALDATE": "1999",
            "COPYRIGHT": "℗ 2001 Label",
            "LABEL": "Some Label",
            "ALBUMSORT": "Album, The",
            "ARTISTSORT": "Knowles, Beyoncé",
            "TITLESORT": "Title Sort",
            "ISRC": "USRC17607839",
            "BPM": "128",
            "TRACKNUMBER": "3",
            "TRACKTOTAL": "12",
            "DISCNUMBER": "1",
            "DISCTOTAL": "2",
            "COMPILATION": "1",
            "REPLAYGAIN_TRACK_GAIN": "-6.50 dB",
            "REPLAYGAIN_TRACK_PEAK": "0.988831",
            "REPLAYGAIN_ALBUM_GAIN": "-7.25 dB",
            "REPLAYGAIN_ALBUM_PEAK": "1.000000",
            "MUSICBRAINZ_TRACKID": MB_TRACK,
            "MUSICBRAINZ_ALBUMID": MB_ALBUM,
            "MUSICBRAINZ_ARTISTID": MB_ARTIST,
            "ENCODER": "old encoder that must not be carried",
        })
        .to_string()
    }

    /// The fields every target holds, as our own reader sees them.
    /// `joined`: the two artists come back as one value (ID3v2.3, which has no list separator).
    fn assert_rich_fields(info: &Track, replaygain: bool, joined: bool) {
        assert_eq!(info.title, TITLE);
        if joined {
            assert_eq!(info.artists, vec!["Beyoncé; Björk"]);
        } else {
            assert_eq!(info.artists, vec!["Beyoncé", "Björk"]);
        }
        assert_eq!(info.artist.as_deref(), Some("Beyoncé; Björk"));
        assert_eq!(info.album.as_deref(), Some("Ελληνικά 🎵"));
        assert_eq!(info.albumartist.as_deref(), Some("Various Artists"));
        assert_eq!(info.composer.as_deref(), Some("Ennio Morricone"));
        assert_eq!(info.genre.as_deref(), Some("Soundtrack"));
        assert_eq!((info.track, info.tracktotal), (Some(3), Some(12)));
        assert_eq!((info.disc, info.disctotal), (Some(1), Some(2)));
        assert_eq!(info.year, Some(2001));
        assert!(info.compilation);
        assert_eq!(info.mb_trackid.as_deref(), Some(MB_TRACK));
        assert_eq!(info.mb_albumid.as_deref(), Some(MB_ALBUM));
        if replaygain {
            assert_eq!(info.rg_track_gain, Some(-6.5));
            assert_eq!(info.rg_track_peak, Some(0.988831));
            assert_eq!(info.rg_album_gain, Some(-7.25));
            assert_eq!(info.rg_album_peak, Some(1.0));
        } else {
            assert_eq!(
                (
                    info.rg_track_gain,
                    info.rg_track_peak,
                    info.rg_album_gain,
                    info.rg_album_peak
                ),
                (None, None, None, None)
            );
        }
    }

    #[test]
    fn id3v1_only_fills_what_the_id3v2_tag_lacks() {
        tools();
        let dir = tempfile::tempdir().unwrap();
        let mp3 = dir.path().join("both.mp3");
        encode(
            &mp3,
            &["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0"],
        );
        // An ID3v2.4 tag with a long artist and a Hebrew/Korean one, and an ID3v1 copy beside
        // it (truncated to 30 bytes, Latin-1 with `?` for what it cannot hold), as taggers
        // write; the genre is only in ID3v1.
        python(
            r#"
from mutagen.id3 import ID3, TIT2, TPE1, TALB
t = ID3()
t.add(TIT2(encoding=3, text="Song"))
t.add(TPE1(encoding=3, text=["Ingrid Kim & White Canyon Radio", "קולות 밤하늘"]))
t.save(sys.argv[1], v1=2)
import mutagen.id3 as m
raw = open(sys.argv[1], "rb").read()
v1 = bytearray(raw[-128:])
v1[127] = 17  # genre: Rock, only in ID3v1
open(sys.argv[1], "wb").write(raw[:-128] + bytes(v1))
"#,
            &[&mp3],
        );
        let got = ours(&mp3);
        assert_eq!(
            got.artists,
            ["Ingrid Kim & White Canyon Radio", "קולות 밤하늘"],
            "ID3v1 values were merged into ID3v2's"
        );
        assert_eq!(got.title, "Song");
        assert_eq!(
            got.genre.as_deref(),
            Some("Rock"),
            "a gap is filled from ID3v1"
        );
    }

    #[test]
    fn id3_genre_references_read_as_mutagen_reads_them() {
        tools();
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.mp3");
        encode(
            &base,
            &["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0"],
        );
        // (TCON text, ID3 version); `|` separates v2.4 values.
        let cases = [
            ("(1)", 3),
            ("1", 3),
            ("(17)Rock", 3),
            ("(22)Speed Metal", 3),
            ("RX", 3),
            ("CR", 4),
            ("(4)(9)", 3),
            ("(78)", 3),
            ("Rock|Jazz", 4),
            ("Shoegaze", 4),
        ];
        for (n, (tcon, version)) in cases.iter().enumerate() {
            let f = dir.path().join(format!("{n}.mp3"));
            std::fs::copy(&base, &f).unwrap();
            let version = version.to_string();
            let mutagen = python(
                r#"
from mutagen.id3 import ID3, TCON
t = ID3()
t.add(TCON(encoding=3, text=sys.argv[2].split("|")))
t.save(sys.argv[1], v2_version=int(sys.argv[3]))
print("; ".join(dict.fromkeys(mutagen.File(sys.argv[1]).tags["TCON"].genres)))
"#,
                &[&f, Path::new(tcon), Path::new(&version)],
            );
            let got = ours(&f);
            assert_eq!(
                got.genre.as_deref().unwrap_or(""),
                mutagen.trim(),
                "TCON {tcon:?} (ID3v2.{version})"
            );
        }
    }

    #[test]
    fn id3v23_dates_read_as_mutagen_reads_them() {
        tools();
        let dir = tempfile::tempdir().unwrap();
        let mp3 = dir.path().join("base.mp3");
        encode(
            &mp3,
            &["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0"],
        );
        let wav = dir.path().join("base.wav");
        encode(&wav, &[]);
        let aiff = dir.path().join("base.aiff");
        encode(&aiff, &[]);
        // Each base file tagged two ways in ID3v2.3: TYER + TDAT (a converting tagger), and a
        // full TDRC kept as it is (mutagen's WAV and AIFF saving, and others).
        for base in [&mp3, &wav, &aiff] {
            for layout in ["tyer", "tdrc"] {
                let f = dir.path().join(format!(
                    "{layout}.{}",
                    base.extension().unwrap().to_str().unwrap()
                ));
                std::fs::copy(base, &f).unwrap();
                let read = python(
                    r#"
import struct
from mutagen.id3 import TIT2, TDRC, TYER, TDAT
path, layout = sys.argv[1], sys.argv[2]
if path.endswith(".mp3") and layout == "tdrc":
    # mutagen converts an MP3's tag on saving as v2.3: write the frames by hand.
    def frame(fid, text):
        body = b"\x00" + text.encode("latin-1")
        return fid + struct.pack(">I", len(body)) + b"\x00\x00" + body
    frames = frame(b"TIT2", "T") + frame(b"TDRC", "2011-02-13")
    n = len(frames)
    size = bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127])
    audio = open(path, "rb").read()
    open(path, "wb").write(b"ID3\x03\x00\x00" + size + frames + audio)
else:
    f = mutagen.File(path)
    if f.tags is None:
        f.add_tags()
    f.tags.add(TIT2(encoding=1, text="T"))
    if layout == "tyer":
        f.tags.add(TYER(encoding=0, text="2011"))
        f.tags.add(TDAT(encoding=0, text="1302"))
        f.tags.update_to_v23()
    else:
        f.tags.add(TDRC(encoding=0, text="2011-02-13"))
    f.save(v2_version=3)
raw = open(path, "rb").read()
print(str(mutagen.File(path).tags["TDRC"]), [x.decode() for x in (b"TYER", b"TDAT", b"TDRC") if x in raw])
"#,
                    &[&f, Path::new(layout)],
                );
                let got = ours(&f);
                assert_eq!(
                    got.date.as_deref(),
                    Some("2011-02-13"),
                    "{}: mutagen reads {read}",
                    f.display()
                );
                assert_eq!(got.year, Some(2011));
            }
        }
    }

    #[test]
    fn of_two_stacked_id3v2_tags_the_first_is_read() {
        tools();
        let dir = tempfile::tempdir().unwrap();
        let mp3 = dir.path().join("two.mp3");
        encode(
            &mp3,
            &["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0"],
        );
        let mutagen = python(
            r#"
import struct
def frame(fid, text):
    body = b"\x00" + text.encode("latin-1")
    return fid + struct.pack(">I", len(body)) + b"\x00\x00" + body
def tag(frames):
    n = len(frames)
    return b"ID3\x03\x00\x00" + bytes([(n >> 21) & 127, (n >> 14) & 127, (n >> 7) & 127, n & 127]) + frames
audio = open(sys.argv[1], "rb").read()
first = tag(frame(b"TIT2", "First") + frame(b"TPE1", "Artist One"))
second = tag(frame(b"TIT2", "Second") + frame(b"TALB", "Only In Second"))
open(sys.argv[1], "wb").write(first + second + audio)
t = mutagen.File(sys.argv[1]).tags
print(t["TIT2"], t.get("TALB"))
"#,
            &[&mp3],
        );
        assert_eq!(mutagen.trim(), "First None");
        // Through the scanner, which hides the second tag from the tag reader.
        let seen = crate::scan::walk::SeenFile {
            path: mp3.clone(),
            size: 0,
            mtime: 0,
        };
        let (rec, _) = crate::scan::read_file(&seen).unwrap();
        assert_eq!(rec.track.title, "First");
        assert_eq!(rec.track.artists, ["Artist One"]);
        assert_eq!(rec.track.album, None);
    }

    #[test]
    fn flac_to_mp3_as_id3v23_with_id3v1() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = rich_flac(dir.path());
        let dst = dir.path().join("out.mp3");
        encode(
            &dst,
            &[
                "-c:a",
                "libmp3lame",
                "-b:a",
                "128k",
                "-id3v2_version",
                "4",
                "-metadata",
                &format!("title={OLD_TITLE}"),
                "-metadata",
                "artist=Old Artist",
            ],
        );
        // A stale APE tag too, which some players read first, then an ID3v1 tag after it.
        python(
            r#"
from mutagen.apev2 import APEv2
from mutagen.id3 import ID3
t = APEv2()
t["Title"] = sys.argv[2]
t.save(sys.argv[1])
ID3(sys.argv[1]).save(v1=2)
"#,
            &[&dst, Path::new(OLD_TITLE)],
        );
        assert!(has_id3v1(&dst) && contains(&dst, b"APETAGEX"));

        let opts = TransferOptions {
            id3v23: true,
            id3v1: true,
            replaygain: true,
            cover: CoverPolicy::Fit { max_px: 500 },
        };
        transfer_checked(&src, &dst, &opts);

        let info = ours(&dst);
        assert_rich_fields(&info, true, true);

        // The tag layout: ID3v2.3 at the start, ID3v1 at the end, no APE.
        let data = std::fs::read(&dst).unwrap();
        assert_eq!(&data[0..4], b"ID3\x03", "ID3v2.3 header");
        assert!(has_id3v1(&dst));
        assert!(!contains(&dst, b"APETAGEX"), "stale APE tag left");

        let m = mutagen(&dst);
        assert_eq!(m.version, Some(vec![2, 3, 0]));
        assert_eq!(m.one("TIT2"), TITLE);
        // ID3v2.3 has no multi-value separator: a readable join.
        assert_eq!(m.one("TPE1"), "Beyoncé; Björk");
        assert_eq!(m.one("TALB"), "Ελληνικά 🎵");
        assert_eq!(m.one("TPE2"), "Various Artists");
        assert_eq!(m.one("TCOM"), "Ennio Morricone");
        assert_eq!(m.one("TCON"), "Soundtrack");
        assert_eq!(m.one("TRCK"), "3/12");
        assert_eq!(m.one("TPOS"), "1/2");
        assert_eq!(m.one("TCMP"), "1");
        assert_eq!(m.one("TSRC"), "USRC17607839");
        assert_eq!(m.one("TBPM"), "128");
        assert_eq!(m.one("TCOP"), "℗ 2001 Label");
        assert_eq!(m.one("TPUB"), "Some Label");
        assert_eq!(m.one("TDRC"), "2001-05-04");
        assert_eq!(m.one("TDOR"), "1999");
        assert_eq!(m.one("TXXX:ALBUMSORT"), "Album, The");
        assert_eq!(m.one("TXXX:ARTISTSORT"), "Knowles, Beyoncé");
        assert_eq!(m.one("TXXX:TITLESORT"), "Title Sort");
        assert_eq!(m.one("COMM::eng"), "A comment");
        assert_eq!(m.one("USLT::eng"), "La la la\nLa la");
        assert_eq!(m.one("TXXX:REPLAYGAIN_TRACK_GAIN"), "-6.50 dB");
        assert_eq!(m.one("TXXX:REPLAYGAIN_TRACK_PEAK"), "0.988831");
        assert_eq!(m.one("TXXX:REPLAYGAIN_ALBUM_GAIN"), "-7.25 dB");
        assert_eq!(m.one("TXXX:REPLAYGAIN_ALBUM_PEAK"), "1.000000");
        assert_eq!(m.one("UFID:http://musicbrainz.org"), MB_TRACK);
        assert_eq!(m.one("TXXX:MusicBrainz Album Id"), MB_ALBUM);
        assert_eq!(m.one("TXXX:MusicBrainz Artist Id"), MB_ARTIST);
        assert!(!m.all_text().contains(OLD_TITLE) && !m.all_text().contains("old encoder"));
        assert_fitted_cover(&dst, &m, 500);

        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert_eq!(probe["album"], "Ελληνικά 🎵");
        assert_eq!(probe["track"], "3/12");
        assert_eq!(probe["disc"], "1/2");
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );

        // The ID3v1 tag, read by mutagen on its own: Latin-1 only, so the Japanese title is
        // left out rather than written as question marks.
        let v1 = python(
            r#"
from mutagen.id3 import ParseID3v1
data = open(sys.argv[1], "rb").read()[-128:]
frames = ParseID3v1(data)
print(json.dumps({k: str(v) for k, v in frames.items()}))
"#,
            &[&dst],
        );
        let v1: Value = serde_json::from_str(&v1).unwrap();
        assert_eq!(v1.get("TIT2"), None, "ID3v1: {v1}");
        assert_eq!(v1["TPE1"], "Beyoncé; Björk");
        assert_eq!(v1["TRCK"], "3");
        assert_eq!(v1["TDRC"], "2001");
    }

    /// An MP3 with a rich ID3v2.4 tag like [`rich_flac`]'s, an "other" picture before a
    /// 1200x1200 progressive JPEG front cover, and iTunes' own comments (normalisation and
    /// gapless data of this encoding, which must not travel).
    fn rich_mp3(dir: &Path) -> PathBuf {
        let src = dir.join("source.mp3");
        encode(&src, &["-c:a", "libmp3lame", "-b:a", "128k"]);
        let front = dir.join("front.jpg");
        std::fs::write(
            &front,
            crate::cover::test_images::progressive_jpeg(1200, 1200),
        )
        .unwrap();
        let other = dir.join("other.png");
        std::fs::write(&other, crate::cover::test_images::png(40, 40, false)).unwrap();
        python(
            r#"
from mutagen.id3 import (ID3, TIT2, TPE1, TALB, TPE2, TCOM, TCON, TRCK, TPOS, TCMP, TDRC, TDOR,
    TCOP, TPUB, TSOA, TSOP, TSOT, TSRC, TBPM, TSSE, TXXX, UFID, COMM, USLT, APIC)
v = json.loads(sys.argv[4])
t = ID3()
def text(cls, value):
    t.add(cls(encoding=3, text=value if isinstance(value, list) else [value]))
text(TIT2, v["TITLE"]); text(TPE1, v["ARTIST"]); text(TALB, v["ALBUM"])
text(TPE2, v["ALBUMARTIST"]); text(TCOM, v["COMPOSER"]); text(TCON, v["GENRE"])
text(TRCK, "3/12"); text(TPOS, "1/2"); text(TCMP, "1"); text(TDRC, v["DATE"])
text(TDOR, v["ORIGINALDATE"]); text(TCOP, v["COPYRIGHT"]); text(TPUB, v["LABEL"])
text(TSOA, v["ALBUMSORT"]); text(TSOP, v["ARTISTSORT"]); text(TSOT, v["TITLESORT"])
text(TSRC, v["ISRC"]); text(TBPM, v["BPM"]); text(TSSE, "old encoder that must not be carried")
for key in ("REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN", "REPLAYGAIN_ALBUM_PEAK"):
    t.add(TXXX(encoding=3, desc=key, text=[v[key]]))
t.add(TXXX(encoding=3, desc="MusicBrainz Album Id", text=[v["MUSICBRAINZ_ALBUMID"]]))
t.add(TXXX(encoding=3, desc="MusicBrainz Artist Id", text=[v["MUSICBRAINZ_ARTISTID"]]))
t.add(UFID(owner="http://musicbrainz.org", data=v["MUSICBRAINZ_TRACKID"].encode()))
t.add(COMM(encoding=3, lang="eng", desc="", text=[v["COMMENT"]]))
t.add(COMM(encoding=3, lang="eng", desc="iTunNORM", text=[" 00000A1B 00000C2D old normalisation"]))
t.add(COMM(encoding=3, lang="eng", desc="iTunSMPB", text=[" 00000000 00000210 old gapless"]))
t.add(USLT(encoding=3, lang="eng", desc="", text=v["LYRICS"]))
t.add(APIC(encoding=3, mime="image/png", type=0, desc="other", data=open(sys.argv[3], "rb").read()))
t.add(APIC(encoding=3, mime="image/jpeg", type=3, desc="front", data=open(sys.argv[2], "rb").read()))
t.save(sys.argv[1], v2_version=4)
"#,
            &[&src, &front, &other, Path::new(&rich_vorbis_json())],
        );
        src
    }

    /// An M4A (AAC) file tagged like [`rich_flac`], with a PNG cover and the source encoder's
    /// own gapless data, which must not travel.
    fn rich_m4a(dir: &Path) -> (PathBuf, Vec<u8>) {
        let src = dir.join("source.m4a");
        encode(&src, &["-c:a", "aac", "-b:a", "96k"]);
        let png = crate::cover::test_images::png(700, 500, false);
        let cover = dir.join("cover.png");
        std::fs::write(&cover, &png).unwrap();
        python(
            r#"
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
v = json.loads(sys.argv[3])
f = MP4(sys.argv[1])
f.clear()
f["\xa9nam"] = [v["TITLE"]]; f["\xa9ART"] = v["ARTIST"]; f["\xa9alb"] = [v["ALBUM"]]
f["aART"] = [v["ALBUMARTIST"]]; f["\xa9wrt"] = [v["COMPOSER"]]; f["\xa9gen"] = [v["GENRE"]]
f["trkn"] = [(3, 12)]; f["disk"] = [(1, 2)]; f["cpil"] = True; f["tmpo"] = [128]
f["\xa9day"] = [v["DATE"]]; f["cprt"] = [v["COPYRIGHT"]]; f["\xa9cmt"] = [v["COMMENT"]]
f["\xa9lyr"] = [v["LYRICS"]]; f["soal"] = [v["ALBUMSORT"]]; f["soar"] = [v["ARTISTSORT"]]
f["sonm"] = [v["TITLESORT"]]; f["\xa9too"] = ["old encoder that must not be carried"]
def free(name, value):
    f["----:com.apple.iTunes:" + name] = [MP4FreeForm(value.encode())]
for key in ("REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN", "REPLAYGAIN_ALBUM_PEAK"):
    free(key.lower(), v[key])
free("MusicBrainz Track Id", v["MUSICBRAINZ_TRACKID"])
free("MusicBrainz Album Id", v["MUSICBRAINZ_ALBUMID"])
free("MusicBrainz Artist Id", v["MUSICBRAINZ_ARTISTID"])
free("ISRC", v["ISRC"]); free("LABEL", v["LABEL"])
free("iTunSMPB", " 00000000 00000840 0000014C 000000000000AC44 old source gapless")
f["covr"] = [MP4Cover(open(sys.argv[2], "rb").read(), imageformat=MP4Cover.FORMAT_PNG)]
f.save()
"#,
            &[&src, &cover, Path::new(&rich_vorbis_json())],
        );
        (src, png)
    }

    #[test]
    fn mp3_to_flac_without_replaygain() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = rich_mp3(dir.path());
        let dst = dir.path().join("out.flac");
        encode(
            &dst,
            &["-c:a", "flac", "-metadata", &format!("title={OLD_TITLE}")],
        );
        // A stale ID3v2 tag in front of the FLAC stream, as some taggers leave.
        python(
            "from mutagen.id3 import ID3, TIT2\nt = ID3()\nt.add(TIT2(encoding=3, text=[sys.argv[2]]))\nt.save(sys.argv[1])",
            &[&dst, Path::new(OLD_TITLE)],
        );
        assert!(std::fs::read(&dst).unwrap().starts_with(b"ID3"));

        let opts = TransferOptions {
            id3v23: false,
            id3v1: false,
            replaygain: false,
            cover: CoverPolicy::Fit { max_px: 600 },
        };
        transfer_checked(&src, &dst, &opts);

        assert_rich_fields(&ours(&dst), false, false);
        // No ID3v2 before the stream; one comment block, one picture block.
        let blocks = flac_blocks(&dst);
        assert_eq!(blocks.iter().filter(|&&b| b == 4).count(), 1, "{blocks:?}");
        assert_eq!(blocks.iter().filter(|&&b| b == 6).count(), 1, "{blocks:?}");

        let m = mutagen(&dst);
        assert_eq!(m.one("title"), TITLE);
        assert_eq!(m.values("artist"), vec!["Beyoncé", "Björk"]);
        assert_eq!(m.one("album"), "Ελληνικά 🎵");
        assert_eq!(m.one("albumartist"), "Various Artists");
        assert_eq!(m.one("tracknumber"), "3");
        assert_eq!(m.one("tracktotal"), "12");
        assert_eq!(m.one("discnumber"), "1");
        assert_eq!(m.one("disctotal"), "2");
        assert_eq!(m.one("compilation"), "1");
        assert_eq!(m.one("date"), "2001-05-04");
        assert_eq!(m.one("originaldate"), "1999");
        assert_eq!(m.one("isrc"), "USRC17607839");
        assert_eq!(m.one("bpm"), "128");
        assert_eq!(m.one("copyright"), "℗ 2001 Label");
        assert_eq!(m.one("publisher"), "Some Label");
        assert_eq!(m.one("albumsort"), "Album, The");
        assert_eq!(m.one("artistsort"), "Knowles, Beyoncé");
        assert_eq!(m.one("titlesort"), "Title Sort");
        assert_eq!(m.one("comment"), "A comment");
        assert_eq!(m.one("lyrics"), "La la la\nLa la");
        assert_eq!(m.one("musicbrainz_trackid"), MB_TRACK);
        assert_eq!(m.one("musicbrainz_albumid"), MB_ALBUM);
        assert_eq!(m.one("musicbrainz_artistid"), MB_ARTIST);
        let all = m.all_text();
        assert!(!all.contains("replaygain"), "gain tags left: {all}");
        assert!(
            !all.contains("old normalisation") && !all.contains("old gapless"),
            "{all}"
        );
        assert!(
            !all.contains("old encoder") && !all.contains(OLD_TITLE),
            "{all}"
        );
        assert_fitted_cover(&dst, &m, 600);

        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert_eq!(probe["album"], "Ελληνικά 🎵");
        assert_eq!(probe["track"], "3");
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );
        assert!(!format!("{probe:?}").to_lowercase().contains("replaygain"));
    }

    #[test]
    fn m4a_to_wav_keeping_the_cover() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (src, png) = rich_m4a(dir.path());
        let dst = dir.path().join("out.wav");
        // ffmpeg writes the metadata as RIFF INFO.
        encode(
            &dst,
            &[
                "-c:a",
                "pcm_s16le",
                "-metadata",
                &format!("title={OLD_TITLE}"),
                "-metadata",
                "artist=Old Artist",
            ],
        );
        assert!(chunks(&dst).contains(&"LIST/INFO".to_string()));

        let opts = TransferOptions {
            cover: CoverPolicy::Keep,
            ..TransferOptions::default()
        };
        transfer_checked(&src, &dst, &opts);

        assert_rich_fields(&ours(&dst), true, false);
        let ids = chunks(&dst);
        assert!(
            !ids.contains(&"LIST/INFO".to_string()),
            "stale INFO left: {ids:?}"
        );
        assert_eq!(
            ids.iter()
                .filter(|id| id.eq_ignore_ascii_case("id3 "))
                .count(),
            1,
            "{ids:?}"
        );
        assert_eq!(id3_chunk_version(&dst), Some(4));

        let m = mutagen(&dst);
        assert_eq!(m.version, Some(vec![2, 4, 0]));
        assert_eq!(m.one("TIT2"), TITLE);
        assert_eq!(m.values("TPE1"), vec!["Beyoncé", "Björk"]);
        assert_eq!(m.one("TRCK"), "3/12");
        assert_eq!(m.one("TPOS"), "1/2");
        assert_eq!(m.one("TCMP"), "1");
        assert_eq!(m.one("TBPM"), "128");
        assert_eq!(m.one("TPUB"), "Some Label");
        assert_eq!(m.one("TSRC"), "USRC17607839");
        assert_eq!(m.one("TSOP"), "Knowles, Beyoncé");
        assert_eq!(m.one("TXXX:REPLAYGAIN_ALBUM_GAIN"), "-7.25 dB");
        assert_eq!(m.one("UFID:http://musicbrainz.org"), MB_TRACK);
        let all = m.all_text();
        assert!(
            !all.contains("old source gapless") && !all.contains("old encoder"),
            "{all}"
        );
        // Kept: the very same PNG bytes, as the front cover.
        assert_eq!(m.pictures.len(), 1, "{:?}", m.pictures);
        assert_eq!(m.pictures[0]["sha1"], sha1(&png).as_str());
        assert_eq!(m.pictures[0]["mime"], "image/png");
        assert_eq!(m.pictures[0]["type"], 3);
        assert_eq!(read_cover(&dst).as_deref(), Some(png.as_slice()));

        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert_eq!(probe["track"], "3/12");
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );
        assert!(
            !format!("{probe:?}").contains("Old Artist"),
            "ffprobe: {probe:?}"
        );
    }

    #[test]
    fn wav_to_m4a_keeps_the_encoders_gapless_data() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        // The source's INFO chunk has the genre the ID3 chunk lacks, and a title that loses to
        // the ID3 chunk's.
        let src = dir.path().join("source.wav");
        encode(
            &src,
            &[
                "-c:a",
                "pcm_s16le",
                "-metadata",
                "title=INFO title",
                "-metadata",
                "genre=Soundtrack",
            ],
        );
        let cover = dir.path().join("cover.png");
        std::fs::write(&cover, crate::cover::test_images::png(1200, 800, true)).unwrap();
        python(
            r#"
from mutagen.wave import WAVE
from mutagen.id3 import (ID3, TIT2, TPE1, TALB, TPE2, TCOM, TCON, TRCK, TPOS, TCMP, TDRC, TDOR,
    TCOP, TPUB, TSOA, TSOP, TSOT, TSRC, TBPM, TSSE, TXXX, UFID, COMM, USLT, APIC)
v = json.loads(sys.argv[3])
f = WAVE(sys.argv[1])
f.add_tags()
t = f.tags
t.add(TIT2(encoding=3, text=[v["TITLE"]])); t.add(TPE1(encoding=3, text=v["ARTIST"]))
t.add(TALB(encoding=3, text=[v["ALBUM"]])); t.add(TPE2(encoding=3, text=[v["ALBUMARTIST"]]))
t.add(TCOM(encoding=3, text=[v["COMPOSER"]])); t.add(TRCK(encoding=3, text=["3/12"]))
t.add(TPOS(encoding=3, text=["1/2"])); t.add(TCMP(encoding=3, text=["1"]))
t.add(TDRC(encoding=3, text=[v["DATE"]])); t.add(TBPM(encoding=3, text=["128"]))
for key in ("REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "REPLAYGAIN_ALBUM_GAIN", "REPLAYGAIN_ALBUM_PEAK"):
    t.add(TXXX(encoding=3, desc=key, text=[v[key]]))
t.add(TXXX(encoding=3, desc="MusicBrainz Album Id", text=[v["MUSICBRAINZ_ALBUMID"]]))
t.add(UFID(owner="http://musicbrainz.org", data=v["MUSICBRAINZ_TRACKID"].encode()))
t.add(APIC(encoding=3, mime="image/png", type=3, desc="", data=open(sys.argv[2], "rb").read()))
f.save()
"#,
            &[&src, &cover, Path::new(&rich_vorbis_json())],
        );
        assert!(chunks(&src).contains(&"LIST/INFO".to_string()));

        // The destination as our muxer leaves it: the encoder's gapless data (iTunSMPB) and
        // name, plus a stale title.
        let dst = dir.path().join("out.m4a");
        encode(
            &dst,
            &[
                "-c:a",
                "aac",
                "-b:a",
                "96k",
                "-metadata",
                &format!("title={OLD_TITLE}"),
            ],
        );
        const SMPB: &str = " 00000000 00000840 000001B4 000000000000AC44 00000000 00000000";
        python(
            "from mutagen.mp4 import MP4, MP4FreeForm\nf = MP4(sys.argv[1])\nf['----:com.apple.iTunes:iTunSMPB'] = [MP4FreeForm(sys.argv[2].encode())]\nf['\\xa9too'] = ['our encoder']\nf.save()",
            &[&dst, Path::new(SMPB)],
        );

        let opts = TransferOptions {
            cover: CoverPolicy::Fit { max_px: 500 },
            ..TransferOptions::default()
        };
        transfer_checked(&src, &dst, &opts);

        assert_rich_fields(&ours(&dst), true, false);
        let m = mutagen(&dst);
        assert_eq!(
            m.one("----:com.apple.iTunes:iTunSMPB"),
            SMPB,
            "gapless data lost"
        );
        // ffmpeg applies iTunSMPB to the last stream made so far, and `covr` makes one: the
        // gapless data must come first (transfer_checked's decode comparison catches it too).
        let order = python(
            r#"
from mutagen.mp4 import Atoms
with open(sys.argv[1], "rb") as f:
    atoms = Atoms(f)
    ilst = atoms.path(b"moov", b"udta", b"meta", b"ilst")[-1]
    names = []
    for child in ilst.children:
        f.seek(child.offset)
        raw = f.read(child.length)
        names.append("iTunSMPB" if b"iTunSMPB" in raw else child.name.decode("latin1"))
print(json.dumps(names))
"#,
            &[&dst],
        );
        let order: Vec<String> = serde_json::from_str(&order).unwrap();
        let at = |name: &str| order.iter().position(|n| n == name);
        assert!(
            at("iTunSMPB") < at("covr") && at("covr").is_some(),
            "{order:?}"
        );
        assert_eq!(m.one("\u{a9}too"), "our encoder");
        assert_eq!(m.one("\u{a9}nam"), TITLE);
        assert_eq!(m.values("\u{a9}ART"), vec!["Beyoncé", "Björk"]);
        assert_eq!(m.one("\u{a9}gen"), "Soundtrack", "the INFO chunk's genre");
        assert_eq!(m.one("trkn"), "3/12");
        assert_eq!(m.one("disk"), "1/2");
        assert_eq!(m.one("cpil"), "True");
        assert_eq!(m.one("tmpo"), "128");
        assert_eq!(m.one("\u{a9}day"), "2001-05-04");
        assert_eq!(
            m.one("----:com.apple.iTunes:replaygain_track_gain"),
            "-6.50 dB"
        );
        assert_eq!(
            m.one("----:com.apple.iTunes:MusicBrainz Track Id"),
            MB_TRACK
        );
        assert_eq!(
            m.one("----:com.apple.iTunes:MusicBrainz Album Id"),
            MB_ALBUM
        );
        assert!(!m.all_text().contains(OLD_TITLE) && !m.all_text().contains("INFO title"));
        assert_fitted_cover(&dst, &m, 500);
        // The transparent PNG was flattened onto white.
        let cover = image::load_from_memory(&read_cover(&dst).unwrap())
            .unwrap()
            .into_rgb8();
        assert!(cover.get_pixel(10, 100).0.iter().all(|&c| c > 240));

        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert_eq!(probe["track"], "3/12");
        assert_eq!(probe["itunsmpb"], SMPB);
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );
    }

    #[test]
    fn flac_to_aiff_as_id3v23() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = rich_flac(dir.path());
        let dst = dir.path().join("out.aiff");
        // ffmpeg writes the title as an AIFF NAME chunk.
        encode(
            &dst,
            &[
                "-c:a",
                "pcm_s16be",
                "-write_id3v2",
                "0",
                "-metadata",
                &format!("title={OLD_TITLE}"),
            ],
        );
        assert!(chunks(&dst).contains(&"NAME".to_string()));

        let opts = TransferOptions {
            id3v23: true,
            id3v1: true, // MP3 only: ignored here
            replaygain: true,
            cover: CoverPolicy::Fit { max_px: 300 },
        };
        transfer_checked(&src, &dst, &opts);

        assert_rich_fields(&ours(&dst), true, true);
        let ids = chunks(&dst);
        for stale in ["NAME", "AUTH", "(c) ", "ANNO"] {
            assert!(
                !ids.contains(&stale.to_string()),
                "stale {stale} chunk: {ids:?}"
            );
        }
        assert_eq!(
            ids.iter()
                .filter(|id| id.eq_ignore_ascii_case("id3 "))
                .count(),
            1,
            "{ids:?}"
        );
        assert_eq!(id3_chunk_version(&dst), Some(3));
        assert!(!has_id3v1(&dst));

        let m = mutagen(&dst);
        assert_eq!(m.version, Some(vec![2, 3, 0]));
        assert_eq!(m.one("TIT2"), TITLE);
        assert_eq!(m.one("TPE1"), "Beyoncé; Björk");
        assert_eq!(m.one("TRCK"), "3/12");
        assert_eq!(m.one("TDRC"), "2001-05-04");
        assert_eq!(m.one("TXXX:REPLAYGAIN_TRACK_GAIN"), "-6.50 dB");
        assert_eq!(m.one("UFID:http://musicbrainz.org"), MB_TRACK);
        assert_fitted_cover(&dst, &m, 300);

        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );
    }

    #[test]
    fn m4a_to_mp3_dropping_the_cover_and_a_stale_id3v1() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (src, _) = rich_m4a(dir.path());
        let dst = dir.path().join("out.mp3");
        encode(
            &dst,
            &[
                "-c:a",
                "libmp3lame",
                "-id3v2_version",
                "3",
                "-write_id3v1",
                "1",
                "-metadata",
                &format!("title={OLD_TITLE}"),
            ],
        );
        assert!(has_id3v1(&dst));

        let opts = TransferOptions {
            cover: CoverPolicy::Drop,
            ..TransferOptions::default()
        };
        transfer_checked(&src, &dst, &opts);

        let info = ours(&dst);
        assert_rich_fields(&info, true, false);
        let data = std::fs::read(&dst).unwrap();
        assert_eq!(&data[0..4], b"ID3\x04", "ID3v2.4 header");
        assert!(!has_id3v1(&dst), "stale ID3v1 left");
        assert_eq!(read_cover(&dst), None);

        let m = mutagen(&dst);
        assert_eq!(m.version, Some(vec![2, 4, 0]));
        assert!(m.pictures.is_empty());
        assert_eq!(m.values("TPE1"), vec!["Beyoncé", "Björk"]);
        assert_eq!(m.one("TBPM"), "128", "the MP4 tempo atom");
        assert_eq!(m.one("TPUB"), "Some Label");
        assert_eq!(m.one("TSOT"), "Title Sort");
        assert_eq!(m.one("USLT::eng"), "La la la\nLa la");
        let all = m.all_text();
        assert!(
            !all.contains("old source gapless") && !all.contains(OLD_TITLE),
            "{all}"
        );
        let probe = ffprobe(&dst);
        assert_eq!(probe["title"], TITLE);
        assert!(
            !format!("{probe:?}").contains(OLD_TITLE),
            "ffprobe: {probe:?}"
        );
    }

    #[test]
    fn mp3_to_alac_m4a() {
        if !tools() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let src = rich_mp3(dir.path());
        let dst = dir.path().join("out.m4a");
        encode(
            &dst,
            // moov before mdat: growing the tags moves the audio, so chunk offsets must follow.
            &[
                "-c:a",
                "alac",
                "-movflags",
                "+faststart",
                "-metadata",
                &format!("title={OLD_TITLE}"),
            ],
        );
        let opts = TransferOptions {
            cover: CoverPolicy::Fit { max_px: 1000 },
            replaygain: false,
            ..TransferOptions::default()
        };
        transfer_checked(&src, &dst, &opts);

        let info = ours(&dst);
        assert_rich_fields(&info, false, false);
        let m = mutagen(&dst);
        assert_eq!(m.one("\u{a9}nam"), TITLE);
        assert_eq!(m.one("trkn"), "3/12");
        assert_eq!(m.one("tmpo"), "128");
        assert_eq!(m.one("cpil"), "True");
        assert_eq!(m.one("----:com.apple.iTunes:LABEL"), "Some Label");
        assert_eq!(m.one("\u{a9}lyr"), "La la la\nLa la");
        assert_eq!(m.one("\u{a9}cmt"), "A comment");
        assert_eq!(m.one("soar"), "Knowles, Beyoncé");
        let all = m.all_text();
        assert!(!all.to_lowercase().contains("replaygain"), "{all}");
        assert!(
            !all.contains("old gapless") && !all.contains("old normalisation"),
            "{all}"
        );
        assert!(!all.contains(OLD_TITLE), "{all}");
        assert_fitted_cover(&dst, &m, 1000);
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.flac");
        let junk = dir.path().join("junk.mp3");
        std::fs::write(&junk, b"not audio at all").unwrap();
        let opts = TransferOptions::default();

        let err = transfer(&missing, &junk, &opts).unwrap_err();
        assert!(matches!(err, TagError::Read { .. }));
        assert!(err.to_string().contains("missing.flac"), "{err}");

        let flac = Path::new("fixtures/library/flac/picture.flac");
        let err = transfer(flac, &junk, &opts).unwrap_err();
        assert!(err.to_string().contains("junk.mp3"), "{err}");
        assert_eq!(std::fs::read(&junk).unwrap(), b"not audio at all");

        // A file is never its own destination.
        let copy = dir.path().join("copy.flac");
        std::fs::copy(flac, &copy).unwrap();
        let before = std::fs::read(&copy).unwrap();
        let err = transfer(&copy, &copy, &opts).unwrap_err();
        assert!(matches!(err, TagError::Write { .. }), "{err}");
        assert_eq!(std::fs::read(&copy).unwrap(), before);

        assert_eq!(read_cover(&missing), None);
        assert_eq!(read_cover(&junk), None);
        assert!(read_cover(flac).is_some());
    }

    #[test]
    fn numbers_flags_and_names_are_normalised() {
        let item = |key, text: &str| text_item(key, text.to_string());
        let items = vec![
            item(ItemKey::TrackNumber, "03/12"),
            item(ItemKey::DiscNumber, "2"),
            item(ItemKey::DiscTotal, "3 of 4"),
            item(ItemKey::FlagCompilation, "true"),
            item(ItemKey::FlagPodcast, "0"),
            item(ItemKey::Year, "1987"),
            item(ItemKey::Bpm, "127.6"),
            item(ItemKey::Lyrics, "words"),
            item(ItemKey::Publisher, "Label Co"),
            item(ItemKey::RecordingDate, "May 4th, 2001"),
        ];
        let get = |items: &[TagItem], key| -> Vec<String> {
            items
                .iter()
                .filter(|i| i.key() == key)
                .filter_map(item_text)
                .map(String::from)
                .collect()
        };
        let id3 = normalise(items.clone(), TagType::Id3v2);
        assert_eq!(get(&id3, ItemKey::TrackNumber), ["3"]);
        assert_eq!(get(&id3, ItemKey::TrackTotal), ["12"]);
        assert_eq!(get(&id3, ItemKey::DiscNumber), ["2"]);
        assert_eq!(get(&id3, ItemKey::DiscTotal), ["3"]);
        assert_eq!(get(&id3, ItemKey::FlagCompilation), ["1"]);
        assert!(get(&id3, ItemKey::FlagPodcast).is_empty());
        assert_eq!(
            get(&id3, ItemKey::RecordingDate),
            ["2001"],
            "unparseable date keeps its year"
        );
        assert!(get(&id3, ItemKey::Year).is_empty());
        assert_eq!(get(&id3, ItemKey::IntegerBpm), ["128"]);
        assert_eq!(get(&id3, ItemKey::UnsyncLyrics), ["words"]);

        let mp4 = normalise(items.clone(), TagType::Mp4Ilst);
        assert_eq!(get(&mp4, ItemKey::Label), ["Label Co"]);
        assert_eq!(get(&mp4, ItemKey::Lyrics), ["words"]);

        let vorbis = normalise(items, TagType::VorbisComments);
        assert_eq!(get(&vorbis, ItemKey::Bpm), ["127.6"]);
        assert_eq!(get(&vorbis, ItemKey::Year), ["1987"]);
        assert_eq!(get(&vorbis, ItemKey::Publisher), ["Label Co"]);
    }

    #[test]
    fn id3v23_values_are_joined() {
        let items = vec![
            text_item(ItemKey::TrackArtist, "A".into()),
            text_item(ItemKey::Genre, "Rock".into()),
            text_item(ItemKey::TrackArtist, "B".into()),
            text_item(ItemKey::Producer, "P1".into()),
            text_item(ItemKey::Producer, "P2".into()),
        ];
        let joined = join_for_id3v23(items);
        let texts: Vec<(ItemKey, &str)> = joined
            .iter()
            .map(|i| (i.key(), item_text(i).unwrap()))
            .collect();
        assert_eq!(
            texts,
            [
                (ItemKey::TrackArtist, "A; B"),
                (ItemKey::Genre, "Rock"),
                (ItemKey::Producer, "P1"),
                (ItemKey::Producer, "P2"),
            ]
        );
    }

    #[test]
    fn id3v1_text_is_latin1_or_left_out() {
        assert_eq!(
            latin1_approximation("Café Björk").as_deref(),
            Some("Café Björk")
        );
        assert_eq!(latin1_approximation("Dvořák").as_deref(), Some("Dvorák"));
        assert_eq!(latin1_approximation("Song ♫").as_deref(), Some("Song ?"));
        assert_eq!(latin1_approximation("日本語のタイトル"), None);
        assert_eq!(latin1_approximation("  "), None);
    }
}
