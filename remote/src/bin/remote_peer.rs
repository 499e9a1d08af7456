//! One end of a remote link, for the two-process tests (and by hand).
//!
//! `remote_peer --role send --to GRAPH/COMPONENT/BOX --count N [--policy P] [--end shutdown]`
//! numbers N messages 0..N and sends them through a remote link; `remote_peer --role recv
//! --graph GRAPH` offers `GRAPH/sink/inbox` and checks what arrives: order, duplicates,
//! gaps. Both take `--zenoh-listen`/`--zenoh-connect`, `--window`, `--grace-ms`,
//! `--lease-ms`; the sender `--per-ms K` to send K messages a millisecond. The receiver with `--paused` reads nothing until `go` arrives on stdin,
//! and prints `window-full` once the sender has used all its credit. `status` on stdin
//! prints the counters. Lines on stdout are the protocol the tests read.
#![allow(clippy::print_stdout, reason = "the tests read what it prints")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axon::{BoxError, Context, Exit, Policy, Runtime, component::from_fn};
use remote::{LinkOptions, Remote, ZenohConfig};
use tokio::sync::watch;

struct Args {
    role: String,
    graph: String,
    to: String,
    count: u64,
    policy: Policy,
    end_shutdown: bool,
    paused: bool,
    per_ms: u64,
    opts: LinkOptions,
    zenoh: ZenohConfig,
}

fn parse() -> Result<Args, BoxError> {
    let (mut zenoh, rest) = ZenohConfig::from_args(std::env::args().skip(1))?;
    let mut a = Args {
        role: String::new(),
        graph: "test".into(),
        to: "test/sink/inbox".into(),
        count: 1000,
        policy: Policy::Block,
        end_shutdown: false,
        paused: false,
        per_ms: 0,
        opts: LinkOptions::default(),
        zenoh: ZenohConfig::default(),
    };
    let mut it = rest.into_iter();
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--role" => a.role = val()?,
            "--graph" => a.graph = val()?,
            "--to" => a.to = val()?,
            "--count" => a.count = val()?.parse()?,
            "--window" => a.opts.window = val()?.parse()?,
            "--grace-ms" => a.opts.grace = Duration::from_millis(val()?.parse()?),
            "--lease-ms" => zenoh.lease = Duration::from_millis(val()?.parse()?),
            "--policy" => {
                a.policy = match val()?.as_str() {
                    "block" => Policy::Block,
                    "drop-newest" => Policy::DropNewest,
                    "drop-oldest" => Policy::DropOldest,
                    "keep-latest" => Policy::KeepLatest,
                    p => return Err(format!("unknown policy {p}").into()),
                }
            }
            "--end" => a.end_shutdown = val()? == "shutdown",
            "--paused" => a.paused = true,
            "--per-ms" => a.per_ms = val()?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    a.zenoh = zenoh;
    Ok(a)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let args = parse()?;
    let remote = Remote::open(&args.graph, &args.zenoh)
        .await?
        .with_options(args.opts.clone());
    let rt = Runtime::new();
    let (go_tx, go_rx) = watch::channel(!args.paused);
    let counter = Arc::new(AtomicU64::new(0));
    {
        let (remote, counter) = (remote.clone(), counter.clone());
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                match line.trim() {
                    "go" => {
                        let _ = go_tx.send(true);
                    }
                    "status" => println!(
                        "status count={} links={}",
                        counter.load(Relaxed),
                        serde_json::to_string(&remote.links()).unwrap_or_default()
                    ),
                    _ => {}
                }
            }
        });
    }
    let exit = match args.role.as_str() {
        "send" => send(&args, &remote, &rt, counter).await?,
        "recv" => recv(&args, &remote, &rt, counter, go_rx).await?,
        r => return Err(format!("--role send|recv, not `{r}`").into()),
    };
    for l in remote.links() {
        println!("link {}", serde_json::to_string(&l)?);
    }
    println!("exit {exit}");
    Ok(())
}

async fn send(
    args: &Args,
    remote: &Remote,
    rt: &Runtime,
    counter: Arc<AtomicU64>,
) -> Result<Exit, BoxError> {
    let (count, end_shutdown, per_ms) = (args.count, args.end_shutdown, args.per_ms);
    let producer = rt.add(from_fn(
        "numbers",
        move |mut ctx: Context<(), u64>| async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            for n in 0..count {
                if per_ms > 0 && n.is_multiple_of(per_ms) {
                    tick.tick().await;
                }
                ctx.send(n).await?;
                counter.store(n + 1, Relaxed);
            }
            if end_shutdown {
                ctx.mark_shut_down();
            }
            Ok(())
        },
    ))?;
    let endpoint = remote.link_to(rt, producer.outbox(), &args.to.parse()?, args.policy)?;
    println!("ready");
    producer.start();
    Ok(endpoint.join().await)
}

async fn recv(
    args: &Args,
    remote: &Remote,
    rt: &Runtime,
    counter: Arc<AtomicU64>,
    mut go: watch::Receiver<bool>,
) -> Result<Exit, BoxError> {
    let sink = rt.add(from_fn(
        "sink",
        move |mut ctx: Context<u64, ()>| async move {
            let _ = go.wait_for(|go| *go).await;
            let (mut last, mut dups, mut gaps) = (None::<u64>, 0u64, 0u64);
            while let Some(n) = ctx.recv().await {
                match last {
                    Some(l) if n <= l => dups += 1,
                    Some(l) if n > l + 1 => gaps += n - l - 1,
                    None if n > 0 => gaps += n,
                    _ => {}
                }
                last = Some(last.map_or(n, |l| l.max(n)));
                counter.fetch_add(1, Relaxed);
            }
            println!(
                "final received={} last={} duplicates={dups} gaps={gaps} ended_by={:?}",
                counter.load(Relaxed),
                last.map_or(-1, |l| l as i64),
                ctx.ended_by()
            );
            Ok(())
        },
    ))?;
    let endpoint = remote.expose_named::<u64>(rt, sink.id(), "inbox")?;
    let sink = sink.start();
    println!("ready");
    if args.paused {
        // Tell the test when the sender has used all the credit it was given.
        let remote = remote.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tick.tick().await;
                if let Some(l) = remote.links().first()
                    && l.next_seq > 0
                    && l.next_seq >= l.credit_limit
                {
                    println!("window-full next={} limit={}", l.next_seq, l.credit_limit);
                    return;
                }
            }
        });
    }
    let endpoint_exit = endpoint.join().await;
    println!("endpoint-exit {endpoint_exit}");
    Ok(sink.join().await)
}
