//! The remembered queue: what the player saves as it plays (the items, the order they play in,
//! where it was, and what the listener set: repeat, shuffle, volume, ReplayGain) and reads back
//! to resume. Items whose files are gone are left out and the order renumbered around them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::items;
use crate::audio::gain;
use crate::db::{self, Library};
use crate::player::queue::{Item, Repeat, Shuffle};

/// The saved form. A state saved before `order` existed lists the paths in play order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    pub paths: Vec<PathBuf>,
    /// Where it was, as a position in the play order.
    pub index: usize,
    pub position: f64,
    pub repeat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shuffle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaygain: Option<gain::Mode>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub consume: bool,
}

/// A queue read back.
#[derive(Debug, Clone)]
pub struct Resumed {
    pub items: Vec<Item>,
    pub order: Vec<usize>,
    /// Position in `order`.
    pub cursor: usize,
    pub position: f64,
    pub repeat: Repeat,
    pub shuffle: Shuffle,
    pub single: bool,
    pub consume: bool,
    pub volume: Option<u8>,
    pub replaygain: Option<gain::Mode>,
    /// Files left out, and why ("is gone").
    pub left_out: Vec<(PathBuf, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("nothing to resume: no queue has been played yet")]
    Nothing,
    #[error("the saved queue is unreadable: {0}")]
    Unreadable(serde_json::Error),
    #[error("nothing to resume: the saved queue's files are gone")]
    Gone,
    #[error(transparent)]
    Db(#[from] db::DbError),
}

pub fn repeat_of(name: &str) -> Repeat {
    match name {
        "all" => Repeat::All,
        "one" => Repeat::One,
        _ => Repeat::Off,
    }
}

/// Reads the saved queue back. An empty saved queue is `Gone` as well: there is nothing to play.
pub fn load(lib: &Library, prefer_computed: bool) -> Result<Resumed, ResumeError> {
    let state = lib.player_state()?.ok_or(ResumeError::Nothing)?;
    let saved: Saved = serde_json::from_str(&state).map_err(ResumeError::Unreadable)?;
    let order = saved
        .order
        .clone()
        .unwrap_or_else(|| (0..saved.paths.len()).collect());
    let playing = order.get(saved.index).copied();
    let mut items = Vec::new();
    let mut left_out = Vec::new();
    let mut new_index: Vec<Option<usize>> = Vec::with_capacity(saved.paths.len());
    let found = items::for_paths(lib, &saved.paths, prefer_computed)?;
    for (path, item) in saved.paths.iter().zip(found) {
        match item {
            Ok(item) => {
                new_index.push(Some(items.len()));
                items.push(item);
            }
            Err(why) => {
                new_index.push(None);
                left_out.push((path.clone(), why));
            }
        }
    }
    if items.is_empty() {
        return Err(ResumeError::Gone);
    }
    let kept: Vec<usize> = order
        .iter()
        .filter_map(|&i| new_index.get(i).copied().flatten())
        .collect();
    // The playing item, or the first after it that is still there.
    let (cursor, position) = match playing.and_then(|p| new_index.get(p).copied().flatten()) {
        Some(i) => (
            kept.iter().position(|&k| k == i).unwrap_or(0),
            saved.position,
        ),
        None => {
            let later = order
                .iter()
                .skip(saved.index)
                .find_map(|&i| new_index.get(i).copied().flatten());
            (
                later
                    .and_then(|i| kept.iter().position(|&k| k == i))
                    .unwrap_or(0),
                0.0,
            )
        }
    };
    Ok(Resumed {
        items,
        order: kept,
        cursor,
        position,
        repeat: repeat_of(&saved.repeat),
        shuffle: saved
            .shuffle
            .as_deref()
            .and_then(Shuffle::parse)
            .unwrap_or(Shuffle::Off),
        single: saved.single,
        consume: saved.consume,
        volume: saved.volume,
        replaygain: saved.replaygain,
        left_out,
    })
}
