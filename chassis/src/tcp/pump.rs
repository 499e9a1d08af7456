//! The full-duplex loop between one TCP socket and a component's boxes, shared by
//! the connected-socket adapter and the client.
//!
//! Reading and writing go on together. Bytes read are offered to `outbox` with
//! `try_send`; when the destination is full the chunk waits in a pending send and the
//! socket is not read again until it is delivered, so backpressure reaches the peer
//! through TCP flow control. Only one read chunk is ever held here.
//!
//! The idle timeout is kept on an [`IdleWheel`]: one timer for all of a server's
//! connections rather than a `Sleep` per connection.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker, ready};
use std::time::Duration;

use axon::{Control, Inbox, Outbox, SendError};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::CloseReason;

/// The most read from the socket into one message.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// What to do with bytes read when `outbox` has no destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhenUnlinked {
    /// Nobody will read them: flush what is queued for the socket and close.
    Close,
    /// Drop them (counted as undelivered by the runtime) and carry on.
    Discard,
}

type PendingSend =
    Pin<Box<dyn Future<Output = (Outbox<Bytes>, Result<(), SendError<Bytes>>)> + Send>>;

/// One connection's idle clock. Times are nanoseconds on the wheel's clock; the
/// wheel holds the timer.
/// The outbox for bytes read, or the send that waits with it for room (only one
/// chunk is ever held); one field rather than two, so a connection's state is smaller.
enum Out {
    Ready(Outbox<Bytes>),
    Waiting(PendingSend),
    /// Only while switching between the two.
    Gone,
}

struct Idle {
    wheel: IdleWheel,
    /// When bytes last moved.
    last: u64,
    /// When the timer is set to fire; it is looked at (to register or to fire) only
    /// after a reset or once this has passed, not on every turn.
    due: u64,
    /// The connection's entry in the wheel, once registered (else `NO_SLOT`).
    slot: u32,
    registered: bool,
}

impl Idle {
    fn new(wheel: IdleWheel) -> Self {
        let now = wheel.now();
        let due = now.saturating_add(wheel.inner.timeout);
        Idle {
            wheel,
            last: now,
            due,
            slot: NO_SLOT,
            registered: false,
        }
    }

    /// Ready once `due` has passed; otherwise registered to wake the task then.
    fn poll(&mut self, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.wheel.now() >= self.due {
            return Poll::Ready(());
        }
        if !self.registered {
            self.registered = true;
            self.wheel.register(&mut self.slot, self.due, cx.waker());
        }
        Poll::Pending
    }
}

impl Drop for Idle {
    fn drop(&mut self) {
        if self.slot != NO_SLOT {
            self.wheel.cancel(self.slot);
        }
    }
}

/// The state of one socket's loop; see the module docs.
///
/// The loop is a hand-written poll function rather than a `select!` over `recv`
/// futures: it polls the inboxes, the socket and the timer directly, in priority
/// order, so one connection's state is a few hundred bytes and a turn of the loop
/// allocates nothing. It owns the socket and the inboxes (rather than borrowing them
/// from the component's state), so that a connection's future holds each only once.
pub(crate) struct Pump {
    /// The socket.
    stream: TcpStream,
    /// Bytes for the socket.
    input: Inbox<Bytes>,
    /// Lifecycle messages.
    control: Inbox<Control>,
    control_open: bool,
    /// The waker the inboxes hold (from the last `Pending`): while it is this turn's
    /// waker and an inbox is empty and open, polling that inbox again would change
    /// nothing, so it is skipped.
    parked_with: Option<Waker>,
    control_parked: bool,
    input_parked: bool,
    /// Where bytes read go: the outbox, or the send waiting for room that holds it.
    out: Out,
    wbuf: Option<Bytes>,
    reading: bool,
    /// The peer has ended its side (end of stream seen).
    peer_closed: bool,
    /// Bytes moved since the idle clock was last read.
    active: bool,
    finishing: Option<CloseReason>,
    taking_input: bool,
    idle: Option<Idle>,
    unlinked: WhenUnlinked,
    /// The I/O error that ended the loop, if one did.
    pub(crate) last_error: Option<io::Error>,
    /// True once our side of the connection was shut down after a flush.
    pub(crate) flushed: bool,
}

