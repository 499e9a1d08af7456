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
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Duration;

use axon::{Control, Inbox, Outbox, SendError};
use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
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

/// A wait for the next message of an inbox, kept across turns of the loop so its
/// wake-up registration is made once per message rather than once per turn; it hands
/// the inbox back with the message.
type Next<'a, T> = Pin<Box<dyn Future<Output = (&'a mut Inbox<T>, Option<T>)> + Send + 'a>>;

fn next<T: Send + 'static>(inbox: &mut Inbox<T>) -> Next<'_, T> {
    Box::pin(async move {
        let msg = inbox.recv().await;
        (inbox, msg)
    })
}

/// The next message from `slot`'s inbox; pending for ever once it has closed.
/// Cancel safe: the wait stays in `slot`.
async fn recv_next<'a, T: Send + 'static>(slot: &mut Option<Next<'a, T>>) -> Option<T> {
    let Some(wait) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let (inbox, msg) = wait.await;
    *slot = msg.is_some().then(|| next(inbox));
    msg
}

/// A message already queued in `slot`'s inbox, without waiting.
fn poll_now<T: Send + 'static>(
    slot: &mut Option<Next<'_, T>>,
    cx: &mut TaskContext<'_>,
) -> Poll<Option<T>> {
    let Some(wait) = slot.as_mut() else {
        return Poll::Ready(None);
    };
    match wait.as_mut().poll(cx) {
        Poll::Ready((inbox, msg)) => {
            *slot = msg.is_some().then(|| next(inbox));
            Poll::Ready(msg)
        }
        Poll::Pending => Poll::Pending,
    }
}

struct Idle {
    timeout: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

/// The state of one socket's loop; see the module docs.
pub(crate) struct Pump<'a> {
    /// The next message for the socket; `None` once `inbox` has closed.
    input: Option<Next<'a, Bytes>>,
    /// The next lifecycle message; `None` once `control` has closed.
    control: Option<Next<'a, Control>>,
    outbox: Option<Outbox<Bytes>>,
    pending: Option<PendingSend>,
    wbuf: Option<Bytes>,
    reading: bool,
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
        });
        Pump {
            input: Some(next(inbox)),
            control: Some(next(control)),
            outbox: Some(outbox),
            pending: None,
            wbuf: None,
            reading: true,
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

    fn touch(&mut self) {
        if let Some(idle) = self.idle.as_mut() {
            idle.last = Instant::now();
        }
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
        let (mut rd, mut wr) = stream.split();
        loop {
            if self.wbuf.is_none()
                && let Some(reason) = self.finishing
            {
                // Write what is still queued; once nothing is, close our side.
                match poll_fn(|cx| Poll::Ready(poll_now(&mut self.input, cx))).await {
                    Poll::Ready(Some(b)) => {
                        self.wbuf = (!b.is_empty()).then_some(b);
                        continue;
                    }
                    Poll::Ready(None) | Poll::Pending => {}
                }
                return match poll_fn(|cx| Pin::new(&mut wr).poll_shutdown(cx)).await {
                    Ok(()) => {
                        self.flushed = true;
                        reason
                    }
                    Err(e) => self.fail(e),
                };
            }
            let can_read = self.reading && self.pending.is_none();
            let takes_input = self.wbuf.is_none() && self.taking_input && self.finishing.is_none();
            tokio::select! {
                biased;
                c = recv_next(&mut self.control) => match c {
                    None => {}
                    Some(Control::Shutdown) => return CloseReason::Shutdown,
                    Some(c) if c.ends_input() => self.finish(CloseReason::Finished),
                    Some(_) => {}
                },
                r = poll_fn(|cx| poll_write_some(&mut wr, cx, &mut self.wbuf)), if self.wbuf.is_some() => match r {
                    Ok(()) => self.touch(),
                    Err(e) => return self.fail(e),
                },
                m = recv_next(&mut self.input), if takes_input => match m {
                    Some(b) => self.wbuf = (!b.is_empty()).then_some(b),
                    None => self.taking_input = false,
                },
                (out, sent) = wait_pending(&mut self.pending), if self.pending.is_some() => {
                    self.pending = None;
                    self.outbox = Some(out);
                    if sent.is_err() {
                        self.on_unlinked();
                    }
                },
                r = poll_fn(|cx| poll_read_chunk(&mut rd, cx)), if can_read => match r {
                    Ok(Some(chunk)) => {
                        self.touch();
                        self.deliver(chunk);
                    }
                    Ok(None) => {
                        self.reading = false;
                        return CloseReason::PeerClosed;
                    }
                    Err(e) => return self.fail(e),
                },
                () = wait_idle(&mut self.idle), if self.idle.is_some() => {
                    if self.idle_expired() {
                        return CloseReason::IdleTimeout;
                    }
                },
            }
        }
    }
}

async fn wait_pending(
    pending: &mut Option<PendingSend>,
) -> (Outbox<Bytes>, Result<(), SendError<Bytes>>) {
    match pending.as_mut() {
        Some(p) => p.await,
        None => std::future::pending().await,
    }
}

async fn wait_idle(idle: &mut Option<Idle>) {
    match idle.as_mut() {
        Some(i) => i.timer.as_mut().await,
        None => std::future::pending().await,
    }
}

fn poll_write_some(
    wr: &mut WriteHalf<'_>,
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
    rd: &mut ReadHalf<'_>,
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
