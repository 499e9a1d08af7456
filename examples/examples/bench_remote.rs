//! Benchmark of remote links over Zenoh, side by side with raw Zenoh publisher/subscriber
//! on the same session configuration (peer mode, TCP on loopback, no scouting), between
//! two processes: this one sends, a child (`--serve`) receives.
//!
//! ```text
//! cargo run --release -p examples --features zenoh --example bench_remote
//! cargo run --release -p examples --features zenoh --example bench_remote -- --quick
//! ```
//!
//! Prints, alternating raw and remote-link runs in each round (ABBA), the median of:
//! 64-byte messages/s of a flood (raw: `put` with congestion control `Block`; link: an
//! axon outbox linked with `Policy::Block` to an inbox in the other process), one-way
//! latency p50/p99 of paced messages (one a millisecond), and a 4-stage pipeline in one
//! process against the same pipeline split 2+2 across the two processes.
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, anyhow, bail};
use axon::component::from_fn;
use axon::{Context, Policy, Runtime};
use clap::Parser;
use remote::{Remote, ZenohConfig};
use tokio::sync::oneshot;
use zenoh::qos::CongestionControl;

#[derive(Parser)]
#[command(about = "Remote links against raw Zenoh pub/sub, between two processes")]
struct Args {
    /// Messages per flood run.
    #[arg(long, default_value_t = 300_000)]
    messages: u64,
    /// Messages per paced (latency) run, one a millisecond.
    #[arg(long, default_value_t = 2_000)]
    paced: u64,
    /// Rounds; each runs raw and link (ABBA order); medians are reported.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// A short run: 50 000 messages, 300 paced, 2 rounds.
    #[arg(long)]
    quick: bool,
    /// Internal: be the receiving process, listening here.
    #[arg(long, hide = true)]
    serve: Option<String>,
}

const SIZE: usize = 64;

/// One row of the table: its name, and each round's msgs/s, p50 and p99 (ns).
type Row = (&'static str, Vec<f64>, Vec<u64>, Vec<u64>);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn payload() -> Vec<u8> {
    let mut v = vec![7u8; SIZE];
    v[..8].copy_from_slice(&now_ns().to_le_bytes());
    v
}

fn sent_ns(p: &[u8]) -> u64 {
    u64::from_le_bytes(p[..8].try_into().unwrap_or([0; 8]))
}

/// What the receiving side measured: messages, first-to-last time, latencies.
#[derive(Default)]
struct Tally {
    n: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    lat: Vec<u64>,
}

impl Tally {
    fn add(&mut self, p: &[u8]) {
        let t = Instant::now();
        self.first.get_or_insert(t);
        self.last = Some(t);
        self.n += 1;
        self.lat.push(now_ns().saturating_sub(sent_ns(p)));
    }

    fn line(mut self) -> String {
        self.lat.sort_unstable();
        let q = |f: f64| {
            self.lat
                .get(((self.lat.len() as f64 - 1.0) * f) as usize)
                .copied()
                .unwrap_or(0)
        };
        let span = match (self.first, self.last) {
            (Some(a), Some(b)) => (b - a).as_nanos() as u64,
            _ => 0,
        };
        format!("result {} {} {} {}", self.n, span, q(0.5), q(0.99))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let mut args = Args::parse();
    if let Some(listen) = args.serve.take() {
        return serve(&listen).await;
    }
    if args.quick {
        (args.messages, args.paced, args.rounds) = (50_000, 300, 2);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Peer::spawn(&addr)?;
    let remote = Remote::open("benchsrc", &ZenohConfig::default().connect(&addr)?).await?;
    let mut rows: Vec<Row> = Vec::new();
    let mut add = |name, rate: f64, p50: u64, p99: u64| {
        if let Some(r) = rows.iter_mut().find(|r| r.0 == name) {
            r.1.push(rate);
            r.2.push(p50);
            r.3.push(p99);
        } else {
            rows.push((name, vec![rate], vec![p50], vec![p99]));
        }
    };
    let mut id = 0;
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            ["raw", "link"]
        } else {
            ["link", "raw"]
        };
        for mode in order {
            for paced in [false, true] {
                id += 1;
                let n = if paced { args.paced } else { args.messages };
                let r = if mode == "raw" {
                    raw_run(&remote, &mut child, id, n, paced).await?
                } else {
                    link_run(&remote, &mut child, id, n, paced).await?
                };
                let name = match (mode, paced) {
                    ("raw", false) => "raw zenoh pub/sub, flood",
                    ("raw", true) => "raw zenoh pub/sub, paced 1/ms",
                    (_, false) => "remote link (Block), flood",
                    (_, true) => "remote link (Block), paced 1/ms",
                };
                add(name, r.0, r.1, r.2);
            }
        }
        for split in if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            id += 1;
            let rate = pipeline_run(&remote, &mut child, id, args.messages, split).await?;
            let name = if split {
                "4-stage pipeline, split 2+2"
            } else {
                "4-stage pipeline, one process"
            };
            add(name, rate, 0, 0);
        }
    }
    child.say("quit");
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medu = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    println!(
        "bench_remote: {} B messages, {} flood / {} paced, {} rounds, medians",
        SIZE, args.messages, args.paced, args.rounds
    );
    println!("| run | msgs/s | p50 µs | p99 µs |\n| --- | ---: | ---: | ---: |");
    let mut rates = std::collections::HashMap::new();
    for (name, mut r, mut p50, mut p99) in rows {
        let m = med(&mut r);
        rates.insert(name, m);
        if name.contains("pipeline") {
            println!("| {name} | {m:.0} | | |");
        } else {
            let (a, b) = (medu(&mut p50) as f64 / 1e3, medu(&mut p99) as f64 / 1e3);
            println!("| {name} | {m:.0} | {a:.1} | {b:.1} |");
        }
    }
    let ratio = |a: &str, b: &str| rates.get(a).zip(rates.get(b)).map_or(0.0, |(a, b)| a / b);
    println!(
        "link / raw (flood): {:.2}x   split / one process (pipeline): {:.2}x",
        ratio("remote link (Block), flood", "raw zenoh pub/sub, flood"),
        ratio(
            "4-stage pipeline, split 2+2",
            "4-stage pipeline, one process"
        )
    );
    Ok(())
}

