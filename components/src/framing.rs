//! Line framing for byte streams: [`LineDeframer`] turns the chunks a socket delivers
//! into lines, [`LineFramer`] turns lines back into bytes to send.
//!
//! Both are built on tokio-util's [`AnyDelimiterCodec`], used as a [`Decoder`] and an
//! [`Encoder`] over a [`BytesMut`] buffer, so a line may arrive split over any number of
//! chunks, or many lines in one chunk.
//!
//! A typical per-connection chain is
//! `socket -> LineDeframer -> protocol handler -> LineFramer -> socket`.

use std::borrow::Cow;

use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use bytes::{Bytes, BytesMut};
use thiserror::Error;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, Decoder, Encoder};

/// The longest line a [`LineDeframer`] accepts unless told otherwise: 8 KiB.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use bytes::Bytes;
/// use components::framing::{DEFAULT_MAX_LINE_LENGTH, LineDeframer};
///
/// let mut h = Harness::new(LineDeframer::new());
/// let longest = "x".repeat(DEFAULT_MAX_LINE_LENGTH);
/// h.send(Bytes::from(format!("{longest}\r\n"))).await;
/// assert_eq!(h.recv().await.map(|l| l.len()), Some(DEFAULT_MAX_LINE_LENGTH));
/// h.send(Bytes::from(format!("{longest}!\n"))).await;
/// assert!(h.exit().await.to_string().contains("longer than"));
/// # }
/// ```
pub const DEFAULT_MAX_LINE_LENGTH: usize = 8 * 1024;

/// Why a framing component ended with a failure.
///
/// # Examples
///
/// ```
/// let e = components::framing::Error::LineTooLong { line: 3, max: 80 };
/// assert_eq!(e.to_string(), "line 3 is longer than 80 bytes");
/// ```
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A line was longer than the maximum. Lines are counted from 1.
    #[error("line {line} is longer than {max} bytes")]
    LineTooLong {
        /// The number of the offending line.
        line: u64,
        /// The maximum, in bytes, without the line ending.
        max: usize,
    },
    /// A line was not valid UTF-8 (and the deframer is not lossy).
    #[error("line {line} is not valid UTF-8: {source}")]
    InvalidUtf8 {
        /// The number of the offending line.
        line: u64,
        /// Where the decoding failed.
        source: std::str::Utf8Error,
    },
    /// A message could not be sent: the `outbox` has no destination.
    #[error("the outbox has no destination; a message could not be delivered")]
    NoDestination,
}

/// What a [`LineDeframer`] does with a line that is not valid UTF-8.
///
/// # Examples
///
/// ```
/// use components::framing::{LineDeframer, InvalidUtf8};
/// let d = LineDeframer::new().invalid_utf8(InvalidUtf8::Replace);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidUtf8 {
    /// End the deframer with [`Error::InvalidUtf8`] (the default): a peer that breaks
    /// the protocol loses its connection.
    #[default]
    Fail,
    /// Replace each invalid sequence with U+FFFD `�` and deliver the line, for noisy
    /// links (serial lines) where a damaged line should not end the stream.
    Replace,
}

