//! Writing an audio CD image into a target folder: the `.bin` streamed track by track (silence
//! for pads and pregaps put in as the layout says), then the `.cue` and `.toc` made from the
//! lengths actually decoded. All three are written under hidden temporary names and renamed
//! into place only when all are complete; an existing file of the same name is never replaced.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::audio::decode::DecodeError;
use crate::target::{self, RelPath, Target};

use super::pcm::Pcm;
use super::plan::{self, Item, Layout, SECTOR};
use super::sheet::{self, Sheet, Text};

/// One track to put on the disc.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    /// The ReplayGain scale (1.0: none).
    pub scale: f32,
    /// Its album key (see [`plan::Item::album`]) and its estimated length in frames.
    pub item: Item,
    pub text: Text,
}

/// Why an image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {error}")]
    Decode { path: PathBuf, error: DecodeError },
    #[error(transparent)]
    Target(#[from] target::Error),
    #[error("interrupted")]
    Interrupted,
}

/// The image's three file names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Names {
    pub bin: String,
    pub cue: String,
    pub toc: String,
}

impl Names {
    pub fn new(base: &str) -> Names {
        Names {
            bin: format!("{base}.bin"),
            cue: format!("{base}.cue"),
            toc: format!("{base}.toc"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.bin, &self.cue, &self.toc]
    }
}

/// What was made.
#[derive(Debug)]
pub struct Made {
    pub layout: Layout,
    /// Tracks that passed bit for bit.
    pub exact: Vec<bool>,
}

/// Temporary files removed unless kept.
struct Temps<'a> {
    target: &'a Target,
    files: Vec<RelPath>,
}

impl Drop for Temps<'_> {
    fn drop(&mut self) {
        for f in &self.files {
            let _ = self.target.remove_file(f);
        }
    }
}

fn rel(name: &str) -> Result<RelPath, target::Error> {
    Ok(RelPath::parse(name)?)
}

fn zeros(out: &mut impl Write, frames: u64) -> std::io::Result<()> {
    let block = [0u8; 4 * SECTOR as usize];
    let mut left = frames * 4;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Removes the hidden temporary files a killed run left in the target's top folder. Only a
/// run holding the target's lock may ask: no other run is writing there.
pub fn remove_leftovers(target: &Target) -> Result<usize, target::Error> {
    let mut removed = 0;
    for (name, meta) in target.list(None)? {
        if meta.kind == target::Kind::File
            && name.starts_with(".tapedeck-")
            && name.ends_with(".part")
        {
            target.remove_file(&rel(&name)?)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Refuses names already taken, before any work is done.
pub fn check_free(target: &Target, names: &Names) -> Result<(), target::Error> {
    for name in names.all() {
        let rel = rel(name)?;
        if target.meta(&rel)?.is_some() {
            return Err(target::Error::Exists {
                path: target.display(&rel),
            });
        }
    }
    Ok(())
}

/// Writes the image of `sources` (one disc) as `names` in `target`. `progress` is told the
/// frames written so far; `interrupted` is asked between blocks.
pub fn write(
    target: &Target,
    names: &Names,
    disc: &Text,
    sources: &[Source],
    gap: u64,
    progress: &mut dyn FnMut(u64),
    interrupted: &dyn Fn() -> bool,
) -> Result<Made, ImageError> {
    check_free(target, names)?;
    let bin_rel = rel(&names.bin)?;
    let mut temps = Temps {
        target,
        files: Vec::new(),
    };
    let bin_tmp = target.temp_name(&bin_rel)?;
    let file = target.create_new(&bin_tmp)?;
    temps.files.push(bin_tmp.clone());
    let shown = target.display(&bin_rel);
    let io = |e: std::io::Error| ImageError::Target(target::Error::io(&shown, e));
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut items: Vec<Item> = sources.iter().map(|s| s.item.clone()).collect();
    let mut exact = Vec::new();
    let mut pos = 0u64;
    let mut buf: Vec<u8> = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        // Where this track starts follows from the lengths before it alone.
        let start = plan::layout(&items[..=i], gap).tracks[i].start;
        zeros(&mut out, start - pos).map_err(io)?;
        pos = start;
        let decode = |error| ImageError::Decode {
            path: source.path.clone(),
            error,
        };
        let mut pcm = Pcm::open(&source.path, source.scale).map_err(decode)?;
        exact.push(pcm.is_exact());
        let mut frames = 0u64;
        loop {
            if interrupted() {
                return Err(ImageError::Interrupted);
            }
            buf.clear();
            let n = pcm.read(&mut buf).map_err(decode)?;
            if n == 0 {
                break;
            }
            out.write_all(&buf).map_err(io)?;
            frames += n as u64;
            progress(pos + frames);
        }
        items[i].frames = frames;
        pos += frames;
    }
    let layout = plan::layout(&items, gap);
    zeros(&mut out, layout.frames - pos).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    let texts: Vec<Text> = sources.iter().map(|s| s.text.clone()).collect();
    let sheet = Sheet {
        bin: &names.bin,
        layout: &layout,
        disc,
        tracks: &texts,
    };
    let mut sheets = Vec::new();
    for (name, bytes) in [
        (&names.toc, sheet::toc(&sheet)),
        (&names.cue, sheet::cue(&sheet)),
    ] {
        let rel = rel(name)?;
        let tmp = target.temp_name(&rel)?;
        let mut f = target.create_new(&tmp)?;
        temps.files.push(tmp.clone());
        let shown = target.display(&rel);
        f.write_all(&bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| target::Error::io(&shown, e))?;
        sheets.push((tmp, rel));
    }
    // Everything is complete: the image, then its sheets, take their names.
    let mut placed: Vec<RelPath> = Vec::new();
    let result = (|| {
        target.rename(&bin_tmp, &bin_rel, false)?;
        placed.push(bin_rel.clone());
        for (tmp, rel) in &sheets {
            target.rename(tmp, rel, false)?;
            placed.push(rel.clone());
        }
        Ok::<(), target::Error>(())
    })();
    if let Err(e) = result {
        for p in &placed {
            let _ = target.remove_file(p);
        }
        return Err(e.into());
    }
    temps.files.clear();
    target.sync_dir(None);
    Ok(Made { layout, exact })
}
