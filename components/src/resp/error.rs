//! The errors of the RESP layer, each worded as Redis words it on the wire.

use bytes::Bytes;

/// A frame a client sent that is not RESP2, or is larger than allowed. Its `Display`
/// is Redis's wording, ready to send as `-ERR Protocol error: ...`; the connection is
/// closed after that reply, as Redis does.
///
/// # Examples
///
/// ```
/// use components::resp::ProtocolError;
/// assert_eq!(
///     ProtocolError::InvalidBulkLength.to_string(),
///     "Protocol error: invalid bulk length"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The `*<count>` line is not a number, or the count is above the maximum array length.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// The `$<length>` line is not a number, or the length is negative or above the
    /// maximum bulk length.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An element of a command array is not a bulk string.
    #[error("Protocol error: expected '$', got '{0}'")]
    ExpectedBulk(char),
    /// No line end within the limit while reading a `*<count>` line.
    #[error("Protocol error: too big mbulk count string")]
    MultibulkCountTooBig,
    /// No line end within the limit while reading a `$<length>` line.
    #[error("Protocol error: too big bulk count string")]
    BulkCountTooBig,
    /// An inline command longer than the limit.
    #[error("Protocol error: too big inline request")]
    InlineTooBig,
    /// An inline command with an unclosed quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
}

/// Why the [`RespCodec`](super::RespCodec) could not go on: a protocol error (answer it,
/// then close) or an I/O error from the stream it frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The client broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Reading or writing the stream failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A command that cannot run as sent. Its `Display` is the reply line Redis sends
/// (without the leading `-`), word for word.
///
/// # Examples
///
/// ```
/// use components::resp::CommandError;
/// assert_eq!(
///     CommandError::WrongArity("get".into()).to_string(),
///     "ERR wrong number of arguments for 'get' command"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A command name the server does not know; `args` is Redis's quoted preview of the
    /// arguments (`'a' 'b' `, at most 128 characters).
    #[error("ERR unknown command '{name}', with args beginning with: {args}")]
    UnknownCommand {
        /// The name as the client sent it.
        name: String,
        /// The quoted preview of the arguments.
        args: String,
    },
    /// Too few or too many arguments; holds the command's lower-case name.
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// An argument or a stored value that should be a 64-bit integer is not.
    #[error("ERR value is not an integer or out of range")]
    NotAnInteger,
    /// INCR or DECR would leave the 64-bit range.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// An option the command does not take, or options that exclude each other.
    #[error("ERR syntax error")]
    Syntax,
    /// An expire time of zero or less for SET, or one too large; holds the command's
    /// lower-case name.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(String),
    /// An EXPIRE option other than NX, XX, GT and LT.
    #[error("ERR Unsupported option {0}")]
    UnsupportedOption(String),
    /// EXPIRE's NX with XX, GT or LT.
    #[error("ERR NX and XX, GT or LT options at the same time are not compatible")]
    NxWithOtherExpireOptions,
    /// EXPIRE's GT with LT.
    #[error("ERR GT and LT options at the same time are not compatible")]
    GtWithLt,
    /// A write to a store above its size limit (Redis's `noeviction` wording).
    #[error("OOM command not allowed when used memory > 'maxmemory'.")]
    OutOfMemory,
    /// DEBUG on a server that does not allow it (Redis disables DEBUG by default too).
    #[error("ERR DEBUG command not allowed on this server")]
    DebugNotAllowed,
    /// The store could not answer: it has ended (crashed, or shut down).
    #[error("ERR store unavailable")]
    StoreUnavailable,
    /// A DEBUG subcommand other than CRASH.
    #[error("ERR unknown subcommand '{0}'. Try DEBUG HELP.")]
    UnknownDebugSubcommand(String),
}

impl CommandError {
    /// The unknown-command error for `args` (name first), previewed as Redis does.
    pub(crate) fn unknown(args: &[Bytes]) -> Self {
        let name = sanitize(&String::from_utf8_lossy(&args[0]));
        let mut preview = String::new();
        for arg in &args[1..] {
            if preview.len() >= 128 {
                break;
            }
            let room = 128 - preview.len();
            let text: String = String::from_utf8_lossy(arg).chars().take(room).collect();
            preview.push('\'');
            preview.push_str(&sanitize(&text));
            preview.push_str("' ");
        }
        CommandError::UnknownCommand {
            name: name.chars().take(128).collect(),
            args: preview,
        }
    }
}

/// Redis replaces line ends in an error it echoes with spaces, so the reply stays one line.
fn sanitize(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}
