//! The Zenoh transport: a session ([`Remote`]), the two endpoint components and the
//! calls that make and link them.

mod config;
mod receiver;
mod sender;

use std::hash::{BuildHasher, Hasher};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::{BoxRef, ComponentId, Control, Handle, Policy, Runtime};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use config::ZenohConfig;
pub use receiver::RemoteReceiver;
pub use sender::RemoteSender;

use crate::{RemoteError, RemoteLinkInfo, RemoteLinkStats, Role};

/// Tuning of remote links; the defaults suit a LAN.
///
/// # Examples
///
/// ```
/// let o = remote::LinkOptions { window: 256, ..Default::default() };
/// assert_eq!(o.window, 256);
/// ```
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Credit window: messages in flight or waiting on the receiving host, at most.
    pub window: usize,
    /// Capacity of the sending endpoint's inbox (where the local policy applies).
    pub inbox_capacity: usize,
    /// Messages packed into one frame at most (only what is already waiting is packed:
    /// batching never delays a message).
    pub max_batch: usize,
    /// Heartbeat: credit refresh, retransmission timer and drop-count period.
    pub heartbeat: Duration,
    /// Heartbeats without an acknowledgement before unacknowledged frames are resent.
    pub rto_ticks: u32,
    /// How long a vanished peer is waited for before the endpoint fails naming it.
    pub grace: Duration,
}

impl Default for LinkOptions {
    fn default() -> Self {
        Self {
            window: 256,
            inbox_capacity: axon::DEFAULT_CAPACITY,
            max_batch: 64,
            heartbeat: Duration::from_millis(200),
            rto_ticks: 5,
            grace: Duration::from_secs(5),
        }
    }
}

/// A remote inbox: graph, component and box, as the key expression
/// `axon/GRAPH/COMPONENT/BOX` names it.
///
/// # Examples
///
/// ```
/// let b: remote::RemoteBox = "central/archive/inbox".parse().unwrap();
/// assert_eq!(b.key(), "axon/central/archive/inbox");
/// assert!("just-one-part".parse::<remote::RemoteBox>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteBox {
    /// The graph (host program) that holds the inbox.
    pub graph: String,
    /// The component's name there.
    pub component: String,
    /// The inbox's name.
    pub box_name: String,
}

impl RemoteBox {
    /// A remote inbox by its three names (each made safe for a key expression).
    pub fn new(graph: &str, component: &str, box_name: &str) -> Self {
        Self {
            graph: key_part(graph),
            component: key_part(component),
            box_name: key_part(box_name),
        }
    }

    /// The key expression: `axon/GRAPH/COMPONENT/BOX`.
    pub fn key(&self) -> String {
        format!("axon/{}/{}/{}", self.graph, self.component, self.box_name)
    }
}

impl std::str::FromStr for RemoteBox {
    type Err = RemoteError;

    fn from_str(s: &str) -> Result<Self, RemoteError> {
        match s.split('/').collect::<Vec<_>>()[..] {
            [g, c, b] if !g.is_empty() && !c.is_empty() && !b.is_empty() => Ok(Self::new(g, c, b)),
            _ => Err(RemoteError::Config(format!(
                "remote box `{s}`: expected GRAPH/COMPONENT/BOX"
            ))),
        }
    }
}

/// Keeps letters, digits, `-`, `_` and `.`; anything else becomes `_`.
fn key_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A random number naming one sending endpoint's stream.
fn random_source(salt: u64) -> u64 {
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

/// One host's Zenoh session for remote links, named by its graph.
///
/// # Examples
///
/// Two hosts in a dozen lines (here both in one process, on loopback):
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::{Context, Policy, Runtime, component::from_fn};
/// use remote::{Remote, ZenohConfig};
/// // Host "central": an inbox offered to the network as central/printer/inbox.
/// let rt = Runtime::new();
/// let central = Remote::open("central", &ZenohConfig::default().listen("127.0.0.1:7450")?).await?;
/// let printer = rt.add(from_fn("printer", |mut c: Context<String, ()>| async move {
///     while let Some(line) = c.recv().await { println!("{line}"); }
///     Ok(())
/// }))?;
/// central.expose(&rt, printer.inbox())?;
/// printer.start();
/// // Host "station": an outbox linked to it, with the blocking policy.
/// let station = Remote::open("station", &ZenohConfig::default().connect("127.0.0.1:7450")?).await?;
/// let hello = rt.add(from_fn("hello", |mut c: Context<(), String>| async move {
///     c.send("hello".to_string()).await?;
///     Ok(())
/// }))?;
/// station.link_to(&rt, hello.outbox(), &"central/printer/inbox".parse()?, Policy::Block)?;
/// hello.start();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Remote {
    session: zenoh::Session,
    graph: String,
    opts: LinkOptions,
    links: Arc<Mutex<Vec<Arc<RemoteLinkStats>>>>,
}

