//! The bounded queue behind every real inbox.
//!
//! One mutex around the queued messages: an inbox has exactly one reader (its
//! component) and usually one writer, so the lock is almost never contended, and
//! holding the wait state under the same lock means a send only wakes someone who is
//! really waiting — no fences or event checks on the fast path. Memory grows with use:
//! the oldest message is kept inline, so an inbox that never held two messages at once
//! has no buffer at all, and one that held at most `k` has a buffer for about `k − 1`
//! (never more than its capacity, rounded up to a power of two).
//!
//! * The reader parks by leaving its waker in the queue ([`Queue::poll_recv`]); a send
//!   that finds it there takes it and wakes it. A reader waiting on several queues at
//!   once parks in each. Every change of the parked waker (parked, taken by a send or a
//!   close) bumps a generation counter, so a reader that finds the counter where its
//!   own parking left it, and the queue still empty and open, knows that polling again
//!   would change nothing and can skip the lock ([`Queue::parked_since`]).
//! * Senders that find the queue full wait on an [`Event`]; a receive that frees a slot
//!   while any sender waits notifies one. A notified sender that is cancelled passes the
//!   notification on (the event does this), so no slot is left unclaimed.
//! * Closing wakes everyone: senders get their message back, the reader drains what is
//!   queued and then sees the end.
//! * A queue may also be bounded in bytes ([`Queue::set_budget`]): a size function
//!   measures each message as it enters and leaves, and the queue counts as full when
//!   either bound is reached. A message larger than the whole budget still enters an
//!   empty queue (else it could never be sent), so a budget bounds what waits to about
//!   the budget plus one message. The budget is kept inline (no allocation): a queue
//!   without one pays one branch per send, and a message is measured when it enters
//!   and, unless it is the last one queued, when it leaves. Counts are kept in 32 bits:
//!   a budget above 2 GiB bounds at 2 GiB, and a message above 2 GiB counts as 2 GiB.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener};
use smallvec::SmallVec;

use crate::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use crate::sync::{Mutex, MutexGuard};

/// The most bytes a budget bounds, and the most one message counts for: 2 GiB, so
/// that what is queued (at most the budget plus one message) fits in a `u32`.
const MAX_BYTES: u32 = i32::MAX as u32;

/// Everything behind the lock, kept flat so the fields pack without padding (a
/// `control` inbox's state is 72 bytes).
///
/// The queued messages are the oldest inline (`head`) and the rest in a buffer that
/// exists only once two are queued at once. Most inboxes hold at most one message at
/// a time (a request waiting for its handler), which then costs no allocation at all.
struct State<T> {
    head: Option<T>,
    rest: VecDeque<T>,
    /// The reader, parked in `poll_recv`.
    reader: Option<Waker>,
    /// Senders between finding the queue full and enqueueing (or giving up).
    blocked_senders: u32,
    /// The byte bound, inline (no allocation): the most bytes queued (see
    /// [`MAX_BYTES`]); a queue without a bound pays one branch per send.
    limit: u32,
    /// Bytes of the messages queued now, by `size` (0 without a bound).
    used: u32,
    /// How to measure a message; `None`: no byte bound.
    size: Option<fn(&T) -> usize>,
    // `closed` lives in `Queue::closed`, written only under this lock.
}

/// A byte bound as given: the most bytes queued, and how to measure a message.
pub(crate) type ByteBound<T> = (usize, fn(&T) -> usize);

/// A byte count as the budget keeps it (clamped to [`MAX_BYTES`]).
#[inline]
fn clamp(bytes: usize) -> u32 {
    bytes.min(MAX_BYTES as usize) as u32
}

impl<T> State<T> {
    const fn new() -> Self {
        State {
            head: None,
            rest: VecDeque::new(),
            reader: None,
            blocked_senders: 0,
            limit: 0,
            used: 0,
            size: None,
        }
    }

    #[inline]
    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    /// Room for a message of `size` bytes (0 without a budget)?
    #[inline]
    fn has_room(&self, capacity: usize, size: u32) -> bool {
        let len = self.len();
        len < capacity
            && (self.size.is_none() || len == 0 || self.used.saturating_add(size) <= self.limit)
    }

    /// The size of `msg` under the budget (0 without one).
    #[inline]
    fn size_of(&self, msg: &T) -> u32 {
        match self.size {
            Some(size) => clamp(size(msg)),
            None => 0,
        }
    }

    /// Enqueue a message measured by [`size_of`](State::size_of) (after `has_room`).
    #[inline]
    fn push_sized(&mut self, msg: T, size: u32) {
        // 0 without a budget: no branch needed. No overflow: the sum is at most the
        // budget, or one message into an empty queue (whose count is 0).
        self.used += size;
        if self.head.is_none() && self.rest.is_empty() {
            self.head = Some(msg);
        } else {
            if self.rest.capacity() == 0 {
                // Start small: `VecDeque` would otherwise reserve several slots.
                self.rest.reserve_exact(1);
            }
            self.rest.push_back(msg);
        }
    }

