//! Cross-crate integration tests live in `tests/tests/`. The README's example is
//! compiled here, so the README cannot drift from the code.
#![doc = include_str!("../../README.md")]
