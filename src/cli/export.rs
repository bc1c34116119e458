//! `tapedeck export`, `tapedeck exports` and `tapedeck profiles`: the selection and profile
//! resolved, the device's manifest read and repaired, the plan printed (`--dry-run`) or checked
//! and carried out with a progress bar, and each sync remembered in the library.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::output::{escape, escape_path};
use super::{SelectArgs, Settings, now, playlist, progress};
use crate::db::query::Selection;
use crate::db::{ExportTarget, Library};
use crate::error::{AlreadyReported, UsageError, code};
use crate::export::manifest;
use crate::export::plan::{self, Kind, Method, Plan, mb};
use crate::export::profile::{self, Profile};
use crate::export::sync::{self, Outcome};
use crate::model::Track;
use crate::names::PathTemplate;
use crate::target::Target;

#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Query terms, each argument one term (every track when neither a query nor -p is given)
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// Export this playlist's tracks and write the playlist onto the device (repeatable)
    #[arg(short = 'p', long = "playlist", value_name = "PLAYLIST")]
    pub playlists: Vec<String>,
    /// The device's folder (a mounted stick)
    #[arg(long, value_name = "MOUNTPOINT")]
    pub to: PathBuf,
    /// Device profile: a built-in one (car, car-strict, stick) or one of profiles.toml (see
    /// `tapedeck profiles`) [default: the device's last, else the configuration's, else car]
    #[arg(long, value_name = "NAME", value_parser = ProfileNames, hide_possible_values = true)]
    pub profile: Option<String>,
    /// Path template [default: the profile's]
    #[arg(long, value_name = "TEMPLATE")]
    pub template: Option<String>,
    /// Print the plan and the space it needs, and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Parallel workers for encoding [default: all cores]
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Print the plan or the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// Go ahead when the sync would delete more than half of the files tapedeck wrote on the
    /// device (or all of them, as an empty selection does)
    #[arg(long)]
    pub delete: bool,
    /// Export into a folder that was a mount point at its last sync and is not one now (and
    /// holds no manifest): without this, such a run is refused (is the stick mounted?)
    #[arg(long)]
    pub fresh: bool,
}

/// `--profile`: any name (profiles.toml may define more), with the built-in ones offered to
/// shell completion.
#[derive(Debug, Clone, Copy)]
pub struct ProfileNames;

impl clap::builder::TypedValueParser for ProfileNames {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(profile::builtins().into_iter().map(|p| {
            clap::builder::PossibleValue::new(p.name).help(p.description)
        })))
    }
}

/// Runs a sync (given the cancel flag and the per-file tick to pass it) with a bar of `to_make`
/// files when `show_bar`, then names each file noted or failed: export and MP3 CDs make their
/// files this way.
pub(super) fn run_sync(
    to_make: usize,
    show_bar: bool,
    run: impl FnOnce(
        &std::sync::atomic::AtomicBool,
        &(dyn Fn() + std::marker::Sync),
    ) -> std::result::Result<(Outcome, manifest::Manifest), crate::target::Error>,
) -> std::result::Result<Outcome, crate::target::Error> {
    let bar = progress::counting_bar(to_make as u64, "files", show_bar);
    let tick = || {
        if let Some(b) = &bar {
            b.inc(1);
        }
    };
    let cancel = super::interrupt::flag();
    let result = run(&cancel, &tick);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let (outcome, _) = result?;
    for (file, why) in &outcome.notes {
        super::style::note(format_args!("{}: {}", escape(file), escape(why)));
    }
    for (file, why) in &outcome.failures {
        super::style::error(format_args!("{}: {}", escape(file), escape(why)));
    }
    Ok(outcome)
}

/// The profiles, built-in and from `profiles.toml` beside the configuration file.
pub(super) fn profiles(ctx: &Settings) -> Result<Vec<Profile>> {
    let path = ctx.config_path.as_deref().map(profile::path_beside);
    profile::load(path.as_deref()).map_err(|e| UsageError(e).into())
}

/// The selected tracks (the query's, and every `-p` playlist's), and the playlists (name, track
/// ids) to write.
type Selected = (Vec<Track>, Vec<(String, Vec<i64>)>);

