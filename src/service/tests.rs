//! Service tests through the in-memory output: named entries and their versions, edits, the
//! engine restarted after a stop, consume, and the remembered queue.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::player::output::MemoryOutput;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn item(rel: &str) -> Item {
    crate::player::tests::item(fixture(rel))
}

/// A service over the in-memory output; `samples` collects what every engine wrote.
fn service(items: Vec<Item>) -> (Service, Arc<Mutex<Vec<f32>>>) {
    let (settings, samples) = Settings::in_memory();
    let lib = Library::empty().unwrap();
    let s = Service::start(
        lib,
        settings,
        Initial {
            items,
            ..Initial::default()
        },
    );
    (s, samples)
}

fn wait_stopped(s: &Service) {
    let started = Instant::now();
    while s.status().state != State::Stop {
        assert!(started.elapsed() < Duration::from_secs(20), "never stopped");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const A: &str = "library/flac/picture.flac";
const B: &str = "library/untagged/no-tags.flac";

#[test]
fn entries_keep_their_ids_and_versions_through_edits() {
    let (s, _) = service(vec![item(A), item(B)]);
    let ids: Vec<u32> = s.entries().iter().map(|e| e.id).collect();
    assert_eq!(ids, [1, 2]);
    let v0 = s.status().version;
    let added = s.add(vec![item(A)], Some(1)).unwrap();
    assert_eq!(added, [3]);
    let after: Vec<u32> = s.entries().iter().map(|e| e.id).collect();
    assert_eq!(after, [1, 3, 2]);
    // What moved or arrived changed in the new version; the first entry did not.
    let changed: Vec<u32> = s
        .entries()
        .iter()
        .filter(|e| e.version > v0)
        .map(|e| e.id)
        .collect();
    assert_eq!(changed, [3, 2]);
    s.move_id(2, 0).unwrap();
    s.swap(1, 2).unwrap();
    let order: Vec<u32> = s.entries().iter().map(|e| e.id).collect();
    assert_eq!(order, [2, 3, 1]);
    assert!(matches!(s.delete(2, 9), Err(ServiceError::BadPosition)));
    assert!(matches!(s.delete_id(99), Err(ServiceError::NoSuchSong)));
    s.delete_id(3).unwrap();
    assert_eq!(s.entries().len(), 2);
    assert!(s.status().version > v0);
    s.shutdown();
}

#[test]
fn a_stopped_queue_plays_again_from_where_it_is_asked() {
    let (s, samples) = service(vec![item(A), item(B)]);
    s.play(Some(1)).unwrap();
    wait_stopped(&s);
    let one = samples.lock().unwrap().len();
    let b = crate::audio::decode::decode_all(&fixture(B)).unwrap().1;
    assert_eq!(one, b.len(), "only the second entry played");
    // The queue ran out: a new `play` starts it over, with a new engine.
    s.play(None).unwrap();
    wait_stopped(&s);
    let a = crate::audio::decode::decode_all(&fixture(A)).unwrap().1;
    assert_eq!(samples.lock().unwrap().len(), one + a.len() + b.len());
    assert_eq!(s.status().current, None);
    s.shutdown();
}

#[test]
fn consume_removes_what_played() {
    let (s, _) = service(vec![item(A), item(B)]);
    s.set_consume(true);
    s.play(None).unwrap();
    wait_stopped(&s);
    let started = Instant::now();
    while !s.entries().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(10), "entries left");
        std::thread::sleep(Duration::from_millis(10));
    }
    s.shutdown();
}

#[test]
fn changes_reach_subscribers_coalesced() {
    let (s, _) = service(vec![item(A)]);
    let sub = s.subscribe();
    s.set_volume(30);
    s.set_volume(40);
    s.set_repeat(Repeat::All);
    assert!(sub.wake().recv_timeout(Duration::from_secs(1)).is_ok());
    let got = sub.take();
    assert!(got.contains(Changes::MIXER) && got.contains(Changes::OPTIONS));
    assert!(!got.contains(Changes::PLAYLIST));
    assert!(sub.take().is_empty(), "taken once");
    s.shutdown();
}

#[test]
fn the_queue_is_remembered_for_a_resume() {
    let out = MemoryOutput::new();
    let settings = Settings {
        gain: gain::Settings::default(),
        volume: 64,
        prefer_computed: false,
        output: Arc::new(move || Ok(Box::new(out.clone()) as Box<dyn Output>)),
        seed: 1,
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lib.db");
    let lib = Library::open(&db).unwrap();
    let s = Service::start(
        lib,
        settings,
        Initial {
            items: vec![item(A), item(B)],
            ..Initial::default()
        },
    );
    s.set_single(true);
    s.set_gain_mode(gain::Mode::Track);
    s.shutdown();
    let lib = Library::open(&db).unwrap();
    let r = resume::load(&lib, false).unwrap();
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.volume, Some(64));
    assert!(r.single);
    assert_eq!(r.replaygain, Some(gain::Mode::Track));
}
