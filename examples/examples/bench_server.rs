//! Benchmark: the ServerCore echo server (the `echo` example's own code) against a
//! plain tokio echo server (accept, spawn, read/write loop) written here, loaded by
//! the same load client (the `loadclient` example's own code), on this machine, in
//! one run.
//!
//! ```text
//! cargo run --release --example bench_server
//! ```
//!
//! Each server runs in a child process (this program started again with `--serve`),
//! so the load client and the servers do not share a runtime or a file-descriptor
//! table, and each server's resident memory can be read on its own. Measured, side by
//! side: round trips per second and p50/p99 latency at 100 and 1 000 connections;
//! connection churn (connect, one echo, close) per second; resident memory per idle
//! connection with 10 000 connections open. Bounded: about a minute with the defaults.
//!
//! `--dashboard-overhead` measures instead the cost of the live dashboard: the same
//! ServerCore echo server with and without `serve_dashboard`, the former with its page
//! open in headless Chromium (when `/usr/bin/chromium` is installed), a page's event
//! stream (`/events`) read and `/metrics` scraped every second throughout, side by
//! side: echo round trips per second at 100 and 1 000 connections, and resident memory
//! per idle connection. Throughput is measured in `--overhead-rounds` rounds after a
//! warm-up round, twice: both servers loaded in turn, the order alternating (ABBA),
//! and both loaded at once (so that load from elsewhere on the machine, which drifts
//! over seconds, hits both sides of a ratio alike); each round gives a ratio from its
//! two runs, also of the servers' CPU time per round trip while the load runs (from
//! `/proc`, leaving out the connections' opening and closing). Reported:
//! the median rates, and the median ratios with their quartiles and range.
#![allow(
    clippy::print_stdout,
    reason = "a benchmark program that prints its figures"
)]

#[allow(
    dead_code,
    reason = "the echo example's code; its main is not used here"
)]
#[path = "echo.rs"]
mod echo_example;

#[allow(
    dead_code,
    reason = "the load client's code; its main is not used here"
)]
#[path = "loadclient.rs"]
mod loadclient;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use loadclient::{LoadArgs, LoadReport, Mode, Run, open_connections, run_load};

/// Which server a child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// ServerCore + Echo, as the `echo` example builds it.
    Axon,
    /// A plain tokio echo server.
    Raw,
    /// ServerCore + Echo as above, run as the child of a `Supervisor`.
    Supervised,
    /// ServerCore + Echo with the dashboard served.
    Dashboard,
}

/// Compare the ServerCore echo server with a plain tokio echo server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Rounds per measurement and server.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Seconds per throughput round.
    #[arg(long, default_value_t = 1.5)]
    duration: f64,
    /// Seconds per churn round.
    #[arg(long, default_value_t = 1.0)]
    churn_duration: f64,
    /// Concurrent workers in the churn measurement.
    #[arg(long, default_value_t = 32)]
    churn_workers: usize,
    /// Idle connections held open for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Measure the dashboard's overhead instead (see the module docs).
    #[arg(long)]
    dashboard_overhead: bool,
    /// Rounds per throughput measurement of the dashboard's overhead (after a warm-up).
    #[arg(long, default_value_t = 10)]
    overhead_rounds: usize,
    /// Run one server and nothing else (used by the benchmark itself).
    #[arg(long, value_enum, hide = true)]
    serve: Option<Kind>,
}

/// The plain tokio echo server: tokio's own echo example, unchanged in substance.
async fn raw_echo(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    loop {
        let (mut socket, _) = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = vec![0; 1024];
            loop {
                let n = match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if socket.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Resolves when standard input closes: the parent has finished with this child.
async fn parent_gone() -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = tx.send(());
    });
    let _ = rx.await;
    Ok(())
}

fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}

