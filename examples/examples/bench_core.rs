//! Benchmark of the axon core, side by side with the same work on bare tokio tasks and
//! async-channel (the floor).
//!
//! ```text
//! cargo run --release --example bench_core            # full run (about a minute)
//! cargo run --release --example bench_core -- --quick # fewer messages, for a smoke test
//! valgrind --tool=callgrind target/release/examples/bench_core --profile axon --messages 200000
//! perf stat -e task-clock,context-switches target/release/examples/bench_core \
//!     --profile axon --profile-stages 2 --profile-threads 2 --messages 3000000
//! ```
//!
//! Prints, for N = 2, 4 and 8 stages, messages/s through an axon `Pipeline` and through
//! a chain of tasks joined by `async_channel::bounded(64)`, the median of several runs
//! and the ratio; the same for 8 producers feeding one inbox; and resident memory per
//! idle component with 100 000 alive against a bare task holding a channel, each
//! measured in a fresh child process.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use axon::component::from_fn;
use axon::{Context, Runtime};
use chassis::pipeline::Pipeline;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Axon core benchmark: pipeline throughput, fan-in and idle memory")]
struct Args {
    /// Messages per run (the issue's figure is 10 million).
    #[arg(long, default_value_t = 10_000_000)]
    messages: u64,
    /// Runs per figure; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Idle components for the memory figure.
    #[arg(long, default_value_t = 100_000)]
    idle: usize,
    /// A short run: 1 million messages, 3 runs, 20 000 idle components.
    #[arg(long)]
    quick: bool,
    /// Only these pipeline lengths (comma-separated), skipping fan-in and memory (for
    /// profiling one row under `perf`).
    #[arg(long, value_delimiter = ',')]
    stages: Vec<usize>,
    /// Internal: measure memory of one kind in this process and print bytes per item.
    #[arg(long, hide = true)]
    memory_child: Option<String>,
    /// Run one chain (4 stages unless `--profile-stages`), `axon`, `axon-budget` (every
    /// inbox byte-budgeted) or `raw`, on a single thread unless `--profile-threads`, and
    /// exit (for instruction counts under `valgrind --tool=callgrind`).
    #[arg(long)]
    profile: Option<String>,
    /// Stages of the `--profile` chain.
    #[arg(long, default_value_t = 4)]
    profile_stages: usize,
    /// Worker threads for `--profile`: 0 runs it on the current thread (deterministic,
    /// for callgrind); 2 as the timed runs (for `perf stat`: CPU time and context
    /// switches per message).
    #[arg(long, default_value_t = 0)]
    profile_threads: usize,
}

const CAPACITY: usize = 64;

