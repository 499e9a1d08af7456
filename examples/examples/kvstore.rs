//! kvstore: a Redis-compatible (RESP2) key-value server built from components — a
//! [`ServerCore`](chassis::tcp::ServerCore) making one
//! [`RespHandler`](components::resp::RespHandler) per connection, and one
//! [`KeyValueStore`] every handler reaches as a service.
//!
//! ```text
//! cargo run --release --example kvstore -- --listen 127.0.0.1:6379
//! redis-cli -p 6379 set greeting hello
//! ```
//!
//! Commands: PING, ECHO, SET (EX/PX/NX/XX), GET, DEL, EXISTS, INCR, DECR, MGET, MSET,
//! EXPIRE (NX/XX/GT/LT), TTL, KEYS, DBSIZE, FLUSHDB, QUIT; errors worded as Redis
//! words them. Data lives in memory only, up to `--max-memory` bytes of keys and
//! values; beyond that writes are refused with Redis's `-OOM` error.
//!
//! Logs `listening on ADDR:PORT` once bound; SIGINT or SIGTERM shut the server down
//! (stop accepting, drain, close), then the store, and print a summary.
//!
//! The store runs under a supervisor ([`supervised_store`]). With `--allow-crash`,
//! `DEBUG CRASH` panics the store: the supervisor starts a new, empty one at once
//! (the data is lost — it lives in memory only), every connection stays linked to it,
//! and the server keeps serving. The summary counts the restarts.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axon::Runtime;
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::resp::{RespCodec, RespOptions, RespStats, kvstore_server, supervised_store};

/// A Redis-compatible key-value server (RESP2, strings only, in memory).
///
/// The store is supervised: with --allow-crash, `DEBUG CRASH` panics it and a new,
/// empty store takes its place at once (the data is lost; the server keeps serving).
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:6379")]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// Largest bulk string a client may send, in bytes (Redis allows 512 MiB).
    #[arg(long, default_value_t = RespCodec::DEFAULT_MAX_BULK)]
    max_bulk: usize,
    /// Most arguments in one command.
    #[arg(long, default_value_t = RespCodec::DEFAULT_MAX_ARRAY)]
    max_array: usize,
    /// Most connections open at once; new sockets beyond it are closed.
    #[arg(long, default_value_t = ServerConfig::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Close a connection silent for this many seconds (0: never, as Redis).
    #[arg(long, default_value_t = 0)]
    idle_timeout: u64,
    /// Refuse writes (`-OOM ...`, as Redis's noeviction) once keys and values take more
    /// than this many bytes (not counting overhead).
    #[arg(long, default_value_t = 1 << 30)]
    max_memory: usize,
    /// Let `DEBUG CRASH` panic the store (to test what clients see when it fails).
    #[arg(long)]
    allow_crash: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
    let rt = Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let mut events = rt.subscribe();
    let restarts = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            match events.recv().await {
                Ok(axon::GraphEvent::Restarted { .. }) => n += 1,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return n,
            }
        }
    });
    let store = rt.add(supervised_store(args.max_memory))?;
    let idle = (args.idle_timeout > 0).then(|| Duration::from_secs(args.idle_timeout));
    let config = ServerConfig::new(args.listen)
        .max_connections(args.max_connections)
        .idle_timeout(idle);
    let options = RespOptions::default()
        .max_bulk(args.max_bulk)
        .max_array(args.max_array)
        .allow_crash(args.allow_crash);
    let stats = RespStats::default();
    let server = kvstore_server(config, options, stats.clone()).context("kvstore server")?;
    let server_stats = server.stats();
    tracing::info!("kvstore: listening on {}", server.local_addr());
    let store = store.start();
    let server = rt.spawn(server)?;

    examples::stop_signal().await?;
    tracing::info!("kvstore: shutting down");
    let _ = server.shutdown().await;
    let exit = server.join().await;
    // An error here means the store has already ended (it crashed); join says how.
    let _ = store.shutdown().await;
    let store_exit = store.join().await;
    drop(rt);
    let restarts = restarts.await.unwrap_or(0);
    println!(
        "kvstore: {} connections, {} commands, {} answered 'store unavailable', {} protocol errors, {restarts} store restarts; store {}",
        server_stats.accepted(),
        stats.commands(),
        stats.store_unavailable(),
        stats.protocol_errors(),
        if store_exit.is_clean() {
            "stopped cleanly".to_owned()
        } else {
            format!("ended: {store_exit}")
        },
    );
    anyhow::ensure!(exit.is_clean(), "kvstore server ended: {exit}");
    Ok(())
}
