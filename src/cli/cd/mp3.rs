//! `tapedeck cd --mp3`: the selection planned as an export with a car profile (encoding, tags,
//! cover, names) under the head-unit limits of MP3 discs, made in a scratch folder by the
//! export's own sync, then written as an ISO image (`cd::iso`).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use super::super::output::{escape, escape_path};
use super::super::{Settings, now};
use super::{CdArgs, burn_image, disc_text, image_rules};
use crate::cd::iso::{self, IsoError};
use crate::cd::{burn, plan::Media};
use crate::db::{DiscMade, Library};
use crate::error::UsageError;
use crate::export::manifest::Manifest;
use crate::export::plan::{self, Kind};
use crate::export::profile::Profile;
use crate::export::sync;
use crate::model::Track;
use crate::names::{self, PathTemplate};
use crate::target::{Scratch, Target};

/// The profile with the MP3 disc's limits laid over its own.
fn disc_profile(mut p: Profile) -> Profile {
    let at_most = |v: Option<usize>, max: usize| Some(v.map_or(max, |n| n.min(max)));
    p.files_per_folder = at_most(p.files_per_folder, iso::FILES_PER_FOLDER);
    p.max_folders = at_most(p.max_folders, iso::MAX_FOLDERS);
    p.max_files = at_most(p.max_files, iso::MAX_FILES);
    p.max_depth = at_most(p.max_depth, iso::MAX_DEPTH);
    p.max_name = p.max_name.min(iso::MAX_NAME);
    p.reserve_mb = 0;
    p
}

/// The names of a disc in the selection's own order: its position, artist and title.
const ORDERED_TEMPLATE: &str = "$track $artist - $title";

/// Room the ISO's own structures take (volume descriptors, path tables, directory records),
/// counted against the limit before the files: 1 MiB and 4 KiB per file, more than xorriso
/// uses.
fn overhead(files: usize) -> u64 {
    (1 << 20) + files as u64 * 4096
}

