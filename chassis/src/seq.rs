//! seq (being written).
