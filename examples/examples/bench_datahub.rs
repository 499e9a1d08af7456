//! Benchmark: the datahub (`register`, `requestnodes`) against bare connection churn
//! (connect, one echo, close) on the ServerCore echo server, in one run, with the same
//! number of concurrent clients.
//!
//! ```text
//! cargo run --release --example bench_datahub
//! ```
//!
//! Both servers run in this process on a runtime of their own (two worker threads);
//! the clients run on another. Each client works from its own loopback source address
//! (127.0.x.y), so every registration is a new (IP, port) identity and no source runs
//! out of ephemeral ports. The datahub answers one request per connection, as the
//! original, so every datahub request is also a connection: the figure that matters is
//! the cost of a datahub request over a bare churn, as a ratio. Measurements are
//! interleaved (churn, register, requestnodes, churn, …) and the median of the rounds
//! is reported. Bounded: rounds × 3 × duration, about 10 s with the defaults.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program that prints its figures"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axon::Runtime;
use chassis::tcp::{Echo, ServerConfig, ServerCore};
use clap::Parser;
use components::registry::{
    DATAHUB_SERVICE, DatahubOptions, NodeRegistry, Ownership, datahub_server,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// Datahub requests per second against bare connection churn.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rounds per measurement.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per round.
    #[arg(long, default_value_t = 1.0)]
    duration: f64,
    /// Nodes `requestnodes` asks for.
    #[arg(long, default_value_t = 5)]
    count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    Churn,
    Register,
    RequestNodes,
}

impl Work {
    fn label(self) -> &'static str {
        match self {
            Work::Churn => "bare churn (connect, echo, close)",
            Work::Register => "datahub `register",
            Work::RequestNodes => "datahub `requestnodes",
        }
    }
}

/// The loopback source address of client `n`.
fn source(n: usize) -> Ipv4Addr {
    let n = u32::try_from(n).unwrap_or(0);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 1, 1)) + n)
}

async fn exchange(
    server: SocketAddr,
    from: Ipv4Addr,
    request: &[u8],
    echo: bool,
) -> std::io::Result<usize> {
    let socket = TcpSocket::new_v4()?;
    socket.set_nodelay(true)?;
    socket.bind(SocketAddr::from((from, 0)))?;
    let mut stream = socket.connect(server).await?;
    stream.write_all(request).await?;
    if echo {
        let mut back = vec![0u8; request.len()];
        stream.read_exact(&mut back).await?;
        Ok(back.len())
    } else {
        let mut reply = Vec::with_capacity(128);
        stream.read_to_end(&mut reply).await?;
        Ok(reply.len())
    }
}

/// Runs `clients` workers doing `work` for `duration`; returns completed requests per
/// second and the number of failures.
async fn round(
    work: Work,
    echo: SocketAddr,
    hub: SocketAddr,
    clients: usize,
    duration: Duration,
    count: u32,
    next_port: &Arc<Vec<AtomicU64>>,
) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|n| {
            let (stop, done, failed, ports) = (
                stop.clone(),
                done.clone(),
                failed.clone(),
                next_port.clone(),
            );
            tokio::spawn(async move {
                let from = source(n);
                while !stop.load(Ordering::Relaxed) {
                    let result = match work {
                        Work::Churn => exchange(echo, from, b"0123456789abcdef", true).await,
                        Work::Register => {
                            let port = ports[n].fetch_add(1, Ordering::Relaxed);
                            if port > u64::from(u16::MAX) {
                                break; // this source address has used every port
                            }
                            exchange(hub, from, format!("`register {port}").as_bytes(), false).await
                        }
                        Work::RequestNodes => {
                            exchange(
                                hub,
                                from,
                                format!("`requestnodes {count}").as_bytes(),
                                false,
                            )
                            .await
                        }
                    };
                    match result {
                        Ok(n) if n > 0 => done.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    #[allow(
        clippy::cast_precision_loss,
        reason = "request counts are far below 2^52"
    )]
    let rate = done.load(Ordering::Relaxed) as f64 / elapsed;
    (rate, failed.load(Ordering::Relaxed))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    anyhow::ensure!(
        args.clients > 0 && args.clients < 60_000,
        "--clients must be 1 to 59999"
    );
    let duration = Duration::from_secs_f64(args.duration.max(0.1));

    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (echo, hub, _rt) = servers.block_on(async {
        let rt = Runtime::new();
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let echo = ServerCore::new(ServerConfig::new(any), |_| Echo).context("echo server")?;
        let registry = rt.add(NodeRegistry::new(Ownership::Open).seed(1))?;
        rt.register_service(DATAHUB_SERVICE, registry.inbox())?;
        let hub =
            datahub_server(ServerConfig::new(any), DatahubOptions::default()).context("datahub")?;
        let addrs = (echo.local_addr(), hub.local_addr());
        let handles = (rt.spawn(echo)?, registry.start(), rt.spawn(hub)?);
        anyhow::Ok((addrs.0, addrs.1, (rt, handles)))
    })?;

    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let results = clients.block_on(async {
        let ports: Arc<Vec<AtomicU64>> =
            Arc::new((0..args.clients).map(|_| AtomicU64::new(1)).collect());
        // Free nodes for `requestnodes`: plenty of slots, so every request gets its nodes.
        for id in 1..=u64::from(args.count) * 4 {
            exchange(
                hub,
                source(0),
                format!("`register {}", 60_000 + id).as_bytes(),
                false,
            )
            .await?;
            exchange(
                hub,
                source(0),
                format!("`setstatus {id} 1000000000").as_bytes(),
                false,
            )
            .await?;
        }
        ports[0].store(1, Ordering::Relaxed);
        let mut rates: Vec<(Work, Vec<f64>, u64)> =
            [Work::Churn, Work::Register, Work::RequestNodes]
                .into_iter()
                .map(|w| (w, Vec::new(), 0))
                .collect();
        for _ in 0..args.rounds {
            for (work, rate, failed) in &mut rates {
                let (r, f) =
                    round(*work, echo, hub, args.clients, duration, args.count, &ports).await;
                rate.push(r);
                *failed += f;
            }
        }
        anyhow::Ok(rates)
    })?;

    println!(
        "datahub vs bare churn: {} clients, {} rounds of {:.1} s each, median",
        args.clients, args.rounds, args.duration
    );
    let churn = median(results[0].1.clone());
    println!("{:<36} {:>10} {:>10} {:>8}", "", "req/s", "cost", "failed");
    for (work, rates, failed) in &results {
        let rate = median(rates.clone());
        // Cost per request relative to a bare churn: how much longer each one takes.
        let cost = if rate > 0.0 {
            churn / rate
        } else {
            f64::INFINITY
        };
        println!(
            "{:<36} {:>10.0} {:>9.2}x {:>8}",
            work.label(),
            rate,
            cost,
            failed
        );
    }
    let worst = results[1..]
        .iter()
        .map(|(_, rates, _)| median(rates.clone()))
        .fold(f64::INFINITY, f64::min);
    let overhead = if worst > 0.0 {
        (churn / worst - 1.0) * 100.0
    } else {
        f64::INFINITY
    };
    println!("worst datahub overhead over bare churn: {overhead:+.1}% (target: at most +25%)");
    Ok(())
}