pub(super) fn mp3_cd(
    ctx: &Settings,
    args: &CdArgs,
    lib: &mut Library,
    tracks: Vec<Track>,
    media: Media,
    out: &mut dyn Write,
) -> Result<()> {
    if args.split {
        return Err(UsageError("--split plans audio CDs; an MP3 CD is one image".into()).into());
    }
    let all = super::super::export::profiles(ctx)?;
    let Some(profile) = all.iter().find(|p| p.name == args.profile).cloned() else {
        let names: Vec<&str> = all.iter().map(|p| p.name.as_str()).collect();
        return Err(UsageError(format!(
            "no profile named `{}`; profiles are {}",
            args.profile,
            names.join(", ")
        ))
        .into());
    };
    let profile = disc_profile(profile);
    let limit = args
        .size
        .map_or(media.sectors() * iso::SECTOR_BYTES, |mb| mb << 20);
    // A playlist (or a sort) is played in its own order: a head unit plays a folder's files by
    // name, so the disc holds them in one folder, numbered in that order, instead of in album
    // folders.
    let ordered = args.select.playlist.is_some() || args.select.sort.is_some();
    let template = if ordered {
        PathTemplate::parse(ORDERED_TEMPLATE).expect("a valid template")
    } else {
        PathTemplate::parse(&profile.template)
            .map_err(|e| UsageError(format!("the profile's template: {e}")))?
    };

    let ids: Vec<i64> = tracks.iter().map(|t| t.id).collect();
    let fingerprints: HashMap<i64, String> = lib
        .identities(&ids)?
        .into_iter()
        .map(|i| (i.id, super::super::export::hex(&i.fingerprint)))
        .collect();
    let manifest = Manifest::new(&profile.name);
    let existing = HashMap::new();
    let plan = plan::plan(&plan::Input {
        tracks: &tracks,
        fingerprints: &fingerprints,
        playlists: &[],
        manifest: &manifest,
        profile: &profile,
        template: &template,
        fields: &crate::query::field_text,
        existing: &existing,
        free: Some(limit.saturating_sub(overhead(tracks.len()))),
        fold_case: true,
        given_order: ordered,
    });
    let text = disc_text(&tracks, args.title.as_deref());
    let volid = iso::volume_id(&text.title);
    let iso_name = format!("{}.iso", names::component(&text.title, &image_rules()));
    if args.dry_run || !plan.problems.is_empty() {
        print_plan(out, args, &plan, &tracks, &profile, &iso_name, limit)?;
        if !plan.problems.is_empty() {
            let list: Vec<String> = plan.problems.iter().map(|p| format!("  - {p}")).collect();
            let msg = format!(
                "the selection does not fit an MP3 CD ({} MiB, profile {}):\n{}",
                limit >> 20,
                profile.name,
                list.join("\n")
            );
            if args.dry_run {
                super::super::style::warn(msg);
                return Ok(());
            }
            return Err(UsageError(msg).into());
        }
        return Ok(());
    }
    let mut target = Target::create(&args.to).context("cannot open --to")?;
    target.lock()?;
    crate::cd::image::remove_leftovers(&target)?;
    let rel = crate::target::RelPath::parse(&iso_name)?;
    if target.meta(&rel)?.is_some() {
        return Err(crate::target::Error::Exists {
            path: target.display(&rel),
        }
        .into());
    }
    let scratch = Scratch::new().context("cannot make a scratch folder")?;
    let tree_path = scratch.path(0, "tree");
    let tree = Target::create(&tree_path)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let show_bar = !ctx.quiet && !args.json && std::io::stderr().is_terminal();
    let outcome =
        super::super::export::run_sync(plan.items.len(), show_bar, |cancel, progress| {
            sync::Sync {
                target: &tree,
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
    if outcome.interrupted {
        return Err(crate::target::Error::Interrupted.into());
    }
    if outcome.failed > 0 || outcome.full {
        return Err(anyhow::anyhow!(
            "{} of the files could not be made; no image was written",
            outcome.failed.max(1)
        ));
    }
    let size = match iso::write(&target, &iso_name, &tree_path, &volid, limit) {
        Ok(size) => size,
        Err(IsoError::Target(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    drop(tree);
    drop(scratch);
    let root = target.root().to_path_buf();
    let elapsed = started.elapsed().as_secs_f64();
    let files: Vec<&str> = plan.items.iter().map(|i| i.path.as_str()).collect();
    let list: Vec<serde_json::Value> = plan
        .items
        .iter()
        .map(|i| {
            let t = &tracks[i.track];
            serde_json::json!({ "file": i.path, "id": t.id, "title": t.title, "artist": t.artist })
        })
        .collect();
    lib.write(|w| {
        w.record_disc(&DiscMade {
            made_at: now(),
            kind: "mp3".into(),
            image: root.join(&iso_name).to_string_lossy().into_owned(),
            title: text.title.clone(),
            disc: 1,
            discs: 1,
            length: format!("{size} bytes"),
            tracks: serde_json::Value::Array(list),
        })
    })?;
    if args.json {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({
                "dry_run": false,
                "kind": "mp3",
                "target": root.to_string_lossy(),
                "profile": profile.name,
                "image": iso_name,
                "volume_id": volid,
                "bytes": size,
                "limit_bytes": limit,
                "seconds": elapsed,
                "files": files,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "wrote {}: {} files, {:.1} MiB of {} MiB, in {elapsed:.1}s",
            escape_path(&root.join(&iso_name)),
            files.len(),
            size as f64 / f64::from(1 << 20),
            limit >> 20
        )?;
    }
    if let Some(device) = &args.burn {
        let cmd = burn::data(device, Path::new(&iso_name));
        burn_image(device, &[cmd], size.div_ceil(iso::SECTOR_BYTES), &root)?;
    }
    Ok(())
}

fn print_plan(
    out: &mut dyn Write,
    args: &CdArgs,
    plan: &plan::Plan,
    tracks: &[Track],
    profile: &Profile,
    iso_name: &str,
    limit: u64,
) -> Result<()> {
    let bytes: u64 = plan.items.iter().map(|i| i.bytes).sum();
    if args.json {
        let files: Vec<serde_json::Value> = plan
            .items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "path": i.path,
                    "source": tracks[i.track].path.to_string_lossy(),
                    "how": super::super::export::method_text(profile, i.method),
                    "bytes": i.bytes,
                })
            })
            .collect();
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({
                "dry_run": args.dry_run,
                "kind": "mp3",
                "profile": profile.name,
                "image": iso_name,
                "bytes": bytes,
                "limit_bytes": limit,
                "fits": plan.problems.is_empty(),
                "problems": plan.problems,
                "files": files,
            }),
        )?;
        writeln!(out)?;
        return Ok(());
    }
    for i in plan.items.iter().filter(|i| i.kind == Kind::Add) {
        writeln!(
            out,
            "  {}  ({})",
            escape(&i.path),
            super::super::export::method_text(profile, i.method)
        )?;
    }
    writeln!(
        out,
        "{}: {} files, about {:.1} MiB of {} MiB (profile {})",
        escape(iso_name),
        plan.items.len(),
        bytes as f64 / f64::from(1 << 20),
        limit >> 20,
        profile.name
    )?;
    Ok(())
}
