//! Engine tests through the in-memory output: gapless joins, gain, resampling, broken files,
//! events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::engine::{self, Command, Event, Options};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::output::{MemoryOutput, Output, OutputError};
use super::queue::{Item, Queue, Repeat, Shuffle};
use crate::audio::decode::decode_all;
use crate::audio::{Spec, gain};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// A queue item for a file, with nothing known of it but its name (one album, no gain).
pub(crate) fn item(path: PathBuf) -> Item {
    Item {
        id: None,
        title: path.file_stem().unwrap().to_string_lossy().into_owned(),
        album_key: "album".into(),
        path,
        artist: None,
        album: None,
        duration: 1.0,
        format: String::new(),
        gain: gain::Tags::default(),
        entry: 0,
    }
}

/// Plays `items` to the end; returns the samples, the specs opened and the events.
fn play(items: Vec<Item>, out: MemoryOutput, options: Options) -> (Vec<f32>, Vec<Event>) {
    let samples = out.samples.clone();
    let queue = Queue::new(items, Shuffle::Off, Repeat::Off, 1);
    let handle = engine::start(queue, Box::new(out), options);
    let mut events = Vec::new();
    loop {
        let e = handle
            .events
            .recv_timeout(Duration::from_secs(20))
            .expect("engine stalled");
        let end = e == Event::Ended;
        events.push(e);
        if end {
            break;
        }
    }
    handle.join();
    let s = samples.lock().unwrap().clone();
    (s, events)
}

fn concat(paths: &[&str]) -> Vec<f32> {
    paths
        .iter()
        .flat_map(|p| decode_all(&fixture(p)).unwrap().1)
        .collect()
}

fn no_gain() -> Options {
    Options {
        gain: gain::Settings {
            mode: gain::Mode::Off,
            ..gain::Settings::default()
        },
        ..Options::default()
    }
}

#[test]
fn consecutive_tracks_join_with_no_gap_and_no_overlap() {
    for pair in [
        ["library/flac/picture.flac", "library/untagged/no-tags.flac"],
        ["library/mp3/id3v23.mp3", "library/mp3/id3v24.mp3"],
        ["library/aac/tagged.m4a", "library/aac/tagged.m4a"],
        ["library/wav/list-info.wav", "library/aiff/id3.aiff"],
    ] {
        let items = pair.iter().map(|p| item(fixture(p))).collect();
        let (samples, events) = play(items, MemoryOutput::new(), no_gain());
        let expected = concat(&pair);
        assert_eq!(samples.len(), expected.len(), "{pair:?}: length");
        assert!(
            samples == expected,
            "{pair:?}: samples differ from the concatenation"
        );
        let finished: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                Event::Finished { finished, .. } => Some(*finished),
                _ => None,
            })
            .collect();
        assert_eq!(finished, [true, true], "{pair:?}: {events:?}");
        // Each start says where it stands in the play order.
        let started: Vec<(usize, usize)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Started {
                    position, total, ..
                } => Some((*position, *total)),
                _ => None,
            })
            .collect();
        assert_eq!(started, [(1, 2), (2, 2)]);
    }
}

#[test]
fn replaygain_scales_samples_by_the_tagged_gain() {
    let path = fixture("library/flac/picture.flac");
    let mut it = item(path.clone());
    it.gain = gain::Tags {
        track_gain: Some(-6.0),
        track_peak: Some(0.5),
        ..gain::Tags::default()
    };
    let options = Options {
        gain: gain::Settings {
            mode: gain::Mode::Track,
            ..gain::Settings::default()
        },
        ..Options::default()
    };
    let (samples, events) = play(vec![it], MemoryOutput::new(), options);
    let source = decode_all(&path).unwrap().1;
    let scale = 10f32.powf(-6.0 / 20.0);
    assert_eq!(samples.len(), source.len());
    for (a, b) in samples.iter().zip(&source) {
        assert!((a - b * scale).abs() < 1e-6);
    }
    let applied = events.iter().find_map(|e| match e {
        Event::Started { gain, .. } => Some(*gain),
        _ => None,
    });
    assert_eq!(applied.map(|g| g.source), Some(gain::Source::Track));
}

