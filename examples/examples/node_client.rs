//! A small Lumina node: registers, optionally sends an event, calls a command, and
//! answers calls of its own command until stopped.
//!
//! ```text
//! cargo run --release --example node_client -- --node lamp --command on --event ding
//! cargo run --release --example node_client -- --node panel --fire lamp/ding --call lamp/on --args '[3]'
//! ```
//!
//! With `--call` it prints the reply and exits; otherwise it stays connected, answers
//! calls of its declared commands with `"ok"`, and sends a bare newline every 60 s,
//! until SIGINT or SIGTERM.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints what it hears"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use components::registry::lumina::{self, Message};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A Lumina node for trying a node server.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The node server's address.
    #[arg(long, default_value_t = SocketAddr::from(([127, 0, 0, 1], lumina::DEFAULT_PORT)))]
    server: SocketAddr,
    /// This node's name.
    #[arg(long, default_value = "demo")]
    node: String,
    /// An event this node declares (repeatable).
    #[arg(long)]
    event: Vec<String>,
    /// A command this node declares and answers with "ok" (repeatable).
    #[arg(long)]
    command: Vec<String>,
    /// After registering, fire this event (`<node>/<event>`, declared by some node).
    #[arg(long)]
    fire: Option<String>,
    /// After registering, call this command (`<node>/<cmd>`) and print the reply.
    #[arg(long)]
    call: Option<String>,
    /// Positional arguments for `--fire` and `--call`, as a JSON list.
    #[arg(long, default_value = "[]")]
    args: String,
    /// Seconds to wait for a reply.
    #[arg(long, default_value_t = 15)]
    timeout: u64,
}

/// A JSON string literal for a plain name (Rust's escapes agree with JSON's for
/// printable text; every line is checked by parsing it before it is sent).
fn quote(text: &str) -> String {
    format!("{text:?}")
}

fn names(list: &[String]) -> String {
    let quoted: Vec<String> = list.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(","))
}

struct Link {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
    timeout: Duration,
}

impl Link {
    async fn send(&mut self, line: String) -> anyhow::Result<()> {
        // Every line we build must be a valid message: check before it leaves.
        let message = Message::parse_line(line.as_bytes())?.context("an empty message")?;
        self.write.write_all(message.to_line().as_bytes()).await?;
        Ok(())
    }

    async fn next(&mut self) -> anyhow::Result<Option<Message>> {
        loop {
            let Some(line) = self.lines.next_line().await? else {
                return Ok(None);
            };
            if let Some(message) = Message::parse_line(line.as_bytes())? {
                return Ok(Some(message));
            }
        }
    }

    async fn reply_to(&mut self, seq: i64) -> anyhow::Result<Message> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, async {
            while let Some(message) = self.next().await? {
                if message.is_reply() && message.seq == Some(seq) {
                    return Ok(message);
                }
                println!("heard {message}");
            }
            bail!("the server closed the connection")
        })
        .await
        .context("no reply in time")?
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    let stream = tokio::net::TcpStream::connect(args.server)
        .await
        .with_context(|| format!("node server at {}", args.server))?;
    let (read, write) = stream.into_split();
    let mut link = Link {
        lines: BufReader::new(read).lines(),
        write,
        timeout: Duration::from_secs(args.timeout),
    };

    link.send(format!(
        r#"{{"name":"register","seq":1,"kw":{{"node":{},"module":"node_client","events":{},"commands":{}}}}}"#,
        quote(&args.node),
        names(&args.event),
        names(&args.command)
    ))
    .await?;
    let reply = link.reply_to(1).await?;
    println!("register: {reply}");
    anyhow::ensure!(reply.success == Some(true), "registration refused");
    link.send(r#"{"name":"status","args":["GREEN","OFF","running"]}"#.to_owned())
        .await?;

    if let Some(event) = &args.fire {
        link.send(format!(
            r#"{{"name":{},"args":{}}}"#,
            quote(event),
            args.args
        ))
        .await?;
        println!("fired {event}");
    }
    if let Some(command) = &args.call {
        link.send(format!(
            r#"{{"name":{},"args":{},"seq":2}}"#,
            quote(command),
            args.args
        ))
        .await?;
        let reply = link.reply_to(2).await?;
        println!("{command}: {reply}");
        anyhow::ensure!(reply.success == Some(true), "{command} failed");
        return Ok(());
    }

    let stop = examples::stop_signal();
    tokio::pin!(stop);
    let mut keepalive = tokio::time::interval(lumina::SILENCE_LIMIT / 3);
    keepalive.tick().await;
    loop {
        tokio::select! {
            r = &mut stop => { r?; break; }
            _ = keepalive.tick() => link.write.write_all(b"\n").await?,
            message = link.next() => {
                let Some(message) = message? else { bail!("the server closed the connection") };
                println!("heard {message}");
                if message.wants_reply() {
                    let line = message.success_reply("ok".into()).to_line();
                    link.write.write_all(line.as_bytes()).await?;
                }
            }
        }
    }
    Ok(())
}
