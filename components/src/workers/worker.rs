//! [`Worker`]: the worker side: logs in to a master and runs the commands it is given.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::auth;
use super::command::CommandEvent;
use super::error::WorkerError;
use super::ops::{OpError, OpReply, WorkerInfo, WorkerOp};
use super::process::{self, RunningCommand};
use super::wire::{LineBuffer, ToMaster, ToWorker, encode};

/// Most lines kept in a worker's log ([`WorkerStatus::log`]).
const LOG_LINES: usize = 1000;

/// Capacity of the queue of lines to the master.
const OUTGOING: usize = 1024;

/// The remote operations a [`Worker`] understands (what `get_info` reports).
pub const WORKER_COMMANDS: &[&str] = &[
    "print",
    "get_info",
    "set_builder_list",
    "start_command",
    "interrupt_command",
    "shutdown",
];

/// Who a worker is and where it runs commands.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Its registered name.
    pub name: String,
    /// Its secret (never sent: only HMACs of the master's nonces are).
    pub secret: Vec<u8>,
    /// The directory commands run in.
    pub workdir: PathBuf,
    /// Time between SIGTERM and SIGKILL when a command is interrupted.
    pub interrupt_grace: Duration,
    /// Kernel keepalive on the connection to the master
    /// ([`TCP_KEEPALIVE`](super::TCP_KEEPALIVE) by default).
    pub tcp_keepalive: Option<chassis::tcp::TcpKeepalive>,
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("name", &self.name)
            .field("secret", &"<hidden>")
            .field("workdir", &self.workdir)
            .field("interrupt_grace", &self.interrupt_grace)
            .field("tcp_keepalive", &self.tcp_keepalive)
            .finish()
    }
}

impl WorkerConfig {
    /// Worker `name` with `secret`, running commands in `workdir`, with a 5 s grace.
    pub fn new(
        name: impl Into<String>,
        secret: impl Into<Vec<u8>>,
        workdir: impl Into<PathBuf>,
    ) -> Self {
        WorkerConfig {
            name: name.into(),
            secret: secret.into(),
            workdir: workdir.into(),
            interrupt_grace: Duration::from_secs(5),
            tcp_keepalive: Some(super::TCP_KEEPALIVE),
        }
    }

    /// Set [`interrupt_grace`](Self::interrupt_grace).
    pub fn interrupt_grace(mut self, grace: Duration) -> Self {
        self.interrupt_grace = grace;
        self
    }
}

/// How a worker session ended cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The master asked it to shut down.
    Shutdown,
    /// The master closed the connection (its commands were stopped).
    ConnectionLost,
}

/// A shared view of a running [`Worker`]: its log and how many commands it runs.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct WorkerStatus {
    log: Arc<Mutex<VecDeque<String>>>,
    running: Arc<watch::Sender<usize>>,
}

impl Default for WorkerStatus {
    fn default() -> Self {
        WorkerStatus {
            log: Arc::default(),
            running: Arc::new(watch::channel(0).0),
        }
    }
}

impl WorkerStatus {
    /// The last lines the master printed to the worker's log (at most 1000).
    pub fn log(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// How many commands are running now.
    pub fn running(&self) -> usize {
        *self.running.borrow()
    }

    fn print(&self, line: String) {
        tracing::info!(target: "worker_log", "{line}");
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == LOG_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }
}

/// The worker side of the protocol: connects, logs in with its secret, and serves the
/// master's remote operations, running each command as its own process group in its
/// working directory and streaming its output line by line.
///
/// When the connection ends, every command still running is stopped (SIGTERM to its
/// group, SIGKILL after the grace), and [`serve`](Self::serve) returns once they have.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use components::workers::{Worker, WorkerConfig};
/// let worker = Worker::new(WorkerConfig::new("w1", "s3cret", "/tmp"));
/// worker.run("127.0.0.1:9989".parse()?, std::time::Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Worker {
    config: WorkerConfig,
    status: WorkerStatus,
}

impl Worker {
    /// A worker with `config`.
    pub fn new(config: WorkerConfig) -> Self {
        Worker {
            config,
            status: WorkerStatus::default(),
        }
    }

    /// Its shared status.
    pub fn status(&self) -> WorkerStatus {
        self.status.clone()
    }

    /// Connect to `master` and serve one session.
    ///
    /// # Errors
    ///
    /// See [`serve`](Self::serve); also a failed connect.
    pub async fn connect(&self, master: SocketAddr) -> Result<SessionEnd, WorkerError> {
        let stream = TcpStream::connect(master).await?;
        if let Some(k) = &self.config.tcp_keepalive
            && let Err(e) = k.apply(&stream)
        {
            tracing::debug!(error = %e, "could not set TCP keepalive");
        }
        stream.set_nodelay(true)?;
        self.serve(stream).await
    }

