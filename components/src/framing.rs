//! framing (being written).
