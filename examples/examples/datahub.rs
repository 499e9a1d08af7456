//! The SmartGet datahub: a [`NodeRegistry`] and a [`datahub_server`] in one graph.
//!
//! ```text
//! cargo run --release --example datahub -- --listen 127.0.0.1:20110
//! ```
//!
//! Logs `listening on ADDR:PORT` once bound, and every registry change at `debug`
//! (`RUST_LOG=debug`). SIGINT or SIGTERM shut the server down through its `Shutdown`
//! path (stop accepting, drain, close), then the registry, and print a summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;

use anyhow::Context as _;
use axon::{Component, Context, Runtime, component::from_fn};
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::registry::{
    DATAHUB_SERVICE, DatahubOptions, NodeRegistry, Ownership, RegistryChange, datahub,
    datahub_server,
};

/// The SmartGet datahub: nodes register, report how many connections they accept,
/// and clients ask for free nodes.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], datahub::DEFAULT_PORT)))]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// Answer several requests per connection (the original answered one, then closed).
    /// Each request must then end with a line end (`\n` or `\r\n`; one left without
    /// is answered when the client closes its side), and every reply ends with `\r\n`,
    /// `register`'s `200 OK\r\n<id>` too, so pipelined replies stay apart.
    #[arg(long)]
    keep_open: bool,
    /// Let any address `setstatus` any node, as the original did (by default only the
    /// address that registered a node may change it).
    #[arg(long)]
    open_ownership: bool,
    /// Seed for the random choice of `requestnodes` (default: from the OS).
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging(examples::SERVER_LOG_FILTER);
    let args = Args::parse();
    let ownership = if args.open_ownership {
        Ownership::Open
    } else {
        Ownership::Strict
    };
    let mut registry = NodeRegistry::new(ownership);
    if let Some(seed) = args.seed {
        registry = registry.seed(seed);
    }

    let rt = Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let registry = rt.add(registry)?;
    rt.register_service(DATAHUB_SERVICE, registry.inbox())?;
    let log = rt.add(change_log())?;
    rt.link(registry.outbox(), log.inbox())?;
    rt.link(registry.signal(), log.control())?;
    let options = DatahubOptions::default().keep_open(args.keep_open);
    let server = datahub_server(ServerConfig::new(args.listen), options).context("datahub")?;
    let stats = server.stats();
    let stop = examples::StopSignal::install()?;
    tracing::info!("datahub: listening on {}", server.local_addr());
    let (log, registry) = (log.start(), registry.start());
    let server = rt.spawn(server)?;

    stop.recv().await?;
    tracing::info!("datahub: shutting down");
    // An error here means the component has already ended; join says why.
    let _ = server.shutdown().await;
    let exit = server.join().await;
    let _ = registry.shutdown().await;
    let registry_exit = registry.join().await;
    let log_exit = log.join().await;
    match stats.report() {
        Some(report) => println!("{report}"),
        None => println!("datahub: {} connections accepted", stats.accepted()),
    }
    anyhow::ensure!(exit.is_clean(), "datahub server ended: {exit}");
    anyhow::ensure!(registry_exit.is_clean(), "registry ended: {registry_exit}");
    anyhow::ensure!(log_exit.is_clean(), "change log ended: {log_exit}");
    Ok(())
}

/// Logs every registry change, and counts them.
fn change_log() -> impl Component<In = RegistryChange, Out = ()> {
    from_fn(
        "change log",
        |mut ctx: Context<RegistryChange, ()>| async move {
            let mut n = 0u64;
            while let Some(change) = ctx.recv().await {
                n += 1;
                tracing::debug!(?change, "registry");
            }
            println!("datahub: {n} registry changes");
            Ok(())
        },
    )
}
