//! Replay of recorded UART traffic into a running server: the nodes connect as real
//! ones do (MAIN, AUXIO, UART) and send what they sent then, at the recorded pace
//! times a speed factor, or as fast as the server takes it.
//!
//! Two recordings are read:
//!
//! * the bridge transcripts a server writes (`node<N>-uart-<run>.log` and its rotated
//!   `node<N>-uart-<run>.<k>.log`, see [`crate::cosmici::transcript`]; one line per
//!   bridged line: `<RFC 3339 UTC> <direction> <line>`; the lines the node sent,
//!   direction `<`, are replayed, connection markers `#` skipped);
//! * the plain recording format (`*.rec`): one line per line sent,
//!   `<unix seconds> <node> <line>`, e.g. `1764893694.306871497 1 $HOST_READY*14`;
//!   [`Recording::write_plain`] writes it.
//!
//! What the server computes from a node's lines depends on their content (counters,
//! PPS numbers, GPS time), not on when they arrive, so a replay stores the same
//! pulses and showers as the original run.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::sim::replay::Recording;
//!
//! let rec = Recording::parse_plain("10.5 1 $HOST_READY*14\n10.0 0 $HOST_READY*14\n", "demo.rec")?;
//! assert_eq!(rec.len(), 2);
//! assert_eq!(rec.nodes(), [0, 1]);
//! assert_eq!(rec.span_ns(), 500_000_000);
//! # Ok::<(), components::cosmici::sim::replay::ReplayError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{BridgePorts, NodeLinks, connect_node};
use crate::cosmici::reconstruct::DetectorMap;
use crate::cosmici::wire::uart::UartLine;

/// How long the server may take to read the last lines and close the links.
const CLOSE_LIMIT: Duration = Duration::from_secs(60);
use crate::cosmici::wire::utc::UtcNanos;

/// Why a recording cannot be read or replayed.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::replay::{Recording, ReplayError};
/// let err = Recording::parse_plain("soon 1 HOST_READY\n", "x.rec").unwrap_err();
/// assert!(err.to_string().contains("x.rec line 1"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line of a recording does not parse.
    #[error("{path} line {line}: {reason}")]
    Syntax {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The recording holds no node line.
    #[error("{0}: no recorded UART lines (transcripts node<N>-uart-*.log or *.rec files)")]
    Empty(String),
    /// Connecting to, or writing to, the server failed.
    #[error("replay to the server: {0}")]
    Io(#[from] std::io::Error),
}

/// One line a node sent, and when.
///
/// # Examples
///
/// ```
/// use components::cosmici::UtcNanos;
/// use components::cosmici::sim::replay::RecordedLine;
/// let l = RecordedLine { at: UtcNanos(0), node: 1, line: "$HOST_READY*14".into() };
/// assert_eq!(l.node, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedLine {
    /// When it was sent (transcript time).
    pub at: UtcNanos,
    /// The node.
    pub node: u32,
    /// The line as sent, without its line end.
    pub line: String,
}

/// Recorded UART lines of several nodes, in time order.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::replay::Recording;
/// let transcript = "2026-12-05T00:14:54.306871497Z < $HOST_READY*14\n2026-12-05T00:14:54.306946819Z > START\n";
/// let rec = Recording::parse_transcript(0, transcript, "node0-uart.log")?;
/// assert_eq!(rec.len(), 1); // only what the node sent
/// # Ok::<(), components::cosmici::sim::replay::ReplayError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    lines: Vec<RecordedLine>,
}

impl Recording {
    /// Every UART transcript (`node<N>-uart-*.log`) and plain recording (`*.rec`) in
    /// `dir`, merged in time order.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Read`], [`ReplayError::Syntax`], or [`ReplayError::Empty`] when
    /// the directory holds no UART line.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::replay::Recording;
    /// let dir = std::env::temp_dir().join(format!("replay-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("node1-uart-conn1-x.log"), "2026-12-05T00:00:01Z < $HOST_READY*14\n")?;
    /// std::fs::write(dir.join("node1-auxio-conn1-x.log"), "2026-12-05T00:00:00Z < console text\n")?;
    /// let rec = Recording::from_dir(&dir)?;
    /// assert_eq!((rec.len(), rec.nodes()), (1, vec![1]));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, ReplayError> {
        let dir = dir.as_ref();
        let read_err = |path: &Path, source| ReplayError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut lines = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| read_err(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| read_err(dir, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let node = transcript_node(&name);
            let plain = name.ends_with(".rec");
            if node.is_none() && !plain {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| read_err(&path, e))?;
            let shown = path.display().to_string();
            let part = match node {
                Some(node) => Self::parse_transcript(node, &text, &shown)?,
                None => Self::parse_plain(&text, &shown)?,
            };
            lines.extend(part.lines);
        }
        if lines.is_empty() {
            return Err(ReplayError::Empty(dir.display().to_string()));
        }
        Ok(Self::sorted(lines))
    }

