//! buildmaster: the master side of the Buildbot worker pattern — workers log in with
//! a shared secret, and an HTTP control interface runs shell commands on them with
//! their output streamed back.
//!
//! ```text
//! printf 'w1 s3cret\n' > /tmp/workers.txt
//! cargo run --example buildmaster -- --listen 127.0.0.1:9989 --control 127.0.0.1:8010 \
//!     --workers /tmp/workers.txt
//! curl -s 127.0.0.1:8010/workers
//! curl -s -X POST 127.0.0.1:8010/workers/w1/run --data 'echo hello; exit 3'
//! curl -s -X POST '127.0.0.1:8010/workers/w1/run?builder=docs' --data 'pwd'
//! curl -s -X POST 127.0.0.1:8010/commands/cmd-1/interrupt --data 'enough'
//! ```
//!
//! The registry file has one `name secret` per line (`#` starts a comment); it is
//! reread on SIGHUP, and a worker whose registration changed or went is disconnected
//! (its running commands complete as "connection lost").
//!
//! The control interface is a minimal HTTP/1.1 server (one request per connection,
//! `Connection: close`, bodies up to 64 KiB):
//!
//! - `GET /workers`: JSON, one object per worker: name, connected, peer, seconds since
//!   last heard, running command ids.
//! - `POST /workers/NAME/run` with a shell command as the body: `200` with the
//!   command's output (stdout and stderr lines) as it comes, between header lines
//!   starting `# ` (`# $ sh -c …` and `# in DIR` before, `# elapsed N.NNN s` after), and a
//!   last line `rc=N`,
//!   `interrupted: WHY` or `connection lost`; the command id is in the `X-Command-Id`
//!   header. A client that leaves interrupts its command. `?builder=NAME` runs it for
//!   that builder, in the worker's `workdir/NAME` (a plain name; the worker refuses
//!   one that is not on its builder list, and the run answers `502` with its reason).
//! - `POST /commands/ID/interrupt` (the body, if any, is the reason).
//!
//! Logs `listening on` for both ports once bound; SIGINT or SIGTERM shut it down and
//! print a summary.
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its summary"
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use axon::{Inbox, Runtime};
use chassis::tcp::ServerConfig;
use clap::Parser;
use components::workers::{
    CommandEvent, CommandUpdate, MasterOptions, OpError, Registration, Registrations,
    UPDATES_SERVICE, WorkerMaster, WorkerOp, WorkerRequest, worker_service,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Largest request head and body the control interface reads.
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// How long a remote operation may take to be answered.
const ASK_TIMEOUT: Duration = Duration::from_secs(30);

/// A master for buildworker: registrations from a file, an HTTP control interface.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Address workers connect to.
    #[arg(long, default_value = "127.0.0.1:9989")]
    listen: SocketAddr,
    /// Serve the live dashboard (graph, counters, `/metrics`) on this address.
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<SocketAddr>,
    /// Address of the HTTP control interface (none if not given).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// Registry file: one `name secret` per line; reread on SIGHUP.
    #[arg(long)]
    workers: PathBuf,
    /// Seconds between keepalives printed to each worker's log.
    #[arg(long, default_value_t = 30)]
    keepalive: u64,
    /// Seconds of silence after which a worker is detached.
    #[arg(long, default_value_t = 90)]
    deadline: u64,
}

/// Where each running command's updates go, by (worker, command id).
type Routes = Arc<Mutex<HashMap<(String, String), mpsc::Sender<CommandEvent>>>>;

struct Control {
    rt: Runtime,
    master: WorkerMaster,
    routes: Routes,
    /// Which worker runs each command id.
    owners: Mutex<HashMap<String, String>>,
    next_command: AtomicU64,
    runs: AtomicU64,
    requests: AtomicU64,
}

