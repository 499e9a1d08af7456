//! A Pipeline ends when its input ends — every time.
//!
//! Regression test for a lost child-exit report: a composite could take its last child's
//! exit report, look at its list of children before that child had left it, and wait for
//! a report that would never come. The window is a few instructions wide, so each shape
//! runs many times on a two-worker runtime; before the fix one of these four shapes hung
//! about once in 3 000–12 000 runs, so together they fail on the old code in most runs. Every run has a
//! time bound, and the whole loop a count and a time bound.

use std::time::{Duration, Instant};

use axon::component::from_fn;
use axon::{BoxError, Component, Context, Exit, Runtime};
use chassis::pipeline::Pipeline;
use components::console::{ConsoleReader, ConsoleWriter};

/// How long one run may take before it counts as a hang (a run takes microseconds).
const RUN_BOUND: Duration = Duration::from_secs(5);
/// The loop's own bound: stops early (still asserting) on a very slow machine.
const LOOP_BOUND: Duration = Duration::from_secs(40);

const INPUT: &[u8] = b"1\n2\n3\n4\n5\n";

fn counter() -> impl Component<In = String, Out = ()> {
    from_fn("count", |mut ctx: Context<String, ()>| async move {
        while ctx.recv().await.is_some() {}
        Ok::<(), BoxError>(())
    })
}

fn numbers() -> impl Component<In = (), Out = String> {
    from_fn("numbers", |mut ctx: Context<(), String>| async move {
        for i in 0..5 {
            ctx.send(format!("{i}\n")).await?;
        }
        Ok::<(), BoxError>(())
    })
}

/// Runs `make()` until `runs` runs or the loop bound; returns (runs done, hangs, unclean).
fn run_many<C, F>(runs: usize, make: F) -> (usize, usize, Vec<String>)
where
    C: Component,
    F: Fn() -> C,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let mut hangs = 0;
    let mut unclean = Vec::new();
    let mut done = 0;
    while done < runs && started.elapsed() < LOOP_BOUND {
        let graph = Runtime::new();
        let component = make();
        let exit = rt.block_on(async {
            let h = graph.spawn(component).expect("spawn");
            tokio::time::timeout(RUN_BOUND, h.join()).await
        });
        match exit {
            Err(_) => hangs += 1,
            Ok(exit) => {
                if !matches!(exit, Exit::Finished) {
                    unclean.push(exit.to_string());
                }
                assert_eq!(
                    graph.live_components(),
                    0,
                    "components left after run {done}"
                );
            }
        }
        done += 1;
    }
    (done, hangs, unclean)
}

fn assert_all_end(name: &str, (done, hangs, unclean): (usize, usize, Vec<String>)) {
    assert!(done >= 100, "{name}: only {done} runs in the time bound");
    assert_eq!(hangs, 0, "{name}: {hangs} of {done} runs never ended");
    assert!(unclean.is_empty(), "{name}: unclean exits {unclean:?}");
}

#[test]
fn reader_to_writer_pipeline_always_ends() {
    let r = run_many(8_000, || {
        Pipeline::new(ConsoleReader::new(INPUT)).then(ConsoleWriter::new(tokio::io::sink()))
    });
    assert_all_end("ConsoleReader -> ConsoleWriter", r);
}

#[test]
fn source_to_writer_pipeline_always_ends() {
    let r = run_many(8_000, || {
        Pipeline::new(numbers()).then(ConsoleWriter::new(tokio::io::sink()))
    });
    assert_all_end("from_fn -> ConsoleWriter", r);
}

#[test]
fn reader_to_sink_pipeline_always_ends() {
    let r = run_many(8_000, || {
        Pipeline::new(ConsoleReader::new(INPUT)).then(counter())
    });
    assert_all_end("ConsoleReader -> from_fn", r);
}

#[test]
fn nested_pipelines_always_end() {
    let r = run_many(5_000, || {
        Pipeline::new(
            Pipeline::new(ConsoleReader::new(INPUT)).then(ConsoleWriter::new(tokio::io::sink())),
        )
    });
    assert_all_end("Pipeline(Pipeline(reader -> writer))", r);
}