    fn sorted(mut lines: Vec<RecordedLine>) -> Self {
        // Stable: a node's lines keep their order when stamped alike.
        lines.sort_by_key(|l| l.at);
        Recording { lines }
    }

    /// The lines node `node` sent in a bridge transcript (`path` names it in errors).
    ///
    /// # Errors
    ///
    /// [`ReplayError::Syntax`] for a line without a valid timestamp and direction.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::replay::Recording;
    /// assert!(Recording::parse_transcript(1, "yesterday < $HOST_READY*14\n", "t.log").is_err());
    /// ```
    pub fn parse_transcript(node: u32, text: &str, path: &str) -> Result<Self, ReplayError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let bad = |reason: &str| ReplayError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                reason: reason.to_owned(),
            };
            let (stamp, rest) = raw.split_once(' ').ok_or_else(|| bad("no timestamp"))?;
            let at = parse_rfc3339(stamp).ok_or_else(|| bad("timestamp is not RFC 3339 UTC"))?;
            match rest.split_once(' ').unwrap_or((rest, "")) {
                ("<", line) => lines.push(RecordedLine {
                    at,
                    node,
                    line: line.to_owned(),
                }),
                (">" | "#", _) => {}
                _ => return Err(bad("direction is neither `<`, `>` nor `#`")),
            }
        }
        Ok(Self::sorted(lines))
    }

    /// A plain recording: `<unix seconds> <node> <line>` per line; blank lines and
    /// lines starting with `#` are skipped.
    ///
    /// # Errors
    ///
    /// [`ReplayError::Syntax`] naming `path` and the line.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::replay::Recording;
    /// let rec = Recording::parse_plain("# run 7\n1.25 2 $HOST_READY*14\n", "r.rec")?;
    /// assert_eq!(rec.lines()[0].at.as_nanos(), 1_250_000_000);
    /// # Ok::<(), components::cosmici::sim::replay::ReplayError>(())
    /// ```
    pub fn parse_plain(text: &str, path: &str) -> Result<Self, ReplayError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() || raw.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| ReplayError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                reason: reason.to_owned(),
            };
            let mut parts = raw.splitn(3, ' ');
            let (Some(t), Some(node), Some(line)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("expected `<unix seconds> <node> <line>`"));
            };
            let at = parse_seconds(t).ok_or_else(|| bad("time is not decimal unix seconds"))?;
            let node = node.parse().map_err(|_| bad("node is not a number"))?;
            lines.push(RecordedLine {
                at,
                node,
                line: line.to_owned(),
            });
        }
        Ok(Self::sorted(lines))
    }

    /// Writes the plain recording format.
    ///
    /// # Errors
    ///
    /// The write error.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::replay::Recording;
    /// let rec = Recording::parse_plain("1.000000001 3 $HOST_READY*14\n", "a.rec")?;
    /// let mut out = Vec::new();
    /// rec.write_plain(&mut out)?;
    /// assert_eq!(Recording::parse_plain(std::str::from_utf8(&out)?, "b.rec")?, rec);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_plain(&self, out: &mut impl Write) -> std::io::Result<()> {
        for l in &self.lines {
            let ns = l.at.as_nanos();
            writeln!(
                out,
                "{}.{:09} {} {}",
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000),
                l.node,
                l.line
            )?;
        }
        Ok(())
    }

    /// A recording of `lines`, put in time order (a node's lines stamped alike keep
    /// their order).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    /// use components::cosmici::sim::replay::{RecordedLine, Recording};
    ///
    /// let line = |at, node| RecordedLine { at: UtcNanos(at), node, line: "$HOST_READY*14".into() };
    /// let rec = Recording::from_lines(vec![line(20, 2), line(10, 1)]);
    /// assert_eq!(rec.lines()[0].node, 1);
    /// assert_eq!(rec.span_ns(), 10);
    /// ```
    pub fn from_lines(lines: Vec<RecordedLine>) -> Self {
        Self::sorted(lines)
    }

    /// A station's part of this recording of a whole array: the lines of the nodes
    /// that are no FEDM (the CTU), and of the FEDM nodes that carry one of `detectors`
    /// (numbered by `map`) without the `CON_PULSE`s of their other channels. Replayed
    /// by several stations whose `detectors` make up the array, it gives them, between
    /// them, every pulse once (and each its own CTU's time).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::reconstruct::DetectorMap;
    /// use components::cosmici::sim::replay::Recording;
    ///
    /// let rec = Recording::parse_plain(
    ///     "1.0 0 $HOST_READY*14\n\
    ///      1.1 1 CON_PULSE,1,0,1,1,500,1,(0,3)\n\
    ///      1.2 1 CON_PULSE,1,0,3,1,500,1,(0,3)\n\
    ///      1.3 2 CON_PULSE,1,0,1,1,500,1,(0,3)\n",
    ///     "array.rec",
    /// )?;
    /// // Detector 2 is node 1's channel 3; node 2 carries none of them.
    /// let part = rec.for_detectors(DetectorMap::default(), &[2].into());
    /// let kept: Vec<(u32, &str)> = part.lines().iter().map(|l| (l.node, l.line.as_str())).collect();
    /// assert_eq!(kept, [(0, "$HOST_READY*14"), (1, "CON_PULSE,1,0,3,1,500,1,(0,3)")]);
    /// # Ok::<(), components::cosmici::sim::replay::ReplayError>(())
    /// ```
    pub fn for_detectors(&self, map: DetectorMap, detectors: &BTreeSet<usize>) -> Recording {
        let nodes: BTreeSet<u32> = detectors.iter().map(|d| map.channel(*d).0).collect();
        let keep = |l: &RecordedLine| {
            if l.node < map.first_fedm {
                return true;
            }
            if !nodes.contains(&l.node) {
                return false;
            }
            match UartLine::parse_line(&l.line) {
                Ok(UartLine::ConPulse(p)) => map
                    .detector(l.node, p.ch)
                    .is_some_and(|d| detectors.contains(&d)),
                _ => true,
            }
        };
        Recording {
            lines: self.lines.iter().filter(|l| keep(l)).cloned().collect(),
        }
    }

    /// The lines, in time order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(components::cosmici::sim::replay::Recording::default().lines().is_empty());
    /// ```
    pub fn lines(&self) -> &[RecordedLine] {
        &self.lines
    }

    /// Number of lines.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::sim::replay::Recording::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No lines.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(components::cosmici::sim::replay::Recording::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The nodes that sent lines, ascending.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(components::cosmici::sim::replay::Recording::default().nodes().is_empty());
    /// ```
    pub fn nodes(&self) -> Vec<u32> {
        let mut nodes: Vec<u32> = self.lines.iter().map(|l| l.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// Time from the first line to the last, ns.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::sim::replay::Recording::default().span_ns(), 0);
    /// ```
    pub fn span_ns(&self) -> i64 {
        match (self.lines.first(), self.lines.last()) {
            (Some(a), Some(b)) => b.at.as_nanos() - a.at.as_nanos(),
            _ => 0,
        }
    }
}

/// The node of a UART transcript's file name (`node<N>-uart-…`).
fn transcript_node(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("node")?;
    let (node, rest) = rest.split_once('-')?;
    rest.starts_with("uart-")
        .then(|| node.parse().ok())
        .flatten()
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
fn parse_rfc3339(s: &str) -> Option<UtcNanos> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, mo, da) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, se) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    let ns = fraction_ns(frac)?;
    UtcNanos::from_civil(y, mo, da, h, mi, se, ns)
}

