//! buildmaster's HTTP control interface, spoken to over HTTP/1.1 by hand, with the real
//! `buildmaster` and `buildworker` programs (built beside this test by `cargo test -p
//! examples`): `GET /workers`, `POST /workers/NAME/run` streamed with header lines and a
//! last line `rc=N`, and `POST /commands/ID/interrupt`. Every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod support;
use support::{program, stderr_lines};

const LIMIT: Duration = Duration::from_secs(30);

/// A running program, its stderr read line by line; killed when dropped.
struct Program {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Program {
    fn start(name: &str, args: &[&str]) -> Program {
        let mut child = Command::new(program(name))
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{name}: {e} (build it: cargo build -p examples --example {name})")
            });
        let lines = stderr_lines(&mut child);
        Program { child, lines }
    }

    /// The address of the `listening on ADDR for WHAT` line.
    fn listening(&self, what: &str) -> SocketAddr {
        for _ in 0..100 {
            let line = self.lines.recv_timeout(LIMIT).expect("a log line in time");
            if let Some(rest) = line.split("listening on ").nth(1)
                && let Some(addr) = rest.strip_suffix(&format!(" for {what}"))
            {
                return addr.trim().parse().expect("an address");
            }
        }
        panic!("no `listening on … for {what}` line");
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request; the response's status line, head and a reader positioned at its body.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (String, String, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).expect("a status line");
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("a header line");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    (status.trim_end().to_string(), head, r)
}

/// One request, read to the end: (status line, head, body).
fn fetch(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String, String) {
    let (status, head, mut r) = request(addr, method, path, body);
    let mut text = String::new();
    r.read_to_string(&mut text).expect("the body");
    (status, head, text)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn workers_json(control: SocketAddr) -> serde_json::Value {
    let (status, head, body) = fetch(control, "GET", "/workers", "");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(header(&head, "content-type"), Some("application/json"));
    serde_json::from_str(&body).expect("JSON")
}

fn scratch(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn the_control_interface_lists_runs_streams_and_interrupts() {
    let dir = std::env::temp_dir().join(format!("axon-buildmaster-{}", std::process::id()));
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let workers = scratch(&dir, "workers.txt", "w1 s3cret\n");
    let secret = scratch(&dir, "secret.txt", "s3cret\n");
    let master = Program::start(
        "buildmaster",
        &[
            "--listen",
            "127.0.0.1:0",
            "--control",
            "127.0.0.1:0",
            "--workers",
            &workers,
        ],
    );
    let worker_port = master.listening("workers");
    let control = master.listening("control");

    // Registered, not connected.
    let list = workers_json(control);
    assert_eq!(
        list,
        serde_json::json!([{ "name": "w1", "connected": false }])
    );

    let _worker = Program::start(
        "buildworker",
        &[
            "--connect",
            &worker_port.to_string(),
            "--name",
            "w1",
            "--secret-file",
            &secret,
            "--workdir",
            &work.display().to_string(),
            "--grace",
            "1",
        ],
    );
    let mut connected = false;
    for _ in 0..300 {
        if workers_json(control)[0]["connected"] == serde_json::json!(true) {
            connected = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(connected, "w1 logged in within 15 s");
    let list = workers_json(control);
    assert_eq!(list[0]["name"], "w1");
    assert_eq!(list[0]["running"], serde_json::json!([]));
    assert!(
        list[0]["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:"))
    );

    // A run: header lines, its output, then rc=N last.
    let (status, head, body) = fetch(
        control,
        "POST",
        "/workers/w1/run",
        "echo hello; echo oops >&2; exit 3",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        header(&head, "x-command-id").is_some_and(|id| id.starts_with("cmd-")),
        "{head}"
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0], "# $ sh -c echo hello; echo oops >&2; exit 3",
        "{body}"
    );
    assert_eq!(lines[1], format!("# in {}", work.display()), "{body}");
    let mut output = lines[2..4].to_vec();
    output.sort_unstable();
    assert_eq!(output, ["hello", "oops"], "{body}");
    assert!(lines[4].starts_with("# elapsed "), "{body}");
    assert_eq!(lines[5..], ["rc=3"], "{body}");

    // A run for a builder runs in its directory; a name that is not plain is refused.
    let (status, _, body) = fetch(control, "POST", "/workers/w1/run?builder=docs", "pwd");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let docs = work.join("docs");
    assert_eq!(
        body.lines().nth(1),
        Some(format!("# in {}", docs.display()).as_str()),
        "{body}"
    );
    assert!(
        body.lines().any(|l| l == docs.display().to_string()),
        "pwd printed the builder's directory: {body}"
    );
    assert_eq!(body.lines().last(), Some("rc=0"), "{body}");
    let (status, _, body) = fetch(control, "POST", "/workers/w1/run?builder=..", "pwd");
    assert_eq!(status, "HTTP/1.1 502 Bad Gateway", "{body}");
    assert!(body.contains("not a plain name"), "{body}");

    // Interrupt a long one from a second connection while the first streams it.
    let (status, head, mut stream) = request(
        control,
        "POST",
        "/workers/w1/run",
        "echo started; exec sleep 1000",
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let id = header(&head, "x-command-id")
        .expect("a command id")
        .to_string();
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        stream.read_line(&mut line).expect("a line");
        if line.trim_end() == "started" {
            break;
        }
    }
    assert_eq!(line.trim_end(), "started");
    assert_eq!(workers_json(control)[0]["running"], serde_json::json!([id]));
    let (status, _, body) = fetch(
        control,
        "POST",
        &format!("/commands/{id}/interrupt"),
        "enough",
    );
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "ok\n")
    );
    let mut rest = String::new();
    stream
        .read_to_string(&mut rest)
        .expect("the rest of the stream");
    assert_eq!(rest.lines().last(), Some("interrupted: enough"), "{rest}");

    // What does not exist is 404.
    let (status, _, _) = fetch(control, "POST", "/commands/cmd-999/interrupt", "");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    let (status, _, _) = fetch(control, "GET", "/nothing", "");
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    // A run on a worker that is not connected fails without streaming.
    let (status, _, body) = fetch(control, "POST", "/workers/w9/run", "true");
    assert_eq!(status, "HTTP/1.1 502 Bad Gateway", "{body}");
    drop(master);
    let _ = std::fs::remove_dir_all(&dir);
}
