//! A remote command's life on the master: its states, outcome and streamed updates.

use serde::{Deserialize, Serialize};

/// Where a remote command is: Idle → Starting → Running → Completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandState {
    /// Not asked yet.
    Idle,
    /// Asked; the worker has not said it started.
    Starting,
    /// The worker started it; output may be coming.
    Running,
    /// Ended, with how.
    Completed(CommandOutcome),
}

/// How a remote command ended.
///
/// # Examples
///
/// ```
/// use components::workers::CommandOutcome;
/// assert_eq!(CommandOutcome::from_rc(0), CommandOutcome::Ok);
/// assert_eq!(CommandOutcome::from_rc(2).to_string(), "rc=2");
/// assert_eq!(CommandOutcome::ConnectionLost.to_string(), "connection lost");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// Exit code 0.
    Ok,
    /// A nonzero exit code, a death by signal, or a failure to start.
    Failure {
        /// The exit code, if it exited.
        rc: Option<i32>,
        /// What happened, for people.
        message: String,
    },
    /// Stopped by an interrupt.
    Interrupted {
        /// The interrupt's reason.
        why: String,
    },
    /// The connection to its worker was lost while it ran.
    ConnectionLost,
}

impl CommandOutcome {
    /// The outcome of an exit with code `rc`.
    pub fn from_rc(rc: i32) -> Self {
        if rc == 0 {
            CommandOutcome::Ok
        } else {
            CommandOutcome::Failure {
                rc: Some(rc),
                message: format!("rc={rc}"),
            }
        }
    }
}

impl std::fmt::Display for CommandOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandOutcome::Ok => f.write_str("rc=0"),
            CommandOutcome::Failure { message, .. } => f.write_str(message),
            CommandOutcome::Interrupted { why } => write!(f, "interrupted: {why}"),
            CommandOutcome::ConnectionLost => f.write_str("connection lost"),
        }
    }
}

/// One thing that happened to a running command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CommandEvent {
    /// A line on its standard output (without the newline).
    Stdout {
        /// The line.
        line: String,
    },
    /// A line on its standard error (without the newline).
    Stderr {
        /// The line.
        line: String,
    },
    /// A line about the run rather than from it (Buildbot's `header`): `$ command args`
    /// and `in DIR` before the output, `elapsed N.NNN s` after it.
    Header {
        /// The line.
        line: String,
    },
    /// It ended: always the last event of a command.
    Completed {
        /// How.
        outcome: CommandOutcome,
    },
}

/// A [`CommandEvent`] with the worker and command it belongs to: what a master's
/// connections send on their `updates` outbox. Lines of one stream arrive in order,
/// and `Completed` comes after all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandUpdate {
    /// The worker's name.
    pub worker: String,
    /// The command's id.
    pub command_id: String,
    /// What happened.
    pub event: CommandEvent,
}