/// Raw pub/sub: the child subscribes, this process puts with `Block`.
async fn raw_run(
    remote: &Remote,
    child: &mut Peer,
    id: u64,
    n: u64,
    paced: bool,
) -> Result<(f64, u64, u64)> {
    child.say(&format!("raw {id} {n}"));
    child.expect("ready")?;
    let key = format!("bench/raw/{id}");
    let publisher = remote
        .session()
        .declare_publisher(key)
        .congestion_control(CongestionControl::Block)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let listener = publisher
        .matching_listener()
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if !publisher
        .matching_status()
        .await
        .map_err(|e| anyhow!("{e}"))?
        .matching()
    {
        while !listener
            .recv_async()
            .await
            .map_err(|e| anyhow!("{e}"))?
            .matching()
        {}
    }
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    for _ in 0..n {
        if paced {
            tick.tick().await;
        }
        publisher.put(payload()).await.map_err(|e| anyhow!("{e}"))?;
    }
    child.result(n)
}

/// A remote link: a source component here, linked with `Block` to a sink in the child.
async fn link_run(
    remote: &Remote,
    child: &mut Peer,
    id: u64,
    n: u64,
    paced: bool,
) -> Result<(f64, u64, u64)> {
    child.say(&format!("link {id} {n}"));
    child.expect("ready")?;
    let rt = Runtime::new();
    let source = rt.add(from_fn(
        "source",
        move |mut ctx: Context<(), Vec<u8>>| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            for _ in 0..n {
                if paced {
                    tick.tick().await;
                }
                ctx.send(payload()).await?;
            }
            Ok(())
        },
    ))?;
    let to = format!("bench/sink{id}/inbox").parse()?;
    let endpoint = remote.link_to(&rt, source.outbox(), &to, Policy::Block)?;
    source.start();
    let r = child.result(n);
    endpoint.join().await;
    r
}

/// Stage: passes each message on, touching one byte.
fn stage(name: &'static str) -> impl axon::Component<In = Vec<u8>, Out = Vec<u8>> {
    from_fn(name, |mut ctx: Context<Vec<u8>, Vec<u8>>| async move {
        while let Some(mut m) = ctx.recv().await {
            m[8] = m[8].wrapping_add(1);
            ctx.send(m).await?;
        }
        Ok(())
    })
}

