//! Counters of one remote link, shared by its endpoint component and the snapshot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// Which end of a remote link this host holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The sending end: a local outbox is linked to it.
    Sender,
    /// The receiving end: it is linked to a local inbox.
    Receiver,
}

/// Live counters of one remote link (atomics, read without stopping anything).
#[derive(Debug)]
pub struct RemoteLinkStats {
    /// The key expression naming the destination: `axon/GRAPH/COMPONENT/BOX`.
    pub key: String,
    /// This host's end.
    pub role: Role,
    /// True while the peer's liveliness token is seen.
    pub peer_live: AtomicBool,
    /// True once the endpoint has ended.
    pub ended: AtomicBool,
    /// Messages sent (sender: first transmissions) or delivered to the local inbox (receiver).
    pub messages: AtomicU64,
    /// Data and lifecycle frames sent (sender) or received (receiver).
    pub frames: AtomicU64,
    /// Frames sent again (sender).
    pub retransmitted: AtomicU64,
    /// Messages received again and discarded (receiver).
    pub duplicates: AtomicU64,
    /// Messages dropped by the lossy policy of the local link on the sending host (the
    /// sender counts them; the receiver learns the count from the frames).
    pub dropped: AtomicU64,
    /// The credit limit: the sender may send sequence numbers below it.
    pub credit_limit: AtomicU64,
    /// The next sequence number (sender: to send; receiver: expected).
    pub next_seq: AtomicU64,
    /// Every sequence number below it is acknowledged.
    pub acked: AtomicU64,
    /// Times the peer vanished (its liveliness token went away).
    pub peer_losses: AtomicU64,
}

impl RemoteLinkStats {
    /// Fresh counters for the link named `key`.
    pub fn new(key: impl Into<String>, role: Role) -> Self {
        Self {
            key: key.into(),
            role,
            peer_live: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            messages: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            retransmitted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            credit_limit: AtomicU64::new(0),
            next_seq: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            peer_losses: AtomicU64::new(0),
        }
    }

    /// The counters as its endpoint publishes them
    /// ([`axon::Runtime::publish_counters`]): in the snapshot's `counters`, on the
    /// dashboard and on its `/metrics` page as `axon_remote_…`.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("remote_peer_live", u64::from(self.peer_live.load(Relaxed))),
            ("remote_messages_total", self.messages.load(Relaxed)),
            ("remote_frames_total", self.frames.load(Relaxed)),
            (
                "remote_retransmitted_total",
                self.retransmitted.load(Relaxed),
            ),
            ("remote_duplicates_total", self.duplicates.load(Relaxed)),
            ("remote_dropped_total", self.dropped.load(Relaxed)),
            ("remote_peer_losses_total", self.peer_losses.load(Relaxed)),
            (
                "remote_in_flight",
                self.next_seq
                    .load(Relaxed)
                    .saturating_sub(self.acked.load(Relaxed)),
            ),
        ]
    }

    /// The counters as plain values.
    pub fn info(&self) -> RemoteLinkInfo {
        RemoteLinkInfo {
            key: self.key.clone(),
            role: self.role,
            peer_live: self.peer_live.load(Relaxed),
            ended: self.ended.load(Relaxed),
            messages: self.messages.load(Relaxed),
            frames: self.frames.load(Relaxed),
            retransmitted: self.retransmitted.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            credit_limit: self.credit_limit.load(Relaxed),
            next_seq: self.next_seq.load(Relaxed),
            acked: self.acked.load(Relaxed),
            peer_losses: self.peer_losses.load(Relaxed),
        }
    }
}

/// One remote link as seen from this host, for snapshots (`Remote::links`).
///
/// # Examples
///
/// ```
/// use remote::{RemoteLinkStats, Role};
/// let s = RemoteLinkStats::new("axon/g/sink/inbox", Role::Receiver);
/// let info = s.info();
/// assert_eq!((info.key.as_str(), info.role, info.dropped), ("axon/g/sink/inbox", Role::Receiver, 0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteLinkInfo {
    /// The key expression naming the destination.
    pub key: String,
    /// This host's end.
    pub role: Role,
    /// True while the peer is seen.
    pub peer_live: bool,
    /// True once the endpoint has ended.
    pub ended: bool,
    /// Messages sent (sender) or delivered (receiver).
    pub messages: u64,
    /// Frames sent (sender) or received (receiver).
    pub frames: u64,
    /// Frames sent again.
    pub retransmitted: u64,
    /// Messages received again and discarded.
    pub duplicates: u64,
    /// Messages dropped by the lossy policy on the sending host.
    pub dropped: u64,
    /// The credit limit.
    pub credit_limit: u64,
    /// The next sequence number.
    pub next_seq: u64,
    /// Everything below is acknowledged.
    pub acked: u64,
    /// Times the peer vanished.
    pub peer_losses: u64,
}