impl Remote {
    /// Open a Zenoh session for the graph `graph` (peer mode, TCP only, no multicast
    /// scouting).
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] or [`RemoteError::Zenoh`] (a listen port in use, say).
    pub async fn open(graph: &str, config: &ZenohConfig) -> Result<Self, RemoteError> {
        let session = zenoh::open(config.to_zenoh()?)
            .await
            .map_err(RemoteError::zenoh)?;
        Ok(Self {
            session,
            graph: key_part(graph),
            opts: LinkOptions::default(),
            links: Arc::default(),
        })
    }

    /// Use these options for links made from now on.
    pub fn with_options(mut self, opts: LinkOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The graph's name, the first part of its inboxes' keys.
    pub fn graph(&self) -> &str {
        &self.graph
    }

    /// The Zenoh session underneath.
    pub fn session(&self) -> &zenoh::Session {
        &self.session
    }

    fn stats(&self, key: String, role: Role) -> Arc<RemoteLinkStats> {
        let s = Arc::new(RemoteLinkStats::new(key, role));
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(s.clone());
        s
    }

    /// A sending endpoint for the remote inbox `to`, to add and link yourself.
    /// `lossy` says whether the link into it drops (its drop count is then read and
    /// sent on).
    pub fn sender<T: Serialize + Send + 'static>(
        &self,
        to: &RemoteBox,
        lossy: bool,
    ) -> RemoteSender<T> {
        RemoteSender {
            session: self.session.clone(),
            key: to.key(),
            opts: self.opts.clone(),
            stats: self.stats(to.key(), Role::Sender),
            lossy,
            _t: PhantomData,
        }
    }

    /// A receiving endpoint offered as `GRAPH/component/box_name` (this graph), to add
    /// and link yourself.
    pub fn receiver<T: DeserializeOwned + Send + 'static>(
        &self,
        component: &str,
        box_name: &str,
    ) -> RemoteReceiver<T> {
        let key = RemoteBox::new(&self.graph, component, box_name).key();
        RemoteReceiver {
            session: self.session.clone(),
            key: key.clone(),
            opts: self.opts.clone(),
            stats: self.stats(key, Role::Receiver),
            _t: PhantomData,
        }
    }

    /// Link the local outbox `from` to the remote inbox `to` with `policy`, and start
    /// the sending endpoint. When `from` is its component's `outbox`, its `signal` is
    /// linked too, so `ProducerFinished` and `Shutdown` cross after the data.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Link`] when a local link cannot be made (`from` already linked).
    pub fn link_to<T: Serialize + Send + 'static>(
        &self,
        rt: &Runtime,
        from: BoxRef<T>,
        to: &RemoteBox,
        policy: Policy,
    ) -> Result<Handle, RemoteError> {
        let lossy = policy != Policy::Block;
        let sender = rt.add(self.sender::<T>(to, lossy))?;
        let producer = from.id().component();
        rt.link_with(from, sender.inbox(), policy)?;
        if rt.box_id(producer, "outbox")? == from.id() {
            let signal = rt.box_ref::<Control>(producer, "signal")?;
            rt.link(signal, sender.control())?;
        }
        Ok(sender.start())
    }

    /// [`link_to`](Self::link_to) by names: the outbox `box_name` of `component`
    /// (checked to carry `T`) and the remote inbox `GRAPH/COMPONENT/BOX`.
    ///
    /// # Errors
    ///
    /// As `link_to`, and [`RemoteError::Link`] for an unknown box or another type;
    /// [`RemoteError::Config`] for a malformed remote name.
    pub fn link_to_named<T: Serialize + Send + 'static>(
        &self,
        rt: &Runtime,
        component: ComponentId,
        box_name: &str,
        to: &str,
        policy: Policy,
    ) -> Result<Handle, RemoteError> {
        let from = rt.box_ref::<T>(component, box_name)?;
        self.link_to(rt, from, &to.parse()?, policy)
    }

    /// Offer the local inbox `to` to the network as `GRAPH/COMPONENT/BOX` (this graph,
    /// the component's name, the box's name) and start its receiving endpoint. When
    /// `to` is its component's `inbox`, the endpoint's `signal` is linked to its
    /// `control`, so the remote lifecycle reaches it.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Link`] when a local link cannot be made.
    pub fn expose<T: DeserializeOwned + Send + 'static>(
        &self,
        rt: &Runtime,
        to: BoxRef<T>,
    ) -> Result<Handle, RemoteError> {
        let consumer = to.id().component();
        let snap = rt.snapshot();
        let info = snap.component(consumer).ok_or_else(|| {
            RemoteError::Config(format!("component #{} is not in the graph", consumer.get()))
        })?;
        let box_name = info
            .boxes
            .iter()
            .map(|b| b.name.as_str())
            .find(|name| rt.box_id(consumer, name).ok() == Some(to.id()))
            .unwrap_or("inbox")
            .to_string();
        self.expose_as(rt, to, &info.name, &box_name)
    }

    /// [`expose`](Self::expose) under the names `component` and `box_name`.
    ///
    /// # Errors
    ///
    /// As `expose`.
    pub fn expose_as<T: DeserializeOwned + Send + 'static>(
        &self,
        rt: &Runtime,
        to: BoxRef<T>,
        component: &str,
        box_name: &str,
    ) -> Result<Handle, RemoteError> {
        let consumer = to.id().component();
        let receiver = rt.add(self.receiver::<T>(component, box_name))?;
        rt.link(receiver.outbox(), to)?;
        if rt.box_id(consumer, "inbox")? == to.id() {
            let control = rt.box_ref::<Control>(consumer, "control")?;
            rt.link(receiver.signal(), control)?;
        }
        Ok(receiver.start())
    }

    /// [`expose`](Self::expose) by names: the inbox `box_name` of `component`, checked
    /// to carry `T`.
    ///
    /// # Errors
    ///
    /// As `expose`, and [`RemoteError::Link`] for an unknown box or another type.
    pub fn expose_named<T: DeserializeOwned + Send + 'static>(
        &self,
        rt: &Runtime,
        component: ComponentId,
        box_name: &str,
    ) -> Result<Handle, RemoteError> {
        let to = rt.box_ref::<T>(component, box_name)?;
        self.expose(rt, to)
    }

    /// This host's remote links and their counters, for introspection.
    pub fn links(&self) -> Vec<RemoteLinkInfo> {
        let links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        links.iter().map(|s| s.info()).collect()
    }

    /// The runtime's snapshot with this host's remote links, as JSON:
    /// `{"graph": .., "snapshot": {..}, "remote_links": [..]}`.
    pub fn snapshot_json(&self, rt: &Runtime) -> String {
        #[derive(Serialize)]
        struct HostSnapshot<'a> {
            graph: &'a str,
            snapshot: axon::Snapshot,
            remote_links: Vec<RemoteLinkInfo>,
        }
        serde_json::to_string(&HostSnapshot {
            graph: &self.graph,
            snapshot: rt.snapshot(),
            remote_links: self.links(),
        })
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Publish an endpoint's link counters on its component
/// ([`Runtime::publish_counters`]), for the snapshot, the dashboard and `/metrics`.
fn publish<I: Send + 'static, O: Send + 'static>(
    ctx: &axon::Context<I, O>,
    stats: &Arc<RemoteLinkStats>,
) {
    let published = stats.clone();
    ctx.runtime()
        .publish_counters(ctx.id(), move || published.counters());
}

/// An endpoint's result from what its body ended on: the link is marked ended, and
/// ending on `Shutdown` is a shut-down exit.
fn ended<I: Send + 'static, O: Send + 'static>(
    ctx: &mut axon::Context<I, O>,
    stats: &RemoteLinkStats,
    r: Result<Control, RemoteError>,
) -> Result<(), axon::BoxError> {
    stats
        .ended
        .store(true, std::sync::atomic::Ordering::Relaxed);
    match r {
        Ok(Control::Shutdown) => {
            ctx.mark_shut_down();
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(Box::new(e)),
    }
}
