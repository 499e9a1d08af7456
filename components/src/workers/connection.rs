//! [`WorkerConnection`]: the master's end of one worker's connection.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axon::{BoxError, BoxRef, Component, Context, Inbox, LinkError, Outbox, Replier, Setup};
use bytes::Bytes;
use chassis::tcp::ConnectionInfo;
use tokio::time::{Instant, MissedTickBehavior};

use super::REFUSED;
use super::auth;
use super::command::{CommandEvent, CommandOutcome, CommandState, CommandUpdate};
use super::master::{WorkerMaster, worker_service};
use super::ops::{OpError, OpResult, WorkerOp, WorkerRequest};
use super::wire::{LineBuffer, ToMaster, ToWorker, encode};

/// A registration no name has, checked against for unknown names so that an unknown
/// name costs the same work as a wrong secret.
const NOBODY_SECRET: &[u8] = b"\0no such worker\0";

/// How long a new login waits for the old connection of the same name to close.
const TAKEOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The master's end of one worker connection: logs the worker in, then carries remote
/// operations to it and command updates back.
///
/// # What it does
///
/// 1. Login: the worker says its name; the master answers a fresh random nonce; the
///    worker answers HMAC-SHA256(secret, nonce). Unknown name, wrong answer, wrong
///    port, a name already logged in, or a peer over its failure limit are all refused
///    with the same line, [`REFUSED`]; only the log at `debug` says more. A failure
///    counts against the peer's IP in the master's [`LoginLimiter`](super::LoginLimiter).
///    No login within [`MasterOptions::login_timeout`](super::MasterOptions) closes
///    the connection.
/// 2. Once logged in, its `ops` inbox is registered as the service
///    [`worker_service(name)`](worker_service): link an outbox of
///    [`WorkerRequest`] to it and [`ask`](axon::Outbox::ask).
/// 3. Output and ends of commands leave on `updates` as [`CommandUpdate`]s.
/// 4. Every keepalive period, `keepalive` is printed to the worker's log — unless the
///    last one is still unanswered (at most one is outstanding; each skipped period is
///    counted in [`MasterStats::keepalives_unanswered`](super::MasterStats::keepalives_unanswered));
///    if nothing at all is heard from the worker for the keepalive deadline, it is
///    detached.
/// 5. When the connection ends for any reason, every command not completed completes
///    with [`CommandOutcome::ConnectionLost`] and every unanswered request is answered
///    [`OpError::ConnectionLost`], at once.
///
/// Updates are sent with backpressure: while the `updates` inbox is full, the
/// connection waits, stops reading from the worker, and the worker's commands block on
/// their output. So the application must read its updates while it asks (not ask a
/// second command and only then read), or its asks wait for it.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `Bytes` | what the socket delivers |
/// | `control` | in | [`Control`](axon::Control) | `SocketShutdown`: the connection closed |
/// | `ops` | in | [`WorkerRequest`] | remote operations (service `workers/NAME` while logged in) |
/// | `outbox` | out | `Bytes` | lines to the worker |
/// | `updates` | out | [`CommandUpdate`] | command output and completions (linked to the updates service) |
/// | `signal` | out | [`Control`](axon::Control) | passed on by the runtime when it ends |
#[derive(Debug)]
pub struct WorkerConnection {
    master: WorkerMaster,
    info: ConnectionInfo,
    ops: Option<BoxRef<WorkerRequest>>,
}

/// Why the logged-in phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Closed,
    Silent,
    Disconnected,
    ProtocolError,
}

/// What a call in flight is waiting for.
#[derive(Debug)]
struct Pending {
    replier: Option<Replier<OpResult>>,
    starts: Option<String>,
}

struct Session<'a> {
    master: &'a WorkerMaster,
    name: String,
    updates: Outbox<CommandUpdate>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    /// The id of the last keepalive print: at most one is outstanding.
    keepalive: Option<u64>,
}

impl WorkerConnection {
    pub(crate) fn new(master: WorkerMaster, info: ConnectionInfo) -> Self {
        WorkerConnection {
            master,
            info,
            ops: None,
        }
    }

