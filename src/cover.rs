//! Cover pictures: decoding, fitting to a size, and re-encoding as baseline JPEG.
//!
//! This is the only module that names the `image` crate. Covers come from other people's files,
//! so every input is treated as hostile: the dimensions are read from the header and checked
//! before any pixel buffer is allocated, the decoders run under allocation limits, and garbage
//! gives an error, never a panic.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits, RgbImage};

/// The largest side, in pixels, of a picture we agree to decode.
pub const MAX_SIDE: u32 = 20_000;
/// The most pixels of a picture we agree to decode (about 8000 x 8000).
pub const MAX_PIXELS: u64 = 64_000_000;
/// The most memory the decoder may allocate for one picture.
const MAX_ALLOC: u64 = 512 * 1024 * 1024;
/// JPEG quality of re-encoded covers.
pub const JPEG_QUALITY: u8 = 90;

/// Why a cover could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoverError {
    #[error("the picture is neither JPEG nor PNG")]
    Unsupported,
    #[error("the picture is too large to decode ({width} x {height} pixels)")]
    TooLarge { width: u32, height: u32 },
    #[error("the picture has no pixels")]
    Empty,
    #[error("the largest cover size must be at least 1 pixel")]
    BadMaxSize,
    #[error("the picture cannot be decoded: {0}")]
    Decode(String),
    #[error("the picture cannot be encoded: {0}")]
    Encode(String),
}

/// A cover fitted to a size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    /// The picture, always a baseline JPEG.
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// False when `data` is the input, returned as it was.
    pub changed: bool,
}

/// The frame header of a JPEG file: which SOF marker starts it, and what it declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JpegFrame {
    marker: u8,
    precision: u8,
    width: u16,
    height: u16,
    components: u8,
}

/// Walks the marker segments of a JPEG file up to its first frame header (SOFn). Segments are
/// skipped by their length, so a marker-like byte pair inside an EXIF thumbnail is not mistaken
/// for the frame header.
fn jpeg_frame(data: &[u8]) -> Option<JpegFrame> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // Each marker is 0xFF followed by a code; any number of 0xFF fill bytes may precede it.
        if *data.get(i)? != 0xFF {
            return None;
        }
        while *data.get(i)? == 0xFF {
            i += 1;
        }
        let marker = data[i];
        i += 1;
        match marker {
            // Markers without a segment.
            0x01 | 0xD0..=0xD7 => continue,
            // Start of scan or end of image before any frame header: not a valid JPEG.
            0xDA | 0xD9 => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([*data.get(i)?, *data.get(i + 1)?]) as usize;
        if len < 2 {
            return None;
        }
        // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let seg = data.get(i + 2..i + len)?;
            if seg.len() < 6 {
                return None;
            }
            return Some(JpegFrame {
                marker,
                precision: seg[0],
                height: u16::from_be_bytes([seg[1], seg[2]]),
                width: u16::from_be_bytes([seg[3], seg[4]]),
                components: seg[5],
            });
        }
        i += len;
    }
}

/// Whether the data is a progressive JPEG (SOF2, or one of the rarer progressive frame types),
/// which many car stereos and older players cannot show.
pub fn is_progressive_jpeg(data: &[u8]) -> bool {
    jpeg_frame(data).is_some_and(|f| matches!(f.marker, 0xC2 | 0xC6 | 0xCA | 0xCE))
}

/// Whether the data is a baseline JPEG every device can show: SOF0, 8 bits, grey or colour
/// (CMYK JPEGs are baseline too, but few players draw them correctly).
fn is_plain_baseline_jpeg(data: &[u8]) -> bool {
    jpeg_frame(data)
        .is_some_and(|f| f.marker == 0xC0 && f.precision == 8 && matches!(f.components, 1 | 3))
}

