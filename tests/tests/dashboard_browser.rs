//! The dashboard in a real browser: headless Chromium driven through chromedriver
//! loads the page of a running server, sees its components, watches a counter move
//! after traffic, sees a connection's sub-graph appear and vanish, expands a server's
//! folded connections, types a line into a sensornet operator terminal that reaches
//! the node (a socket the test holds, and a simulated detector node of a running
//! sensornet station), records a link from the page and replays the recording from
//! the page's Replay form. Nothing sleeps: the test waits for chromedriver's "started"
//! line, and for the page's text through a MutationObserver in the page, which answers
//! as soon as the text changes. Screenshots go to `target/dashboard-screenshots/`.
//! Skipped, with a message, where Chromium or chromedriver is missing (`.ci/run`
//! installs them).

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axon::{Context, Runtime, component::from_fn};
use chassis::tcp::{Echo, ServerConfig, ServerCore};
use components::cosmici::LinkKind;
use components::cosmici::bridge::{BridgeConfig, BridgeManager};
use components::cosmici::main_server::NetEvent;
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::cosmici::station::{Station, StationConfig};
use components::physics::layout::DetectorLayout;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// A chromedriver process and a headless Chromium session with a fresh profile;
/// both end when this is dropped, also when a test fails.
struct Browser {
    client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_driver(&mut self.driver);
    }
}

/// End chromedriver and every Chromium process it started: they share the process
/// group chromedriver leads (killing chromedriver alone orphans Chromium and its
/// renderers).
fn end_driver(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn have_browser() -> bool {
    let found = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    if !found {
        eprintln!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is not installed \
             (apt-get install chromium chromium-driver)"
        );
    }
    found
}

