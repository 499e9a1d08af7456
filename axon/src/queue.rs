//! The bounded queue behind every real inbox.
//!
//! Two halves, each behind its own mutex: the *send side* ([`State`]), where senders
//! enqueue and the reader parks, and the *read side* ([`Batch`]), touched only by the
//! reader (and by the rare operations that remove messages: eviction, clearing,
//! closing for hand-over). The reader takes everything queued on the send side in one
//! lock (a swap of buffers) and then reads it from its own side without touching the
//! send side's lock at all, so a producer and a consumer running on two cores meet
//! once per batch instead of once per message.
//!
//! Each half keeps its own count (how many messages, and how many bytes under a byte
//! budget, in one word: [`count`]): the send side's (`Queue::sent`) changes only under
//! its lock, the read side's (`Queue::counts`) only by read-modify-writes. A message is
//! counted from the moment it is sent until the reader takes it from either side, and
//! the bounds apply to the sum. A sender adds the read side's count as it last saw it
//! (`State::read_seen`), which is never below the true one (the read side only grows
//! under the send side's lock, which updates it), so a send that finds room that way
//! has room without reading the reader's count; only a send that finds none reads it
//! again. So between batches a sender does not touch the words the reader writes per
//! message, nor the reader the sender's. The fields are laid out read side first, send
//! side after, with the rarely touched ones between; they are not padded apart to a
//! cache line each (that costs an inbox about 50 bytes), so at some addresses the two
//! parts share a line.
//!
//! Memory grows with use: the oldest message is kept inline, so an inbox that never
//! held two messages at once has no buffer at all (and pays one pointer for each side);
//! one that did has a buffer on each side, each at most its capacity (rounded up to a
//! power of two).
//!
//! * The reader parks by leaving its waker on the send side ([`Queue::poll_recv`]); a
//!   send that finds it there takes it and wakes it. A reader waiting on several queues
//!   at once parks in each. Every change of the parked waker (parked, taken by a send or
//!   a close) bumps a generation counter, so a reader that finds the counter where its
//!   own parking left it, and the queue still empty and open, knows that polling again
//!   would change nothing and can skip the lock ([`Queue::parked_since`]).
//! * Senders that find the queue full wait on an [`Event`]. A sender, holding the send
//!   side's lock, first listens, then counts itself in `waiting`, then looks again with
//!   a read-modify-write of the read side's count. The reader frees room in one of two
//!   ways, each followed by a read of `waiting` (and a notification of one sender if
//!   any wait): it takes from the read side and uncounts with a read-modify-write of
//!   the read side's count, or it takes the oldest message from the send side under
//!   its lock. Read-modify-writes of one variable are totally ordered: if the sender's
//!   comes later it sees the freed room; if earlier, the reader's reads from it
//!   (acquire/release), so the sender's count in `waiting` happened before the reader
//!   reads `waiting` and the reader sees it — and the sender was already listening.
//!   Room freed under the lock is seen by a later sender's look, and an earlier
//!   sender's count is seen by the reader through the lock. No wake-up is lost, and no
//!   sequentially consistent ordering is needed. A notified sender that is cancelled
//!   passes the notification on (the event does this), so no slot is left unclaimed.
//! * Closing wakes everyone: senders get their message back, the reader drains what is
//!   queued (its own side first, then the send side) and then sees the end.
//! * A queue may also be bounded in bytes ([`Queue::set_budget`]): a size function
//!   measures each message as it enters and leaves, and the queue counts as full when
//!   either bound is reached. A message larger than the whole budget still enters an
//!   empty queue (else it could never be sent), so a budget bounds what waits to about
//!   the budget plus one message. The budget is kept inline (no allocation): a queue
//!   without one pays one branch per send and per receive. The bytes share each count's
//!   word with the message count, so a send or a receive under a budget changes the
//!   same one word as without. Each is kept in 32 bits: a capacity is at most
//!   2³¹ − 1 messages, a budget above 1 GiB bounds at 1 GiB and a message above 1 GiB
//!   counts as 1 GiB, so that what is queued (the bound plus one message, plus what a
//!   hold hands over) never overflows into the other half.
//!
//! Lock order: the read side before the send side.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener};
use smallvec::SmallVec;

use crate::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The most bytes a budget bounds, and the most one message counts for: 1 GiB, so
/// that what is queued (at most the budget plus one message, plus what a hold with
/// the same bound hands over) fits in the 32 bits [`Queue::counts`] keeps for it.
const MAX_BYTES: u32 = (1 << 30) - 1;

/// The most messages a queue holds: 2³¹ − 1, so that what is queued (at most the
/// capacity, plus what a hold hands over) never carries into the bytes' half.
const MAX_CAPACITY: u32 = i32::MAX as u32;

/// `n` messages of `bytes` bytes in all, as a [`Queue::counts`] delta.
#[inline]
fn count(n: u32, bytes: u32) -> u64 {
    u64::from(n) | u64::from(bytes) << 32
}

