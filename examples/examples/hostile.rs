//! Hostile clients against the node server, the datahub, the chat server and sensornet's
//! MAIN server: each server program is started as its own process, attacked on loopback, and its resident
//! memory (RSS, from `/proc/<pid>/status`) printed before, after each attack, and after
//! the attackers have gone.
//!
//! ```text
//! cargo build --release --examples
//! target/release/examples/hostile
//! ```
//!
//! The attacks, each bounded in count and time: malformed input, clients that never
//! read while sending pipelined requests, pipelined floods that are read, and many
//! identities (distinct node names or ports). The server programs are found next to
//! this one (`nodeserver`, `datahub`, `chat`). Linux only (it reads `/proc`).
#![allow(
    clippy::print_stdout,
    reason = "a command-line program that prints its measurements"
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest any one step may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// Attack the node server, the datahub and the chat server with hostile clients and
/// print each server's memory (RSS) before and after.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How hard to push: multiplies every attack's count (1 = a few seconds per server).
    #[arg(long, default_value_t = 1)]
    scale: usize,
    /// Where the server programs are (default: next to this program).
    #[arg(long)]
    programs: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    examples::init_logging("warn");
    let args = Args::parse();
    anyhow::ensure!((1..=100).contains(&args.scale), "--scale must be 1 to 100");
    let dir = match &args.programs {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the program's directory")?
            .to_path_buf(),
    };
    let n = args.scale;

    let server = Server::start(&dir, "nodeserver", &[])?;
    let mut report = Report::new("nodeserver", server.pid());
    lumina_attacks(server.addr, n, &mut report).await?;
    report.finish(server)?;

    let server = Server::start(&dir, "datahub", &["--keep-open"])?;
    let mut report = Report::new("datahub --keep-open", server.pid());
    datahub_attacks(server.addr, n, &mut report).await?;
    report.finish(server)?;

    let server = Server::start(&dir, "chat", &[])?;
    let mut report = Report::new("chat", server.pid());
    chat_attacks(server.addr, n, &mut report).await?;
    report.finish(server)?;

    // sensornet's files go to a directory of its own, its bridges and terminals to
    // free ports (its MAIN server is the only socket listening when it starts).
    let work = std::env::temp_dir().join(format!("hostile-sensornet-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let db = work.join("hostile.db");
    let transcripts = work.join("transcripts");
    let (db, transcripts) = (db.to_string_lossy(), transcripts.to_string_lossy());
    let server = Server::start(
        &dir,
        "sensornet",
        &[
            "--db",
            &db,
            "--transcripts",
            &transcripts,
            "--bridge-base",
            "0",
            "--terminal-base",
            "0",
        ],
    )?;
    let mut report = Report::new("sensornet (MAIN)", server.pid());
    sensornet_attacks(server.addr, n, &mut report).await?;
    report.finish(server)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// A server program running as a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &std::path::Path, name: &str, extra: &[&str]) -> anyhow::Result<Server> {
        let path = dir.join(name);
        let mut child = Command::new(&path)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {} (build it with --examples)", path.display()))?;
        // With RUST_LOG=error the `listening on` line is not logged: ask the OS instead.
        let pid = child.id();
        let addr = listening_port(pid).with_context(|| format!("{name} did not listen"))?;
        if let Some(stderr) = child.stderr.take() {
            // Drain it so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        }
        Ok(Server { child, addr })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGINT, then the program's own summary (its stdout).
    fn stop(mut self) -> anyhow::Result<String> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status()?;
        anyhow::ensure!(sent.success(), "SIGINT to {pid}");
        let (tx, rx) = mpsc::channel();
        let mut out = self.child.stdout.take();
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(out) = out.as_mut() {
                let _ = std::io::Read::read_to_string(out, &mut text);
            }
            let _ = tx.send(text);
        });
        let text = rx
            .recv_timeout(STEP_TIMEOUT)
            .context("the server's summary")?;
        let status = self.child.wait()?;
        anyhow::ensure!(status.success(), "server exited with {status}");
        Ok(text)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already stopped, or a step failed: make sure it is gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TCP port process `pid` listens on, from `/proc/<pid>/net/tcp` and its fds.
fn listening_port(pid: u32) -> anyhow::Result<SocketAddr> {
    for _ in 0..200 {
        let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))?
            .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
            .filter_map(|link| {
                let link = link.to_string_lossy().into_owned();
                Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
            })
            .collect();
        let table = std::fs::read_to_string(format!("/proc/{pid}/net/tcp"))?;
        for row in table.lines().skip(1) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            // local address, state 0A = LISTEN, inode
            if let [_, local, _, "0A", _, _, _, _, _, inode, ..] = fields[..]
                && inodes.iter().any(|i| i == inode)
                && let Some((_, port)) = local.split_once(':')
            {
                let port = u16::from_str_radix(port, 16)?;
                return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("no listening socket after 5 s")
}

/// Resident memory of `pid` in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .context("VmRSS")?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?;
    Ok(kib)
}

