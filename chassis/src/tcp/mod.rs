//! TCP chassis (being written).