fn read_registry(path: &Path) -> anyhow::Result<HashMap<String, Registration>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut table = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(secret), None) => {
                table.insert(name.to_string(), Registration::new(secret));
            }
            _ => anyhow::bail!("{}:{}: expected `name secret`", path.display(), n + 1),
        }
    }
    Ok(table)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("info");
    let args = Args::parse();
    let registrations = Registrations::default();
    registrations.replace_all(read_registry(&args.workers)?);
    let rt = Runtime::new();
    let _dashboard = examples::serve_dashboard(&rt, args.dashboard).await?;
    let mut app = rt.external("buildmaster");
    let (updates_box, updates) = app.add_inbox::<CommandUpdate>("updates", 4096)?;
    rt.register_service(UPDATES_SERVICE, updates_box)?;
    let options = MasterOptions::default().keepalive(
        Duration::from_secs(args.keepalive),
        Duration::from_secs(args.deadline),
    );
    let master = WorkerMaster::new(registrations.clone()).with_options(options);
    let server = master
        .server(ServerConfig::new(args.listen))
        .context("worker port")?;
    tracing::info!(
        "buildmaster: listening on {} for workers",
        server.local_addr()
    );
    let server_stats = server.stats();
    let server = rt.spawn(server)?;

    let control = Arc::new(Control {
        rt: rt.clone(),
        master: master.clone(),
        routes: Routes::default(),
        owners: Mutex::default(),
        next_command: AtomicU64::new(1),
        runs: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    });
    let unrouted = Arc::new(AtomicU64::new(0));
    tokio::spawn(dispatch(updates, control.routes.clone(), unrouted.clone()));
    if let Some(addr) = args.control {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("control port {addr}"))?;
        tracing::info!(
            "buildmaster: listening on {} for control",
            listener.local_addr()?
        );
        tokio::spawn(accept_control(listener, control.clone()));
    }
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let stop = examples::stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            s = &mut stop => { s?; break; }
            _ = hangups.recv() => match read_registry(&args.workers) {
                Ok(table) => {
                    let changed = registrations.replace_all(table);
                    for name in &changed {
                        master.workers().disconnect(name);
                    }
                    tracing::info!(
                        "buildmaster: reread {}: {} workers, changed or removed: {changed:?}",
                        args.workers.display(),
                        registrations.len()
                    );
                }
                Err(e) => tracing::warn!("buildmaster: registry not reread: {e:#}"),
            },
        }
    }
    tracing::info!("buildmaster: shutting down");
    let _ = server.shutdown().await;
    let exit = server.join().await;
    let stats = master.stats();
    println!(
        "buildmaster: {} connections, {} logins, {} refused ({} rate-limited), {} detached silent, {} protocol errors; {} control requests, {} commands run, {} updates with no listener",
        server_stats.accepted(),
        stats.logins(),
        stats.refused(),
        stats.rate_limited(),
        stats.silent_detached(),
        stats.protocol_errors(),
        control.requests.load(Ordering::Relaxed),
        control.runs.load(Ordering::Relaxed),
        unrouted.load(Ordering::Relaxed) + stats.updates_undelivered(),
    );
    anyhow::ensure!(exit.is_clean(), "worker server ended: {exit}");
    Ok(())
}

