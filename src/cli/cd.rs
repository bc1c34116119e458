//! `tapedeck cd`: options checked, the selection laid out on discs (`cd::plan`), the plan
//! printed (`--dry-run`, `--json`) or the images written (`cd::image`) with a progress bar, and
//! burned when asked (`cd::burn`).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};

mod mp3;

use super::output::escape;
use super::{SelectArgs, Settings, playlist, progress};
use crate::audio::gain;
use crate::cd::burn;
use crate::cd::image::{self, ImageError, Names, Source};
use crate::cd::plan::{self, Item, Layout, MAX_TRACKS, Media, RATE, msf};
use crate::cd::sheet::Text;
use crate::db::DiscMade;
use crate::error::UsageError;
use crate::model::{Track, fold};
use crate::names::{self, Charset, NameRules};
use crate::target::Target;

/// Which ReplayGain goes into the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CdGain {
    Album,
    Track,
    Off,
}

#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["audio", "mp3"])))]
pub struct CdArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// An audio CD (Red Book): a .bin image with a .cue sheet and a cdrdao .toc, with CD-TEXT
    #[arg(long)]
    pub audio: bool,
    /// An MP3 CD (ISO 9660 with Joliet names)
    #[arg(long)]
    pub mp3: bool,
    /// The folder the images are written into (created if needed)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Seconds of silence between albums (tracks of one album join without a gap)
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_gap)]
    pub gap: f64,
    /// The export profile an MP3 CD's files follow (encoding, tags, cover, names): car,
    /// car-strict or one of profiles.toml
    #[arg(long, value_name = "NAME", default_value = "car")]
    pub profile: String,
    /// The MP3 CD image's size limit in MiB [default: what the media holds, 702 MiB on 80-minute
    /// media]
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub size: Option<u64>,
    /// Plan for 74-minute media (74:00) instead of 80-minute (79:57)
    #[arg(long = "74")]
    pub short_media: bool,
    /// When the selection does not fit, plan several discs, cut between albums
    #[arg(long)]
    pub split: bool,
    /// Which ReplayGain to apply (peak-limited)
    #[arg(long, value_enum, value_name = "album|track|off", default_value_t = CdGain::Album)]
    pub replaygain: CdGain,
    /// The disc's CD-TEXT title [default: the album's, or the albums' joined]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Burn the image on this drive (as in /dev/sr0) once it is written
    #[arg(long, value_name = "DEVICE")]
    pub burn: Option<String>,
    /// Print the disc plan, and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan or the result as JSON
    #[arg(long)]
    pub json: bool,
}

fn parse_gap(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=10.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: the gap is 0 to 10 seconds")),
    }
}

/// Image file names: ASCII letters, digits and `_`, so the cue sheet stays ISO 8859-1.
pub(super) fn image_rules() -> NameRules {
    NameRules {
        charset: Charset::Ascii,
        max_name: 120,
        max_path: 1024,
    }
}

fn performer(t: &Track) -> String {
    t.artist
        .clone()
        .or_else(|| t.albumartist.clone())
        .unwrap_or_default()
}

/// One disc to make.
struct DiscPlan {
    tracks: Vec<Track>,
    sources: Vec<Source>,
    layout: Layout,
    text: Text,
    names: Names,
}

/// The CD-TEXT of a disc holding `tracks`.
pub(super) fn disc_text(tracks: &[Track], title: Option<&str>) -> Text {
    let mut albums: Vec<&str> = Vec::new();
    for t in tracks {
        let a = t.album.as_deref().unwrap_or("");
        if !a.is_empty() && !albums.contains(&a) {
            albums.push(a);
        }
    }
    let title = match title {
        Some(t) => t.to_string(),
        None if albums.is_empty() => "Mix".to_string(),
        None => albums.join(" / "),
    };
    let artist = |t: &Track| t.albumartist.clone().unwrap_or_else(|| performer(t));
    let first = artist(&tracks[0]);
    let performer = if tracks.iter().all(|t| artist(t) == first) {
        first
    } else {
        "Various Artists".to_string()
    };
    Text {
        title,
        performer,
        songwriter: None,
    }
}

/// The layout items: tracks of one album in a row, numbered one after the other, join.
fn items(tracks: &[Track]) -> Vec<Item> {
    let mut run = 0u32;
    let mut out: Vec<Item> = Vec::with_capacity(tracks.len());
    for (i, t) in tracks.iter().enumerate() {
        let key = |t: &Track| {
            t.album.as_ref().filter(|a| !a.is_empty()).map(|a| {
                let who = t.albumartist.as_deref().or(t.artist.as_deref());
                (fold(a), who.map(fold), t.disc)
            })
        };
        let continues = i > 0 && {
            let p = &tracks[i - 1];
            key(p).is_some()
                && key(p) == key(t)
                && match (p.track, t.track) {
                    (Some(a), Some(b)) => b == a + 1,
                    _ => true,
                }
        };
        if !continues {
            run += 1;
        }
        out.push(Item {
            frames: plan::frames_of_seconds(t.duration),
            album: key(t).map(|_| run.to_string()),
        });
    }
    out
}

