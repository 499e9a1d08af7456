//! carousel (being written).
