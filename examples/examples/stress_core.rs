//! Stress program for the axon core: many short graphs of mixed shapes, each with a
//! time bound, reporting hangs, unclean exits and components left behind.
//!
//! ```text
//! cargo run --release --example stress_core -- --runs 100000      # a long soak
//! cargo run --release --example stress_core -- --short            # ~45 s, for CI
//! cargo run --release --example stress_core -- --shape nested --runs 20000 --seed 7
//! ```
//!
//! Every run builds a fresh [`Runtime`] holding one graph — a console reader or
//! `from_fn` source feeding transforms and a console writer or `from_fn` sink, composites
//! inside composites, a Graphline, a Backplane with a publisher and a subscriber, a
//! ServerCore answering a loopback TCP client, or a pipeline stopped from outside by
//! `Shutdown` or a kill — on one two-worker tokio runtime, and waits for the graph to
//! end within `--bound` seconds. A run that does not end is a **hang**: the program
//! prints the shape, the run number and a snapshot of the stuck graph. A run that ends
//! otherwise than its shape must (a pipeline fed to its end must finish; a killed one
//! must be aborted) is **unclean**; components still in the graph a moment after its
//! top component ended are **leaked**. Shapes are drawn by a seeded generator (the seed is
//! printed, and `--seed` replays the order). At the end (or on Ctrl-C) it prints a table
//! per shape: runs, hangs, unclean, leaked and the mean time for a run to end. The exit
//! code is 1 if any run hung, ended unclean or leaked.
#![allow(clippy::print_stdout, reason = "a stress program prints its findings")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use axon::component::from_fn;
use axon::{BoxError, Component, Context, DynComponent, Exit, Runtime};
use chassis::backplane::{Backplane, PublishTo, SubscribeTo};
use chassis::graphline::{Graphline, SELF};
use chassis::pipeline::Pipeline;
use chassis::tcp::{Echo, ServerCore};
use clap::Parser;
use components::console::{ConsoleReader, ConsoleWriter};
use components::transform::{Filter, FilterMap, Transform};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
#[command(
    about = "Stress the axon core: run many short graphs of mixed shapes and report hangs, unclean exits and leaked components"
)]
struct Args {
    /// How many graphs to run.
    #[arg(long, default_value_t = 10_000)]
    runs: u64,
    /// Stop after this many seconds even if runs remain.
    #[arg(long)]
    seconds: Option<f64>,
    /// Seed of the shape order (printed; by default taken from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Run only this shape (see the list printed by `--list`).
    #[arg(long)]
    shape: Option<String>,
    /// List the shapes and exit.
    #[arg(long)]
    list: bool,
    /// Seconds one run may take before it counts as a hang.
    #[arg(long, default_value_t = 5.0)]
    bound: f64,
    /// For CI: as many runs as fit in about 45 seconds.
    #[arg(long)]
    short: bool,
}

/// The graphs a run can build.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Shape {
    /// `ConsoleReader -> ConsoleWriter` in a Pipeline: the end-of-input path.
    ReaderWriter,
    /// `from_fn` source -> Transform -> Filter -> `from_fn` sink.
    SourceTransformSink,
    /// A Pipeline of two Pipelines, each of two stages.
    Nested,
    /// A Graphline wiring reader -> FilterMap -> writer by name, signal to control.
    Graphline,
    /// A Graphline inside a Pipeline inside a Pipeline, fed through its boundary.
    GraphlineInPipeline,
    /// A Graphline holding a Backplane, a publisher fed by a source and a subscriber
    /// feeding a sink; the source starts once the subscriber has joined.
    Backplane,
    /// As `Backplane`, but the source may end before the subscriber has joined (a Join
    /// still queued when the Backplane ends must fail, not leave the subscriber waiting).
    BackplaneEarlyEnd,
    /// A ServerCore with Echo; a loopback client sends, reads the echo and closes; then
    /// the server is shut down.
    Server,
    /// An endless source in a Pipeline, shut down from outside mid-stream.
    Shutdown,
    /// An endless source in a Pipeline, killed from outside mid-stream.
    Kill,
    /// `numbers -> Supervisor(a stage that panics on every 25th) -> checking sink`:
    /// restarts mid-stream and at the end of input; the sink checks that exactly the
    /// crashing messages are missing, in order.
    Supervised,
}

