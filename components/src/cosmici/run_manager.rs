//! [`RunManager`]: waits for CTU ready, FEDM ready and good GPS time, then sends
//! `START` to the CTU.

use std::collections::BTreeSet;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::Bytes;

use super::bridge::backplane_name;
use super::lines::{LinkKind, NodeNotice, NodeUartLine};
use super::node::{NodeEvent, RunReadiness};
use super::wire::uart::UartLine;

/// What a [`RunManager`] reports.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::run_manager::{RunEvent, RunManager};
/// use components::cosmici::{NodeUartLine, UartLine};
///
/// let mut h = axon::testing::Harness::new(RunManager::new(0));
/// let line = UartLine::parse("ACK,START").unwrap();
/// h.send(NodeUartLine { node: 0, line }).await;
/// assert_eq!(h.recv().await, Some(RunEvent::Started));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEvent {
    /// `START` was sent to the CTU.
    StartSent,
    /// The CTU acknowledged `START`.
    Started,
}

/// Starts a run when the sensor network is ready.
///
/// # What it does
///
/// Watches the host and GPS lines of every node with a [`RunReadiness`]. Once the CTU
/// and the FEDM have sent `HOST_READY` and the CTU's `PDMETRAIM` says GPS time is
/// good, it publishes `START` on the CTU's UART `down` Backplane (so it goes down
/// the CTU's bridged UART link, as an operator's command would), once. When the CTU
/// answers `ACK,START` it reports [`RunEvent::Started`] and tells the node model
/// (`notices`) that every node seen is now running.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | [`NodeUartLine`] | host and GPS lines |
/// | `outbox` | out | [`RunEvent`] | start sent, run started |
/// | `notices` | out | [`NodeNotice`] | `RunStarted` per node, to the node model |
/// | `start` | out | `Bytes` | `START`, to the CTU's UART `down` Backplane (linked when needed) |
/// | `control` / `signal` | | `Control` | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::cosmici::run_manager::{RunEvent, RunManager};
/// use components::cosmici::{NodeUartLine, UartLine};
///
/// let mut h = axon::testing::Harness::new(RunManager::new(0));
/// for (node, line) in [(0, "HOST_STARTING,CTU_GPS,1"), (1, "HOST_STARTING,FEDM,1"),
///                      (0, "HOST_READY"), (1, "HOST_READY"), (0, "PDMETRAIM,0,1,0.000000020,0"),
///                      (0, "ACK,START")] {
///     h.send(NodeUartLine { node, line: UartLine::parse(line).unwrap() }).await;
/// }
/// assert_eq!(h.recv().await, Some(RunEvent::Started)); // no CTU bridge here, so no StartSent
/// # }
/// ```
#[derive(Debug)]
pub struct RunManager {
    ctu: u32,
}

impl RunManager {
    /// A manager whose CTU is node `ctu`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use components::cosmici::run_manager::{RunEvent, RunManager};
    /// use components::cosmici::{NodeUartLine, UartLine};
    ///
    /// let mut h = axon::testing::Harness::new(RunManager::new(2));
    /// // Only the CTU's acknowledgement counts.
    /// for node in [0, 2] {
    ///     let line = UartLine::parse("ACK,START").unwrap();
    ///     h.send(NodeUartLine { node, line }).await;
    /// }
    /// h.finish().await;
    /// assert_eq!(h.recv().await, Some(RunEvent::Started));
    /// assert_eq!(h.recv().await, None);
    /// # }
    /// ```
    pub fn new(ctu: u32) -> Self {
        Self { ctu }
    }
}

impl Component for RunManager {
    type In = NodeUartLine;
    type Out = RunEvent;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "host and GPS lines")?;
        s.describe("outbox", "start sent, run started")?;
        s.outbox::<NodeNotice>("notices", "RunStarted per node, to the node model")?;
        s.outbox::<Bytes>("start", "START, to the CTU's UART down Backplane")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<NodeUartLine, RunEvent>) -> Result<(), BoxError> {
        let mut notices: Outbox<NodeNotice> = ctx.outbox_named("notices")?;
        let mut start: Outbox<Bytes> = ctx.outbox_named("start")?;
        let start_ref = ctx.runtime().box_ref::<Bytes>(ctx.id(), "start")?;
        let down = backplane_name(self.ctu, LinkKind::Uart, "down");
        let mut readiness = RunReadiness::default();
        let mut nodes = BTreeSet::new();
        let (mut sent, mut started) = (false, false);
        while let Some(NodeUartLine { node, line }) = ctx.recv().await {
            nodes.insert(node);
            readiness.observe(node, &line);
            if node == self.ctu
                && !started
                && matches!(&line, UartLine::Ack(f) if f.first().is_some_and(|w| w == "START"))
            {
                started = true;
                tracing::info!("run started: the CTU acknowledged START");
                for &n in &nodes {
                    let _ = notices
                        .send(NodeNotice {
                            node: n,
                            event: NodeEvent::RunStarted,
                        })
                        .await;
                }
                let _ = ctx.send(RunEvent::Started).await;
            }
            if sent || started || !readiness.ready_to_start() {
                continue;
            }
            // The CTU's bridge may not exist yet; try again on the next line.
            if !start.is_linked() {
                match ctx.runtime().service::<Bytes>(&down) {
                    Ok(to) => ctx.runtime().link(start_ref, to)?,
                    Err(_) => continue,
                }
            }
            if start.send(Bytes::from_static(b"START\r\n")).await.is_ok() {
                sent = true;
                tracing::info!(
                    "CTU, FEDM and GPS time ready: START sent to node {}",
                    self.ctu
                );
                let _ = ctx.send(RunEvent::StartSent).await;
            }
        }
        Ok(())
    }
}