/// Child mode: run one server until the parent closes our stdin.
async fn serve(kind: Kind) -> anyhow::Result<()> {
    let listen: SocketAddr = "127.0.0.1:0".parse()?;
    match kind {
        Kind::Axon => {
            let args = echo_example::EchoArgs {
                listen,
                max_connections: 50_000,
                idle_timeout: chassis::tcp::ServerConfig::DEFAULT_IDLE_TIMEOUT.as_secs(),
                backlog: chassis::tcp::ServerConfig::DEFAULT_BACKLOG,
                dashboard: None,
            };
            let server = echo_example::echo_server(&args)?;
            announce(server.local_addr())?;
            let (exit, _) = echo_example::serve(server, None, parent_gone()).await?;
            anyhow::ensure!(exit.is_clean(), "server ended: {exit}");
        }
        Kind::Dashboard => {
            let args = echo_example::EchoArgs {
                listen,
                max_connections: 50_000,
                idle_timeout: chassis::tcp::ServerConfig::DEFAULT_IDLE_TIMEOUT.as_secs(),
                backlog: chassis::tcp::ServerConfig::DEFAULT_BACKLOG,
                dashboard: None,
            };
            let server = echo_example::echo_server(&args)?;
            let rt = axon::Runtime::new();
            let dashboard = rt.serve_dashboard("127.0.0.1:0").await?;
            announce(server.local_addr())?;
            announce(dashboard.local_addr())?;
            let handle = rt.spawn(server)?;
            parent_gone().await?;
            let _ = handle.shutdown().await;
            let exit = handle.join().await;
            anyhow::ensure!(exit.is_clean(), "server ended: {exit}");
        }
        Kind::Supervised => {
            // A fixed port, so that a restarted instance would listen where clients look.
            let listen = std::net::TcpListener::bind(listen)?.local_addr()?;
            let rt = axon::Runtime::new();
            let sup = chassis::supervisor::Supervisor::<(), ()>::new().child(
                chassis::supervisor::ChildSpec::try_new("echo", move || {
                    let args = echo_example::EchoArgs {
                        listen,
                        max_connections: 50_000,
                        idle_timeout: chassis::tcp::ServerConfig::DEFAULT_IDLE_TIMEOUT.as_secs(),
                        backlog: chassis::tcp::ServerConfig::DEFAULT_BACKLOG,
                        dashboard: None,
                    };
                    echo_example::echo_server(&args)
                }),
            );
            let handle = rt.spawn(sup)?;
            announce(listen)?;
            parent_gone().await?;
            handle.shutdown().await?;
            let exit = handle.join().await;
            anyhow::ensure!(exit.is_clean(), "supervisor ended: {exit}");
        }
        Kind::Raw => {
            let listener = tokio::net::TcpListener::bind(listen).await?;
            announce(listener.local_addr()?)?;
            tokio::select! {
                r = raw_echo(listener) => r?,
                r = parent_gone() => r?,
            }
        }
    }
    Ok(())
}

/// A server running in a child process.
struct ServerProcess {
    kind: Kind,
    child: Child,
    addr: SocketAddr,
    /// Where its dashboard is served, if it has one.
    dashboard: Option<SocketAddr>,
}