impl Pump {
    pub(crate) fn new(
        stream: TcpStream,
        inbox: Inbox<Bytes>,
        control: Inbox<Control>,
        outbox: Outbox<Bytes>,
        idle: Option<IdleWheel>,
        unlinked: WhenUnlinked,
    ) -> Self {
        let idle = idle.map(Idle::new);
        Pump {
            stream,
            input: inbox,
            control,
            control_open: true,
            parked_with: None,
            control_parked: false,
            input_parked: false,
            out: Out::Ready(outbox),
            wbuf: None,
            reading: true,
            peer_closed: false,
            active: false,
            finishing: None,
            taking_input: true,
            idle,
            unlinked,
            last_error: None,
            flushed: false,
        }
    }

    /// The socket.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Give back the socket and the inboxes.
    pub(crate) fn into_parts(self) -> (TcpStream, Inbox<Bytes>, Inbox<Control>) {
        (self.stream, self.input, self.control)
    }

    /// Start in the finishing state: write what is queued, then close.
    pub(crate) fn finish_now(&mut self) {
        self.finish(CloseReason::Finished);
    }

    /// After a finish (our side closed), read until the peer closes; take no more input.
    pub(crate) fn keep_reading(&mut self) {
        self.finishing = None;
        self.taking_input = false;
        self.reading = true;
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.finishing.is_none() {
            self.finishing = Some(reason);
        }
        self.reading = false;
    }

    fn fail(&mut self, e: io::Error) -> CloseReason {
        let reason = CloseReason::from_io(&e);
        self.last_error = Some(e);
        reason
    }

    /// Bytes moved: the connection is not idle. The clock is read once per turn of
    /// the loop that moved any, not per read or write.
    fn touch(&mut self) {
        self.active = true;
    }

    /// The timer fired: true if the connection really has been idle for the timeout.
    fn idle_expired(&mut self) -> bool {
        let waiting_on_handler = matches!(self.out, Out::Waiting(_));
        let Some(idle) = self.idle.as_mut() else {
            return false;
        };
        let now = idle.wheel.now();
        if waiting_on_handler {
            // Waiting for our own handler to read is not the peer's silence.
            idle.last = now;
        }
        let due = idle.last.saturating_add(idle.wheel.inner.timeout);
        if now >= due {
            return true;
        }
        idle.due = due;
        idle.registered = false;
        false
    }

    fn deliver(&mut self, chunk: Bytes) {
        let Out::Ready(out) = &mut self.out else {
            return;
        };
        match out.try_send(chunk) {
            Ok(()) => {}
            Err(e) if e.is_full() => {
                let chunk = e.into_inner();
                let Out::Ready(mut out) = std::mem::replace(&mut self.out, Out::Gone) else {
                    unreachable!("matched above");
                };
                self.out = Out::Waiting(Box::pin(async move {
                    let r = out.send(chunk).await;
                    (out, r)
                }));
            }
            Err(_) => self.on_unlinked(),
        }
    }

    fn on_unlinked(&mut self) {
        if self.unlinked == WhenUnlinked::Close {
            self.finish(CloseReason::HandlerGone);
        }
    }

