//! [`NodeMerge`]: the timed pulses of several FEDM nodes, back in one UTC order.
//!
//! Each FEDM node's lines arrive over its own link, in its own order; how the links
//! interleave on arrival depends on the network and on how fast the server reads
//! them, not on the data. A fast replay (the whole recording may sit in the sockets'
//! buffers, and one link be read to its end before another), or a link that stalls
//! for a moment, can put one node's pulses seconds of data time ahead of another's,
//! and a shower filter that sees them in arrival order then refuses the laggard's
//! pulses as late and misses showers.
//!
//! The merge holds each pulse until every node it waits for has reached the pulse's
//! time (a node's **progress** is the latest UTC its stream has shown: a pulse, or a
//! status line), then releases pulses in UTC order (equal times by node). So what
//! leaves it is the same, in the same order, however the links interleaved.
//!
//! It waits for the nodes [expected](NodeMerge::expect) (the layout's, and any heard
//! from), however far behind in data time, until it is told one has gone
//! [silent](NodeMerge::silence) (its owner decides: the [`PulseClock`] does when a
//! node has sent nothing for [`NODE_SILENCE`] while the clock had nothing else to
//! read); a silent node is waited for again once it is heard from. An expected node
//! that has shown no time yet holds everything back. At most `max_held` items are
//! held; beyond that the oldest is released early (never dropped: a shower filter
//! downstream counts it if it turns out late).
//!
//! [`PulseClock`]: super::timing::PulseClock
//! [`NODE_SILENCE`]: super::timing::NODE_SILENCE
//!
//! # Examples
//!
//! ```
//! use components::cosmici::UtcNanos;
//! use components::cosmici::time_order::NodeMerge;
//!
//! let mut merge = NodeMerge::new(1000);
//! // Node 1 runs ahead; node 2 has shown time 100 so far.
//! merge.advance(2, UtcNanos(100));
//! merge.push(1, UtcNanos(300), "1@300");
//! merge.push(1, UtcNanos(500), "1@500");
//! assert_eq!(merge.pop_ready(), None); // node 2 may still send something earlier
//! merge.push(2, UtcNanos(400), "2@400");
//! assert_eq!(merge.pop_ready(), Some("1@300"));
//! assert_eq!(merge.pop_ready(), Some("2@400"));
//! assert_eq!(merge.pop_ready(), None); // 500 is past node 2's progress
//! assert_eq!(merge.pop_any(), Some("1@500")); // end of stream: the rest, in order
//! ```

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use super::wire::utc::UtcNanos;

/// A held item: earliest UTC first, then lowest node, then arrival order (so equal
/// times leave in the same order however the links interleaved).
#[derive(Debug)]
struct Held<T> {
    utc: UtcNanos,
    node: u32,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Held<T> {}
impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Held<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.utc, self.node, self.seq).cmp(&(other.utc, other.node, other.seq))
    }
}

/// What the merge knows of one node.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// The latest UTC its stream showed; `None` = none yet.
    at: Option<UtcNanos>,
    /// Whether releases wait for it (false once silenced, until heard again).
    waited: bool,
}

/// Merges per-node streams of timed items into one UTC order; see the
/// [module docs](self).
///
/// # Examples
///
/// ```
/// use components::cosmici::UtcNanos;
/// use components::cosmici::time_order::NodeMerge;
///
/// let mut merge = NodeMerge::new(1000);
/// merge.advance(2, UtcNanos(50));
/// merge.push(1, UtcNanos(5_000), 'b');
/// assert_eq!(merge.pop_ready(), None); // node 2 is behind
/// merge.silence(2); // ... and has gone quiet: no longer waited for
/// assert_eq!(merge.pop_ready(), Some('b'));
/// assert_eq!(merge.held(), 0);
/// ```
#[derive(Debug)]
pub struct NodeMerge<T> {
    max_held: usize,
    progress: BTreeMap<u32, Progress>,
    held: BinaryHeap<Reverse<Held<T>>>,
    seq: u64,
}