/// The queued messages in a [`Queue::counts`] word.
#[inline]
fn queued(counts: u64) -> u32 {
    counts as u32
}

/// The queued bytes in a [`Queue::counts`] word.
#[inline]
fn queued_bytes(counts: u64) -> u32 {
    (counts >> 32) as u32
}

/// How to measure a message under a byte budget.
type SizeFn<T> = fn(&T) -> usize;

/// The send side, behind its lock, kept flat so the fields pack without padding.
///
/// The queued messages are the oldest inline (`head`) and the rest in a buffer that
/// exists only once two are queued at once. Most inboxes hold at most one message at
/// a time (a request waiting for its handler), which then costs no allocation at all.
struct State<T> {
    head: Option<T>,
    /// Boxed, so that an inbox that never held two messages at once pays one pointer
    /// instead of a `VecDeque`'s four words (most inboxes; a server holds many).
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<T>>>,
    /// The reader, parked in `poll_recv`.
    reader: Option<Waker>,
    /// The byte bound, inline (no allocation): the most bytes queued (see
    /// [`MAX_BYTES`]); a queue without a bound pays one branch per send.
    limit: u32,
    /// How to measure a message; `None`: no byte bound.
    size: Option<SizeFn<T>>,
    /// The most messages queued (at most [`MAX_CAPACITY`]); here, where it fills
    /// what would be padding.
    capacity: u32,
    /// The read side's counts word as senders last looked at it: never below what
    /// is queued there (the read side only grows under this lock, where this is
    /// updated), so a sender that finds room by it has room, and only a sender that
    /// finds none reads the reader's count again.
    read_seen: u64,
    // `closed` lives in `Queue::closed`, written only under this lock.
}

/// The read side: messages the reader has taken from the send side in one go, oldest
/// first, not yet received; and the size function, so the reader measures what it
/// takes without the send side's lock.
struct Batch<T> {
    queued: VecDeque<T>,
    size: Option<SizeFn<T>>,
}

/// A byte bound as given: the most bytes queued, and how to measure a message.
pub(crate) type ByteBound<T> = (usize, SizeFn<T>);

/// A byte count as the budget keeps it (clamped to [`MAX_BYTES`]).
#[inline]
fn clamp(bytes: usize) -> u32 {
    bytes.min(MAX_BYTES as usize) as u32
}

/// The size of `msg` under `size` (0 without a budget).
#[inline]
fn measure<T>(size: Option<SizeFn<T>>, msg: &T) -> u32 {
    match size {
        Some(size) => clamp(size(msg)),
        None => 0,
    }
}

impl<T> State<T> {
    const fn new() -> Self {
        State {
            head: None,
            rest: None,
            reader: None,
            limit: 0,
            size: None,
            capacity: 1,
            read_seen: 0,
        }
    }

