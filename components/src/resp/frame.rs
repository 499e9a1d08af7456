//! [`RespCodec`]: the RESP2 deframer and framer, as a tokio-util codec.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::error::{FrameError, ProtocolError};
use super::reply::Reply;

/// Redis's limit on an inline command, and on a `*` or `$` line without its line end.
const MAX_INLINE: usize = 64 * 1024;

/// Elements reserved up front for a command array, however many it announces.
const INITIAL_ARGS: usize = 16;

/// The RESP2 deframer (commands in) and framer ([`Reply`]s out) of one connection.
///
/// # What it does
///
/// [`decode`](Decoder::decode) turns the bytes a client sent into commands, each a list
/// of arguments (name first):
///
/// - a RESP array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), what clients send;
/// - an inline command (`GET k\r\n`), split on blanks with Redis's quoting (`"a b"`,
///   `'c'`, `\x41` and friends inside double quotes), what people type over telnet.
///
/// Empty arrays (`*0`, `*-1`) and blank lines are skipped, as Redis does. A frame that
/// breaks the protocol or exceeds a limit is a [`ProtocolError`] worded as Redis words
/// it; answer it and close the connection. [`encode`](Encoder::encode) appends a
/// [`Reply`]'s wire form.
///
/// | limit | default | exceeding it |
/// | --- | --- | --- |
/// | bulk length | [`DEFAULT_MAX_BULK`](Self::DEFAULT_MAX_BULK) (16 MiB) | `Protocol error: invalid bulk length` |
/// | array length | [`DEFAULT_MAX_ARRAY`](Self::DEFAULT_MAX_ARRAY) (1M) | `Protocol error: invalid multibulk length` |
/// | inline command | 64 KiB | `Protocol error: too big inline request` |
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::Decoder;
/// use components::resp::RespCodec;
///
/// let mut codec = RespCodec::default();
/// let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPI"[..]);
/// assert_eq!(codec.decode(&mut buf)?.unwrap(), vec!["GET", "k"]);
/// assert_eq!(codec.decode(&mut buf)?.unwrap(), vec!["PING"]);
/// assert_eq!(codec.decode(&mut buf)?, None); // the rest has not arrived yet
/// buf.extend_from_slice(b"NG\r\n");
/// assert_eq!(codec.decode(&mut buf)?.unwrap(), vec!["PING"]);
/// # Ok::<(), components::resp::FrameError>(())
/// ```
///
/// # How it works
///
/// The codec keeps the array it is part-way through (the arguments complete so far and
/// how many are still to come), so bytes are looked at once however the frame is split;
/// once a bulk's length is known it reserves room for the whole bulk.
#[derive(Debug, Clone)]
pub struct RespCodec {
    max_bulk: usize,
    max_array: usize,
    partial: Option<PartialArray>,
}

/// An array some of whose elements have arrived.
#[derive(Debug, Clone)]
struct PartialArray {
    args: Vec<Bytes>,
    left: usize,
}

impl Default for RespCodec {
    fn default() -> Self {
        RespCodec::new(Self::DEFAULT_MAX_BULK, Self::DEFAULT_MAX_ARRAY)
    }
}

impl RespCodec {
    /// Default largest bulk string: 16 MiB (Redis allows 512 MiB).
    pub const DEFAULT_MAX_BULK: usize = 16 * 1024 * 1024;
    /// Default largest command array: 1M arguments.
    pub const DEFAULT_MAX_ARRAY: usize = 1024 * 1024;

    /// A codec accepting bulks up to `max_bulk` bytes and arrays up to `max_array`
    /// elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use tokio_util::codec::Decoder;
    /// use components::resp::{FrameError, ProtocolError, RespCodec};
    ///
    /// let mut codec = RespCodec::new(4, 8);
    /// let mut buf = BytesMut::from(&b"*1\r\n$5\r\n"[..]);
    /// assert!(matches!(
    ///     codec.decode(&mut buf),
    ///     Err(FrameError::Protocol(ProtocolError::InvalidBulkLength))
    /// ));
    /// ```
    pub fn new(max_bulk: usize, max_array: usize) -> Self {
        RespCodec {
            max_bulk,
            max_array,
            partial: None,
        }
    }

