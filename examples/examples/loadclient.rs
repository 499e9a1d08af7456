//! Load client for echo servers: N concurrent connections, each sending a message
//! and waiting for it to come back, for a fixed time; reports round trips per second
//! and latency percentiles. `--mode churn` instead connects, does one echo and closes,
//! over and over.
//!
//! ```text
//! cargo run --release --example echo -- --listen 127.0.0.1:7007 &
//! cargo run --release --example loadclient -- --target 127.0.0.1:7007 --connections 100 --size 64 --duration 5
//! ```
//!
//! Only loopback targets are accepted unless `--allow-remote` is given; every run is
//! bounded in time (at most 10 minutes) and every operation has a timeout.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its results"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest run allowed.
const MAX_DURATION: f64 = 600.0;
/// The longest any one connect, write or read may take.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections opened at once while setting up.
const CONNECT_BATCH: usize = 256;

/// What each connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Keep the connection open; send, wait for the echo, repeat.
    Echo,
    /// Connect, send one message, wait for the echo, close; repeat.
    Churn,
}

/// Load an echo server and report throughput and latency.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub(crate) struct LoadArgs {
    /// The server to load.
    #[arg(long, default_value = "127.0.0.1:7")]
    pub(crate) target: SocketAddr,
    /// Concurrent connections (or concurrent workers in churn mode).
    #[arg(long, default_value_t = 100)]
    pub(crate) connections: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    pub(crate) size: usize,
    /// How long to run, in seconds (at most 600).
    #[arg(long, default_value_t = 5.0)]
    pub(crate) duration: f64,
    /// Echo (long-lived connections) or churn (a connection per echo).
    #[arg(long, value_enum, default_value = "echo")]
    pub(crate) mode: Mode,
    /// Allow a target that is not a loopback address.
    #[arg(long)]
    pub(crate) allow_remote: bool,
}

/// The raw results of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Run {
    /// Latency of every completed operation, in nanoseconds, sorted.
    pub(crate) latencies: Vec<u64>,
    /// Operations that failed or timed out.
    pub(crate) errors: u64,
    /// How long the measurement ran.
    pub(crate) elapsed: Duration,
    /// When the measurement began (its connections open).
    pub(crate) started: Option<Instant>,
}

impl Run {
    /// Completed operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What one or more runs measured.
#[derive(Debug, Clone)]
pub(crate) struct LoadReport {
    /// Completed round trips (echo) or connections (churn), over all runs.
    pub(crate) completed: u64,
    /// Operations that failed or timed out.
    pub(crate) errors: u64,
    /// How long the runs took in all.
    pub(crate) elapsed: Duration,
    /// Operations per second: the median over the runs.
    pub(crate) rate: f64,
    /// Median latency, over all runs.
    pub(crate) p50: Duration,
    /// 99th percentile latency, over all runs.
    pub(crate) p99: Duration,
    /// Largest latency.
    pub(crate) max: Duration,
}

impl LoadReport {
    /// Summarise runs: the median rate, and latency percentiles over every sample.
    pub(crate) fn from_runs(runs: &[Run]) -> Self {
        let mut rates: Vec<f64> = runs.iter().map(Run::rate).collect();
        rates.sort_by(f64::total_cmp);
        let rate = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
        let mut all: Vec<u64> = runs
            .iter()
            .flat_map(|r| r.latencies.iter().copied())
            .collect();
        all.sort_unstable();
        LoadReport {
            completed: all.len() as u64,
            errors: runs.iter().map(|r| r.errors).sum(),
            elapsed: runs.iter().map(|r| r.elapsed).sum(),
            rate,
            p50: percentile(&all, 0.50),
            p99: percentile(&all, 0.99),
            max: all
                .last()
                .map_or(Duration::ZERO, |&n| Duration::from_nanos(n)),
        }
    }

    /// Completed operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}/s ({} in {:.2} s, {} errors); latency p50 {} µs, p99 {} µs, max {} µs",
            self.rate(),
            self.completed,
            self.elapsed.as_secs_f64(),
            self.errors,
            self.p50.as_micros(),
            self.p99.as_micros(),
            self.max.as_micros()
        )
    }
}

async fn bounded<T>(
    what: &str,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(r) => r.with_context(|| what.to_string()),
        Err(_) => bail!("{what}: timed out"),
    }
}