const SHAPES: [Shape; 11] = [
    Shape::ReaderWriter,
    Shape::SourceTransformSink,
    Shape::Nested,
    Shape::Graphline,
    Shape::GraphlineInPipeline,
    Shape::Backplane,
    Shape::BackplaneEarlyEnd,
    Shape::Server,
    Shape::Shutdown,
    Shape::Kill,
    Shape::Supervised,
];

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::ReaderWriter => "reader-writer",
            Shape::SourceTransformSink => "source-transform-sink",
            Shape::Nested => "nested",
            Shape::Graphline => "graphline",
            Shape::GraphlineInPipeline => "graphline-in-pipeline",
            Shape::Backplane => "backplane",
            Shape::BackplaneEarlyEnd => "backplane-early-end",
            Shape::Server => "server",
            Shape::Shutdown => "shutdown",
            Shape::Kill => "kill",
            Shape::Supervised => "supervised",
        }
    }

    /// Whether `exit` is how this shape must end.
    fn expected(self, exit: &Exit) -> bool {
        match self {
            Shape::Server | Shape::Shutdown => matches!(exit, Exit::ShutDown),
            Shape::Kill => matches!(exit, Exit::Aborted),
            _ => matches!(exit, Exit::Finished),
        }
    }

    /// Build the graph in `rt`, drive it, and wait for its top component to end.
    async fn run(self, rt: &Runtime) -> Result<Exit> {
        Ok(match self {
            Shape::ReaderWriter => {
                rt.spawn(Pipeline::new(reader()).then(writer()))?
                    .join()
                    .await
            }
            Shape::SourceTransformSink => {
                let p = Pipeline::new(numbers(40))
                    .then(Transform::new(|n: u64| n * 3))
                    .then(Filter::new(|n: &u64| n.is_multiple_of(2)))
                    .then(sink::<u64>());
                rt.spawn(p)?.join().await
            }
            Shape::Nested => {
                let first = Pipeline::new(reader()).then(Transform::new(|s: String| s.len()));
                let second = Pipeline::new(Transform::new(|n: usize| n + 1)).then(writer());
                rt.spawn(Pipeline::new(first).then(second))?.join().await
            }
            Shape::Graphline => rt.spawn(graphline())?.join().await,
            Shape::GraphlineInPipeline => {
                let inner = Graphline::<String, String>::new()
                    .child("upper", Transform::new(|s: String| s.to_uppercase()))
                    .child("exclaim", Transform::new(|s: String| s + "!"))
                    .link((SELF, "inbox"), ("upper", "inbox"))
                    .link(("upper", "outbox"), ("exclaim", "inbox"))
                    .link(("upper", "signal"), ("exclaim", "control"))
                    .link(("exclaim", "outbox"), (SELF, "outbox"));
                let middle = Pipeline::new(inner).then(Transform::new(|s: String| s.len()));
                rt.spawn(Pipeline::new(reader()).then(middle).then(writer()))?
                    .join()
                    .await
            }
            Shape::Supervised => rt.spawn(supervised())?.join().await,
            Shape::Backplane => rt.spawn(backplane(true))?.join().await,
            Shape::BackplaneEarlyEnd => rt.spawn(backplane(false))?.join().await,
            Shape::Server => server(rt).await?,
            Shape::Shutdown | Shape::Kill => {
                let (seen, mut first) = tokio::sync::mpsc::channel::<()>(1);
                let p = Pipeline::new(endless())
                    .then(Transform::new(|n: u64| n.wrapping_mul(7)))
                    .then(from_fn(
                        "notice",
                        move |mut ctx: Context<u64, ()>| async move {
                            while ctx.recv().await.is_some() {
                                let _ = seen.try_send(());
                            }
                            Ok::<(), BoxError>(())
                        },
                    ));
                let h = rt.spawn(p)?;
                // Stop it mid-stream: once messages flow through the whole pipeline.
                first
                    .recv()
                    .await
                    .context("the pipeline ended before its first message")?;
                if self == Shape::Kill {
                    h.kill();
                } else {
                    h.shutdown().await?;
                }
                h.join().await
            }
        })
    }
}