    /// Run until the connection should close, or until the peer ends its side
    /// ([`CloseReason::PeerClosed`]): then reading has stopped, and calling `run`
    /// again goes on writing what arrives on `inbox` until `control` or an error
    /// ends it.
    ///
    /// Not an `async fn`: the returned future is just the borrow of the loop.
    pub(crate) fn run(&mut self) -> impl Future<Output = CloseReason> + Send + '_ {
        poll_fn(move |cx| self.poll_run(cx))
    }

    /// One turn: make every step that can be made now, in priority order (lifecycle,
    /// writing, taking input, delivering, reading, the idle timer), starting again
    /// from the top after each; `Pending` when none can, with every source that could
    /// unblock one registered to wake the task.
    fn poll_run(&mut self, cx: &mut TaskContext<'_>) -> Poll<CloseReason> {
        if !self
            .parked_with
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            self.parked_with = Some(cx.waker().clone());
            self.control_parked = false;
            self.input_parked = false;
            if let Some(idle) = self.idle.as_mut() {
                idle.registered = false;
            }
        }
        loop {
            if self.wbuf.is_none()
                && let Some(reason) = self.finishing
            {
                // Write what is still queued; once nothing is, close our side.
                if let Ok(b) = self.input.try_recv() {
                    self.wbuf = (!b.is_empty()).then_some(b);
                    continue;
                }
                if self.peer_closed {
                    // Both sides are done and everything is written: closing the
                    // socket sends our end of stream, no separate shutdown needed.
                    self.flushed = true;
                    return Poll::Ready(reason);
                }
                return Poll::Ready(match ready!(Pin::new(&mut self.stream).poll_shutdown(cx)) {
                    Ok(()) => {
                        self.flushed = true;
                        reason
                    }
                    Err(e) => self.fail(e),
                });
            }
            if self.control_open
                && !(self.control_parked && self.control.is_empty() && !self.control.is_closed())
            {
                self.control_parked = false;
                match self.control.poll_recv(cx) {
                    Poll::Ready(None) => {
                        self.control_open = false;
                        continue;
                    }
                    Poll::Ready(Some(Control::Shutdown)) => {
                        return Poll::Ready(CloseReason::Shutdown);
                    }
                    Poll::Ready(Some(c)) => {
                        if c.ends_input() {
                            self.finish(CloseReason::Finished);
                        }
                        continue;
                    }
                    Poll::Pending => self.control_parked = true,
                }
            }
            if self.wbuf.is_some() {
                match poll_write_some(&mut self.stream, cx, &mut self.wbuf) {
                    Poll::Ready(Ok(())) => {
                        self.touch();
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(self.fail(e)),
                    Poll::Pending => {}
                }
            } else if self.taking_input
                && self.finishing.is_none()
                && !(self.input_parked && self.input.is_empty() && !self.input.is_closed())
            {
                self.input_parked = false;
                match self.input.poll_recv(cx) {
                    Poll::Ready(Some(b)) => {
                        self.wbuf = (!b.is_empty()).then_some(b);
                        continue;
                    }
                    Poll::Ready(None) => {
                        self.taking_input = false;
                        continue;
                    }
                    Poll::Pending => self.input_parked = true,
                }
            }
            if let Out::Waiting(p) = &mut self.out {
                if let Poll::Ready((out, sent)) = p.as_mut().poll(cx) {
                    self.out = Out::Ready(out);
                    if sent.is_err() {
                        self.on_unlinked();
                    }
                    continue;
                }
            } else if self.reading {
                match poll_read_chunk(&mut self.stream, cx) {
                    Poll::Ready(Ok(Some(chunk))) => {
                        self.touch();
                        self.deliver(chunk);
                        continue;
                    }
                    Poll::Ready(Ok(None)) => {
                        self.reading = false;
                        self.peer_closed = true;
                        return Poll::Ready(CloseReason::PeerClosed);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(self.fail(e)),
                    Poll::Pending => {}
                }
            }
            if let Some(idle) = self.idle.as_mut() {
                // The timer is polled to register it (once per reset), when it may be
                // due, and when nothing else woke us (then it may have been the timer);
                // not on every busy turn.
                let check = if std::mem::take(&mut self.active) {
                    let now = idle.wheel.now();
                    idle.last = now;
                    !idle.registered || now >= idle.due
                } else {
                    true
                };
                if check && idle.poll(cx).is_ready() {
                    if self.idle_expired() {
                        return Poll::Ready(CloseReason::IdleTimeout);
                    }
                    continue;
                }
            }
            return Poll::Pending;
        }
    }
}

fn poll_write_some(
    wr: &mut TcpStream,
    cx: &mut TaskContext<'_>,
    wbuf: &mut Option<Bytes>,
) -> Poll<io::Result<()>> {
    let Some(buf) = wbuf.as_mut() else {
        return Poll::Ready(Ok(()));
    };
    let n = ready!(Pin::new(wr).poll_write(cx, buf))?;
    if n == 0 {
        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
    }
    buf.advance(n);
    if buf.is_empty() {
        *wbuf = None;
    }
    Poll::Ready(Ok(()))
}

/// Read what is there (up to [`READ_CHUNK`]) into a message of exactly that size;
/// `None` at end of stream. The staging buffer lives on the stack only while polled,
/// so an idle connection holds no read buffer.
fn poll_read_chunk(
    rd: &mut TcpStream,
    cx: &mut TaskContext<'_>,
) -> Poll<io::Result<Option<Bytes>>> {
    let mut staging = [const { MaybeUninit::<u8>::uninit() }; READ_CHUNK];
    let mut buf = ReadBuf::uninit(&mut staging);
    ready!(Pin::new(rd).poll_read(cx, &mut buf))?;
    let filled = buf.filled();
    Poll::Ready(Ok(
        (!filled.is_empty()).then(|| Bytes::copy_from_slice(filled))
    ))
}

