//! Chat server: `SimpleServer` + `Backplane`. Every line a client sends goes to every
//! connected client, prefixed with the sender's address.
//!
//! ```text
//! cargo run --release --example chat -- --listen 127.0.0.1:0
//! ```
//!
//! Each connection's handler is a small graph:
//!
//! ```text
//! CSA -> LineDeframer -> Announce -> PublishTo("chat")      Backplane "chat"
//! CSA <- LineFramer <- SubscribeTo("chat")
//! ```
//!
//! A line longer than `--max-line` closes only that connection, after an error line.
//! SIGINT or SIGTERM shut the server down through its `Shutdown` path and print a
//! summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use axon::Request;
use axon::{
    BoxError, Component, ComponentId, Context, Control, Exit, LinkError, Policy, Runtime, Setup,
};
use bytes::Bytes;
use chassis::backplane::{Backplane, PublishTo, SubscribeTo, Subscription, subscriptions_service};
use chassis::tcp::{ConnectionInfo, ServerConfig, SimpleServer};
use clap::Parser;
use components::framing::{LineDeframer, LineFramer};

/// The Backplane every session publishes to and subscribes from.
const ROOM: &str = "chat";

/// A line-based chat server: what one client says, everyone hears.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:1601")]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// Longest line accepted, in bytes.
    #[arg(long, default_value_t = 4096)]
    max_line: usize,
    /// Most clients at once.
    #[arg(long, default_value_t = 1000)]
    max_connections: usize,
}

/// How long a session waits for the room to take its listener before passing lines on.
const JOIN_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Prefixes each line with who said it, after making sure the session's listener has
/// joined the room, so that the client hears its own first line.
///
/// The session's [`SubscribeTo`] asks to join when it starts, which may be after the
/// first line is published. So before passing anything on, this asks the same join for
/// it (the Backplane ignores the second) and waits for the Backplane's answer: the
/// listener is in the room before the first line is published.
struct Announce {
    who: SocketAddr,
    listener: ComponentId,
}

impl Component for Announce {
    type In = String;
    type Out = String;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let joins = s
            .runtime()
            .service::<Request<Subscription<String>, ()>>(&subscriptions_service(ROOM))?;
        let out =
            s.outbox::<Request<Subscription<String>, ()>>("_join", "the listener's join request")?;
        s.link(out, joins)
    }

    async fn run(self, mut ctx: Context<String, String>) -> Result<(), BoxError> {
        let mut join = ctx.outbox_named::<Request<Subscription<String>, ()>>("_join")?;
        let deliver_to = ctx.runtime().box_ref::<String>(self.listener, "outbox")?;
        let request = Subscription::Join {
            subscriber: self.listener,
            deliver_to,
            policy: Policy::DropOldest,
        };
        // No room (it has ended): the lines go nowhere either way.
        let _ = join.ask(request, JOIN_WAIT).await;
        while let Some(line) = ctx.recv().await {
            ctx.send(format!("{}: {line}", self.who)).await?;
        }
        Ok(())
    }
}

/// One client's session: lines in to the room, the room's lines out.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | passthrough to the deframer |
/// | `control` | in | `Control` | passthrough to the deframer |
/// | `outbox` | out | `Bytes` | from the framer |
/// | `signal` | out | `Control` | from the framer: the session is over |
struct ChatSession {
    info: ConnectionInfo,
    max_line: usize,
    parts: Option<(ComponentId, ComponentId)>,
}

impl Component for ChatSession {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        let deframer = s.add_child(LineDeframer::new().max_line_length(self.max_line))?;
        let subscribe = s.add_child(SubscribeTo::<String>::new(ROOM))?;
        let announce = s.add_child(Announce {
            who: self.info.peer,
            listener: subscribe.id(),
        })?;
        let publish = s.add_child(PublishTo::<String>::new(ROOM))?;
        let framer = s.add_child(LineFramer::new())?;
        s.make_passthrough("inbox")?;
        s.make_passthrough("control")?;
        let (inbox, control) = (s.own::<Bytes>("inbox")?, s.own::<Control>("control")?);
        let (outbox, signal) = (s.own::<Bytes>("outbox")?, s.own::<Control>("signal")?);
        s.link(inbox, deframer.inbox())?;
        s.link(control, deframer.control())?;
        s.link(deframer.outbox(), announce.inbox())?;
        s.link(deframer.signal(), announce.control())?;
        s.link(announce.outbox(), publish.inbox())?;
        s.link(announce.signal(), publish.control())?;
        s.link(subscribe.outbox(), framer.inbox())?;
        s.link(subscribe.signal(), framer.control())?;
        s.link(framer.outbox(), outbox)?;
        s.link(framer.signal(), signal)?;
        let notice = s.outbox::<String>("_notice", "error lines for this client")?;
        s.link(notice, framer.inbox())?;
        self.parts = Some((deframer.id(), subscribe.id()));
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let Some((deframer, subscribe)) = self.parts else {
            return Err("session set up without its parts".into());
        };
        let mut notice = ctx.outbox_named::<String>("_notice")?;
        let rt = ctx.runtime().clone();
        while let Some(child) = ctx.next_child_exit().await {
            if child.id != deframer {
                continue;
            }
            // The client's input has ended (closed, or broke the rules): tell it why if
            // it broke them, then stop listening to the room; the framer flushes and
            // its `signal` closes the connection.
            if let Exit::Failed(e) = &child.exit {
                tracing::info!(client = %self.info.peer, error = %e, "closing session");
                let _ = notice.send(format!("* error: {e}")).await;
            }
            let _ = rt.send_control(subscribe, Control::ProducerFinished).await;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging(examples::SERVER_LOG_FILTER);
    let args = Args::parse();
    let rt = Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let room = rt.spawn(Backplane::<String>::new(ROOM))?;

    let max_line = args.max_line;
    let config = ServerConfig::new(args.listen)
        .max_connections(args.max_connections)
        .max_frame(max_line)
        .drain_deadline(Duration::from_secs(2));
    let server = SimpleServer::new(config, move |info: &ConnectionInfo| ChatSession {
        info: *info,
        max_line,
        parts: None,
    })
    .context("chat server")?;
    let stats = server.stats();
    let stop = examples::StopSignal::install()?;
    tracing::info!("chat: listening on {}", server.local_addr());
    let server = rt.spawn(server)?;

    stop.recv().await?;
    tracing::info!("chat: shutting down");
    let _ = server.shutdown().await;
    let exit = server.join().await;
    let _ = room.shutdown().await;
    room.join().await;
    match stats.report() {
        Some(report) => println!("{report}"),
        None => println!("chat: server ended: {exit}"),
    }
    anyhow::ensure!(exit.is_clean(), "chat server ended: {exit}");
    Ok(())
}
