//! Credit-based flow control and per-source sequence numbers, without any transport:
//! [`SendWindow`] on the sending endpoint, [`RecvWindow`] on the receiving one.
//!
//! Every message (and every lifecycle message) gets the next sequence number of its
//! source. The receiver accepts only the next number it expects, so order is kept and a
//! retransmitted frame it already has is discarded. It grants credit: the sender may send
//! numbers below `limit = delivered + window`, so at most `window` messages are ever in
//! flight or waiting on the receiving host, and a receiver that stops reading stops the
//! sender. The sender keeps each frame until it is acknowledged, and sends it again when
//! the receiver asks (`resync`: a gap, or the receiver has just (re)appeared) or when no
//! acknowledgement has come for `rto_ticks` heartbeats.

use std::collections::VecDeque;

use crate::frame::Credit;

/// One frame sent and not yet acknowledged.
#[derive(Debug)]
struct Unacked<F> {
    seq: u64,
    count: u64,
    frame: F,
}

/// The sending side's state: numbering, credit, and the frames kept for retransmission.
#[derive(Debug)]
pub struct SendWindow<F> {
    next_seq: u64,
    acked: u64,
    limit: u64,
    resync_seen: u64,
    unacked: VecDeque<Unacked<F>>,
    stalled_ticks: u32,
    rto_ticks: u32,
    retransmitted: u64,
}

impl<F: Clone> SendWindow<F> {
    /// A window with no credit yet; frames unacknowledged for `rto_ticks` heartbeats
    /// are sent again.
    pub fn new(rto_ticks: u32) -> Self {
        Self {
            next_seq: 0,
            acked: 0,
            limit: 0,
            resync_seen: 0,
            unacked: VecDeque::new(),
            stalled_ticks: 0,
            rto_ticks: rto_ticks.max(1),
            retransmitted: 0,
        }
    }

    /// How many new messages the credit allows now.
    pub fn room(&self) -> u64 {
        self.limit.saturating_sub(self.next_seq)
    }

    /// The sequence number the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Everything below this is acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The credit limit granted so far.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Frames sent again so far.
    pub fn retransmitted(&self) -> u64 {
        self.retransmitted
    }

    /// True when every frame sent has been acknowledged.
    pub fn all_acked(&self) -> bool {
        self.unacked.is_empty()
    }

    /// Record a frame of `count` messages numbered from [`next_seq`](Self::next_seq),
    /// kept until acknowledged. Data frames must fit in [`room`](Self::room); a
    /// lifecycle frame (`count` 1) may be sent without credit.
    pub fn record(&mut self, count: u64, frame: F) -> u64 {
        let seq = self.next_seq;
        if self.unacked.is_empty() {
            self.stalled_ticks = 0;
        }
        self.unacked.push_back(Unacked { seq, count, frame });
        self.next_seq += count;
        seq
    }

    /// Take a credit frame; returns the frames to send again (oldest first).
    pub fn on_credit(&mut self, credit: &Credit) -> Vec<F> {
        let next = credit.next.min(self.next_seq);
        if next > self.acked {
            self.acked = next;
            self.stalled_ticks = 0;
            while self
                .unacked
                .front()
                .is_some_and(|u| u.seq + u.count <= next)
            {
                self.unacked.pop_front();
            }
        }
        self.limit = self.limit.max(credit.limit);
        if credit.resync > self.resync_seen {
            self.resync_seen = credit.resync;
            return self.all_unacked();
        }
        Vec::new()
    }

    /// One heartbeat: after `rto_ticks` heartbeats without an acknowledgement while
    /// frames wait for one, returns them all to send again.
    pub fn on_tick(&mut self) -> Vec<F> {
        if self.unacked.is_empty() {
            self.stalled_ticks = 0;
            return Vec::new();
        }
        self.stalled_ticks += 1;
        if self.stalled_ticks >= self.rto_ticks {
            self.stalled_ticks = 0;
            return self.all_unacked();
        }
        Vec::new()
    }