fn main() -> Result<()> {
    let mut args = Args::parse();
    if args.quick {
        args.messages = 1_000_000;
        args.runs = 3;
        args.idle = 20_000;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(kind) = &args.profile {
        let single = if args.profile_threads == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.profile_threads)
                .enable_all()
                .build()?
        };
        let (stages, n) = (args.profile_stages, args.messages);
        let rate = match kind.as_str() {
            "axon" => single.block_on(axon_pipeline(stages, n, false))?,
            "axon-budget" => single.block_on(axon_pipeline(stages, n, true))?,
            "raw" => single.block_on(raw_chain(stages, n))?,
            other => bail!("--profile takes axon, axon-budget or raw, not {other}"),
        };
        println!("{kind}: {rate:.0} msg/s");
        return Ok(());
    }
    if let Some(kind) = &args.memory_child {
        let per_item = rt.block_on(memory_child(kind, args.idle))?;
        println!("{per_item}");
        return Ok(());
    }
    println!(
        "axon core benchmark: {} messages per run, median of {} runs, capacity {CAPACITY}, 2 worker threads",
        args.messages, args.runs
    );
    println!();
    println!(
        "{:<28} {:>14} {:>14} {:>8}",
        "workload", "axon msg/s", "raw msg/s", "ratio"
    );
    let only = !args.stages.is_empty();
    let lengths = if only {
        args.stages.clone()
    } else {
        vec![2, 4, 8]
    };
    for stages in lengths {
        // The variants take turns run by run, each run starting with the next one
        // (axon, raw, budgeted; raw, budgeted, axon; …), so neither a machine that
        // drifts during the row nor the place in the turn favours one of them.
        let variants = if stages <= 4 { 3 } else { 2 };
        let mut figures = vec![Vec::new(); variants];
        for run in 0..args.runs {
            for turn in 0..variants {
                let variant = (run + turn) % variants;
                figures[variant].push(rt.block_on(async {
                    match variant {
                        0 => axon_pipeline(stages, args.messages, false).await,
                        1 => raw_chain(stages, args.messages).await,
                        _ => axon_pipeline(stages, args.messages, true).await,
                    }
                })?);
            }
        }
        let mut medians = figures.into_iter().map(median_of);
        let (axon, raw) = (medians.next().unwrap_or(0.0), medians.next().unwrap_or(0.0));
        row(&format!("pipeline, {stages} stages"), axon, raw);
        if let Some(budgeted) = medians.next() {
            row("  with byte budgets", budgeted, raw);
        }
    }
    if only {
        return Ok(());
    }
    let axon = median(args.runs, || rt.block_on(axon_fan_in(8, args.messages)))?;
    let raw = median(args.runs, || rt.block_on(raw_fan_in(8, args.messages)))?;
    row("fan-in, 8 producers", axon, raw);
    println!();
    let exe = std::env::current_exe()?;
    let mut per = Vec::new();
    for kind in ["axon", "raw", "axon-prepared", "axon-used"] {
        let out = std::process::Command::new(&exe)
            .args(["--memory-child", kind, "--idle", &args.idle.to_string()])
            .output()
            .with_context(|| format!("running the {kind} memory child"))?;
        if !out.status.success() {
            bail!(
                "{kind} memory child failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let bytes: f64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
        per.push(bytes);
    }
    println!(
        "{:<28} {:>14} {:>14} {:>8}",
        "memory per idle component", "axon bytes", "raw bytes", "extra"
    );
    println!(
        "{:<28} {:>14.0} {:>14.0} {:>8.0}",
        format!("{} alive", args.idle),
        per[0],
        per[1],
        per[0] - per[1]
    );
    println!(
        "{:<28} {:>14.0}   (graph entries and box nodes; no task yet)",
        "  of which added, unstarted", per[2]
    );
    println!(
        "{:<28} {:>14.0} {:>14.0} {:>8.0}   (its inbox queue allocated by one message)",
        "after one message each",
        per[3],
        per[1],
        per[3] - per[1]
    );
    Ok(())
}

fn row(name: &str, axon: f64, raw: f64) {
    println!("{name:<28} {axon:>14.0} {raw:>14.0} {:>7.2}x", axon / raw);
}

fn median(runs: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut xs = Vec::with_capacity(runs);
    for _ in 0..runs {
        xs.push(f()?);
    }
    Ok(median_of(xs))
}

/// The median of `xs` (not empty).
fn median_of(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn forward() -> impl axon::Component<In = u64, Out = u64> {
    from_fn("forward", |mut ctx: Context<u64, u64>| async move {
        while let Some(x) = ctx.recv().await {
            ctx.send(x).await?;
        }
        Ok(())
    })
}

/// Source -> Pipeline of `stages` forwarders -> sink; returns messages/s. With
/// `budget`, every queued inbox of the chain is also bounded in bytes (to the same
/// `CAPACITY` messages of 8 bytes), so each send and receive also measures its message.
async fn axon_pipeline(stages: usize, n: u64, budget: bool) -> Result<f64> {
    let rt = Runtime::new();
    let source = rt.add(from_fn(
        "source",
        move |mut ctx: Context<(), u64>| async move {
            for i in 0..n {
                ctx.send(i).await?;
            }
            Ok(())
        },
    ))?;
    let mut pipeline = Pipeline::new(forward());
    for _ in 1..stages {
        pipeline = pipeline.then(forward());
    }
    let pipeline = rt.add(pipeline)?;
    let sink = rt.add(counting_sink())?;
    rt.link(source.outbox(), pipeline.inbox())?;
    rt.link(source.signal(), pipeline.control())?;
    rt.link(pipeline.outbox(), sink.inbox())?;
    rt.link(pipeline.signal(), sink.control())?;
    if budget {
        let bytes = CAPACITY * std::mem::size_of::<u64>();
        for stage in rt.children_of(pipeline.id()) {
            rt.set_byte_budget(rt.box_ref::<u64>(stage, "inbox")?, bytes)?;
        }
        rt.set_byte_budget(sink.inbox(), bytes)?;
    }
    let started = Instant::now();
    let (s, p, k) = (sink.start(), pipeline.start(), source.start());
    for h in [k, p, s] {
        let exit = h.join().await;
        if !exit.is_clean() {
            bail!("a benchmark component ended badly: {exit}");
        }
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn counting_sink() -> impl axon::Component<In = u64, Out = ()> {
    from_fn("sink", |mut ctx: Context<u64, ()>| async move {
        let mut count = 0u64;
        while ctx.recv().await.is_some() {
            count += 1;
        }
        std::hint::black_box(count);
        Ok(())
    })
}

/// The same chain on bare tasks and async-channel.
async fn raw_chain(stages: usize, n: u64) -> Result<f64> {
    let (tx, mut rx) = async_channel::bounded::<u64>(CAPACITY);
    let mut tasks = Vec::new();
    for _ in 0..stages {
        let (next_tx, next_rx) = async_channel::bounded::<u64>(CAPACITY);
        let input = rx;
        tasks.push(tokio::spawn(async move {
            while let Ok(x) = input.recv().await {
                if next_tx.send(x).await.is_err() {
                    break;
                }
            }
        }));
        rx = next_rx;
    }
    let started = Instant::now();
    let sink = tokio::spawn(async move {
        let mut count = 0u64;
        while rx.recv().await.is_ok() {
            count += 1;
        }
        count
    });
    let source = tokio::spawn(async move {
        for i in 0..n {
            if tx.send(i).await.is_err() {
                break;
            }
        }
    });
    source.await?;
    for t in tasks {
        t.await?;
    }
    let count = sink.await?;
    if count != n {
        bail!("raw chain delivered {count} of {n}");
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// `producers` sources feeding one sink's inbox.
async fn axon_fan_in(producers: u64, n: u64) -> Result<f64> {
    let rt = Runtime::new();
    let sink = rt.add(counting_sink())?;
    let per = n / producers;
    let mut sources = Vec::new();
    for _ in 0..producers {
        let s = rt.add(from_fn(
            "source",
            move |mut ctx: Context<(), u64>| async move {
                for i in 0..per {
                    ctx.send(i).await?;
                }
                Ok(())
            },
        ))?;
        rt.link(s.outbox(), sink.inbox())?;
        sources.push(s);
    }
    let started = Instant::now();
    let sink = sink.start();
    let handles: Vec<_> = sources.into_iter().map(|s| s.start()).collect();
    for h in handles {
        h.join().await;
    }
    sink.shutdown().await.ok();
    sink.join().await;
    Ok((per * producers) as f64 / started.elapsed().as_secs_f64())
}

async fn raw_fan_in(producers: u64, n: u64) -> Result<f64> {
    let (tx, rx) = async_channel::bounded::<u64>(CAPACITY);
    let per = n / producers;
    let started = Instant::now();
    let sink = tokio::spawn(async move {
        let mut count = 0u64;
        while rx.recv().await.is_ok() {
            count += 1;
        }
        count
    });
    let mut handles = Vec::new();
    for _ in 0..producers {
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..per {
                if tx.send(i).await.is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    for h in handles {
        h.await?;
    }
    let count = sink.await?;
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// Resident set size of this process, in bytes (Linux).
fn rss() -> Result<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").context("reading /proc/self/statm")?;
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm format")?
        .parse()?;
    Ok(pages * 4096.0)
}

/// In a child process: create `count` idle items of one kind, report bytes per item.
async fn memory_child(kind: &str, count: usize) -> Result<f64> {
    let before = rss()?;
    match kind {
        "axon" => {
            let rt = Runtime::new();
            let mut handles = Vec::with_capacity(count);
            for _ in 0..count {
                handles.push(rt.spawn(forward())?);
            }
            settle().await;
            let after = rss()?;
            if rt.live_components() != count {
                bail!("expected {count} live components");
            }
            Ok((after - before) / count as f64)
        }
        "axon-used" => {
            // Each component receives one message first, so its inbox queue exists.
            let rt = Runtime::new();
            let mut ext = rt.external("feeder");
            let (feed, mut out) = ext.add_outbox::<u64>("feed")?;
            let mut handles = Vec::with_capacity(count);
            for i in 0..count {
                let h = rt.spawn(counting_sink())?;
                rt.relink(feed, rt.box_ref::<u64>(h.id(), "inbox")?)?;
                out.send(i as u64)
                    .await
                    .map_err(|_| anyhow::anyhow!("feeding component {i}"))?;
                handles.push(h);
            }
            settle().await;
            let after = rss()?;
            Ok((after - before) / count as f64)
        }
        "axon-prepared" => {
            // Graph entries and box nodes only, no task: where the bytes go.
            let rt = Runtime::new();
            let mut prepared = Vec::with_capacity(count);
            for _ in 0..count {
                prepared.push(rt.add(forward())?);
            }
            let after = rss()?;
            Ok((after - before) / count as f64)
        }
        "raw" => {
            let mut keep = Vec::with_capacity(count);
            // One shared destination, as an idle component's outbox owns no queue.
            let (shared_tx, _shared_rx) = async_channel::bounded::<u64>(CAPACITY);
            for _ in 0..count {
                let (tx, rx) = async_channel::bounded::<u64>(CAPACITY);
                let out_tx = shared_tx.clone();
                let task = tokio::spawn(async move {
                    while let Ok(x) = rx.recv().await {
                        if out_tx.send(x).await.is_err() {
                            break;
                        }
                    }
                });
                keep.push((tx, task));
            }
            settle().await;
            let after = rss()?;
            Ok((after - before) / count as f64)
        }
        other => bail!("unknown memory kind {other}"),
    }
}

/// Let every spawned task run to its first wait.
async fn settle() {
    for _ in 0..1000 {
        tokio::task::yield_now().await;
    }
}