    #[inline]
    fn pop_sized(&mut self) -> Option<T> {
        let msg = self.head.take().or_else(|| self.rest.pop_front())?;
        if self.size.is_some() {
            // The last message out leaves nothing queued: it need not be measured.
            self.used = if self.rest.is_empty() && self.head.is_none() {
                0
            } else {
                self.used.saturating_sub(self.size_of(&msg))
            };
        }
        Some(msg)
    }

    /// Remove everything queued.
    fn take_all(&mut self) -> SmallVec<[T; 1]> {
        self.used = 0;
        self.head
            .take()
            .into_iter()
            .chain(self.rest.drain(..))
            .collect()
    }
}

/// A bounded multi-producer, single-consumer queue; see the module docs.
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Mirrors `State::len` for lock-free `len`/`is_empty` (never above `capacity`).
    len: AtomicU32,
    /// Bumped (wrapping) whenever the parked reader waker changes (see the module docs).
    parked: AtomicU32,
    /// Closed: written only under the lock (so a locked reader sees it exactly), read
    /// without it by `is_closed` and `try_pop`'s fast path.
    closed: AtomicBool,
    /// A byte for the queue's owner, kept here where it costs no space (an inbox
    /// keeps the last lifecycle message read from `control` in it).
    pub(crate) tag: AtomicU8,
    /// Its reader has been handed out (an inbox is read by one owner only); kept
    /// here for the same reason.
    pub(crate) taken: AtomicBool,
    capacity: u32,
    space: Event,
}

