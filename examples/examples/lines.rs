//! `lines`: number, upper-case and count the lines of a text through an axon graph,
//! then print the graph itself and a one-line summary.
//!
//! ```text
//! cargo run --release --example lines                 # a built-in sample text
//! cargo run --release --example lines -- notes.txt    # a file
//! some-command | cargo run --release --example lines -- -   # standard input
//! cargo run --release --example lines -- --graph dot  # the graph as Graphviz DOT
//! ```
//!
//! The graph:
//!
//! ```text
//! ConsoleReader -> tee (Fanout) -> number (Transform) -> ConsoleWriter (stdout)
//!                     \-- stats --> word count -> main (totals)
//! ```

#![allow(
    clippy::print_stdout,
    reason = "a command-line demo: its report goes to standard output"
)]

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use anyhow::Context as _;
use axon::component::from_fn;
use axon::{Context, Runtime};
use clap::{Parser, ValueEnum};
use components::console::{BlockingReader, ConsoleReader, ConsoleWriter};
use components::fanout::Fanout;
use components::transform::Transform;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::oneshot;

/// The text read when no input is given.
const SAMPLE: &str = "\
Programs are graphs of components.
Each component owns named inboxes and outboxes,
and links carry typed messages from an outbox to an inbox.

A component is a value whose body is one async task:
it reads its inboxes, writes its outboxes,
and ends when its producer has finished.

Fan-out is explicit, backpressure reaches the source,
and everything alive can be seen, as this program shows.
";

/// Number, upper-case and count the lines of a text, through an axon graph, then
/// print the graph and a summary.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The text to read: a file, or `-` for standard input. Without it, a built-in
    /// sample text.
    input: Option<PathBuf>,
    /// How to print the graph at the end.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    graph: GraphFormat,
}

/// The formats the graph can be printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart.
    Mermaid,
    /// A Graphviz DOT digraph.
    Dot,
    /// JSON, with every box and its counters.
    Json,
    /// Do not print the graph.
    None,
}

/// What the word counter found.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    lines: u64,
    words: u64,
    bytes: u64,
}

type Input = Box<dyn AsyncRead + Unpin + Send>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    examples::init_logging("warn");

    let (input, source): (Input, String) = match &args.input {
        None => (Box::new(SAMPLE.as_bytes()), "the built-in sample".into()),
        Some(p) if p.as_os_str() == "-" => (
            Box::new(BlockingReader::new(io::stdin())),
            "standard input".into(),
        ),
        Some(p) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            (Box::new(BlockingReader::new(file)), p.display().to_string())
        }
    };
    // The reader waits for `go`, so the picture of the graph, taken first, shows every
    // component running even when the input is tiny.
    let (go, gate) = oneshot::channel();
    let input = Held {
        gate: Some(gate),
        inner: input,
    };

    let rt = Runtime::new();
    let reader = rt.add(ConsoleReader::new(input))?;
    let tee = rt.add(Fanout::<String>::new(["outbox", "stats"]).named("tee"))?;
    let mut n = 0u64;
    let number = rt.add(
        Transform::new(move |line: String| {
            n += 1;
            let words = line.split_whitespace().count();
            format!("{n:>4} | {words:>2} words | {}", line.to_uppercase())
        })
        .named("number"),
    )?;
    let writer = rt.add(ConsoleWriter::<String, _>::stdout())?;
    let counter = rt.add(from_fn(
        "word count",
        |mut ctx: Context<String, Totals>| async move {
            let mut t = Totals::default();
            while let Some(line) = ctx.recv().await {
                t.lines += 1;
                t.words += line.split_whitespace().count() as u64;
                t.bytes += line.len() as u64;
            }
            ctx.send(t).await?;
            Ok(())
        },
    ))?;
    let mut main_box = rt.external("main");
    let (totals_ref, mut totals_in) = main_box.add_inbox::<Totals>("totals", 1)?;

    rt.link(reader.outbox(), tee.inbox())?;
    rt.link(reader.signal(), tee.control())?;
    rt.link(tee.outbox(), number.inbox())?;
    rt.link(tee.signal(), number.control())?;
    rt.link(rt.box_ref::<String>(tee.id(), "stats")?, counter.inbox())?;
    rt.link(number.outbox(), writer.inbox())?;
    rt.link(number.signal(), writer.control())?;
    rt.link(counter.outbox(), totals_ref)?;

    let started = Instant::now();
    let handles = [
        reader.start(),
        tee.start(),
        number.start(),
        writer.start(),
        counter.start(),
    ];
    let picture = rt.snapshot();
    let components = picture.components.len();
    // If the reader has already failed, it no longer waits; nothing to tell.
    let _ = go.send(());

    let mut exits = Vec::new();
    for h in handles {
        let id = h.id();
        let name = picture
            .component(id)
            .map_or_else(|| id.to_string(), |c| c.name.clone());
        exits.push((name, h.join().await));
    }
    let elapsed = started.elapsed();
    // The counter sent its totals before it ended (none if it failed).
    let totals = totals_in.try_recv().ok();

    let failures: Vec<String> = exits
        .iter()
        .filter(|(_, e)| !e.is_clean())
        .map(|(name, e)| format!("{name} {e}"))
        .collect();
    let health = if failures.is_empty() {
        format!("all {} components ended cleanly", exits.len())
    } else {
        failures.join("; ")
    };
    let totals = totals.unwrap_or_default();
    let graph = match args.graph {
        GraphFormat::Mermaid => Some(picture.to_mermaid()),
        GraphFormat::Dot => Some(picture.to_dot()),
        GraphFormat::Json => Some(picture.to_json()),
        GraphFormat::None => None,
    };
    let summary = format!(
        "lines: {} lines, {} words, {} bytes from {source} in {:.1} ms through {components} components; {health}",
        totals.lines,
        totals.words,
        totals.bytes,
        elapsed.as_secs_f64() * 1000.0,
    );
    match report(graph.as_deref(), &summary) {
        // Someone closed our output (`lines | head`): nothing left to say.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{health}")
    }
}

/// Print the graph (as it was while running) and the summary.
fn report(graph: Option<&str>, summary: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if let Some(graph) = graph {
        writeln!(out, "\nThe graph, while it ran:\n")?;
        out.write_all(graph.as_bytes())?;
    }
    writeln!(out, "\n{summary}")?;
    out.flush()
}

/// A reader that reads nothing until its gate opens (or is dropped).
struct Held<R> {
    gate: Option<oneshot::Receiver<()>>,
    inner: R,
}

impl<R: AsyncRead + Unpin> AsyncRead for Held<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(gate) = self.gate.as_mut() {
            if Pin::new(gate).poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.gate = None;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}