async fn echo_once(stream: &mut TcpStream, msg: &[u8], back: &mut [u8]) -> anyhow::Result<()> {
    bounded("write", stream.write_all(msg)).await?;
    bounded("read", stream.read_exact(back)).await?;
    anyhow::ensure!(back == msg, "the echo differs from what was sent");
    Ok(())
}

/// One worker's results: latencies in nanoseconds, and the error count.
type Samples = (Vec<u64>, u64);

async fn echo_worker(mut stream: TcpStream, size: usize, until: Instant) -> Samples {
    let msg = vec![b'x'; size];
    let mut back = vec![0u8; size];
    let mut lat = Vec::with_capacity(4096);
    while Instant::now() < until {
        let t = Instant::now();
        match echo_once(&mut stream, &msg, &mut back).await {
            Ok(()) => lat.push(t.elapsed().as_nanos() as u64),
            Err(_) => return (lat, 1),
        }
    }
    (lat, 0)
}

async fn churn_worker(target: SocketAddr, size: usize, until: Instant) -> Samples {
    let msg = vec![b'x'; size];
    let mut back = vec![0u8; size];
    let mut lat = Vec::with_capacity(4096);
    let mut errors = 0;
    while Instant::now() < until {
        let t = Instant::now();
        let one = async {
            let mut s = bounded("connect", TcpStream::connect(target)).await?;
            echo_once(&mut s, &msg, &mut back).await
        };
        match one.await {
            Ok(()) => lat.push(t.elapsed().as_nanos() as u64),
            Err(_) => errors += 1,
        }
    }
    (lat, errors)
}

/// Open `n` connections to `target`, a batch at a time, each checked with one echo.
pub(crate) async fn open_connections(
    target: SocketAddr,
    n: usize,
    size: usize,
) -> anyhow::Result<Vec<TcpStream>> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let batch = CONNECT_BATCH.min(n - all.len());
        let mut tasks = Vec::with_capacity(batch);
        for _ in 0..batch {
            tasks.push(tokio::spawn(async move {
                let mut s = bounded("connect", TcpStream::connect(target)).await?;
                let msg = vec![b'o'; size.max(1)];
                let mut back = vec![0u8; msg.len()];
                echo_once(&mut s, &msg, &mut back).await?;
                Ok::<_, anyhow::Error>(s)
            }));
        }
        for t in tasks {
            all.push(t.await??);
        }
    }
    Ok(all)
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_nanos(sorted[i.min(sorted.len() - 1)])
}

/// Run one load as `args` describes.
///
/// # Errors
///
/// A non-loopback target without `allow_remote`, or connections that cannot be opened.
pub(crate) async fn run_load(args: &LoadArgs) -> anyhow::Result<Run> {
    if !args.target.ip().is_loopback() && !args.allow_remote {
        bail!(
            "{} is not a loopback address; pass --allow-remote to load another host",
            args.target
        );
    }
    anyhow::ensure!(args.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(args.size > 0, "--size must be at least 1");
    let duration = Duration::from_secs_f64(args.duration.clamp(0.1, MAX_DURATION));
    let streams = match args.mode {
        Mode::Echo => open_connections(args.target, args.connections, args.size).await?,
        Mode::Churn => Vec::new(),
    };
    let start = Instant::now();
    let until = start + duration;
    let mut tasks = Vec::with_capacity(args.connections);
    match args.mode {
        Mode::Echo => {
            for s in streams {
                tasks.push(tokio::spawn(echo_worker(s, args.size, until)));
            }
        }
        Mode::Churn => {
            for _ in 0..args.connections {
                tasks.push(tokio::spawn(churn_worker(args.target, args.size, until)));
            }
        }
    }
    let mut run = Run::default();
    for t in tasks {
        let (lat, e) = t.await?;
        run.latencies.extend(lat);
        run.errors += e;
    }
    run.elapsed = start.elapsed();
    run.started = Some(start);
    run.latencies.sort_unstable();
    Ok(run)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = LoadArgs::parse();
    let report = LoadReport::from_runs(&[run_load(&args).await?]);
    let what = match args.mode {
        Mode::Echo => "round trips",
        Mode::Churn => "connections (connect, one echo, close)",
    };
    println!(
        "{} x {} B against {}: {what} {report}",
        args.connections, args.size, args.target
    );
    Ok(())
}
