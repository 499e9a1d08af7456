//! [`LoginLimiter`]: a bounded number of failed logins per peer address per minute.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Counts failed logins per peer IP over a sliding window; a peer over the limit is
/// refused before it is even challenged. Cheap to clone; clones share the counts.
/// Reads tokio's clock, so tests drive it with the paused clock.
///
/// The table is bounded: at most [`MAX_PEERS`](Self::MAX_PEERS) addresses are tracked;
/// past that, failures from new addresses share one overflow bucket (so a flood from
/// many addresses is limited as one).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use components::workers::LoginLimiter;
/// let limiter = LoginLimiter::new(2, Duration::from_secs(60));
/// let ip = "10.0.0.1".parse().unwrap();
/// assert!(!limiter.is_blocked(ip));
/// limiter.failed(ip);
/// limiter.failed(ip);
/// assert!(limiter.is_blocked(ip));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    inner: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    peers: HashMap<IpAddr, VecDeque<Instant>>,
    overflow: VecDeque<Instant>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(5, Duration::from_secs(60))
    }
}

impl LoginLimiter {
    /// Most peer addresses tracked at once.
    pub const MAX_PEERS: usize = 4096;

    /// At most `max_failures` failed logins per address in any `window`.
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter {
            max_failures: max_failures.max(1),
            window,
            inner: Arc::default(),
        }
    }

    /// Whether `ip` has used up its failures for now.
    pub fn is_blocked(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut t = self.lock();
        if let Some(bucket) = t.peers.get_mut(&ip) {
            prune(bucket, now, self.window);
            return bucket.len() >= self.max_failures;
        }
        // An address not tracked shares the overflow bucket once the table is full.
        if t.peers.len() >= Self::MAX_PEERS {
            prune(&mut t.overflow, now, self.window);
            return t.overflow.len() >= self.max_failures;
        }
        false
    }

    /// Count one failed login from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let window = self.window;
        let mut t = self.lock();
        if !t.peers.contains_key(&ip) && t.peers.len() >= Self::MAX_PEERS {
            t.peers.retain(|_, b| {
                prune(b, now, window);
                !b.is_empty()
            });
        }
        let bucket = if t.peers.contains_key(&ip) || t.peers.len() < Self::MAX_PEERS {
            t.peers.entry(ip).or_default()
        } else {
            &mut t.overflow
        };
        prune(bucket, now, window);
        bucket.push_back(now);
        // Keep no more entries than the limit needs.
        while bucket.len() > self.max_failures {
            bucket.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn prune(bucket: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while bucket
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        bucket.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_age_out_after_the_window() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(!limiter.is_blocked(ip));
            limiter.failed(ip);
        }
        assert!(limiter.is_blocked(ip));
        assert!(!limiter.is_blocked(other));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!limiter.is_blocked(ip));
    }
}