/// The RSS figures of one server, printed as they come.
struct Report {
    pid: u32,
    before: u64,
}

impl Report {
    fn new(name: &str, pid: u32) -> Report {
        let before = rss_kib(pid).unwrap_or(0);
        println!("\n{name} (pid {pid}): RSS before {:.1} MiB", mib(before));
        Report { pid, before }
    }

    fn after(&mut self, attack: &str) {
        let now = rss_kib(self.pid).unwrap_or(0);
        println!(
            "  after {attack:<44} RSS {:>7.1} MiB ({:+.1} MiB)",
            mib(now),
            mib(now) - mib(self.before)
        );
    }

    fn finish(self, server: Server) -> anyhow::Result<()> {
        let now = rss_kib(self.pid).unwrap_or(0);
        println!(
            "  attackers gone: RSS {:.1} MiB; before {:.1} MiB; ratio {:.2}",
            mib(now),
            mib(self.before),
            now as f64 / self.before.max(1) as f64
        );
        let summary = server.stop()?;
        for line in summary.lines() {
            println!("  {line}");
        }
        Ok(())
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Connects, writes `bytes`, and keeps the connection open without reading.
async fn never_reader(addr: SocketAddr, bytes: Vec<u8>) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    // The server stops reading us once its replies back up: stop writing then too.
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(&bytes)).await;
    Ok(stream)
}

/// Writes `bytes`, closes the sending side, and reads everything back.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let step = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut read, mut write) = stream.into_split();
        let bytes = bytes.to_vec();
        let writer = tokio::spawn(async move {
            write.write_all(&bytes).await?;
            write.shutdown().await
        });
        let mut reply = Vec::new();
        read.read_to_end(&mut reply).await?;
        writer.await??;
        Ok::<_, anyhow::Error>(reply)
    };
    tokio::time::timeout(STEP_TIMEOUT, step).await?
}

async fn lumina_attacks(addr: SocketAddr, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut garbage = Vec::new();
    for i in 0..2_000 * n {
        garbage.extend_from_slice(
            b"{not json\n\xff\xfe\n[1,2]\n{\"name\":\"status\",\"args\":[\"PURPLE\"]}\n",
        );
        garbage.extend_from_slice(format!("{{\"name\":{i},\"seq\":{i}}}\n").as_bytes());
    }
    let clients: Vec<_> = (0..10).map(|_| exchange(addr, &garbage)).collect();
    for reply in futures::future::join_all(clients).await {
        reply?;
    }
    report.after("malformed input (10 clients)");

    let mut flood = Vec::new();
    for seq in 0..20_000 * n {
        flood.extend_from_slice(format!("{{\"name\":\"serverid\",\"seq\":{seq}}}\n").as_bytes());
    }
    let replies = exchange(addr, &flood).await?;
    let answered = replies
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    report.after(&format!(
        "pipelined flood ({answered} of {} answered)",
        20_000 * n
    ));

    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(never_reader(addr, flood.clone()).await?);
    }
    report.after("5 clients never reading 20 000 requests each");
    drop(silent);

    let mut names = 0;
    for batch in 0..(20 * n) {
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let line = format!(
                    "{{\"name\":\"register\",\"seq\":1,\"kw\":{{\"node\":\"id{batch}-{i}\",\"hostname\":\"{}\",\"module\":\"{}\"}}}}\n",
                    "h".repeat(250),
                    "m".repeat(250)
                );
                async move {
                    let stream = TcpStream::connect(addr).await?;
                    let mut stream = tokio::io::BufReader::new(stream);
                    stream.get_mut().write_all(line.as_bytes()).await?;
                    let mut reply = String::new();
                    stream.read_line(&mut reply).await?;
                    Ok::<_, anyhow::Error>(reply.contains("\"success\":true"))
                }
            })
            .collect();
        for ok in futures::future::join_all(clients).await {
            names += usize::from(ok?);
        }
    }
    report.after(&format!("{names} identities registered, then gone"));
    Ok(())
}

async fn datahub_attacks(addr: SocketAddr, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut garbage = Vec::new();
    for i in 0..5_000 * n {
        garbage.extend_from_slice(
            format!("`frobnicate {i}\nregister 1\n`setstatus 99 1\n").as_bytes(),
        );
        garbage.extend_from_slice(b"\xff\xfe\n");
    }
    let clients: Vec<_> = (0..10).map(|_| exchange(addr, &garbage)).collect();
    for reply in futures::future::join_all(clients).await {
        reply?;
    }
    report.after("malformed input (10 clients)");

    let registrations: Vec<u8> = (1..=20_000u32 * u32::try_from(n)?)
        .flat_map(|port| format!("`register {}\n", port % 65_535 + 1).into_bytes())
        .collect();
    let replies = exchange(addr, &registrations).await?;
    let text = String::from_utf8_lossy(&replies);
    report.after(&format!(
        "pipelined registrations ({} accepted)",
        text.matches("200 OK").count()
    ));

    let flood = b"`requestnodes 1000\n".repeat(20_000 * n);
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(never_reader(addr, flood.clone()).await?);
    }
    report.after("5 clients never reading requestnodes floods");
    drop(silent);
    Ok(())
}