/// Why a send did not enqueue.
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State::new()),
            len: AtomicU32::new(0),
            parked: AtomicU32::new(0),
            closed: AtomicBool::new(false),
            tag: AtomicU8::new(0),
            taken: AtomicBool::new(false),
            capacity: u32::try_from(capacity.max(1)).unwrap_or(u32::MAX),
            space: Event::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the state half-updated (every
        // update is a single push, pop or flag), so a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed) as usize
    }

    /// Update the lock-free mirror of the length (under the lock).
    #[inline]
    fn mirror_len(&self, st: &State<T>) {
        // At most `capacity`, which fits in `u32`.
        self.len.store(st.len() as u32, Ordering::Relaxed);
    }

    /// The most messages it holds (at most `u32::MAX`).
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity as usize
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Bound the queue in bytes as well, measuring each message with `size`; `None`
    /// removes the bound. What is queued now is measured at once. Senders waiting for
    /// room look again (a larger budget may let them in).
    pub(crate) fn set_budget(&self, budget: Option<ByteBound<T>>) {
        let notify = {
            let mut st = self.lock();
            let st = &mut *st;
            match budget {
                Some((limit, size)) => {
                    let queued = st.head.iter().chain(st.rest.iter());
                    // Saturating: a wrong (low) count heals when the queue empties.
                    st.used = queued.fold(0, |n: u32, m| n.saturating_add(clamp(size(m))));
                    st.limit = clamp(limit);
                    st.size = Some(size);
                }
                None => (st.used, st.limit, st.size) = (0, 0, None),
            }
            st.blocked_senders > 0
        };
        if notify {
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
        st.size.map(|_| (st.used as usize, st.limit as usize))
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
            let size = st.size_of(&msg);
            if !st.has_room(self.capacity(), size) {
                return Err(PushError::Full(msg));
            }
            st.push_sized(msg, size);
            self.mirror_len(&st);
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
            let mut st = self.lock();
            if self.closed.load(Ordering::Relaxed) {
                return Err(msg);
            }
            let size = st.size_of(&msg);
            let mut evicted = SmallVec::<[T; 1]>::new();
            while !st.has_room(self.capacity(), size) {
                match st.pop_sized() {
                    Some(old) => evicted.push(old),
                    None => break,
                }
            }
            st.push_sized(msg, size);
            self.mirror_len(&st);
            (evicted, self.take_reader(&mut st))
        };
        if let Some(w) = reader {
            w.wake();
        }
        // The evicted messages are dropped here, outside the lock.
        Ok(evicted.len())
    }

    /// Remove everything queued (for "keep latest"); returns how many were removed.
    pub(crate) fn clear(&self) -> usize {
        let (removed, notify) = {
            let mut st = self.lock();
            // Dropped outside the lock; the buffer is kept. A queue cleared before every
            // send holds one message at most, so this does not allocate.
            let removed = st.take_all();
            self.len.store(0, Ordering::Relaxed);
            (removed, st.blocked_senders > 0)
        };
        if notify {
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
                    if wait.registered {
                        st.blocked_senders -= 1;
                        wait.registered = false;
                    }
                    return PushPoll::Closed(msg);
                }
                let size = st.size_of(&msg);
                if !st.has_room(self.capacity(), size) {
                    if !wait.registered {
                        st.blocked_senders += 1;
                        wait.registered = true;
                    }
                    // Listening under the lock: a receive that frees a slot after this
                    // point sees `blocked_senders` and notifies.
                    wait.listener = Some(self.space.listen());
                    continue;
                }
                st.push_sized(msg, size);
                self.mirror_len(&st);
                if wait.registered {
                    st.blocked_senders -= 1;
                    wait.registered = false;
                }
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
        if self.len.load(Ordering::Relaxed) == 0 && !self.closed.load(Ordering::Relaxed) {
            return Err(Empty::Empty);
        }
        let popped = self.pop_locked(&mut self.lock());
        match popped {
            Ok(taken) => Ok(self.freed(taken)),
            Err(true) => Err(Empty::Closed),
            Err(false) => Err(Empty::Empty),
        }
    }

    /// Take the oldest message under the lock, with whether a sender waits for room;
    /// `Err(closed)` if there is none.
    fn pop_locked(&self, st: &mut State<T>) -> Result<(T, bool), bool> {
        match st.pop_sized() {
            Some(m) => {
                self.mirror_len(st);
                Ok((m, st.blocked_senders > 0))
            }
            None => Err(self.closed.load(Ordering::Relaxed)),
        }
    }

    /// After the lock is released: tell a waiting sender that a slot is free.
    fn freed(&self, (msg, notify): (T, bool)) -> T {
        if notify {
            self.space.notify(1);
        }
        msg
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
        let taken = {
            let mut st = self.lock();
            match self.pop_locked(&mut st) {
                Ok(taken) => taken,
                Err(true) => return Poll::Ready(None),
                Err(false) => {
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
                    return Poll::Pending;
                }
            }
        };
        Poll::Ready(Some(self.freed(taken)))
    }

    pub(crate) async fn pop(&self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Close and hand over everything queued, oldest first: a hold passing what it
    /// kept to the inbox it now leads to. Waiting senders wake and find it closed.
    pub(crate) fn close_take(&self) -> SmallVec<[T; 1]> {
        let (taken, reader) = {
            let mut st = self.lock();
            // Under the lock, so every locked reader sees it.
            self.closed.store(true, Ordering::Relaxed);
            let taken = st.take_all();
            self.len.store(0, Ordering::Relaxed);
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
            let mut st = self.lock();
            if self.closed.load(Ordering::Relaxed) {
                return Err(first);
            }
            let queued = st.take_all();
            for msg in first.into_iter().chain(queued) {
                let size = st.size_of(&msg);
                // Over the bound for a moment at most by what the hold kept: senders
                // wait until the reader has taken it.
                let room = st.limit.saturating_sub(st.used);
                st.push_sized(msg, size.min(room));
                st.used = st.used.saturating_add(size - size.min(room));
            }
            self.len.store(
                u32::try_from(st.len()).unwrap_or(u32::MAX),
                Ordering::Relaxed,
            );
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
    /// Give a cancelled sender's registration back (a notification it received passes
    /// on to another waiting sender when its listener drops).
    pub(crate) fn cancel<T>(&mut self, queue: &Queue<T>) {
        self.listener = None;
        if self.registered {
            self.registered = false;
            queue.lock().blocked_senders -= 1;
        }
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
        assert_eq!(q.lock().blocked_senders, 0);
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
        while q.lock().blocked_senders < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(q.try_pop(), Ok(0));
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        waiting.await.unwrap().ok();
        assert_eq!(q.pop().await, Some(2));
        assert_eq!(q.lock().blocked_senders, 0);
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
    fn budgets_and_sizes_above_two_gib_count_as_two_gib() {
        fn huge(_: &u8) -> usize {
            usize::MAX
        }
        let q = Queue::new(4);
        q.set_budget(Some((usize::MAX, huge)));
        let max = i32::MAX as usize;
        assert_eq!(q.bytes(), Some((0, max)));
        // The first enters the empty queue; the second would exceed the budget.
        assert!(q.try_push(1u8).is_ok());
        assert_eq!(q.bytes(), Some((max, max)));
        assert!(matches!(q.try_push(2), Err(PushError::Full(2))));
        assert_eq!(q.try_pop(), Ok(1));
        assert_eq!(q.bytes(), Some((0, max)));
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
        while q.lock().blocked_senders < 1 {
            tokio::task::yield_now().await;
        }
        // Reading the 5-byte message frees enough room for the waiting 4 bytes.
        assert_eq!(q.pop().await.map(|v| v.len()), Some(5));
        assert!(sender.await.unwrap().is_ok());
        assert_eq!(q.bytes(), Some((7, 8)));
        assert_eq!(q.lock().blocked_senders, 0);
    }
}
