//! `tapedeck convert` and `tapedeck converted`: options checked up front, the plan printed, or
//! run by [`crate::convert::batch`] with a progress bar, its failures and summary printed.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Result;

use super::output::{escape, escape_path};
use super::{SelectArgs, Settings, now, playlist, progress};
use crate::audio::gain;
use crate::config::Config;
use crate::convert::batch::{self, Batch, FileOutcome, Report};
use crate::convert::encode::{self, Format};
use crate::convert::output::OutputDir;
use crate::convert::plan::{self, Action, Job, Request};
use crate::db::ConvertedFile;
use crate::error::UsageError;
use crate::names::{self, NameRules, PathTemplate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GainBake {
    Track,
    Album,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// The folder to write into (created if needed)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// Output format [default: the configuration's; one of them is needed]
    #[arg(long, value_name = "FORMAT", value_parser = FormatParser)]
    pub format: Option<Format>,
    /// Bitrate in kbps: MP3 CBR 32-320 (default 320), AAC 64-320 (default 256) [default: the
    /// configuration's, for the formats that take one]
    #[arg(long, value_name = "KBPS")]
    pub bitrate: Option<u32>,
    /// MP3 variable bitrate quality, V0 (best) to V9
    #[arg(long, value_name = "V0..V9", value_parser = parse_vbr, conflicts_with = "bitrate")]
    pub vbr: Option<u8>,
    /// FLAC compression level, 0 (fastest) to 8 (smallest)
    #[arg(long, value_name = "0-8", default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=8))]
    pub flac_level: u8,
    /// Output sample rate in Hz [default: the source's, when the format carries it]
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(8000..=192000))]
    pub sample_rate: Option<u32>,
    /// Output bit depth for FLAC, ALAC, WAV and AIFF [default: the source's]
    #[arg(long, value_name = "16|24", value_parser = parse_bits)]
    pub bit_depth: Option<u16>,
    /// Path template; `$disc` is the disc number and a dash, on multi-disc albums only
    /// [default: the configuration's, else '$albumartist/$album/$disc$track $title']
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Print what would be done, and do nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Parallel workers [default: all cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Also convert lossy sources (MP3, AAC), which loses quality
    #[arg(long)]
    pub allow_lossy_source: bool,
    /// Copy sources in these formats byte for byte, tags and all, instead of converting them,
    /// as in `--copy mp3,aac`
    #[arg(long, value_name = "FORMATS", value_delimiter = ',', value_parser = FormatParser)]
    pub copy: Vec<Format>,
    /// Copy sources that are already in the output format (`--copy FORMAT` for --format)
    #[arg(long)]
    pub copy_matching: bool,
    /// Bake this ReplayGain into the audio (and write no gain tags)
    #[arg(long, value_enum, value_name = "track|album", conflicts_with_all = ["copy", "copy_matching"])]
    pub apply_gain: Option<GainBake>,
    /// Write ID3v2.3 tags (MP3) for old players
    #[arg(long)]
    pub id3v23: bool,
    /// Fit embedded covers into this many pixels, as baseline JPEG
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(16..=10000))]
    pub cover_max: Option<u32>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// `--format` and `--copy`: a format name, in any case, listed for completions and help.
#[derive(Debug, Clone, Copy)]
pub struct FormatParser;

impl clap::builder::TypedValueParser for FormatParser {
    type Value = Format;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Format, clap::Error> {
        let text = value.to_string_lossy();
        Format::parse(&text).ok_or_else(|| {
            let mut e = clap::Error::new(clap::error::ErrorKind::InvalidValue).with_cmd(cmd);
            use clap::error::{ContextKind, ContextValue};
            if let Some(arg) = arg {
                e.insert(
                    ContextKind::InvalidArg,
                    ContextValue::String(arg.to_string()),
                );
            }
            e.insert(
                ContextKind::InvalidValue,
                ContextValue::String(text.into_owned()),
            );
            e.insert(
                ContextKind::ValidValue,
                ContextValue::Strings(Format::ALL.iter().map(|f| f.name().to_string()).collect()),
            );
            e
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            Format::ALL
                .into_iter()
                .map(|f| clap::builder::PossibleValue::new(f.name())),
        ))
    }
}

fn parse_vbr(s: &str) -> Result<u8, String> {
    let digits = s.strip_prefix(['V', 'v']).unwrap_or(s);
    match digits.parse::<u8>() {
        Ok(v) if v <= 9 => Ok(v),
        _ => Err(format!("{s:?}: VBR quality is V0 (best) to V9")),
    }
}