/// A supervised stage that panics on every 25th number, between a source of 1..=100
/// and a sink that fails unless it saw exactly the others, in order.
fn supervised() -> Pipeline<(), ()> {
    use chassis::supervisor::{Backoff, ChildSpec, Intensity, Supervisor};
    let fragile = ChildSpec::new("fragile", || {
        from_fn("fragile", |mut ctx: Context<u64, u64>| async move {
            while let Some(n) = ctx.recv().await {
                assert!(!n.is_multiple_of(25), "{n} is a multiple of 25");
                ctx.send(n).await?;
            }
            Ok::<(), BoxError>(())
        })
    });
    let stage = Supervisor::<u64, u64>::new()
        .backoff(Backoff::none())
        .intensity(Intensity::new(10, std::time::Duration::from_secs(60)))
        .child(fragile)
        .link(("self", "inbox"), ("fragile", "inbox"))
        .link(("fragile", "outbox"), ("self", "outbox"));
    let check = from_fn("check", |mut ctx: Context<u64, ()>| async move {
        let mut want = (1..=100u64).filter(|n| !n.is_multiple_of(25));
        while let Some(n) = ctx.recv().await {
            if want.next() != Some(n) {
                return Err(format!("got {n} out of turn").into());
            }
        }
        if want.next().is_some() {
            return Err("messages went missing".into());
        }
        Ok::<(), BoxError>(())
    });
    Pipeline::new(from_fn("numbers", |mut ctx: Context<(), u64>| async move {
        for n in 1..=100 {
            ctx.send(n).await?;
        }
        Ok::<(), BoxError>(())
    }))
    .then(stage)
    .then(check)
}

const INPUT: &[u8] = b"alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\neta\ntheta\n";

fn reader() -> ConsoleReader<&'static [u8]> {
    ConsoleReader::new(INPUT)
}

fn writer<T: std::fmt::Display + Send + 'static>() -> ConsoleWriter<T, tokio::io::Sink> {
    ConsoleWriter::new(tokio::io::sink())
}

/// Sends `0..n` and ends.
fn numbers(n: u64) -> impl Component<In = (), Out = u64> {
    from_fn("numbers", move |mut ctx: Context<(), u64>| async move {
        for i in 0..n {
            ctx.send(i).await?;
        }
        Ok::<(), BoxError>(())
    })
}

/// Reads everything until its input ends.
fn sink<T: Send + 'static>() -> impl Component<In = T, Out = ()> {
    from_fn("sink", |mut ctx: Context<T, ()>| async move {
        while ctx.recv().await.is_some() {}
        Ok::<(), BoxError>(())
    })
}

/// Sends numbers until told to stop on `control`.
fn endless() -> impl Component<In = (), Out = u64> {
    from_fn("endless", |mut ctx: Context<(), u64>| async move {
        let mut i = 0u64;
        loop {
            let stop = tokio::select! {
                biased;
                c = ctx.control.recv() => match c {
                    Some(c) => c.is_stop() || c.ends_input(),
                    None => true,
                },
                sent = ctx.outbox.send(i) => {
                    sent?;
                    i += 1;
                    false
                }
            };
            if stop {
                ctx.mark_shut_down();
                return Ok::<(), BoxError>(());
            }
        }
    })
}

fn graphline() -> Graphline<(), ()> {
    Graphline::<(), ()>::new()
        .child("read", reader())
        .child(
            "words",
            FilterMap::new(|s: String| (s.len() > 3).then_some(s)),
        )
        .child("write", writer::<String>())
        .link(("read", "outbox"), ("words", "inbox"))
        .link(("read", "signal"), ("words", "control"))
        .link(("words", "outbox"), ("write", "inbox"))
        .link(("words", "signal"), ("write", "control"))
}

