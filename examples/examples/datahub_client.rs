//! A small SmartGet datahub client: register, set status, request nodes, deregister.
//!
//! ```text
//! cargo run --release --example datahub_client -- register 8000
//! cargo run --release --example datahub_client -- setstatus 1 2
//! cargo run --release --example datahub_client -- requestnodes 5
//! cargo run --release --example datahub_client -- --hub 127.0.0.1:20110 deregister 8000
//! ```
//!
//! Like the original client, each request is sent on its own connection with no line
//! end; the reply is read until the server closes and printed as it arrived (CRLFs
//! shown as line breaks).
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints the replies"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use components::registry::NodeId;
use components::registry::datahub::{self, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Talk to a SmartGet datahub.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The datahub's address.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], datahub::DEFAULT_PORT)))]
    hub: SocketAddr,
    /// Give up on a request after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// What to ask.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Register this host's node listening on PORT; prints its id.
    Register {
        /// The port the node listens on.
        port: u16,
    },
    /// Remove this host's node listening on PORT.
    Deregister {
        /// The port the node listens on.
        port: u16,
    },
    /// Set node ID's status: -1 zombie, 0 not available, n free connections.
    Setstatus {
        /// The node's id.
        id: u64,
        /// The new status.
        #[arg(allow_negative_numbers = true)]
        status: i64,
    },
    /// Ask for up to N free nodes (each chosen node's status goes down by one).
    Requestnodes {
        /// How many nodes.
        count: u64,
    },
}

impl Command {
    fn request(&self) -> Request {
        match *self {
            Command::Register { port } => Request::Register { port },
            Command::Deregister { port } => Request::Deregister { port },
            Command::Setstatus { id, status } => Request::SetStatus {
                id: NodeId::new(id),
                status,
            },
            Command::Requestnodes { count } => Request::RequestNodes { count },
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    let request = args.command.request().to_string();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(args.hub).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = tokio::time::timeout(Duration::from_secs(args.timeout), exchange)
        .await
        .context("no reply in time")?
        .with_context(|| format!("datahub at {}", args.hub))?;
    let reply = String::from_utf8_lossy(&reply);
    println!("{}", reply.replace("\r\n", "\n").trim_end());
    anyhow::ensure!(
        reply.starts_with("200 OK"),
        "the datahub refused {request:?}"
    );
    Ok(())
}
