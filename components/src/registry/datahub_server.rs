//! The SmartGet datahub server: [`DatahubHandler`], one per connection, asking a
//! [`NodeRegistry`](super::NodeRegistry) found through the service registry, and
//! [`datahub_server`], the [`ServerCore`] that makes them.

use std::borrow::Cow;
use std::net::IpAddr;

use axon::{BoxError, Component, Context, LinkError, Outbox, Setup};
use bytes::{Bytes, BytesMut};
use chassis::tcp::{BindError, ConnectionInfo, ServerConfig, ServerCore};

use super::component::{
    DATAHUB_SERVICE, REGISTRY_TIMEOUT, RegistryAsk, RegistryReply, RegistryRequest,
};
use super::datahub::{MAX_REQUEST, Reply};
use super::error::HandlerError;

/// How a datahub server treats its connections.
///
/// | field | default | meaning |
/// | --- | --- | --- |
/// | `keep_open` | `false` | answer every request on a connection, instead of one request then close (the original); requests then end with a line end and every reply ends with `\r\n` |
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
/// Blank lines (`\n`, `\r\n`) before a request are skipped, as the original skipped
/// them.
///
/// - By default (the original's way) the first line that is not blank is the request,
///   with or without its line end (the original client sends none and waits for the
///   answer; the original server read once and answered what arrived). After the reply
///   the handler ends, so the connection is flushed and closed.
/// - With [`DatahubOptions::keep_open`], every line is one request, however the bytes
///   were cut into TCP segments: a request is complete at its `\n` (what is left
///   without one when the client closes its side is answered too). Every reply then
///   ends with `\r\n`, also `register`'s `200 OK\r\n<id>`, so pipelined replies stay
///   apart.
///
/// A request longer than [`MAX_REQUEST`] bytes is answered `400 BAD REQUEST\r\n`
/// without asking the registry (with `keep_open`, the connection then closes: it cannot
/// be told where the next request starts); so is anything malformed (the registry
/// parses it), and nothing changes.
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
/// is asked ([`Outbox::ask`]) as a [`RegistryRequest::Datahub`], at most
/// [`REGISTRY_TIMEOUT`](super::REGISTRY_TIMEOUT), so the handler holds no registry
/// state and the snapshot counts its requests and replies on `registry`.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | what the socket delivers |
/// | `control` | in | [`Control`](axon::Control) | `SocketShutdown`: the connection closed |
/// | `outbox` | out | `Bytes` | the replies, byte for byte |
/// | `registry` | out | [`RegistryAsk`] | requests to the [`NodeRegistry`](super::NodeRegistry), answered on their way back |
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
        registry: &mut Outbox<RegistryAsk>,
        request: &Bytes,
    ) -> Result<Bytes, HandlerError> {
        if request.len() > MAX_REQUEST {
            return Ok(Bytes::from(Reply::BadRequest.to_bytes()));
        }
        let ask = RegistryRequest::Datahub {
            request: request.clone(),
            peer: self.peer,
        };
        match registry.ask(ask, REGISTRY_TIMEOUT).await {
            Ok(RegistryReply::Datahub(bytes)) => Ok(bytes),
            // The registry answers a datahub request with its bytes; anything else
            // would be a defect, answered as the registry answers what it cannot parse.
            Ok(other) => {
                tracing::error!(
                    ?other,
                    "the registry answered a datahub request out of kind"
                );
                Ok(Bytes::from(Reply::BadRequest.to_bytes()))
            }
            Err(error) => Err(HandlerError::asking(error, &self.options.service)),
        }
    }
}

/// The first line of `chunk` that is not blank, with its line end, if any.
fn first_request(chunk: &Bytes) -> Option<Bytes> {
    let mut at = 0;
    while at < chunk.len() {
        let end = chunk[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(chunk.len(), |i| at + i + 1);
        if !is_blank(&chunk[at..end]) {
            return Some(chunk.slice(at..end));
        }
        at = end;
    }
    None
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// In keep-open mode every reply ends with `\r\n`.
fn line_ended(reply: Bytes) -> Bytes {
    if reply.ends_with(b"\r\n") {
        return reply;
    }
    let mut ended = BytesMut::with_capacity(reply.len() + 2);
    ended.extend_from_slice(&reply);
    ended.extend_from_slice(b"\r\n");
    ended.freeze()
}

impl Component for DatahubHandler {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let registry = s.runtime().service::<RegistryAsk>(&self.options.service)?;
        let out = s.outbox::<RegistryAsk>("registry", "requests to the node registry")?;
        s.link(out, registry)?;
        s.describe("inbox", "what the socket delivers")?;
        s.describe("outbox", "replies, byte for byte")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut registry = ctx.outbox_named::<RegistryAsk>("registry")?;
        if !self.options.keep_open {
            while let Some(chunk) = ctx.recv().await {
                let Some(request) = first_request(&chunk) else {
                    continue;
                };
                let reply = self.ask(&mut registry, &request).await?;
                // The socket may have gone; either way this connection is done.
                let _ = ctx.send(reply).await;
                return Ok(());
            }
            return Ok(());
        }
        let mut pending = BytesMut::new();
        loop {
            let chunk = ctx.recv().await;
            let ended = chunk.is_none();
            if let Some(chunk) = chunk {
                pending.extend_from_slice(&chunk);
            }
            loop {
                let request = match pending.iter().position(|&b| b == b'\n') {
                    Some(at) => pending.split_to(at + 1).freeze(),
                    None if ended && !pending.is_empty() => pending.split().freeze(),
                    None => break,
                };
                if is_blank(&request) {
                    continue;
                }
                let reply = line_ended(self.ask(&mut registry, &request).await?);
                if ctx.send(reply).await.is_err() {
                    return Ok(()); // the socket has gone
                }
            }
            if pending.len() > MAX_REQUEST {
                tracing::info!(peer = %self.peer, "request longer than {MAX_REQUEST} bytes; closing");
                let _ = ctx.send(Bytes::from(Reply::BadRequest.to_bytes())).await;
                return Ok(());
            }
            if ended {
                return Ok(());
            }
        }
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
