//! [`RecordError`]: why a recording or a replay was refused or failed.

use std::path::PathBuf;

use thiserror::Error;

use crate::error::LinkError;

/// Why a link could not be recorded, or a recording not replayed. Every variant is
/// returned before anything in the graph changed.
///
/// # Examples
///
/// ```
/// let rt = axon::Runtime::new();
/// let err = rt.record_link("a#1.outbox", "b#2.inbox", "/tmp/never.axrec").unwrap_err();
/// assert!(err.to_string().contains("a#1"), "{err}");
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A box name is not of the form `name#id.box`.
    #[error("`{label}` does not name a box (expected `name#id.box`, as the snapshot shows them)")]
    BadLabel {
        /// What was given.
        label: String,
    },
    /// A box named does not exist (or its component has another name).
    #[error("no box `{label}`: {reason}")]
    UnknownBox {
        /// What was given.
        label: String,
        /// What is there instead.
        reason: String,
    },
    /// The two boxes are not linked to each other.
    #[error("`{from}` does not link to `{to}`")]
    NotLinked {
        /// The source asked for.
        from: String,
        /// The destination asked for.
        to: String,
    },
    /// The link's message type was not made recordable.
    #[error(
        "the link `{from} -> {to}` carries `{type_name}`, which was not made recordable \
         (call Runtime::make_recordable::<{type_name}>() or Setup::make_recordable; the type \
         must implement serde's Serialize and Deserialize)"
    )]
    NotRecordable {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
        /// The message type.
        type_name: &'static str,
    },
    /// The inbox's message type was not made recordable, so a recording cannot be
    /// replayed into it by name.
    #[error(
        "`{to}` takes `{type_name}`, which was not made recordable (call \
         Runtime::make_recordable::<{type_name}>(), or use Runtime::replay_into)"
    )]
    NotReplayable {
        /// The inbox.
        to: String,
        /// Its message type.
        type_name: &'static str,
    },
    /// The link is being recorded already.
    #[error("`{from} -> {to}` is being recorded already (into {path})")]
    AlreadyRecording {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
        /// Where it is being recorded.
        path: String,
    },
    /// No recording of that link is under way.
    #[error("`{from} -> {to}` is not being recorded")]
    NotRecording {
        /// The source box.
        from: String,
        /// The destination box.
        to: String,
    },
    /// The recording holds messages of another type than the one asked for.
    #[error("{path:?} records `{recorded}`, not `{asked}`")]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The type it records.
        recorded: String,
        /// The type asked for.
        asked: &'static str,
    },
    /// The file is not a recording, or is damaged at `line` (1-based).
    #[error("{path:?} is not a valid recording (line {line}: {reason})")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The first bad line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The file could not be created, opened or read.
    #[error("{path:?}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The graph refused a link the tap or replay needed.
    #[error(transparent)]
    Link(#[from] LinkError),
}
