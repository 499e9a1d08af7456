//! Commands on the MAIN link (TCP port 26766), sent by each node's Wi-Fi script.
//!
//! One command per line, words separated by whitespace, the node id first:
//!
//! ```text
//! POWERED_ON 0 192.168.0.10 00:1a:2b:3c:4d:5e
//! LOGMSG 1 NORMAL 2 Bridge server connected.
//! HEARTBEAT 1 17
//! BRIDGE_MODE 0 UART-ONLY
//! ```
//!
//! `LOGMSG` keeps everything after its depth as the message, inner spacing
//! included. The original server declared `PULSE_DATA`, `1ST_SYNC`,
//! `MISSING_SYNCS` and `CALIBRATE_TIMING` but never wrote them; they parse as
//! recognised commands with their raw arguments (see
//! [`MainCommand::is_implemented`]).
//!
//! [`MainCommand`]'s `Display` writes the canonical line (without line end),
//! which parses back to an equal value.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::{BridgeMode, MainCommand};
//!
//! let cmd = MainCommand::parse("BRIDGE_MODE 0 TREFOIL").unwrap();
//! assert_eq!(cmd, MainCommand::BridgeMode { id: 0, mode: BridgeMode::Trefoil });
//! assert_eq!(cmd.to_string(), "BRIDGE_MODE 0 TREFOIL");
//! ```

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use super::error::MainError;

/// A node's bridging configuration, reported by `BRIDGE_MODE`.
///
/// # Examples
///
/// ```
/// use components::cosmici::BridgeMode;
///
/// assert_eq!("UART-ONLY".parse::<BridgeMode>(), Ok(BridgeMode::UartOnly));
/// assert_eq!(BridgeMode::UartOnly.as_str(), "UART-ONLY");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BridgeMode {
    /// `NORMAL`: the script's default bridging.
    Normal,
    /// `UART-ONLY`: only the FPGA UART is bridged.
    UartOnly,
    /// `NONE`: nothing is bridged.
    None,
    /// `TREFOIL`: three-way bridging between script, FPGA and server.
    Trefoil,
    /// `FLYOVER`: FPGA bridged straight to the server, bypassing the script.
    Flyover,
}

impl BridgeMode {
    /// Every mode, in protocol order.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::BridgeMode;
    ///
    /// for mode in BridgeMode::ALL {
    ///     assert_eq!(mode.as_str().parse::<BridgeMode>(), Ok(mode));
    /// }
    /// ```
    pub const ALL: [BridgeMode; 5] = [
        Self::Normal,
        Self::UartOnly,
        Self::None,
        Self::Trefoil,
        Self::Flyover,
    ];

    /// The protocol word for this mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::BridgeMode;
    ///
    /// assert_eq!(BridgeMode::Flyover.as_str(), "FLYOVER");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "NORMAL",
            Self::UartOnly => "UART-ONLY",
            Self::None => "NONE",
            Self::Trefoil => "TREFOIL",
            Self::Flyover => "FLYOVER",
        }
    }
}

impl fmt::Display for BridgeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BridgeMode {
    type Err = MainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| MainError::BadBridgeMode {
                token: s.to_owned(),
            })
    }
}

/// Severity of a `LOGMSG`, named as in the original server's log levels.
///
/// Level words are matched case-insensitively; an unrecognised word is kept as
/// [`LogLevel::Other`] rather than rejected, so a newer script's levels still
/// reach the log.
///
/// # Examples
///
/// ```
/// use components::cosmici::LogLevel;
///
/// assert_eq!(LogLevel::from_word("warning"), LogLevel::Warning);
/// assert_eq!(LogLevel::from_word("TRACE"), LogLevel::Other("TRACE".into()));
/// assert_eq!(LogLevel::Normal.to_string(), "NORMAL");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// `CRITICAL`
    Critical,
    /// `ERROR`
    Error,
    /// `UWSERR`: an error inside the node's Wi-Fi (UWScript) script.
    UwsErr,
    /// `WARNING` (also accepts `WARN`)
    Warning,
    /// `NORMAL`: routine operator-visible news.
    Normal,
    /// `INFO`
    Info,
    /// `DEBUG`
    Debug,
    /// Any other single word, kept verbatim.
    Other(String),
}

