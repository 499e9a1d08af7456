//! [`RespHandler`]: one Redis connection, and [`kvstore_server`], the [`ServerCore`]
//! that makes one per connection.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::{Bytes, BytesMut};
use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore};
use tokio_util::codec::Decoder;

use super::command::Command;
use super::error::{CommandError, FrameError};
use super::frame::RespCodec;
use super::reply::Reply;
use super::store::{STORE_SERVICE, StoreRequest};

/// Most commands sent to the store in one request; a longer pipeline goes in several.
const MAX_BATCH: usize = 1024;

/// How a [`RespHandler`] treats its connection.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `max_bulk` | 16 MiB | largest bulk string a client may send |
/// | `max_array` | 1M | most arguments in one command |
/// | `allow_crash` | `false` | let `DEBUG CRASH` panic the store (for supervision tests) |
/// | `service` | [`STORE_SERVICE`] | the service name of the [`KeyValueStore`](super::KeyValueStore) |
/// | `store_timeout` | 10 s | how long to wait for the store's replies before answering `store unavailable` |
///
/// # Examples
///
/// ```
/// use components::resp::RespOptions;
/// let options = RespOptions::default().allow_crash(true).max_bulk(1024);
/// assert!(options.allow_crash);
/// assert_eq!(options.max_bulk, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RespOptions {
    /// Largest bulk string, in bytes.
    pub max_bulk: usize,
    /// Most elements in a command array.
    pub max_array: usize,
    /// Whether `DEBUG CRASH` reaches the store.
    pub allow_crash: bool,
    /// The store's service name.
    pub service: Cow<'static, str>,
    /// How long to wait for the store.
    pub store_timeout: Duration,
}

impl Default for RespOptions {
    fn default() -> Self {
        RespOptions {
            max_bulk: RespCodec::DEFAULT_MAX_BULK,
            max_array: RespCodec::DEFAULT_MAX_ARRAY,
            allow_crash: false,
            service: Cow::Borrowed(STORE_SERVICE),
            store_timeout: Self::DEFAULT_STORE_TIMEOUT,
        }
    }
}

impl RespOptions {
    /// Default for [`store_timeout`](Self::store_timeout).
    pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(10);

    /// Set [`store_timeout`](Self::store_timeout).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// Set [`max_bulk`](Self::max_bulk).
    pub fn max_bulk(mut self, bytes: usize) -> Self {
        self.max_bulk = bytes;
        self
    }

    /// Set [`max_array`](Self::max_array).
    pub fn max_array(mut self, elements: usize) -> Self {
        self.max_array = elements;
        self
    }

    /// Set [`allow_crash`](Self::allow_crash).
    pub fn allow_crash(mut self, on: bool) -> Self {
        self.allow_crash = on;
        self
    }

    /// Set [`service`](Self::service).
    pub fn service(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = name.into();
        self
    }
}

/// Counters shared by every connection of one server: cheap to clone, read at any time.
///
/// # Examples
///
/// ```
/// use components::resp::RespStats;
/// let stats = RespStats::default();
/// assert_eq!(stats.commands(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RespStats {
    inner: Arc<StatsInner>,
}

#[derive(Debug, Default)]
struct StatsInner {
    commands: AtomicU64,
    store_unavailable: AtomicU64,
    protocol_errors: AtomicU64,
}

impl RespStats {
    /// Commands received (each one answered, with a value or an error).
    pub fn commands(&self) -> u64 {
        self.inner.commands.load(Ordering::Relaxed)
    }

    /// Commands answered `ERR store unavailable` because the store had ended.
    pub fn store_unavailable(&self) -> u64 {
        self.inner.store_unavailable.load(Ordering::Relaxed)
    }

    /// Connections closed for a protocol error.
    pub fn protocol_errors(&self) -> u64 {
        self.inner.protocol_errors.load(Ordering::Relaxed)
    }
}

