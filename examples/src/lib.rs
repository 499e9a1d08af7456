//! Shared helpers for the example programs: logging and stop signals, set up the same
//! way in every program.

use std::io::IsTerminal as _;

/// The log filter of a server program that prints its own shutdown summary: `info`, but
/// the TCP server's own log line of that summary only at `warn`, so the summary appears
/// once.
///
/// # Examples
///
/// ```no_run
/// examples::init_logging(examples::SERVER_LOG_FILTER);
/// ```
pub const SERVER_LOG_FILTER: &str = "info,chassis::tcp::core=warn";

/// Log through `tracing` to stderr, filtered by `RUST_LOG`, or by `default_filter` when
/// `RUST_LOG` is unset. Logs go to stderr so that a program's own output stays clean;
/// they are coloured only when stderr is a terminal.
///
/// # Examples
///
/// ```no_run
/// examples::init_logging("info");
/// tracing::info!("listening on 127.0.0.1:7");
/// ```
pub fn init_logging(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM, caught from the moment it is made: make it
/// before announcing `listening on`, so that a signal sent right after that line stops
/// the program through its shutdown path instead of killing it.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> anyhow::Result<()> {
/// let stop = examples::StopSignal::install()?;
/// tracing::info!("listening on 127.0.0.1:7");
/// stop.recv().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StopSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignal {
    /// Start catching the signals.
    ///
    /// # Errors
    ///
    /// If the signal handlers cannot be installed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> anyhow::Result<()> {
    /// let stop = examples::StopSignal::install()?;
    /// # Ok(()) }
    /// ```
    pub fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignal {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignal {})
    }

    /// Wait for the first signal.
    ///
    /// # Errors
    ///
    /// If waiting for the signal fails.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> anyhow::Result<()> {
    /// examples::StopSignal::install()?.recv().await?;
    /// tracing::info!("shutting down");
    /// # Ok(()) }
    /// ```
    pub async fn recv(mut self) -> anyhow::Result<()> {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        Ok(())
    }
}

/// Wait for SIGINT (Ctrl-C) or, on Unix, SIGTERM, caught from the first poll on (see
/// [`StopSignal`] to catch them from an earlier point).
///
/// # Errors
///
/// If the signal handlers cannot be installed.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> anyhow::Result<()> {
/// examples::stop_signal().await?;
/// tracing::info!("shutting down");
/// # Ok(()) }
/// ```
pub async fn stop_signal() -> anyhow::Result<()> {
    StopSignal::install()?.recv().await
}

/// A progress bar on stderr for `total` steps of `what`, or a hidden one when stderr
/// is not a terminal (so logs and pipes stay clean).
///
/// # Examples
///
/// ```
/// let bar = examples::progress_bar(100, "lines");
/// bar.inc(10);
/// bar.finish_and_clear();
/// ```
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let template = format!(
        "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// [`progress_bar`] counting bytes of an input of `total` bytes.
///
/// # Examples
///
/// ```
/// let bar = examples::progress_bar_bytes(1 << 20);
/// bar.inc(4096);
/// bar.finish_and_clear();
/// ```
pub fn progress_bar_bytes(total: u64) -> indicatif::ProgressBar {
    let bar = progress_bar(total, "");
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The dashboard a server program serves with `--dashboard ADDR`.
#[cfg(feature = "dashboard")]
pub type Dashboard = axon::dashboard::Dashboard;

/// The dashboard a server program serves with `--dashboard ADDR` (this build has none:
/// the `dashboard` feature is off).
#[cfg(not(feature = "dashboard"))]
#[derive(Debug)]
pub struct Dashboard;

/// Serve `rt`'s dashboard on `addr` if one was asked for (`--dashboard ADDR`), and log
/// where (`dashboard on http://ADDR`).
///
/// # Errors
///
/// The address cannot be bound, or the programs were built without the `dashboard`
/// feature.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> anyhow::Result<()> {
/// let rt = axon::Runtime::new();
/// let _dashboard = examples::serve_dashboard(&rt, Some("127.0.0.1:8080".parse()?)).await?;
/// # Ok(()) }
/// ```
pub async fn serve_dashboard(
    rt: &axon::Runtime,
    addr: Option<std::net::SocketAddr>,
) -> anyhow::Result<Option<Dashboard>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    #[cfg(feature = "dashboard")]
    {
        use anyhow::Context as _;
        let dashboard = rt
            .serve_dashboard(addr)
            .await
            .with_context(|| format!("dashboard on {addr}"))?;
        tracing::info!("dashboard on http://{}", dashboard.local_addr());
        Ok(Some(dashboard))
    }
    #[cfg(not(feature = "dashboard"))]
    {
        let _ = rt;
        anyhow::bail!("--dashboard {addr}: built without the `dashboard` feature")
    }
}