pub fn cd(ctx: &Settings, args: &CdArgs, out: &mut dyn Write) -> Result<()> {
    if args.to.exists() && !args.to.is_dir() {
        return Err(UsageError(format!("--to {}: not a folder", args.to.display())).into());
    }
    let mut lib = ctx.open_library()?;
    let mut tracks = playlist::selected_tracks(&lib, &args.select)?;
    if super::play::prefer_computed(ctx) {
        tracks
            .iter_mut()
            .for_each(crate::audio::gain::prefer_computed);
    }
    let media = if args.short_media {
        Media::Min74
    } else {
        Media::Min80
    };
    if args.mp3 {
        return mp3::mp3_cd(ctx, args, &mut lib, tracks, media, out);
    }
    // A file that cannot be decoded is named and left off before anything is planned, so the
    // disc is laid out without it rather than stopped half-made.
    let mut left_off = 0usize;
    let tracks: Vec<Track> = tracks
        .into_iter()
        .filter(|t| match crate::audio::decode::Decoder::open(&t.path) {
            Ok(_) => true,
            Err(e) => {
                left_off += 1;
                super::style::error(format_args!(
                    "{}: {}; left off the disc",
                    super::output::escape_path(&t.path),
                    escape(&e.to_string())
                ));
                false
            }
        })
        .collect();
    if tracks.is_empty() {
        return Err(UsageError("nothing to put on a disc: no track can be decoded".into()).into());
    }
    let capacity = media.sectors();
    let gap = (args.gap * plan::SECTORS_PER_SECOND as f64).round() as u64;
    let all_items = items(&tracks);
    let whole = plan::layout(&all_items, gap);
    let fits = whole.disc_sectors() <= capacity && tracks.len() <= MAX_TRACKS;
    let ranges: Vec<std::ops::Range<usize>> = if fits || !args.split {
        std::iter::once(0..tracks.len()).collect()
    } else {
        match plan::split(&all_items, gap, capacity, MAX_TRACKS) {
            Ok(discs) => discs.into_iter().map(|d| d.items).collect(),
            Err(plan::SplitError::TrackTooLong { index, sectors }) => {
                return Err(UsageError(format!(
                    "{} is {} long, more than a {} disc holds",
                    escape(&tracks[index].title),
                    msf(sectors),
                    msf(capacity)
                ))
                .into());
            }
        }
    };
    let count = ranges.len();
    let gain_mode = match args.replaygain {
        CdGain::Album => gain::Mode::Album,
        CdGain::Track => gain::Mode::Track,
        CdGain::Off => gain::Mode::Off,
    };
    let mut discs: Vec<DiscPlan> = Vec::new();
    for (n, r) in ranges.iter().enumerate() {
        let tracks: Vec<Track> = tracks[r.clone()].to_vec();
        let items = all_items[r.clone()].to_vec();
        let text = disc_text(&tracks, args.title.as_deref());
        let mut base = names::component(&text.title, &image_rules());
        if count > 1 {
            base = format!("{base}_disc_{}_of_{count}", n + 1);
        }
        let sources = tracks
            .iter()
            .zip(&items)
            .map(|(t, item)| Source {
                path: t.path.clone(),
                scale: gain::bake(gain_mode, &gain::Tags::from(t)).scale,
                item: item.clone(),
                text: Text {
                    title: t.title.clone(),
                    performer: performer(t),
                    songwriter: t.composer.clone(),
                },
            })
            .collect();
        discs.push(DiscPlan {
            layout: plan::layout(&items, gap),
            tracks,
            sources,
            text,
            names: Names::new(&base),
        });
    }
    let over = whole.disc_sectors().saturating_sub(capacity);
    if args.dry_run || !fits && !args.split {
        print_plan(out, args, &discs, capacity, fits, over, true)?;
        if !fits && !args.split {
            let why = if tracks.len() > MAX_TRACKS {
                format!(
                    "{} tracks, more than the {MAX_TRACKS} a CD holds",
                    tracks.len()
                )
            } else {
                format!(
                    "{} long, {} more than a {} disc holds",
                    msf(whole.disc_sectors()),
                    msf(over),
                    msf(capacity)
                )
            };
            let msg = format!("the selection does not fit: {why} (--split plans several discs)");
            if args.dry_run {
                super::style::warn(msg);
                return Ok(());
            }
            return Err(UsageError(msg).into());
        }
        return Ok(());
    }
    let mut target = Target::create(&args.to).context("cannot open --to")?;
    target.lock()?;
    image::remove_leftovers(&target)?;
    for d in &discs {
        image::check_free(&target, &d.names)?;
    }
    let cancel = super::interrupt::flag();
    let total: u64 = discs.iter().map(|d| d.layout.frames).sum();
    let bar = progress::counting_bar(
        total / u64::from(RATE),
        "s of audio",
        !ctx.quiet && !args.json && std::io::stderr().is_terminal(),
    );
    let started = Instant::now();
    let mut done_before = 0u64;
    let mut made: Vec<Layout> = Vec::new();
    for d in &discs {
        let mut progress = |frames: u64| {
            if let Some(bar) = &bar {
                let secs = (done_before + frames) / u64::from(RATE);
                bar.set_position(secs);
                let speed = secs as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{speed:.0}x real time"));
            }
        };
        let interrupted = || cancel.load(Ordering::Relaxed);
        let result = image::write(
            &target,
            &d.names,
            &d.text,
            &d.sources,
            gap,
            &mut progress,
            &interrupted,
        );
        let m = match result {
            Ok(m) => m,
            Err(e) => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Err(match e {
                    ImageError::Target(e) => e.into(),
                    ImageError::Interrupted => crate::target::Error::Interrupted.into(),
                    e @ ImageError::Decode { .. } => anyhow::anyhow!("{}", escape(&e.to_string())),
                });
            }
        };
        done_before += m.layout.frames;
        made.push(m.layout);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    for (d, l) in discs.iter_mut().zip(made) {
        d.layout = l;
    }
    let root = target.root().to_path_buf();
    let made_at = super::now();
    lib.write(|w| {
        for (n, d) in discs.iter().enumerate() {
            w.record_disc(&DiscMade {
                made_at,
                kind: "audio".into(),
                image: root.join(&d.names.cue).to_string_lossy().into_owned(),
                title: d.text.title.clone(),
                disc: n as i64 + 1,
                discs: discs.len() as i64,
                length: msf(d.layout.disc_sectors()),
                tracks: disc_json(d, n, discs.len(), capacity)["tracks"].clone(),
            })?;
        }
        Ok::<(), crate::db::DbError>(())
    })?;
    print_result(out, args, &discs, capacity, &root, elapsed)?;
    if let Some(device) = &args.burn {
        burn_discs(device, &discs, &root)?;
    }
    if left_off > 0 {
        // Each file left off was named; the exit status says the disc is not all that was asked.
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

/// Burns the one disc made on `device`, checking the medium's space first.
fn burn_discs(device: &str, discs: &[DiscPlan], root: &Path) -> Result<()> {
    let cmds: Vec<burn::Command> = discs
        .iter()
        .map(|d| burn::audio(device, Path::new(&d.names.toc)))
        .collect();
    let sectors = discs.first().map_or(0, |d| d.layout.disc_sectors());
    burn_image(device, &cmds, sectors, root)
}

/// Runs the first of `cmds` (one per disc) in `root` when `device` is a drive with a medium
/// that takes `sectors`; otherwise says how to burn the images later.
fn burn_image(device: &str, cmds: &[burn::Command], sectors: u64, root: &Path) -> Result<()> {
    let lines: Vec<String> = cmds.iter().map(burn::Command::shell_line).collect();
    let later = || {
        format!(
            "burn later, in {}, with: {}",
            root.display(),
            lines.join("; ")
        )
    };
    if cmds.len() > 1 {
        return Err(UsageError(format!(
            "--burn burns one disc; the images of {} are written: {}",
            cmds.len(),
            later()
        ))
        .into());
    }
    use std::os::unix::fs::FileTypeExt;
    let is_drive = std::fs::metadata(device).is_ok_and(|m| m.file_type().is_block_device());
    if !is_drive {
        return Err(UsageError(format!(
            "no drive at {device}; the image is written: {}",
            later()
        ))
        .into());
    }
    let space = burn::media_space(device);
    let output = std::process::Command::new(space.program)
        .args(&space.args)
        .output()
        .context("cannot run xorriso to check the medium")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    match burn::parse_media_space(&text) {
        None => {
            return Err(anyhow::anyhow!(
                "{device}: no writable medium found; the image is written: {}",
                later()
            ));
        }
        Some(free) if free < sectors => {
            return Err(anyhow::anyhow!(
                "{device}: the medium holds {} sectors, the disc needs {sectors}; the image is \
                 written: {}",
                free,
                later()
            ));
        }
        Some(_) => {}
    }
    let cmd = &cmds[0];
    let status = std::process::Command::new(cmd.program)
        .args(&cmd.args)
        .current_dir(root)
        .status()
        .with_context(|| format!("cannot run {}", cmd.program))?;
    if !status.success() {
        return Err(anyhow::anyhow!(
            "{} failed ({status}); the image is kept",
            cmd.program
        ));
    }
    Ok(())
}

fn track_json(d: &DiscPlan, i: usize, capacity: u64) -> serde_json::Value {
    let p = &d.layout.tracks[i];
    let t = &d.tracks[i];
    let start = p.index1 + plan::LEAD_PREGAP;
    serde_json::json!({
        "number": i + 1,
        "id": t.id,
        "path": t.path.to_string_lossy(),
        "title": d.sources[i].text.title,
        "performer": d.sources[i].text.performer,
        "songwriter": d.sources[i].text.songwriter,
        "start": msf(start),
        "start_sector": start,
        "pregap_sectors": p.index0.map(|i0| p.index1 - i0),
        "length": msf(d.layout.track_sectors(i)),
        "frames": p.frames,
        "image_offset_frames": p.start,
        "padded_to_4s": p.padded_short,
        "fits": start + d.layout.track_sectors(i) <= capacity,
    })
}

fn disc_json(d: &DiscPlan, n: usize, count: usize, capacity: u64) -> serde_json::Value {
    serde_json::json!({
        "disc": n + 1,
        "of": count,
        "title": d.text.title,
        "performer": d.text.performer,
        "sectors": d.layout.disc_sectors(),
        "length": msf(d.layout.disc_sectors()),
        "image_frames": d.layout.frames,
        "files": d.names,
        "tracks": (0..d.tracks.len()).map(|i| track_json(d, i, capacity)).collect::<Vec<_>>(),
    })
}

/// "Performer - Title", or the title alone when no performer is known (escaped).
fn credit(t: &Text) -> String {
    if t.performer.is_empty() {
        escape(&t.title).into_owned()
    } else {
        format!("{} - {}", escape(&t.performer), escape(&t.title))
    }
}

fn print_plan(
    out: &mut dyn Write,
    args: &CdArgs,
    discs: &[DiscPlan],
    capacity: u64,
    fits: bool,
    over: u64,
    dry_run: bool,
) -> Result<()> {
    if args.json {
        let v = serde_json::json!({
            "dry_run": dry_run,
            "kind": "audio",
            "capacity": msf(capacity),
            "capacity_sectors": capacity,
            "fits": fits,
            "over_sectors": over,
            "discs": discs.iter().enumerate()
                .map(|(n, d)| disc_json(d, n, discs.len(), capacity))
                .collect::<Vec<_>>(),
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    for (n, d) in discs.iter().enumerate() {
        writeln!(
            out,
            "disc {} of {}: {}: {} tracks, {} of {}",
            n + 1,
            discs.len(),
            credit(&d.text),
            d.tracks.len(),
            msf(d.layout.disc_sectors()),
            msf(capacity)
        )?;
        for i in 0..d.tracks.len() {
            let p = &d.layout.tracks[i];
            let start = p.index1 + plan::LEAD_PREGAP;
            let len = d.layout.track_sectors(i);
            let mut notes = String::new();
            if let Some(i0) = p.index0 {
                notes.push_str(&format!("  [pregap {}]", msf(p.index1 - i0)));
            }
            if p.padded_short {
                notes.push_str("  [padded to 4 s]");
            }
            if start + len > capacity {
                notes.push_str("  [does not fit]");
            }
            writeln!(
                out,
                "  {:2}  {}  {}  {}{notes}",
                i + 1,
                msf(start),
                msf(len),
                credit(&d.sources[i].text),
            )?;
        }
    }
    Ok(())
}

fn print_result(
    out: &mut dyn Write,
    args: &CdArgs,
    discs: &[DiscPlan],
    capacity: u64,
    root: &Path,
    elapsed: f64,
) -> Result<()> {
    if args.json {
        let v = serde_json::json!({
            "dry_run": false,
            "kind": "audio",
            "target": root.to_string_lossy(),
            "capacity": msf(capacity),
            "capacity_sectors": capacity,
            "fits": true,
            "over_sectors": 0,
            "seconds": elapsed,
            "discs": discs.iter().enumerate()
                .map(|(n, d)| disc_json(d, n, discs.len(), capacity))
                .collect::<Vec<_>>(),
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    print_plan(out, args, discs, capacity, true, 0, false)?;
    for d in discs {
        writeln!(
            out,
            "wrote {}",
            escape(&root.join(&d.names.cue).to_string_lossy())
        )?;
    }
    let audio = discs.iter().map(|d| d.layout.frames).sum::<u64>() as f64 / f64::from(RATE);
    writeln!(
        out,
        "{} of audio in {:.1}s ({:.0}x real time)",
        msf((audio * 75.0) as u64),
        elapsed,
        audio / elapsed.max(1e-3),
    )?;
    Ok(())
}
