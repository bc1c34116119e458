//! Reading tags and audio properties from music files. This is the only module that names lofty.
//!
//! It turns one open file into the format-neutral [`RawTags`] and [`AudioProps`] of the model;
//! interpreting the text (numbers, dates, gains) is the model's job, not this one's. Every tag
//! type present in a file is read, primary first, so an MP3 carrying both ID3v2 and ID3v1 gets
//! ID3v1's values only where ID3v2 is silent.

use std::io::{Read, Seek, SeekFrom};

use lofty::config::{ParseOptions, ParsingMode};
use lofty::file::{AudioFile, FileType, TaggedFile, TaggedFileExt};
use lofty::iff::aiff::{AiffCompressionType, AiffFile};
use lofty::mp4::{Mp4Codec, Mp4File};
use lofty::probe::Probe;
use lofty::tag::{ItemKey, Tag};

use crate::model::{AudioProps, Container, RawTags};

/// Why a file could not be read, in words meant for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError(pub String);

/// What the tag reader learned about one file.
#[derive(Debug, Clone)]
pub struct FileTags {
    pub raw: RawTags,
    pub props: AudioProps,
}

fn parse_options() -> ParseOptions {
    // Best-attempt parsing keeps going past the small mistakes real taggers make; lofty's own
    // allocation limit (16 MiB per item) bounds what an absurd size field can make us allocate.
    ParseOptions::new()
        .parsing_mode(ParsingMode::BestAttempt)
        .read_cover_art(true)
}

/// Options for reading one file type. Pictures are several megabytes in many libraries and are
/// skipped where the scanner can see a cover from the tag structure alone (MP3, ADTS, FLAC,
/// MP4); WAV and AIFF covers are rare, and read so they are not missed.
fn options_for(file_type: FileType) -> ParseOptions {
    let read_cover = matches!(file_type, FileType::Wav | FileType::Aiff);
    parse_options().read_cover_art(read_cover)
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
    let probe = probe.options(options_for(file_type));
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

    let (tagged, codec) = if file_type == FileType::Mp4 {
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| ReadError(format!("cannot read: {e}")))?;
        let mp4 = Mp4File::read_from(reader, options_for(file_type)).map_err(describe)?;
        if mp4.properties().is_drm_protected() {
            return Err(ReadError(
                "protected by DRM: only unprotected files can be indexed and played".into(),
            ));
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
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| ReadError(format!("cannot read: {e}")))?;
        let aiff = AiffFile::read_from(reader, options_for(file_type)).map_err(describe)?;
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
        (probe.read().map_err(describe)?, codec)
    };

    let p = tagged.properties();
    let mut raw = RawTags::default();
    let mut has_cover = false;
    // The primary tag first, then the others, so fallbacks only fill gaps.
    let primary = tagged.primary_tag_type();
    let mut tags: Vec<&Tag> = tagged.tags().iter().collect();
    tags.sort_by_key(|t| t.tag_type() != primary);
    for tag in tags {
        collect(tag, &mut raw);
        has_cover |= tag.picture_count() > 0;
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
    Ok(FileTags { raw, props })
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
    take(ItemKey::OriginalReleaseDate, &mut raw.date);
    take(ItemKey::Genre, &mut raw.genre);
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
