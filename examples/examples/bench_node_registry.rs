//! Node model benchmark: what one MAIN command costs the sensornet's node model
//! (apply the command, then find the next AWOL deadline, as `SensorNet` does per
//! event) with few and with many nodes known. The cost per command must not grow with
//! the number of nodes (issue 13: it was a scan of every node, 230 µs at 60 000).
//!
//! ```text
//! cargo run --release -p examples --example bench_node_registry
//! ```
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program prints its figures"
)]

use std::hint::black_box;
use std::time::Instant;

use clap::Parser;
use components::cosmici::{MainCommand, NodeConfig, NodeRegistry};

/// Node model cost per command against the number of nodes.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Commands timed per size.
    #[arg(long, default_value_t = 200_000)]
    commands: usize,
    /// Runs per size; the median is printed.
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

fn per_command_ns(nodes: u32, commands: usize) -> f64 {
    let mut registry = NodeRegistry::new(NodeConfig::default());
    let heartbeats: Vec<MainCommand> = (0..nodes)
        .map(|id| MainCommand::parse(&format!("HEARTBEAT {id} 1")).expect("a command"))
        .collect();
    for (now, cmd) in heartbeats.iter().enumerate() {
        registry.apply(cmd, now as u64);
    }
    let start = Instant::now();
    let mut now = u64::from(nodes);
    for i in 0..commands {
        now += 1;
        let cmd = &heartbeats[i % heartbeats.len()];
        black_box(registry.apply(cmd, now));
        black_box(registry.next_awol_deadline());
    }
    start.elapsed().as_nanos() as f64 / commands as f64
}

fn main() {
    let args = Args::parse();
    println!("nodes    ns/command (median of {})", args.runs);
    for nodes in [4u32, 64, 1_000, 60_000] {
        let mut runs: Vec<f64> = (0..args.runs.max(1))
            .map(|_| per_command_ns(nodes, args.commands))
            .collect();
        runs.sort_by(f64::total_cmp);
        println!("{nodes:>6}   {:>8.0}", runs[runs.len() / 2]);
    }
}
