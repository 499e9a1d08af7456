//! Benchmark: kvstore against a real `redis-server`, with `redis-benchmark` as the
//! client for both, side by side in one run.
//!
//! ```text
//! cargo run --release --example bench_kvstore
//! ```
//!
//! kvstore (store and server) runs in this process on a runtime of two worker threads;
//! `redis-server` is started on a free loopback port with `--save '' --appendonly no`
//! and stopped at the end. For each pipeline depth (`-P 1` and `-P 16`), the program runs
//! `redis-benchmark -t set,get -n N -c 50 -P depth --csv` against each server in turn,
//! alternating which goes first, for `--rounds` rounds, and prints requests per second
//! and p50/p99 latency for both, and kvstore's throughput as a ratio of Redis's (median
//! of the rounds). Targets: at least 0.5x without pipelining, 0.3x with `-P 16`.
//! Bounded by redis-benchmark's run time; about a minute with the defaults on 2 cores.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program that prints its figures"
)]

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axon::Runtime;
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::resp::{KeyValueStore, RespOptions, RespStats, STORE_SERVICE, kvstore_server};

/// kvstore against redis-server under redis-benchmark (SET and GET).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Requests per redis-benchmark test (-n).
    #[arg(long, default_value_t = 200_000)]
    requests: u64,
    /// Concurrent clients (-c).
    #[arg(long, default_value_t = 50)]
    clients: u32,
    /// Rounds per server and pipeline depth.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Pipeline depths to measure (-P).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pipelines: Vec<u32>,
}

/// One redis-benchmark test's figures.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A `redis-server` child, killed when dropped.
struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Start `redis-server` on a free loopback port and wait (at most 10 s) until it answers.
fn start_redis() -> anyhow::Result<(RedisServer, SocketAddr)> {
    let port = free_port()?;
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .spawn()
        .context("redis-server (apt-get install redis-server)")?;
    let server = RedisServer(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ping = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "PING"])
            .output()
            .context("redis-cli (apt-get install redis-tools)")?;
        if String::from_utf8_lossy(&ping.stdout).trim() == "PONG" {
            return Ok((server, addr));
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "redis-server did not answer within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run redis-benchmark against `addr`; SET's and GET's figures.
fn benchmark(addr: SocketAddr, args: &Args, pipeline: u32) -> anyhow::Result<[Figures; 2]> {
    let output = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(["-t", "set,get", "--csv"])
        .args(["-n", &args.requests.to_string()])
        .args(["-c", &args.clients.to_string()])
        .args(["-P", &pipeline.to_string()])
        .output()
        .context("redis-benchmark (apt-get install redis-tools)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success() && !stdout.to_lowercase().contains("error"),
        "redis-benchmark against {addr}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let figures = |test: &str| -> anyhow::Result<Figures> {
        // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("\"{test}\"")))
            .with_context(|| format!("no {test} line in: {stdout}"))?;
        let field = |i: usize| -> anyhow::Result<f64> {
            let text = line.split(',').nth(i).context("short csv line")?;
            Ok(text.trim_matches('"').parse()?)
        };
        Ok(Figures {
            rps: field(1)?,
            p50_ms: field(4)?,
            p99_ms: field(6)?,
        })
    };
    Ok([figures("SET")?, figures("GET")?])
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn summarize(rounds: &[Figures]) -> Figures {
    Figures {
        rps: median(rounds.iter().map(|f| f.rps).collect()),
        p50_ms: median(rounds.iter().map(|f| f.p50_ms).collect()),
        p99_ms: median(rounds.iter().map(|f| f.p99_ms).collect()),
    }
}

fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    anyhow::ensure!(args.rounds > 0, "--rounds must be at least 1");

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let kvstore = server_rt.block_on(async {
        let rt = Runtime::new();
        let store = rt.add(KeyValueStore::new())?;
        rt.register_service(STORE_SERVICE, store.inbox())?;
        let config = ServerConfig::new("127.0.0.1:0".parse()?).idle_timeout(None);
        let server = kvstore_server(config, RespOptions::default(), RespStats::default())?;
        let addr = server.local_addr();
        let handles = (store.start(), rt.spawn(server)?);
        anyhow::Ok((rt, handles, addr))
    })?;
    let kv_addr = kvstore.2;
    let (_redis, redis_addr) = start_redis()?;

    println!(
        "redis-benchmark -t set,get -n {} -c {}; kvstore on {kv_addr}, redis-server on {redis_addr}",
        args.requests, args.clients
    );
    println!(
        "{:>3} {:>4} {:>6} | {:>10} {:>7} {:>7} | {:>11} {:>7} {:>7} | {:>5}",
        "-P",
        "test",
        "",
        "kv req/s",
        "p50 ms",
        "p99 ms",
        "redis req/s",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    for &pipeline in &args.pipelines {
        // [server][test] -> rounds
        let mut results: [[Vec<Figures>; 2]; 2] = Default::default();
        for round in 0..args.rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for server in order {
                let addr = if server == 0 { kv_addr } else { redis_addr };
                let [set, get] = benchmark(addr, &args, pipeline)?;
                results[server][0].push(set);
                results[server][1].push(get);
            }
        }
        for (t, test) in ["SET", "GET"].into_iter().enumerate() {
            let kv = summarize(&results[0][t]);
            let redis = summarize(&results[1][t]);
            println!(
                "{pipeline:>3} {test:>4} {:>6} | {:>10.0} {:>7.3} {:>7.3} | {:>11.0} {:>7.3} {:>7.3} | {:>4.2}x",
                "median",
                kv.rps,
                kv.p50_ms,
                kv.p99_ms,
                redis.rps,
                redis.p50_ms,
                redis.p99_ms,
                kv.rps / redis.rps
            );
        }
    }
    println!("targets: kvstore/redis >= 0.50x at -P 1, >= 0.30x at -P 16");
    drop(kvstore);
    server_rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