fn select(lib: &Library, args: &ExportArgs) -> Result<Selected> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut lists = Vec::new();
    for name in &args.playlists {
        let p = playlist::find(lib, name)?;
        let ids = playlist::track_ids(lib, &p)?;
        for t in lib.tracks_by_ids(&ids)? {
            if seen.insert(t.id) {
                tracks.push(t);
            }
        }
        lists.push((p.name.clone(), ids));
    }
    if !args.query.is_empty() || args.playlists.is_empty() {
        let select = SelectArgs {
            query: args.query.clone(),
            sort: None,
            playlist: None,
        };
        let q = select.parse()?;
        lib.for_each_track(
            &Selection {
                query: Some(&q),
                random: false,
                limit: None,
                within: false,
            },
            |t| {
                if seen.insert(t.id) {
                    tracks.push(t);
                }
                Ok(())
            },
        )??;
    }
    Ok((tracks, lists))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn method_text(p: &Profile, m: Method) -> String {
    match m {
        Method::Copy => "copy".into(),
        Method::CopyRetag => "copy, tags rewritten".into(),
        Method::CopyGain { steps } => format!(
            "copy, gain {:+.1} dB in the frames, tags rewritten",
            f64::from(steps) * 1.5
        ),
        Method::Encode { lossy } => {
            let what = match (p.format, p.vbr, p.bitrate) {
                (crate::convert::encode::Format::Mp3, Some(v), _) => format!("mp3 V{v}"),
                (crate::convert::encode::Format::Mp3, None, b) => {
                    format!("mp3 {}k", b.unwrap_or(320))
                }
                (crate::convert::encode::Format::Aac, _, b) => format!("aac {}k", b.unwrap_or(256)),
                (f, _, _) => f.name().to_string(),
            };
            if lossy {
                format!("encode {what} (lossy to lossy)")
            } else {
                format!("encode {what}")
            }
        }
    }
}

fn counts_json(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "add": plan.count(Kind::Add),
        "reencode": plan.count(Kind::Reencode),
        "retag": plan.count(Kind::Retag),
        "rename": plan.count(Kind::Rename),
        "delete": plan.deletes.len(),
        "keep": plan.count(Kind::Keep),
        "lossy_reencode": plan.items.iter().filter(|i| i.kind != Kind::Keep
            && matches!(i.method, Method::Encode { lossy: true })).count(),
        "folders_rewritten": plan.rewrites(),
        "playlists": plan.playlists.iter().filter(|p| p.changed).count(),
        "playlist_deletes": plan.playlist_deletes.len(),
        "clashes": plan.clashes.len(),
    })
}

