//! The sound card, through rodio (the only file that names it): listing output devices, and an
//! [`Output`] that opens a device at the track's rate and channel count when the device allows
//! it, falling back to the device's own configuration (the engine then resamples).
//!
//! The engine's samples reach the device through one long-lived source of our own fed from a
//! bounded buffer, never through a rodio `Player` queue, so there is no seam between tracks
//! (and none of the `Player` start-up glitch, upstream rodio #811). When the buffer runs dry
//! the source waits briefly for the engine before it plays silence: a device that is not paced
//! by a clock (ALSA's file and null devices) then still receives every sample in order.

use std::collections::VecDeque;
use std::num::NonZero;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rodio::cpal::traits::{DeviceTrait, HostTrait};
use rodio::{DeviceSinkBuilder, MixerDeviceSink, Source};

use super::output::{Output, OutputError};
use crate::audio::Spec;

/// One output device as listed by `tapedeck devices`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceInfo {
    /// The short name `--device` takes (ALSA's PCM name, as in `default` or `hw:CARD=PCH,DEV=0`).
    pub name: String,
    /// What the system says the device is, its lines joined.
    pub description: String,
    /// The device used when no `--device` is given.
    pub default: bool,
    /// Sample rates the device reports (min-max per configuration).
    pub rates: Vec<(u32, u32)>,
    pub max_channels: u16,
}

/// The short name of a device: its id on the host, without the host's prefix.
fn device_id(device: &rodio::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_string())
}

/// The device's description, its lines joined with ", ".
fn device_description(device: &rodio::Device) -> String {
    match device.description() {
        Ok(d) => {
            let lines: Vec<&str> = d.extended().collect();
            if lines.is_empty() {
                d.name().to_string()
            } else {
                lines.join(", ")
            }
        }
        Err(_) => String::new(),
    }
}

fn info(device: &rodio::Device, name: String, default: bool) -> DeviceInfo {
    let mut rates = Vec::new();
    let mut max_channels = 0;
    if let Ok(configs) = device.supported_output_configs() {
        for c in configs {
            rates.push((c.min_sample_rate(), c.max_sample_rate()));
            max_channels = max_channels.max(c.channels());
        }
    }
    rates.sort();
    rates.dedup();
    DeviceInfo {
        name,
        description: device_description(device),
        default,
        rates,
        max_channels,
    }
}

/// The output devices the system offers, the default first (listed even when the system's
/// enumeration leaves it out, since it is what plays without `--device`).
pub fn list() -> Result<Vec<DeviceInfo>, OutputError> {
    let host = rodio::cpal::default_host();
    let default = host.default_output_device();
    let default_id = default.as_ref().and_then(device_id);
    let devices = host
        .output_devices()
        .map_err(|e| OutputError(format!("cannot list output devices: {e}")))?;
    let mut out = Vec::new();
    for device in devices {
        let Some(name) = device_id(&device) else {
            continue;
        };
        let is_default = default_id.as_deref() == Some(name.as_str());
        out.push(info(&device, name, is_default));
    }
    if let (Some(device), Some(id)) = (&default, default_id)
        && !out.iter().any(|d| d.default)
    {
        out.insert(0, info(device, id, true));
    }
    out.sort_by_key(|d| !d.default);
    Ok(out)
}

fn find_device(name: Option<&str>) -> Result<rodio::Device, OutputError> {
    let host = rodio::cpal::default_host();
    let default = host.default_output_device();
    match name {
        None => default.ok_or_else(|| {
            OutputError(
                "no audio output device is available. See `tapedeck devices`, pick one with \
                 --device, or write the queue to a file with `tapedeck render QUERY -o out.wav`"
                    .into(),
            )
        }),
        Some(wanted) => {
            if let Some(d) = default.filter(|d| device_id(d).as_deref() == Some(wanted)) {
                return Ok(d);
            }
            let devices = host
                .output_devices()
                .map_err(|e| OutputError(format!("cannot list output devices: {e}")))?;
            let mut names = Vec::new();
            for device in devices {
                let Some(n) = device_id(&device) else {
                    continue;
                };
                // The short name; the description's first line is accepted too, as earlier
                // versions listed it.
                let described = device.description().is_ok_and(|d| d.name() == wanted);
                if n == wanted || described {
                    return Ok(device);
                }
                names.push(n);
            }
            Err(OutputError(format!(
                "no output device named {wanted:?}; available: {} (see `tapedeck devices`)",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )))
        }
    }
}

/// What the engine and the device's callback share.
struct Shared {
    buffer: Mutex<VecDeque<f32>>,
    changed: Condvar,
    /// Samples taken by the device (not counting silence it was given).
    taken: AtomicU64,
    paused: AtomicBool,
    closed: AtomicBool,
}

/// The source rodio pulls from.
struct Feed {
    shared: Arc<Shared>,
    channels: NonZero<u16>,
    rate: NonZero<u32>,
}

impl Iterator for Feed {
    type Item = f32;

    fn next(&mut self) -> Option<f32> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return None;
        }
        if shared.paused.load(Ordering::Acquire) {
            return Some(0.0);
        }
        let mut buffer = shared.buffer.lock().unwrap();
        if buffer.is_empty() {
            let (b, _) = shared
                .changed
                .wait_timeout_while(buffer, Duration::from_millis(100), |b| {
                    b.is_empty() && !shared.closed.load(Ordering::Acquire)
                })
                .unwrap();
            buffer = b;
        }
        match buffer.pop_front() {
            Some(s) => {
                shared.taken.fetch_add(1, Ordering::AcqRel);
                if buffer.len().is_multiple_of(1024) {
                    shared.changed.notify_all();
                }
                Some(s)
            }
            None => Some(0.0),
        }
    }
}