    fn all_unacked(&mut self) -> Vec<F> {
        self.retransmitted += self.unacked.len() as u64;
        self.unacked.iter().map(|u| u.frame.clone()).collect()
    }
}

/// What the receiver does with a data frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Accept {
    /// Deliver the frame's messages, skipping the first `skip` (already had).
    InOrder {
        /// Messages at the front already delivered.
        skip: usize,
    },
    /// Everything in it was already received: discard.
    Duplicate,
    /// It starts after a missing number: discard and ask for a resend.
    Gap,
    /// It comes from another source than the one this link serves: discard.
    Foreign,
}

/// The receiving side's state: the next number expected, what was delivered, the credit.
#[derive(Debug)]
pub struct RecvWindow {
    window: u64,
    source: Option<u64>,
    next: u64,
    delivered: u64,
    resync: u64,
    resync_pending: bool,
    last_limit_sent: Option<u64>,
    duplicates: u64,
}

impl RecvWindow {
    /// A window of `window` messages (at least 1).
    pub fn new(window: u64) -> Self {
        Self {
            window: window.max(1),
            source: None,
            next: 0,
            delivered: 0,
            resync: 0,
            resync_pending: false,
            last_limit_sent: None,
            duplicates: 0,
        }
    }

    /// Judge a frame of `count` messages from `source` numbered from `seq`.
    pub fn on_frame(&mut self, source: u64, seq: u64, count: u64) -> Accept {
        match self.source {
            Some(s) if s != source => return Accept::Foreign,
            None => self.source = Some(source),
            _ => {}
        }
        if seq > self.next {
            if !self.resync_pending {
                self.ask_resend();
            }
            return Accept::Gap;
        }
        if seq + count <= self.next {
            self.duplicates += count;
            return Accept::Duplicate;
        }
        let skip = self.next - seq;
        self.duplicates += skip;
        self.next = seq + count;
        self.resync_pending = false;
        Accept::InOrder {
            skip: skip as usize,
        }
    }

    /// `n` more messages left for the local inbox.
    pub fn on_delivered(&mut self, n: u64) {
        self.delivered = (self.delivered + n).min(self.next);
    }

    /// Ask the sender for everything from `next` again (a gap, or the peer reappeared).
    pub fn ask_resend(&mut self) {
        self.resync += 1;
        self.resync_pending = true;
        self.last_limit_sent = None;
    }

    /// One heartbeat: a resend asked for and not yet answered is asked for again.
    pub fn on_tick(&mut self) {
        if self.resync_pending {
            self.resync += 1;
        }
    }

    /// The credit limit: delivered plus the window.
    pub fn limit(&self) -> u64 {
        self.delivered + self.window
    }

    /// The next sequence number expected.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Messages received more than once and discarded.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// True when the credit grew by a quarter window (or a resend is asked for) since
    /// the last credit frame: worth a frame now rather than at the next heartbeat.
    pub fn credit_due(&self) -> bool {
        match self.last_limit_sent {
            None => true,
            Some(last) => self.limit() >= last + (self.window / 4).max(1),
        }
    }

