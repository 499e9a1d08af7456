//! A master on loopback with an application that asks it and collects updates, shared
//! by the `workers_*` tests.

#![allow(dead_code, unreachable_pub, reason = "each test file uses part of it")]

use std::net::SocketAddr;
use std::time::Duration;

use axon::{External, Inbox, Outbox, Runtime};
use chassis::tcp::ServerConfig;
use components::workers::{
    CommandEvent, CommandOutcome, CommandUpdate, MasterOptions, OpResult, Registration,
    Registrations, UPDATES_SERVICE, Worker, WorkerConfig, WorkerMaster, WorkerOp, WorkerRequest,
    worker_service,
};

/// Upper bound on any single wait in these tests.
pub const LIMIT: Duration = Duration::from_secs(10);

pub struct Rig {
    pub rt: Runtime,
    pub master: WorkerMaster,
    pub addr: SocketAddr,
    pub updates: Inbox<CommandUpdate>,
    pub app: External,
    _server: axon::Handle,
}

pub fn rig(workers: &[(&str, &str)], options: MasterOptions) -> Rig {
    let regs = Registrations::default();
    for (name, secret) in workers {
        regs.set(*name, Registration::new(*secret));
    }
    rig_for(WorkerMaster::new(regs).with_options(options))
}

/// A rig around `master`, on a loopback port.
pub fn rig_for(master: WorkerMaster) -> Rig {
    let rt = Runtime::new();
    let mut app = rt.external("app");
    let (updates_box, updates) = app.add_inbox::<CommandUpdate>("updates", 4096).unwrap();
    rt.register_service(UPDATES_SERVICE, updates_box).unwrap();
    let server = master
        .server(ServerConfig::new("127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let addr = server.local_addr();
    let handle = rt.spawn(server).unwrap();
    Rig {
        rt,
        master,
        addr,
        updates,
        app,
        _server: handle,
    }
}

pub fn worker(name: &str, secret: &str) -> Worker {
    Worker::new(
        WorkerConfig::new(name, secret, std::env::temp_dir())
            .interrupt_grace(Duration::from_millis(300)),
    )
}

impl Rig {
    /// Wait for `name` to be logged in.
    pub async fn attached(&self, name: &str) {
        let name = name.to_string();
        assert!(
            self.master
                .workers()
                .wait_for(LIMIT, |w| w.is_attached(&name))
                .await,
            "{name} did not log in"
        );
    }

    /// An outbox of requests to `name` (logged in).
    pub fn ops(&mut self, name: &str) -> Outbox<WorkerRequest> {
        let (to, ops) = self
            .app
            .add_outbox::<WorkerRequest>(format!("to-{name}"))
            .unwrap();
        let service = self.rt.service(&worker_service(name)).unwrap();
        self.rt.link(to, service).unwrap();
        ops
    }

    /// The next update, within the limit.
    pub async fn next_update(&mut self) -> CommandUpdate {
        tokio::time::timeout(LIMIT, self.updates.recv())
            .await
            .expect("an update within the limit")
            .expect("the updates inbox is open")
    }

    /// The next update that is not a header line.
    pub async fn next_output(&mut self) -> CommandUpdate {
        for _ in 0..1000 {
            let u = self.next_update().await;
            if !matches!(u.event, CommandEvent::Header { .. }) {
                return u;
            }
        }
        panic!("a thousand header lines in a row");
    }
}

/// Ask `op`, within the limit.
pub async fn ask(ops: &mut Outbox<WorkerRequest>, op: WorkerOp) -> OpResult {
    ops.ask(op, LIMIT).await.expect("an answer")
}

pub fn shell(command_id: &str, script: &str) -> WorkerOp {
    WorkerOp::StartCommand {
        builder: String::new(),
        command_id: command_id.to_string(),
        command: "sh".to_string(),
        args: vec!["-c".to_string(), script.to_string()],
    }
}

/// One command's output, as collected.
#[derive(Debug, Default)]
pub struct Output {
    pub headers: Vec<String>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

/// Collect updates until `command_id` completes (updates of other commands are
/// appended to `others`, keyed by id).
pub async fn collect(rig: &mut Rig, command_id: &str) -> (Output, CommandOutcome) {
    let mut out = Output::default();
    loop {
        let u = rig.next_update().await;
        assert_eq!(
            u.command_id, command_id,
            "an update of another command: {u:?}"
        );
        match u.event {
            CommandEvent::Stdout { line } => out.stdout.push(line),
            CommandEvent::Stderr { line } => out.stderr.push(line),
            CommandEvent::Header { line } => out.headers.push(line),
            CommandEvent::Completed { outcome } => return (out, outcome),
        }
    }
}

/// Whether process `pid` is gone (or a zombie: it has exited, nobody reaped it yet).
pub fn process_stopped(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// Wait until process `pid` has stopped, by `deadline`. A process outside our control
/// gives no notice of its end (it may close its pipes a moment before it is a
/// zombie), so this asks /proc every few milliseconds, a bounded number of times.
pub async fn stopped_by(pid: i32, deadline: tokio::time::Instant) -> bool {
    loop {
        if process_stopped(pid) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
