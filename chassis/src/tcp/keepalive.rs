//! [`TcpKeepalive`]: the kernel's keepalive probes on a TCP socket, so a peer that
//! vanished without a FIN (a cable pulled, a host powered off) is found out even when
//! the application sends nothing.

use std::time::Duration;

/// `SO_KEEPALIVE` with the time idle before the first probe and between probes (set
/// through `socket2`, which chassis already uses to make its listeners).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let k = chassis::tcp::TcpKeepalive::new(Duration::from_secs(60), Duration::from_secs(10));
/// assert_eq!(k.idle, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpKeepalive {
    /// Time without traffic before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
}

impl TcpKeepalive {
    /// Probes after `idle` without traffic, then every `interval`.
    pub const fn new(idle: Duration, interval: Duration) -> Self {
        TcpKeepalive { idle, interval }
    }

    /// Turn keepalive on for `stream`.
    ///
    /// # Errors
    ///
    /// The operating system's, if it refuses the options.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = tokio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// chassis::tcp::TcpKeepalive::new(Duration::from_secs(60), Duration::from_secs(10)).apply(&stream)?;
    /// assert!(socket2::SockRef::from(&stream).keepalive()?);
    /// # Ok(()) }
    /// ```
    pub fn apply(&self, stream: &tokio::net::TcpStream) -> std::io::Result<()> {
        let params = socket2::TcpKeepalive::new()
            .with_time(self.idle)
            .with_interval(self.interval);
        socket2::SockRef::from(stream).set_tcp_keepalive(&params)
    }
}
