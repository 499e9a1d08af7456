//! Link recording through the dashboard's routes (plain HTTP, no browser): a link
//! recorded by name, the traffic found in the file, a replay into an inbox; and
//! refusals (a link whose type is not recordable, paths outside the recordings
//! directory) that answer a JSON error and change nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axon::record;
use axon::{Context, Runtime, component::from_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(20);

/// POST `body` as JSON to `path`: the status and the JSON answer.
async fn post(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.expect("request");
    let mut page = String::new();
    s.read_to_string(&mut page).await.expect("response");
    let (head, answer) = page.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let answer = serde_json::from_str(answer).unwrap_or_else(|e| panic!("{e}: {page}"));
    (status, answer)
}

/// A fresh recordings directory for one test.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("axon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }

    fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `numbers` sends each number it is handed to `sink`, which passes them on to
/// the test. The labels of the link's two ends, as the page shows them.
fn numbers_to_sink(
    rt: &Runtime,
) -> (
    mpsc::UnboundedSender<u32>,
    mpsc::UnboundedReceiver<u32>,
    String,
    String,
) {
    let (feed, mut fed) = mpsc::unbounded_channel::<u32>();
    let (got_tx, got) = mpsc::unbounded_channel::<u32>();
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
    let from = format!("numbers#{}.outbox", numbers.id());
    let to = format!("sink#{}.inbox", sink.id());
    std::mem::forget((numbers.start(), sink.start()));
    (feed, got, from, to)
}

async fn next(got: &mut mpsc::UnboundedReceiver<u32>) -> u32 {
    tokio::time::timeout(PATIENCE, got.recv())
        .await
        .expect("a message in time")
        .expect("the sink is alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_recorded_from_the_dashboard_holds_its_traffic_and_replays() {
    let rt = Runtime::new();
    rt.make_recordable::<u32>();
    let (feed, mut got, from, to) = numbers_to_sink(&rt);
    let dir = Dir::new("dash-rec");
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.unwrap();
    dashboard.allow_recordings_in(&dir.0);
    let addr = dashboard.local_addr();

    let (status, answer) = post(
        addr,
        "/record/start",
        &json!({ "from": from, "to": to, "path": "run/numbers.axrec" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let file = dir.0.join("run/numbers.axrec");
    assert_eq!(answer["path"], json!(file));
    // Recording the same link twice is refused, and the first goes on.
    let (status, answer) = post(
        addr,
        "/record/start",
        &json!({ "from": from, "to": to, "path": "other.axrec" }),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("already"),
        "{answer}"
    );

    for n in [7, 8, 9] {
        feed.send(n).unwrap();
    }
    for n in [7, 8, 9] {
        assert_eq!(
            next(&mut got).await,
            n,
            "the sink still gets the link's traffic"
        );
    }
    let (status, answer) = post(addr, "/record/stop", &json!({ "from": from, "to": to })).await;
    assert_eq!(status, 200, "{answer}");
    let summary: (u64, u64) = (
        answer["written"].as_u64().unwrap(),
        answer["dropped"].as_u64().unwrap(),
    );
    assert_eq!(summary, (3, 0), "{answer}");
    let recorded: Vec<u32> = record::read(&file)
        .unwrap()
        .messages
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(recorded, [7, 8, 9]);
    // Not recorded after the stop; stopping again is refused.
    feed.send(10).unwrap();
    assert_eq!(next(&mut got).await, 10);
    let (status, answer) = post(addr, "/record/stop", &json!({ "from": from, "to": to })).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(record::read::<u32>(&file).unwrap().messages.len(), 3);

    // The recording replayed into the sink's inbox by name.
    let (status, answer) = post(
        addr,
        "/replay",
        &json!({ "path": "run/numbers.axrec", "to": to, "pace": "max" }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    for n in [7, 8, 9] {
        assert_eq!(next(&mut got).await, n, "replayed");
    }
    dashboard.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_recordings_answer_an_error_and_change_nothing() {
    let rt = Runtime::new();
    rt.make_recordable::<u32>();
    let (_feed, _got, from, to) = numbers_to_sink(&rt);
    let bytes_a = rt
        .add(from_fn("a", |_c: Context<(), u8>| async { Ok(()) }))
        .unwrap();
    let bytes_b = rt
        .add(from_fn("b", |_c: Context<u8, ()>| async { Ok(()) }))
        .unwrap();
    rt.link(bytes_a.outbox(), bytes_b.inbox()).unwrap();
    let dir = Dir::new("dash-rec-refused");
    let dashboard = rt.serve_dashboard("127.0.0.1:0").await.unwrap();
    dashboard.allow_recordings_in(&dir.0);
    let addr = dashboard.local_addr();
    let shape = |rt: &Runtime| {
        let s = rt.snapshot();
        let ids: Vec<_> = s.components.iter().map(|c| c.id).collect();
        (ids, serde_json::to_string(&s.links).unwrap())
    };
    let before = shape(&rt);

    let outside = std::env::temp_dir().join("axon-outside.axrec");
    let cases = [
        // Not recordable: u8 was never made so.
        (
            json!({ "from": format!("a#{}.outbox", bytes_a.id()), "to": format!("b#{}.inbox", bytes_b.id()), "path": "u8.axrec" }),
            422,
            "not made recordable",
        ),
        (
            json!({ "from": from, "to": to, "path": "../escape.axrec" }),
            400,
            "`..` is not allowed",
        ),
        (
            json!({ "from": from, "to": to, "path": outside }),
            400,
            "outside the recordings directory",
        ),
        (
            json!({ "from": "nothing", "to": to, "path": "x.axrec" }),
            404,
            "does not name a box",
        ),
        (
            json!({ "from": to, "to": from, "path": "x.axrec" }),
            404,
            "does not link",
        ),
    ];
    for (body, status, says) in cases {
        let (got, answer) = post(addr, "/record/start", &body).await;
        assert_eq!(got, status, "{body} -> {answer}");
        let error = answer["error"].as_str().expect("a JSON error");
        assert!(error.contains(says), "{body} -> {error}");
    }
    let (status, answer) = post(addr, "/replay", &json!({ "path": "/etc/passwd", "to": to })).await;
    assert_eq!(status, 400, "{answer}");

    assert_eq!(shape(&rt), before, "the graph is unchanged");
    assert!(rt.recordings().is_empty());
    assert!(dir.files().is_empty(), "files left: {:?}", dir.files());
    assert!(!outside.exists());
    assert!(!dir.0.parent().unwrap().join("escape.axrec").exists());
    dashboard.stop().await;
}