/// One Redis connection: deframes commands, answers PING, ECHO and QUIT itself, asks
/// the store for the rest, and writes the replies in order.
///
/// # What it does
///
/// Bytes from the socket go through a [`RespCodec`]. Each command is checked by
/// [`Command::parse`]; a malformed one is answered with its error and nothing runs.
/// The commands decoded from what has arrived (a pipeline: up to 1024 at a time) go to
/// the store as one [`StoreRequest`], and all their replies leave in one write.
///
/// - `QUIT` is answered `+OK`, then the connection closes; what followed it is ignored.
/// - A protocol error (malformed or oversized frame) is answered
///   `-ERR Protocol error: ...`, then the connection closes, as Redis does.
/// - If the store has ended (crashed, or was never there) or does not answer within
///   [`RespOptions::store_timeout`], each of its commands is answered
///   `-ERR store unavailable` and the connection keeps serving.
/// - `DEBUG CRASH` reaches the store only with [`RespOptions::allow_crash`]; otherwise
///   it is answered `-ERR DEBUG command not allowed on this server`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::{Runtime, testing::Harness};
/// use components::resp::{KeyValueStore, RespHandler, RespOptions, RespStats, STORE_SERVICE};
///
/// let rt = Runtime::new();
/// let store = rt.add(KeyValueStore::new())?;
/// rt.register_service(STORE_SERVICE, store.inbox())?;
/// let _store = store.start();
///
/// let handler = RespHandler::new(RespOptions::default(), RespStats::default());
/// let mut h = Harness::with_runtime(rt, handler);
/// h.send("SET k v\r\nGET k\r\n".into()).await;
/// assert_eq!(h.recv().await.as_deref(), Some(&b"+OK\r\n$1\r\nv\r\n"[..]));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// In `setup` it looks the store up by service name and links its `store` outbox to
/// it; if there is no store, the outbox stays unlinked and the store's commands are
/// answered `store unavailable`. Each batch is one [`ask`](axon::Outbox::ask), whose
/// reply path travels with the request, so the handler holds no store state.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | what the socket delivers |
/// | `control` | in | [`Control`](axon::Control) | `SocketShutdown`: the connection closed |
/// | `outbox` | out | `Bytes` | the replies |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` after QUIT or a protocol error: flush and close |
///
/// and the boxes of [`RespHandlerBoxes`].
#[derive(Debug, Clone)]
pub struct RespHandler {
    options: RespOptions,
    stats: RespStats,
    boxes: RespHandlerBoxes,
}

axon::boxes! {
    /// The boxes a [`RespHandler`] declares besides `inbox`, `control`, `outbox` and
    /// `signal`.
    pub struct RespHandlerBoxes {
        outbox store: StoreRequest => "commands for the key-value store (linked to its service)";
    }
}

/// What one command's reply will be: known already, or the store's.
enum Slot {
    Ready(Reply),
    Store,
}

impl RespHandler {
    /// A handler with `options`, counting into `stats`.
    pub fn new(options: RespOptions, stats: RespStats) -> Self {
        RespHandler {
            options,
            stats,
            boxes: RespHandlerBoxes::default(),
        }
    }

    /// Turn one decoded command into its slot; `Err` for QUIT (answer, then close).
    fn route(&self, args: Vec<Bytes>, batch: &mut Vec<Command>) -> Result<Slot, Reply> {
        Ok(match Command::parse(args) {
            Err(e) => Slot::Ready(Reply::error(e)),
            Ok(Command::Quit) => return Err(Reply::OK),
            Ok(Command::Ping(None)) => Slot::Ready(Reply::Status("PONG")),
            Ok(Command::Ping(Some(message)) | Command::Echo(message)) => {
                Slot::Ready(Reply::Bulk(message))
            }
            Ok(Command::DebugCrash) if !self.options.allow_crash => {
                Slot::Ready(Reply::error(CommandError::DebugNotAllowed))
            }
            Ok(command) => {
                batch.push(command);
                Slot::Store
            }
        })
    }

    /// Ask the store to run `commands`; `None` if it is not there, has ended, or did
    /// not answer in time.
    async fn ask(
        &self,
        store: &mut Outbox<StoreRequest>,
        commands: Vec<Command>,
    ) -> Option<Vec<Reply>> {
        match store.ask(commands, self.options.store_timeout).await {
            Ok(replies) => Some(replies),
            Err(e) => {
                tracing::debug!("kvstore: store unavailable: {e}");
                None
            }
        }
    }
}