    fn refuse_line() -> Bytes {
        Bytes::from(encode(&ToWorker::Refused {
            reason: REFUSED.to_string(),
        }))
    }

    /// Read the next line, parsed; `None` if the connection ended or sent garbage.
    async fn next_message(
        &self,
        ctx: &mut Context<Bytes, Bytes>,
        lines: &mut LineBuffer,
    ) -> Option<ToMaster> {
        loop {
            match lines.next_line() {
                Ok(Some(line)) => {
                    return serde_json::from_slice(&line).ok().or_else(|| {
                        self.master
                            .stats
                            .inner
                            .protocol_errors
                            .fetch_add(1, Ordering::Relaxed);
                        None
                    });
                }
                Ok(None) => lines.extend(&ctx.recv().await?),
                Err(_) => return None,
            }
        }
    }

    /// Refuse: count, log without the reason at `info`, tell the peer the same line
    /// whatever went wrong.
    async fn refuse(&self, ctx: &mut Context<Bytes, Bytes>, name: &str, why: &str) {
        let stats = &self.master.stats.inner;
        stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::info!(peer = %self.info.peer, name, "worker login refused");
        tracing::debug!(peer = %self.info.peer, name, why, "worker login refused");
        let _ = ctx.send(Self::refuse_line()).await;
    }

    /// The login exchange; the worker's name if it logged in.
    async fn login(
        &self,
        ctx: &mut Context<Bytes, Bytes>,
        lines: &mut LineBuffer,
    ) -> Option<String> {
        let ip = self.info.peer.ip();
        let Some(ToMaster::Hello { name }) = self.next_message(ctx, lines).await else {
            return None;
        };
        if self.master.limiter.is_blocked(ip) {
            self.master
                .stats
                .inner
                .rate_limited
                .fetch_add(1, Ordering::Relaxed);
            self.refuse(ctx, &name, "too many failed logins from this address")
                .await;
            return None;
        }
        let nonce = auth::new_nonce();
        let challenge = ToWorker::Challenge {
            nonce: nonce.clone(),
        };
        ctx.send(Bytes::from(encode(&challenge))).await.ok()?;
        let Some(ToMaster::Auth { mac }) = self.next_message(ctx, lines).await else {
            return None;
        };
        let registration = self.master.registrations.get(&name);
        let secret = registration
            .as_ref()
            .map_or(NOBODY_SECRET, |r| r.secret.as_slice());
        let mac_ok = auth::verify(secret, &nonce, &mac);
        let port_ok = registration
            .as_ref()
            .is_some_and(|r| r.allowed_port.is_none_or(|p| p == self.info.local.port()));
        if !(mac_ok && port_ok && registration.is_some()) {
            self.master.limiter.failed(ip);
            self.refuse(ctx, &name, "unknown name, wrong secret or wrong port")
                .await;
            return None;
        }
        Some(name)
    }
}

impl WorkerConnection {
    /// Attach `name` and register its service at once. A name already logged in is
    /// taken over: the old connection is closed (its commands complete as "connection
    /// lost"), as a worker reconnecting after a silent network failure needs.
    async fn attach(
        &self,
        ctx: &Context<Bytes, Bytes>,
        name: &str,
        ops: BoxRef<WorkerRequest>,
    ) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        let rt = ctx.runtime();
        let workers = &self.master.workers;
        let register = || rt.register_service(worker_service(name), ops).is_ok();
        if let Some(kick) = workers.attach_with(name, self.info.peer, register) {
            return Some(kick);
        }
        tracing::info!(peer = %self.info.peer, name, "worker logged in again: closing its old connection");
        workers.disconnect(name);
        let gone = workers
            .wait_for(TAKEOVER_WAIT, |w| !w.is_attached(name))
            .await;
        let register = || rt.register_service(worker_service(name), ops).is_ok();
        gone.then(|| workers.attach_with(name, self.info.peer, register))
            .flatten()
    }
}