impl LogLevel {
    /// Interprets one level word.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LogLevel;
    ///
    /// assert_eq!(LogLevel::from_word("UwsErr"), LogLevel::UwsErr);
    /// ```
    pub fn from_word(word: &str) -> Self {
        match word.to_ascii_uppercase().as_str() {
            "CRITICAL" => Self::Critical,
            "ERROR" => Self::Error,
            "UWSERR" => Self::UwsErr,
            "WARNING" | "WARN" => Self::Warning,
            "NORMAL" => Self::Normal,
            "INFO" => Self::Info,
            "DEBUG" => Self::Debug,
            _ => Self::Other(word.to_owned()),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Critical => "CRITICAL",
            Self::Error => "ERROR",
            Self::UwsErr => "UWSERR",
            Self::Warning => "WARNING",
            Self::Normal => "NORMAL",
            Self::Info => "INFO",
            Self::Debug => "DEBUG",
            Self::Other(word) => word,
        })
    }
}

/// A 48-bit hardware address.
///
/// Parses six hex octets separated by `:` or `-`, or twelve bare hex digits;
/// displays as lower-case colon-separated octets.
///
/// # Examples
///
/// ```
/// use components::cosmici::MacAddr;
///
/// let mac: MacAddr = "00-1A-2B-3C-4D-5E".parse().unwrap();
/// assert_eq!(mac, MacAddr([0x00, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]));
/// assert_eq!(mac.to_string(), "00:1a:2b:3c:4d:5e");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = MainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MainError::BadMac {
            token: s.to_owned(),
        };
        let pairs: Vec<&str> = if s.contains([':', '-']) {
            let sep = if s.contains(':') { ':' } else { '-' };
            s.split(sep).collect()
        } else if s.len() == 12 && s.is_ascii() {
            (0..6).map(|i| &s[2 * i..2 * i + 2]).collect()
        } else {
            return Err(bad());
        };
        if pairs.len() != 6 {
            return Err(bad());
        }
        let mut octets = [0u8; 6];
        for (octet, pair) in octets.iter_mut().zip(&pairs) {
            if pair.len() != 2 || !pair.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *octet = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(MacAddr(octets))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// One command received on (or, from the simulator, sent over) the MAIN link.
///
/// # Examples
///
/// ```
/// use components::cosmici::{LogLevel, MainCommand};
///
/// let cmd = MainCommand::parse("LOGMSG 1 NORMAL 0 Connected to  server.\r\n").unwrap();
/// assert_eq!(
///     cmd,
///     MainCommand::LogMsg {
///         id: 1,
///         level: LogLevel::Normal,
///         depth: 0,
///         msg: "Connected to  server.".into(),
///     }
/// );
/// assert_eq!(cmd.node_id(), Some(1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MainCommand {
    /// `POWERED_ON <id> <ip> <mac>`: the node booted and announces its address.
    PoweredOn {
        /// Node id (0 = CTU, 1 = FEDM in the prototype).
        id: u32,
        /// The address the node says it has.
        ip: IpAddr,
        /// The node's Wi-Fi MAC address.
        mac: MacAddr,
    },
    /// `LOGMSG <id> <level> <depth> <msg…>`: a log line from the node's script.
    LogMsg {
        /// Node id.
        id: u32,
        /// Severity.
        level: LogLevel,
        /// Call depth in the script, used to indent the message.
        depth: u32,
        /// The rest of the line, inner spacing kept, outer whitespace trimmed,
        /// any stray `\r` or `\n` read as a space.
        msg: String,
    },
    /// `HEARTBEAT <id> <n>`: the node's script is alive; `n` counts heartbeats.
    Heartbeat {
        /// Node id.
        id: u32,
        /// Heartbeat sequence number.
        n: u64,
    },
    /// `BRIDGE_MODE <id> <mode>`: the node changed its bridging.
    BridgeMode {
        /// Node id.
        id: u32,
        /// The new mode.
        mode: BridgeMode,
    },
    /// `PULSE_DATA …`: declared by the original protocol, never specified.
    PulseData {
        /// The words after the command, verbatim.
        args: Vec<String>,
    },
    /// `1ST_SYNC …`: declared by the original protocol, never specified.
    FirstSync {
        /// The words after the command, verbatim.
        args: Vec<String>,
    },
    /// `MISSING_SYNCS …`: declared by the original protocol, never specified.
    MissingSyncs {
        /// The words after the command, verbatim.
        args: Vec<String>,
    },
    /// `CALIBRATE_TIMING …`: declared by the original protocol, never specified.
    CalibrateTiming {
        /// The words after the command, verbatim.
        args: Vec<String>,
    },
}