fn parse_bits(s: &str) -> Result<u16, String> {
    match s {
        "16" => Ok(16),
        "24" => Ok(24),
        _ => Err(format!("{s:?}: bit depth is 16 or 24")),
    }
}

/// The format, bitrate and template: the flags, else the configuration's. The configured
/// bitrate applies only to a format that takes one, and not with `--vbr`.
fn resolve(args: &ConvertArgs, config: &Config) -> Result<(Format, Option<u32>, String)> {
    let format = match (args.format, &config.convert_format) {
        (Some(f), _) => f,
        (None, Some(s)) => s.value,
        (None, None) => {
            return Err(UsageError(
                "--format is needed (mp3, aac, flac, alac, wav or aiff), or `format` under \
                 [convert] in the configuration file"
                    .into(),
            )
            .into());
        }
    };
    let bitrate = args.bitrate.or(config
        .bitrate
        .as_ref()
        .filter(|_| args.vbr.is_none() && matches!(format, Format::Mp3 | Format::Aac))
        .map(|s| s.value));
    let template = args
        .template
        .clone()
        .or(config.template.as_ref().map(|s| s.value.clone()))
        .unwrap_or_else(|| names::DEFAULT_TEMPLATE.to_string());
    Ok((format, bitrate, template))
}

/// Checks options that depend on each other, before anything is read.
fn request(args: &ConvertArgs, f: Format, bitrate: Option<u32>) -> Result<Request> {
    if let Some(b) = bitrate {
        let ok = match f {
            Format::Mp3 => [
                32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ]
            .contains(&b),
            Format::Aac => (64..=320).contains(&b),
            _ => {
                return Err(UsageError(format!(
                    "--bitrate applies to mp3 and aac; {} is lossless",
                    f.name()
                ))
                .into());
            }
        };
        if !ok {
            let range = if f == Format::Mp3 {
                "32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256 or 320"
            } else {
                "64 to 320"
            };
            return Err(
                UsageError(format!("--bitrate {b}: {} takes {range} kbps", f.name())).into(),
            );
        }
    }
    if args.vbr.is_some() && f != Format::Mp3 {
        return Err(UsageError("--vbr applies to mp3 only".into()).into());
    }
    if args.bit_depth.is_some() && !f.is_lossless() {
        return Err(UsageError(format!(
            "--bit-depth applies to lossless formats, not {}",
            f.name()
        ))
        .into());
    }
    let mut encode = encode::Settings::new(f);
    encode.bitrate = bitrate;
    encode.vbr = args.vbr;
    encode.flac_level = args.flac_level;
    Ok(Request {
        encode,
        sample_rate: args.sample_rate,
        bit_depth: args.bit_depth,
        apply_gain: args.apply_gain.map(|g| match g {
            GainBake::Track => gain::Mode::Track,
            GainBake::Album => gain::Mode::Album,
        }),
        allow_lossy_source: args.allow_lossy_source,
        id3v23: args.id3v23,
        id3v1: false,
        cover_max: args.cover_max,
        copy: {
            let mut copy = args.copy.clone();
            if args.copy_matching {
                copy.push(f);
            }
            copy.sort_by_key(|f| f.name());
            copy.dedup();
            copy
        },
    })
}

