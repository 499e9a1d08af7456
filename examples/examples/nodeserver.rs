//! The Lumina node server: a [`NodeRegistry`], a [`node_server`] and an event handler
//! component in one graph.
//!
//! ```text
//! cargo run --release --example nodeserver -- --listen 127.0.0.1:5326
//! ```
//!
//! Logs `listening on ADDR:PORT` once bound, every declared event a node fires (the
//! event handler here only logs; plug your own component into the registry's `events`
//! outbox), and registry changes at `debug`. SIGINT or SIGTERM shut the server down
//! through its `Shutdown` path, then the registry, and print a summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axon::{Component, Context, Runtime, component::from_fn};
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::registry::lumina::{self, DispatcherConfig, RegistrationLimits, ServerIdentity};
use components::registry::{
    LUMINA_SERVICE, NodeEvent, NodeRegistry, NodeServerOptions, NodeTable, Ownership,
    RegistryChange, node_server,
};

/// The Lumina node server: nodes register, report their state, fire events and call
/// each other's commands through it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], lumina::DEFAULT_PORT)))]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// The host id this server answers `serverid` with (default: the host name).
    #[arg(long)]
    host_id: Option<String>,
    /// Seconds between keepalives (bare newlines) sent to each node; 0: never, as the
    /// original server (a node restarts its own keepalive timer on every line it
    /// receives, so server keepalives silence the node's own).
    #[arg(long, default_value_t = 0)]
    keepalive: u64,
    /// Seconds of silence (counted from what the node sent) after which a node is dropped.
    #[arg(long, default_value_t = 180)]
    silence_limit: u64,
    /// Seconds a disconnected node is kept (its name reserved for the IP that held it)
    /// before it is forgotten.
    #[arg(long, default_value_t = lumina::RETENTION.as_secs())]
    retention: u64,
    /// Let a disconnected node's name be taken from any IP during the retention time.
    #[arg(long)]
    open_names: bool,
    /// Most nodes the registry holds.
    #[arg(long, default_value_t = NodeTable::DEFAULT_MAX_NODES)]
    max_nodes: usize,
    /// Most bytes in a node, event or command name.
    #[arg(long, default_value_t = RegistrationLimits::default().max_name)]
    max_name: usize,
    /// Most bytes in a node's nodeid, hostname, hostid or module.
    #[arg(long, default_value_t = RegistrationLimits::default().max_field)]
    max_field: usize,
    /// Most events, and most commands, one node may declare.
    #[arg(long, default_value_t = RegistrationLimits::default().max_declared)]
    max_declared: usize,
    /// Most forwarded commands one connection may await replies to at once.
    #[arg(long, default_value_t = lumina::MAX_PENDING)]
    max_pending: usize,
    /// Longest line written to a node, in bytes (Twisted's LineReceiver closes the
    /// connection on a longer one).
    #[arg(long, default_value_t = lumina::MAX_LINE_TO_NODE)]
    max_line_to_node: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging(examples::SERVER_LOG_FILTER);
    let args = Args::parse();
    anyhow::ensure!(
        args.silence_limit > 0 && args.max_pending > 0,
        "--silence-limit and --max-pending must be more than 0"
    );
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    let identity = ServerIdentity {
        host_id: args.host_id.clone().unwrap_or_else(|| hostname.clone()),
        hostname,
    };

    let rt = Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let ownership = if args.open_names {
        Ownership::Open
    } else {
        Ownership::Strict
    };
    let config = DispatcherConfig {
        retention: Duration::from_secs(args.retention),
        limits: RegistrationLimits {
            max_name: args.max_name,
            max_field: args.max_field,
            max_declared: args.max_declared,
        },
        max_pending: args.max_pending,
        max_line_to_node: args.max_line_to_node,
        ..DispatcherConfig::default()
    };
    let registry = NodeRegistry::new(ownership)
        .identity(identity)
        .timing(config)
        .max_nodes(args.max_nodes);
    let registry = rt.add(registry)?;
    rt.register_service(LUMINA_SERVICE, registry.inbox())?;
    let events = rt.add(event_handler())?;
    rt.link(
        rt.box_ref::<NodeEvent>(registry.id(), "events")?,
        events.inbox(),
    )?;
    let log = rt.add(change_log())?;
    rt.link(registry.outbox(), log.inbox())?;
    rt.link(registry.signal(), log.control())?;
    let options = NodeServerOptions::default()
        .keepalive(Some(Duration::from_secs(args.keepalive)))
        .silence_limit(Duration::from_secs(args.silence_limit))
        .replies_room(args.max_pending);
    let server = node_server(ServerConfig::new(args.listen), options).context("node server")?;
    let stats = server.stats();
    let stop = examples::StopSignal::install()?;
    tracing::info!("nodeserver: listening on {}", server.local_addr());
    let (events, log, registry) = (events.start(), log.start(), registry.start());
    let server = rt.spawn(server)?;

    stop.recv().await?;
    tracing::info!("nodeserver: shutting down");
    let _ = server.shutdown().await;
    let exit = server.join().await;
    let _ = registry.shutdown().await;
    let registry_exit = registry.join().await;
    let _ = events.shutdown().await;
    let (events, log) = (events.join().await, log.join().await);
    match stats.report() {
        Some(report) => println!("{report}"),
        None => println!("nodeserver: {} connections accepted", stats.accepted()),
    }
    anyhow::ensure!(exit.is_clean(), "node server ended: {exit}");
    anyhow::ensure!(registry_exit.is_clean(), "registry ended: {registry_exit}");
    anyhow::ensure!(
        events.is_clean() && log.is_clean(),
        "event handler or log failed"
    );
    Ok(())
}

/// The server's event handler: logs each declared event a node fires.
fn event_handler() -> impl Component<In = NodeEvent, Out = ()> {
    from_fn(
        "event handler",
        |mut ctx: Context<NodeEvent, ()>| async move {
            let mut n = 0u64;
            while let Some(event) = ctx.recv().await {
                n += 1;
                tracing::info!(conn = %event.from, "event {}", event.message);
            }
            println!("nodeserver: {n} events");
            Ok(())
        },
    )
}

/// Logs every registry change.
fn change_log() -> impl Component<In = RegistryChange, Out = ()> {
    from_fn(
        "change log",
        |mut ctx: Context<RegistryChange, ()>| async move {
            let mut n = 0u64;
            while let Some(change) = ctx.recv().await {
                n += 1;
                tracing::info!(?change, "registry");
            }
            println!("nodeserver: {n} registry changes");
            Ok(())
        },
    )
}