impl ServerProcess {
    fn start(kind: Kind) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let name = match kind {
            Kind::Axon => "axon",
            Kind::Raw => "raw",
            Kind::Supervised => "supervised",
            Kind::Dashboard => "dashboard",
        };
        let mut child = Command::new(exe)
            .args(["--serve", name])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting a server process")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut stdout = BufReader::new(stdout);
        let mut addrs = Vec::new();
        for _ in 0..if kind == Kind::Dashboard { 2 } else { 1 } {
            let mut line = String::new();
            stdout.read_line(&mut line)?;
            let Some(addr) = line.trim().strip_prefix("listening on ") else {
                let _ = child.kill();
                bail!("the {name} server did not start: {line:?}");
            };
            addrs.push(addr.parse()?);
        }
        Ok(ServerProcess {
            kind,
            child,
            addr: addrs[0],
            dashboard: addrs.get(1).copied(),
        })
    }

    /// Resident memory of the server process, in bytes.
    fn rss(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmRSS not found")?;
        Ok(kb * 1024)
    }

    /// CPU time the server process has used (user and system), in seconds.
    fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name (which may hold spaces): utime and stime are
        // the 14th and 15th fields, in clock ticks (100 a second on Linux).
        let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields
            .get(11)
            .and_then(|f| f.parse().ok())
            .context("utime")?;
        let sys: u64 = fields
            .get(12)
            .and_then(|f| f.parse().ok())
            .context("stime")?;
        Ok((ticks + sys) as f64 / 100.0)
    }

    fn stop(mut self) -> anyhow::Result<()> {
        drop(self.child.stdin.take());
        for _ in 0..100 {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

/// Resident bytes per idle connection: the server's growth with `n` connections open
/// (each has done one echo), divided by `n`.
async fn memory_per_connection(server: &ServerProcess, n: usize) -> anyhow::Result<f64> {
    let before = server.rss()?;
    let conns = open_connections(server.addr, n, 16).await?;
    // Let the server settle: every connection has echoed once, nothing else is moving.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server.rss()?;
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(after.saturating_sub(before) as f64 / n as f64)
}

/// With `n` idle connections open: resident bytes per connection (as
/// [`memory_per_connection`]) and the share of one core the server uses meanwhile,
/// over `seconds` once it has settled.
async fn idle_cost(server: &ServerProcess, n: usize, seconds: f64) -> anyhow::Result<(f64, f64)> {
    let before = server.rss()?;
    let conns = open_connections(server.addr, n, 16).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = server.rss()?;
    let cpu = server.cpu_seconds()?;
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let busy = (server.cpu_seconds()? - cpu) / seconds;
    drop(conns);
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok((after.saturating_sub(before) as f64 / n as f64, busy))
}

fn load_args(
    server: &ServerProcess,
    mode: Mode,
    connections: usize,
    size: usize,
    duration: f64,
) -> LoadArgs {
    LoadArgs {
        target: server.addr,
        connections,
        size,
        duration,
        mode,
        allow_remote: false,
    }
}

/// Load both servers in turn, `rounds` times each, alternating so that a burst of
/// load from elsewhere on the machine hits both alike; the rate is the median round.
async fn compare(
    servers: [&ServerProcess; 2],
    mode: Mode,
    connections: usize,
    size: usize,
    rounds: usize,
    seconds: f64,
) -> anyhow::Result<[LoadReport; 2]> {
    let mut runs: [Vec<Run>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        // ABBA: each server goes first in every other round, so neither gains from
        // always running first (a warm cache, a quieter moment).
        let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let server = servers[i];
            runs[i].push(run_load(&load_args(server, mode, connections, size, seconds)).await?);
        }
    }
    let reports = [
        LoadReport::from_runs(&runs[0]),
        LoadReport::from_runs(&runs[1]),
    ];
    for (server, r) in servers.iter().zip(&reports) {
        println!("  {:?} {mode:?} x{connections}: {r}", server.kind);
    }
    Ok(reports)
}

fn us(d: Duration) -> String {
    format!("{} µs", d.as_micros())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(kind) = args.serve {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
        return serve(kind).await;
    }
    if args.dashboard_overhead {
        return dashboard_overhead(&args).await;
    }
    let axon = ServerProcess::start(Kind::Axon)?;
    let raw = ServerProcess::start(Kind::Raw)?;
    println!(
        "axon ServerCore+Echo on {}, plain tokio on {}; message {} B",
        axon.addr, raw.addr, args.size
    );

    println!("memory with {} idle connections:", args.idle_connections);
    let mem_axon = memory_per_connection(&axon, args.idle_connections).await?;
    let mem_raw = memory_per_connection(&raw, args.idle_connections).await?;

    println!(
        "throughput and latency ({} rounds of {} s per server, alternating):",
        args.rounds, args.duration
    );
    let mut echo = Vec::new();
    for n in [100, 1000] {
        let [a, r] = compare(
            [&axon, &raw],
            Mode::Echo,
            n,
            args.size,
            args.rounds,
            args.duration,
        )
        .await?;
        echo.push((n, a, r));
    }
    println!("supervision overhead (ServerCore under a Supervisor vs alone, alternating):");
    let supervised = ServerProcess::start(Kind::Supervised)?;
    let [sup_echo, plain_echo] = compare(
        [&supervised, &axon],
        Mode::Echo,
        100,
        args.size,
        args.rounds,
        args.duration,
    )
    .await?;
    supervised.stop()?;
    let [churn_a, churn_r] = compare(
        [&axon, &raw],
        Mode::Churn,
        args.churn_workers,
        args.size,
        args.rounds,
        args.churn_duration,
    )
    .await?;
    axon.stop()?;
    raw.stop()?;

    println!();
    println!("| measure | axon ServerCore | plain tokio | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    for (n, a, r) in &echo {
        let ratio = a.rate() / r.rate();
        println!(
            "| echo round trips/s, {n} connections | {:.0} | {:.0} | {ratio:.2} | >= 0.90 {} |",
            a.rate(),
            r.rate(),
            if ratio >= 0.9 { "met" } else { "MISSED" }
        );
        println!(
            "| p50 / p99 latency, {n} connections | {} / {} | {} / {} | | |",
            us(a.p50),
            us(a.p99),
            us(r.p50),
            us(r.p99)
        );
    }
    let ratio = sup_echo.rate() / plain_echo.rate();
    println!(
        "| echo round trips/s, 100 connections, under a Supervisor vs alone | {:.0} | {:.0} (alone) | {ratio:.3} | >= 0.98 {} |",
        sup_echo.rate(),
        plain_echo.rate(),
        if ratio >= 0.98 { "met" } else { "MISSED" }
    );
    let ratio = churn_a.rate() / churn_r.rate();
    println!(
        "| churn (connect, echo, close)/s, {} workers | {:.0} | {:.0} | {ratio:.2} | >= 0.80 {} |",
        args.churn_workers,
        churn_a.rate(),
        churn_r.rate(),
        if ratio >= 0.8 { "met" } else { "MISSED" }
    );
    let ratio = mem_axon / mem_raw.max(1.0);
    println!(
        "| resident bytes per idle connection, {} open | {:.0} | {:.0} | {ratio:.2} | <= 1.50 {} |",
        args.idle_connections,
        mem_axon,
        mem_raw,
        if ratio <= 1.5 { "met" } else { "MISSED" }
    );
    let errors: u64 = echo
        .iter()
        .map(|(_, a, r)| a.errors + r.errors)
        .sum::<u64>()
        + churn_a.errors
        + churn_r.errors;
    if errors > 0 {
        println!("({errors} operations failed or timed out)");
    }
    Ok(())
}

/// What watched the dashboard during a measurement.
#[derive(Debug, Default)]
struct Watched {
    /// Bytes of page updates received on `/events`.
    event_bytes: u64,
    /// `/metrics` pages scraped, and their last size.
    scrapes: u64,
    last_scrape: usize,
}

/// A page's event stream read, and `/metrics` scraped every second, until `stop`.
async fn watch_dashboard(
    addr: SocketAddr,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<Watched> {
    let mut watched = Watched::default();
    let mut events = tokio::net::TcpStream::connect(addr).await?;
    events
        .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n")
        .await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut scrape = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(watched),
            n = events.read(&mut buf) => {
                let n = n?;
                anyhow::ensure!(n > 0, "the dashboard closed the event stream");
                watched.event_bytes += n as u64;
            }
            _ = scrape.tick() => {
                let mut m = tokio::net::TcpStream::connect(addr).await?;
                m.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").await?;
                let mut page = Vec::new();
                m.read_to_end(&mut page).await?;
                anyhow::ensure!(page.starts_with(b"HTTP/1.1 200"), "/metrics failed");
                watched.scrapes += 1;
                watched.last_scrape = page.len();
            }
        }
    }
}

