//! The example programs as a user runs them: `--help` describes each program, logs to
//! a pipe carry no colour codes, a server's shutdown summary appears once, and the chat
//! room echoes a client's own first line. The programs are the ones `cargo test -p
//! examples` builds beside this test; every wait is bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod support;
use support::{program, stderr_lines};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn every_program_help_describes_that_program() {
    let programs = [
        ("echo", "An echo server"),
        ("chat", "A line-based chat server"),
        ("datahub", "The SmartGet datahub"),
        ("datahub_client", "Talk to a SmartGet datahub"),
        ("nodeserver", "The Lumina node server"),
        ("node_client", "A Lumina node for trying a node server"),
        ("lines", "Number, upper-case and count the lines"),
        ("loadclient", "Load an echo server"),
        ("kvstore", "A Redis-compatible key-value server"),
        ("sensornet", "The COSMICi sensor-network server"),
        ("detector_sim", "Simulated COSMICi detectors"),
    ];
    for (name, about) in programs {
        let output = Command::new(program(name))
            .arg("--help")
            .output()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{name}: {help}");
        assert!(help.starts_with(about), "{name}: {help}");
        assert!(!help.contains("Runnable axon programs"), "{name}: {help}");
    }
}

/// A server program started on a free port, its stderr read line by line.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    addr: SocketAddr,
}

impl Server {
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = Command::new(program(name))
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = stderr_lines(&mut child);
        let mut server = Server {
            child,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let first = server.next_line();
        let addr = first
            .rsplit("listening on ")
            .next()
            .and_then(|addr| addr.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: no `listening on` line: {first:?}"));
        server.addr = addr;
        server
    }

    fn next_line(&self) -> String {
        self.lines.recv_timeout(LIMIT).expect("a log line in time")
    }

    /// SIGINT, then everything it wrote: (stdout, the rest of stderr).
    fn stop(mut self) -> (String, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGINT to {pid}");
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).expect("stdout");
        }
        let status = self.child.wait().expect("exit status");
        assert!(status.success(), "{status}: {stdout}");
        let stderr: Vec<String> = self.lines.try_iter().collect();
        (stdout, stderr.join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stopped already, or the test failed: make sure nothing is left running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_server_logs_without_colour_to_a_pipe_and_prints_its_summary_once() {
    for name in ["echo", "datahub", "nodeserver"] {
        let server = Server::start(name, &["--listen", "127.0.0.1:0"]);
        let (stdout, stderr) = server.stop();
        let all = format!("{stderr}\n{stdout}");
        assert!(!all.contains('\u{1b}'), "{name}: colour codes in {all:?}");
        assert_eq!(all.matches(" accepted, ").count(), 1, "{name}: {all}");
    }
}

#[test]
fn chat_echoes_each_clients_own_first_line() {
    let server = Server::start("chat", &["--listen", "127.0.0.1:0"]);
    for round in 0..100 {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.set_read_timeout(Some(LIMIT)).expect("timeout");
        let me = stream.local_addr().expect("local address");
        writeln!(stream, "hello {round}").expect("write");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .expect("the echo of my own line");
        assert_eq!(line, format!("{me}: hello {round}\n"), "round {round}");
    }
    let (stdout, _) = server.stop();
    assert_eq!(stdout.matches(" accepted, ").count(), 1, "{stdout}");
}

/// Issue 13 item 12: when the CTU's UART bridge cannot bind (its port is held), the
/// sensornet says so on its status line and in its summary, and a simulated run, in
/// which no timed pulse can arrive, exits non-zero with the reason.
#[test]
fn sensornet_exits_non_zero_when_a_uart_bridge_cannot_bind() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let port = held.local_addr().expect("address").port().to_string();
    let dir = std::env::temp_dir().join(format!("sensornet-bind-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (db, transcripts) = (dir.join("run.db"), dir.join("transcripts"));
    let output = Command::new(program("sensornet"))
        .args([
            "--simulate",
            "4",
            "--duration",
            "2.5",
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--auxio-base",
            "0",
            "--terminal-base",
            "0",
            "--uart-base",
            &port,
        ])
        .arg("--db")
        .arg(&db)
        .arg("--transcripts")
        .arg(&transcripts)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("sensornet runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    let status_lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" | pulses "))
        .collect();
    // The first line may be printed before node 0 has powered on; the last one not.
    let last = status_lines.last().expect("status lines");
    assert!(last.starts_with("ERROR node 0 uart bridge: "), "{stdout}");
    assert!(
        stdout.contains("\n  ERROR node 0 uart bridge: "),
        "{stdout}"
    );
    assert!(
        stderr.contains("no pulse could arrive from every node: node 0 uart bridge"),
        "{stderr}"
    );
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