impl Session<'_> {
    async fn update(&mut self, command_id: String, event: CommandEvent) {
        if let CommandEvent::Completed { outcome } = &event {
            self.master.workers.set_state(
                &self.name,
                &command_id,
                CommandState::Completed(outcome.clone()),
            );
        }
        let update = CommandUpdate {
            worker: self.name.clone(),
            command_id,
            event,
        };
        if self.updates.send(update).await.is_err() {
            self.master
                .stats
                .inner
                .updates_undelivered
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Turn a request into a call line (or answer it at once).
    fn call(&mut self, req: WorkerRequest) -> Option<Bytes> {
        let (op, replier) = req.into_parts();
        let mut starts = None;
        if let WorkerOp::StartCommand { command_id, .. } = &op {
            if self.master.workers.state(&self.name, command_id) != CommandState::Idle {
                let _ = replier.reply(Err(OpError::Refused(format!(
                    "command {command_id} is already running"
                ))));
                return None;
            }
            self.master
                .workers
                .set_state(&self.name, command_id, CommandState::Starting);
            starts = Some(command_id.clone());
        }
        Some(self.call_line(op, Some(replier), starts))
    }

    fn call_line(
        &mut self,
        op: WorkerOp,
        replier: Option<Replier<OpResult>>,
        starts: Option<String>,
    ) -> Bytes {
        let id = self.next_id;
        self.next_id += 1;
        self.pending.insert(id, Pending { replier, starts });
        Bytes::from(encode(&ToWorker::Call { id, op }))
    }

    async fn handle(&mut self, msg: ToMaster) -> Result<(), End> {
        match msg {
            ToMaster::Reply { id, result } => {
                let Some(pending) = self.pending.remove(&id) else {
                    return Ok(());
                };
                if let Some(command_id) = pending.starts {
                    match &result {
                        Ok(_) => self.master.workers.set_state(
                            &self.name,
                            &command_id,
                            CommandState::Running,
                        ),
                        Err(e) => {
                            let outcome = CommandOutcome::Failure {
                                rc: None,
                                message: e.to_string(),
                            };
                            self.update(command_id, CommandEvent::Completed { outcome })
                                .await;
                        }
                    }
                }
                if let Some(replier) = pending.replier {
                    let _ = replier.reply(result);
                }
                Ok(())
            }
            ToMaster::Update { command_id, event } => {
                self.update(command_id, event).await;
                Ok(())
            }
            ToMaster::Hello { .. } | ToMaster::Auth { .. } => Err(End::ProtocolError),
        }
    }

    /// The connection has ended: complete what was running, answer what was asked.
    async fn finish(&mut self, ops: &mut Inbox<WorkerRequest>, rt: &axon::Runtime) {
        let running = self.master.workers.take_running(&self.name);
        self.master.workers.detach_with(&self.name, || {
            rt.unregister_service(&worker_service(&self.name));
        });
        for (_, pending) in self.pending.drain() {
            if let Some(replier) = pending.replier {
                let _ = replier.reply(Err(OpError::ConnectionLost));
            }
        }
        while let Ok(req) = ops.try_recv() {
            let _ = req.reply(Err(OpError::ConnectionLost));
        }
        for command_id in running {
            let outcome = CommandOutcome::ConnectionLost;
            self.update(command_id, CommandEvent::Completed { outcome })
                .await;
        }
    }
}

impl Component for WorkerConnection {
    type In = Bytes;
    type Out = Bytes;

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        self.ops = Some(s.inbox::<WorkerRequest>(
            "ops",
            "remote operations (service workers/NAME while logged in)",
        )?);
        let updates = s.outbox::<CommandUpdate>("updates", "command output and completions")?;
        match s
            .runtime()
            .service::<CommandUpdate>(&self.master.options.updates_service)
        {
            Ok(to) => s.link(updates, to)?,
            Err(e) => tracing::debug!("worker connection without an updates service: {e}"),
        }
        s.describe("inbox", "what the socket delivers")?;
        s.describe("outbox", "lines to the worker")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<Bytes, Bytes>) -> Result<(), BoxError> {
        let mut ops = ctx.take_inbox::<WorkerRequest>("ops")?;
        let updates = ctx.outbox_named::<CommandUpdate>("updates")?;
        let ops_ref = self.ops.ok_or("setup did not run")?;
        let mut lines = LineBuffer::default();
        let options = self.master.options.clone();
        let Ok(Some(name)) =
            tokio::time::timeout(options.login_timeout, self.login(&mut ctx, &mut lines)).await
        else {
            return Ok(());
        };
        let Some(kick) = self.attach(&ctx, &name, ops_ref).await else {
            self.refuse(&mut ctx, &name, "already logged in and still there")
                .await;
            return Ok(());
        };
        self.master
            .stats
            .inner
            .logins
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(peer = %self.info.peer, name, "worker logged in");
        let mut session = Session {
            master: &self.master,
            name,
            updates,
            pending: HashMap::new(),
            keepalive: None,
            next_id: 1,
        };
        let welcomed = ctx.send(Bytes::from(encode(&ToWorker::Welcome))).await;
        let end = if welcomed.is_err() {
            End::Closed
        } else {
            session_loop(&mut ctx, &mut ops, &mut session, &mut lines, &kick).await
        };
        match end {
            End::Silent => {
                self.master
                    .stats
                    .inner
                    .silent_detached
                    .fetch_add(1, Ordering::Relaxed);
            }
            End::ProtocolError => {
                self.master
                    .stats
                    .inner
                    .protocol_errors
                    .fetch_add(1, Ordering::Relaxed);
            }
            End::Closed | End::Disconnected => {}
        }
        tracing::info!(peer = %self.info.peer, name = session.name, ?end, "worker detached");
        let rt = ctx.runtime().clone();
        session.finish(&mut ops, &rt).await;
        Ok(())
    }
}

