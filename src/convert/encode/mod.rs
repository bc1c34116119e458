//! Encoders: interleaved `f32` samples in, a finished file of one target format out. Each
//! format lives in its own file behind the one [`Encoder`] trait; no external programs run.

use std::io::{Seek, Write};

mod aiff;
mod flac;
mod mp3;
mod wav;

#[cfg(test)]
mod testkit;

use crate::audio::Spec;

mod aac;
mod alac;

/// The formats tapedeck writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Mp3,
    Aac,
    Flac,
    Alac,
    Wav,
    Aiff,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Mp3,
        Format::Aac,
        Format::Flac,
        Format::Alac,
        Format::Wav,
        Format::Aiff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Mp3 => "mp3",
            Format::Aac => "aac",
            Format::Flac => "flac",
            Format::Alac => "alac",
            Format::Wav => "wav",
            Format::Aiff => "aiff",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }

    /// The file extension written (AAC and ALAC both live in .m4a).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Mp3 => "mp3",
            Format::Aac | Format::Alac => "m4a",
            Format::Flac => "flac",
            Format::Wav => "wav",
            Format::Aiff => "aiff",
        }
    }

    pub fn is_lossless(self) -> bool {
        !matches!(self, Format::Mp3 | Format::Aac)
    }
}

/// How to encode. Fields that do not apply to a format are ignored by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Settings {
    pub format: Format,
    /// MP3 CBR (32-320) or AAC (64-320) bitrate in kbps; `None` means the format's default:
    /// for MP3 the highest the sample rate allows (320 kbps at 32-48 kHz), 256 kbps for AAC.
    pub bitrate: Option<u32>,
    /// MP3 VBR quality 0 (best) to 9; takes precedence over `bitrate` for MP3.
    pub vbr: Option<u8>,
    /// FLAC compression level 0-8 (default 5).
    pub flac_level: u8,
}

impl Settings {
    pub fn new(format: Format) -> Settings {
        Settings {
            format,
            bitrate: None,
            vbr: None,
            flac_level: 5,
        }
    }
}

/// The bit depth a PCM or lossless format writes: `spec.bits`, 16 when the source has none (a
/// lossy or float source), and only 16 or 24.
pub(super) fn pcm_bits(spec: &Spec, format: &str) -> Result<u16, EncodeError> {
    match spec.bits.unwrap_or(16) {
        bits @ (16 | 24) => Ok(bits),
        bits => Err(EncodeError::Unsupported(format!(
            "{format} is written at 16 or 24 bits per sample, not {bits}"
        ))),
    }
}

/// The most channels WAV and AIFF are written with: far beyond music, well inside the 16-bit
/// block alignment WAV stores.
pub(super) const MAX_PCM_CHANNELS: u16 = 64;

/// Refuses a sample rate or channel count the format cannot describe.
pub(super) fn check_shape(spec: &Spec, format: &str, max_channels: u16) -> Result<(), EncodeError> {
    if spec.rate == 0 {
        return Err(EncodeError::Unsupported(format!(
            "{format} needs a sample rate above 0 Hz"
        )));
    }
    if spec.channels == 0 || spec.channels > max_channels {
        return Err(EncodeError::Unsupported(format!(
            "{format} holds 1 to {max_channels} channels, not {}",
            spec.channels
        )));
    }
    Ok(())
}

/// Refuses a write that does not hold a whole number of frames.
pub(super) fn check_whole_frames(samples: &[f32], channels: u16) -> Result<(), EncodeError> {
    if !samples.len().is_multiple_of(usize::from(channels)) {
        return Err(EncodeError::Encoder(format!(
            "{} samples are not a whole number of {channels}-channel frames",
            samples.len()
        )));
    }
    Ok(())
}

/// Where an encoder writes: a file in practice, a `Cursor<Vec<u8>>` in tests.
pub trait Output: Write + Seek + Send {}
impl<T: Write + Seek + Send> Output for T {}

/// Why encoding failed, in words meant for the user.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Unsupported(String),
    #[error("encoder failed: {0}")]
    Encoder(String),
}

/// One output stream being encoded.
pub trait Encoder: Send {
    /// Encodes interleaved samples (a whole number of frames) in [-1.0, 1.0).
    fn write(&mut self, samples: &[f32]) -> Result<(), EncodeError>;
    /// Encodes what is buffered, writes trailers and headers that need the final length (the
    /// LAME/Info tag, FLAC STREAMINFO, the MP4 `moov`, RIFF and FORM sizes), and flushes.
    fn finish(self: Box<Self>) -> Result<(), EncodeError>;
}

/// Starts an encoder writing `spec`-shaped audio to `out`. `spec.bits` is the bit depth to
/// write for PCM and lossless formats (16 or 24); lossy formats ignore it.
pub fn encoder(
    settings: &Settings,
    spec: Spec,
    out: Box<dyn Output>,
) -> Result<Box<dyn Encoder>, EncodeError> {
    match settings.format {
        Format::Mp3 => Ok(Box::new(mp3::Mp3Encoder::new(settings, spec, out)?)),
        Format::Flac => Ok(Box::new(flac::FlacEncoder::new(settings, spec, out)?)),
        Format::Wav => Ok(Box::new(wav::WavEncoder::new(spec, out)?)),
        Format::Aiff => Ok(Box::new(aiff::AiffEncoder::new(spec, out)?)),
        Format::Aac => aac::start(settings, spec, out),
        Format::Alac => alac::start(spec, out),
    }
}
