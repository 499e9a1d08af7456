//! How a parent hears of every child's exit, the last one included.
//!
//! A retiring child does two things to its parent's record: it queues its exit report
//! and leaves the parent's list of children. [`leave`] does both in one step, under the
//! lock that guards the record, and a parent waiting in [`next_report`] relies on that:
//! a child it finds listed has not reported yet, so waiting for its report cannot hang,
//! and once the list is empty every report is queued. Done in two steps (report, then
//! leave), a parent could take the last report, still find that child listed, and wait
//! for a report never to come; the loom model beside this file checks the protocol.

use std::future::poll_fn;
use std::task::{Context, Poll};

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// Where children's exit reports are queued.
pub(crate) trait ReportSender<R> {
    /// Queue a report (dropped if the parent no longer listens).
    fn report(&self, report: R);
}

/// Where a parent takes its children's exit reports from.
pub(crate) trait ReportReceiver<R> {
    /// A queued report, if any.
    fn try_take(&mut self) -> Option<R>;
    /// The next report, or park until one is queued; `Ready(None)` if no sender is left.
    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<R>>;
}

impl<R> ReportSender<R> for UnboundedSender<R> {
    fn report(&self, report: R) {
        let _ = self.send(report);
    }
}

impl<R> ReportReceiver<R> for UnboundedReceiver<R> {
    fn try_take(&mut self) -> Option<R> {
        self.try_recv().ok()
    }

    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<R>> {
        self.poll_recv(cx)
    }
}

/// A child's last act towards its parent: queue its report (if the parent listens)
/// and leave the parent's list, in one step. The caller holds the lock that guards
/// `children` and `reports` (and that `next_report`'s `listed` takes).
pub(crate) fn leave<I: PartialEq, R>(
    children: &mut Vec<I>,
    child: &I,
    reports: Option<&impl ReportSender<R>>,
    report: impl FnOnce() -> R,
) {
    if let Some(tx) = reports {
        tx.report(report());
    }
    children.retain(|c| c != child);
}

/// The next child's exit report; `None` once no child is listed and every report has
/// been taken. `listed` says whether any child is still listed (under the lock that
/// [`leave`] is called under).
pub(crate) async fn next_report<R>(
    rx: &mut impl ReportReceiver<R>,
    mut listed: impl FnMut() -> bool,
) -> Option<R> {
    loop {
        if let Some(r) = rx.try_take() {
            return Some(r);
        }
        // A listed child has not reported yet (see the module docs): its report is
        // still to come. Once none is listed, every report is queued.
        if !listed() {
            return rx.try_take();
        }
        if let Some(r) = poll_fn(|cx| rx.poll_take(cx)).await {
            return Some(r);
        }
    }
}

#[cfg(all(test, loom))]
mod tests {
    mod loom_exit_reports;
}
