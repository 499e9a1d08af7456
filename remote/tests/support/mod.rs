//! Running `remote_peer` processes from a test: their stdout as lines, waited on with a
//! deadline; a free loopback port; a TCP proxy that can cut its connections.
#![allow(dead_code, unreachable_pub, reason = "each test file uses part of it")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1, as the OS hands it out.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `remote_peer`.
pub struct Peer {
    pub name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Peer {
    pub fn start(name: &'static str, args: &[&str]) -> Peer {
        Self::start_in(name, None, args)
    }

    /// Start it inside the network namespace `netns` (`ip netns exec`).
    pub fn start_in(name: &'static str, netns: Option<&str>, args: &[&str]) -> Peer {
        let exe = env!("CARGO_BIN_EXE_remote_peer");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, exe]);
                c
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("remote_peer starts");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = channel();
        // Its stderr (a panic, say) joins the lines, so a failure shows it.
        let err_tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if err_tx.send(format!("stderr: {line}")).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Peer {
            name,
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line starting with `prefix`, within `secs` seconds.
    pub fn wait_for(&mut self, prefix: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: no `{prefix}` line within {secs}s; it printed:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: ended without a `{prefix}` line; it printed:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Write a command line to its stdin (ignored once it has exited).
    pub fn say(&mut self, cmd: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        let _ = writeln!(stdin, "{cmd}").and_then(|_| stdin.flush());
    }

    /// Its last `status` line (asked for now), or `None` once it has exited.
    pub fn status(&mut self) -> Option<String> {
        self.count()?;
        self.seen
            .iter()
            .rev()
            .find(|l| l.starts_with("status"))
            .cloned()
    }

    /// Its `count=` (received, or sent by the producer), or `None` once it has exited.
    pub fn count(&mut self) -> Option<u64> {
        if self.seen.iter().any(|l| l.starts_with("exit")) {
            return None;
        }
        self.say("status");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "{}: no status; it printed:\n{}",
                    self.name,
                    self.seen.join("\n")
                )
            });
            self.seen.push(line.clone());
            if line.starts_with("status") {
                return Some(field(&line, "count"));
            }
            if line.starts_with("exit") {
                return None;
            }
        }
    }

    /// Kill it now (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait for it to exit by itself, within `secs`; true if it exited successfully.
    pub fn wait_exit(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running after {secs}s",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `key=value` field of a printed line, as a number.
pub fn field(line: &str, key: &str) -> u64 {
    number_after(line, &format!("{key}="))
}

/// A `"key":value` number of a printed JSON line.
pub fn json_field(line: &str, key: &str) -> u64 {
    number_after(line, &format!("\"{key}\":"))
}

/// The decimal number right after `pat` in `line`.
fn number_after(line: &str, pat: &str) -> u64 {
    let at = line
        .find(pat)
        .unwrap_or_else(|| panic!("no `{pat}` in `{line}`"))
        + pat.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A TCP proxy on loopback whose connections can be cut, and which can refuse the next
/// connection attempts.
pub struct Proxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    refuse: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    pub accepted: Arc<AtomicUsize>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let refuse = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (c, r, s, a) = (
            conns.clone(),
            refuse.clone(),
            stop.clone(),
            accepted.clone(),
        );
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if r.load(Ordering::SeqCst) > 0 {
                    r.fetch_sub(1, Ordering::SeqCst);
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                a.fetch_add(1, Ordering::SeqCst);
                c.lock()
                    .unwrap()
                    .extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy {
            port,
            conns,
            refuse,
            stop,
            accepted,
        }
    }

    /// Close every connection through it, and refuse the next `refuse` attempts.
    pub fn cut(&self, refuse: usize) {
        self.refuse.store(refuse, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.cut(0);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