/// After our side is shut down, read and discard what the peer already sent, so
/// that closing does not turn into a reset that could destroy the reply in flight.
pub(crate) fn discard_unread(stream: &TcpStream) {
    let mut scratch = [0u8; 4096];
    // Bounded: stop at end of stream, at an error, or when nothing more is waiting.
    for _ in 0..256 {
        match stream.try_read(&mut scratch) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// The idle timers of many connections (all of one server's), driven by one tokio
/// timer: each connection keeps only its times and an entry here (its waker and
/// deadline), where a `Sleep` of its own would cost it a heap allocation of about
/// 110 bytes and 64 bytes of state.
///
/// A connection registers when its clock is (re)set and is woken when the deadline
/// passes; it then decides, as before, whether it really was idle (and otherwise
/// registers its new deadline). One task, spawned while any deadline is pending,
/// sleeps until the earliest live one, so the timers the tokio runtime sees are a
/// subset of the old per-connection ones: on the paused clock time moves to the same
/// instants. The clock is `tokio::time::Instant`, counted in nanoseconds from the
/// first time a connection reads it.
#[derive(Clone)]
pub(crate) struct IdleWheel {
    inner: Arc<WheelInner>,
}

impl std::fmt::Debug for IdleWheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleWheel")
            .field("timeout", &self.timeout())
            .finish_non_exhaustive()
    }
}

struct WheelInner {
    /// The idle timeout, in nanoseconds.
    timeout: u64,
    epoch: OnceLock<Instant>,
    state: Mutex<WheelState>,
}

/// A connection not (yet) in the wheel.
const NO_SLOT: u32 = u32::MAX;

#[derive(Default)]
struct WheelState {
    slots: Vec<Entry>,
    free: Vec<u32>,
    /// Deadlines by slot; an entry is stale (skipped) once its slot has been freed,
    /// has fired, or was registered again with another deadline. (A stale entry
    /// whose slot has since been taken by a connection with the same deadline wakes
    /// that connection at its deadline, which is right.)
    queue: BinaryHeap<Reverse<(u64, u32)>>,
    /// A driver task is running.
    driving: bool,
    /// The deadline the driver sleeps until.
    target: u64,
    /// Set when an earlier deadline arrives while the driver sleeps.
    retarget: bool,
    driver: Option<Waker>,
}

#[derive(Default)]
struct Entry {
    waker: Option<Waker>,
    /// The deadline queued for it; `NOT_QUEUED` when none.
    due: u64,
}

const NOT_QUEUED: u64 = u64::MAX;

impl WheelState {
    fn is_live(&self, (due, slot): (u64, u32)) -> bool {
        self.slots[slot as usize].due == due
    }

    /// The earliest live deadline; stale entries ahead of it are dropped.
    fn earliest(&mut self) -> Option<u64> {
        while let Some(&Reverse(head)) = self.queue.peek() {
            if self.is_live(head) {
                return Some(head.0);
            }
            self.queue.pop();
        }
        None
    }
}