/// Sends `0..n` once a subscriber has joined the Backplane: once the Backplane's
/// `subscriber#ID` outbox is linked (the Backplane's definition of joined).
fn numbers_after_join(n: u64) -> impl Component<In = (), Out = u64> {
    from_fn("numbers", move |mut ctx: Context<(), u64>| async move {
        let rt = ctx.runtime().clone();
        // Subscribed before looking, so a join made after the look is still heard of.
        let mut events = rt.subscribe();
        let joined = || {
            rt.snapshot()
                .links
                .iter()
                .any(|l| l.from_box.starts_with("subscriber#"))
        };
        while !joined() {
            // Any event (or a lag notice) is a reason to look again.
            let _ = events.recv().await;
        }
        for i in 0..n {
            ctx.send(i).await?;
        }
        Ok::<(), BoxError>(())
    })
}

fn backplane(wait_for_join: bool) -> Graphline<(), ()> {
    let source: Box<dyn DynComponent> = if wait_for_join {
        Box::new(numbers_after_join(20))
    } else {
        Box::new(numbers(20))
    };
    // The Backplane comes first: the publisher and the subscriber find it by name.
    Graphline::<(), ()>::new()
        .child("board", Backplane::<u64>::new("stress"))
        .child("subscribe", SubscribeTo::<u64>::new("stress"))
        .child("sink", sink::<u64>())
        .child("publish", PublishTo::<u64>::new("stress"))
        .child_dyn("source", source)
        .link(("source", "outbox"), ("publish", "inbox"))
        .link(("source", "signal"), ("publish", "control"))
        .link(("publish", "signal"), ("board", "control"))
        .link(("subscribe", "outbox"), ("sink", "inbox"))
        .link(("subscribe", "signal"), ("sink", "control"))
}

async fn server(rt: &Runtime) -> Result<Exit> {
    let server = ServerCore::bind("127.0.0.1:0", |_| Echo).await?;
    let addr = server.local_addr();
    let h = rt.spawn(server)?;
    let mut client = tokio::net::TcpStream::connect(addr).await?;
    let mut echoed = Vec::new();
    for msg in [&b"ping "[..], b"pong ", b"over"] {
        client.write_all(msg).await?;
    }
    client.shutdown().await?;
    client.read_to_end(&mut echoed).await?;
    if echoed != b"ping pong over" {
        bail!("echo returned {:?}", String::from_utf8_lossy(&echoed));
    }
    h.shutdown().await?;
    Ok(h.join().await)
}

/// One shape's tally.
#[derive(Default)]
struct Tally {
    runs: u64,
    hangs: u64,
    unclean: u64,
    leaked: u64,
    /// Runs whose top component ended, and their summed time to that end.
    ended: u64,
    total: Duration,
}

/// What one run came to.
enum Outcome {
    /// The top component ended after `took`; `left` components stayed in the graph.
    Ended {
        exit: Exit,
        took: Duration,
        left: usize,
    },
    Error(anyhow::Error),
    Hung,
}

/// SplitMix64: a seeded shape order that `--seed` replays (no quality needed beyond
/// mixing the shapes).
struct Order(u64);

