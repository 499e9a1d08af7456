//! Benchmark: the worker protocol on loopback, master and workers in one process.
//!
//! ```text
//! cargo run --release --example bench_workers -- --workers 100 --commands 2000 --megabytes 100
//! ```
//!
//! Measured: commands per second for `true` spread over `--workers` workers (each
//! worker runs its share one after another, all workers at once), and the output
//! throughput of one command printing `--megabytes` MB in 100-byte lines, streamed
//! to the master and counted there. Bounded: each phase stops at `--limit` seconds.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program that prints its figures"
)]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use axon::Runtime;
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::workers::{
    CommandEvent, CommandOutcome, CommandUpdate, Registration, Registrations, UPDATES_SERVICE,
    Worker, WorkerConfig, WorkerMaster, WorkerOp, WorkerRequest, worker_service,
};

/// Commands per second and output throughput of the worker protocol.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Workers logged in at once.
    #[arg(long, default_value_t = 100)]
    workers: usize,
    /// `true` commands in all, spread evenly.
    #[arg(long, default_value_t = 2000)]
    commands: usize,
    /// Megabytes printed by the throughput command.
    #[arg(long, default_value_t = 100)]
    megabytes: usize,
    /// Seconds each phase may take at most.
    #[arg(long, default_value_t = 120)]
    limit: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    let limit = Duration::from_secs(args.limit);
    let rt = Runtime::new();
    let mut app = rt.external("bench");
    let (updates_box, mut updates) = app.add_inbox::<CommandUpdate>("updates", 8192)?;
    rt.register_service(UPDATES_SERVICE, updates_box)?;
    let regs = Registrations::default();
    let names: Vec<String> = (0..args.workers.max(1)).map(|i| format!("w{i}")).collect();
    for n in &names {
        regs.set(n, Registration::new("s"));
    }
    let master = WorkerMaster::new(regs);
    let server = master.server(ServerConfig::new("127.0.0.1:0".parse()?))?;
    let addr = server.local_addr();
    let server = rt.spawn(server)?;
    for n in &names {
        let w = Worker::new(WorkerConfig::new(n, "s", std::env::temp_dir()));
        tokio::spawn(async move { w.connect(addr).await });
    }
    let count = names.len();
    let all = master
        .workers()
        .wait_for(limit, |w| w.names().len() == count)
        .await;
    anyhow::ensure!(all, "not every worker logged in within {limit:?}");

    // Phase 1: `true` across all workers.
    let per_worker = args.commands.div_ceil(count);
    let total = per_worker * count;
    let mut asks = Vec::new();
    for n in &names {
        let (to, ops) = app.add_outbox::<WorkerRequest>(format!("to-{n}"))?;
        rt.link(to, rt.service(&worker_service(n))?)?;
        asks.push(ops);
    }
    let started = Instant::now();
    let mut starters = tokio::task::JoinSet::new();
    // Each worker's starter waits for its previous command's completion (seen by the
    // collector below) before starting the next: one command at a time per worker.
    let mut senders = Vec::new();
    for (w, mut ops) in asks.into_iter().enumerate() {
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
        starters.spawn(async move {
            for c in 0..per_worker {
                let op = WorkerOp::StartCommand {
                    builder: String::new(),
                    command_id: format!("t{w}-{c}"),
                    command: "true".into(),
                    args: vec![],
                };
                ops.ask(op, Duration::from_secs(30)).await.ok()?.ok()?;
                done_rx.recv().await?;
            }
            Some(ops)
        });
        senders.push(done_tx);
    }
    let mut completed = 0;
    let phase = tokio::time::timeout(limit, async {
        while completed < total {
            let u = updates.recv().await.context("updates closed")?;
            if let CommandEvent::Completed { outcome } = u.event {
                anyhow::ensure!(outcome == CommandOutcome::Ok, "{}: {outcome}", u.command_id);
                completed += 1;
                let w: usize = u.worker[1..].parse()?;
                let _ = senders[w].send(()).await;
            }
        }
        anyhow::Ok(())
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    phase.context("phase 1 over its limit")??;
    println!(
        "bench_workers: {total} `true` commands over {count} workers in {secs:.2} s: {:.0} commands/s",
        total as f64 / secs
    );
    let mut kept = None;
    while let Some(ops) = starters.join_next().await {
        if kept.is_none() {
            kept = ops?;
        }
    }
    let mut ops = kept.context("no worker outbox left")?;

    // Phase 2: one command printing the megabytes, in 100-byte lines (99 x and a newline).
    let lines = args.megabytes * 1_000_000 / 100;
    let script = format!("yes {} | head -n {lines}", "x".repeat(99));
    let op = WorkerOp::StartCommand {
        builder: String::new(),
        command_id: "big".into(),
        command: "sh".into(),
        args: vec!["-c".into(), script],
    };
    let started = Instant::now();
    ops.ask(op, Duration::from_secs(30)).await??;
    let mut bytes = 0usize;
    let mut got = 0usize;
    let phase = tokio::time::timeout(limit, async {
        loop {
            let u = updates.recv().await.context("updates closed")?;
            match u.event {
                CommandEvent::Stdout { line } => {
                    bytes += line.len() + 1;
                    got += 1;
                }
                CommandEvent::Stderr { .. } | CommandEvent::Header { .. } => {}
                CommandEvent::Completed { outcome } => {
                    anyhow::ensure!(outcome == CommandOutcome::Ok, "big: {outcome}");
                    return anyhow::Ok(());
                }
            }
        }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    phase.context("phase 2 over its limit")??;
    anyhow::ensure!(got == lines, "{got} lines of {lines}");
    println!(
        "bench_workers: one command printing {} MB in {lines} lines: {secs:.2} s, {:.1} MB/s, {:.0} lines/s",
        bytes / 1_000_000,
        bytes as f64 / 1e6 / secs,
        lines as f64 / secs
    );
    println!(
        "bench_workers: master counted {} logins, {} updates undelivered",
        master.stats().logins(),
        master.stats().updates_undelivered()
    );
    let _ = server.shutdown().await;
    let _ = server.join().await;
    Ok(())
}