impl<T> NodeMerge<T> {
    /// A merge holding at most `max_held` items (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let merge: NodeMerge<u32> = NodeMerge::new(100_000);
    /// assert_eq!(merge.held(), 0);
    /// ```
    pub fn new(max_held: usize) -> Self {
        Self {
            max_held: max_held.max(1),
            progress: BTreeMap::new(),
            held: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Waits for `node` from now on (a node of the layout, or one just heard from),
    /// also if it was silenced.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.expect(2);
    /// merge.push(1, UtcNanos(10), 10);
    /// assert_eq!(merge.pop_ready(), None); // node 2's first pulse may come before 10
    /// merge.advance(2, UtcNanos(10));
    /// assert_eq!(merge.pop_ready(), Some(10));
    /// ```
    pub fn expect(&mut self, node: u32) {
        self.progress
            .entry(node)
            .or_insert(Progress {
                at: None,
                waited: true,
            })
            .waited = true;
    }

    /// Stops waiting for `node` until it is heard from again ([`expect`](Self::expect),
    /// [`advance`](Self::advance), [`push`](Self::push)).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.expect(2);
    /// merge.push(1, UtcNanos(10), 10);
    /// merge.silence(2);
    /// assert_eq!(merge.pop_ready(), Some(10));
    /// ```
    pub fn silence(&mut self, node: u32) {
        if let Some(p) = self.progress.get_mut(&node) {
            p.waited = false;
        }
    }

    /// Notes that `node`'s stream has reached `utc` (progress only grows), and waits
    /// for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.push(1, UtcNanos(10), ());
    /// merge.advance(2, UtcNanos(5));
    /// assert_eq!(merge.pop_ready(), None);
    /// merge.advance(2, UtcNanos(10)); // a status line: node 2 has nothing before 10
    /// assert_eq!(merge.pop_ready(), Some(()));
    /// ```
    pub fn advance(&mut self, node: u32, utc: UtcNanos) {
        let p = self.progress.entry(node).or_insert(Progress {
            at: Some(utc),
            waited: true,
        });
        p.at = p.at.max(Some(utc));
        p.waited = true;
    }

    /// Holds `item` of `node` at `utc` (and advances the node to it).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.push(1, UtcNanos(20), 'b');
    /// merge.push(1, UtcNanos(10), 'a'); // a node's own disorder is put right too
    /// assert_eq!((merge.pop_ready(), merge.pop_ready()), (Some('a'), Some('b')));
    /// ```
    pub fn push(&mut self, node: u32, utc: UtcNanos, item: T) {
        self.advance(node, utc);
        self.seq += 1;
        self.held.push(Reverse(Held {
            utc,
            node,
            seq: self.seq,
            item,
        }));
    }

    /// The earliest held item, if every node waited for has reached its time (or
    /// more than `max_held` are held).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(2);
    /// merge.advance(2, UtcNanos(0));
    /// for t in [10, 20, 30] {
    ///     merge.push(1, UtcNanos(t), t);
    /// }
    /// // Three held, room for two: the oldest goes early.
    /// assert_eq!(merge.pop_ready(), Some(10));
    /// assert_eq!(merge.pop_ready(), None);
    /// ```
    pub fn pop_ready(&mut self) -> Option<T> {
        let ready = match self.held.peek() {
            None => false,
            Some(_) if self.held.len() > self.max_held => true,
            Some(Reverse(top)) => self.mark().is_some_and(|mark| top.utc <= mark),
        };
        if ready { self.pop_any() } else { None }
    }

    /// The earliest held item, whether or not the nodes have reached it (for the end
    /// of the stream).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.advance(2, UtcNanos(0));
    /// merge.push(1, UtcNanos(7), 7);
    /// assert_eq!(merge.pop_ready(), None);
    /// assert_eq!(merge.pop_any(), Some(7));
    /// ```
    pub fn pop_any(&mut self) -> Option<T> {
        self.held.pop().map(|Reverse(h)| h.item)
    }

    /// How many items are held.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::new(10);
    /// merge.advance(2, UtcNanos(0));
    /// merge.push(1, UtcNanos(7), ());
    /// assert_eq!(merge.held(), 1);
    /// ```
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The UTC before which nothing more will be released once [`pop_ready`](Self::pop_ready)
    /// has returned `None` (unless a node not waited for sends something earlier): the
    /// least progress among the nodes waited for, at most the latest any node has
    /// shown; `None` while a node waited for has shown no time, or none has.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::time_order::NodeMerge;
    ///
    /// let mut merge = NodeMerge::<()>::new(10);
    /// merge.expect(1);
    /// assert_eq!(merge.frontier(), None); // node 1 may yet send anything
    /// merge.advance(1, UtcNanos(70));
    /// merge.advance(2, UtcNanos(50));
    /// assert_eq!(merge.frontier(), Some(UtcNanos(50)));
    /// merge.silence(2);
    /// assert_eq!(merge.frontier(), Some(UtcNanos(70)));
    /// ```
    pub fn frontier(&self) -> Option<UtcNanos> {
        let latest = self.progress.values().filter_map(|p| p.at).max()?;
        Some(self.mark()?.min(latest))
    }

    /// Everything up to this UTC may go: the least progress among the nodes waited
    /// for; `None` (nothing may go) while one of them has shown no time.
    fn mark(&self) -> Option<UtcNanos> {
        let mut mark = UtcNanos(i64::MAX);
        for p in self.progress.values().filter(|p| p.waited) {
            mark = mark.min(p.at?);
        }
        Some(mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two expected nodes' time-ordered streams, interleaved in many ways, come out
    /// the same.
    #[test]
    fn any_interleaving_gives_the_same_order() {
        let a: Vec<i64> = (0..200).map(|i| i * 7).collect();
        let b: Vec<i64> = (0..150).map(|i| i * 11 + 3).collect();
        let mut want: Vec<(i64, u32)> = a
            .iter()
            .map(|t| (*t, 1))
            .chain(b.iter().map(|t| (*t, 2)))
            .collect();
        want.sort();
        let mut rng = crate::cosmici::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..50 {
            let mut merge = NodeMerge::new(10_000);
            merge.expect(1);
            merge.expect(2);
            let (mut i, mut j) = (0, 0);
            let mut out = Vec::new();
            while i < a.len() || j < b.len() {
                let take_a = j == b.len() || (i < a.len() && rng.below(3) != 0);
                if take_a {
                    merge.push(1, UtcNanos(a[i]), (a[i], 1));
                    i += 1;
                } else {
                    merge.push(2, UtcNanos(b[j]), (b[j], 2));
                    j += 1;
                }
                while let Some(x) = merge.pop_ready() {
                    out.push(x);
                }
            }
            while let Some(x) = merge.pop_any() {
                out.push(x);
            }
            assert_eq!(out, want);
        }
    }
}
