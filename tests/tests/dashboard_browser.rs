//! The dashboard in a real browser: headless Chromium driven through chromedriver
//! loads the page of a running server, sees its components, watches a counter move
//! after traffic, sees a connection's sub-graph appear and vanish, expands a server's
//! folded connections, and types a line into a sensornet operator terminal that
//! reaches the node, and records a link from the page. Screenshots go to `target/dashboard-screenshots/`. Skipped, with a
//! message, where Chromium or chromedriver is missing (`.ci/run` installs them).

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
use fantoccini::{Client, ClientBuilder, Locator};
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
    let driver = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        // Its own process group, so that Chromium can be ended with it.
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = std::env::temp_dir().join(format!(
        "axon-dashboard-{name}-{}-{port}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).expect("profile dir");
    let profile = TempDir(profile);
    let mut driver = Some(driver);
    // chromedriver listens within a moment of starting: try for a bounded while.
    let url = format!("http://127.0.0.1:{port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
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
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                end_driver(&mut driver.take().expect("driver"));
                panic!("no browser session through chromedriver: {e}");
            }
        }
    };
    Browser {
        client,
        driver: driver.take().expect("driver"),
        _profile: profile,
    }
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// Save a screenshot once the graph's layout has caught up.
async fn screenshot(client: &Client, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while client
        .find(Locator::Css("#graph[data-pending='0']"))
        .await
        .is_err()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("saved");
}

/// Wait until the text of `css` satisfies `ok`; the last text is in the panic.
async fn wait_text(client: &Client, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ok(&text) {
            return text;
        }
        if tokio::time::Instant::now() >= deadline {
            screenshot(client, &format!("failed-{}", what.replace(' ', "-"))).await;
            panic!("the page never showed {what}; {css} shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
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
    let toggle = c.wait().for_element(Locator::Css("#toggle")).await.unwrap();
    assert_eq!(toggle.text().await.unwrap(), "expand");
    toggle.click().await.unwrap();
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
    c.goto(&format!("http://{}/", dashboard.local_addr()))
        .await
        .unwrap();
    let open = c
        .wait()
        .for_element(Locator::XPath("//button[text()='node 1 uart']"))
        .await
        .unwrap();
    open.click().await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while c
        .find(Locator::Css("#terminal[data-session]"))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no terminal session"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_recorded_from_the_page_shows_its_counter_and_stops() {
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
    let sink = rt
        .add(from_fn("sink", move |mut c: Context<u32, ()>| async move {
            while let Some(n) = c.recv().await {
                let _ = got_tx.send(n);
            }
            Ok(())
        }))
        .unwrap();
    rt.link(numbers.outbox(), sink.inbox()).unwrap();
    rt.link(numbers.signal(), sink.control()).unwrap();
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
    drop(b);
    dashboard.stop().await;
}