    /// The next whole command in `src`, skipping empty ones.
    fn next_command(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if let Some(partial) = &mut self.partial {
                while partial.left > 0 {
                    match bulk(src, self.max_bulk)? {
                        Some(arg) => {
                            partial.args.push(arg);
                            partial.left -= 1;
                        }
                        None => return Ok(None),
                    }
                }
                return Ok(self.partial.take().map(|p| p.args));
            }
            let Some(&first) = src.first() else {
                return Ok(None);
            };
            if first == b'*' {
                let Some(count) = header_line(src, ProtocolError::MultibulkCountTooBig)? else {
                    return Ok(None);
                };
                let count = parse_len(&count).ok_or(ProtocolError::InvalidMultibulkLength)?;
                if count > self.max_array as i64 {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if count > 0 {
                    let left = count as usize;
                    self.partial = Some(PartialArray {
                        args: Vec::with_capacity(left.min(INITIAL_ARGS)),
                        left,
                    });
                }
            } else {
                let Some(end) = src.iter().position(|&b| b == b'\n') else {
                    if src.len() > MAX_INLINE {
                        return Err(ProtocolError::InlineTooBig);
                    }
                    return Ok(None);
                };
                if end > MAX_INLINE {
                    return Err(ProtocolError::InlineTooBig);
                }
                let line = src.split_to(end + 1);
                let content = line[..end].strip_suffix(b"\r").unwrap_or(&line[..end]);
                let args = split_inline(content)?;
                if !args.is_empty() {
                    return Ok(Some(args));
                }
            }
        }
    }
}

/// One `\r\n`-terminated header line (`*n` or `$n`) from `src` without its type byte,
/// or `None` if it has not all arrived; `too_big` if no line end comes within the limit.
fn header_line(src: &mut BytesMut, too_big: ProtocolError) -> Result<Option<Bytes>, ProtocolError> {
    match src.iter().position(|&b| b == b'\r') {
        Some(cr) if cr + 1 < src.len() => {
            let line = src.split_to(cr + 2).freeze();
            Ok(Some(line.slice(1..cr)))
        }
        Some(_) => Ok(None),
        None if src.len() > MAX_INLINE => Err(too_big),
        None => Ok(None),
    }
}

/// One `$n\r\n<n bytes>\r\n` bulk from `src`, or `None` (consuming nothing) if it has
/// not all arrived. As Redis, the two bytes after the data are skipped unread.
fn bulk(src: &mut BytesMut, max_bulk: usize) -> Result<Option<Bytes>, ProtocolError> {
    let Some(&first) = src.first() else {
        return Ok(None);
    };
    if first != b'$' {
        return Err(ProtocolError::ExpectedBulk(char::from(first)));
    }
    let Some(cr) = src.iter().position(|&b| b == b'\r') else {
        if src.len() > MAX_INLINE {
            return Err(ProtocolError::BulkCountTooBig);
        }
        return Ok(None);
    };
    let len = parse_len(&src[1..cr]).ok_or(ProtocolError::InvalidBulkLength)?;
    if len < 0 || len > max_bulk as i64 {
        return Err(ProtocolError::InvalidBulkLength);
    }
    let len = len as usize;
    let start = cr + 2;
    let needed = start + len + 2;
    if src.len() < needed {
        src.reserve(needed - src.len());
        return Ok(None);
    }
    src.advance(start);
    let data = src.split_to(len).freeze();
    src.advance(2);
    Ok(Some(data))
}

/// A decimal length as Redis reads it: an optional `-`, then digits only.
fn parse_len(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text)
        .ok()?
        .parse::<i64>()
        .ok()
        .filter(|_| !text.is_empty() && text[0] != b'+')
}

/// Split an inline command as Redis's `sdssplitargs` does: blanks separate arguments;
/// `"..."` takes escapes (`\n`, `\r`, `\t`, `\b`, `\a`, `\\`, `\"`, `\xHH`); `'...'`
/// takes `\'`; a closing quote must be followed by a blank or the end.
pub(crate) fn split_inline(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut arg = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            if in_double {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && let Some(byte) = hex_byte(line[i + 2], line[i + 3])
                {
                    arg.push(byte);
                    i += 4;
                    continue;
                }
                if c == b'\\' && i + 1 < n {
                    arg.push(match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                arg.push(c);
                i += 1;
            } else if in_single {
                if i >= n {
                    return Err(ProtocolError::UnbalancedQuotes);
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    arg.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    i += 1;
                    break;
                }
                arg.push(c);
                i += 1;
            } else {
                if i >= n || line[i].is_ascii_whitespace() {
                    break;
                }
                match line[i] {
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    c => arg.push(c),
                }
                i += 1;
            }
        }
        args.push(Bytes::from(arg));
    }
}

fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |c: u8| char::from(c).to_digit(16);
    Some((digit(high)? * 16 + digit(low)?) as u8)
}

impl Decoder for RespCodec {
    type Item = Vec<Bytes>;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, FrameError> {
        Ok(self.next_command(src)?)
    }
}

