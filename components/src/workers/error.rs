//! Errors of the worker side.

/// Why a [`Worker`](super::Worker) session ended without a clean end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Connecting, reading or writing failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The master refused the login (its words; they never say which part was wrong).
    #[error("the master refused the login: {0}")]
    Refused(String),
    /// The master sent something that is not the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
}