const POWERED_ON: &str = "POWERED_ON";
const LOGMSG: &str = "LOGMSG";
const HEARTBEAT: &str = "HEARTBEAT";
const BRIDGE_MODE: &str = "BRIDGE_MODE";
const PULSE_DATA: &str = "PULSE_DATA";
const FIRST_SYNC: &str = "1ST_SYNC";
const MISSING_SYNCS: &str = "MISSING_SYNCS";
const CALIBRATE_TIMING: &str = "CALIBRATE_TIMING";

impl MainCommand {
    /// Parses one command line; a trailing line end and surrounding
    /// whitespace are ignored.
    ///
    /// # Errors
    ///
    /// A [`MainError`] naming the problem and the offending token: empty line,
    /// unknown command, missing or extra argument, non-numeric id, depth or
    /// heartbeat number, `(unset)` node id, bad IP or MAC, unknown bridge mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{MainCommand, MainError};
    ///
    /// assert_eq!(
    ///     MainCommand::parse("HEARTBEAT 1"),
    ///     Err(MainError::MissingArgument { command: "HEARTBEAT", argument: "n" })
    /// );
    /// ```
    pub fn parse(line: &str) -> Result<Self, MainError> {
        let line = line.trim();
        let (command, rest) = split_word(line);
        let command = match command {
            "" => return Err(MainError::Empty),
            POWERED_ON => POWERED_ON,
            LOGMSG => LOGMSG,
            HEARTBEAT => HEARTBEAT,
            BRIDGE_MODE => BRIDGE_MODE,
            PULSE_DATA => PULSE_DATA,
            FIRST_SYNC => FIRST_SYNC,
            MISSING_SYNCS => MISSING_SYNCS,
            CALIBRATE_TIMING => CALIBRATE_TIMING,
            other => {
                return Err(MainError::UnknownCommand {
                    command: other.to_owned(),
                });
            }
        };
        if let Some(raw) = Self::raw_args_for(command) {
            return Ok(raw(rest.split_whitespace().map(str::to_owned).collect()));
        }
        let (id_word, rest) = split_word(rest);
        let id = parse_node_id(command, id_word)?;
        let mut args = Args { command, rest };
        let cmd = match command {
            POWERED_ON => {
                let ip_word = args.word("ip")?;
                let ip = ip_word.parse().map_err(|_| MainError::BadIp {
                    token: ip_word.to_owned(),
                })?;
                let mac = args.word("mac")?.parse()?;
                Self::PoweredOn { id, ip, mac }
            }
            LOGMSG => {
                let level = LogLevel::from_word(args.word("level")?);
                let depth = args.number("depth")?;
                // A message is one line: stray line breaks read as spaces.
                let msg = std::mem::take(&mut args.rest).replace(['\r', '\n'], " ");
                Self::LogMsg {
                    id,
                    level,
                    depth,
                    msg,
                }
            }
            HEARTBEAT => Self::Heartbeat {
                id,
                n: args.number("n")?,
            },
            _ => Self::BridgeMode {
                id,
                mode: args.word("mode")?.parse()?,
            },
        };
        args.finish()?;
        Ok(cmd)
    }

