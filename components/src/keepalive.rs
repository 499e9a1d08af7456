//! keepalive (being written).
