//! Decoding any supported file to interleaved `f32` frames. The only file that names symphonia.
