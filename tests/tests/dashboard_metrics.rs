//! The dashboard's `/metrics` page, scraped over HTTP and read with a Prometheus text
//! parser: a server's counters, its connections' boxes summed into one series per
//! box (bounded labels), counts that stay after the connections end, and restarts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axon::dashboard::Dashboard;
use axon::{Context, Runtime, component::from_fn};
use chassis::supervisor::{Backoff, ChildSpec, Supervisor};
use chassis::tcp::{Echo, ServerConfig, ServerCore};
use prometheus_parse::{Sample, Scrape, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a test waits for the page to show what it expects.
const PATIENCE: Duration = Duration::from_secs(20);

/// GET `path` from `addr` (HTTP/1.1, one request per connection): the body.
async fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("request");
    let mut page = String::new();
    s.read_to_string(&mut page).await.expect("response");
    let (head, body) = page.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    body.to_string()
}

async fn scrape(addr: SocketAddr) -> (Scrape, String) {
    let text = get(addr, "/metrics").await;
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    (scrape, text)
}

fn value(s: &Sample) -> f64 {
    match s.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => f64::NAN,
    }
}

/// The value of `metric` with these labels, if present.
fn find(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(value)
}

/// Scrape after each of the dashboard's readings of the graph until `ok` holds:
/// nothing is scraped twice between two readings, nothing sleeps.
async fn scrape_until(dashboard: &Dashboard, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (scrape, text) = scrape(dashboard.local_addr()).await;
        if ok(&scrape) {
            return scrape;
        }
        let next = tokio::time::timeout_at(deadline, dashboard.next_reading()).await;
        assert!(next.is_ok(), "/metrics never showed {what}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_server_counters_and_connection_boxes_summed_per_server() {
    let rt = Runtime::new();
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    let server =
        ServerCore::new(ServerConfig::new("127.0.0.1:0".parse().unwrap()), |_| Echo).unwrap();
    let addr = server.local_addr();
    let stats = server.stats();
    let _server = rt.spawn(server).unwrap();

    let mut clients = Vec::new();
    for i in 0..30u8 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(&[i]).await.unwrap();
        let mut back = [0u8];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(back[0], i);
        clients.push(c);
    }
    let open = scrape_until(&dashboard, "30 open connections", |s| {
        find(s, "axon_server_open", &[("component", "ServerCore")]) == Some(30.0)
            && find(s, "axon_components", &[("component", "ServerCore/Echo")]) == Some(30.0)
    })
    .await;
    assert_eq!(
        find(
            &open,
            "axon_server_accepted_total",
            &[("component", "ServerCore")]
        ),
        Some(30.0)
    );
    assert_eq!(
        find(
            &open,
            "axon_server_rejected_total",
            &[("component", "ServerCore")]
        ),
        Some(0.0)
    );
    let echo_inbox = [("component", "ServerCore/Echo"), ("box", "inbox")];
    assert_eq!(
        find(&open, "axon_box_received_total", &echo_inbox),
        Some(30.0)
    );
    // Thirty connections, one series per box: labels name the server's path, not ids.
    let echo_series: Vec<&Sample> = open
        .samples
        .iter()
        .filter(|s| s.metric == "axon_box_received_total")
        .filter(|s| {
            s.labels
                .get("component")
                .is_some_and(|c| c.contains("Echo"))
        })
        .collect();
    assert_eq!(echo_series.len(), 1, "{echo_series:?}");

    drop(clients);
    stats.wait_for(|s| s.live() == 0).await;
    let closed = scrape_until(&dashboard, "the connections closed", |s| {
        find(s, "axon_server_open", &[("component", "ServerCore")]) == Some(0.0)
            && find(s, "axon_exits_total", &[("component", "Echo")]) == Some(30.0)
    })
    .await;
    // Counts of connections that ended stay: counters only grow.
    assert_eq!(
        find(&closed, "axon_box_received_total", &echo_inbox),
        Some(30.0)
    );
    assert_eq!(
        find(
            &closed,
            "axon_server_accepted_total",
            &[("component", "ServerCore")]
        ),
        Some(30.0)
    );
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_restarts() {
    let rt = Runtime::new();
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    let starts = Arc::new(AtomicU32::new(0));
    let seen = starts.clone();
    let sup = Supervisor::<(), ()>::new()
        .backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(1),
        ))
        .child(ChildSpec::new("flaky", move || {
            let seen = seen.clone();
            from_fn("flaky", move |mut c: Context<(), ()>| async move {
                // The first two instances fail; the third waits to be stopped.
                if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                    return Err("boom".into());
                }
                while c.recv().await.is_some() {}
                Ok(())
            })
        }));
    let _sup = rt.spawn(sup).unwrap();
    let s = scrape_until(&dashboard, "two restarts", |s| {
        find(s, "axon_restarts_total", &[("child", "flaky")]) == Some(2.0)
    })
    .await;
    assert_eq!(
        find(
            &s,
            "axon_exits_total",
            &[("component", "flaky"), ("outcome", "failed")]
        ),
        Some(2.0)
    );
    assert_eq!(starts.load(Ordering::SeqCst), 3);
    dashboard.stop().await;
}
