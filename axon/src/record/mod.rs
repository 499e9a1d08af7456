//! Link recording ("rosbag-like"): tap any link to a file, and replay a recording into
//! an inbox at the recorded pace or as fast as it is taken.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axon::{Context, component::from_fn, record::{self, Pace}};
//! let rt = axon::Runtime::new();
//! let numbers = rt.add(from_fn("numbers", |mut c: Context<(), u32>| async move {
//!     for n in 1..=3 { c.send(n).await?; }
//!     Ok(())
//! })).unwrap();
//! let sink = rt.add(from_fn("sink", |mut c: Context<u32, ()>| async move {
//!     while c.recv().await.is_some() {}
//!     Ok(())
//! })).unwrap();
//! rt.link(numbers.outbox(), sink.inbox()).unwrap();
//! rt.link(numbers.signal(), sink.control()).unwrap();
//! let path = std::env::temp_dir().join(format!("axon-doc-mod-{}.axrec", std::process::id()));
//! rt.record(numbers.outbox(), sink.inbox(), &path).unwrap();
//! let (a, b) = (numbers.start(), sink.start());
//! a.join().await;
//! b.join().await;
//! let done = rt.stop_recording("numbers#1.outbox", "sink#2.inbox").await.unwrap();
//! assert_eq!(done.written, 3);
//! let got: Vec<u32> = record::read(&path).unwrap().messages.into_iter().map(|(_, n)| n).collect();
//! assert_eq!(got, [1, 2, 3]);
//! # std::fs::remove_file(&path).unwrap();
//! # }
//! ```
//!
//! ## Recording
//!
//! [`Runtime::record`](crate::Runtime::record) (typed) or [`Runtime::record_link`](crate::Runtime::record_link) (by the names the snapshot
//! shows, `name#id.box`, for a type made recordable with
//! [`Runtime::make_recordable`](crate::Runtime::make_recordable) or [`Setup::make_recordable`](crate::Setup::make_recordable))
//! puts a **tap** into the link: a component (`tap`, visible in the snapshot) that
//! forwards every message to the link's destination and, while recording, writes it
//! to the file with its time. The link's message type must implement serde's
//! `Serialize` (and `Deserialize` to be replayed).
//!
//! - **The destination receives what it would have**: the same messages in the same
//!   order, under the link's policy (the tap's link to the destination keeps it; the
//!   source's link to the tap blocks). When the source's `signal` went to the
//!   destination's `control`, it goes through the tap too, so `ProducerFinished` still
//!   follows the last message. What changes: the link holds up to 8 more messages in
//!   flight (the tap's inbox), and a lossy link's drops are counted on the tap's outbox
//!   rather than the source's.
//! - **A slow disk never slows the link.** Encoded lines wait for a writer thread in a
//!   buffer of 1024; when it is full the tap **drops the line and counts it**
//!   (`dropped`), and the message still goes to the destination. A write error stops
//!   the writing; every later line is counted dropped and the error is reported.
//! - **The file** is JSON lines (see [`Header`]): a header naming the link, the type
//!   and the start time, then one `{"t_us":…,"msg":…}` per message, `t_us` counted
//!   from the start on tokio's clock. It holds what the tap took from the source: the
//!   one message in hand when the destination ended may be in it, undelivered.
//! - **Stopping** ([`Runtime::stop_recording`](crate::Runtime::stop_recording)) closes the file once everything handed
//!   to the writer is in it and returns the counts. The tap stays, forwarding without
//!   recording, until either end of the link goes: taking it out while messages are in
//!   flight could reorder them. Recording the link again reuses it.
//! - [`Runtime::recordings`](crate::Runtime::recordings) and the snapshot's `recordings` list every tapped link
//!   with its file, `written` and `dropped`.
//!
//! ## Replaying
//!
//! [`Replay`] reads a whole recording when opened (a file of another type, or a
//! damaged one, is refused then, before anything changes) and sends it on its
//! `outbox`; [`Runtime::replay_into`](crate::Runtime::replay_into) and [`Runtime::replay_named`](crate::Runtime::replay_named) add one linked into
//! an inbox, `ProducerFinished` following the last message.

mod error;
mod format;
mod link;
mod recordable;
mod replay;
mod session;
mod tap;

pub use error::RecordError;
pub use format::{FORMAT_VERSION, Header, Recording, read, read_header};
pub(crate) use recordable::Registry;
pub use replay::Replay;

use std::path::PathBuf;

use serde::Serialize;

use crate::boxes::ComponentId;

/// How fast a [`Replay`] sends.
///
/// # Examples
///
/// ```
/// assert_ne!(axon::record::Pace::Recorded, axon::record::Pace::Max);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// Each message when it was recorded, counted from the replay's start.
    Recorded,
    /// As fast as the destination takes them.
    Max,
}

/// What a finished recording holds ([`Runtime::stop_recording`](crate::Runtime::stop_recording)).
///
/// # Examples
///
/// ```
/// let s = axon::record::RecordingSummary { path: "x".into(), written: 3, dropped: 0, error: None };
/// assert_eq!(s.written, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Messages written to it.
    pub written: u64,
    /// Messages not written: the buffer was full, or encoding or writing failed.
    pub dropped: u64,
    /// The first encoding or writing error, if any.
    pub error: Option<String>,
}

/// A tapped link, as [`Runtime::recordings`](crate::Runtime::recordings) and the
/// snapshot list it.
///
/// # Examples
///
/// ```
/// assert!(axon::Runtime::new().snapshot().recordings.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingInfo {
    /// The link's source, `name#id.box`.
    pub from: String,
    /// The link's destination, `name#id.box`.
    pub to: String,
    /// The tap component in the link.
    pub tap: ComponentId,
    /// True while recording; false once stopped (the tap still forwards).
    pub recording: bool,
    /// The file of the current or last recording.
    pub path: Option<PathBuf>,
    /// Messages written so far.
    pub written: u64,
    /// Messages not written (buffer full, encoding or writing failed).
    pub dropped: u64,
    /// The first encoding or writing error, if any.
    pub error: Option<String>,
}