/// Route every update to the HTTP request waiting for its command.
async fn dispatch(mut updates: Inbox<CommandUpdate>, routes: Routes, unrouted: Arc<AtomicU64>) {
    while let Some(u) = updates.recv().await {
        let key = (u.worker, u.command_id);
        let done = matches!(u.event, CommandEvent::Completed { .. });
        let to = {
            let mut routes = routes.lock().unwrap_or_else(|e| e.into_inner());
            if done {
                routes.remove(&key)
            } else {
                routes.get(&key).cloned()
            }
        };
        let delivered = match to {
            Some(to) => to.send(u.event).await.is_ok(),
            None => false,
        };
        if !delivered {
            unrouted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn accept_control(listener: TcpListener, control: Arc<Control>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let control = control.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_http(stream, &control).await {
                        tracing::debug!("control connection: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("control accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One HTTP request: method, path, body.
async fn read_request(stream: &mut TcpStream) -> anyhow::Result<(String, String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        anyhow::ensure!(buf.len() <= MAX_HEAD, "request head too long");
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed before the request ended");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end])?.to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()?
        .unwrap_or(0);
    anyhow::ensure!(length <= MAX_BODY, "body too long");
    let mut body = buf.split_off(head_end + 4);
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        anyhow::ensure!(n > 0, "closed before the body ended");
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok((method, path, body))
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await
}

async fn serve_http(mut stream: TcpStream, control: &Control) -> anyhow::Result<()> {
    let (method, path, body) = match read_request(&mut stream).await {
        Ok(r) => r,
        Err(e) => {
            respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                &format!("{e}\n"),
            )
            .await?;
            return Ok(());
        }
    };
    control.requests.fetch_add(1, Ordering::Relaxed);
    let body = String::from_utf8_lossy(&body).into_owned();
    let (path, query) = path.split_once('?').unwrap_or((path.as_str(), ""));
    let builder = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("builder="))
        .unwrap_or("")
        .to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["workers"]) => {
            let json = control.master.status_json() + "\n";
            respond(&mut stream, "200 OK", "application/json", &json).await?;
        }
        ("POST", ["workers", name, "run"]) => {
            run(&mut stream, control, name, builder, body).await?
        }
        ("POST", ["commands", id, "interrupt"]) => {
            let owner = control
                .owners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(*id)
                .cloned();
            let Some(worker) = owner else {
                respond(
                    &mut stream,
                    "404 Not Found",
                    "text/plain",
                    "no such command\n",
                )
                .await?;
                return Ok(());
            };
            let why = if body.trim().is_empty() {
                "interrupted by control".to_string()
            } else {
                body.trim().to_string()
            };
            let op = WorkerOp::InterruptCommand {
                command_id: id.to_string(),
                why,
            };
            match ask(control, &worker, op).await {
                Ok(()) => respond(&mut stream, "200 OK", "text/plain", "ok\n").await?,
                Err(e) => {
                    respond(
                        &mut stream,
                        "502 Bad Gateway",
                        "text/plain",
                        &format!("{e}\n"),
                    )
                    .await?
                }
            }
        }
        _ => respond(&mut stream, "404 Not Found", "text/plain", "not found\n").await?,
    }
    Ok(())
}

/// Ask `worker` to do `op` through a short-lived outbox linked to its service.
async fn ask(control: &Control, worker: &str, op: WorkerOp) -> anyhow::Result<()> {
    let service = control
        .rt
        .service::<WorkerRequest>(&worker_service(worker))
        .map_err(|_| anyhow::anyhow!("worker {worker} is not connected"))?;
    let mut me = control.rt.external("control request");
    let (to, mut ops) = me.add_outbox::<WorkerRequest>("ops")?;
    control.rt.link(to, service)?;
    match ops.ask(op, ASK_TIMEOUT).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(OpError::Refused(why))) => anyhow::bail!("{worker} refused: {why}"),
        Ok(Err(e)) => anyhow::bail!("{e}"),
        Err(e) => anyhow::bail!("{e}"),
    }
}

async fn run(
    stream: &mut TcpStream,
    control: &Control,
    worker: &str,
    builder: String,
    script: String,
) -> anyhow::Result<()> {
    let command_id = format!(
        "cmd-{}",
        control.next_command.fetch_add(1, Ordering::Relaxed)
    );
    let key = (worker.to_string(), command_id.clone());
    let (tx, mut events) = mpsc::channel(1024);
    control
        .routes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.clone(), tx);
    control
        .owners
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(command_id.clone(), worker.to_string());
    let op = WorkerOp::StartCommand {
        builder,
        command_id: command_id.clone(),
        command: "sh".to_string(),
        args: vec!["-c".to_string(), script],
    };
    let started = ask(control, worker, op).await;
    let result = match started {
        Err(e) => {
            control
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            respond(stream, "502 Bad Gateway", "text/plain", &format!("{e}\n"))
                .await
                .map_err(Into::into)
        }
        Ok(()) => {
            control.runs.fetch_add(1, Ordering::Relaxed);
            stream_output(stream, &command_id, &mut events).await
        }
    };
    if result.is_err() {
        // The client left: its command is not wanted any more.
        let op = WorkerOp::InterruptCommand {
            command_id: command_id.clone(),
            why: "the control client left".into(),
        };
        let _ = ask(control, worker, op).await;
    }
    control
        .owners
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&command_id);
    result
}

async fn stream_output(
    stream: &mut TcpStream,
    command_id: &str,
    events: &mut mpsc::Receiver<CommandEvent>,
) -> anyhow::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Command-Id: {command_id}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    while let Some(event) = events.recv().await {
        let line = match event {
            CommandEvent::Stdout { line } | CommandEvent::Stderr { line } => line,
            CommandEvent::Header { line } => format!("# {line}"),
            CommandEvent::Completed { outcome } => {
                stream.write_all(format!("{outcome}\n").as_bytes()).await?;
                return Ok(());
            }
        };
        stream.write_all(line.as_bytes()).await?;
        stream.write_all(b"\n").await?;
    }
    stream.write_all(b"connection lost\n").await?;
    Ok(())
}