/// The logged-in phase: calls out, replies and updates in, keepalives, until the
/// connection ends.
async fn session_loop(
    ctx: &mut Context<Bytes, Bytes>,
    ops: &mut Inbox<WorkerRequest>,
    session: &mut Session<'_>,
    lines: &mut LineBuffer,
    kick: &tokio::sync::Notify,
) -> End {
    let options = &session.master.options;
    let period = options.keepalive_period;
    let deadline = options.keepalive_deadline;
    let mut keepalive = tokio::time::interval_at(Instant::now() + period, period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let silence = tokio::time::sleep(deadline);
    tokio::pin!(silence);
    // What arrived with the login's last line.
    let mut leftover = true;
    loop {
        if leftover {
            leftover = false;
            loop {
                match lines.next_line() {
                    Ok(Some(line)) => match serde_json::from_slice::<ToMaster>(&line) {
                        Ok(msg) => {
                            if let Err(end) = session.handle(msg).await {
                                return end;
                            }
                        }
                        Err(_) => return End::ProtocolError,
                    },
                    Ok(None) => break,
                    Err(_) => return End::ProtocolError,
                }
            }
        }
        tokio::select! {
            biased;
            () = kick.notified() => return End::Disconnected,
            chunk = ctx.recv() => {
                let Some(chunk) = chunk else { return End::Closed };
                let now = Instant::now();
                session.master.workers.heard(&session.name, now);
                silence.as_mut().reset(now + deadline);
                lines.extend(&chunk);
                leftover = true;
            }
            () = &mut silence => return End::Silent,
            req = ops.recv() => {
                let Some(req) = req else { return End::Closed };
                if let Some(line) = session.call(req)
                    && ctx.send(line).await.is_err()
                {
                    return End::Closed;
                }
            }
            _ = keepalive.tick() => {
                if session.keepalive.is_some_and(|id| session.pending.contains_key(&id)) {
                    session.master.stats.inner.keepalives_unanswered.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let print = WorkerOp::Print { text: "keepalive".to_string() };
                session.keepalive = Some(session.next_id);
                let line = session.call_line(print, None, None);
                if ctx.send(line).await.is_err() {
                    return End::Closed;
                }
            }
        }
    }
}
