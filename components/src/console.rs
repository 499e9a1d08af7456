//! The console: [`ConsoleReader`] turns lines of text into messages and
//! [`ConsoleWriter`] writes messages out as lines.
//!
//! Both are generic over their byte stream, so tests (and programs) can read from any
//! [`AsyncRead`] and write to any [`AsyncWrite`]; [`ConsoleReader::stdin`] and
//! [`ConsoleWriter::stdout`] use the process's standard streams through
//! [`BlockingReader`] and [`BlockingWriter`], which run the blocking calls off the
//! async worker threads. The same adapters read or write any blocking
//! [`std::io::Read`]/[`std::io::Write`], such as a [`std::fs::File`].

use std::borrow::Cow;
use std::fmt::Display;
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use axon::{BoxError, Component, Context};
use bytes::Bytes;
use futures::StreamExt;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};

/// The longest line a [`ConsoleReader`] accepts unless told otherwise: 1 MiB.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::console::{ConsoleReader, DEFAULT_MAX_LINE_LENGTH};
///
/// let input = format!("{}\n", "x".repeat(DEFAULT_MAX_LINE_LENGTH + 1));
/// let mut h = Harness::new(ConsoleReader::new(std::io::Cursor::new(input.into_bytes())));
/// assert!(h.exit().await.to_string().contains("longer than"));
/// # }
/// ```
pub const DEFAULT_MAX_LINE_LENGTH: usize = 1 << 20;

/// Why a console component ended with a failure.
///
/// # Examples
///
/// ```
/// let e = components::console::Error::LineTooLong { max: 10 };
/// assert_eq!(e.to_string(), "a line is longer than 10 bytes");
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the input failed; invalid UTF-8 is reported here as
    /// [`io::ErrorKind::InvalidData`].
    #[error("reading the console failed: {0}")]
    Read(#[source] io::Error),
    /// A line was longer than the reader's maximum.
    #[error("a line is longer than {max} bytes")]
    LineTooLong {
        /// The maximum, in bytes.
        max: usize,
    },
    /// Writing the output failed (a closed pipe, a full disk).
    #[error("writing the console failed: {0}")]
    Write(#[source] io::Error),
    /// A line could not be sent: the reader's `outbox` has no destination.
    #[error("the outbox has no destination; a line could not be delivered")]
    NoDestination,
}

/// Reads lines of text and sends each one, without its line ending, as a `String`:
/// Kamaelia's `ConsoleReader`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::{Control, testing::Harness};
/// use components::console::ConsoleReader;
///
/// let input: &[u8] = b"first\r\nsecond\nlast without newline";
/// let mut h = Harness::new(ConsoleReader::new(input));
/// assert_eq!(h.recv().await.as_deref(), Some("first"));
/// assert_eq!(h.recv().await.as_deref(), Some("second"));
/// assert_eq!(h.recv().await.as_deref(), Some("last without newline"));
/// assert_eq!(h.recv().await, None);
/// assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
/// # }
/// ```
///
/// # How it works
///
/// The byte stream is split by a [`LinesCodec`]: a line ends at `\n`, a `\r` before it
/// is removed, and a last line without `\n` is sent at end of input. At end of input
/// the body returns, so the runtime sends `ProducerFinished` on `signal` and the
/// components downstream finish what is queued. Any message on `control` stops the
/// reader (there is nothing upstream to finish).
///
/// A line longer than the maximum ([`DEFAULT_MAX_LINE_LENGTH`] unless set with
/// [`max_line_length`](ConsoleReader::max_line_length)) ends the reader with
/// [`Error::LineTooLong`]; input that is not UTF-8 ends it with [`Error::Read`]. For
/// network input with finer control, use [`LineDeframer`](crate::framing::LineDeframer).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `()` | unused |
/// | `control` | in | [`Control`](axon::Control) | any message stops reading |
/// | `outbox` | out | `String` | one line of input, without its line ending |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` at end of input |
pub struct ConsoleReader<R> {
    reader: R,
    max_line_length: usize,
}

impl<R> std::fmt::Debug for ConsoleReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleReader")
            .field("max_line_length", &self.max_line_length)
            .finish_non_exhaustive()
    }
}