    /// Parses one command line given as bytes.
    ///
    /// # Errors
    ///
    /// [`MainError::InvalidUtf8`] for bytes that are not UTF-8, otherwise as
    /// [`MainCommand::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{MainCommand, MainError};
    ///
    /// assert_eq!(
    ///     MainCommand::parse_bytes(b"HEARTBEAT 1 \xff"),
    ///     Err(MainError::InvalidUtf8 { valid_up_to: 12 })
    /// );
    /// ```
    pub fn parse_bytes(line: &[u8]) -> Result<Self, MainError> {
        let line = std::str::from_utf8(line).map_err(|e| MainError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::parse(line)
    }

    /// The protocol word of this command.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::MainCommand;
    ///
    /// let cmd = MainCommand::FirstSync { args: vec![] };
    /// assert_eq!(cmd.name(), "1ST_SYNC");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Self::PoweredOn { .. } => POWERED_ON,
            Self::LogMsg { .. } => LOGMSG,
            Self::Heartbeat { .. } => HEARTBEAT,
            Self::BridgeMode { .. } => BRIDGE_MODE,
            Self::PulseData { .. } => PULSE_DATA,
            Self::FirstSync { .. } => FIRST_SYNC,
            Self::MissingSyncs { .. } => MISSING_SYNCS,
            Self::CalibrateTiming { .. } => CALIBRATE_TIMING,
        }
    }

    /// The sending node's id, for the commands that carry one.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::MainCommand;
    ///
    /// assert_eq!(MainCommand::parse("HEARTBEAT 3 9").unwrap().node_id(), Some(3));
    /// assert_eq!(MainCommand::parse("PULSE_DATA 3 x").unwrap().node_id(), None);
    /// ```
    pub fn node_id(&self) -> Option<u32> {
        match self {
            Self::PoweredOn { id, .. }
            | Self::LogMsg { id, .. }
            | Self::Heartbeat { id, .. }
            | Self::BridgeMode { id, .. } => Some(*id),
            Self::PulseData { .. }
            | Self::FirstSync { .. }
            | Self::MissingSyncs { .. }
            | Self::CalibrateTiming { .. } => None,
        }
    }

    /// Whether the command has a defined meaning (false for the four commands
    /// the original protocol declared but never specified).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::MainCommand;
    ///
    /// assert!(MainCommand::parse("HEARTBEAT 1 2").unwrap().is_implemented());
    /// assert!(!MainCommand::parse("CALIBRATE_TIMING").unwrap().is_implemented());
    /// ```
    pub fn is_implemented(&self) -> bool {
        self.node_id().is_some()
    }

    fn raw_args_for(command: &str) -> Option<fn(Vec<String>) -> Self> {
        match command {
            PULSE_DATA => Some(|args| Self::PulseData { args }),
            FIRST_SYNC => Some(|args| Self::FirstSync { args }),
            MISSING_SYNCS => Some(|args| Self::MissingSyncs { args }),
            CALIBRATE_TIMING => Some(|args| Self::CalibrateTiming { args }),
            _ => None,
        }
    }
}

impl FromStr for MainCommand {
    type Err = MainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Writes the canonical command line, without a line end.
///
/// Line breaks inside a `LOGMSG` message are written as spaces so that one
/// command stays one line.
impl fmt::Display for MainCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Self::PoweredOn { id, ip, mac } => write!(f, " {id} {ip} {mac}"),
            Self::LogMsg {
                id,
                level,
                depth,
                msg,
            } => {
                write!(f, " {id} {level} {depth}")?;
                let msg = msg.trim();
                if msg.is_empty() {
                    return Ok(());
                }
                f.write_str(" ")?;
                f.write_str(&msg.replace(['\r', '\n'], " "))
            }
            Self::Heartbeat { id, n } => write!(f, " {id} {n}"),
            Self::BridgeMode { id, mode } => write!(f, " {id} {mode}"),
            Self::PulseData { args }
            | Self::FirstSync { args }
            | Self::MissingSyncs { args }
            | Self::CalibrateTiming { args } => {
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
        }
    }
}

/// Splits off the first whitespace-delimited word; the rest has leading
/// whitespace removed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(end) => (&s[..end], s[end..].trim_start()),
        None => (s, ""),
    }
}

fn parse_node_id(command: &'static str, word: &str) -> Result<u32, MainError> {
    match word {
        "" => Err(MainError::MissingArgument {
            command,
            argument: "id",
        }),
        "(unset)" => Err(MainError::UnsetNodeId { command }),
        _ => parse_number(command, "id", word),
    }
}

fn parse_number<T: FromStr>(
    command: &'static str,
    argument: &'static str,
    word: &str,
) -> Result<T, MainError> {
    // `u32::from_str` accepts a leading '+'; the protocol writes bare digits.
    if !word.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_number(command, argument, word));
    }
    word.parse()
        .map_err(|_| bad_number(command, argument, word))
}

fn bad_number(command: &'static str, argument: &'static str, word: &str) -> MainError {
    MainError::BadNumber {
        command,
        argument,
        token: word.to_owned(),
    }
}

/// The not-yet-consumed arguments of one command.
struct Args<'a> {
    command: &'static str,
    rest: &'a str,
}

