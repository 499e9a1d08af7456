//! Echo server: `ServerCore` plus the seed's `EchoProtocol` ([`chassis::tcp::Echo`]).
//!
//! ```text
//! cargo run --release --example echo -- --listen 127.0.0.1:0 --dashboard 127.0.0.1:8080
//! ```
//!
//! Logs `listening on ADDR:PORT` once bound; SIGINT or SIGTERM shut it down through
//! the server's `Shutdown` path (stop accepting, drain, close) and print a summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use chassis::tcp::{Echo, ServerConfig, ServerCore, ServerStats};
use clap::Parser;

/// An echo server: every byte a client sends comes back.
#[derive(Debug, Parser)]
#[command(version)]
pub(crate) struct EchoArgs {
    /// Address to listen on; port 0 picks a free port (echo's usual port is 7).
    #[arg(long, default_value = "127.0.0.1:7")]
    pub(crate) listen: SocketAddr,
    /// Most connections open at once; new sockets beyond it are closed.
    #[arg(long, default_value_t = ServerConfig::DEFAULT_MAX_CONNECTIONS)]
    pub(crate) max_connections: usize,
    /// Close a connection silent for this many seconds (0: never).
    #[arg(long, default_value_t = ServerConfig::DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub(crate) idle_timeout: u64,
    /// Listen backlog.
    #[arg(long, default_value_t = ServerConfig::DEFAULT_BACKLOG)]
    pub(crate) backlog: u32,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    pub(crate) dashboard: Option<SocketAddr>,
}

/// The echo server as this example builds it.
///
/// # Errors
///
/// The bind error, with the address and the OS reason.
pub(crate) fn echo_server(
    args: &EchoArgs,
) -> anyhow::Result<
    ServerCore<impl Fn(&chassis::tcp::ConnectionInfo) -> Echo + Send + Sync + 'static + use<>>,
> {
    let idle = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    let config = ServerConfig::new(args.listen)
        .max_connections(args.max_connections)
        .idle_timeout(idle)
        .backlog(args.backlog);
    ServerCore::new(config, |_| Echo).context("echo server")
}

/// Run the server (with its dashboard on `dashboard`, if given) until a stop signal,
/// then shut it down and return its counters.
pub(crate) async fn serve(
    server: ServerCore<impl Fn(&chassis::tcp::ConnectionInfo) -> Echo + Send + Sync + 'static>,
    dashboard: Option<SocketAddr>,
    until: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<(axon::Exit, ServerStats)> {
    let rt = axon::Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, dashboard).await?;
    let stats = server.stats();
    tracing::info!("echo: listening on {}", server.local_addr());
    let handle = rt.spawn(server)?;
    until.await?;
    tracing::info!("echo: shutting down");
    // An error here means the server has already ended; join says why.
    let _ = handle.shutdown().await;
    Ok((handle.join().await, stats))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging(examples::SERVER_LOG_FILTER);
    let args = EchoArgs::parse();
    let server = echo_server(&args)?;
    let stop = examples::StopSignal::install()?;
    let (exit, stats) = serve(server, args.dashboard, stop.recv()).await?;
    match stats.report() {
        Some(report) => println!("{report}"),
        None => println!(
            "echo: {} accepted, {} rejected, {} handler failures",
            stats.accepted(),
            stats.rejected(),
            stats.handler_failures()
        ),
    }
    anyhow::ensure!(exit.is_clean(), "echo server ended: {exit}");
    Ok(())
}