impl ConsoleReader<BlockingReader<io::Stdin>> {
    /// A reader of the process's standard input.
    ///
    /// The blocking reads run on a thread of their own, which cannot be interrupted:
    /// after the reader ends, that thread stays blocked until the next line or end of
    /// input, but it never keeps the process from exiting.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let reader = components::console::ConsoleReader::stdin();
    /// ```
    pub fn stdin() -> Self {
        ConsoleReader::new(BlockingReader::new(io::stdin()))
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> ConsoleReader<R> {
    /// A reader of lines from `reader`.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = components::console::ConsoleReader::new(&b"one\ntwo\n"[..]);
    /// ```
    pub fn new(reader: R) -> Self {
        ConsoleReader {
            reader,
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
        }
    }

    /// Set the longest line accepted, in bytes, not counting its `\n` (a `\r` before
    /// it counts).
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = components::console::ConsoleReader::new(&b"short\n"[..]).max_line_length(80);
    /// ```
    pub fn max_line_length(mut self, max: usize) -> Self {
        self.max_line_length = max;
        self
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> Component for ConsoleReader<R> {
    type In = ();
    type Out = String;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ConsoleReader")
    }

    fn setup(&mut self, setup: &mut axon::Setup<'_>) -> Result<(), axon::LinkError> {
        setup.describe("inbox", "unused")?;
        setup.describe("outbox", "one line of input, without its line ending")
    }

    async fn run(self, mut ctx: Context<(), String>) -> Result<(), BoxError> {
        let max = self.max_line_length;
        let mut lines = FramedRead::new(
            self.reader,
            LinesCodec::new_with_max_length(self.max_line_length),
        );
        loop {
            // Any message on `control`, or `control` closing, stops the reader.
            let next = tokio::select! {
                biased;
                _ = ctx.control.recv() => return Ok(()),
                next = lines.next() => next,
            };
            let line = match next {
                None => return Ok(()),
                Some(Ok(line)) => line,
                Some(Err(LinesCodecError::MaxLineLengthExceeded)) => {
                    return Err(Error::LineTooLong { max }.into());
                }
                Some(Err(LinesCodecError::Io(e))) => return Err(Error::Read(e).into()),
            };
            let sent = tokio::select! {
                biased;
                // Stopping while a send waits for space loses only the line being sent.
                _ = ctx.control.recv() => return Ok(()),
                sent = ctx.outbox.send(line) => sent,
            };
            if sent.is_err() {
                return Err(Error::NoDestination.into());
            }
        }
    }
}

/// Writes every message as a line of text: its [`Display`] form and a `\n`.
/// Kamaelia's `ConsoleEchoer`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::console::ConsoleWriter;
/// use tokio::io::AsyncReadExt;
///
/// let (writer, mut reader) = tokio::io::duplex(1024);
/// let mut h = Harness::new(ConsoleWriter::<u32, _>::new(writer));
/// h.send(1).await;
/// h.send(2).await;
/// h.finish().await;
/// let mut text = String::new();
/// reader.read_to_string(&mut text).await.unwrap();
/// assert_eq!(text, "1\n2\n");
/// # }
/// ```
///
/// # How it works
///
/// Lines are written through a buffer, which is flushed whenever `inbox` has nothing
/// more queued, so output appears promptly without a system call per line under load.
/// On `ProducerFinished` or `SocketShutdown` it writes everything queued, flushes, and
/// ends; on `Shutdown` it flushes what it has already written and ends, leaving the
/// rest of the queue unwritten. The writer is shut down (closed) at the end. A failed
/// write (a closed pipe, say) ends it with [`Error::Write`].
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `T: Display` | messages to write, one per line |
/// | `control` | in | [`Control`](axon::Control) | finish (write the queue) or stop |
/// | `outbox` | out | `()` | unused |
/// | `signal` | out | [`Control`](axon::Control) | passes the lifecycle on when the writer ends |
pub struct ConsoleWriter<T, W> {
    writer: W,
    _t: PhantomData<fn(T)>,
}

impl<T, W> std::fmt::Debug for ConsoleWriter<T, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleWriter").finish_non_exhaustive()
    }
}

impl<T: Display + Send + 'static> ConsoleWriter<T, BlockingWriter<io::Stdout>> {
    /// A writer to the process's standard output.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let writer = components::console::ConsoleWriter::<String, _>::stdout();
    /// ```
    pub fn stdout() -> Self {
        ConsoleWriter::new(BlockingWriter::new(io::stdout()))
    }
}

