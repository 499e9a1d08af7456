//! backplane (being written).