    /// Serve sessions until the master says shut down, reconnecting after a lost
    /// connection with a backoff doubling from 100 ms up to `max_backoff` (reset by a
    /// successful login).
    ///
    /// # Errors
    ///
    /// [`WorkerError::Refused`]: a refused login is not retried.
    pub async fn run(&self, master: SocketAddr, max_backoff: Duration) -> Result<(), WorkerError> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.connect(master).await {
                Ok(SessionEnd::Shutdown) => return Ok(()),
                Ok(SessionEnd::ConnectionLost) => backoff = Duration::from_millis(100),
                Err(e @ WorkerError::Refused(_)) => return Err(e),
                Err(e) => tracing::warn!("worker {}: {e}", self.config.name),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(max_backoff);
        }
    }

    /// Log in on `stream` and serve until the master closes it or says shut down.
    ///
    /// # Errors
    ///
    /// [`WorkerError::Refused`] if the login is refused; [`WorkerError::Protocol`] for
    /// a malformed message; [`WorkerError::Io`] for a read or write failure.
    pub async fn serve(&self, stream: TcpStream) -> Result<SessionEnd, WorkerError> {
        let (mut reader, mut writer) = stream.into_split();
        let mut lines = LineBuffer::default();
        let mut buf = vec![0u8; 64 * 1024];
        writer
            .write_all(&encode(&ToMaster::Hello {
                name: self.config.name.clone(),
            }))
            .await?;
        let nonce = match read_message(&mut reader, &mut lines, &mut buf).await? {
            Some(ToWorker::Challenge { nonce }) => nonce,
            Some(ToWorker::Refused { reason }) => return Err(WorkerError::Refused(reason)),
            Some(other) => return Err(WorkerError::Protocol(format!("unexpected {other:?}"))),
            None => return Err(WorkerError::Refused("connection closed".into())),
        };
        let mac = auth::answer(&self.config.secret, &nonce);
        writer.write_all(&encode(&ToMaster::Auth { mac })).await?;
        match read_message(&mut reader, &mut lines, &mut buf).await? {
            Some(ToWorker::Welcome) => {}
            Some(ToWorker::Refused { reason }) => return Err(WorkerError::Refused(reason)),
            Some(other) => return Err(WorkerError::Protocol(format!("unexpected {other:?}"))),
            None => return Err(WorkerError::Refused("connection closed".into())),
        }
        let (to_master, outgoing) = mpsc::channel::<ToMaster>(OUTGOING);
        let writing = tokio::spawn(write_lines(writer, outgoing));
        let mut session = Session {
            worker: self,
            to_master,
            commands: HashMap::new(),
            tasks: JoinSet::new(),
            builders: Vec::new(),
        };
        let end = session.serve(&mut reader, &mut lines, &mut buf).await;
        session.stop_all("connection lost");
        let grace = self.config.interrupt_grace + Duration::from_secs(1);
        let _ = tokio::time::timeout(grace, async {
            while session.tasks.join_next().await.is_some() {}
        })
        .await;
        session.tasks.abort_all();
        self.status.running.send_replace(0);
        drop(session);
        let _ = writing.await;
        end
    }
}

struct Session<'a> {
    worker: &'a Worker,
    to_master: mpsc::Sender<ToMaster>,
    commands: HashMap<String, Arc<RunningCommand>>,
    tasks: JoinSet<String>,
    builders: Vec<String>,
}