impl<T: Display + Send + 'static, W: AsyncWrite + Unpin + Send + 'static> ConsoleWriter<T, W> {
    /// A writer of lines to `writer`.
    ///
    /// # Examples
    ///
    /// ```
    /// let writer = components::console::ConsoleWriter::<String, _>::new(tokio::io::sink());
    /// ```
    pub fn new(writer: W) -> Self {
        ConsoleWriter {
            writer,
            _t: PhantomData,
        }
    }
}

impl<T, W> Component for ConsoleWriter<T, W>
where
    T: Display + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type In = T;
    type Out = ();

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ConsoleWriter")
    }

    fn setup(&mut self, setup: &mut axon::Setup<'_>) -> Result<(), axon::LinkError> {
        setup.describe("inbox", "messages to write, one per line")?;
        setup.describe("outbox", "unused")
    }

    async fn run(self, mut ctx: Context<T, ()>) -> Result<(), BoxError> {
        let mut out = BufWriter::new(self.writer);
        let mut line = String::new();
        while let Some(msg) = ctx.recv().await {
            line.clear();
            {
                use std::fmt::Write as _;
                // Writing to a String cannot fail.
                let _ = writeln!(line, "{msg}");
            }
            out.write_all(line.as_bytes()).await.map_err(Error::Write)?;
            if ctx.inbox.is_empty() {
                out.flush().await.map_err(Error::Write)?;
            }
        }
        out.shutdown().await.map_err(Error::Write)?;
        Ok(())
    }
}

/// How many bytes a [`BlockingReader`] reads at a time, and a [`BlockingWriter`]
/// buffers before it writes.
const BLOCKING_CHUNK: usize = 8 * 1024;

/// An [`AsyncRead`] over a blocking [`std::io::Read`], read on a thread of its own.
///
/// The thread starts at the first read and reads ahead by a few chunks. It ends at end
/// of input, at a read error, or when the `BlockingReader` has been dropped and its
/// current read returns; being a plain thread, it never keeps the process (or a tokio
/// runtime's shutdown) waiting.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::AsyncReadExt;
/// let mut r = components::console::BlockingReader::new(std::io::Cursor::new(b"abc".to_vec()));
/// let mut s = String::new();
/// r.read_to_string(&mut s).await.unwrap();
/// assert_eq!(s, "abc");
/// # }
/// ```
#[derive(Debug)]
pub struct BlockingReader<R> {
    source: Option<R>,
    chunks: Option<mpsc::Receiver<io::Result<Bytes>>>,
    current: Bytes,
}

impl<R: io::Read + Send + 'static> BlockingReader<R> {
    /// An async reader of `source`.
    ///
    /// # Examples
    ///
    /// ```
    /// let r = components::console::BlockingReader::new(std::io::empty());
    /// ```
    pub fn new(source: R) -> Self {
        BlockingReader {
            source: Some(source),
            chunks: None,
            current: Bytes::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        let Some(mut source) = self.source.take() else {
            return Ok(());
        };
        let (tx, rx) = mpsc::channel(4);
        std::thread::Builder::new()
            .name("axon-blocking-read".into())
            .spawn(move || {
                let mut buf = vec![0u8; BLOCKING_CHUNK];
                loop {
                    let chunk = match source.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => Err(e),
                    };
                    let failed = chunk.is_err();
                    if tx.blocking_send(chunk).is_err() || failed {
                        return;
                    }
                }
            })?;
        self.chunks = Some(rx);
        Ok(())
    }
}