impl<'a> Args<'a> {
    fn word(&mut self, argument: &'static str) -> Result<&'a str, MainError> {
        let (word, rest) = split_word(self.rest);
        if word.is_empty() {
            return Err(MainError::MissingArgument {
                command: self.command,
                argument,
            });
        }
        self.rest = rest;
        Ok(word)
    }

    fn number<T: FromStr>(&mut self, argument: &'static str) -> Result<T, MainError> {
        let word = self.word(argument)?;
        parse_number(self.command, argument, word)
    }

    fn finish(self) -> Result<(), MainError> {
        let (extra, _) = split_word(self.rest);
        if extra.is_empty() {
            Ok(())
        } else {
            Err(MainError::ExtraArgument {
                command: self.command,
                token: extra.to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn round_trip(cmd: &MainCommand) {
        let line = cmd.to_string();
        assert_eq!(MainCommand::parse(&line).as_ref(), Ok(cmd), "line {line:?}");
    }

    #[test]
    fn parses_each_command() {
        assert_eq!(
            MainCommand::parse("POWERED_ON 0 192.168.0.10 00:1A:2b:3c:4d:5e\n"),
            Ok(MainCommand::PoweredOn {
                id: 0,
                ip: IpAddr::V4(Ipv4Addr::new(192, 168, 0, 10)),
                mac: MacAddr([0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e]),
            })
        );
        assert_eq!(
            MainCommand::parse("LOGMSG 1 UWSERR 3 Error 12 in  line 40"),
            Ok(MainCommand::LogMsg {
                id: 1,
                level: LogLevel::UwsErr,
                depth: 3,
                msg: "Error 12 in  line 40".into(),
            })
        );
        assert_eq!(
            MainCommand::parse("HEARTBEAT 1 18446744073709551615"),
            Ok(MainCommand::Heartbeat { id: 1, n: u64::MAX })
        );
        for mode in BridgeMode::ALL {
            assert_eq!(
                MainCommand::parse(&format!("BRIDGE_MODE 2 {mode}")),
                Ok(MainCommand::BridgeMode { id: 2, mode })
            );
        }
        assert_eq!(
            MainCommand::parse("MISSING_SYNCS 1 4 5"),
            Ok(MainCommand::MissingSyncs {
                args: vec!["1".into(), "4".into(), "5".into()]
            })
        );
    }

    #[test]
    fn logmsg_without_text_is_an_empty_message() {
        assert_eq!(
            MainCommand::parse("LOGMSG 0 INFO 1"),
            Ok(MainCommand::LogMsg {
                id: 0,
                level: LogLevel::Info,
                depth: 1,
                msg: String::new()
            })
        );
    }

    #[test]
    fn display_round_trips_every_variant() {
        let commands = [
            MainCommand::PoweredOn {
                id: 7,
                ip: "fe80::1".parse().unwrap(),
                mac: MacAddr([0xff; 6]),
            },
            MainCommand::PoweredOn {
                id: 0,
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
                mac: MacAddr([1, 2, 3, 4, 5, 6]),
            },
            MainCommand::LogMsg {
                id: 1,
                level: LogLevel::Other("Trace".into()),
                depth: 0,
                msg: "a  b\tc".into(),
            },
            MainCommand::LogMsg {
                id: 1,
                level: LogLevel::Critical,
                depth: 9,
                msg: String::new(),
            },
            MainCommand::Heartbeat {
                id: 4_000_000_000,
                n: 0,
            },
            MainCommand::BridgeMode {
                id: 1,
                mode: BridgeMode::Flyover,
            },
            MainCommand::PulseData {
                args: vec!["1".into(), "(0,1)".into()],
            },
            MainCommand::FirstSync { args: vec![] },
            MainCommand::MissingSyncs {
                args: vec!["x".into()],
            },
            MainCommand::CalibrateTiming { args: vec![] },
        ];
        for cmd in &commands {
            round_trip(cmd);
        }
        let levels = [
            LogLevel::Critical,
            LogLevel::Error,
            LogLevel::UwsErr,
            LogLevel::Warning,
            LogLevel::Normal,
            LogLevel::Info,
            LogLevel::Debug,
        ];
        for level in levels {
            round_trip(&MainCommand::LogMsg {
                id: 0,
                level,
                depth: 1,
                msg: "m".into(),
            });
        }
    }

    #[test]
    fn logmsg_line_breaks_are_written_as_spaces() {
        let cmd = MainCommand::LogMsg {
            id: 1,
            level: LogLevel::Info,
            depth: 0,
            msg: "two\nlines".into(),
        };
        assert_eq!(cmd.to_string(), "LOGMSG 1 INFO 0 two lines");
    }

    #[test]
    fn malformed_lines_name_the_problem() {
        let cases: &[(&str, MainError)] = &[
            ("", MainError::Empty),
            ("  \r\n", MainError::Empty),
            (
                "REBOOT 1",
                MainError::UnknownCommand {
                    command: "REBOOT".into(),
                },
            ),
            (
                "heartbeat 1 2",
                MainError::UnknownCommand {
                    command: "heartbeat".into(),
                },
            ),
            (
                "HEARTBEAT",
                MainError::MissingArgument {
                    command: "HEARTBEAT",
                    argument: "id",
                },
            ),
            (
                "HEARTBEAT 1 2 3",
                MainError::ExtraArgument {
                    command: "HEARTBEAT",
                    token: "3".into(),
                },
            ),
            (
                "HEARTBEAT -1 2",
                MainError::BadNumber {
                    command: "HEARTBEAT",
                    argument: "id",
                    token: "-1".into(),
                },
            ),
            (
                "HEARTBEAT +1 2",
                MainError::BadNumber {
                    command: "HEARTBEAT",
                    argument: "id",
                    token: "+1".into(),
                },
            ),
            (
                "HEARTBEAT 4294967296 2",
                MainError::BadNumber {
                    command: "HEARTBEAT",
                    argument: "id",
                    token: "4294967296".into(),
                },
            ),
            (
                "LOGMSG (unset) INFO 0 hi",
                MainError::UnsetNodeId { command: "LOGMSG" },
            ),
            (
                "LOGMSG 1 INFO deep hi",
                MainError::BadNumber {
                    command: "LOGMSG",
                    argument: "depth",
                    token: "deep".into(),
                },
            ),
            (
                "LOGMSG 1 INFO",
                MainError::MissingArgument {
                    command: "LOGMSG",
                    argument: "depth",
                },
            ),
            (
                "POWERED_ON 1 192.168.0.300 00:00:00:00:00:00",
                MainError::BadIp {
                    token: "192.168.0.300".into(),
                },
            ),
            (
                "POWERED_ON 1 10.0.0.1",
                MainError::MissingArgument {
                    command: "POWERED_ON",
                    argument: "mac",
                },
            ),
            (
                "POWERED_ON 1 10.0.0.1 00:00:00:00:00",
                MainError::BadMac {
                    token: "00:00:00:00:00".into(),
                },
            ),
            (
                "POWERED_ON 1 10.0.0.1 00:00:00:00:00:0g",
                MainError::BadMac {
                    token: "00:00:00:00:00:0g".into(),
                },
            ),
            (
                "POWERED_ON 1 10.0.0.1 00:00:00:00:00:00 extra",
                MainError::ExtraArgument {
                    command: "POWERED_ON",
                    token: "extra".into(),
                },
            ),
            (
                "BRIDGE_MODE 1 normal",
                MainError::BadBridgeMode {
                    token: "normal".into(),
                },
            ),
            (
                "BRIDGE_MODE 1",
                MainError::MissingArgument {
                    command: "BRIDGE_MODE",
                    argument: "mode",
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(
                MainCommand::parse(line).as_ref(),
                Err(expected),
                "line {line:?}"
            );
        }
        assert_eq!(
            MainCommand::parse("POWERED_ON 1 10.0.0.1 00:00:00:00:00:0g")
                .unwrap_err()
                .to_string(),
            "POWERED_ON: bad MAC address \"00:00:00:00:00:0g\" (expected six hex octets like 00:1a:2b:3c:4d:5e)"
        );
        assert_eq!(
            MainCommand::parse("REBOOT").unwrap_err().to_string(),
            "unknown command \"REBOOT\""
        );
    }

    #[test]
    fn mac_accepts_dashes_and_bare_hex() {
        let expected = MacAddr([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]);
        for text in ["de:ad:be:ef:00:01", "DE-AD-BE-EF-00-01", "deadbeef0001"] {
            assert_eq!(text.parse(), Ok(expected), "{text}");
        }
        for text in [
            "de:ad:be:ef:00-01",
            "deadbeef000",
            "d:ad:be:ef:00:01x",
            "éééééé",
        ] {
            assert!(text.parse::<MacAddr>().is_err(), "{text}");
        }
    }
}