impl Order {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// How long a graph may take to clear out after its top component ended (the children
/// of a killed composite are stopped, not waited for, so they retire a moment later).
const SETTLE: Duration = Duration::from_secs(1);

async fn left_after(rt: &Runtime) -> usize {
    let deadline = Instant::now() + SETTLE;
    while rt.live_components() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    rt.live_components()
}

fn main() -> Result<()> {
    let args = Args::parse();
    // The supervised shape crashes its stage on purpose; keep those panics quiet.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let planned = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|m| m.ends_with("is a multiple of 25"));
        if !planned {
            default_hook(info);
        }
    }));
    if args.list {
        for s in SHAPES {
            println!("{}", s.name());
        }
        return Ok(());
    }
    let (runs, seconds) = if args.short {
        (u64::MAX, Some(args.seconds.unwrap_or(45.0)))
    } else {
        (args.runs, args.seconds)
    };
    let shapes: Vec<Shape> = match &args.shape {
        Some(name) => match SHAPES.iter().find(|s| s.name() == name) {
            Some(s) => vec![*s],
            None => bail!(
                "no shape {name}; shapes: {}",
                SHAPES.map(Shape::name).join(", ")
            ),
        },
        None => SHAPES.to_vec(),
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let bound = Duration::from_secs_f64(args.bound);
    let limit = seconds.map(Duration::from_secs_f64);
    let shown_runs = if runs == u64::MAX {
        "as many runs as fit".to_string()
    } else {
        format!("{runs} runs")
    };
    println!(
        "stress_core: {shown_runs}{}, seed {seed}, {} shape(s), {:.1} s bound per run, 2 worker threads",
        limit.map_or(String::new(), |l| format!(
            " in at most {:.0} s",
            l.as_secs_f64()
        )),
        shapes.len(),
        bound.as_secs_f64(),
    );

    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut order = Order(seed);
    let mut tallies: BTreeMap<Shape, Tally> = BTreeMap::new();
    let started = Instant::now();
    let mut done = 0u64;
    // Ctrl-C ends the loop after the current run, and the summary is printed.
    let interrupted = Arc::new(AtomicBool::new(false));
    tokio_rt.spawn({
        let interrupted = interrupted.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, Ordering::Relaxed);
            }
        }
    });
    while done < runs
        && limit.is_none_or(|l| started.elapsed() < l)
        && !interrupted.load(Ordering::Relaxed)
    {
        let shape = shapes[(order.next() % shapes.len() as u64) as usize];
        let graph = Runtime::new();
        let outcome = tokio_rt.block_on(async {
            let t0 = Instant::now();
            match tokio::time::timeout(bound, shape.run(&graph)).await {
                Err(_) => Outcome::Hung,
                Ok(Err(e)) => Outcome::Error(e),
                Ok(Ok(exit)) => Outcome::Ended {
                    exit,
                    took: t0.elapsed(),
                    left: left_after(&graph).await,
                },
            }
        });
        let tally = tallies.entry(shape).or_default();
        tally.runs += 1;
        match outcome {
            Outcome::Hung => {
                tally.hangs += 1;
                println!(
                    "HANG: run {done}, shape {}, not ended after {:.1} s; the stuck graph:\n{:#?}",
                    shape.name(),
                    bound.as_secs_f64(),
                    graph.snapshot()
                );
            }
            Outcome::Error(e) => {
                tally.unclean += 1;
                println!("UNCLEAN: run {done}, shape {}: {e:#}", shape.name());
            }
            Outcome::Ended { exit, took, left } => {
                tally.ended += 1;
                tally.total += took;
                if !shape.expected(&exit) {
                    tally.unclean += 1;
                    println!("UNCLEAN: run {done}, shape {}: {exit}", shape.name());
                }
                if left > 0 {
                    tally.leaked += 1;
                    println!(
                        "LEAK: run {done}, shape {}: {left} component(s) left:\n{:#?}",
                        shape.name(),
                        graph.snapshot()
                    );
                }
            }
        }
        done += 1;
    }
    // Hung runs leave tasks waiting forever; do not wait for them.
    tokio_rt.shutdown_background();

    let elapsed = started.elapsed();
    println!();
    println!(
        "{:<22} {:>8} {:>6} {:>8} {:>7} {:>17}",
        "shape", "runs", "hangs", "unclean", "leaked", "mean time to end"
    );
    let mut sum = Tally::default();
    for (shape, t) in &tallies {
        print_row(shape.name(), t);
        sum.runs += t.runs;
        sum.hangs += t.hangs;
        sum.unclean += t.unclean;
        sum.leaked += t.leaked;
        sum.ended += t.ended;
        sum.total += t.total;
    }
    print_row("all", &sum);
    println!(
        "{done} runs in {:.1} s (seed {seed})",
        elapsed.as_secs_f64()
    );
    if sum.hangs + sum.unclean + sum.leaked > 0 {
        println!("FAILED");
        std::process::exit(1);
    }
    println!("ok");
    Ok(())
}

fn print_row(name: &str, t: &Tally) {
    let mean = t.total.as_secs_f64() / t.ended.max(1) as f64;
    println!(
        "{:<22} {:>8} {:>6} {:>8} {:>7} {:>14.1} µs",
        name,
        t.runs,
        t.hangs,
        t.unclean,
        t.leaked,
        mean * 1e6
    );
}