impl Component for RespHandler {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        self.boxes = RespHandlerBoxes::declare(s)?;
        let out = s.own::<StoreRequest>("store")?;
        match s.runtime().service::<StoreRequest>(&self.options.service) {
            Ok(store) => {
                if let Err(e) = s.link(out, store) {
                    tracing::debug!("kvstore connection without a store: {e}");
                }
            }
            Err(e) => tracing::debug!("kvstore connection without a store: {e}"),
        }
        s.describe("inbox", "what the socket delivers")?;
        s.describe("outbox", "the replies")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut store = ctx.open_outbox(self.boxes.store)?;
        let mut codec = RespCodec::new(self.options.max_bulk, self.options.max_array);
        let mut buf = BytesMut::new();
        let mut out = BytesMut::new();
        while let Some(chunk) = ctx.recv().await {
            buf.extend_from_slice(&chunk);
            let mut close = false;
            while !close {
                let mut slots = Vec::new();
                let mut batch = Vec::new();
                while !close && slots.len() < MAX_BATCH {
                    match codec.decode(&mut buf) {
                        Ok(Some(args)) => {
                            self.stats.inner.commands.fetch_add(1, Ordering::Relaxed);
                            match self.route(args, &mut batch) {
                                Ok(slot) => slots.push(slot),
                                Err(last) => {
                                    slots.push(Slot::Ready(last));
                                    close = true;
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(FrameError::Protocol(e)) => {
                            self.stats
                                .inner
                                .protocol_errors
                                .fetch_add(1, Ordering::Relaxed);
                            slots.push(Slot::Ready(Reply::Error(format!("ERR {e}"))));
                            close = true;
                        }
                        Err(FrameError::Io(e)) => return Err(e.into()),
                    }
                }
                if slots.is_empty() {
                    break;
                }
                let asked = batch.len();
                let mut replies = if batch.is_empty() {
                    Vec::new()
                } else {
                    self.ask(&mut store, batch).await.unwrap_or_else(|| {
                        self.stats
                            .inner
                            .store_unavailable
                            .fetch_add(asked as u64, Ordering::Relaxed);
                        vec![Reply::error(CommandError::StoreUnavailable); asked]
                    })
                }
                .into_iter();
                for slot in slots {
                    match slot {
                        Slot::Ready(reply) => reply.write_to(&mut out),
                        Slot::Store => replies
                            .next()
                            .unwrap_or_else(|| Reply::error(CommandError::StoreUnavailable))
                            .write_to(&mut out),
                    }
                }
                if ctx.send(out.split().freeze()).await.is_err() {
                    return Ok(()); // the socket has gone
                }
            }
            if close {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The handler factory of a kvstore server: what [`kvstore_server`] passes to
/// [`ServerCore`].
pub type RespFactory = Box<dyn Fn(&ConnectionInfo) -> RespHandler + Send + Sync>;

/// A Redis-compatible server: a [`ServerCore`] making one [`RespHandler`] per
/// connection, counting into `stats`. Add a [`KeyValueStore`](super::KeyValueStore) to
/// the same runtime and register its `inbox` under `options.service`.
///
/// # Errors
///
/// The [`BindError`] if `config.listen` cannot be bound.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use chassis::tcp::ServerConfig;
/// use components::resp::{KeyValueStore, RespOptions, RespStats, STORE_SERVICE, kvstore_server};
///
/// let rt = axon::Runtime::new();
/// let store = rt.add(KeyValueStore::new())?;
/// rt.register_service(STORE_SERVICE, store.inbox())?;
/// let _store = store.start();
/// let server = kvstore_server(
///     ServerConfig::new("127.0.0.1:0".parse()?),
///     RespOptions::default(),
///     RespStats::default(),
/// )?;
/// let addr = server.local_addr();
/// let _server = rt.spawn(server)?;
///
/// let mut client = tokio::net::TcpStream::connect(addr).await?;
/// client.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
/// let mut pong = [0u8; 7];
/// client.read_exact(&mut pong).await?;
/// assert_eq!(&pong, b"+PONG\r\n");
/// # Ok(()) }
/// ```
pub fn kvstore_server(
    config: ServerConfig,
    options: RespOptions,
    stats: RespStats,
) -> Result<ServerCore<RespFactory>, BindError> {
    let factory: RespFactory = Box::new(move |_| RespHandler::new(options.clone(), stats.clone()));
    ServerCore::new(config, factory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axon::testing::Harness;
    use axon::{Runtime, component::from_fn};

    #[tokio::test(start_paused = true)]
    async fn a_store_that_never_answers_gets_store_unavailable_after_the_timeout() {
        let rt = Runtime::new();
        // Keeps every request and answers none.
        let silent = rt
            .add(from_fn(
                "silent store",
                |mut ctx: Context<StoreRequest, ()>| async move {
                    let mut held = Vec::new();
                    while let Some(request) = ctx.recv().await {
                        held.push(request);
                    }
                    Ok(())
                },
            ))
            .expect("store");
        rt.register_service(STORE_SERVICE, silent.inbox())
            .expect("service");
        let _silent = silent.start();
        let options = RespOptions::default().store_timeout(Duration::from_secs(2));
        let mut h = Harness::with_runtime(rt, RespHandler::new(options, RespStats::default()));
        h.send(Bytes::from_static(b"PING\r\nGET k\r\n")).await;
        let reply = h.recv().await;
        assert_eq!(
            reply.as_deref(),
            Some(&b"+PONG\r\n-ERR store unavailable\r\n"[..])
        );
    }

    #[tokio::test]
    async fn without_a_store_the_connection_still_serves() {
        let stats = RespStats::default();
        let mut h = Harness::new(RespHandler::new(RespOptions::default(), stats.clone()));
        h.send(Bytes::from_static(b"SET k v\r\nECHO hi\r\n")).await;
        let reply = h.recv().await;
        assert_eq!(
            reply.as_deref(),
            Some(&b"-ERR store unavailable\r\n$2\r\nhi\r\n"[..])
        );
        assert_eq!((stats.commands(), stats.store_unavailable()), (2, 1));
    }
}
