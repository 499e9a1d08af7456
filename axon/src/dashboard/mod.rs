//! The dashboard (cargo feature `dashboard`): a web page that draws the live graph,
//! `/metrics` for Prometheus, extra panels and operator terminals a program adds.
//!
//! [`Runtime::serve_dashboard`] serves, on one address:
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the page: the graph drawn with cytoscape and a dagre layout, panels, terminals |
//! | `/events` | the page's updates as server-sent events: one `hello` with the whole view, then only what changed |
//! | `/metrics` | Prometheus text: box counters per component, restarts, exits, published counters |
//! | `/snapshot.json` | the whole [`Snapshot`](crate::Snapshot), on demand |
//! | `POST /record/start` | `{"from","to","path"}`: record the link `from -> to` (names `name#id.box`) into `path` |
//! | `POST /record/stop` | `{"from","to"}`: stop it; answers `{"path","written","dropped","error"}` |
//! | `POST /replay` | `{"path","to","pace"}`: replay a recording into the inbox `to` (`pace` `recorded` or `max`) |
//!
//! The recording routes read and write only inside the recordings directory
//! ([`Dashboard::allow_recordings_in`]; by default `axon-recordings` under the
//! system's temporary directory): a `path` is relative to it, without `..`, or
//! absolute inside it; an existing file is never overwritten. Refusals are
//! `{"error": "..."}` with a 4xx status, and change nothing in the graph. The link's
//! message type must be made recordable ([`Runtime::make_recordable`]).
//!
//! # How it works
//!
//! One task (the *hub*) follows the runtime's change stream
//! ([`Runtime::subscribe`]) and, at most every quarter second after a change and
//! every second in any case, reads one [`Runtime::snapshot`]: box counters are read
//! there, never on the message path. Each page connected to `/events` keeps its own
//! view (which composites it collapsed, which connection groups it expanded) and is
//! sent only the boxes and links that changed since its last view. A composite with
//! more than [`FOLD_ABOVE`] children (a server with many connections) is drawn with
//! one box per child name, counters summed; the page can expand one such group.

mod hub;
mod metrics;
mod panels;
mod record;
mod routes;
mod stream;
mod terminal;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;

pub use panels::Panel;

use crate::Runtime;

/// A composite with more children than this is drawn with its children folded into
/// one box per child name (expandable from the page).
pub const FOLD_ABOVE: usize = 16;

/// A running dashboard: its address, and the panels and terminals the program adds.
/// Stops serving when dropped (or with [`Dashboard::stop`]).
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> std::io::Result<()> {
/// let rt = axon::Runtime::new();
/// let dashboard = rt.serve_dashboard("127.0.0.1:8080").await?;
/// println!("dashboard on http://{}", dashboard.local_addr());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Dashboard {
    addr: SocketAddr,
    shared: Arc<hub::Shared>,
    tasks: tokio::task::JoinSet<()>,
}

impl Runtime {
    /// Serve the dashboard of this graph on `addr` (port 0 picks a free port): the
    /// live graph at `/`, Prometheus metrics at `/metrics`. See [the module](crate::dashboard).
    ///
    /// # Errors
    ///
    /// The address cannot be bound.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let rt = axon::Runtime::new();
    /// let dashboard = rt.serve_dashboard("127.0.0.1:0").await?;
    /// assert_ne!(dashboard.local_addr().port(), 0);
    /// dashboard.stop().await;
    /// # Ok(()) }
    /// ```
    pub async fn serve_dashboard(
        &self,
        addr: impl tokio::net::ToSocketAddrs,
    ) -> std::io::Result<Dashboard> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(hub::Shared::new(self.clone()));
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(hub::run(shared.clone(), self.subscribe()));
        let app = routes::router(shared.clone());
        tasks.spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("dashboard on {addr} stopped: {e}");
            }
        });
        tracing::info!("dashboard on http://{addr}");
        Ok(Dashboard {
            addr,
            shared,
            tasks,
        })
    }
}

impl Dashboard {
    /// The address it serves on, with the real port.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let dashboard = axon::Runtime::new().serve_dashboard("127.0.0.1:0").await?;
    /// assert!(dashboard.local_addr().ip().is_loopback());
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Show `panel` under `name` on the page (replacing the panel of that name).
    /// Pages see it within a second.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// use axon::dashboard::Panel;
    /// let dashboard = axon::Runtime::new().serve_dashboard("127.0.0.1:0").await?;
    /// dashboard.set_panel("rates", Panel::values([("pulses/s", "120")]));
    /// # Ok(()) }
    /// ```
    pub fn set_panel(&self, name: &str, panel: Panel) {
        self.shared.panels.set(name, panel);
    }

    /// Offer an operator terminal named `name` on the page for the line-based TCP
    /// service at `addr`: a page that opens it connects to `addr`, shows what
    /// arrives, and sends each line typed there (ended with `\r\n`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let dashboard = axon::Runtime::new().serve_dashboard("127.0.0.1:0").await?;
    /// dashboard.add_terminal("node 1 uart", "127.0.0.1:61003".parse().unwrap());
    /// # Ok(()) }
    /// ```
    pub fn add_terminal(&self, name: &str, addr: SocketAddr) {
        self.shared.terminals.add(name, addr);
        self.shared.panels.touch();
    }

    /// Let the page's recording routes read and write recordings in `dir` (instead
    /// of `axon-recordings` under the system's temporary directory). Paths the page
    /// gives are taken relative to it; nothing outside it is written or read.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let dashboard = axon::Runtime::new().serve_dashboard("127.0.0.1:0").await?;
    /// dashboard.allow_recordings_in(std::env::temp_dir().join("my-recordings"));
    /// # Ok(()) }
    /// ```
    pub fn allow_recordings_in(&self, dir: impl Into<std::path::PathBuf>) {
        *self
            .shared
            .recordings_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = dir.into();
    }

    /// Waits for the dashboard's next reading of the graph after this call (one comes
    /// at least every second, and within 250 ms of a change): what `/metrics` and the
    /// pages show is then at least as new as the moment of the call.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let rt = axon::Runtime::new();
    /// let dashboard = rt.serve_dashboard("127.0.0.1:0").await?;
    /// // ... change the graph, then scrape /metrics knowing it shows the change:
    /// dashboard.next_reading().await;
    /// # Ok(()) }
    /// ```
    pub async fn next_reading(&self) {
        let mut frames = self.shared.frames.clone();
        frames.borrow_and_update();
        if frames.changed().await.is_err() {
            // The dashboard stopped: no reading will come.
            std::future::pending::<()>().await;
        }
    }

    /// Stop serving: the listener closes and open pages are disconnected.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let dashboard = axon::Runtime::new().serve_dashboard("127.0.0.1:0").await?;
    /// let addr = dashboard.local_addr();
    /// dashboard.stop().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}