async fn browser(name: &str) -> Browser {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("addr").port()
    };
    let mut driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        // Its own process group, so that Chromium can be ended with it.
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    // chromedriver says when it listens; its output is read to the end (until it
    // exits) so that it never writes into a closed pipe.
    let out = driver.stdout.take().expect("chromedriver's stdout");
    let (ready_tx, ready) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut ready_tx = Some(ready_tx);
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if line.contains("started successfully")
                && let Some(tx) = ready_tx.take()
            {
                let _ = tx.send(());
            }
        }
    });
    if !matches!(tokio::time::timeout(PATIENCE, ready).await, Ok(Ok(()))) {
        end_driver(&mut driver);
        panic!("chromedriver never said it started");
    }
    let profile = std::env::temp_dir().join(format!(
        "axon-dashboard-{name}-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let profile = TempDir(profile);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--no-first-run",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1600,1000",
                format!("--user-data-dir={}", profile.0.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = match ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            end_driver(&mut driver);
            panic!("no browser session through chromedriver: {e}");
        }
    };
    Browser {
        client,
        driver,
        _profile: profile,
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Run in the page: answers the text of the element `css` selects (null while there
/// is none) as soon as it differs from `last`, or as it is after `ms` milliseconds.
/// A MutationObserver tells the page when anything changes.
const NEXT_TEXT: &str = r#"
const [css, last, ms, done] = arguments;
const read = () => { const e = document.querySelector(css); return e ? e.innerText : null; };
const now = read();
if (now !== last) { done(now); return; }
let timer = null;
const seen = new MutationObserver(() => {
  const t = read();
  if (t !== last) { seen.disconnect(); clearTimeout(timer); done(t); }
});
seen.observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
timer = setTimeout(() => { seen.disconnect(); done(read()); }, ms);
"#;

/// The text of `css` once it is no longer `last` (`None`: no such element), or as
/// it is when `within` has passed.
async fn next_text(
    client: &Client,
    css: &str,
    last: Option<&Option<String>>,
    within: Duration,
) -> Option<String> {
    // Before the first reading there is no `last`: a value no text can equal.
    let last = last.map_or(Value::Bool(false), |t| json!(t));
    let ms = u64::try_from(within.as_millis()).unwrap_or(u64::MAX);
    let answer = client
        .execute_async(NEXT_TEXT, vec![json!(css), last, json!(ms)])
        .await
        .expect("the page runs the script");
    answer.as_str().map(str::to_owned)
}

/// Save a screenshot once the graph's layout has caught up.
async fn screenshot(client: &Client, name: &str) {
    let css = "#graph[data-pending='0']";
    let mut text = next_text(client, css, None, Duration::ZERO).await;
    if text.is_none() {
        // A layout is due within 200 ms; take the picture anyway after 5 s.
        text = next_text(client, css, Some(&text), Duration::from_secs(5)).await;
    }
    let _ = text;
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("saved");
}

/// Load the dashboard at `addr`, wait for the terminal `name` in its list, open it, and
/// wait until its session is live.
async fn open_terminal(client: &Client, addr: std::net::SocketAddr, name: &str) {
    client.goto(&format!("http://{addr}/")).await.unwrap();
    wait_text(client, "#terminal-list", "the node's terminal", |t| {
        t.contains(name)
    })
    .await;
    client
        .find(Locator::XPath(&format!("//button[text()='{name}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(
        client,
        "#terminal[data-session]",
        "a terminal session",
        |_| true,
    )
    .await;
}

/// Wait until the element `css` is there and its text satisfies `ok`: each change of
/// the text is checked as the page makes it. The last text is in the panic.
async fn wait_text(client: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut last = None;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let text = next_text(
            client,
            css,
            last.as_ref(),
            left.min(Duration::from_secs(10)),
        )
        .await;
        if let Some(t) = text.as_deref().filter(|t| ok(t)) {
            return t.to_string();
        }
        if tokio::time::Instant::now() >= deadline {
            screenshot(client, &format!("failed-{}", what.replace(' ', "-"))).await;
            panic!("the page never showed {what}; {css} shows:\n{text:?}");
        }
        last = Some(text);
    }
}

/// The row of the components table whose first cell starts with `name`.
fn row<'a>(table: &'a str, name: &str) -> Option<&'a str> {
    table.lines().find(|l| l.starts_with(name))
}

/// A row's cells: box, state, msg/s, received, sent, dropped.
fn cells(row: &str) -> Vec<&str> {
    row.split_whitespace().collect()
}

/// An echo server and its dashboard on free loopback ports.
async fn echo_with_dashboard(rt: &Runtime) -> (SocketAddr, axon::dashboard::Dashboard) {
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    let server =
        ServerCore::new(ServerConfig::new("127.0.0.1:0".parse().unwrap()), |_| Echo).expect("bind");
    let addr = server.local_addr();
    std::mem::forget(rt.spawn(server).expect("server"));
    (addr, dashboard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_shows_the_live_graph_counters_and_connections() {
    if !have_browser() {
        return;
    }
    let rt = Runtime::new();
    let (addr, dashboard) = echo_with_dashboard(&rt).await;
    let b = browser("live").await;
    let c = &b.client;
    c.goto(&format!("http://{}/", dashboard.local_addr()))
        .await
        .expect("page loads");
    wait_text(c, "#status", "the live status", |t| t == "live").await;
    let t = wait_text(
        c,
        "#component-table tbody",
        "the server's components",
        |t| row(t, "ServerCore#").is_some() && row(t, "TcpServer#").is_some(),
    )
    .await;
    assert!(row(&t, "Echo#").is_none(), "no connection yet:\n{t}");

    // A client connects: its handler and socket adapter appear.
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    wait_text(
        c,
        "#component-table tbody",
        "the connection's sub-graph",
        |t| row(t, "Echo#").is_some_and(|r| r.contains("running")),
    )
    .await;
    screenshot(c, "connection-open").await;

    // Traffic: the handler's received count moves to what was sent.
    let mut back = [0u8; 1];
    for i in 0..25u8 {
        client.write_all(&[i]).await.unwrap();
        client.read_exact(&mut back).await.unwrap();
    }
    let t = wait_text(c, "#component-table tbody", "25 messages received", |t| {
        row(t, "Echo#").is_some_and(|r| cells(r).get(3) == Some(&"25"))
    })
    .await;
    let echo = cells(row(&t, "Echo#").unwrap())[0].to_string();

    // Selecting it shows its boxes' counters.
    let echo_row = c
        .find(Locator::XPath(&format!(
            "//tbody/tr[td[1][starts-with(., '{echo}')]]"
        )))
        .await
        .expect("the Echo row");
    echo_row.click().await.unwrap();
    wait_text(c, "#details", "the Echo's boxes", |t| {
        t.contains(&echo) && t.contains("inbox") && t.contains("outbox")
    })
    .await;
    screenshot(c, "counters").await;

    // The client leaves: the sub-graph vanishes, the server stays.
    drop(client);
    wait_text(c, "#component-table tbody", "the connection gone", |t| {
        row(t, "Echo#").is_none() && row(t, "ServerCore#").is_some()
    })
    .await;
    wait_text(c, "#news-list", "the handler's exit", |t| t.contains(&echo)).await;
    screenshot(c, "connection-closed").await;
    drop(b);
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_fold_into_one_box_and_expand_on_demand() {
    if !have_browser() {
        return;
    }
    let rt = Runtime::new();
    let (addr, dashboard) = echo_with_dashboard(&rt).await;
    let mut clients = Vec::new();
    for _ in 0..40 {
        clients.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let b = browser("fold").await;
    let c = &b.client;
    c.goto(&format!("http://{}/", dashboard.local_addr()))
        .await
        .unwrap();
    let t = wait_text(c, "#component-table tbody", "the folded connections", |t| {
        row(t, "Echo ×40").is_some()
    })
    .await;
    assert!(row(&t, "Echo#").is_none(), "folded, not one row each:\n{t}");
    assert!(
        row(&t, "TcpServer#").is_some(),
        "a lone child stays itself:\n{t}"
    );
    screenshot(c, "folded").await;

    let group = c
        .find(Locator::XPath(
            "//tbody/tr[td[1][starts-with(., 'Echo ×40')]]",
        ))
        .await
        .unwrap();
    group.click().await.unwrap();
    wait_text(c, "#toggle", "the expand button", |t| t == "expand").await;
    c.find(Locator::Css("#toggle"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(c, "#component-table tbody", "40 Echo rows", |t| {
        t.lines().filter(|l| l.starts_with("Echo#")).count() == 40
    })
    .await;
    screenshot(c, "expanded").await;
    drop(clients);
    wait_text(c, "#component-table tbody", "the connections gone", |t| {
        !t.contains("Echo#")
    })
    .await;
    drop(b);
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_typed_in_a_sensornet_terminal_reaches_the_node() {
    if !have_browser() {
        return;
    }
    let rt = Runtime::new();
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    let config = BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        ..Default::default()
    };
    let manager = BridgeManager::new(config);
    let dir = manager.directory();
    let bridges = rt.add(manager).unwrap();
    let mut main_server = rt.external("main server");
    let (news, mut events) = main_server.add_outbox::<NetEvent>("news").unwrap();
    rt.link(news, bridges.inbox()).unwrap();
    let _bridges = bridges.start();
    events
        .send(NetEvent::PoweredOn {
            node: 1,
            ip: "127.0.0.1".parse().unwrap(),
            first: true,
        })
        .await
        .expect("the bridge manager takes the power-on");
    let addrs = dir.wait(1, LinkKind::Uart).await;
    dashboard.add_terminal("node 1 uart", addrs.terminal);
    // The simulated node: connected to its UART bridge, as a real node is.
    let node = tokio::net::TcpStream::connect(addrs.node).await.unwrap();
    let (node_rx, mut node_tx) = node.into_split();
    let mut node_rx = BufReader::new(node_rx).lines();

    let b = browser("terminal").await;
    let c = &b.client;
    open_terminal(c, dashboard.local_addr(), "node 1 uart").await;
    // The node's stream shows live in the terminal.
    node_tx.write_all(b"HOST_READY\r\n").await.unwrap();
    wait_text(c, "#terminal-output", "the node's line", |t| {
        t.contains("HOST_READY")
    })
    .await;
    // A line typed there goes down the link to the node.
    let input = c.find(Locator::Css("#terminal-input")).await.unwrap();
    input.send_keys("STATUS 42\n").await.unwrap();
    let line = tokio::time::timeout(PATIENCE, node_rx.next_line())
        .await
        .expect("the typed line arrives in time")
        .unwrap()
        .expect("a line");
    assert_eq!(line.trim_end(), "STATUS 42");
    node_tx.write_all(b"ACK STATUS 42\r\n").await.unwrap();
    wait_text(c, "#terminal-output", "the node's answer", |t| {
        t.contains("ACK STATUS 42")
    })
    .await;
    screenshot(c, "terminal").await;
    drop(b);
    dashboard.stop().await;
}

/// A directory removed when dropped, made empty first.
fn fresh_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("axon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    TempDir(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_node_streams_into_its_terminal_and_acknowledges_a_typed_line() {
    if !have_browser() {
        return;
    }
    // The sensornet station (MAIN, bridges, pipeline, archive) with simulated
    // detectors: a CTU and two FEDM nodes, connected as real ones are.
    let dir = fresh_dir("dash-sensornet");
    let layout = DetectorLayout::grid(2, 2, 10.0).unwrap();
    let mut config = StationConfig::new(layout.clone(), dir.0.join("sensornet.db"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.bridges = BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        transcript_dir: Some(dir.0.join("transcripts")),
        ..BridgeConfig::default()
    };
    let rt = Runtime::new();
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    let station = Station::start(&rt, config)
        .await
        .expect("the station starts");
    let mut sim_config = DetectorSimConfig::new(station.main_addr(), layout);
    sim_config.bridges = BridgePorts::Directory(station.directory());
    let mut sim = DetectorSim::new(sim_config).unwrap().start();
    // As sensornet does: a terminal on the page for the node's UART bridge.
    let uart = tokio::time::timeout(PATIENCE, station.directory().wait(1, LinkKind::Uart))
        .await
        .expect("node 1's UART bridge in time");
    dashboard.add_terminal("node 1 uart", uart.terminal);

    let b = browser("sensornet").await;
    let c = &b.client;
    open_terminal(c, dashboard.local_addr(), "node 1 uart").await;
    // The FEDM node's stream, live: its pulses (the run starts once the CTU is ready)
    // or its once-a-second counters.
    let stream = wait_text(c, "#terminal-output", "the node's stream", |t| {
        t.contains("$CON_PULSE,") || t.contains("$NC_PULSES,")
    })
    .await;
    let input = c.find(Locator::Css("#terminal-input")).await.unwrap();
    input.send_keys("STATUS 42\n").await.unwrap();
    // The simulated node heard the line, and its acknowledgement comes back up the
    // link into the terminal, among the node's own lines.
    let heard = tokio::time::timeout(PATIENCE, sim.wait_heard(|h| h.line == "STATUS 42"))
        .await
        .expect("the typed line reaches the node in time");
    assert_eq!(heard.node, 1, "the line went to node 1");
    let shown = wait_text(c, "#terminal-output", "the node's acknowledgement", |t| {
        t.contains("$ACK,STATUS 42*")
    })
    .await;
    assert!(
        shown.contains("$CON_PULSE,") || shown.contains("$NC_PULSES,"),
        "the node's own lines around it:\n{stream}"
    );
    screenshot(c, "sensornet-terminal").await;
    drop(b);
    sim.stop().await;
    station.shutdown().await;
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_recorded_from_the_page_shows_its_counter_and_replays_from_the_page() {
    if !have_browser() {
        return;
    }
    let rt = Runtime::new();
    rt.make_recordable::<u32>();
    let (feed, mut fed) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let (got_tx, mut got) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let numbers = rt
        .add(from_fn(
            "numbers",
            move |mut c: Context<(), u32>| async move {
                while let Some(n) = fed.recv().await {
                    c.send(n).await?;
                }
                Ok(())
            },
        ))
        .unwrap();
    // The sink also takes recordings replayed into its `replayed` inbox, and goes on
    // reading it after a replay's end (`ProducerFinished` on its control) ended its
    // main input: it stays on the page with its count.
    let sink = rt
        .add(from_fn("sink", move |mut c: Context<u32, ()>| async move {
            let (_, mut replayed) = c.add_inbox::<u32>("replayed", "replayed numbers", 64)?;
            let mut main_open = true;
            loop {
                let n = tokio::select! {
                    n = c.recv(), if main_open => match n {
                        Some(n) => n,
                        None => { main_open = false; continue; }
                    },
                    n = replayed.recv() => match n {
                        Some(n) => n,
                        None => break,
                    },
                };
                let _ = got_tx.send(n);
            }
            Ok(())
        }))
        .unwrap();
    rt.link(numbers.outbox(), sink.inbox()).unwrap();
    rt.link(numbers.signal(), sink.control()).unwrap();
    let sink_id = sink.id();
    std::mem::forget((numbers.start(), sink.start()));
    let dir = TempDir(std::env::temp_dir().join(format!("axon-page-rec-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.expect("dashboard");
    dashboard.allow_recordings_in(&dir.0);

    let b = browser("record").await;
    let c = &b.client;
    c.goto(&format!("http://{}/", dashboard.local_addr()))
        .await
        .expect("page loads");
    wait_text(c, "#status", "the live status", |t| t == "live").await;
    wait_text(c, "#component-table tbody", "the two components", |t| {
        row(t, "numbers#").is_some() && row(t, "sink#").is_some()
    })
    .await;
    c.find(Locator::XPath(
        "//tbody/tr[td[1][starts-with(., 'numbers#')]]",
    ))
    .await
    .expect("the numbers row")
    .click()
    .await
    .unwrap();
    wait_text(c, "#record-forms", "the link's Record form", |t| {
        t.contains("numbers#") && t.contains("sink#")
    })
    .await;
    c.find(Locator::Css(".record-start"))
        .await
        .expect("a Record button")
        .click()
        .await
        .unwrap();
    wait_text(
        c,
        "#recording-table tbody",
        "the recording under way",
        |t| t.contains("recording"),
    )
    .await;

    wait_text(c, "#record-forms", "the link marked as recording", |t| {
        t.contains("numbers#") && t.contains("sink#") && t.contains("recording")
    })
    .await;
    for n in 1..=5 {
        feed.send(n).unwrap();
    }
    for n in 1..=5 {
        let m = tokio::time::timeout(PATIENCE, got.recv()).await;
        assert_eq!(
            m.expect("in time"),
            Some(n),
            "the sink still gets the traffic"
        );
    }
    wait_text(c, "#recording-table tbody", "5 written", |t| {
        // state, written, dropped
        t.split_whitespace()
            .collect::<Vec<_>>()
            .windows(3)
            .any(|w| w == ["recording", "5", "0"])
    })
    .await;
    screenshot(c, "recording").await;

    c.find(Locator::Css(".record-stop"))
        .await
        .expect("a Stop button")
        .click()
        .await
        .unwrap();
    wait_text(c, "#recording-table tbody", "the recording stopped", |t| {
        t.contains("stopped")
    })
    .await;
    wait_text(c, "#record-msg", "the stop's summary", |t| {
        t.contains("5 written, 0 dropped")
    })
    .await;
    screenshot(c, "recording-stopped").await;
    let path = rt.recordings()[0].path.clone().expect("a file");
    assert!(
        path.starts_with(&dir.0),
        "{} outside {}",
        path.display(),
        dir.0.display()
    );
    let recorded: Vec<u32> = axon::record::read(&path)
        .unwrap()
        .messages
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(recorded, [1, 2, 3, 4, 5]);

    // Replayed from the page: the sink's Replay form, into its `replayed` inbox, the
    // recording's file, at maximum speed. The five numbers arrive again and the
    // sink's count moves.
    let received = |t: &str| row(t, "sink#").and_then(|r| cells(r).get(3).map(|c| c.to_string()));
    let t = wait_text(c, "#component-table tbody", "the sink's 5", |t| {
        received(t).as_deref() == Some("5")
    })
    .await;
    let file = path.file_name().unwrap().to_str().unwrap().to_string();
    c.find(Locator::XPath("//tbody/tr[td[1][starts-with(., 'sink#')]]"))
        .await
        .unwrap_or_else(|e| panic!("the sink row: {e}\n{t}"))
        .click()
        .await
        .unwrap();
    wait_text(c, "#replay-form", "the sink's Replay form", |_| true).await;
    let sink_replayed = format!("sink#{}.replayed", sink_id);
    c.find(Locator::Css("#replay-form .replay-to"))
        .await
        .unwrap()
        .select_by_value(&sink_replayed)
        .await
        .unwrap_or_else(|e| panic!("no {sink_replayed} in the form: {e}"));
    c.find(Locator::Css("#replay-form .record-path"))
        .await
        .unwrap()
        .send_keys(&file)
        .await
        .unwrap();
    c.find(Locator::Css("#replay-form .replay-pace"))
        .await
        .unwrap()
        .select_by_value("max")
        .await
        .unwrap();
    c.find(Locator::Css("#replay-form button[type='submit']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(c, "#record-msg", "the replay under way", |t| {
        t.contains("replaying") && t.contains(&file)
    })
    .await;
    for n in 1..=5 {
        let m = tokio::time::timeout(PATIENCE, got.recv()).await;
        assert_eq!(m.expect("in time"), Some(n), "replayed into the sink");
    }
    // The selected sink's details: its `replayed` inbox received the five (cells:
    // box, depth/cap, bytes, received, ...).
    wait_text(c, "#details", "the replayed inbox's count", |t| {
        t.lines()
            .find(|l| l.starts_with("▸ replayed"))
            .is_some_and(|l| l.split('\t').nth(3) == Some("5"))
    })
    .await;
    screenshot(c, "replayed").await;
    drop(b);
    dashboard.stop().await;
}