impl IdleWheel {
    /// A wheel for connections that close after `timeout` of silence.
    pub(crate) fn new(timeout: Duration) -> Self {
        IdleWheel {
            inner: Arc::new(WheelInner {
                timeout: u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX),
                epoch: OnceLock::new(),
                state: Mutex::new(WheelState::default()),
            }),
        }
    }

    /// The idle timeout it was made for.
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_nanos(self.inner.timeout)
    }

    fn lock(&self) -> MutexGuard<'_, WheelState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn epoch(&self) -> Instant {
        *self.inner.epoch.get_or_init(Instant::now)
    }

    /// Now, in nanoseconds since the epoch.
    fn now(&self) -> u64 {
        let since = Instant::now().saturating_duration_since(self.epoch());
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Wake `waker` once `due` has passed (and `now` is earlier). Replaces the
    /// slot's earlier registration, if any.
    fn register(&self, slot: &mut u32, due: u64, waker: &Waker) {
        if due == NOT_QUEUED
            || self
                .epoch()
                .checked_add(Duration::from_nanos(due))
                .is_none()
        {
            // Beyond the end of time: never.
            return;
        }
        let mut wake_driver = None;
        {
            let mut st = self.lock();
            if *slot == NO_SLOT {
                *slot = match st.free.pop() {
                    Some(i) => i,
                    None => {
                        st.slots.push(Entry {
                            due: NOT_QUEUED,
                            ..Entry::default()
                        });
                        u32::try_from(st.slots.len() - 1)
                            .ok()
                            .filter(|&i| i != NO_SLOT)
                            .expect("fewer than 2^32 - 1 connections")
                    }
                };
            }
            let i = *slot;
            let e = &mut st.slots[i as usize];
            if !e.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                e.waker = Some(waker.clone());
            }
            if e.due != due {
                e.due = due;
                st.queue.push(Reverse((due, i)));
                if !st.driving {
                    st.driving = true;
                    st.target = due;
                    st.retarget = false;
                    tokio::spawn(drive(self.clone()));
                } else if due < st.target {
                    st.target = due;
                    st.retarget = true;
                    wake_driver = st.driver.take();
                }
            }
        }
        if let Some(w) = wake_driver {
            w.wake();
        }
    }

    /// Forget a connection's entry (it has closed).
    fn cancel(&self, i: u32) {
        let mut wake_driver = None;
        {
            let mut st = self.lock();
            let st = &mut *st;
            let e = &mut st.slots[i as usize];
            let was = std::mem::replace(&mut e.due, NOT_QUEUED);
            e.waker = None;
            st.free.push(i);
            let live = st.slots.len() - st.free.len();
            if st.driving && (was == st.target || live == 0) {
                // The driver may be sleeping for this one (or for none left): let it look
                // again, so no timer is left pending for a connection that has gone.
                st.retarget = true;
                wake_driver = st.driver.take();
            }
            // Drop stale entries once they outnumber the live ones, and give the
            // memory back once every connection has gone.
            if live == 0 && st.slots.len() > 1024 {
                st.slots = Vec::new();
                st.free = Vec::new();
                st.queue = BinaryHeap::new();
            } else if st.queue.len() > 2 * live + 64 {
                let mut queue = std::mem::take(&mut st.queue).into_vec();
                queue.retain(|&Reverse(k)| st.is_live(k));
                st.queue = queue.into();
            }
        }
        if let Some(w) = wake_driver {
            w.wake();
        }
    }
}

/// Marks the wheel undriven if the driver task is dropped (its runtime shut down)
/// before it ended by itself, so the next registration starts another.
struct Driving {
    wheel: IdleWheel,
    ended: bool,
}

impl Drop for Driving {
    fn drop(&mut self) {
        if !self.ended {
            let mut st = self.wheel.lock();
            st.driving = false;
            st.driver = None;
        }
    }
}

/// The driver: wake every connection whose deadline has passed, then sleep until the
/// earliest one left; end when none is left.
async fn drive(wheel: IdleWheel) {
    let mut driving = Driving {
        wheel,
        ended: false,
    };
    let wheel = driving.wheel.clone();
    let epoch = wheel.epoch();
    let sleep = tokio::time::sleep_until(epoch);
    tokio::pin!(sleep);
    let mut due = Vec::new();
    // The deadline the sleep last fired for: everything up to it has passed, even if
    // the clock were to read earlier.
    let mut reached = 0;
    loop {
        let next = {
            let mut st = wheel.lock();
            let now = wheel.now().max(reached);
            while let Some(&Reverse(head)) = st.queue.peek() {
                if head.0 > now {
                    break;
                }
                st.queue.pop();
                if st.is_live(head) {
                    let e = &mut st.slots[head.1 as usize];
                    e.due = NOT_QUEUED;
                    if let Some(w) = e.waker.take() {
                        due.push(w);
                    }
                }
            }
            let next = st.earliest();
            match next {
                Some(t) => {
                    st.target = t;
                    st.retarget = false;
                }
                None => st.driving = false,
            }
            next
        };
        for w in due.drain(..) {
            w.wake();
        }
        let Some(next) = next else {
            driving.ended = true;
            return;
        };
        sleep.as_mut().reset(epoch + Duration::from_nanos(next));
        let fired = poll_fn(|cx| {
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            let mut st = wheel.lock();
            if std::mem::take(&mut st.retarget) {
                return Poll::Ready(false);
            }
            if !st.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.driver = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        if fired {
            reached = reached.max(next);
        }
    }
}