async fn chat_attacks(addr: SocketAddr, n: usize, report: &mut Report) -> anyhow::Result<()> {
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(never_reader(addr, Vec::new()).await?);
    }
    let lines: Vec<u8> = (0..50_000 * n)
        .flat_map(|i| format!("flood line {i} {}\n", "x".repeat(100)).into_bytes())
        .collect();
    let mut talker = TcpStream::connect(addr).await?;
    let _ = tokio::time::timeout(STEP_TIMEOUT, talker.write_all(&lines)).await;
    report.after("a flood while 10 clients never read");
    drop(silent);
    drop(talker);

    let long = vec![b'x'; 1_000_000];
    let clients: Vec<_> = (0..10).map(|_| exchange(addr, &long)).collect();
    for reply in futures::future::join_all(clients).await {
        // The server closes on an over-long line; a reset is an answer too.
        let _ = reply;
    }
    report.after("over-long lines (10 clients)");

    for _ in 0..(10 * n) {
        let clients: Vec<_> = (0..100).map(|_| exchange(addr, b"hello\n")).collect();
        for reply in futures::future::join_all(clients).await {
            let _ = reply;
        }
    }
    report.after(&format!("{} connections churned", 1_000 * n));
    Ok(())
}

/// Writes `lines` on one connection and reads one reply line per line written.
async fn main_replies(addr: SocketAddr, lines: &[String]) -> anyhow::Result<Vec<String>> {
    let step = async {
        let stream = TcpStream::connect(addr).await?;
        let (read, mut write) = stream.into_split();
        let bytes: Vec<u8> = lines
            .iter()
            .flat_map(|l| format!("{l}\n").into_bytes())
            .collect();
        let writer = tokio::spawn(async move { write.write_all(&bytes).await });
        let mut replies = Vec::with_capacity(lines.len());
        let mut read = tokio::io::BufReader::new(read).lines();
        while replies.len() < lines.len() {
            match read.next_line().await? {
                Some(line) => replies.push(line),
                None => break,
            }
        }
        writer.await??;
        Ok::<_, anyhow::Error>(replies)
    };
    tokio::time::timeout(STEP_TIMEOUT, step).await?
}

async fn sensornet_attacks(addr: SocketAddr, n: usize, report: &mut Report) -> anyhow::Result<()> {
    // Malformed commands: garbage, bad fields, unknown names, over-long lines.
    let mut garbage = Vec::new();
    for i in 0..2_000 * n {
        garbage.extend_from_slice(b"\xff\xfe\nPOWERED_ON x y z\nHEARTBEAT\nLOGMSG 1\n");
        garbage.extend_from_slice(format!("NO_SUCH_COMMAND {i}\n").as_bytes());
    }
    garbage.extend_from_slice(&[b'x'; 100_000]);
    let clients: Vec<_> = (0..10).map(|_| exchange(addr, &garbage)).collect();
    for reply in futures::future::join_all(clients).await {
        let _ = reply;
    }
    report.after("malformed commands (10 clients)");

    // Many identities: POWERED_ON, HEARTBEAT and LOGMSG for 1 000 ids. Only the
    // configured range (0-63, at most 64 nodes) is admitted; each admitted node opens
    // two bridges, so listening sockets stay bounded.
    let lines: Vec<String> = (0..1_000 * n)
        .flat_map(|id| {
            [
                format!("POWERED_ON {id} 10.0.0.2 00:11:22:33:44:55"),
                format!("HEARTBEAT {} 1", id + 5_000),
                format!("LOGMSG {} NORMAL 0 hello", id + 9_000),
            ]
        })
        .collect();
    let replies = main_replies(addr, &lines).await?;
    let acked = replies
        .iter()
        .filter(|r| r.starts_with("ACK POWERED_ON"))
        .count();
    let refused = replies.iter().filter(|r| r.starts_with("ERR ")).count();
    println!(
        "  {} identities asked for: {acked} nodes admitted, {refused} refusals",
        lines.len()
    );
    anyhow::ensure!(acked <= 64, "{acked} nodes admitted beyond --max-nodes 64");
    report.after(&format!("{} identities", lines.len()));

    // Clients that never read their replies.
    let flood: Vec<u8> = (0..100_000 * n)
        .flat_map(|i| format!("HEARTBEAT 1 {i}\n").into_bytes())
        .collect();
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(never_reader(addr, flood.clone()).await?);
    }
    report.after("5 clients never reading HEARTBEAT floods");
    drop(silent);

    for _ in 0..(5 * n) {
        let clients: Vec<_> = (0..100)
            .map(|_| exchange(addr, b"HEARTBEAT 1 1\n"))
            .collect();
        for reply in futures::future::join_all(clients).await {
            let _ = reply;
        }
    }
    report.after(&format!("{} connections churned", 500 * n));
    Ok(())
}