impl Session<'_> {
    async fn serve(
        &mut self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        lines: &mut LineBuffer,
        buf: &mut [u8],
    ) -> Result<SessionEnd, WorkerError> {
        loop {
            tokio::select! {
                msg = read_message(reader, lines, buf) => match msg? {
                    None => return Ok(SessionEnd::ConnectionLost),
                    Some(ToWorker::Call { id, op }) => {
                        let shutdown = op == WorkerOp::Shutdown;
                        if !self.call(id, op).await {
                            return Ok(SessionEnd::ConnectionLost);
                        }
                        if shutdown {
                            return Ok(SessionEnd::Shutdown);
                        }
                    }
                    Some(other) => {
                        return Err(WorkerError::Protocol(format!("unexpected {other:?}")));
                    }
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(command_id) = done {
                        self.commands.remove(&command_id);
                    }
                    self.worker.status.running.send_replace(self.commands.len());
                }
            }
        }
    }

    /// Answer one call; false if the session has ended.
    async fn call(&mut self, id: u64, op: WorkerOp) -> bool {
        if let WorkerOp::StartCommand {
            builder,
            command_id,
            command,
            args,
        } = op
        {
            return self.start(id, &builder, command_id, &command, &args).await;
        }
        let result = self.answer(op);
        self.to_master
            .send(ToMaster::Reply { id, result })
            .await
            .is_ok()
    }

    /// Start a command; its reply goes before its header lines, and they before any of
    /// its output.
    async fn start(
        &mut self,
        id: u64,
        builder: &str,
        command_id: String,
        command: &str,
        args: &[String],
    ) -> bool {
        let dir = self.builder_dir(builder);
        let started = if self.commands.contains_key(&command_id) {
            Err(OpError::Refused(format!("{command_id} is already running")))
        } else {
            dir.clone().and_then(|dir| {
                process::spawn(&dir, command, args)
                    .map_err(|e| OpError::Refused(format!("cannot start {command}: {e}")))
            })
        };
        let (result, started) = match started {
            Ok(started) => (Ok(OpReply::Done), Some(started)),
            Err(e) => (Err(e), None),
        };
        if self
            .to_master
            .send(ToMaster::Reply { id, result })
            .await
            .is_err()
        {
            return false;
        }
        if let (Some((child, running)), Ok(dir)) = (started, dir) {
            let headers = [
                std::iter::once(command)
                    .chain(args.iter().map(String::as_str))
                    .fold("$".to_string(), |line, word| line + " " + word),
                format!("in {}", dir.display()),
            ];
            for line in headers {
                let header = ToMaster::Update {
                    command_id: command_id.clone(),
                    event: CommandEvent::Header { line },
                };
                if self.to_master.send(header).await.is_err() {
                    return false;
                }
            }
            self.commands.insert(command_id.clone(), running.clone());
            self.worker.status.running.send_replace(self.commands.len());
            let to_master = self.to_master.clone();
            self.tasks.spawn(async move {
                process::stream(child, running, command_id.clone(), to_master).await;
                command_id
            });
        }
        true
    }

    /// Where a command for `builder` runs: `workdir`, or `workdir/builder` (made if
    /// missing) for a builder in the builder list (any, while the list is empty).
    fn builder_dir(&self, builder: &str) -> Result<std::path::PathBuf, OpError> {
        let workdir = &self.worker.config.workdir;
        if builder.is_empty() {
            return Ok(workdir.clone());
        }
        let plain = std::path::Path::new(builder)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Err(OpError::Refused(format!(
                "builder {builder:?} is not a plain name"
            )));
        }
        if !self.builders.is_empty() && !self.builders.iter().any(|b| b == builder) {
            return Err(OpError::Refused(format!("unknown builder {builder}")));
        }
        let dir = workdir.join(builder);
        std::fs::create_dir_all(&dir)
            .map_err(|e| OpError::Refused(format!("cannot make {}: {e}", dir.display())))?;
        Ok(dir)
    }

    fn answer(&mut self, op: WorkerOp) -> Result<OpReply, OpError> {
        let config = &self.worker.config;
        match op {
            WorkerOp::Print { text } => {
                self.worker.status.print(text);
                Ok(OpReply::Done)
            }
            WorkerOp::GetInfo => Ok(OpReply::Info {
                info: WorkerInfo {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    commands: WORKER_COMMANDS.iter().map(|c| c.to_string()).collect(),
                    builders: self.builders.clone(),
                    workdir: config.workdir.display().to_string(),
                },
            }),
            WorkerOp::SetBuilderList { builders } => {
                self.builders = builders;
                Ok(OpReply::Done)
            }
            WorkerOp::StartCommand { .. } => Err(OpError::Refused(
                "start_command is answered by start".into(),
            )),
            WorkerOp::InterruptCommand { command_id, why } => {
                if let Some(running) = self.commands.get(&command_id) {
                    running.interrupt(&why, config.interrupt_grace);
                }
                Ok(OpReply::Done)
            }
            WorkerOp::Shutdown => {
                self.stop_all("worker shutdown");
                Ok(OpReply::Done)
            }
        }
    }

    fn stop_all(&self, why: &str) {
        for running in self.commands.values() {
            running.interrupt(why, self.worker.config.interrupt_grace);
        }
    }
}

/// The next message from the master; `None` at end of stream.
async fn read_message(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    lines: &mut LineBuffer,
    buf: &mut [u8],
) -> Result<Option<ToWorker>, WorkerError> {
    loop {
        match lines.next_line() {
            Ok(Some(line)) => {
                return serde_json::from_slice(&line)
                    .map(Some)
                    .map_err(|e| WorkerError::Protocol(e.to_string()));
            }
            Ok(None) => {}
            Err(e) => return Err(WorkerError::Protocol(e.to_string())),
        }
        let n = reader.read(buf).await?;
        if n == 0 {
            return Ok(None);
        }
        lines.extend(&buf[..n]);
    }
}

/// Write queued messages, several per write when they are waiting.
async fn write_lines(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut queue: mpsc::Receiver<ToMaster>,
) {
    let mut out = Vec::with_capacity(64 * 1024);
    while let Some(msg) = queue.recv().await {
        out.extend_from_slice(&encode(&msg));
        while out.len() < 64 * 1024 {
            match queue.try_recv() {
                Ok(msg) => out.extend_from_slice(&encode(&msg)),
                Err(_) => break,
            }
        }
        if writer.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
    let _ = writer.shutdown().await;
}