#[test]
fn a_rate_the_output_refuses_is_resampled_to_the_exact_length() {
    let out = MemoryOutput::with_rates(&[48000]);
    let opened = out.opened.clone();
    let path = "library/flac/picture.flac";
    let (samples, _) = play(vec![item(fixture(path))], out, no_gain());
    let frames = concat(&[path]).len() / 2;
    assert_eq!(opened.lock().unwrap()[0].rate, 48000);
    let expected = (frames as u64 * 48000 + 22050) / 44100;
    assert_eq!(samples.len() as u64, expected * 2);
}

#[test]
fn a_track_of_another_rate_reopens_the_output_at_its_rate() {
    let paths = ["library/flac/picture.flac", "library/alac/alac24.m4a"];
    let out = MemoryOutput::new();
    let opened = out.opened.clone();
    let (samples, _) = play(
        paths.iter().map(|p| item(fixture(p))).collect(),
        out,
        no_gain(),
    );
    let rates: Vec<u32> = opened.lock().unwrap().iter().map(|s| s.rate).collect();
    assert_eq!(rates, [44100, 48000]);
    assert!(
        samples == concat(&paths),
        "bit-exact at each track's own rate"
    );
}

#[test]
fn a_broken_file_is_reported_and_the_queue_goes_on() {
    let paths = [
        fixture("library/flac/picture.flac"),
        fixture("broken/random.m4a"),
        fixture("broken/truncated.flac"),
        fixture("library/untagged/no-tags.flac"),
    ];
    let (samples, events) = play(
        paths.iter().cloned().map(item).collect(),
        MemoryOutput::new(),
        no_gain(),
    );
    let errors: Vec<&PathBuf> = events
        .iter()
        .filter_map(|e| match e {
            Event::Error { path, .. } => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [&paths[1]], "{events:?}");
    let warned = events
        .iter()
        .any(|e| matches!(e, Event::Warning { path, message } if *path == paths[2] && message.contains("truncated")));
    assert!(
        warned,
        "the cut-short file plays what it has, with a warning: {events:?}"
    );
    let mut expected = concat(&["library/flac/picture.flac"]);
    expected.extend(decode_all(&paths[2]).unwrap().1);
    expected.extend(concat(&["library/untagged/no-tags.flac"]));
    assert!(samples == expected);
}

#[test]
fn start_at_skips_into_the_first_track_exactly() {
    let path = "library/flac/picture.flac";
    let options = Options {
        start_at: 0.5,
        ..no_gain()
    };
    let (samples, events) = play(vec![item(fixture(path))], MemoryOutput::new(), options);
    let all = concat(&[path]);
    assert!(samples[..] == all[22050 * 2..]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Started { at, .. } if *at == 0.5))
    );
}

/// Plays what it is given at once, but only up to `limit` frames: the engine stays mid-track,
/// answering commands, until the test raises the limit.
struct StallingOutput {
    samples: Arc<Mutex<Vec<f32>>>,
    limit: Arc<AtomicU64>,
    played: u64,
    channels: usize,
}

impl Output for StallingOutput {
    fn open(&mut self, wanted: Spec) -> Result<Spec, OutputError> {
        self.channels = usize::from(wanted.channels);
        self.played = 0;
        Ok(wanted)
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, OutputError> {
        let room = self
            .limit
            .load(Ordering::Acquire)
            .saturating_sub(self.played) as usize;
        let n = (samples.len() / self.channels).min(room) * self.channels;
        if n == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.samples
            .lock()
            .unwrap()
            .extend_from_slice(&samples[..n]);
        self.played += (n / self.channels) as u64;
        Ok(n)
    }

    fn played(&self) -> u64 {
        self.played
    }
}

/// Starts two tracks on a stalling output, waits until the first is audible, sends `command`,
/// then lets everything play. Returns the samples and the events.
fn interrupt_with(command: Command, stall_at: u64) -> (Vec<f32>, Vec<Event>) {
    let items = vec![
        item(fixture("library/flac/picture.flac")),
        item(fixture("library/untagged/no-tags.flac")),
    ];
    let samples = Arc::new(Mutex::new(Vec::new()));
    let limit = Arc::new(AtomicU64::new(stall_at));
    let out = StallingOutput {
        samples: samples.clone(),
        limit: limit.clone(),
        played: 0,
        channels: 2,
    };
    let handle = engine::start(
        Queue::new(items, Shuffle::Off, Repeat::Off, 1),
        Box::new(out),
        no_gain(),
    );
    let mut events = Vec::new();
    loop {
        let e = handle
            .events
            .recv_timeout(Duration::from_secs(20))
            .expect("engine stalled");
        let started = matches!(e, Event::Started { .. });
        events.push(e);
        if started {
            break;
        }
    }
    // Wait until the output has taken all it will, so the command lands at a known frame.
    while samples.lock().unwrap().len() < stall_at as usize * 2 {
        std::thread::sleep(Duration::from_millis(1));
    }
    handle.send(command);
    // Let the command land before the output takes more.
    std::thread::sleep(Duration::from_millis(100));
    limit.store(u64::MAX, Ordering::Release);
    loop {
        let e = handle
            .events
            .recv_timeout(Duration::from_secs(20))
            .expect("engine stalled");
        let end = e == Event::Ended;
        events.push(e);
        if end {
            break;
        }
    }
    handle.join();
    let s = samples.lock().unwrap().clone();
    (s, events)
}

fn finished(events: &[Event]) -> Vec<(usize, bool, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finished {
                index,
                finished,
                heard,
                ..
            } => Some((*index, *finished, *heard)),
            _ => None,
        })
        .collect()
}

