//! graphline (being written).
