//! The full-duplex loop between one TCP socket and a component's boxes, shared by
//! the connected-socket adapter and the client.
//!
//! Reading and writing go on together. Bytes read are offered to `outbox` with
//! `try_send`; when the destination is full the chunk waits in a pending send and the
//! socket is not read again until it is delivered, so backpressure reaches the peer
//! through TCP flow control. Only one read chunk is ever held here.

use std::future::{Future, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, Waker, ready};
use std::time::Duration;

use axon::{Control, Inbox, Outbox, SendError};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

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

struct Idle {
    timeout: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    /// When the timer is set to fire; it is polled (to register or to fire) only
    /// after a reset or once this has passed, not on every turn.
    due: Instant,
    registered: bool,
}

/// The state of one socket's loop; see the module docs.
///
/// The loop is a hand-written poll function rather than a `select!` over `recv`
/// futures: it polls the inboxes, the socket and the timer directly, in priority
/// order, so one connection's state is a few hundred bytes and a turn of the loop
/// allocates nothing.
pub(crate) struct Pump<'a> {
    /// Bytes for the socket.
    input: &'a mut Inbox<Bytes>,
    /// Lifecycle messages.
    control: &'a mut Inbox<Control>,
    control_open: bool,
    /// The waker the inboxes hold (from the last `Pending`): while it is this turn's
    /// waker and an inbox is empty and open, polling that inbox again would change
    /// nothing, so it is skipped.
    parked_with: Option<Waker>,
    control_parked: bool,
    input_parked: bool,
    outbox: Option<Outbox<Bytes>>,
    pending: Option<PendingSend>,
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

impl<'a> Pump<'a> {
    pub(crate) fn new(
        inbox: &'a mut Inbox<Bytes>,
        control: &'a mut Inbox<Control>,
        outbox: Outbox<Bytes>,
        idle_timeout: Option<Duration>,
        unlinked: WhenUnlinked,
    ) -> Self {
        let idle = idle_timeout.map(|timeout| Idle {
            timeout,
            last: Instant::now(),
            timer: Box::pin(tokio::time::sleep(timeout)),
            due: Instant::now() + timeout,
            registered: false,
        });
        Pump {
            input: inbox,
            control,
            control_open: true,
            parked_with: None,
            control_parked: false,
            input_parked: false,
            outbox: Some(outbox),
            pending: None,
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
        let waiting_on_handler = self.pending.is_some();
        let Some(idle) = self.idle.as_mut() else {
            return false;
        };
        let now = Instant::now();
        if waiting_on_handler {
            // Waiting for our own handler to read is not the peer's silence.
            idle.last = now;
        }
        let due = idle.last + idle.timeout;
        if now >= due {
            return true;
        }
        idle.timer.as_mut().reset(due);
        idle.due = due;
        idle.registered = false;
        false
    }

    fn deliver(&mut self, chunk: Bytes) {
        let Some(mut out) = self.outbox.take() else {
            return;
        };
        match out.try_send(chunk) {
            Ok(()) => self.outbox = Some(out),
            Err(e) if e.is_full() => {
                let chunk = e.into_inner();
                self.pending = Some(Box::pin(async move {
                    let r = out.send(chunk).await;
                    (out, r)
                }));
            }
            Err(_) => {
                self.outbox = Some(out);
                self.on_unlinked();
            }
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
    pub(crate) async fn run(&mut self, stream: &mut TcpStream) -> CloseReason {
        poll_fn(|cx| self.poll_run(cx, stream)).await
    }

    /// One turn: make every step that can be made now, in priority order (lifecycle,
    /// writing, taking input, delivering, reading, the idle timer), starting again
    /// from the top after each; `Pending` when none can, with every source that could
    /// unblock one registered to wake the task.
    fn poll_run(&mut self, cx: &mut TaskContext<'_>, stream: &mut TcpStream) -> Poll<CloseReason> {
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
                return Poll::Ready(match ready!(Pin::new(&mut *stream).poll_shutdown(cx)) {
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
                match poll_write_some(stream, cx, &mut self.wbuf) {
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
            if let Some(p) = self.pending.as_mut() {
                if let Poll::Ready((out, sent)) = p.as_mut().poll(cx) {
                    self.pending = None;
                    self.outbox = Some(out);
                    if sent.is_err() {
                        self.on_unlinked();
                    }
                    continue;
                }
            } else if self.reading {
                match poll_read_chunk(stream, cx) {
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
                    let now = Instant::now();
                    idle.last = now;
                    !idle.registered || now >= idle.due
                } else {
                    true
                };
                if check {
                    idle.registered = true;
                    if idle.timer.as_mut().poll(cx).is_ready() {
                        if self.idle_expired() {
                            return Poll::Ready(CloseReason::IdleTimeout);
                        }
                        continue;
                    }
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
