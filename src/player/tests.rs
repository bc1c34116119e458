//! Engine tests through the in-memory output: gapless joins, gain, resampling, broken files,
//! events.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::engine::{self, Command, Event, Options};
use super::output::MemoryOutput;
use super::queue::{Item, Queue, Repeat, Shuffle};
use crate::audio::decode::decode_all;
use crate::audio::gain;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn item(path: PathBuf) -> Item {
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
        let started = events
            .iter()
            .filter(|e| matches!(e, Event::Started { .. }))
            .count();
        assert_eq!(started, 2);
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

#[test]
fn stop_ends_the_engine_and_reports_the_track_unfinished() {
    let items = vec![item(fixture("library/flac/picture.flac"))];
    let out = MemoryOutput::new();
    let queue = Queue::new(items, Shuffle::Off, Repeat::Off, 1);
    let handle = engine::start(queue, Box::new(out), no_gain());
    handle.send(Command::Stop);
    let events: Vec<Event> = handle.events.iter().collect();
    assert_eq!(events.last(), Some(&Event::Ended));
}
