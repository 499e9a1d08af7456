//! Composites for axon.
