//! Cover pictures: decoding, fitting to a size, and re-encoding as baseline JPEG.
