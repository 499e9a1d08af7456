//! buildworker: a Buildbot-style worker — logs in to a `buildmaster` and runs the
//! commands it is given in its working directory, streaming their output.
//!
//! ```text
//! echo s3cret > /tmp/w1.secret
//! cargo run --example buildworker -- --connect 127.0.0.1:9989 --name w1 \
//!     --secret-file /tmp/w1.secret --workdir /tmp
//! ```
//!
//! Reconnects with backoff when the connection is lost; a refused login is not
//! retried. SIGINT or SIGTERM stop it (its running commands are stopped as the
//! connection closes), then it prints a summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use components::workers::{Worker, WorkerConfig};

/// A worker for buildmaster: logs in with a shared secret and runs shell commands.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// The master's worker port.
    #[arg(long, default_value = "127.0.0.1:9989")]
    connect: SocketAddr,
    /// This worker's registered name.
    #[arg(long)]
    name: String,
    /// File holding the secret (its first line; never sent, only HMACs of the
    /// master's challenges are).
    #[arg(long)]
    secret_file: PathBuf,
    /// Directory commands run in.
    #[arg(long, default_value = ".")]
    workdir: PathBuf,
    /// Seconds between SIGTERM and SIGKILL when a command is interrupted.
    #[arg(long, default_value_t = 5)]
    grace: u64,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, default_value_t = 30)]
    max_backoff: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
    let secret = std::fs::read_to_string(&args.secret_file)
        .with_context(|| format!("reading {}", args.secret_file.display()))?;
    let secret = secret.lines().next().unwrap_or_default().trim().to_string();
    anyhow::ensure!(
        !secret.is_empty(),
        "{} holds no secret",
        args.secret_file.display()
    );
    let workdir = args
        .workdir
        .canonicalize()
        .with_context(|| format!("workdir {}", args.workdir.display()))?;
    let config = WorkerConfig::new(&args.name, secret, workdir)
        .interrupt_grace(Duration::from_secs(args.grace));
    let worker = Worker::new(config);
    let status = worker.status();
    tracing::info!("buildworker {}: connecting to {}", args.name, args.connect);
    let ended = tokio::select! {
        r = worker.run(args.connect, Duration::from_secs(args.max_backoff)) => {
            r.map(|()| "the master asked it to shut down".to_string()).map_err(anyhow::Error::from)
        }
        s = examples::stop_signal() => s.map(|()| "stopped by signal".to_string()),
    };
    let log = status.log();
    println!(
        "buildworker {}: {}; {} lines printed to its log by the master",
        args.name,
        match &ended {
            Ok(why) => why.clone(),
            Err(e) => format!("ended: {e}"),
        },
        log.len(),
    );
    ended.map(drop)
}
