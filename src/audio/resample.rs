//! Sample-rate conversion with rubato's FFT resampler (band-limited, fixed ratio), wrapped as a
//! stream: push any number of frames, take what is ready, flush at the end. The output is
//! aligned (the filter's delay is trimmed) and exactly `round(frames * to / from)` long, so a
//! resampled track still joins the next one without a gap.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

/// Frames per processing chunk.
const CHUNK: usize = 1024;

pub struct Resampler {
    inner: Fft<f32>,
    channels: usize,
    from: u32,
    to: u32,
    /// Input waiting for a whole chunk.
    pending: Vec<f32>,
    out_buf: Vec<f32>,
    /// Output frames still to drop (the filter's delay).
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    pub fn new(from: u32, to: u32, channels: u16) -> Result<Resampler, String> {
        let channels = usize::from(channels);
        let inner = Fft::<f32>::new(
            from as usize,
            to as usize,
            CHUNK,
            channels,
            FixedSync::Input,
        )
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz: {e}"))?;
        let delay_left = inner.output_delay();
        Ok(Resampler {
            inner,
            channels,
            from,
            to,
            pending: Vec::new(),
            out_buf: Vec::new(),
            delay_left,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Feeds interleaved frames; appends whatever output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.frames_in += (input.len() / self.channels) as u64;
        self.pending.extend_from_slice(input);
        loop {
            let need = self.inner.input_frames_next() * self.channels;
            if self.pending.len() < need {
                break;
            }
            self.process(need, None, out);
        }
    }

    /// Flushes the tail: after this, `out` has received exactly the resampled length of
    /// everything pushed.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let wanted =
            (self.frames_in as u128 * self.to as u128 + self.from as u128 / 2) / self.from as u128;
        let wanted = wanted as u64;
        let mut guard = 0;
        while self.frames_out < wanted && guard < 64 {
            let need = self.inner.input_frames_next() * self.channels;
            let real = self.pending.len().min(need);
            self.pending.resize(need, 0.0);
            self.process(need, Some(real / self.channels), out);
            guard += 1;
        }
        // Drop the overshoot from the zero-padded final chunk.
        let extra = (self.frames_out - wanted.min(self.frames_out)) as usize * self.channels;
        out.truncate(out.len() - extra.min(out.len()));
        self.frames_out = wanted.min(self.frames_out);
    }

    fn process(&mut self, need: usize, partial: Option<usize>, out: &mut Vec<f32>) {
        let frames_in = need / self.channels;
        let max_out = self.inner.output_frames_max();
        self.out_buf.resize(max_out * self.channels, 0.0);
        let input = InterleavedSlice::new(&self.pending[..need], self.channels, frames_in)
            .expect("input sized to whole frames");
        let mut output = InterleavedSlice::new_mut(&mut self.out_buf, self.channels, max_out)
            .expect("output sized to whole frames");
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            active_channels_mask: None,
            partial_len: partial,
        };
        let (used, made) =
            match self
                .inner
                .process_into_buffer(&input, &mut output, Some(&indexing))
            {
                Ok(r) => r,
                Err(_) => (frames_in, 0),
            };
        self.pending
            .drain(..(used * self.channels).min(self.pending.len()));
        let drop = self.delay_left.min(made);
        self.delay_left -= drop;
        let start = drop * self.channels;
        let end = made * self.channels;
        out.extend_from_slice(&self.out_buf[start..end]);
        self.frames_out += (made - drop) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, frames: usize, channels: usize) -> Vec<f32> {
        (0..frames)
            .flat_map(|i| {
                let v = (i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * 0.5;
                std::iter::repeat_n(v, channels)
            })
            .collect()
    }

    #[test]
    fn output_has_the_exact_converted_length_and_the_same_tone() {
        for (from, to, frames) in [
            (44100, 48000, 44100 + 333),
            (48000, 44100, 1000),
            (96000, 44100, 96000),
        ] {
            let input = sine(from, 1000.0, frames, 2);
            let mut r = Resampler::new(from, to, 2).unwrap();
            let mut out = Vec::new();
            // Pushed in uneven pieces, as a decoder delivers them.
            for piece in input.chunks(2 * 577) {
                r.push(piece, &mut out);
            }
            r.finish(&mut out);
            let expected = ((frames as u64 * to as u64 + from as u64 / 2) / from as u64) as usize;
            assert_eq!(out.len(), expected * 2, "{from}->{to}");
            // Aligned: away from the edges, the output is the same sine at the new rate.
            let reference = sine(to, 1000.0, expected, 2);
            let mid = expected / 4..expected * 3 / 4;
            let err = mid
                .map(|i| (out[2 * i] - reference[2 * i]).abs())
                .fold(0f32, f32::max);
            // (Within a fraction of a sample: rubato's delay is whole frames.)
            assert!(err < 0.05, "{from}->{to}: max error {err}");
        }
    }
}
