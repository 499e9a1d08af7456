//! What crosses the network: data frames (sender to receiver) and credit frames (receiver
//! to sender), encoded with `postcard`.

use axon::Control;
use serde::{Deserialize, Serialize};

/// What a data frame carries after its header.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(bound(serialize = "B: Serialize", deserialize = "B: Deserialize<'de>"))]
pub enum Payload<B> {
    /// Consecutive messages, the first numbered by the frame's `seq`.
    Batch(B),
    /// A lifecycle message, numbered by the frame's `seq`, in order with the data.
    Control(Control),
}

/// A frame from the sending endpoint. `B` is `&[T]` when encoding and `Vec<T>` when
/// decoding (postcard writes both the same way).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(bound(serialize = "B: Serialize", deserialize = "B: Deserialize<'de>"))]
pub struct DataFrame<B> {
    /// Who sends: a random number drawn when the sending endpoint starts.
    pub source: u64,
    /// The sequence number of the first message (or of the control message).
    pub seq: u64,
    /// Messages the sending side's lossy link has dropped so far (its running count).
    pub dropped: u64,
    /// The messages or the lifecycle message.
    pub payload: Payload<B>,
}

/// A frame from the receiving endpoint: acknowledgement and credit in one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credit {
    /// Every sequence number below this has been received (the next one expected).
    pub next: u64,
    /// The sender may send sequence numbers below this (received + free room).
    pub limit: u64,
    /// Increased when the receiver asks for everything from `next` again (it saw a gap,
    /// or it has just (re)appeared); the sender retransmits once per new value.
    pub resync: u64,
    /// The message type the receiving inbox takes, checked by the sender.
    pub message_type: String,
}

/// A frame that could not be encoded or decoded.
pub type CodecError = postcard::Error;

/// Encode a batch of messages.
///
/// # Errors
///
/// When a message cannot be serialized.
pub fn encode_batch<T: Serialize>(
    source: u64,
    seq: u64,
    dropped: u64,
    msgs: &[T],
) -> Result<Vec<u8>, CodecError> {
    postcard::to_stdvec(&DataFrame {
        source,
        seq,
        dropped,
        payload: Payload::Batch(msgs),
    })
}

/// Encode a lifecycle message.
///
/// # Errors
///
/// Never in practice (a `Control` always serializes); kept for symmetry.
pub fn encode_control(
    source: u64,
    seq: u64,
    dropped: u64,
    control: Control,
) -> Result<Vec<u8>, CodecError> {
    postcard::to_stdvec(&DataFrame::<&[()]> {
        source,
        seq,
        dropped,
        payload: Payload::Control(control),
    })
}

/// Decode a data frame.
///
/// # Errors
///
/// When the bytes are not a frame of `T`s.
pub fn decode_data<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
) -> Result<DataFrame<Vec<T>>, CodecError> {
    postcard::from_bytes(bytes)
}

/// Encode a credit frame.
///
/// # Errors
///
/// Never in practice.
pub fn encode_credit(credit: &Credit) -> Result<Vec<u8>, CodecError> {
    postcard::to_stdvec(credit)
}

/// Decode a credit frame.
///
/// # Errors
///
/// When the bytes are not a credit frame.
pub fn decode_credit(bytes: &[u8]) -> Result<Credit, CodecError> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_round_trips_in_order() {
        let bytes = encode_batch(7, 40, 2, &["a".to_string(), "b".to_string()]).unwrap();
        let f = decode_data::<String>(&bytes).unwrap();
        assert_eq!((f.source, f.seq, f.dropped), (7, 40, 2));
        assert_eq!(
            f.payload,
            Payload::Batch(vec!["a".to_string(), "b".to_string()])
        );
    }

    #[test]
    fn a_control_frame_decodes_for_any_message_type() {
        let bytes = encode_control(1, 9, 0, Control::ProducerFinished).unwrap();
        let f = decode_data::<u64>(&bytes).unwrap();
        assert_eq!(f.payload, Payload::Control(Control::ProducerFinished));
    }

    #[test]
    fn a_credit_round_trips() {
        let c = Credit {
            next: 3,
            limit: 67,
            resync: 1,
            message_type: "u64".into(),
        };
        assert_eq!(decode_credit(&encode_credit(&c).unwrap()).unwrap(), c);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_data::<String>(&[0xff; 3]).is_err());
    }
}