/// source -> s2 -> s3 -> sink, all here or split after s2 (s3 and the sink in the child).
async fn pipeline_run(
    remote: &Remote,
    child: &mut Peer,
    id: u64,
    n: u64,
    split: bool,
) -> Result<f64> {
    let rt = Runtime::new();
    let start = Instant::now();
    let source = rt.add(from_fn(
        "s1",
        move |mut ctx: Context<(), Vec<u8>>| async move {
            for _ in 0..n {
                ctx.send(payload()).await?;
            }
            Ok(())
        },
    ))?;
    let s2 = rt.add(stage("s2"))?;
    rt.link(source.outbox(), s2.inbox())?;
    rt.link(source.signal(), s2.control())?;
    if split {
        child.say(&format!("pipe {id} {n}"));
        child.expect("ready")?;
        let to = format!("bench/pipe{id}/inbox").parse()?;
        let start = Instant::now();
        let endpoint = remote.link_to(&rt, s2.outbox(), &to, Policy::Block)?;
        s2.start();
        source.start();
        child.result(n)?;
        endpoint.join().await;
        return Ok(n as f64 / start.elapsed().as_secs_f64());
    }
    let s3 = rt.add(stage("s3"))?;
    let (done_tx, done_rx) = oneshot::channel();
    let sink = rt.add(from_fn(
        "s4",
        move |mut ctx: Context<Vec<u8>, ()>| async move {
            let mut t = Tally::default();
            while let Some(m) = ctx.recv().await {
                t.add(&m);
            }
            let _ = done_tx.send(t.n);
            Ok(())
        },
    ))?;
    rt.link(s2.outbox(), s3.inbox())?;
    rt.link(s2.signal(), s3.control())?;
    rt.link(s3.outbox(), sink.inbox())?;
    rt.link(s3.signal(), sink.control())?;
    sink.start();
    s3.start();
    s2.start();
    source.start();
    let got = done_rx.await?;
    if got != n {
        bail!("pipeline delivered {got} of {n}");
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The receiving process: runs what the sender asks for on stdin.
async fn serve(listen: &str) -> Result<()> {
    let remote = Remote::open("bench", &ZenohConfig::default().listen(listen)?).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    println!("up");
    while let Some(line) = rx.recv().await {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [mode, id, n] = parts[..] else {
            return Ok(());
        };
        let n: u64 = n.parse()?;
        let tally = match mode {
            "raw" => {
                let sub = remote
                    .session()
                    .declare_subscriber(format!("bench/raw/{id}"))
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                println!("ready");
                let mut t = Tally::default();
                while t.n < n {
                    let s = sub.recv_async().await.map_err(|e| anyhow!("{e}"))?;
                    t.add(&s.payload().to_bytes());
                }
                t
            }
            "link" | "pipe" => {
                let rt = Runtime::new();
                let (done_tx, done_rx) = oneshot::channel();
                let sink = rt.add(from_fn(
                    "sink",
                    move |mut ctx: Context<Vec<u8>, ()>| async move {
                        let mut t = Tally::default();
                        while let Some(m) = ctx.recv().await {
                            t.add(&m);
                        }
                        let _ = done_tx.send(t);
                        Ok(())
                    },
                ))?;
                let name = if mode == "link" {
                    format!("sink{id}")
                } else {
                    format!("pipe{id}")
                };
                if mode == "pipe" {
                    let s3 = rt.add(stage("s3"))?;
                    rt.link(s3.outbox(), sink.inbox())?;
                    rt.link(s3.signal(), sink.control())?;
                    remote.expose_as(&rt, s3.inbox(), &name, "inbox")?;
                    s3.start();
                } else {
                    remote.expose_as(&rt, sink.inbox(), &name, "inbox")?;
                }
                sink.start();
                println!("ready");
                done_rx.await?
            }
            _ => return Ok(()),
        };
        println!("{}", tally.line());
    }
    Ok(())
}

/// The child process and its stdout.
struct Peer {
    child: Child,
    stdin: ChildStdin,
    lines: std_mpsc::Receiver<String>,
}

impl Peer {
    fn spawn(listen: &str) -> Result<Peer> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["--serve", listen])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().context("child stdout")?;
        let stdin = child.stdin.take().context("child stdin")?;
        let (tx, lines) = std_mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut p = Peer {
            child,
            stdin,
            lines,
        };
        p.expect("up")?;
        Ok(p)
    }

    fn say(&mut self, cmd: &str) {
        let _ = writeln!(self.stdin, "{cmd}").and_then(|_| self.stdin.flush());
    }

    fn expect(&mut self, prefix: &str) -> Result<String> {
        let line = self.lines.recv_timeout(Duration::from_secs(120))?;
        if !line.starts_with(prefix) {
            bail!("child said `{line}`, expected `{prefix}`");
        }
        Ok(line)
    }

    /// The child's result line: (msgs/s first to last, p50 ns, p99 ns).
    fn result(&mut self, n: u64) -> Result<(f64, u64, u64)> {
        let line = self.expect("result")?;
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        let [got, span, p50, p99] = v[..] else {
            bail!("bad result `{line}`")
        };
        if got != n {
            bail!("received {got} of {n}");
        }
        Ok((
            (got.saturating_sub(1)) as f64 / (span.max(1) as f64 / 1e9),
            p50,
            p99,
        ))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