fn print_plan(
    out: &mut dyn Write,
    plan: &Plan,
    tracks: &[Track],
    profile: &Profile,
    root: &Path,
    json: bool,
) -> Result<()> {
    if json {
        let files: Vec<serde_json::Value> =
            plan.items
                .iter()
                .filter(|i| i.kind != Kind::Keep)
                .map(|i| {
                    serde_json::json!({
                        "action": i.kind.name(),
                        "path": i.path,
                        "from": i.from,
                        "source": tracks[i.track].path.to_string_lossy(),
                        "how": method_text(profile, i.method),
                        "bytes": i.bytes,
                        "note": i.note,
                    })
                })
                .chain(plan.deletes.iter().map(
                    |d| serde_json::json!({"action": "delete", "path": d.path, "bytes": d.bytes}),
                ))
                .collect();
        let v = serde_json::json!({
            "dry_run": true,
            "target": root.to_string_lossy(),
            "profile": profile.name,
            "changes": plan.changes(),
            "counts": counts_json(plan),
            "bytes_needed": plan.bytes_needed,
            "bytes_freed": plan.bytes_freed,
            "free": plan.free,
            "files": files,
            "folders_rewritten": plan.folders.iter().filter(|f| f.rewrite)
                .map(|f| &f.path).collect::<Vec<_>>(),
            "playlists": plan.playlists,
            "playlist_deletes": plan.playlist_deletes,
            "clashes": plan.clashes,
            "problems": plan.problems,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    for i in plan.items.iter().filter(|i| i.kind != Kind::Keep) {
        let from = match (&i.from, i.kind) {
            (Some(f), Kind::Rename) => format!("  (was {})", escape(f)),
            (Some(f), _) if *f != i.path => format!("  (replaces {})", escape(f)),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<9} {}  <- {}  [{}]{from}",
            i.kind.name(),
            escape(&i.path),
            escape_path(&tracks[i.track].path),
            method_text(profile, i.method)
        )?;
    }
    for d in &plan.deletes {
        writeln!(out, "{:<9} {}", "delete", escape(&d.path))?;
    }
    for f in plan.folders.iter().filter(|f| f.rewrite) {
        writeln!(
            out,
            "{:<9} {}/  (rewritten in play order)",
            "reorder",
            escape(&f.path)
        )?;
    }
    for p in plan.playlists.iter().filter(|p| p.changed) {
        writeln!(
            out,
            "{:<9} {}  ({})",
            "playlist",
            escape(&p.path),
            super::output::count(p.entries, "entry", "entries")
        )?;
    }
    for p in &plan.playlist_deletes {
        writeln!(out, "{:<9} {}", "delete", escape(p))?;
    }
    for c in &plan.clashes {
        writeln!(out, "clash     {}", escape(c))?;
    }
    writeln!(
        out,
        "plan: add {}, re-encode {}, retag {}, rename {}, delete {}, unchanged {}; {} folders \
         rewritten in order; {} playlist files",
        plan.count(Kind::Add),
        plan.count(Kind::Reencode),
        plan.count(Kind::Retag),
        plan.count(Kind::Rename),
        plan.deletes.len(),
        plan.count(Kind::Keep),
        plan.rewrites(),
        plan.playlists.iter().filter(|p| p.changed).count()
    )?;
    writeln!(
        out,
        "space: writes about {}, frees {}; {}",
        mb(plan.bytes_needed),
        mb(plan.bytes_freed),
        match plan.free {
            Some(f) => format!("{} free on the device", mb(f)),
            None => "the device does not say how much is free".into(),
        }
    )?;
    for p in &plan.problems {
        writeln!(out, "does not fit: {p}")?;
    }
    Ok(())
}

pub fn export(ctx: &Settings, args: &ExportArgs, out: &mut dyn Write) -> Result<()> {
    let all = profiles(ctx)?;
    if !args.to.is_dir() {
        return Err(UsageError(format!(
            "--to {}: not a folder (is the stick mounted?)",
            args.to.display()
        ))
        .into());
    }
    let mut target = Target::open(&args.to)?;
    let mount_point = target.is_mount_point();
    let root = target.root().to_path_buf();
    // Read before the lock (which creates `.tapedeck`) to check the folder is the device; read
    // again under the lock.
    let loaded = manifest::load(&target).map_err(anyhow::Error::msg)?;
    let previous = loaded.manifest.as_ref().map(|m| m.profile.clone());
    let previous_template = loaded.manifest.as_ref().and_then(|m| m.template.clone());
    let configured = ctx.config.profile.as_ref();
    let from_config = args.profile.is_none() && previous.is_none() && configured.is_some();
    let name = args
        .profile
        .clone()
        .or(previous.clone())
        .or(configured.map(|s| s.value.clone()))
        .unwrap_or_else(|| "car".into());
    let Some(profile) = all.iter().find(|p| p.name == name).cloned() else {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        let origin = match (from_config, &ctx.config_path, configured) {
            (true, Some(path), Some(s)) => {
                format!(" (export.profile in {}, line {})", path.display(), s.line)
            }
            _ => String::new(),
        };
        return Err(UsageError(format!(
            "no profile named `{name}`{origin}; profiles are {} (`tapedeck profiles` shows them)",
            names.join(", ")
        ))
        .into());
    };
    if cfg!(not(feature = "aac")) && profile.format == crate::convert::encode::Format::Aac {
        return Err(UsageError(
            "AAC encoding was left out of this build (cargo feature `aac`)".into(),
        )
        .into());
    }
    let template_text = args
        .template
        .clone()
        .or(previous_template.filter(|_| previous.as_deref() == Some(name.as_str())))
        .unwrap_or_else(|| profile.template.clone());
    let template = PathTemplate::parse(&template_text)
        .map_err(|e| UsageError(format!("invalid --template: {e}")))?;

    let mut lib = ctx.open_library()?;
    // A folder that was a mount point at the last sync, is none now and holds no manifest:
    // the stick is not mounted, and this is the bare mount point on the system disk.
    if loaded.manifest.is_none() && !mount_point && !args.fresh {
        let key = root.to_string_lossy();
        if let Some(e) = lib
            .exports()?
            .into_iter()
            .find(|e| e.target == key && e.mount_point)
        {
            return Err(anyhow::anyhow!(
                "{}: it was a mount point when the export of {} put {} there, and it is \
                 not one now (and holds no tapedeck manifest): is the stick mounted? Nothing was \
                 written (pass --fresh to export into this folder anyway)",
                escape_path(&root),
                crate::query::civil_date_time(e.last_sync),
                super::output::count(e.tracks, "track", "tracks")
            ));
        }
    }
    let (mut tracks, lists) = select(&lib, args)?;
    if super::play::prefer_computed(ctx) {
        tracks
            .iter_mut()
            .for_each(crate::audio::gain::prefer_computed);
    }
    if tracks.is_empty() && args.playlists.is_empty() && !args.query.is_empty() {
        return Err(UsageError("nothing matches".into()).into());
    }
    let loaded = if args.dry_run {
        loaded
    } else {
        target.lock()?;
        manifest::load(&target).map_err(anyhow::Error::msg)?
    };
    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    let fingerprints: HashMap<i64, String> = lib
        .identities(&ids)?
        .into_iter()
        .map(|i| (i.id, hex(&i.fingerprint)))
        .collect();

    let (mut manifest, problems) = sync::recover(&target, loaded, &profile.name, !args.dry_run);
    for p in &problems {
        super::style::warn(format_args!("{}: {}", escape_path(&root), escape(p)));
    }
    manifest.template = (template_text != profile.template).then(|| template_text.clone());
    let (existing, links) = sync::scan_device(&target)?;
    for l in &links {
        super::style::warn(format_args!(
            "{}: a symbolic link on the device; tapedeck never writes through it or over it",
            escape_path(&root.join(l))
        ));
    }
    let free = target.free_space();
    let plan_with = |manifest: &manifest::Manifest| {
        plan::plan(&plan::Input {
            tracks: &tracks,
            fingerprints: &fingerprints,
            playlists: &lists,
            manifest,
            profile: &profile,
            template: &template,
            fields: &crate::query::field_text,
            existing: &existing,
            free,
            fold_case: true,
            given_order: false,
        })
    };
    // Files of ours that changed since they were written are the user's now: planned around,
    // never replaced, moved or removed. Only the files the plan touches are read in full.
    let mut plan = plan_with(&manifest);
    loop {
        let touch = sync::touched(&plan, &manifest);
        let changed = sync::verify(&target, &manifest, &existing, &links, &touch);
        if changed.is_empty() {
            break;
        }
        for (path, why) in &changed {
            super::style::warn(format_args!(
                "{}: changed since tapedeck wrote it ({why}); it is yours now and is \
                 left alone",
                escape_path(&root.join(path))
            ));
        }
        sync::disown(&mut manifest, &changed);
        plan = plan_with(&manifest);
    }
    if args.dry_run {
        print_plan(out, &plan, &tracks, &profile, &root, args.json)?;
        if !plan.problems.is_empty() {
            return Err(AlreadyReported(code::FAILURE).into());
        }
        return Ok(());
    }
    // Large deletions are asked for.
    let ours = manifest.files.len();
    let deleting = plan.deletes.len();
    if deleting > 0 && (deleting == ours || deleting * 2 > ours) && !args.delete {
        let what = if tracks.is_empty() {
            "the selection is empty, so "
        } else {
            ""
        };
        let ask = format!(
            "{what}this sync would delete {deleting} of the {ours} files tapedeck wrote on {}",
            root.display()
        );
        if !confirm(&ask)? {
            return Err(anyhow::anyhow!(
                "{ask}; nothing was changed (`--dry-run` shows the plan; pass --delete to go ahead)"
            ));
        }
    }
    for c in &plan.clashes {
        super::style::warn(format_args!("{}", escape(c)));
    }
    if !plan.problems.is_empty() {
        let list: Vec<String> = plan.problems.iter().map(|p| format!("  - {p}")).collect();
        return Err(anyhow::anyhow!(
            "the export does not fit {}; nothing was written:\n{}",
            root.display(),
            list.join("\n")
        ));
    }
    for i in &plan.items {
        if let Some(n) = &i.note
            && ctx.verbose > 0
        {
            super::style::note(format_args!(
                "{}: {}",
                escape_path(&tracks[i.track].path),
                escape(n)
            ));
        }
    }

    if plan.is_empty() && previous.as_deref() == Some(profile.name.as_str()) {
        // Nothing to do: the device is not written at all (not even the manifest).
        let outcome = Outcome {
            kept: plan.count(Kind::Keep),
            tracks: manifest.files.len(),
            bytes: manifest.files.values().map(|e| e.size).sum(),
            ..Outcome::default()
        };
        record(&mut lib, &root, mount_point, &profile, &outcome, "ok")?;
        return summary(out, ctx, args, &outcome, &profile, &root, Duration::ZERO);
    }
    let to_make = plan
        .items
        .iter()
        .filter(|i| matches!(i.kind, Kind::Add | Kind::Reencode | Kind::Retag))
        .count();
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let show_bar = !ctx.quiet && !args.json && std::io::stderr().is_terminal();
    let outcome = run_sync(to_make, show_bar, |cancel, progress| {
        sync::Sync {
            target: &target,
            plan: &plan,
            tracks: &tracks,
            fingerprints: &fingerprints,
            profile: &profile,
            manifest,
            cancel,
            workers,
            progress,
            now: now(),
        }
        .run()
    })?;
    if outcome.gone {
        return Err(crate::target::Error::Gone { root: root.clone() }.into());
    }
    let result = if outcome.full {
        "full".to_string()
    } else if outcome.interrupted {
        "interrupted".to_string()
    } else if outcome.failed > 0 {
        format!("{} failed", outcome.failed)
    } else {
        "ok".to_string()
    };
    record(&mut lib, &root, mount_point, &profile, &outcome, &result)?;
    summary(out, ctx, args, &outcome, &profile, &root, started.elapsed())?;
    if outcome.full {
        return Err(anyhow::anyhow!(
            "{} is full: {} files were written and recorded, the rest were not; free some space \
             or select less, then run the same command again (nothing half-written is left)",
            root.display(),
            outcome.added + outcome.reencoded + outcome.retagged
        ));
    }
    if outcome.interrupted {
        return Err(anyhow::anyhow!(
            "interrupted: finished files are kept and recorded; run the same command again to \
             do the rest"
        ));
    }
    if outcome.failed > 0 {
        return Err(AlreadyReported(code::FAILURE).into());
    }
    Ok(())
}

/// Asks on a terminal whether to go ahead (`false` without a terminal).
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Ok(false);
    }
    eprint!("{question}. Go ahead? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Remembers the sync in the library (`tapedeck exports`).
fn record(
    lib: &mut Library,
    root: &Path,
    mount_point: bool,
    profile: &Profile,
    o: &Outcome,
    result: &str,
) -> Result<()> {
    let target = root.to_string_lossy().into_owned();
    let first = lib
        .exports()?
        .into_iter()
        .find(|e| e.target == target)
        .map_or(now(), |e| e.first_sync);
    lib.write(|w| {
        w.record_export(&ExportTarget {
            target: target.clone(),
            profile: profile.name.clone(),
            first_sync: first,
            last_sync: now(),
            tracks: o.tracks as i64,
            bytes: o.bytes as i64,
            result: result.to_string(),
            mount_point,
        })
    })?;
    Ok(())
}

fn summary(
    out: &mut dyn Write,
    ctx: &Settings,
    args: &ExportArgs,
    o: &Outcome,
    profile: &Profile,
    root: &Path,
    elapsed: Duration,
) -> Result<()> {
    if args.json {
        let mut v = serde_json::to_value(o)?;
        v["target"] = root.to_string_lossy().into();
        v["profile"] = profile.name.clone().into();
        v["seconds"] = elapsed.as_secs_f64().into();
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
    } else if !ctx.quiet {
        let mut parts = Vec::new();
        for (n, what) in [
            (o.added, "added"),
            (o.reencoded, "re-encoded"),
            (o.retagged, "retagged"),
            (o.renamed, "renamed"),
            (o.deleted, "deleted"),
            (o.kept, "unchanged"),
            (o.folders_rewritten, "folders rewritten in order"),
            (o.playlists_written, "playlist files written"),
            (o.failed, "failed"),
        ] {
            if n > 0 || what == "added" {
                parts.push(format!("{n} {what}"));
            }
        }
        writeln!(
            out,
            "{}; {} written in {:.1} s; {} ({}) on {}",
            parts.join(", "),
            mb(o.bytes_written),
            elapsed.as_secs_f64(),
            super::output::count(o.tracks, "track", "tracks"),
            mb(o.bytes),
            root.display()
        )?;
        if !o.full && !o.interrupted {
            writeln!(out, "flushed: safe to remove {}", root.display())?;
        }
    }
    Ok(())
}

/// `tapedeck exports`.
pub fn exports(ctx: &Settings, json: bool, out: &mut dyn Write) -> Result<()> {
    let lib = ctx.open_library()?;
    for e in lib.exports()? {
        if json {
            serde_json::to_writer(&mut *out, &e)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{}  {:<10}  {:>6} tracks  {:>10}  {}  ({})",
                crate::query::civil_date_time(e.last_sync),
                e.profile,
                e.tracks,
                mb(e.bytes.max(0) as u64),
                e.target,
                e.result
            )?;
        }
    }
    Ok(())
}

/// `tapedeck profiles`.
pub fn profiles_cmd(ctx: &Settings, json: bool, out: &mut dyn Write) -> Result<()> {
    let all = profiles(ctx)?;
    if json {
        for p in &all {
            serde_json::to_writer(&mut *out, p)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    for (n, p) in all.iter().enumerate() {
        if n > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}: {}", p.name, p.description)?;
        for (k, v) in p.settings() {
            writeln!(out, "  {k:<22} {v}")?;
        }
    }
    if let Some(path) = ctx.config_path.as_deref().map(profile::path_beside) {
        writeln!(out, "\nyour own profiles go in {}", path.display())?;
    }
    Ok(())
}