impl Encoder<Reply> for RespCodec {
    type Error = FrameError;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), FrameError> {
        reply.write_to(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut RespCodec, buf: &mut BytesMut) -> Vec<Vec<Bytes>> {
        let mut out = Vec::new();
        while let Some(cmd) = codec.decode(buf).unwrap() {
            out.push(cmd);
        }
        out
    }

    fn protocol_error(input: &[u8], codec: &mut RespCodec) -> ProtocolError {
        match codec.decode(&mut BytesMut::from(input)) {
            Err(FrameError::Protocol(e)) => e,
            other => panic!("expected a protocol error for {input:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_command_split_at_every_byte_decodes_once_whole() {
        let wire = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut codec = RespCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in wire.iter() {
            buf.extend_from_slice(&[b]);
            got.extend(decode_all(&mut codec, &mut buf));
        }
        assert_eq!(got, vec![vec!["SET", "k", "hello"]]);
        assert!(buf.is_empty());
    }

    #[test]
    fn pipelined_commands_decode_in_order() {
        let mut codec = RespCodec::default();
        let mut buf =
            BytesMut::from(&b"*1\r\n$4\r\nPING\r\nGET a\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"[..]);
        assert_eq!(
            decode_all(&mut codec, &mut buf),
            vec![vec!["PING"], vec!["GET", "a"], vec!["ECHO", ""]]
        );
    }

    #[test]
    fn inline_commands_split_on_blanks_with_redis_quoting() {
        let mut codec = RespCodec::default();
        let mut buf =
            BytesMut::from(&b"  set  \"a b\\x41\\n\" 'it\\'s'\r\n\r\nget x\nPING\r\n"[..]);
        assert_eq!(
            decode_all(&mut codec, &mut buf),
            vec![
                vec!["set", "a bA\n", "it's"],
                vec!["get", "x"],
                vec!["PING"]
            ]
        );
    }

    #[test]
    fn empty_arrays_are_skipped() {
        let mut codec = RespCodec::default();
        let mut buf = BytesMut::from(&b"*0\r\n*-1\r\nPING\r\n"[..]);
        assert_eq!(decode_all(&mut codec, &mut buf), vec![vec!["PING"]]);
    }

    #[test]
    fn binary_bulks_keep_every_byte() {
        let mut codec = RespCodec::default();
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\x00\xff\r\n"[..]);
        let cmd = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(&cmd[1][..], b"\r\n\x00\xff");
    }

    #[test]
    fn oversized_frames_are_protocol_errors() {
        let mut small = RespCodec::new(8, 2);
        assert_eq!(
            protocol_error(b"*1\r\n$9\r\n", &mut small),
            ProtocolError::InvalidBulkLength
        );
        let mut small = RespCodec::new(8, 2);
        assert_eq!(
            protocol_error(b"*3\r\n", &mut small),
            ProtocolError::InvalidMultibulkLength
        );
        let mut codec = RespCodec::default();
        let huge = format!("*1\r\n${}\r\n", RespCodec::DEFAULT_MAX_BULK + 1);
        assert_eq!(
            protocol_error(huge.as_bytes(), &mut codec),
            ProtocolError::InvalidBulkLength
        );
        assert_eq!(
            protocol_error(&vec![b'a'; MAX_INLINE + 1], &mut RespCodec::default()),
            ProtocolError::InlineTooBig
        );
        let mut no_line_end = b"*".to_vec();
        no_line_end.extend(vec![b'1'; MAX_INLINE + 1]);
        assert_eq!(
            protocol_error(&no_line_end, &mut RespCodec::default()),
            ProtocolError::MultibulkCountTooBig
        );
    }

    #[test]
    fn malformed_frames_are_protocol_errors_in_redis_words() {
        let cases: [(&[u8], &str); 6] = [
            (b"*a\r\n", "Protocol error: invalid multibulk length"),
            (b"*1\r\n+PING\r\n", "Protocol error: expected '$', got '+'"),
            (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            (
                b"SET \"a b\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
            (
                b"SET 'a'b\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, wording) in cases {
            let error = protocol_error(input, &mut RespCodec::default());
            assert_eq!(error.to_string(), wording, "for {input:?}");
        }
    }

    #[test]
    fn replies_encode_as_resp2() {
        let mut codec = RespCodec::default();
        let mut out = BytesMut::new();
        for reply in [
            Reply::OK,
            Reply::Error("ERR syntax error".into()),
            Reply::Integer(-3),
            Reply::Bulk(Bytes::from_static(b"hi")),
            Reply::Nil,
            Reply::Array(vec![Reply::Integer(1), Reply::Nil]),
            Reply::Array(vec![]),
        ] {
            codec.encode(reply, &mut out).unwrap();
        }
        assert_eq!(
            &out[..],
            b"+OK\r\n-ERR syntax error\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*2\r\n:1\r\n$-1\r\n*0\r\n"
        );
    }
}
