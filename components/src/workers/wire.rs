//! The wire protocol between master and worker: one JSON object per line.
//!
//! ```text
//! worker                                   master
//!   {"t":"hello","name":"w1"}          ->
//!                                      <-  {"t":"challenge","nonce":"<64 hex>"}
//!   {"t":"auth","mac":"<hmac hex>"}    ->
//!                                      <-  {"t":"welcome"} | {"t":"refused","reason":"login refused"}
//!                                      <-  {"t":"call","id":1,"op":{"op":"get_info"}}
//!   {"t":"reply","id":1,"result":{"Ok":{"reply":"info","info":{...}}}} ->
//!   {"t":"update","command_id":"c1","event":{"event":"stdout","line":"hi"}} ->
//! ```
//!
//! serde_json escapes newlines inside strings, so a message is exactly one line. A line
//! longer than [`MAX_LINE`] is a protocol error and closes the connection.

use serde::{Deserialize, Serialize};

use super::command::CommandEvent;
use super::ops::{OpResult, WorkerOp};

/// Longest line either side accepts, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// What the master sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ToWorker {
    /// Prove you know your secret: answer HMAC-SHA256(secret, nonce).
    Challenge {
        /// Hex-encoded random bytes, new for each login.
        nonce: String,
    },
    /// Logged in.
    Welcome,
    /// Not logged in; the reason never says which part was wrong.
    Refused {
        /// Always [`REFUSED`](super::REFUSED) for failed credentials.
        reason: String,
    },
    /// A remote operation, to be answered by a [`ToMaster::Reply`] with the same id.
    Call {
        /// The call's number on this connection.
        id: u64,
        /// What to do.
        op: WorkerOp,
    },
}

/// What the worker sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ToMaster {
    /// The first line: who I am.
    Hello {
        /// The worker's registered name.
        name: String,
    },
    /// The answer to the challenge.
    Auth {
        /// Hex HMAC-SHA256(secret, nonce).
        mac: String,
    },
    /// The answer to a [`ToWorker::Call`].
    Reply {
        /// The call's number.
        id: u64,
        /// Its result.
        result: OpResult,
    },
    /// Something happened to a running command.
    Update {
        /// Which command.
        command_id: String,
        /// What.
        event: CommandEvent,
    },
}

/// One message as a line, newline included.
pub(crate) fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    let mut line = serde_json::to_vec(msg).expect("wire messages always serialise");
    line.push(b'\n');
    line
}

/// Splits a byte stream into lines, bounded by [`MAX_LINE`].
#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    buf: bytes::BytesMut,
    /// How far `buf` is known to hold no newline.
    scanned: usize,
}

/// A line too long for [`MAX_LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a line longer than {MAX_LINE} bytes")]
pub struct LineTooLong;

impl LineBuffer {
    pub(crate) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line, without its newline.
    pub(crate) fn next_line(&mut self) -> Result<Option<bytes::Bytes>, LineTooLong> {
        match self.buf[self.scanned..].iter().position(|b| *b == b'\n') {
            Some(i) if self.scanned + i <= MAX_LINE => {
                let mut line = self.buf.split_to(self.scanned + i + 1);
                self.scanned = 0;
                line.truncate(line.len() - 1);
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                Ok(Some(line.freeze()))
            }
            Some(_) => Err(LineTooLong),
            None if self.buf.len() > MAX_LINE => Err(LineTooLong),
            None => {
                self.scanned = self.buf.len();
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::ops::OpReply;

    #[test]
    fn messages_round_trip_as_single_lines() {
        let msgs = vec![
            ToMaster::Hello {
                name: "w\n1".into(),
            },
            ToMaster::Reply {
                id: 3,
                result: Ok(OpReply::Done),
            },
            ToMaster::Update {
                command_id: "c".into(),
                event: CommandEvent::Stdout {
                    line: "a\nb".into(),
                },
            },
        ];
        let mut lines = LineBuffer::default();
        for m in &msgs {
            let bytes = encode(m);
            assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
            lines.extend(&bytes);
        }
        for m in msgs {
            let line = lines.next_line().unwrap().unwrap();
            assert_eq!(serde_json::from_slice::<ToMaster>(&line).unwrap(), m);
        }
        assert_eq!(lines.next_line(), Ok(None));
    }

    #[test]
    fn an_endless_line_is_refused() {
        let mut lines = LineBuffer::default();
        lines.extend(&vec![b'x'; MAX_LINE + 1]);
        assert_eq!(lines.next_line(), Err(LineTooLong));
    }
}
