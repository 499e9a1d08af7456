//! Making drops visible: a lossy link names its two ends and warns, at most once a
//! second, with its running count of dropped messages.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::boxes::Policy;

/// How often one link may warn about its drops.
const WARN_EVERY_MS: u64 = 1000;

/// What a lossy link says when it drops: made when the link's route is resolved, kept
/// with the route, so a drop costs no look-up in the graph.
pub(crate) struct DropReport {
    /// `source#id.box -> destination#id.box`.
    ends: String,
    policy: Policy,
    /// Milliseconds since [`base`] of the last warning, plus one (0: never warned).
    last_warned: AtomicU64,
}

/// The process's reference point for rate limiting (real time: logs are read by people).
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

impl DropReport {
    pub(crate) fn new(ends: String, policy: Policy) -> Self {
        DropReport {
            ends,
            policy,
            last_warned: AtomicU64::new(0),
        }
    }

    /// The policy of the link (never [`Policy::Block`]: a blocking link drops nothing).
    pub(crate) fn policy(&self) -> Policy {
        self.policy
    }

    /// A message was dropped; `total` is the source's running count. Warns on the
    /// first drop and then at most once every second.
    pub(crate) fn note(&self, total: u64) {
        let now = base().elapsed().as_millis() as u64 + 1;
        let last = self.last_warned.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < WARN_EVERY_MS {
            return;
        }
        if self
            .last_warned
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            tracing::warn!(
                link = %self.ends,
                policy = ?self.policy,
                dropped = total,
                "link `{}` ({:?}) has dropped {} messages",
                self.ends,
                self.policy,
                total
            );
        }
    }
}
