//! The recording file: JSON lines. The first line is a [`Header`] (which link, which
//! message type, when); each later line is one message, `{"t_us":…,"msg":…}`, `t_us`
//! being microseconds since the recording started (tokio's clock, so never
//! decreasing).
//!
//! JSON lines rather than a binary encoding: `serde_json` is already a dependency,
//! a recording can be read with `head`, `jq` or a Python script, and a file cut short
//! by a crash loses at most its last line, which is detected. The price is size and
//! encoding time, paid by the tap (see the module's documentation on what happens when
//! the disk cannot keep up).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::RecordError;

/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The first line of a recording.
///
/// # Examples
///
/// ```
/// let h = axon::record::Header {
///     axon_recording: axon::record::FORMAT_VERSION,
///     from: "a#1.outbox".into(),
///     to: "b#2.inbox".into(),
///     type_name: "u32".into(),
///     started_unix_ms: 0,
/// };
/// assert!(serde_json::to_string(&h).unwrap().contains("\"type\":\"u32\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The format version ([`FORMAT_VERSION`]); also marks the file as a recording.
    pub axon_recording: u32,
    /// The recorded link's source, `name#id.box`.
    pub from: String,
    /// The recorded link's destination, `name#id.box`.
    pub to: String,
    /// The message type, as `std::any::type_name` spells it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Wall-clock time the recording started, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
}

/// One recorded message, borrowed for writing.
#[derive(Serialize)]
struct RecordOut<'a, T> {
    t_us: u64,
    msg: &'a T,
}

/// One recorded message, read back.
#[derive(Deserialize)]
struct RecordIn<T> {
    t_us: u64,
    msg: T,
}

/// Encode one message as a line (newline included).
pub(crate) fn encode<T: Serialize>(at: Duration, msg: &T) -> Result<Vec<u8>, serde_json::Error> {
    let t_us = u64::try_from(at.as_micros()).unwrap_or(u64::MAX);
    let mut line = serde_json::to_vec(&RecordOut { t_us, msg })?;
    line.push(b'\n');
    Ok(line)
}

/// Encode the header line (newline included).
pub(crate) fn encode_header(h: &Header) -> Vec<u8> {
    let mut line = serde_json::to_vec(h).expect("a header is plain strings and numbers");
    line.push(b'\n');
    line
}

/// A recording read back: its header and its messages with their times since the start.
///
/// # Examples
///
/// ```no_run
/// let rec = axon::record::read::<u32>("link.axrec").unwrap();
/// for (at, n) in &rec.messages {
///     println!("{at:?}: {n}");
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Recording<T> {
    /// The first line.
    pub header: Header,
    /// Each message and when it passed, since the recording started.
    pub messages: Vec<(Duration, T)>,
}

/// Read a whole recording of messages of type `T`.
///
/// # Errors
///
/// [`RecordError::Io`] if the file cannot be read; [`RecordError::Corrupt`] naming the
/// first bad line if it is not a recording or is damaged (a line cut short, a message
/// that does not decode); [`RecordError::WrongType`] if it records another type.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("axon-doc-{}.axrec", std::process::id()));
/// std::fs::write(&path, "not a recording\n").unwrap();
/// let err = axon::record::read::<u32>(&path).unwrap_err();
/// assert!(matches!(err, axon::record::RecordError::Corrupt { line: 1, .. }));
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn read<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Recording<T>, RecordError> {
    let path = path.as_ref();
    let io = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    let corrupt = |line: usize, reason: String| RecordError::Corrupt {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut lines = BufReader::new(std::fs::File::open(path).map_err(io)?).lines();
    let header = parse_header(path, lines.next())?;
    let asked = std::any::type_name::<T>();
    if header.type_name != asked {
        return Err(RecordError::WrongType {
            path: path.to_path_buf(),
            recorded: header.type_name,
            asked,
        });
    }
    let mut messages = Vec::new();
    for (n, line) in lines.enumerate() {
        let line = line.map_err(io)?;
        let record: RecordIn<T> =
            serde_json::from_str(&line).map_err(|e| corrupt(n + 2, e.to_string()))?;
        messages.push((Duration::from_micros(record.t_us), record.msg));
    }
    Ok(Recording { header, messages })
}

/// Read only a recording's header.
///
/// # Errors
///
/// As [`read`], without the type check.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("axon-doc-h-{}.axrec", std::process::id()));
/// std::fs::write(&path, "").unwrap();
/// assert!(axon::record::read_header(&path).is_err());
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, RecordError> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_header(path, BufReader::new(file).lines().next())
}

/// The header from a recording's first line (`None`: the file is empty).
fn parse_header(
    path: &Path,
    first: Option<std::io::Result<String>>,
) -> Result<Header, RecordError> {
    let corrupt = |reason: String| RecordError::Corrupt {
        path: path.to_path_buf(),
        line: 1,
        reason,
    };
    let first = first
        .ok_or_else(|| corrupt("the file is empty".into()))?
        .map_err(|source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| corrupt(format!("not a recording header: {e}")))?;
    if header.axon_recording != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {} (this build reads {FORMAT_VERSION})",
            header.axon_recording
        )));
    }
    Ok(header)
}