pub fn convert(ctx: &Settings, args: &ConvertArgs, out: &mut dyn Write) -> Result<()> {
    let (format, bitrate, template_text) = resolve(args, &ctx.config)?;
    let request = request(args, format, bitrate)?;
    if cfg!(not(feature = "aac")) && format == Format::Aac {
        return Err(UsageError(
            "AAC encoding was left out of this build (cargo feature `aac`)".into(),
        )
        .into());
    }
    let template = PathTemplate::parse(&template_text)
        .map_err(|e| UsageError(format!("invalid --template: {e}")))?;
    let mut lib = ctx.open_library()?;
    if args.to.exists() && !args.to.is_dir() {
        return Err(UsageError(format!("--to {}: not a folder", args.to.display())).into());
    }
    let absolute = std::path::absolute(&args.to).unwrap_or_else(|_| args.to.clone());
    let legacy: Vec<(PathBuf, ConvertedFile)> = lib.converted_files_under(&absolute)?;
    let legacy: HashMap<PathBuf, ConvertedFile> = legacy.into_iter().collect();
    let dir = OutputDir::open(
        &args.to,
        args.dry_run,
        Box::new(move |p: &Path| {
            legacy.get(p).map(|f| {
                (
                    f.track_id,
                    f.fingerprint.clone(),
                    f.settings.clone(),
                    f.size,
                )
            })
        }),
    )?;
    let root = dir.root(&args.to);
    for r in &dir.rejected {
        super::style::warn(format_args!("{}: {}", escape_path(&root), escape(r)));
    }
    let mut tracks = playlist::selected_tracks(&lib, &args.select)?;
    if super::play::prefer_computed(ctx) {
        tracks
            .iter_mut()
            .for_each(crate::audio::gain::prefer_computed);
    }
    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    let fingerprints: HashMap<i64, Vec<u8>> = lib
        .identities(&ids)?
        .into_iter()
        .map(|i| (i.id, i.fingerprint))
        .collect();
    let rules = NameRules::convert();
    let jobs = plan::plan(
        tracks,
        &fingerprints,
        &request,
        &template,
        &rules,
        &crate::query::field_text,
        &dir,
    );
    let count = |a: fn(&Action) -> bool| jobs.iter().filter(|j| a(&j.action)).count();
    let to_convert = count(|a| *a == Action::Convert);
    let to_copy = count(|a| *a == Action::Copy);
    let to_skip = count(|a| *a == Action::Skip);
    let refused = count(|a| matches!(a, Action::Refuse(_)));
    // Refusals: one line per reason with its count (each file under -v; all in --json).
    let mut reasons: Vec<(&str, usize)> = Vec::new();
    for j in &jobs {
        if let Action::Refuse(why) = &j.action {
            if ctx.verbose > 0 {
                super::style::note(format_args!(
                    "{}: refused: {}",
                    escape_path(&j.track.path),
                    escape(why)
                ));
            }
            match reasons.iter_mut().find(|(r, _)| *r == why.as_str()) {
                Some((_, n)) => *n += 1,
                None => reasons.push((why, 1)),
            }
        }
    }
    for (why, n) in &reasons {
        let files = if *n == 1 { "file" } else { "files" };
        super::style::warn(format_args!("refused {n} {files}: {}", escape(why)));
    }
    if !reasons.is_empty() && ctx.verbose == 0 && !args.json {
        super::style::hint("-v names each refused file");
    }
    let refusals = || -> Vec<serde_json::Value> {
        jobs.iter()
            .filter_map(|j| match &j.action {
                Action::Refuse(why) => Some(serde_json::json!({
                    "source": j.track.path.to_string_lossy(),
                    "reason": why,
                })),
                _ => None,
            })
            .collect()
    };
    if args.dry_run {
        if args.json {
            let files: Vec<serde_json::Value> = jobs
                .iter()
                .map(|j| {
                    let (action, reason) = match &j.action {
                        Action::Convert => ("convert", None),
                        Action::Copy => ("copy", None),
                        Action::Skip => ("skip", None),
                        Action::Refuse(why) => ("refuse", Some(why)),
                    };
                    serde_json::json!({
                        "action": action,
                        "source": j.track.path.to_string_lossy(),
                        "output": root.join(&j.output).to_string_lossy(),
                        "reason": reason,
                    })
                })
                .collect();
            serde_json::to_writer(
                &mut *out,
                &serde_json::json!({
                    "dry_run": true,
                    "target": root.to_string_lossy(),
                    "format": format.name(),
                    "convert": to_convert,
                    "copy": to_copy,
                    "skip": to_skip,
                    "refuse": refused,
                    "files": files,
                }),
            )?;
            writeln!(out)?;
            return Ok(());
        }
        for j in &jobs {
            let verb = match j.action {
                Action::Convert => "convert",
                Action::Copy => "copy",
                Action::Skip => "skip (done)",
                Action::Refuse(_) => "refuse",
            };
            writeln!(
                out,
                "{verb}\t{}\t{}",
                escape_path(&j.track.path),
                escape_path(&root.join(&j.output))
            )?;
        }
        writeln!(
            out,
            "would convert {to_convert}, copy {to_copy}, skip {to_skip} already done, refuse \
             {refused}"
        )?;
        return Ok(());
    }
    // The selection as it was asked for, so the history says what each run was of.
    let query_text = (!args.select.query.is_empty())
        .then(|| shlex::try_join(args.select.query.iter().map(String::as_str)).ok())
        .flatten();
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let bar = progress::counting_bar(
        (to_convert + to_copy) as u64,
        "tracks",
        !ctx.quiet && std::io::stderr().is_terminal(),
    );
    let started = Instant::now();
    let done_audio = Mutex::new(0.0f64);
    let tick = |job: &Job| {
        if let Some(bar) = &bar {
            let mut audio = done_audio.lock().unwrap();
            *audio += job.track.duration;
            let speed = *audio / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{speed:.0}x real time"));
            bar.inc(1);
        }
    };
    let cancel = super::interrupt::flag();
    let result = batch::run(
        &mut lib,
        &Batch {
            jobs: &jobs,
            dir: &dir,
            root: &root,
            request: &request,
            fingerprints: &fingerprints,
            query: query_text.as_deref(),
            playlist: args.select.playlist.as_deref(),
            workers,
            cancel: &cancel,
            progress: &tick,
            clock: now,
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;
    for (job, outcome) in &report.files {
        if let FileOutcome::Failed(e) = outcome {
            super::style::error(format_args!(
                "{}: {}",
                escape_path(&job.track.path),
                escape(&e.to_string())
            ));
        }
    }
    let gone = report.gone().map(ToString::to_string);
    let Report {
        converted,
        copied,
        failed,
        audio_seconds: audio,
        bytes,
        interrupted,
        elapsed,
        ..
    } = report;
    let written = converted + copied;
    let speed = audio / elapsed.as_secs_f64().max(1e-6);
    if args.json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({
                "target": root.to_string_lossy(),
                "format": format.name(),
                "selected": jobs.len(),
                "converted": converted,
                "copied": copied,
                "skipped": to_skip,
                "refused": refused,
                "refusals": refusals(),
                "failed": failed,
                "interrupted": interrupted,
                "bytes": bytes,
                "audio_seconds": audio,
                "seconds": elapsed.as_secs_f64(),
            }),
        )?;
        writeln!(out)?;
    } else if !ctx.quiet {
        let mut line = format!("converted {converted}");
        for (n, what) in [
            (copied, "copied as they are"),
            (to_skip, "skipped (already done)"),
            (refused, "refused"),
            (failed, "failed"),
        ] {
            if n > 0 {
                line.push_str(&format!(", {n} {what}"));
            }
        }
        if written > 0 {
            line.push_str(&format!(
                ": {:.1} MB, {} of audio in {:.1} s ({speed:.0}x real time)",
                bytes as f64 / 1e6,
                hms(audio),
                elapsed.as_secs_f64()
            ));
        }
        writeln!(out, "{line}, into {}", root.display())?;
    }
    if let Some(g) = gone {
        return Err(anyhow::anyhow!("{g}"));
    }
    if interrupted {
        return Err(anyhow::anyhow!(
            "interrupted: finished files are kept; run the same command again to do the rest"
        ));
    }
    // Refusals are the policy working as documented (and listed above); failures are errors.
    if failed > 0 {
        return Err(crate::error::AlreadyReported(crate::error::code::FAILURE).into());
    }
    Ok(())
}