    #[inline]
    fn push(&mut self, msg: T) {
        if self.head.is_none() && self.rest_is_empty() {
            self.head = Some(msg);
        } else {
            let rest = self.rest.get_or_insert_with(|| {
                // Start small: `VecDeque` would otherwise reserve several slots.
                Box::new(VecDeque::with_capacity(1))
            });
            rest.push_back(msg);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.head
            .take()
            .or_else(|| self.rest.as_mut().and_then(|r| r.pop_front()))
    }

    #[inline]
    fn rest_is_empty(&self) -> bool {
        self.rest.as_ref().is_none_or(|r| r.is_empty())
    }

    /// The messages behind `head`, oldest first.
    fn rest_iter(&self) -> impl Iterator<Item = &T> {
        self.rest.iter().flat_map(|r| r.iter())
    }
}

/// A bounded multi-producer, single-consumer queue; see the module docs.
///
/// Laid out in two parts, the fields the reader writes per message first and the send
/// side's after them, so that a producer and a consumer on two cores mostly write
/// different cache lines (see the module docs).
#[repr(C)]
pub(crate) struct Queue<T> {
    // The read side.
    /// The read side, allocated the first time the reader takes more than one
    /// message at once (an idle inbox, or one that never holds two, has none).
    batch: Mutex<Option<Box<Batch<T>>>>,
    /// What is queued on the read side, as a counts word (see [`count`]); with
    /// `sent` what the bounds apply to. Only ever changed by read-modify-writes (see
    /// the module docs): raised by the reader as it moves messages over (and by a
    /// hold's hand-over), lowered as it takes them (and by eviction and clearing).
    counts: AtomicU64,
    /// The owner's count of messages received (bumped by the reader per message),
    /// kept here where it costs no space.
    received: AtomicU64,
    /// How many senders wait between finding the queue full and enqueueing or giving
    /// up.
    waiting: AtomicU32,
    /// A byte for the queue's owner, kept here where it costs no space (an inbox
    /// keeps the last lifecycle message read from `control` in it).
    pub(crate) tag: AtomicU8,
    /// Its reader has been handed out (an inbox is read by one owner only); kept
    /// here for the same reason.
    pub(crate) taken: AtomicBool,
    // Touched rarely.
    /// Senders waiting for room wait on this.
    space: Event,
    /// The owner's count of messages dropped on the way in (by a lossy policy), kept
    /// here for the same reason as `received`.
    dropped: AtomicU64,
    // The send side.
    state: Mutex<State<T>>,
    /// What is queued on the send side, as a counts word (see [`count`]): the low half
    /// how many messages, the high half how many bytes by the size function (0
    /// without a byte bound). Written only under the send side's lock (a load and a
    /// store, no read-modify-write); read without it by `len` and `try_pop`.
    sent: AtomicU64,
    /// Bumped (wrapping) whenever the parked reader waker changes (see the module docs).
    parked: AtomicU32,
    /// Closed: written only under the send side's lock (so a locked reader sees it
    /// exactly), read without it by `is_closed` and `try_pop`'s fast path.
    closed: AtomicBool,
}

/// Why a send did not enqueue.
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        let mut state = State::new();
        state.capacity =
            u32::try_from(capacity.max(1)).map_or(MAX_CAPACITY, |c| c.min(MAX_CAPACITY));
        Queue {
            state: Mutex::new(state),
            sent: AtomicU64::new(0),
            parked: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            tag: AtomicU8::new(0),
            taken: AtomicBool::new(false),
            batch: Mutex::new(None),
            counts: AtomicU64::new(0),
            received: AtomicU64::new(0),
            waiting: AtomicU32::new(0),
            space: Event::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding a lock cannot leave its half updated (every update is
        // a single push, pop, swap or flag), so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_batch(&self) -> MutexGuard<'_, Option<Box<Batch<T>>>> {
        self.batch.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many messages are queued on both sides. Read without a lock, the read
    /// side's count first: a batch moving over at the same time (the send side's
    /// count is zeroed before the read side's is raised, with release) is then
    /// counted once or not yet, never twice, so this never shows more than is queued.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let read = self.counts.load(Ordering::Acquire);
        let sent = self.sent.load(Ordering::Relaxed);
        queued(read) as usize + queued(sent) as usize
    }

    /// The owner's count of messages received (bumped by the reader).
    #[inline]
    pub(crate) fn received(&self) -> &AtomicU64 {
        &self.received
    }

    /// The owner's count of messages dropped on the way in.
    #[inline]
    pub(crate) fn dropped(&self) -> &AtomicU64 {
        &self.dropped
    }

    /// The most messages it holds (at most [`MAX_CAPACITY`]).
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.lock().capacity as usize
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Senders waiting for room now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Acquire)
    }

    /// Bytes counted as queued, bytes of what is queued on both sides by `size`, and
    /// how many are queued (both locks held, so no send or receive is half done).
    #[cfg(all(test, loom))]
    pub(crate) fn counted_and_queued(&self, size: fn(&T) -> usize) -> (usize, usize, usize) {
        let batch = self.lock_batch();
        let st = self.lock();
        let read_side = batch.iter().flat_map(|b| b.queued.iter());
        let all = read_side.chain(st.head.iter()).chain(st.rest_iter());
        let (queued, n) = all.fold((0, 0), |(b, n), m| (b + size(m), n + 1));
        let used = queued_bytes(self.sent.load(Ordering::Relaxed)) as usize
            + queued_bytes(self.counts.load(Ordering::Acquire)) as usize;
        (used, queued, n)
    }

    /// Room for a message of `size` bytes (0 without a budget)? Read with the send
    /// side locked, so no other sender can fill the room before the caller uses it.
    /// Reads the reader's count only if the last look at it leaves no room.
    #[inline]
    fn has_room(&self, st: &mut State<T>, size: u32) -> bool {
        self.fits(st, size) || {
            st.read_seen = self.counts.load(Ordering::Acquire);
            self.fits(st, size)
        }
    }

    /// Room for a message of `size` bytes by the send side's count and the read
    /// side's as last seen (`st.read_seen`).
    #[inline]
    fn fits(&self, st: &State<T>, size: u32) -> bool {
        let (sent, read) = (self.sent.load(Ordering::Relaxed), st.read_seen);
        let len = u64::from(queued(sent)) + u64::from(queued(read));
        len < u64::from(st.capacity)
            && (st.size.is_none()
                || len == 0
                || u64::from(queued_bytes(sent)) + u64::from(queued_bytes(read)) + u64::from(size)
                    <= u64::from(st.limit))
    }

    /// Count a message of `size` bytes in (under the send side's lock, after
    /// `has_room`; `size` is 0 without a budget).
    #[inline]
    fn admit(&self, st: &mut State<T>, msg: T, size: u32) {
        st.push(msg);
        self.add_sent(count(1, size));
    }

    /// Add `delta` (wrapping: a negative delta is its two's complement) to the send
    /// side's count (under the send side's lock: a load and a store suffice).
    #[inline]
    fn add_sent(&self, delta: u64) {
        let sent = self.sent.load(Ordering::Relaxed);
        self.sent.store(sent.wrapping_add(delta), Ordering::Relaxed);
    }

    /// Add `delta` (wrapping) to the read side's count; returns the new count, which
    /// a caller holding the send side's lock keeps as `read_seen`.
    #[inline]
    fn add_read(&self, delta: u64) -> u64 {
        self.counts
            .fetch_add(delta, Ordering::AcqRel)
            .wrapping_add(delta)
    }

    /// Let a waiting sender know that room was freed: after a read-modify-write of
    /// the read side's count, or after freeing room under the send side's lock (see
    /// the module docs).
    #[inline]
    fn wake_sender(&self) {
        if self.any_waiting() {
            self.space.notify(1);
        }
    }

    /// Senders wait for room? (After a read-modify-write of the read side's count,
    /// or after the send side's lock: see the module docs.)
    #[inline]
    fn any_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    /// Bound the queue in bytes as well, measuring each message with `size`; `None`
    /// removes the bound. What is queued now is measured at once. Senders waiting for
    /// room look again (a larger budget may let them in).
    pub(crate) fn set_budget(&self, budget: Option<ByteBound<T>>) {
        {
            let mut batch = self.lock_batch();
            let mut st = self.lock();
            // What is queued is measured again with the new size function; a message
            // the reader has taken but not yet uncounted keeps the measure it was
            // taken with (it goes out with it), so the counts stay exact.
            let new_size = budget.map(|(_, size)| size as SizeFn<T>);
            let sum = |msgs: &mut dyn Iterator<Item = &T>, size| {
                msgs.fold(0u32, |n, m| n.wrapping_add(measure(size, m)))
            };
            let read_side = || batch.iter().flat_map(|b| b.queued.iter());
            let (old_read, new_read) = (
                sum(&mut read_side(), st.size),
                sum(&mut read_side(), new_size),
            );
            let send_side = || st.head.iter().chain(st.rest_iter());
            let (old_sent, new_sent) = (
                sum(&mut send_side(), st.size),
                sum(&mut send_side(), new_size),
            );
            self.add_sent(count(0, new_sent.wrapping_sub(old_sent)));
            st.read_seen = self.add_read(count(0, new_read.wrapping_sub(old_read)));
            (st.limit, st.size) = match budget {
                Some((limit, size)) => (clamp(limit), Some(size)),
                None => (0, None),
            };
            if let Some(batch) = batch.as_mut() {
                batch.size = st.size;
            }
        }
        if self.any_waiting() {
            self.space.notify(usize::MAX);
        }
    }

    /// The byte bound and its size function, if any (to carry over to a replacement).
    pub(crate) fn budget(&self) -> Option<ByteBound<T>> {
        let st = self.lock();
        st.size.map(|size| (st.limit as usize, size))
    }

    /// Bytes queued now and the byte bound, if the queue has one (takes the lock).
    pub(crate) fn bytes(&self) -> Option<(usize, usize)> {
        let st = self.lock();
        st.size.map(|_| {
            let used = queued_bytes(self.sent.load(Ordering::Relaxed)) as usize
                + queued_bytes(self.counts.load(Ordering::Acquire)) as usize;
            (used, st.limit as usize)
        })
    }

    fn take_reader(&self, st: &mut State<T>) -> Option<Waker> {
        let w = st.reader.take();
        if w.is_some() {
            // Written only under the lock: a load and a store suffice.
            self.parked.store(
                self.parked.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Release,
            );
        }
        w
    }

    /// The parking generation: unchanged since a `Pending` from [`poll_recv`] means the
    /// waker that poll left is still in place (no send or close has taken it).
    ///
    /// [`poll_recv`]: Queue::poll_recv
    #[inline]
    pub(crate) fn parked_since(&self) -> u64 {
        u64::from(self.parked.load(Ordering::Acquire))
    }

    /// Enqueue if there is room.
    pub(crate) fn try_push(&self, msg: T) -> Result<(), PushError<T>> {
        let reader = {
            let mut st = self.lock();
            if self.closed.load(Ordering::Relaxed) {
                return Err(PushError::Closed(msg));
            }
            let size = measure(st.size, &msg);
            if !self.has_room(&mut st, size) {
                return Err(PushError::Full(msg));
            }
            self.admit(&mut st, msg, size);
            self.take_reader(&mut st)
        };
        if let Some(w) = reader {
            w.wake();
        }
        Ok(())
    }

    /// Enqueue, making room by removing the oldest messages while the queue is full
    /// (by count or by bytes); returns how many were removed. `Err` if closed.
    pub(crate) fn push_evicting(&self, msg: T) -> Result<usize, T> {
        let (evicted, reader) = {
            let mut batch = self.lock_batch();
            let mut st = self.lock();
            if self.closed.load(Ordering::Relaxed) {
                return Err(msg);
            }
            let size = measure(st.size, &msg);
            let mut evicted = SmallVec::<[T; 1]>::new();
            while !self.has_room(&mut st, size) {
                // The oldest first: the read side's, then the send side's.
                if let Some(old) = batch.as_mut().and_then(|b| b.queued.pop_front()) {
                    st.read_seen = self.add_read(count(1, measure(st.size, &old)).wrapping_neg());
                    evicted.push(old);
                } else if let Some(old) = st.pop() {
                    self.add_sent(count(1, measure(st.size, &old)).wrapping_neg());
                    evicted.push(old);
                } else {
                    break;
                }
            }
            self.admit(&mut st, msg, size);
            (evicted, self.take_reader(&mut st))
        };
        if let Some(w) = reader {
            w.wake();
        }
        // The evicted messages are dropped here, outside the locks.
        Ok(evicted.len())
    }

    /// Remove everything queued on both sides, oldest first, uncounting it (both
    /// locks held).
    fn take_all(&self, batch: &mut Option<Box<Batch<T>>>, st: &mut State<T>) -> SmallVec<[T; 1]> {
        let mut taken: SmallVec<[T; 1]> =
            batch.iter_mut().flat_map(|b| b.queued.drain(..)).collect();
        // Exactly what was taken: a message the reader took before this, but has not
        // uncounted yet, is still counted and goes out with the reader.
        let bytes = taken
            .iter()
            .fold(0u32, |b, m| b.wrapping_add(measure(st.size, m)));
        let n = u32::try_from(taken.len()).unwrap_or(u32::MAX);
        st.read_seen = self.add_read(count(n, bytes).wrapping_neg());
        // The send side's count is exact under its lock: everything on it goes.
        taken.extend(st.head.take());
        taken.extend(st.rest.iter_mut().flat_map(|r| r.drain(..)));
        self.sent.store(0, Ordering::Relaxed);
        taken
    }

    /// Remove everything queued (for "keep latest"); returns how many were removed.
    pub(crate) fn clear(&self) -> usize {
        let removed = {
            let mut batch = self.lock_batch();
            let mut st = self.lock();
            // Dropped outside the locks; the buffers are kept. A queue cleared before
            // every send holds one message at most, so this does not allocate.
            self.take_all(&mut batch, &mut st)
        };
        if self.any_waiting() {
            self.space.notify(usize::MAX);
        }
        removed.len()
    }

    /// Enqueue, waiting for room. `Err` (with the message) if the queue closes first.
    pub(crate) async fn push(&self, msg: T) -> Result<(), T> {
        let mut push = Push {
            queue: self,
            msg: Some(msg),
            wait: PushWait::default(),
        };
        poll_fn(|cx| push.poll(cx)).await
    }

    /// One step of a send that waits for room: enqueue `msg` if there is room, or
    /// register in `wait` (kept by the caller between polls) and hand `msg` back as
    /// `Pending` until a receive frees a slot. Storing the message in the caller's
    /// future (once) rather than in an `async` state machine keeps a waiting send small.
    pub(crate) fn poll_push(
        &self,
        msg: T,
        wait: &mut PushWait,
        cx: &mut Context<'_>,
    ) -> PushPoll<T> {
        loop {
            if let Some(listener) = wait.listener.as_mut() {
                if Pin::new(listener).poll(cx).is_pending() {
                    return PushPoll::Pending(msg);
                }
                wait.listener = None;
            }
            let reader = {
                let mut st = self.lock();
                if self.closed.load(Ordering::Relaxed) {
                    wait.unregister(self);
                    return PushPoll::Closed(msg);
                }
                let size = measure(st.size, &msg);
                if !self.has_room(&mut st, size) {
                    // Listen, count in, look again (see the module docs): a receive
                    // that frees room after the second look sees this sender waiting.
                    wait.listener = Some(self.space.listen());
                    if !wait.registered {
                        wait.registered = true;
                        self.waiting.fetch_add(1, Ordering::AcqRel);
                    }
                    st.read_seen = self.add_read(0);
                    if !self.fits(&st, size) {
                        continue;
                    }
                    wait.listener = None;
                }
                self.admit(&mut st, msg, size);
                wait.unregister(self);
                self.take_reader(&mut st)
            };
            if let Some(w) = reader {
                w.wake();
            }
            return PushPoll::Done;
        }
    }

    /// Take the next message if one is queued.
    pub(crate) fn try_pop(&self) -> Result<T, Empty> {
        if self.len() == 0 && !self.closed.load(Ordering::Relaxed) {
            return Err(Empty::Empty);
        }
        match self.pop_or_park(None) {
            Poll::Ready(Some(m)) => Ok(m),
            Poll::Ready(None) => Err(Empty::Closed),
            Poll::Pending => Err(Empty::Empty),
        }
    }

    /// The next message, or park the reader (`cx`'s waker) until one is sent.
    /// `Ready(None)` once the queue is closed and empty.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_recv_noting(cx, &mut 0)
    }

    /// As [`poll_recv`](Queue::poll_recv); on `Pending` also sets `generation` to the
    /// parking generation that leaves this reader's waker in place (see
    /// [`parked_since`](Queue::parked_since)).
    pub(crate) fn poll_recv_noting(
        &self,
        cx: &mut Context<'_>,
        generation: &mut u64,
    ) -> Poll<Option<T>> {
        self.pop_or_park(Some((cx, generation)))
    }

    /// Take the oldest message: from the read side if it has one (uncounting it from
    /// the read side's count), else take the send side's messages in one lock (moving
    /// all but the oldest to the read side, and their count with them). With nothing
    /// queued: `Ready(None)` if closed, else park `park`'s waker (if given) and
    /// `Pending`.
    fn pop_or_park(&self, park: Option<(&mut Context<'_>, &mut u64)>) -> Poll<Option<T>> {
        let mut batch = self.lock_batch();
        if let Some(msg) = batch.as_mut().and_then(|b| b.queued.pop_front()) {
            let size = batch.as_ref().and_then(|b| b.size);
            drop(batch);
            self.add_read(count(1, measure(size, &msg)).wrapping_neg());
            self.wake_sender();
            return Poll::Ready(Some(msg));
        }
        let mut st = self.lock();
        let Some(msg) = st.pop() else {
            if self.closed.load(Ordering::Relaxed) {
                return Poll::Ready(None);
            }
            if let Some((cx, generation)) = park {
                match &mut st.reader {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => {
                        *slot = Some(cx.waker().clone());
                        self.parked.store(
                            self.parked.load(Ordering::Relaxed).wrapping_add(1),
                            Ordering::Release,
                        );
                    }
                }
                *generation = u64::from(self.parked.load(Ordering::Relaxed));
            }
            return Poll::Pending;
        };
        let size = st.size;
        self.add_sent(count(1, measure(size, &msg)).wrapping_neg());
        if let Some(rest) = st.rest.as_mut().filter(|r| !r.is_empty()) {
            // The rest moves to the read side by swapping buffers (the read side's
            // empty buffer becomes the send side's), and its count with it.
            let batch = batch.get_or_insert_with(|| {
                Box::new(Batch {
                    queued: VecDeque::new(),
                    size,
                })
            });
            std::mem::swap(&mut batch.queued, &mut **rest);
            let moved = self.sent.load(Ordering::Relaxed);
            self.sent.store(0, Ordering::Relaxed);
            st.read_seen = self.add_read(moved);
        }
        drop(st);
        drop(batch);
        // Room freed under the send side's lock: a sender that counted itself waiting
        // under it before is seen here.
        self.wake_sender();
        Poll::Ready(Some(msg))
    }

    pub(crate) async fn pop(&self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Close and hand over everything queued, oldest first: a hold passing what it
    /// kept to the inbox it now leads to. Waiting senders wake and find it closed.
    pub(crate) fn close_take(&self) -> SmallVec<[T; 1]> {
        let (taken, reader) = {
            let mut batch = self.lock_batch();
            let mut st = self.lock();
            // Under the lock, so every locked reader sees it.
            self.closed.store(true, Ordering::Relaxed);
            let taken = self.take_all(&mut batch, &mut st);
            (taken, self.take_reader(&mut st))
        };
        self.space.notify(usize::MAX);
        if let Some(w) = reader {
            w.wake();
        }
        taken
    }

    /// Put `first` in front of what is queued, in order, whatever the bounds: they were
    /// admitted by another bounded queue (a hold) before anything queued here was
    /// sent. `Err` hands them back if the queue is closed.
    pub(crate) fn prepend(&self, first: SmallVec<[T; 1]>) -> Result<(), SmallVec<[T; 1]>> {
        if first.is_empty() {
            return Ok(());
        }
        let reader = {
            let mut batch = self.lock_batch();
            let mut st = self.lock();
            if self.closed.load(Ordering::Relaxed) {
                return Err(first);
            }
            // Over the bounds for a moment at most by what the hold kept: senders wait
            // until the reader has taken it. The read side's messages are older than
            // the send side's, so the new ones go in front of the read side.
            let n = u32::try_from(first.len()).unwrap_or(u32::MAX);
            let bytes = first
                .iter()
                .fold(0u32, |b, m| b.saturating_add(measure(st.size, m)));
            let batch = batch.get_or_insert_with(|| {
                Box::new(Batch {
                    queued: VecDeque::new(),
                    size: st.size,
                })
            });
            for msg in first.into_iter().rev() {
                batch.queued.push_front(msg);
            }
            st.read_seen = self.add_read(count(n, bytes));
            self.take_reader(&mut st)
        };
        if let Some(w) = reader {
            w.wake();
        }
        Ok(())
    }

    /// Close: no more sends; the reader gets what is queued, then the end.
    pub(crate) fn close(&self) {
        let reader = {
            let mut st = self.lock();
            // Under the lock, so every locked reader sees it.
            self.closed.store(true, Ordering::Relaxed);
            self.take_reader(&mut st)
        };
        self.space.notify(usize::MAX);
        if let Some(w) = reader {
            w.wake();
        }
    }
}

/// Nothing to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Empty {
    Empty,
    Closed,
}