impl Source for Feed {
    fn current_span_len(&self) -> Option<usize> {
        None
    }

    fn channels(&self) -> rodio::ChannelCount {
        self.channels
    }

    fn sample_rate(&self) -> rodio::SampleRate {
        self.rate
    }

    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

/// A sound card output.
pub struct DeviceOutput {
    device: rodio::Device,
    sink: Option<MixerDeviceSink>,
    shared: Option<Arc<Shared>>,
    spec: Option<Spec>,
    /// Samples the buffer may hold: about a quarter of a second.
    capacity: usize,
}

impl DeviceOutput {
    /// Finds the device (once), so a missing sound card is a clear error before anything else
    /// happens.
    pub fn new(name: Option<&str>) -> Result<DeviceOutput, OutputError> {
        Ok(DeviceOutput {
            device: find_device(name)?,
            sink: None,
            shared: None,
            spec: None,
            capacity: 0,
        })
    }

    fn shut(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.closed.store(true, Ordering::Release);
            shared.changed.notify_all();
        }
        self.sink = None;
    }
}

fn open_error(e: impl std::fmt::Display) -> OutputError {
    OutputError(format!(
        "cannot open the audio output: {e}. Pick another with --device (see `tapedeck devices`), \
         or write to a file with `tapedeck render QUERY -o out.wav`"
    ))
}

impl Output for DeviceOutput {
    fn open(&mut self, wanted: Spec) -> Result<Spec, OutputError> {
        self.shut();
        let device = self.device.clone();
        let rate = NonZero::new(wanted.rate).ok_or_else(|| open_error("zero sample rate"))?;
        let channels = NonZero::new(wanted.channels).ok_or_else(|| open_error("no channels"))?;
        let exact = DeviceSinkBuilder::from_device(device.clone())
            .map_err(open_error)?
            .with_sample_rate(rate)
            .with_channels(channels)
            .with_sample_format(rodio::cpal::SampleFormat::F32)
            .open_stream();
        let mut sink = match exact {
            Ok(sink) => sink,
            Err(_) => DeviceSinkBuilder::from_device(device)
                .map_err(open_error)?
                .open_sink_or_fallback()
                .map_err(open_error)?,
        };
        sink.log_on_drop(false);
        let config = sink.config();
        let spec = Spec {
            rate: config.sample_rate().get(),
            channels: wanted.channels,
            bits: wanted.bits,
        };
        let shared = Arc::new(Shared {
            buffer: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            taken: AtomicU64::new(0),
            paused: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        sink.mixer().add(Feed {
            shared: shared.clone(),
            channels,
            rate: NonZero::new(spec.rate).expect("device rate"),
        });
        self.capacity = (spec.rate as usize * usize::from(spec.channels) / 4).max(4096);
        self.sink = Some(sink);
        self.shared = Some(shared);
        self.spec = Some(spec);
        Ok(spec)
    }

    fn write(&mut self, samples: &[f32]) -> Result<usize, OutputError> {
        let (Some(shared), Some(spec)) = (&self.shared, self.spec) else {
            return Err(OutputError("output not open".into()));
        };
        let channels = usize::from(spec.channels);
        let mut buffer = shared.buffer.lock().unwrap();
        if buffer.len() + channels > self.capacity {
            let (b, _) = shared
                .changed
                .wait_timeout_while(buffer, Duration::from_millis(5), |b| {
                    b.len() + 4096.min(self.capacity / 2) > self.capacity
                })
                .unwrap();
            buffer = b;
        }
        let room = self.capacity.saturating_sub(buffer.len());
        let n = (room.min(samples.len()) / channels) * channels;
        buffer.extend(&samples[..n]);
        drop(buffer);
        shared.changed.notify_all();
        Ok(n)
    }

    fn played(&self) -> u64 {
        match (&self.shared, self.spec) {
            (Some(shared), Some(spec)) => {
                shared.taken.load(Ordering::Acquire) / u64::from(spec.channels)
            }
            _ => 0,
        }
    }

    fn discard(&mut self) {
        if let Some(shared) = &self.shared {
            let mut buffer = shared.buffer.lock().unwrap();
            // Keep whole frames: the device may be mid-frame.
            let channels = self.spec.map_or(1, |s| usize::from(s.channels));
            let partial = (shared.taken.load(Ordering::Acquire) as usize) % channels;
            let keep = if partial == 0 { 0 } else { channels - partial };
            buffer.truncate(keep);
            shared.changed.notify_all();
        }
    }

    fn set_paused(&mut self, paused: bool) {
        if let Some(shared) = &self.shared {
            shared.paused.store(paused, Ordering::Release);
        }
    }

    fn drain(&mut self) -> Result<(), OutputError> {
        if let Some(shared) = &self.shared {
            let mut buffer = shared.buffer.lock().unwrap();
            while !buffer.is_empty() && !shared.paused.load(Ordering::Acquire) {
                buffer = shared
                    .changed
                    .wait_timeout(buffer, Duration::from_millis(20))
                    .unwrap()
                    .0;
            }
        }
        // What the device has taken still sits in its own period buffers for a moment.
        std::thread::sleep(Duration::from_millis(150));
        Ok(())
    }

    fn close(&mut self) -> Result<(), OutputError> {
        self.shut();
        Ok(())
    }
}

impl Drop for DeviceOutput {
    fn drop(&mut self) {
        self.shut();
    }
}