/// Decimal unix seconds.
fn parse_seconds(s: &str) -> Option<UtcNanos> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let ns = i64::from(fraction_ns(frac)?);
    Some(UtcNanos(secs.checked_mul(1_000_000_000)?.checked_add(ns)?))
}

/// Up to nine decimal digits after the point, as ns.
fn fraction_ns(frac: &str) -> Option<u32> {
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{frac:0<9}");
    padded.parse().ok()
}

/// How to replay: where the server is, and how fast.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::replay::ReplayConfig;
/// let config = ReplayConfig::new("127.0.0.1:26766".parse()?);
/// assert_eq!(config.speed, Some(1.0)); // the recorded pace
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The server's MAIN address.
    pub main: SocketAddr,
    /// Where the bridges are.
    pub bridges: BridgePorts,
    /// Recorded time divided by this; `None` = as fast as the server takes the lines.
    pub speed: Option<f64>,
    /// Node heartbeat period on MAIN.
    pub heartbeat: Duration,
}

impl ReplayConfig {
    /// Replaying at the recorded pace to `main`, bridges at the protocol's bases on
    /// its host.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::sim::replay::ReplayConfig;
    /// let fast = ReplayConfig { speed: None, ..ReplayConfig::new("127.0.0.1:26766".parse()?) };
    /// # let _ = fast;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(main: SocketAddr) -> Self {
        ReplayConfig {
            main,
            bridges: BridgePorts::Bases {
                host: main.ip(),
                auxio: crate::cosmici::LinkKind::Auxio.default_base(),
                uart: crate::cosmici::LinkKind::Uart.default_base(),
            },
            speed: Some(1.0),
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Replays `recording` into the server: every node of it connects (MAIN, AUXIO,
/// UART), then the lines go out on their node's UART link in recorded order, each
/// at its recorded time divided by the speed. `progress` is called with the number
/// of lines sent so far, every few hundred lines and at the end. The links close
/// when all is sent, and it returns (the number of lines sent) once the server has
/// closed each UART link after reading it to the end.
///
/// # Errors
///
/// [`ReplayError::Io`] if a node cannot connect or a write fails.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::cosmici::sim::replay::{Recording, ReplayConfig, replay};
///
/// let recording = Recording::from_dir("sensornet-transcripts")?;
/// let config = ReplayConfig { speed: Some(10.0), ..ReplayConfig::new("127.0.0.1:26766".parse()?) };
/// let sent = replay(&recording, &config, |n| eprintln!("{n} lines")).await?;
/// assert_eq!(sent, recording.len());
/// # Ok(()) }
/// ```
pub async fn replay(
    recording: &Recording,
    config: &ReplayConfig,
    mut progress: impl FnMut(usize),
) -> Result<usize, ReplayError> {
    let links = NodeLinks {
        main: config.main,
        bridges: &config.bridges,
        heartbeat: config.heartbeat,
    };
    let mut tasks = JoinSet::new();
    let mut writers: BTreeMap<u32, BufWriter<OwnedWriteHalf>> = BTreeMap::new();
    let mut readers = JoinSet::new();
    for node in recording.nodes() {
        let kind = if node == 0 { "CTU" } else { "FEDM" };
        let uart = connect_node(&links, node, &mut tasks, kind).await?;
        let (mut rx, tx) = uart.into_split();
        // Commands from the server (START …) are read and dropped: the recording
        // already holds the node's answers. The read ends when the server closes
        // the link, after it has read everything sent.
        readers.spawn(async move { tokio::io::copy(&mut rx, &mut tokio::io::sink()).await });
        writers.insert(node, BufWriter::new(tx));
    }
    let first = recording.lines.first().map_or(0, |l| l.at.as_nanos());
    let start = Instant::now();
    let mut sent = 0;
    for line in &recording.lines {
        if let Some(speed) = config.speed {
            let offset = (line.at.as_nanos() - first) as f64 / speed;
            let due = start + Duration::from_nanos(offset.max(0.0) as u64);
            if due > Instant::now() {
                for w in writers.values_mut() {
                    w.flush().await?;
                }
                tokio::time::sleep_until(due).await;
            }
        }
        if let Some(w) = writers.get_mut(&line.node) {
            w.write_all(line.line.as_bytes()).await?;
            w.write_all(b"\r\n").await?;
        }
        sent += 1;
        if sent % 256 == 0 {
            // Keep the nodes' links abreast: no node's lines wait in a buffer while
            // another's are processed.
            for w in writers.values_mut() {
                w.flush().await?;
            }
            progress(sent);
        }
    }
    for w in writers.values_mut() {
        w.flush().await?;
        w.shutdown().await?;
    }
    progress(sent);
    // The server closes each UART link once it has read it to the end.
    let closed = async {
        while let Some(read) = readers.join_next().await {
            if let Ok(Err(e)) = read {
                tracing::debug!("replay: UART link ended with {e}");
            }
        }
    };
    if tokio::time::timeout(CLOSE_LIMIT, closed).await.is_err() {
        return Err(ReplayError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the server did not close the UART links within {CLOSE_LIMIT:?} of the last line"
            ),
        )));
    }
    tasks.abort_all();
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_names_parse() {
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01.5Z"),
            Some(UtcNanos(1_500_000_000))
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01Z"),
            Some(UtcNanos(1_000_000_000))
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.1234567891Z"), None);
        assert_eq!(parse_seconds("-1.0"), None);
        assert_eq!(transcript_node("node12-uart-conn3-2026.log"), Some(12));
        assert_eq!(transcript_node("node12-auxio-conn3-2026.log"), None);
        assert_eq!(transcript_node("nodeX-uart-conn3.log"), None);
    }
}