#[test]
fn stop_ends_the_engine_and_reports_the_track_unfinished() {
    let (samples, events) = interrupt_with(Command::Stop, 11025);
    let first = concat(&["library/flac/picture.flac"]);
    assert!(
        samples[..] == first[..11025 * 2],
        "only what was heard before the stop"
    );
    let f = finished(&events);
    assert_eq!(f.len(), 1, "{events:?}");
    assert_eq!((f[0].0, f[0].1), (0, false));
    assert!((f[0].2 - 0.25).abs() < 1e-6, "heard {}", f[0].2);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Started { .. }))
            .count(),
        1
    );
    assert_eq!(events.last(), Some(&Event::Ended));
}

#[test]
fn next_cuts_the_track_and_the_next_one_plays_whole() {
    let (samples, events) = interrupt_with(Command::Next, 11025);
    let mut expected = concat(&["library/flac/picture.flac"])[..11025 * 2].to_vec();
    expected.extend(concat(&["library/untagged/no-tags.flac"]));
    assert!(samples == expected);
    let f: Vec<(usize, bool)> = finished(&events).iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(f, [(0, false), (1, true)], "{events:?}");
}

#[test]
fn a_seek_continues_the_same_playback_from_the_exact_frame() {
    let (samples, events) = interrupt_with(Command::SeekTo(0.5), 11025);
    let first = concat(&["library/flac/picture.flac"]);
    let mut expected = first[..11025 * 2].to_vec();
    expected.extend_from_slice(&first[22050 * 2..]);
    expected.extend(concat(&["library/untagged/no-tags.flac"]));
    let diff = samples.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(
        samples == expected,
        "{} samples, expected {}; first difference at {diff:?}",
        samples.len(),
        expected.len()
    );
    // One playback of the first track: announced once, finished once, heard 0.25 + 0.5 s.
    let f = finished(&events);
    assert_eq!(
        f.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
        [(0, true), (1, true)]
    );
    assert!((f[0].2 - 0.75).abs() < 1e-6, "heard {}", f[0].2);
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::Started { index: 0, .. }))
        .count();
    assert_eq!(started, 1, "{events:?}");
}

#[test]
fn queue_edits_take_effect_while_a_track_plays() {
    let first = concat(&["library/flac/picture.flac"]);
    let second = concat(&["library/untagged/no-tags.flac"]);
    // Removing the track after the playing one: it was being decoded ahead, and is dropped.
    let (samples, events) = interrupt_with(Command::Remove(1), 11025);
    assert!(samples == first, "only the first track plays");
    let f: Vec<(usize, bool)> = finished(&events).iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(f, [(0, true)], "{events:?}");
    // Enqueuing adds at the end.
    let third = item(fixture("library/wav/list-info.wav"));
    let (samples, events) = interrupt_with(Command::Enqueue(third), 11025);
    let mut expected = first.clone();
    expected.extend(&second);
    expected.extend(concat(&["library/wav/list-info.wav"]));
    assert!(samples == expected);
    assert_eq!(finished(&events).len(), 3);
    // Jumping plays that item now, cutting the current one.
    let (samples, events) = interrupt_with(Command::Jump(1), 11025);
    let mut expected = first[..11025 * 2].to_vec();
    expected.extend(&second);
    assert!(samples == expected);
    let f: Vec<(usize, bool)> = finished(&events).iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(f, [(0, false), (1, true)], "{events:?}");
}
