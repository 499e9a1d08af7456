//! Errors of remote links.

use std::time::Duration;

/// Why a remote endpoint or session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The peer's liveliness token stayed away longer than the grace period.
    #[error("peer {peer} of remote link {key} vanished (not seen for {grace:?})")]
    PeerVanished {
        /// The peer: `receiver` or `sender`, and its zenoh id when known.
        peer: String,
        /// The link's key expression.
        key: String,
        /// How long it was waited for.
        grace: Duration,
    },
    /// The two ends disagree on the message type.
    #[error("remote link {key}: the receiving inbox takes `{remote}`, this end sends `{local}`")]
    TypeMismatch {
        /// The link's key expression.
        key: String,
        /// This end's message type.
        local: String,
        /// The other end's message type.
        remote: String,
    },
    /// The receiving endpoint's outbox lost its local destination.
    #[error("remote link {key}: the local inbox it delivers to is gone")]
    NoDestination {
        /// The link's key expression.
        key: String,
    },
    /// A frame could not be encoded or decoded.
    #[error("remote link {key}: bad frame: {source}")]
    Codec {
        /// The link's key expression.
        key: String,
        /// What postcard said.
        source: postcard::Error,
    },
    /// Zenoh refused an operation (opening the session, declaring, publishing).
    #[error("zenoh: {0}")]
    Zenoh(String),
    /// Making the local links failed.
    #[error(transparent)]
    Link(#[from] axon::LinkError),
    /// A configuration value was refused.
    #[error("zenoh configuration: {0}")]
    Config(String),
}

impl RemoteError {
    pub(crate) fn zenoh(e: impl std::fmt::Display) -> Self {
        RemoteError::Zenoh(e.to_string())
    }
}