/// The dashboard's page in headless Chromium, while it is open; the browser and
/// everything it started end when this is dropped.
struct PageInBrowser {
    browser: Child,
    profile: std::path::PathBuf,
    /// The page's title as the browser reports it, once it has loaded.
    title: Option<String>,
}

impl PageInBrowser {
    const CHROMIUM: &str = "/usr/bin/chromium";

    /// Opens `url` in headless Chromium; `None` where Chromium is not installed.
    async fn open(url: &str) -> anyhow::Result<Option<Self>> {
        use std::os::unix::process::CommandExt;
        if !std::path::Path::new(Self::CHROMIUM).exists() {
            return Ok(None);
        }
        let profile =
            std::env::temp_dir().join(format!("bench-server-page-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        let browser = Command::new(Self::CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--window-size=1600,1000",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            // Its own process group, so that its renderers end with it.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromium")?;
        let mut page = PageInBrowser {
            browser,
            profile,
            title: None,
        };
        page.title = page.loaded_title().await;
        Ok(Some(page))
    }

    /// The title of the browser's page, read from its DevTools endpoint (the port it
    /// writes into its profile); tried for up to 20 s.
    async fn loaded_title(&self) -> Option<String> {
        for _ in 0..200 {
            let port = std::fs::read_to_string(self.profile.join("DevToolsActivePort"))
                .ok()
                .and_then(|t| t.lines().next().and_then(|p| p.parse::<u16>().ok()));
            if let Some(port) = port
                && let Ok(list) =
                    http_get(SocketAddr::from(([127, 0, 0, 1], port)), "/json/list").await
                && let Some(title) = serde_json::from_str::<Vec<serde_json::Value>>(&list)
                    .ok()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.get("title")?.as_str().map(str::to_owned))
                    .find(|t| t.contains("axon"))
            {
                return Some(title);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for PageInBrowser {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.browser.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.browser.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// GET `path` from `addr`: the body, read to its `Content-Length` (a DevTools
/// endpoint keeps the connection open), within two seconds.
async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let read = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(
            // DevTools answers only a Host that is an address or localhost.
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
        let mut page = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = s.read(&mut buf).await?;
            page.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&page);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                });
                if n == 0 || length.is_some_and(|len| body.len() >= len) {
                    return anyhow::Ok(body.to_string());
                }
            }
            anyhow::ensure!(n > 0, "the connection closed before the response ended");
        }
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .context("no answer in 2 s")?
}

/// Throughput of two servers measured in rounds, with the ratios of each round.
#[derive(Default)]
struct Paired {
    /// Round trips per second of each run, per server.
    rates: [Vec<f64>; 2],
    /// Each round's first server's rate over the second's.
    ratios: Vec<f64>,
    /// Each round's first server's CPU time per round trip over the second's.
    cpu_ratios: Vec<f64>,
    errors: u64,
}

impl Paired {
    fn print(&self, how: &str, connections: usize) {
        let list = |v: &[f64]| {
            v.iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!(
            "  {how} x{connections}: throughput ratios {}; CPU per round trip ratios {}{}",
            list(&self.ratios),
            list(&self.cpu_ratios),
            if self.errors > 0 {
                format!(" ({} operations failed or timed out)", self.errors)
            } else {
                String::new()
            }
        );
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The value below which a share `q` of `v` lies (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// "median (quartiles a-b, range c-d)" of `v`.
fn spread(v: &[f64]) -> String {
    format!(
        "{:.3} ({:.3}-{:.3}, {:.3}-{:.3})",
        median(v),
        quantile(v, 0.25),
        quantile(v, 0.75),
        quantile(v, 0.0),
        quantile(v, 1.0)
    )
}

/// One server's run: its rate, and its CPU seconds per round trip while the load
/// runs, its connections open (read from `/proc` every 50 ms; the window leaves out
/// the first 200 ms and the connections' opening and closing, whose cost is not the
/// message path's).
async fn measured_run(
    server: &ServerProcess,
    connections: usize,
    size: usize,
    seconds: f64,
) -> anyhow::Result<(Run, f64)> {
    let mut samples: Vec<(std::time::Instant, f64)> = Vec::new();
    let args = load_args(server, Mode::Echo, connections, size, seconds);
    let load = run_load(&args);
    tokio::pin!(load);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let run = loop {
        tokio::select! {
            run = &mut load => break run?,
            _ = tick.tick() => samples.push((std::time::Instant::now(), server.cpu_seconds()?)),
        }
    };
    let start = run.started.context("the run's start")? + Duration::from_millis(200);
    let end = start + run.elapsed.saturating_sub(Duration::from_millis(300));
    let first = samples.iter().find(|(t, _)| *t >= start);
    let last = samples.iter().rev().find(|(t, _)| *t <= end);
    let per = match (first, last) {
        (Some((t0, c0)), Some((t1, c1))) if t1 > t0 => {
            (c1 - c0) / (run.rate() * (*t1 - *t0).as_secs_f64()).max(1.0)
        }
        _ => f64::NAN,
    };
    Ok((run, per))
}

/// Echo load on both servers, a warm-up round and then `rounds` rounds. `together`:
/// both loaded at once (they share the machine, and whatever else runs on it, at the
/// same moments); otherwise in turn, the first one first in even rounds (ABBA).
async fn paired(
    servers: [&ServerProcess; 2],
    connections: usize,
    size: usize,
    rounds: usize,
    seconds: f64,
    together: bool,
) -> anyhow::Result<Paired> {
    let mut out = Paired::default();
    for round in 0..=rounds {
        let mut got: [(Run, f64); 2] = Default::default();
        if together {
            let (a, b) = tokio::join!(
                measured_run(servers[0], connections, size, seconds),
                measured_run(servers[1], connections, size, seconds)
            );
            got = [a?, b?];
        } else {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                got[i] = measured_run(servers[i], connections, size, seconds).await?;
            }
        }
        // Round 0 warms both up (connections, allocators, caches) and is not counted.
        if round > 0 {
            let rate = [got[0].0.rate(), got[1].0.rate()];
            out.rates[0].push(rate[0]);
            out.rates[1].push(rate[1]);
            out.ratios.push(rate[0] / rate[1]);
            out.cpu_ratios.push(got[0].1 / got[1].1);
            out.errors += got[0].0.errors + got[1].0.errors;
        }
    }
    out.print(if together { "together" } else { "in turn" }, connections);
    Ok(out)
}

/// The dashboard's cost: ServerCore + Echo with the dashboard watched vs without.
async fn dashboard_overhead(args: &Args) -> anyhow::Result<()> {
    let plain = ServerProcess::start(Kind::Axon)?;
    let watched = ServerProcess::start(Kind::Dashboard)?;
    let dashboard = watched.dashboard.context("no dashboard address")?;
    println!(
        "ServerCore+Echo on {} without a dashboard, on {} with one (http://{dashboard}) \
         whose events are read and /metrics scraped every second; message {} B",
        plain.addr, watched.addr, args.size
    );
    let page = PageInBrowser::open(&format!("http://{dashboard}/")).await?;
    match &page {
        Some(PageInBrowser { title: Some(t), .. }) => {
            println!("the page is open in headless Chromium ({t:?})");
        }
        Some(_) => println!("Chromium started but did not report the page loaded"),
        None => println!(
            "({} is not installed: no browser; the event stream is still read)",
            PageInBrowser::CHROMIUM
        ),
    }
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(watch_dashboard(dashboard, stopped));

    println!(
        "memory and idle CPU (over 5 s) with {} idle connections:",
        args.idle_connections
    );
    let (mem_plain, idle_plain) = idle_cost(&plain, args.idle_connections, 5.0).await?;
    let (mem_watched, idle_watched) = idle_cost(&watched, args.idle_connections, 5.0).await?;
    println!(
        "throughput: a warm-up round, then {} rounds of {} s per server, in turn (ABBA) \
         and both at once:",
        args.overhead_rounds, args.duration
    );
    let mut echo = Vec::new();
    for n in [100, 1000] {
        for together in [false, true] {
            let p = paired(
                [&watched, &plain],
                n,
                args.size,
                args.overhead_rounds,
                args.duration,
                together,
            )
            .await?;
            echo.push((n, together, p));
        }
    }
    let _ = stop.send(());
    let seen = watcher.await??;
    drop(page);
    plain.stop()?;
    watched.stop()?;

    println!();
    println!(
        "| measure | with dashboard watched | without | ratio: median (quartiles, range) of rounds | target |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for (n, together, p) in &echo {
        let how = if *together {
            "both at once"
        } else {
            "in turn, ABBA"
        };
        let ratio = median(&p.ratios);
        println!(
            "| echo round trips/s, {n} connections, {how} (median) | {:.0} | {:.0} | {} | >= 0.97 {} |",
            median(&p.rates[0]),
            median(&p.rates[1]),
            spread(&p.ratios),
            if ratio >= 0.97 { "met" } else { "MISSED" }
        );
        println!(
            "| server CPU time per round trip, {n} connections, {how} | | | {} | |",
            spread(&p.cpu_ratios)
        );
    }
    let ratio = mem_watched / mem_plain.max(1.0);
    println!(
        "| resident bytes per idle connection, {} open | {:.0} | {:.0} | {ratio:.2} | | unchanged (<= 1.05) {} |",
        args.idle_connections,
        mem_watched,
        mem_plain,
        if ratio <= 1.05 { "met" } else { "MISSED" }
    );
    println!(
        "| CPU while idle with {} connections open (share of one core) | {:.2} % | {:.2} % | | |",
        args.idle_connections,
        idle_watched * 100.0,
        idle_plain * 100.0
    );
    println!(
        "(the page received {} bytes of updates; /metrics scraped {} times, last page {} bytes)",
        seen.event_bytes, seen.scrapes, seen.last_scrape
    );
    Ok(())
}