impl<R: io::Read + Send + Unpin + 'static> AsyncRead for BlockingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.source.is_some() {
            self.start()?;
        }
        while self.current.is_empty() {
            let Some(rx) = self.chunks.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match ready!(rx.poll_recv(cx)) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.chunks = None;
                    return Poll::Ready(Err(e));
                }
                None => {
                    self.chunks = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
        let n = buf.remaining().min(self.current.len());
        let chunk = self.current.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

/// An [`AsyncWrite`] over a blocking [`std::io::Write`]: writes are buffered and handed
/// to tokio's blocking pool, one batch at a time.
///
/// Each batch is written with `write_all` and flushed, so what has been flushed
/// through a `BlockingWriter` has been flushed by the inner writer too.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::AsyncWriteExt;
/// let mut w = components::console::BlockingWriter::new(std::io::sink());
/// w.write_all(b"discarded\n").await.unwrap();
/// w.flush().await.unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct BlockingWriter<W> {
    state: WriteState<W>,
}

#[derive(Debug)]
enum WriteState<W> {
    /// The writer and the bytes waiting for the next batch.
    Idle(W, Vec<u8>),
    /// A batch is being written on the blocking pool.
    Busy(JoinHandle<(W, Vec<u8>, io::Result<()>)>),
    /// A batch's task was lost (it panicked); nothing more can be written.
    Broken,
}

impl<W: io::Write + Send + 'static> BlockingWriter<W> {
    /// An async writer to `sink`.
    ///
    /// # Examples
    ///
    /// ```
    /// let w = components::console::BlockingWriter::new(std::io::sink());
    /// ```
    pub fn new(sink: W) -> Self {
        BlockingWriter {
            state: WriteState::Idle(sink, Vec::with_capacity(BLOCKING_CHUNK)),
        }
    }

    /// Wait for the batch in progress, if any; then the state is `Idle`.
    fn poll_idle(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let WriteState::Busy(task) = &mut self.state else {
            return match self.state {
                WriteState::Broken => Poll::Ready(Err(broken())),
                _ => Poll::Ready(Ok(())),
            };
        };
        let joined = ready!(Pin::new(task).poll(cx));
        match joined {
            Ok((sink, mut buf, result)) => {
                buf.clear();
                self.state = WriteState::Idle(sink, buf);
                Poll::Ready(result)
            }
            Err(e) => {
                self.state = WriteState::Broken;
                Poll::Ready(Err(io::Error::other(e)))
            }
        }
    }

    /// Start writing the buffered bytes on the blocking pool.
    fn start_batch(&mut self) {
        let state = std::mem::replace(&mut self.state, WriteState::Broken);
        self.state = match state {
            WriteState::Idle(mut sink, buf) => {
                WriteState::Busy(tokio::task::spawn_blocking(move || {
                    let result = sink.write_all(&buf).and_then(|()| sink.flush());
                    (sink, buf, result)
                }))
            }
            other => other,
        };
    }
}

fn broken() -> io::Error {
    io::Error::other("a blocking write task was lost")
}

impl<W: io::Write + Send + Unpin + 'static> AsyncWrite for BlockingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            ready!(this.poll_idle(cx))?;
            if let WriteState::Idle(_, buf) = &mut this.state {
                if buf.len() < BLOCKING_CHUNK {
                    let n = data.len().min(BLOCKING_CHUNK - buf.len());
                    buf.extend_from_slice(&data[..n]);
                    return Poll::Ready(Ok(n));
                }
                this.start_batch();
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_idle(cx))?;
        if let WriteState::Idle(_, buf) = &this.state
            && !buf.is_empty()
        {
            this.start_batch();
            return this.poll_idle(cx);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