pub(super) fn hms(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `tapedeck converted`.
pub fn converted(ctx: &Settings, json: bool, out: &mut dyn Write) -> Result<()> {
    let lib = ctx.open_library()?;
    for c in lib.conversions()? {
        if json {
            serde_json::to_writer(&mut *out, &c)?;
            writeln!(out)?;
        } else {
            let when = crate::query::civil_date_time(c.started_at);
            let status = if c.finished_at.is_some() {
                ""
            } else {
                "  (interrupted)"
            };
            let mut of = String::new();
            if let Some(q) = &c.query {
                of.push_str(&format!("  query: {}", escape(q)));
            }
            if let Some(p) = &c.playlist {
                of.push_str(&format!("  playlist: {}", escape(p)));
            }
            if of.is_empty() {
                of.push_str("  everything");
            }
            writeln!(
                out,
                "{when}  {}  {}: {} written, {} skipped, {} refused, {} failed  {}{of}{status}",
                c.format,
                super::output::count(c.selected, "track", "tracks"),
                c.written,
                c.skipped,
                c.refused,
                c.failed,
                escape(&c.target)
            )?;
        }
    }
    for d in lib.discs()? {
        if json {
            serde_json::to_writer(&mut *out, &d)?;
            writeln!(out)?;
            continue;
        }
        let tracks = d.tracks.as_array().map_or(&[][..], Vec::as_slice);
        writeln!(
            out,
            "{}  cd {}  {} (disc {} of {}): {}, {}  {}",
            crate::query::civil_date_time(d.made_at),
            d.kind,
            escape(&d.title),
            d.disc,
            d.discs,
            super::output::count(tracks.len(), "track", "tracks"),
            d.length,
            escape(&d.image)
        )?;
        for (n, t) in tracks.iter().enumerate() {
            let text = |k: &str| t[k].as_str().unwrap_or("").to_string();
            let line = match t.get("file") {
                Some(f) => f.as_str().unwrap_or("").to_string(),
                None => format!(
                    "{}  {} - {}",
                    text("start"),
                    text("performer"),
                    text("title")
                ),
            };
            writeln!(out, "  {:2}  {}", n + 1, escape(&line))?;
        }
    }
    Ok(())
}