/// Splits a byte stream into lines: Kamaelia's `DataDeChunker` for line protocols.
///
/// # What it does
///
/// Chunks of bytes (`Bytes`, as a socket reader delivers them) arrive on `inbox`; each
/// complete line leaves on `outbox` as a `String` without its line ending. A line
/// ends at `\n`; a `\r` just before it is removed too, so `\n` and `\r\n` both work.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use bytes::Bytes;
/// use components::framing::LineDeframer;
///
/// let mut h = Harness::new(LineDeframer::new());
/// h.send(Bytes::from_static(b"HELLO wor")).await;
/// h.send(Bytes::from_static(b"ld\r\nBYE")).await;
/// assert_eq!(h.recv().await.as_deref(), Some("HELLO world"));
/// h.finish().await; // the peer closed: the unterminated last line is delivered
/// assert_eq!(h.recv().await.as_deref(), Some("BYE"));
/// # }
/// ```
///
/// # How it works
///
/// Chunks are appended to a buffer that an [`AnyDelimiterCodec`] decodes; lines before
/// a problem are always delivered first.
///
/// - **End of input.** On `ProducerFinished` or `SocketShutdown` the queued chunks are
///   decoded, then whatever follows the last `\n` is delivered as a final line (if it
///   is not empty), and the deframer ends, passing the lifecycle on. On `Shutdown` it
///   ends at once and an unterminated line is discarded.
/// - **Oversized line.** A line longer than the maximum ([`DEFAULT_MAX_LINE_LENGTH`]
///   bytes without its line ending, set with
///   [`max_line_length`](LineDeframer::max_line_length)) ends the deframer with
///   [`Error::LineTooLong`] as soon as the buffer proves it too long, without waiting
///   for its end, so a peer cannot make the buffer grow past the maximum. The exit is
///   `Exit::Failed`, the runtime sends `Shutdown` on `signal`, and inside a
///   per-connection chain only that connection closes. (Skipping the line and going
///   on would hand the protocol handler a stream with a hole in it.)
/// - **Invalid UTF-8.** By default a line that is not UTF-8 ends the deframer with
///   [`Error::InvalidUtf8`], exactly like an oversized line; with
///   [`InvalidUtf8::Replace`] the invalid bytes become `�` and the line is delivered.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | chunks of the byte stream, in order |
/// | `control` | in | [`Control`] | `ProducerFinished`/`SocketShutdown`: deliver the rest and end; `Shutdown`: end now |
/// | `outbox` | out | `String` | one line, without `\n` or `\r\n` |
/// | `signal` | out | [`Control`] | passes the lifecycle on; `Shutdown` if the input broke the rules |
#[derive(Debug, Clone)]
pub struct LineDeframer {
    max_line_length: usize,
    invalid_utf8: InvalidUtf8,
}

impl Default for LineDeframer {
    fn default() -> Self {
        LineDeframer::new()
    }
}

impl LineDeframer {
    /// A deframer accepting lines of up to [`DEFAULT_MAX_LINE_LENGTH`] bytes that fails
    /// on invalid UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = components::framing::LineDeframer::new();
    /// ```
    pub fn new() -> Self {
        LineDeframer {
            max_line_length: DEFAULT_MAX_LINE_LENGTH,
            invalid_utf8: InvalidUtf8::Fail,
        }
    }

    /// Set the longest line accepted, in bytes, not counting `\n` or `\r\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = components::framing::LineDeframer::new().max_line_length(512);
    /// ```
    pub fn max_line_length(mut self, max: usize) -> Self {
        self.max_line_length = max;
        self
    }

    /// Choose what happens to a line that is not valid UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::framing::{InvalidUtf8, LineDeframer};
    /// let d = LineDeframer::new().invalid_utf8(InvalidUtf8::Replace);
    /// ```
    pub fn invalid_utf8(mut self, what: InvalidUtf8) -> Self {
        self.invalid_utf8 = what;
        self
    }
}

/// The decoding state of a running [`LineDeframer`].
struct Lines {
    codec: AnyDelimiterCodec,
    buf: BytesMut,
    max: usize,
    invalid_utf8: InvalidUtf8,
    /// Lines decoded so far, for error messages.
    count: u64,
}

impl Lines {
    fn new(config: &LineDeframer) -> Self {
        // One byte of slack for the `\r` of a `\r\n` line; the exact limit is checked
        // on the line itself.
        let codec_max = config.max_line_length.saturating_add(1);
        Lines {
            codec: AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), codec_max),
            buf: BytesMut::new(),
            max: config.max_line_length,
            invalid_utf8: config.invalid_utf8,
            count: 0,
        }
    }

    /// The next complete line, or at end of input whatever is left.
    fn next(&mut self, at_eof: bool) -> Result<Option<String>, Error> {
        let decoded = if at_eof {
            self.codec.decode_eof(&mut self.buf)
        } else {
            self.codec.decode(&mut self.buf)
        };
        let line_no = self.count + 1;
        let too_long = Error::LineTooLong {
            line: line_no,
            max: self.max,
        };
        let mut raw = match decoded {
            Ok(Some(raw)) => raw,
            Ok(None) => return Ok(None),
            // Decoding from memory, the codec's only error is this one (`Io` comes
            // from reading a stream, which it does not do here).
            Err(AnyDelimiterCodecError::MaxChunkLengthExceeded | AnyDelimiterCodecError::Io(_)) => {
                return Err(too_long);
            }
        };
        self.count = line_no;
        if raw.last() == Some(&b'\r') {
            raw.truncate(raw.len() - 1);
        }
        if raw.len() > self.max {
            return Err(too_long);
        }
        match (String::from_utf8(raw.to_vec()), self.invalid_utf8) {
            (Ok(line), _) => Ok(Some(line)),
            (Err(e), InvalidUtf8::Fail) => Err(Error::InvalidUtf8 {
                line: line_no,
                source: e.utf8_error(),
            }),
            (Err(e), InvalidUtf8::Replace) => {
                Ok(Some(String::from_utf8_lossy(e.as_bytes()).into_owned()))
            }
        }
    }
}