fn image_format(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

fn check_size(width: u32, height: u32) -> Result<(), CoverError> {
    if width == 0 || height == 0 {
        return Err(CoverError::Empty);
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(CoverError::TooLarge { width, height });
    }
    Ok(())
}

/// The size of a picture scaled down to fit in `max_px` x `max_px`, keeping its aspect ratio.
/// Pictures that already fit keep their size: covers are never scaled up.
fn fitted_size(width: u32, height: u32, max_px: u32) -> (u32, u32) {
    if width <= max_px && height <= max_px {
        return (width, height);
    }
    let scale = f64::from(max_px) / f64::from(width.max(height));
    let w = ((f64::from(width) * scale).round() as u32).clamp(1, max_px);
    let h = ((f64::from(height) * scale).round() as u32).clamp(1, max_px);
    (w, h)
}

/// Whether an ICC profile describes an RGB colour space (its header names the data colour space
/// at bytes 16..20). Only those are carried over, as the re-encoded picture is always RGB.
fn is_rgb_icc(profile: &[u8]) -> bool {
    profile.get(16..20) == Some(b"RGB ")
}

/// Decodes a JPEG or PNG picture and, unless it is already a baseline JPEG within `max_px` on
/// both sides, scales it down to fit (keeping its aspect ratio, never enlarging it) and encodes
/// it as a baseline JPEG. Transparency is flattened onto white; an EXIF orientation is applied,
/// as the new file carries no EXIF.
pub fn fit(data: &[u8], max_px: u32) -> Result<Fitted, CoverError> {
    if max_px == 0 {
        return Err(CoverError::BadMaxSize);
    }
    let format = image_format(data).ok_or(CoverError::Unsupported)?;
    // The header's own word on the size, checked before the decoder allocates anything.
    if format == ImageFormat::Jpeg
        && let Some(frame) = jpeg_frame(data)
    {
        check_size(u32::from(frame.width), u32::from(frame.height))?;
    }
    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => CoverError::Decode("it is too large".into()),
        other => CoverError::Decode(other.to_string()),
    };
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|p| is_rgb_icc(p));
    let mut image = DynamicImage::from_decoder(decoder).map_err(decode_error)?;

    if format == ImageFormat::Jpeg
        && is_plain_baseline_jpeg(data)
        && width <= max_px
        && height <= max_px
    {
        return Ok(Fitted {
            data: data.to_vec(),
            width,
            height,
            changed: false,
        });
    }

    image.apply_orientation(orientation);
    let rgb = flatten_onto_white(image);
    let (w, h) = fitted_size(rgb.width(), rgb.height(), max_px);
    let rgb = if (w, h) == (rgb.width(), rgb.height()) {
        rgb
    } else {
        image::imageops::resize(&rgb, w, h, FilterType::Lanczos3)
    };

    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
    if let Some(profile) = icc {
        // A profile the encoder refuses only costs colour accuracy.
        let _ = encoder.set_icc_profile(profile);
    }
    encoder
        .write_image(rgb.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| CoverError::Encode(e.to_string()))?;
    Ok(Fitted {
        data: out,
        width: w,
        height: h,
        changed: true,
    })
}

/// Drops any alpha channel by compositing the picture onto a white background.
fn flatten_onto_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let [r, g, b, a] = src.0;
        let a = u32::from(a);
        let blend = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        dst.0 = [blend(r), blend(g), blend(b)];
    }
    out
}

/// Pictures made in memory for tests here and in the tag module.
#[cfg(test)]
pub(crate) mod test_images {
    use image::ImageEncoder;

