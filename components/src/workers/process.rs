//! One command run by a worker: a process group whose output is streamed line by line,
//! stopped as a whole on interrupt.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::command::{CommandEvent, CommandOutcome};
use super::wire::ToMaster;

/// Longest output line sent as one update; a longer line is split.
pub const MAX_OUTPUT_LINE: usize = 64 * 1024;

/// A command's process group and whether it was interrupted.
#[derive(Debug)]
pub(crate) struct RunningCommand {
    pgid: Pid,
    why: Mutex<Option<String>>,
    /// Set once its output has closed and its leader has been reaped.
    done: AtomicBool,
}

impl RunningCommand {
    /// Stop the whole process group: SIGTERM now, SIGKILL after `grace` if it has not
    /// finished. Only the first interrupt counts; later ones do nothing.
    pub(crate) fn interrupt(self: &Arc<Self>, why: &str, grace: Duration) {
        {
            let mut current = self.why.lock().unwrap_or_else(|e| e.into_inner());
            if current.is_some() || self.done.load(Ordering::Acquire) {
                return;
            }
            *current = Some(why.to_string());
        }
        let _ = killpg(self.pgid, Signal::SIGTERM);
        let me = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if !me.done.load(Ordering::Acquire) {
                let _ = killpg(me.pgid, Signal::SIGKILL);
            }
        });
    }
}

impl Drop for RunningCommand {
    /// A command whose watcher goes away (its session dropped, the program ending)
    /// takes its whole process group with it.
    fn drop(&mut self) {
        if !self.done.load(Ordering::Acquire) {
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
    }
}

/// Start `command args` in `workdir` as the leader of a new process group, with its
/// output piped.
pub(crate) fn spawn(
    workdir: &Path,
    command: &str,
    args: &[String],
) -> std::io::Result<(Child, Arc<RunningCommand>)> {
    let child = Command::new(command)
        .args(args)
        .current_dir(workdir)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process ended before it could be watched"))?;
    let pgid = Pid::from_raw(i32::try_from(pid).map_err(std::io::Error::other)?);
    let running = Arc::new(RunningCommand {
        pgid,
        why: Mutex::new(None),
        done: AtomicBool::new(false),
    });
    Ok((child, running))
}

/// Stream the child's output as updates, then its completion. Lines of each stream
/// go in order; the completion goes after all of them.
pub(crate) async fn stream(
    mut child: Child,
    running: Arc<RunningCommand>,
    command_id: String,
    to_master: mpsc::Sender<ToMaster>,
) {
    let started = tokio::time::Instant::now();
    let stdout = child.stdout.take().map(|out| {
        tokio::spawn(forward_lines(
            out,
            command_id.clone(),
            to_master.clone(),
            false,
        ))
    });
    let stderr = child.stderr.take().map(|err| {
        tokio::spawn(forward_lines(
            err,
            command_id.clone(),
            to_master.clone(),
            true,
        ))
    });
    let status = child.wait().await;
    for reader in [stdout, stderr].into_iter().flatten() {
        let _ = reader.await;
    }
    running.done.store(true, Ordering::Release);
    let why = running
        .why
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let outcome = match (why, status) {
        (Some(why), _) => CommandOutcome::Interrupted { why },
        (None, Ok(status)) => match status.code() {
            Some(rc) => CommandOutcome::from_rc(rc),
            None => CommandOutcome::Failure {
                rc: None,
                message: format!("ended by {status}"),
            },
        },
        (None, Err(e)) => CommandOutcome::Failure {
            rc: None,
            message: format!("could not wait for it: {e}"),
        },
    };
    let elapsed = ToMaster::Update {
        command_id: command_id.clone(),
        event: CommandEvent::Header {
            line: format!("elapsed {:.3} s", started.elapsed().as_secs_f64()),
        },
    };
    if to_master.send(elapsed).await.is_err() {
        return;
    }
    let _ = to_master
        .send(ToMaster::Update {
            command_id,
            event: CommandEvent::Completed { outcome },
        })
        .await;
}

async fn forward_lines<R: AsyncRead + Unpin>(
    pipe: R,
    command_id: String,
    to_master: mpsc::Sender<ToMaster>,
    stderr: bool,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match (&mut reader)
            .take(MAX_OUTPUT_LINE as u64)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        let event = if stderr {
            CommandEvent::Stderr { line }
        } else {
            CommandEvent::Stdout { line }
        };
        let update = ToMaster::Update {
            command_id: command_id.clone(),
            event,
        };
        if to_master.send(update).await.is_err() {
            return; // the session has ended; the command is being stopped
        }
    }
}