impl Component for LineDeframer {
    type In = Bytes;
    type Out = String;

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "chunks of a byte stream")?;
        setup.describe("outbox", "one line, without its line ending")
    }

    async fn run(self, mut ctx: Context<Bytes, String>) -> Result<(), BoxError> {
        let mut lines = Lines::new(&self);
        while let Some(chunk) = ctx.recv().await {
            lines.buf.extend_from_slice(&chunk);
            while let Some(line) = lines.next(false)? {
                ctx.send(line).await.map_err(|_| Error::NoDestination)?;
            }
        }
        if ctx.ended_by() == Some(Control::Shutdown) {
            return Ok(());
        }
        while let Some(line) = lines.next(true)? {
            ctx.send(line).await.map_err(|_| Error::NoDestination)?;
        }
        Ok(())
    }
}

/// Turns lines into bytes to send: each `String` on `inbox` leaves on `outbox` as one
/// `Bytes` holding the line and a terminator (`\n` unless told otherwise).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::testing::Harness;
/// use components::framing::LineFramer;
///
/// let mut h = Harness::new(LineFramer::new().terminator("\r\n"));
/// h.send("OK".to_string()).await;
/// assert_eq!(h.recv().await.as_deref(), Some(&b"OK\r\n"[..]));
/// # }
/// ```
///
/// # How it works
///
/// An [`AnyDelimiterCodec`] encodes each line into a buffer, which is split off and
/// sent. The line is not inspected: a `\n` inside it will read as a line break at the
/// other end, so a protocol that carries user text should escape or refuse it before
/// this stage. It ends as its `control` says (finishing the queue on
/// `ProducerFinished`/`SocketShutdown`, at once on `Shutdown`).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `String` | lines to send, without line endings |
/// | `control` | in | [`Control`] | finish or stop |
/// | `outbox` | out | `Bytes` | each line followed by the terminator |
/// | `signal` | out | [`Control`] | passes the lifecycle on when the framer ends |
#[derive(Debug, Clone)]
pub struct LineFramer {
    terminator: Cow<'static, str>,
}

impl Default for LineFramer {
    fn default() -> Self {
        LineFramer::new()
    }
}

impl LineFramer {
    /// A framer ending every line with `\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = components::framing::LineFramer::new();
    /// ```
    pub fn new() -> Self {
        LineFramer {
            terminator: Cow::Borrowed("\n"),
        }
    }

    /// End every line with `terminator` instead, such as `"\r\n"`.
    ///
    /// # Examples
    ///
    /// ```
    /// let f = components::framing::LineFramer::new().terminator("\r\n");
    /// ```
    pub fn terminator(mut self, terminator: impl Into<Cow<'static, str>>) -> Self {
        self.terminator = terminator.into();
        self
    }
}

impl Component for LineFramer {
    type In = String;
    type Out = Bytes;

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "lines to send, without line endings")?;
        setup.describe("outbox", "each line followed by its terminator")
    }

    async fn run(self, mut ctx: Context<String, Bytes>) -> Result<(), BoxError> {
        let mut codec = AnyDelimiterCodec::new(Vec::new(), self.terminator.as_bytes().to_vec());
        let mut buf = BytesMut::new();
        while let Some(line) = ctx.recv().await {
            buf.reserve(line.len() + self.terminator.len());
            // Encoding into memory cannot fail.
            if codec.encode(line.as_str(), &mut buf).is_ok() {
                let frame = buf.split().freeze();
                ctx.send(frame).await.map_err(|_| Error::NoDestination)?;
            }
        }
        Ok(())
    }
}
