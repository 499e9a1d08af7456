//! The remote operations a master asks of a worker, and their replies.

use serde::{Deserialize, Serialize};

/// One remote operation, asked of a connected worker through its service
/// ([`worker_service`](super::worker_service)) as a [`WorkerRequest`].
///
/// # Examples
///
/// ```
/// use components::workers::WorkerOp;
/// let op = WorkerOp::StartCommand {
///     builder: String::new(),
///     command_id: "c1".into(),
///     command: "sh".into(),
///     args: vec!["-c".into(), "echo hi".into()],
/// };
/// assert_eq!(op.command_id(), Some("c1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WorkerOp {
    /// Print a line to the worker's log.
    Print {
        /// The line.
        text: String,
    },
    /// The worker's version and commands ([`WorkerInfo`]).
    GetInfo,
    /// Tell the worker which builders it serves.
    SetBuilderList {
        /// Builder names.
        builders: Vec<String>,
    },
    /// Start a command in the worker's working directory; its output and end come as
    /// [`CommandUpdate`](super::CommandUpdate)s. Replied once the process has started.
    StartCommand {
        /// The builder it runs for (Buildbot's builder directories): a non-empty name
        /// runs it in `workdir/builder` (made if missing), and must be in the worker's
        /// builder list when it has one; empty runs it in `workdir`.
        #[serde(default)]
        builder: String,
        /// The master's name for this run, unique per worker while it runs.
        command_id: String,
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Stop a command (its whole process group). Idempotent: interrupting a command
    /// already interrupted or ended is answered `Done`.
    InterruptCommand {
        /// Which run.
        command_id: String,
        /// Why: reported in the command's completion.
        why: String,
    },
    /// Ask the worker to stop its commands and end.
    Shutdown,
}

impl WorkerOp {
    /// The command this operation is about, if any.
    pub fn command_id(&self) -> Option<&str> {
        match self {
            WorkerOp::StartCommand { command_id, .. }
            | WorkerOp::InterruptCommand { command_id, .. } => Some(command_id),
            _ => None,
        }
    }
}

/// What a worker says about itself ([`WorkerOp::GetInfo`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// The worker software's version.
    pub version: String,
    /// The remote commands it understands.
    pub commands: Vec<String>,
    /// The builders it was last told it serves.
    pub builders: Vec<String>,
    /// Its working directory.
    pub workdir: String,
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum OpReply {
    /// Done (print, set_builder_list, start_command, interrupt_command, shutdown).
    Done,
    /// The answer to [`WorkerOp::GetInfo`].
    Info {
        /// What the worker said.
        info: WorkerInfo,
    },
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum OpError {
    /// The worker refused or could not do it (its reason).
    #[error("the worker refused: {0}")]
    Refused(String),
    /// The connection to the worker was lost before it answered.
    #[error("connection lost")]
    ConnectionLost,
}

/// What a [`WorkerRequest`] is answered with.
pub type OpResult = Result<OpReply, OpError>;

/// A remote operation with its way back: what a worker connection's `ops` inbox takes.
pub type WorkerRequest = axon::Request<WorkerOp, OpResult>;