    /// The credit frame to send now.
    pub fn credit(&mut self, message_type: &str) -> Credit {
        self.last_limit_sent = Some(self.limit());
        Credit {
            next: self.next,
            limit: self.limit(),
            resync: self.resync,
            message_type: message_type.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(next: u64, limit: u64, resync: u64) -> Credit {
        Credit {
            next,
            limit,
            resync,
            message_type: String::new(),
        }
    }

    #[test]
    fn the_sender_sends_only_with_credit() {
        let mut s = SendWindow::<u8>::new(4);
        assert_eq!(s.room(), 0);
        assert!(s.on_credit(&credit(0, 3, 0)).is_empty());
        assert_eq!(s.room(), 3);
        s.record(3, 1);
        assert_eq!(s.room(), 0);
        s.on_credit(&credit(3, 5, 0));
        assert_eq!((s.room(), s.acked()), (2, 3));
        assert!(s.all_acked());
    }

    #[test]
    fn a_resync_resends_what_is_unacknowledged_once() {
        let mut s = SendWindow::<u8>::new(4);
        s.on_credit(&credit(0, 10, 0));
        s.record(2, b'a');
        s.record(3, b'b');
        assert_eq!(s.on_credit(&credit(2, 10, 1)), vec![b'b']);
        assert!(
            s.on_credit(&credit(2, 10, 1)).is_empty(),
            "same resync: no second resend"
        );
        assert_eq!(s.retransmitted(), 1);
    }

    #[test]
    fn silence_resends_after_the_timeout() {
        let mut s = SendWindow::<u8>::new(2);
        s.on_credit(&credit(0, 10, 0));
        s.record(1, b'a');
        assert!(s.on_tick().is_empty());
        assert_eq!(s.on_tick(), vec![b'a']);
    }

    #[test]
    fn the_receiver_keeps_order_and_discards_duplicates() {
        let mut r = RecvWindow::new(8);
        assert_eq!(r.on_frame(1, 0, 2), Accept::InOrder { skip: 0 });
        assert_eq!(r.on_frame(1, 0, 2), Accept::Duplicate);
        assert_eq!(r.on_frame(1, 5, 1), Accept::Gap);
        assert_eq!(r.on_frame(1, 1, 3), Accept::InOrder { skip: 1 });
        assert_eq!((r.next(), r.duplicates()), (4, 3));
        assert_eq!(r.on_frame(2, 4, 1), Accept::Foreign);
    }

    #[test]
    fn a_gap_asks_for_a_resend_once_until_answered() {
        let mut r = RecvWindow::new(8);
        let before = r.credit("").resync;
        r.on_frame(1, 3, 1);
        r.on_frame(1, 4, 1);
        let asked = r.credit("").resync;
        assert_eq!(asked, before + 1);
        r.on_tick();
        assert_eq!(r.credit("").resync, asked + 1, "unanswered: asked again");
        r.on_frame(1, 0, 5);
        r.on_tick();
        assert_eq!(r.credit("").resync, asked + 1);
    }

    #[test]
    fn credit_is_free_room_and_follows_delivery() {
        let mut r = RecvWindow::new(8);
        assert_eq!(r.credit("").limit, 8);
        r.on_frame(1, 0, 8);
        assert!(!r.credit_due());
        assert_eq!(r.limit(), 8, "nothing delivered: no more credit");
        r.on_delivered(1);
        assert!(!r.credit_due(), "a quarter window is 2");
        r.on_delivered(1);
        assert!(r.credit_due());
        assert_eq!(r.credit("").limit, 10);
    }

    #[test]
    fn sender_and_receiver_lose_nothing_and_duplicate_nothing_over_a_lossy_wire() {
        // Frames are dropped by a fixed pattern; recovery is by resync and timeout.
        let mut s = SendWindow::<(u64, u64)>::new(2);
        let mut r = RecvWindow::new(4);
        let mut got = Vec::new();
        let mut wire: Vec<(u64, u64)> = Vec::new();
        let mut sent_msgs = 0u64;
        let mut n = 0u64;
        for round in 0..10_000 {
            if got.len() == 50 {
                break;
            }
            for f in s.on_credit(&r.credit("")) {
                wire.push(f);
            }
            while s.room() > 0 && sent_msgs < 50 {
                let seq = s.next_seq();
                s.record(1, (seq, 1));
                wire.push((seq, 1));
                sent_msgs += 1;
            }
            for (seq, count) in std::mem::take(&mut wire) {
                n += 1;
                if n.is_multiple_of(3) {
                    continue; // lost
                }
                if let Accept::InOrder { skip } = r.on_frame(9, seq, count) {
                    for k in skip as u64..count {
                        got.push(seq + k);
                    }
                }
            }
            r.on_delivered(r.next());
            r.on_tick();
            wire.extend(s.on_tick());
            assert!(round < 9_999, "did not converge");
        }
        assert_eq!(got, (0..50).collect::<Vec<_>>());
    }
}
