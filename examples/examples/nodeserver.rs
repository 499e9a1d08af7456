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
use components::registry::lumina::{self, ServerIdentity};
use components::registry::{
    LUMINA_SERVICE, NodeEvent, NodeRegistry, NodeServerOptions, Ownership, RegistryChange,
    node_server,
};

/// The Lumina node server: nodes register, report their state, fire events and call
/// each other's commands through it.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], lumina::DEFAULT_PORT)))]
    listen: SocketAddr,
    /// The host id this server answers `serverid` with (default: the host name).
    #[arg(long)]
    host_id: Option<String>,
    /// Seconds between the keepalives (bare newlines) sent to each node.
    #[arg(long, default_value_t = 60)]
    keepalive: u64,
    /// Seconds of silence after which a node is dropped.
    #[arg(long, default_value_t = 180)]
    silence_limit: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
    anyhow::ensure!(
        args.keepalive > 0 && args.silence_limit > 0,
        "--keepalive and --silence-limit must be more than 0"
    );
    let hostname = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    let identity = ServerIdentity {
        host_id: args.host_id.clone().unwrap_or_else(|| hostname.clone()),
        hostname,
    };

    let rt = Runtime::new();
    let registry = rt.add(NodeRegistry::new(Ownership::Strict).identity(identity))?;
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
        .keepalive(Duration::from_secs(args.keepalive))
        .silence_limit(Duration::from_secs(args.silence_limit));
    let server = node_server(ServerConfig::new(args.listen), options).context("node server")?;
    let stats = server.stats();
    tracing::info!("nodeserver: listening on {}", server.local_addr());
    let (events, log, registry) = (events.start(), log.start(), registry.start());
    let server = rt.spawn(server)?;

    examples::stop_signal().await?;
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
