//! Shared helpers for the example programs: logging and stop signals, set up the same
//! way in every program.

/// Log through `tracing` to stderr, filtered by `RUST_LOG`, or by `default_filter` when
/// `RUST_LOG` is unset. Logs go to stderr so that a program's own output stays clean.
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
        .init();
}

/// Wait for SIGINT (Ctrl-C) or, on Unix, SIGTERM.
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
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
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
