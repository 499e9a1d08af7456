//! The SmartGet datahub server: [`DatahubHandler`], one per connection, asking a
//! [`NodeRegistry`](super::NodeRegistry) found through the service registry, and
//! [`datahub_server`], the [`ServerCore`] that makes them.

use std::borrow::Cow;
use std::net::IpAddr;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::Bytes;
use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore};
use tokio::sync::oneshot;

use super::component::{DATAHUB_SERVICE, RegistryRequest};
use super::datahub::{MAX_REQUEST, Reply};
use super::error::HandlerError;

/// How a datahub server treats its connections.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `keep_open` | `false` | answer every request on a connection, instead of one request then close (the original) |
/// | `service` | [`DATAHUB_SERVICE`] | the service name of the [`NodeRegistry`](super::NodeRegistry) to ask |
///
/// # Examples
///
/// ```
/// use components::registry::DatahubOptions;
/// let options = DatahubOptions::default().keep_open(true);
/// assert!(options.keep_open);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatahubOptions {
    /// Answer several requests per connection (the original answered one, then closed).
    pub keep_open: bool,
    /// The registry's service name.
    pub service: Cow<'static, str>,
}

impl Default for DatahubOptions {
    fn default() -> Self {
        DatahubOptions {
            keep_open: false,
            service: Cow::Borrowed(DATAHUB_SERVICE),
        }
    }
}

impl DatahubOptions {
    /// Set [`keep_open`](Self::keep_open).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::DatahubOptions;
    /// assert!(!DatahubOptions::default().keep_open);
    /// assert!(DatahubOptions::default().keep_open(true).keep_open);
    /// ```
    pub fn keep_open(mut self, on: bool) -> Self {
        self.keep_open = on;
        self
    }

    /// Set [`service`](Self::service).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{DATAHUB_SERVICE, DatahubOptions};
    /// assert_eq!(DatahubOptions::default().service, DATAHUB_SERVICE);
    /// let options = DatahubOptions::default().service("hub-b registry");
    /// assert_eq!(options.service, "hub-b registry");
    /// ```
    pub fn service(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = name.into();
        self
    }
}

/// One datahub connection: splits what arrives into requests, asks the registry, and
/// writes the exact replies.
///
/// # What it does
///
/// Every `\n`-terminated line is one request, and so is whatever a chunk holds after
/// its last `\n` (the original client sends its request with no line end and waits for
/// the answer; the original server read once and answered what arrived). A request
/// longer than [`MAX_REQUEST`] bytes is answered `400 BAD REQUEST\r\n` without asking
/// the registry; so is anything malformed (the registry parses it), and nothing changes.
/// After the first reply the handler ends, so the connection is flushed and closed, as
/// the original did, unless [`DatahubOptions::keep_open`] is set.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::{Runtime, testing::Harness};
/// use components::registry::{DATAHUB_SERVICE, DatahubHandler, DatahubOptions, NodeRegistry, Ownership};
///
/// let rt = Runtime::new();
/// let registry = rt.add(NodeRegistry::new(Ownership::Strict))?;
/// rt.register_service(DATAHUB_SERVICE, registry.inbox())?;
/// let _registry = registry.start();
///
/// let handler = DatahubHandler::new("10.0.0.2".parse()?, DatahubOptions::default());
/// let mut h = Harness::with_runtime(rt, handler);
/// h.send("`register 1234".into()).await;
/// assert_eq!(h.recv().await.as_deref(), Some(&b"200 OK\r\n1"[..]));
/// assert!(h.exit().await.is_clean()); // one request per connection
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// In `setup` it looks the registry up by service name and links its `registry`
/// outbox to it (no registry: setup fails and the connection is refused). Each request
/// travels as [`RegistryRequest::Datahub`] with a [`oneshot`] sender for the reply, so
/// the handler holds no registry state.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | what the socket delivers |
/// | `control` | in | [`Control`](axon::Control) | `SocketShutdown`: the connection closed |
/// | `outbox` | out | `Bytes` | the replies, byte for byte |
/// | `registry` | out | [`RegistryRequest`] | requests to the [`NodeRegistry`](super::NodeRegistry) |
/// | `signal` | out | [`Control`](axon::Control) | `ProducerFinished` after the reply: flush and close |
#[derive(Debug, Clone)]
pub struct DatahubHandler {
    peer: IpAddr,
    options: DatahubOptions,
}