    /// A PNG: a colour pattern, or (with `alpha`) a transparent left half and an opaque blue
    /// right half.
    pub fn png(width: u32, height: u32, alpha: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if alpha {
            // Left half fully transparent red, right half opaque blue.
            let img = image::RgbaImage::from_fn(width, height, |x, _| {
                if x < width / 2 {
                    image::Rgba([255, 0, 0, 0])
                } else {
                    image::Rgba([0, 0, 255, 255])
                }
            });
            image::codecs::png::PngEncoder::new(&mut out)
                .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgba8)
                .unwrap();
        } else {
            let img = image::RgbImage::from_fn(width, height, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
            });
            image::codecs::png::PngEncoder::new(&mut out)
                .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
                .unwrap();
        }
        out
    }

    /// A progressive (SOF2) greyscale JPEG of a diagonal gradient, written by hand: the
    /// `image` crate only writes baseline JPEG, and no tool on the machine writes progressive
    /// ones. Each 8x8 block is one flat shade, so every AC coefficient is zero; the file still has
    /// the two scans (DC, then AC with end-of-band codes) a real progressive encoder writes.
    pub fn progressive_jpeg(width: u16, height: u16) -> Vec<u8> {
        // The standard luminance DC table (ITU T.81 K.3), and a one-symbol AC table for EOB0.
        const DC_COUNTS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        const DC_SYMBOLS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        let mut dc_codes = [(0u16, 0u8); 12];
        let mut code = 0u16;
        let mut k = 0;
        for (len, &count) in DC_COUNTS.iter().enumerate() {
            for _ in 0..count {
                dc_codes[DC_SYMBOLS[k] as usize] = (code, len as u8 + 1);
                code += 1;
                k += 1;
            }
            code <<= 1;
        }

        let segment = |out: &mut Vec<u8>, marker: u8, body: &[u8]| {
            out.extend_from_slice(&[0xFF, marker]);
            out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            out.extend_from_slice(body);
        };
        let mut out = vec![0xFF, 0xD8];
        let mut dqt = vec![0u8];
        dqt.extend_from_slice(&[1u8; 64]);
        segment(&mut out, 0xDB, &dqt);
        let mut sof = vec![8];
        sof.extend_from_slice(&height.to_be_bytes());
        sof.extend_from_slice(&width.to_be_bytes());
        sof.extend_from_slice(&[1, 1, 0x11, 0]);
        segment(&mut out, 0xC2, &sof);
        let mut dht = vec![0x00];
        dht.extend_from_slice(&DC_COUNTS);
        dht.extend_from_slice(&DC_SYMBOLS);
        dht.push(0x10);
        dht.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        dht.push(0x00);
        segment(&mut out, 0xC4, &dht);

        let (bw, bh) = (width.div_ceil(8) as i32, height.div_ceil(8) as i32);
        // DC scan.
        segment(&mut out, 0xDA, &[1, 1, 0x00, 0, 0, 0x00]);
        let mut bits = BitWriter::default();
        let mut previous = 0i32;
        for by in 0..bh {
            for bx in 0..bw {
                let shade = 30 + 200 * (bx + by) / (bw + bh).max(1);
                let dc = 8 * (shade - 128);
                let diff = dc - previous;
                previous = dc;
                let category = 32 - diff.unsigned_abs().leading_zeros();
                let (code, len) = dc_codes[category as usize];
                bits.put(u32::from(code), len);
                if category > 0 {
                    let extra = if diff > 0 {
                        diff
                    } else {
                        diff + (1 << category) - 1
                    };
                    bits.put(extra as u32, category as u8);
                }
            }
        }
        out.extend(bits.finish());
        // AC scan: every block ends its band at once (EOB0, code "0").
        segment(&mut out, 0xDA, &[1, 1, 0x00, 1, 63, 0x00]);
        let mut bits = BitWriter::default();
        for _ in 0..bw * bh {
            bits.put(0, 1);
        }
        out.extend(bits.finish());
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[derive(Default)]
    struct BitWriter {
        out: Vec<u8>,
        acc: u32,
        n: u8,
    }

    impl BitWriter {
        fn put(&mut self, value: u32, len: u8) {
            for i in (0..len).rev() {
                self.acc = (self.acc << 1) | ((value >> i) & 1);
                self.n += 1;
                if self.n == 8 {
                    self.byte();
                }
            }
        }

        fn byte(&mut self) {
            let b = self.acc as u8;
            self.out.push(b);
            if b == 0xFF {
                self.out.push(0);
            }
            self.acc = 0;
            self.n = 0;
        }

        fn finish(mut self) -> Vec<u8> {
            while self.n != 0 {
                self.put(1, 1);
            }
            self.out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;
    use test_images::png;

    fn baseline_jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 64])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 85)
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn decoded_size(data: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory(data).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn small_baseline_jpeg_is_returned_unchanged() {
        let jpeg = baseline_jpeg(300, 200);
        assert!(!is_progressive_jpeg(&jpeg));
        let fitted = fit(&jpeg, 500).unwrap();
        assert!(!fitted.changed);
        assert_eq!(fitted.data, jpeg);
        assert_eq!((fitted.width, fitted.height), (300, 200));
        // Exactly at the limit still fits.
        assert!(!fit(&jpeg, 300).unwrap().changed);
    }

    #[test]
    fn large_png_is_scaled_down_keeping_its_aspect_ratio() {
        let data = png(1200, 600, false);
        let fitted = fit(&data, 500).unwrap();
        assert!(fitted.changed);
        assert_eq!((fitted.width, fitted.height), (500, 250));
        assert_eq!(decoded_size(&fitted.data), (500, 250));
        assert!(fitted.data.starts_with(&[0xFF, 0xD8, 0xFF]));
        assert!(is_plain_baseline_jpeg(&fitted.data));
        assert!(!is_progressive_jpeg(&fitted.data));
        // Portrait, too.
        let fitted = fit(&png(300, 900, false), 600).unwrap();
        assert_eq!((fitted.width, fitted.height), (200, 600));
    }

    #[test]
    fn small_png_becomes_jpeg_without_being_enlarged() {
        let fitted = fit(&png(64, 48, false), 1000).unwrap();
        assert!(fitted.changed);
        assert_eq!((fitted.width, fitted.height), (64, 48));
        assert_eq!(decoded_size(&fitted.data), (64, 48));
        assert!(is_plain_baseline_jpeg(&fitted.data));
    }

    #[test]
    fn large_baseline_jpeg_is_scaled_down() {
        let fitted = fit(&baseline_jpeg(1000, 1000), 300).unwrap();
        assert!(fitted.changed);
        assert_eq!((fitted.width, fitted.height), (300, 300));
        assert!(is_plain_baseline_jpeg(&fitted.data));
    }

    #[test]
    fn transparency_is_flattened_onto_white() {
        let fitted = fit(&png(40, 20, true), 100).unwrap();
        let img = image::load_from_memory(&fitted.data).unwrap().into_rgb8();
        let left = img.get_pixel(5, 10).0;
        let right = img.get_pixel(35, 10).0;
        // JPEG is lossy: allow a small error.
        assert!(left.iter().all(|&c| c > 240), "transparent became {left:?}");
        assert!(
            right[2] > 200 && right[0] < 40 && right[1] < 40,
            "blue became {right:?}"
        );
    }

    #[test]
    fn progressive_jpeg_is_reencoded_as_baseline() {
        let data = test_images::progressive_jpeg(320, 240);
        assert!(is_progressive_jpeg(&data));
        // The hand-made file decodes to its gradient (ffprobe calls it "Progressive" too).
        let grey = image::load_from_memory(&data).unwrap().into_luma8();
        assert_eq!(grey.dimensions(), (320, 240));
        assert_eq!(grey.get_pixel(0, 0).0[0], 30);
        assert!(grey.get_pixel(319, 239).0[0] > 200);
        assert!(!is_plain_baseline_jpeg(&data));
        // Within the size, but progressive: re-encoded at the same size.
        let fitted = fit(&data, 1000).unwrap();
        assert!(fitted.changed);
        assert_eq!((fitted.width, fitted.height), (320, 240));
        assert!(!is_progressive_jpeg(&fitted.data));
        assert!(is_plain_baseline_jpeg(&fitted.data));
        let fitted = fit(&data, 160).unwrap();
        assert_eq!((fitted.width, fitted.height), (160, 120));
        assert_eq!(decoded_size(&fitted.data), (160, 120));
    }

    #[test]
    fn marker_bytes_inside_a_segment_are_not_a_frame_header() {
        // A baseline JPEG with an APP1 segment holding FF C2 (as an EXIF thumbnail may).
        let jpeg = baseline_jpeg(16, 16);
        let mut tricky = vec![
            0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x08, 0xFF, 0xC2, 0x00, 0x11, 0x08, 0x00,
        ];
        tricky.extend_from_slice(&jpeg[2..]);
        assert!(!is_progressive_jpeg(&tricky));
        assert!(is_plain_baseline_jpeg(&tricky));
        assert!(!fit(&tricky, 100).unwrap().changed);
    }

    #[test]
    fn garbage_gives_errors_not_panics() {
        assert_eq!(fit(b"", 100), Err(CoverError::Unsupported));
        assert_eq!(fit(b"GIF89a....", 100), Err(CoverError::Unsupported));
        assert_eq!(fit(&png(10, 10, false), 0), Err(CoverError::BadMaxSize));
        assert!(matches!(
            fit(&[0xFF, 0xD8, 0xFF], 100),
            Err(CoverError::Decode(_))
        ));
        assert!(!is_progressive_jpeg(b""));
        assert!(!is_progressive_jpeg(&[0xFF, 0xD8, 0xFF, 0xFF, 0xFF]));
        assert!(!is_progressive_jpeg(&[0xFF, 0xD8, 0xFF, 0xC2, 0x00]));

        // Truncated and corrupted real pictures.
        let jpeg = baseline_jpeg(64, 64);
        let png = png(64, 64, false);
        for data in [&jpeg, &png] {
            for cut in [4, 20, data.len() / 3, data.len() / 2] {
                let _ = fit(&data[..cut], 100);
            }
            let mut flipped = data.clone();
            for i in (8..flipped.len()).step_by(7) {
                flipped[i] ^= 0x5A;
            }
            let _ = fit(&flipped, 100);
        }

        // A deterministic stream of mangled headers.
        let mut state = 0x2545_F491_u32;
        for _ in 0..300 {
            let mut data = if state.is_multiple_of(2) {
                jpeg.clone()
            } else {
                png.clone()
            };
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let at = 2 + (state as usize % 60).min(data.len() - 3);
                data[at] = (state >> 8) as u8;
            }
            let _ = fit(&data, 32);
            let _ = is_progressive_jpeg(&data);
        }
    }

    #[test]
    fn absurd_sizes_are_refused_before_decoding() {
        // A JPEG header claiming 65535 x 65535 pixels.
        let mut jpeg = baseline_jpeg(8, 8);
        let frame_at = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        jpeg[frame_at + 5..frame_at + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(
            fit(&jpeg, 100),
            Err(CoverError::TooLarge {
                width: 65535,
                height: 65535
            })
        );

        // A PNG header claiming 100000 x 100000 pixels (with a correct CRC, so only the size
        // check can stop it).
        let mut data = png(8, 8, false);
        data[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        data[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&data[12..29]);
        data[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            fit(&data, 100),
            Err(CoverError::TooLarge { .. }) | Err(CoverError::Decode(_))
        ));

        // Within the per-side limit but too many pixels in all.
        assert_eq!(
            check_size(15_000, 15_000),
            Err(CoverError::TooLarge {
                width: 15_000,
                height: 15_000
            })
        );
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn sizes_fit_without_enlarging() {
        assert_eq!(fitted_size(1200, 1200, 500), (500, 500));
        assert_eq!(fitted_size(1000, 1, 10), (10, 1));
        assert_eq!(fitted_size(1, 1000, 10), (1, 10));
        assert_eq!(fitted_size(100, 50, 500), (100, 50));
        assert_eq!(fitted_size(501, 500, 500), (500, 499));
    }
}
