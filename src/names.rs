//! Turning tag values into safe file and folder names.