impl DatahubHandler {
    /// A handler for a connection from `peer`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::{DatahubHandler, DatahubOptions};
    /// let handler = DatahubHandler::new("10.0.0.2".parse().unwrap(), DatahubOptions::default());
    /// # let _ = handler;
    /// ```
    pub fn new(peer: IpAddr, options: DatahubOptions) -> Self {
        DatahubHandler { peer, options }
    }

    async fn ask(
        &self,
        registry: &mut Outbox<RegistryRequest>,
        request: &Bytes,
    ) -> Result<Bytes, HandlerError> {
        if request.len() > MAX_REQUEST {
            return Ok(Bytes::from(Reply::BadRequest.to_bytes()));
        }
        let gone = || HandlerError::RegistryGone {
            service: self.options.service.to_string(),
        };
        let (reply, answer) = oneshot::channel();
        let ask = RegistryRequest::Datahub {
            request: request.clone(),
            peer: self.peer,
            reply,
        };
        registry.send(ask).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())
    }
}

/// The requests in one chunk: each `\n`-terminated line, then what follows the last
/// `\n` if anything does.
fn requests(chunk: &Bytes) -> impl Iterator<Item = Bytes> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= chunk.len() {
            return None;
        }
        let end = chunk[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(chunk.len(), |i| at + i + 1);
        let piece = chunk.slice(at..end);
        at = end;
        Some(piece)
    })
}

impl Component for DatahubHandler {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let registry = s
            .runtime()
            .service::<RegistryRequest>(&self.options.service)?;
        let out = s.outbox::<RegistryRequest>("registry", "requests to the node registry")?;
        s.link(out, registry)?;
        s.describe("inbox", "what the socket delivers")?;
        s.describe("outbox", "replies, byte for byte")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut registry = ctx.outbox_named::<RegistryRequest>("registry")?;
        while let Some(chunk) = ctx.recv().await {
            for request in requests(&chunk) {
                let reply = self.ask(&mut registry, &request).await?;
                if ctx.send(reply).await.is_err() {
                    return Ok(()); // the socket has gone
                }
                if !self.options.keep_open {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The handler factory of a datahub server: what [`datahub_server`] passes to
/// [`ServerCore`].
///
/// # Examples
///
/// ```
/// use components::registry::{DatahubFactory, DatahubHandler, DatahubOptions};
/// // What `datahub_server` builds: one handler per connection, for the peer's IP.
/// let factory: DatahubFactory =
///     Box::new(|info| DatahubHandler::new(info.peer.ip(), DatahubOptions::default()));
/// let info = chassis::tcp::ConnectionInfo {
///     id: 1,
///     peer: "10.0.0.2:50000".parse().unwrap(),
///     local: "10.0.0.1:20110".parse().unwrap(),
/// };
/// let handler = factory(&info);
/// # let _ = handler;
/// ```
pub type DatahubFactory = Box<dyn Fn(&ConnectionInfo) -> DatahubHandler + Send + Sync>;

/// A SmartGet datahub server: a [`ServerCore`] making one [`DatahubHandler`] per
/// connection. Add a [`NodeRegistry`](super::NodeRegistry) to the same runtime and
/// register its `inbox` under `options.service` before the first connection.
///
/// # Errors
///
/// The [`BindError`] if `config.listen` cannot be bound.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use chassis::tcp::ServerConfig;
/// use components::registry::{
///     DATAHUB_SERVICE, DatahubOptions, NodeRegistry, Ownership, datahub_server,
/// };
///
/// let rt = axon::Runtime::new();
/// let registry = rt.add(NodeRegistry::new(Ownership::Strict))?;
/// rt.register_service(DATAHUB_SERVICE, registry.inbox())?;
/// let _registry = registry.start();
/// let server = datahub_server(
///     ServerConfig::new("127.0.0.1:20110".parse()?),
///     DatahubOptions::default(),
/// )?;
/// println!("listening on {}", server.local_addr());
/// let _server = rt.spawn(server)?;
/// # Ok(()) }
/// ```
pub fn datahub_server(
    config: ServerConfig,
    options: DatahubOptions,
) -> Result<ServerCore<DatahubFactory>, BindError> {
    let factory: DatahubFactory =
        Box::new(move |info| DatahubHandler::new(info.peer.ip(), options.clone()));
    ServerCore::new(config, factory)
}
