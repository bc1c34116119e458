//! Loudness: ReplayGain decisions and the scale factor applied to samples. Pure arithmetic.
