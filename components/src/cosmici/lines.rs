//! What the bridges carry: node lines tagged with their node and link, notices to
//! the node model, line splitting and transcript timestamps.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::node::NodeEvent;
use super::wire::uart::UartLine;
use super::wire::utc::UtcNanos;

/// Which bridged link of a node a stream belongs to.
///
/// # Examples
///
/// ```
/// use components::cosmici::LinkKind;
///
/// assert_eq!(LinkKind::Uart.to_string(), "uart");
/// assert_eq!(LinkKind::Auxio.default_base(), 52737);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    /// The Wi-Fi script's console text (port 52737 + id, LASER).
    Auxio,
    /// The FPGA's data lines (port 63766 + id, MESON).
    Uart,
}

impl LinkKind {
    /// Both links, AUXIO first.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    ///
    /// let bases: Vec<u16> = LinkKind::ALL.iter().map(|l| l.default_base()).collect();
    /// assert_eq!(bases, [52737, 63766]);
    /// ```
    pub const ALL: [LinkKind; 2] = [LinkKind::Auxio, LinkKind::Uart];

    /// The protocol's port base for this link (the node id is added).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    ///
    /// // Node 3's UART bridge listens on the base plus the node id.
    /// assert_eq!(LinkKind::Uart.default_base() + 3, 63769);
    /// ```
    pub fn default_base(self) -> u16 {
        match self {
            LinkKind::Auxio => 52737,
            LinkKind::Uart => 63766,
        }
    }

    /// Lower-case name, used in file and service names.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    ///
    /// assert_eq!(LinkKind::Auxio.as_str(), "auxio");
    /// assert_eq!(LinkKind::Uart.as_str(), LinkKind::Uart.to_string());
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Auxio => "auxio",
            LinkKind::Uart => "uart",
        }
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line received from a node on a bridged link, without its line end.
///
/// # Examples
///
/// ```
/// use components::cosmici::{LinkKind, NodeLine};
///
/// let line = NodeLine { node: 1, link: LinkKind::Uart, line: "HOST_READY".into() };
/// assert_eq!(line.to_string(), "node 1 uart: HOST_READY");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLine {
    /// The node it came from.
    pub node: u32,
    /// The link it came on.
    pub link: LinkKind,
    /// The text (invalid UTF-8 replaced).
    pub line: String,
}

impl fmt::Display for NodeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node {} {}: {}", self.node, self.link, self.line)
    }
}

/// A parsed UART line from a node.
///
/// # Examples
///
/// ```
/// use components::cosmici::{NodeUartLine, UartLine};
///
/// let line = NodeUartLine { node: 2, line: UartLine::parse("HOST_READY").unwrap() };
/// assert_eq!(line.line, UartLine::HostReady);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NodeUartLine {
    /// The node it came from.
    pub node: u32,
    /// The line.
    pub line: UartLine,
}

/// Something the node model should hear about a node that did not come over MAIN
/// (a UART line heard, a run started).
///
/// # Examples
///
/// ```
/// use components::cosmici::{NodeEvent, NodeNotice, NodeRegistry, NodeState};
///
/// let notice = NodeNotice { node: 5, event: NodeEvent::Heard };
/// let mut nodes = NodeRegistry::default();
/// nodes.handle(notice.node, notice.event, 0);
/// assert_eq!(nodes.get(5).unwrap().node.state(), NodeState::On);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeNotice {
    /// The node.
    pub node: u32,
    /// What happened.
    pub event: NodeEvent,
}

/// The wall clock as [`UtcNanos`], for transcripts and logs.
///
/// # Examples
///
/// ```
/// let now = components::cosmici::lines::utc_now();
/// assert!(now.unix_seconds() > 1_600_000_000);
/// ```
pub fn utc_now() -> UtcNanos {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    UtcNanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
}

/// Splits a byte stream into lines (`\n`, with a `\r` before it dropped). A line
/// longer than its limit is discarded up to its end and counted.
#[derive(Debug)]
pub(crate) struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
    discarding: bool,
}

impl LineBuffer {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            max,
            discarding: false,
        }
    }

    /// Appends `bytes`, pushes each complete line onto `out`, and returns how many
    /// over-long lines were discarded.
    pub(crate) fn push(&mut self, bytes: &[u8], out: &mut Vec<String>) -> usize {
        let mut overlong = 0;
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            let complete = chunk.last() == Some(&b'\n');
            let body = if complete {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            if !self.discarding {
                self.buf.extend_from_slice(body);
                if self.buf.len() > self.max {
                    self.buf.clear();
                    self.discarding = true;
                    overlong += 1;
                }
            }
            if complete {
                if !self.discarding {
                    if self.buf.last() == Some(&b'\r') {
                        self.buf.pop();
                    }
                    out.push(String::from_utf8_lossy(&self.buf).into_owned());
                }
                self.buf.clear();
                self.discarding = false;
            }
        }
        overlong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_joins_and_discards_overlong() {
        let mut b = LineBuffer::new(8);
        let mut out = Vec::new();
        assert_eq!(b.push(b"ab\r\ncd", &mut out), 0);
        assert_eq!(b.push(b"e\nxxxxxxxxxxxxx", &mut out), 1);
        assert_eq!(b.push(b"xx\nok\n", &mut out), 0);
        assert_eq!(out, ["ab", "cde", "ok"]);
    }
}