/// A sender's registration while it waits for room in a [`Queue`] (see
/// [`Queue::poll_push`]). Dropping a registered wait without [`cancel`](PushWait::cancel)
/// would leave the queue counting a sender that is gone, so owners cancel on drop.
#[derive(Default)]
pub(crate) struct PushWait {
    listener: Option<EventListener>,
    registered: bool,
}

impl PushWait {
    /// Uncount this sender from the queue's waiting senders, if counted.
    fn unregister<T>(&mut self, queue: &Queue<T>) {
        if self.registered {
            self.registered = false;
            queue.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Give a cancelled sender's registration back (a notification it received passes
    /// on to another waiting sender when its listener drops).
    pub(crate) fn cancel<T>(&mut self, queue: &Queue<T>) {
        self.listener = None;
        self.unregister(queue);
    }
}

/// The outcome of [`Queue::poll_push`].
pub(crate) enum PushPoll<T> {
    Done,
    Closed(T),
    Pending(T),
}

/// [`Queue::push`]'s state.
struct Push<'a, T> {
    queue: &'a Queue<T>,
    msg: Option<T>,
    wait: PushWait,
}

impl<T> Push<'_, T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), T>> {
        let msg = self.msg.take().expect("push polled after completion");
        match self.queue.poll_push(msg, &mut self.wait, cx) {
            PushPoll::Done => Poll::Ready(Ok(())),
            PushPoll::Closed(m) => Poll::Ready(Err(m)),
            PushPoll::Pending(m) => {
                self.msg = Some(m);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Push<'_, T> {
    fn drop(&mut self) {
        self.wait.cancel(self.queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[cfg(loom)]
    mod loom_queue;

    #[test]
    fn order_is_kept_across_the_inline_slot_and_the_buffer() {
        let q = Queue::new(8);
        let mut expect = std::collections::VecDeque::new();
        let mut next = 0u32;
        // Interleave pushes and pops so the oldest is sometimes inline, sometimes not.
        for round in 0..50u32 {
            for _ in 0..(round % 4) {
                if q.try_push(next).is_ok() {
                    expect.push_back(next);
                }
                next += 1;
            }
            for _ in 0..(round % 3) {
                assert_eq!(q.try_pop().ok(), expect.pop_front());
            }
            assert_eq!(q.len(), expect.len());
        }
        while let Some(e) = expect.pop_front() {
            assert_eq!(q.try_pop(), Ok(e));
        }
        assert_eq!(q.try_pop(), Err(Empty::Empty));
    }

    #[tokio::test]
    async fn fifo_bounded_and_closing() {
        let q = Queue::new(2);
        assert!(q.try_push(1).is_ok());
        assert!(q.try_push(2).is_ok());
        assert!(matches!(q.try_push(3), Err(PushError::Full(3))));
        assert_eq!(q.len(), 2);
        assert_eq!(q.try_pop(), Ok(1));
        q.close();
        assert!(matches!(q.try_push(4), Err(PushError::Closed(4))));
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.pop().await, None);
        assert_eq!(q.try_pop(), Err(Empty::Closed));
    }

    #[tokio::test]
    async fn blocked_senders_are_released_in_turn_and_nothing_is_lost() {
        let q = Arc::new(Queue::new(1));
        let mut senders = Vec::new();
        for i in 0..4u32 {
            let q = q.clone();
            senders.push(tokio::spawn(async move {
                for k in 0..500u32 {
                    q.push(i * 1000 + k).await.unwrap();
                }
            }));
        }
        let mut last = [None::<u32>; 4];
        for _ in 0..2000 {
            let m = q.pop().await.unwrap();
            let (i, k) = ((m / 1000) as usize, m % 1000);
            assert!(last[i].is_none_or(|p| p + 1 == k), "order kept per sender");
            last[i] = Some(k);
        }
        for s in senders {
            s.await.unwrap();
        }
        assert_eq!(q.len(), 0);
        assert_eq!(q.waiting(), 0);
    }

    #[tokio::test]
    async fn a_cancelled_blocked_sender_gives_its_turn_away() {
        let q = Arc::new(Queue::new(1));
        q.try_push(0).ok();
        let cancelled = {
            let q = q.clone();
            tokio::spawn(async move { q.push(1).await })
        };
        let waiting = {
            let q = q.clone();
            tokio::spawn(async move { q.push(2).await })
        };
        // Let both park; then free the slot, which notifies the first, and cancel it
        // before it runs: the turn must pass to the second.
        while q.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(q.try_pop(), Ok(0));
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        waiting.await.unwrap().ok();
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.waiting(), 0);
    }

    // The size function's type is `fn(&T)` for `T = Vec<u8>`.
    #[allow(clippy::ptr_arg)]
    fn len_of(v: &Vec<u8>) -> usize {
        v.len()
    }

    #[test]
    fn a_byte_budget_bounds_what_waits_by_size() {
        let q = Queue::new(64);
        q.set_budget(Some((10, len_of)));
        assert!(q.try_push(vec![0; 6]).is_ok());
        assert!(q.try_push(vec![0; 4]).is_ok());
        // 10 of 10 bytes used: a third message does not fit, though 62 slots are free.
        assert!(matches!(q.try_push(vec![0; 1]), Err(PushError::Full(_))));
        assert_eq!(q.bytes(), Some((10, 10)));
        assert_eq!(q.try_pop().map(|v| v.len()), Ok(6));
        assert_eq!(q.bytes(), Some((4, 10)));
        assert!(q.try_push(vec![0; 6]).is_ok());
        assert_eq!(q.try_pop().map(|v| v.len()), Ok(4));
        assert_eq!(q.try_pop().map(|v| v.len()), Ok(6));
        // A message larger than the whole budget enters an empty queue, and only then.
        assert!(q.try_push(vec![0; 100]).is_ok());
        assert!(matches!(q.try_push(vec![0; 1]), Err(PushError::Full(_))));
        assert_eq!(q.bytes(), Some((100, 10)));
    }

    #[test]
    fn evicting_under_a_byte_budget_removes_as_many_old_messages_as_needed() {
        let q = Queue::new(64);
        q.set_budget(Some((10, len_of)));
        for _ in 0..5 {
            assert!(q.try_push(vec![0; 2]).is_ok());
        }
        assert_eq!(q.push_evicting(vec![1; 5]).ok(), Some(3));
        assert_eq!(q.len(), 3);
        assert_eq!(q.bytes(), Some((9, 10)));
        assert_eq!(q.clear(), 3);
        assert_eq!(q.bytes(), Some((0, 10)));
    }

    #[test]
    fn budgets_and_sizes_above_one_gib_count_as_one_gib_without_touching_the_count() {
        fn huge(_: &u8) -> usize {
            usize::MAX
        }
        let q = Queue::new(4);
        q.set_budget(Some((usize::MAX, huge)));
        let max = (1 << 30) - 1;
        assert_eq!(q.bytes(), Some((0, max)));
        // The first enters the empty queue; the second would exceed the budget.
        assert!(q.try_push(1u8).is_ok());
        assert_eq!((q.len(), q.bytes()), (1, Some((max, max))));
        assert!(matches!(q.try_push(2), Err(PushError::Full(2))));
        // A hold hands over more than the bound: both halves grow, neither spills.
        q.prepend([7u8, 8, 9].into_iter().collect()).ok();
        assert_eq!((q.len(), q.bytes()), (4, Some((4 * max, max))));
        for want in [7, 8, 9, 1] {
            assert_eq!(q.try_pop(), Ok(want));
        }
        assert_eq!((q.len(), q.bytes()), (0, Some((0, max))));
    }

    #[test]
    fn a_budget_set_or_removed_while_messages_wait_measures_them_again() {
        let q = Queue::new(8);
        q.try_push(vec![0u8; 3]).ok();
        q.try_push(vec![0u8; 4]).ok();
        q.set_budget(Some((10, len_of)));
        assert_eq!(q.bytes(), Some((7, 10)));
        // The reader has taken one onto its side; a new budget still counts it.
        assert_eq!(q.try_pop().map(|m| m.len()), Ok(3));
        q.try_push(vec![0u8; 2]).ok();
        q.set_budget(None);
        assert_eq!(q.bytes(), None);
        q.set_budget(Some((5, len_of)));
        assert_eq!(q.bytes(), Some((6, 5)));
        assert!(matches!(q.try_push(vec![0u8; 1]), Err(PushError::Full(_))));
        assert_eq!(q.try_pop().map(|m| m.len()), Ok(4));
        assert_eq!(q.try_pop().map(|m| m.len()), Ok(2));
        assert_eq!((q.len(), q.bytes()), (0, Some((0, 5))));
    }

    #[test]
    fn an_inbox_queue_fits_the_size_class_it_had_before_the_counts_split() {
        // The queue's part of an inbox node; the node's `Arc` adds 16 bytes, and the
        // allocator rounds up to 16 with 8 of its own: 136 bytes here is a 160-byte
        // chunk, as before each side counted on its own.
        assert!(std::mem::size_of::<Queue<u64>>() <= 144);
        assert!(std::mem::size_of::<Queue<bytes::Bytes>>() <= 160);
    }

    #[test]
    fn a_capacity_above_the_most_a_queue_holds_is_clamped() {
        assert_eq!(Queue::<u8>::new(usize::MAX).capacity(), i32::MAX as usize);
    }

    #[tokio::test]
    async fn a_sender_blocked_by_bytes_gets_in_once_enough_is_read() {
        let q = Arc::new(Queue::new(64));
        q.set_budget(Some((8, len_of)));
        q.try_push(vec![0; 5]).ok();
        q.try_push(vec![0; 3]).ok();
        let sender = {
            let q = q.clone();
            tokio::spawn(async move { q.push(vec![7; 4]).await })
        };
        while q.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        // Reading the 5-byte message frees enough room for the waiting 4 bytes.
        assert_eq!(q.pop().await.map(|v| v.len()), Some(5));
        assert!(sender.await.unwrap().is_ok());
        assert_eq!(q.bytes(), Some((7, 8)));
        assert_eq!(q.waiting(), 0);
    }
}
