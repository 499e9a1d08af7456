//! Workers and remote commands: the Buildbot master/worker pattern as components, on
//! our own line-framed JSON protocol ([`wire`]).
//!
//! - Master side: a [`WorkerMaster`] holds the [`Registrations`] (name, secret, allowed
//!   port; changeable while it runs), the [`LoginLimiter`] and the table of
//!   [`ConnectedWorkers`]; its [`server`](WorkerMaster::server) is a
//!   [`ServerCore`](chassis::tcp::ServerCore) with one [`WorkerConnection`] per
//!   connection.
//! - Login is challenge-response ([`auth`]): the master sends a random nonce, the
//!   worker answers HMAC-SHA256(secret, nonce); no secret crosses the wire, the MAC is
//!   compared in constant time, every refusal reads [`REFUSED`].
//! - Remote operations ([`WorkerOp`]) are typed requests with replies
//!   ([`WorkerRequest`] = [`axon::Request`]), asked of the service
//!   [`worker_service(name)`](worker_service) while the worker is logged in. Command
//!   output and completions arrive as [`CommandUpdate`]s on the inbox registered as
//!   [`UPDATES_SERVICE`].
//! - Worker side: a [`Worker`] logs in and runs commands as process groups in its
//!   working directory, streaming their output; interrupt stops the whole group.
//!
//! A command runs Idle → Starting → Running → Completed([`CommandOutcome`]); a lost
//! connection completes every command of that worker with
//! [`CommandOutcome::ConnectionLost`] at once.
//!
//! # Examples
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use chassis::tcp::ServerConfig;
//! use components::workers::{
//!     CommandUpdate, OpReply, Registration, Registrations, UPDATES_SERVICE, Worker,
//!     WorkerConfig, WorkerMaster, WorkerOp, WorkerRequest, worker_service,
//! };
//!
//! let rt = axon::Runtime::new();
//! let mut app = rt.external("app");
//! let (updates_box, mut updates) = app.add_inbox::<CommandUpdate>("updates", 1024)?;
//! rt.register_service(UPDATES_SERVICE, updates_box)?;
//!
//! let regs = Registrations::default();
//! regs.set("w1", Registration::new("s3cret"));
//! let master = WorkerMaster::new(regs);
//! let server = master.server(ServerConfig::new("127.0.0.1:0".parse()?))?;
//! let addr = server.local_addr();
//! let _server = rt.spawn(server)?;
//!
//! let worker = Worker::new(WorkerConfig::new("w1", "s3cret", "/tmp"));
//! tokio::spawn(async move { worker.connect(addr).await });
//! master.workers().wait_for(Duration::from_secs(5), |w| w.is_attached("w1")).await;
//!
//! let (to_w1, mut ops) = app.add_outbox::<WorkerRequest>("w1")?;
//! rt.link(to_w1, rt.service(&worker_service("w1"))?)?;
//! let op = WorkerOp::StartCommand { builder: String::new(), command_id: "c1".into(), command: "echo".into(), args: vec!["hi".into()] };
//! assert_eq!(ops.ask(op, Duration::from_secs(5)).await?, Ok(OpReply::Done));
//! let first = updates.recv().await.unwrap();
//! assert_eq!(first.command_id, "c1");
//! # Ok(()) }
//! ```

pub mod auth;
mod command;
mod connection;
mod directory;
mod error;
mod limiter;
mod master;
mod ops;
mod process;
mod registrations;
pub mod wire;
mod worker;

pub use command::{CommandEvent, CommandOutcome, CommandState, CommandUpdate};
pub use connection::WorkerConnection;
pub use directory::{ConnectedWorkers, WorkerView};
pub use error::WorkerError;
pub use limiter::LoginLimiter;
pub use master::{
    MasterFactory, MasterOptions, MasterStats, TCP_KEEPALIVE, UPDATES_SERVICE, WorkerMaster,
    worker_service,
};
pub use ops::{OpError, OpReply, OpResult, WorkerInfo, WorkerOp, WorkerRequest};
pub use process::MAX_OUTPUT_LINE;
pub use registrations::{Registration, Registrations};
pub use worker::{SessionEnd, WORKER_COMMANDS, Worker, WorkerConfig, WorkerStatus};

/// The one line every refused login gets, whatever was wrong.
pub const REFUSED: &str = "login refused";
