//! [`Command`]: a client's command, parsed and checked (name, arity, option syntax,
//! integer arguments) before anything runs.

use std::time::Duration;

use bytes::Bytes;

use super::error::CommandError;

/// Whether SET writes only a missing key (`NX`) or only an existing one (`XX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCondition {
    /// Only if the key does not exist.
    Nx,
    /// Only if the key exists.
    Xx,
}

/// When EXPIRE sets a key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCondition {
    /// Only if the key has none.
    Nx,
    /// Only if the key has one.
    Xx,
    /// Only if the new one is later (a key without one counts as never expiring).
    Gt,
    /// Only if the new one is sooner (a key without one counts as never expiring).
    Lt,
}

/// One command, checked as Redis checks it: the reply to a malformed command is the
/// [`CommandError`] [`Command::parse`] returns, and nothing runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use components::resp::{Command, CommandError, SetCondition};
///
/// let args = |s: &str| s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
/// assert_eq!(
///     Command::parse(args("set k v PX 1500 NX")),
///     Ok(Command::Set {
///         key: "k".into(),
///         value: "v".into(),
///         expire: Some(Duration::from_millis(1500)),
///         condition: Some(SetCondition::Nx),
///     })
/// );
/// assert_eq!(
///     Command::parse(args("GET")).unwrap_err().to_string(),
///     "ERR wrong number of arguments for 'get' command"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `PING [message]`: `PONG`, or the message.
    Ping(Option<Bytes>),
    /// `ECHO message`.
    Echo(Bytes),
    /// `QUIT`: `OK`, then the connection closes.
    Quit,
    /// `GET key`.
    Get(Bytes),
    /// `SET key value [EX seconds | PX milliseconds] [NX | XX]`.
    Set {
        /// The key.
        key: Bytes,
        /// The value.
        value: Bytes,
        /// Time to live; `None` clears any the key had.
        expire: Option<Duration>,
        /// Write only if the key is missing, or only if it exists.
        condition: Option<SetCondition>,
    },
    /// `DEL key [key ...]`: how many existed.
    Del(Vec<Bytes>),
    /// `EXISTS key [key ...]`: how many exist (a key named twice counts twice).
    Exists(Vec<Bytes>),
    /// `INCR key` (`by` 1) or `DECR key` (`by` -1).
    IncrBy {
        /// The key.
        key: Bytes,
        /// What to add.
        by: i64,
    },
    /// `MGET key [key ...]`.
    MGet(Vec<Bytes>),
    /// `MSET key value [key value ...]`.
    MSet(Vec<(Bytes, Bytes)>),
    /// `EXPIRE key seconds [NX | XX | GT | LT]`; zero or fewer seconds deletes the key.
    Expire {
        /// The key.
        key: Bytes,
        /// Seconds from now.
        seconds: i64,
        /// When to set it.
        condition: Option<ExpireCondition>,
    },
    /// `TTL key`: seconds left, -1 without a time to live, -2 if missing.
    Ttl(Bytes),
    /// `KEYS pattern`, with Redis's glob patterns.
    Keys(Bytes),
    /// `DBSIZE`.
    DbSize,
    /// `FLUSHDB [ASYNC | SYNC]`.
    FlushDb,
    /// `DEBUG CRASH`: the store panics (only where the server allows it).
    DebugCrash,
}

/// The largest expire Redis accepts, in milliseconds from now (so that adding the
/// current time cannot overflow).
const MAX_EXPIRE_MS: i64 = i64::MAX / 2;

impl Command {
    /// Parse `args` (the command name first, in any case).
    ///
    /// # Errors
    ///
    /// The [`CommandError`] Redis would answer: unknown command, wrong number of
    /// arguments, syntax error, not an integer, invalid expire time.
    ///
    /// # Panics
    ///
    /// If `args` is empty (the codec never yields an empty command).
    pub fn parse(args: Vec<Bytes>) -> Result<Command, CommandError> {
        let name = args[0].to_ascii_lowercase();
        let Some(&(canonical, arity)) = TABLE.iter().find(|(n, _)| n.as_bytes() == name) else {
            return Err(CommandError::unknown(&args));
        };
        let n = args.len() as i32;
        if (arity > 0 && n != arity) || (arity < 0 && n < -arity) {
            return Err(CommandError::WrongArity(canonical.to_owned()));
        }
        let mut args = args.into_iter().skip(1);
        let mut next = || args.next().unwrap_or_default();
        Ok(match canonical {
            "ping" if n > 2 => return Err(CommandError::WrongArity(canonical.to_owned())),
            "ping" => Command::Ping((n == 2).then(&mut next)),
            "echo" => Command::Echo(next()),
            "quit" => Command::Quit,
            "get" => Command::Get(next()),
            "set" => {
                let (key, value) = (next(), next());
                let rest: Vec<Bytes> = std::iter::from_fn(|| Some(next()))
                    .take(n as usize - 3)
                    .collect();
                parse_set(key, value, &rest)?
            }
            "del" => Command::Del(
                std::iter::from_fn(|| Some(next()))
                    .take(n as usize - 1)
                    .collect(),
            ),
            "exists" => Command::Exists(
                std::iter::from_fn(|| Some(next()))
                    .take(n as usize - 1)
                    .collect(),
            ),
            "incr" => Command::IncrBy { key: next(), by: 1 },
            "decr" => Command::IncrBy {
                key: next(),
                by: -1,
            },
            "mget" => Command::MGet(
                std::iter::from_fn(|| Some(next()))
                    .take(n as usize - 1)
                    .collect(),
            ),
            "mset" => {
                if n % 2 == 0 {
                    return Err(CommandError::WrongArity(canonical.to_owned()));
                }
                Command::MSet(
                    std::iter::from_fn(|| Some((next(), next())))
                        .take((n as usize - 1) / 2)
                        .collect(),
                )
            }
            "expire" => {
                let key = next();
                let seconds = parse_integer(&next())?;
                let rest: Vec<Bytes> = std::iter::from_fn(|| Some(next()))
                    .take(n as usize - 3)
                    .collect();
                if seconds
                    .checked_mul(1000)
                    .is_none_or(|ms| ms > MAX_EXPIRE_MS)
                {
                    return Err(CommandError::InvalidExpireTime(canonical.to_owned()));
                }
                Command::Expire {
                    key,
                    seconds,
                    condition: parse_expire_condition(&rest)?,
                }
            }
            "ttl" => Command::Ttl(next()),
            "keys" => Command::Keys(next()),
            "dbsize" => Command::DbSize,
            "flushdb" => match n {
                1 => Command::FlushDb,
                2 if matches!(&next().to_ascii_uppercase()[..], b"ASYNC" | b"SYNC") => {
                    Command::FlushDb
                }
                _ => return Err(CommandError::Syntax),
            },
            _ => {
                let sub = next();
                if n == 2 && sub.eq_ignore_ascii_case(b"crash") {
                    Command::DebugCrash
                } else {
                    return Err(CommandError::UnknownDebugSubcommand(
                        String::from_utf8_lossy(&sub).into_owned(),
                    ));
                }
            }
        })
    }

    /// Whether the command is answered by the store (rather than by the connection's
    /// handler alone: PING, ECHO, QUIT).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::resp::Command;
    /// assert!(Command::DbSize.needs_store());
    /// assert!(!Command::Quit.needs_store());
    /// ```
    pub fn needs_store(&self) -> bool {
        !matches!(self, Command::Ping(_) | Command::Echo(_) | Command::Quit)
    }
}

/// Each command's lower-case name and Redis's arity (`n`: exactly n arguments with the
/// name; `-n`: at least n).
const TABLE: [(&str, i32); 17] = [
    ("ping", -1),
    ("echo", 2),
    ("quit", -1),
    ("get", 2),
    ("set", -3),
    ("del", -2),
    ("exists", -2),
    ("incr", 2),
    ("decr", 2),
    ("mget", -2),
    ("mset", -3),
    ("expire", -3),
    ("ttl", 2),
    ("keys", 2),
    ("dbsize", 1),
    ("flushdb", -1),
    ("debug", -2),
];

fn parse_set(key: Bytes, value: Bytes, options: &[Bytes]) -> Result<Command, CommandError> {
    let mut expire = None;
    let mut condition = None;
    let mut i = 0;
    while i < options.len() {
        let option = options[i].to_ascii_uppercase();
        match &option[..] {
            b"NX" | b"XX" => {
                let this = if &option[..] == b"NX" {
                    SetCondition::Nx
                } else {
                    SetCondition::Xx
                };
                if condition.is_some_and(|c| c != this) {
                    return Err(CommandError::Syntax);
                }
                condition = Some(this);
            }
            b"EX" | b"PX" => {
                let Some(amount) = options.get(i + 1) else {
                    return Err(CommandError::Syntax);
                };
                if expire.is_some() {
                    return Err(CommandError::Syntax);
                }
                let amount = parse_integer(amount)?;
                let ms = if &option[..] == b"EX" {
                    amount.checked_mul(1000)
                } else {
                    Some(amount)
                };
                match ms {
                    Some(ms) if ms > 0 && ms <= MAX_EXPIRE_MS => {
                        expire = Some(Duration::from_millis(ms as u64));
                    }
                    _ => return Err(CommandError::InvalidExpireTime("set".to_owned())),
                }
                i += 1;
            }
            _ => return Err(CommandError::Syntax),
        }
        i += 1;
    }
    Ok(Command::Set {
        key,
        value,
        expire,
        condition,
    })
}

fn parse_expire_condition(options: &[Bytes]) -> Result<Option<ExpireCondition>, CommandError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        match &option.to_ascii_uppercase()[..] {
            b"NX" => nx = true,
            b"XX" => xx = true,
            b"GT" => gt = true,
            b"LT" => lt = true,
            _ => {
                return Err(CommandError::UnsupportedOption(
                    String::from_utf8_lossy(option).into_owned(),
                ));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::NxWithOtherExpireOptions);
    }
    if gt && lt {
        return Err(CommandError::GtWithLt);
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => Some(ExpireCondition::Nx),
        (_, _, true, _) => Some(ExpireCondition::Gt),
        (_, _, _, true) => Some(ExpireCondition::Lt),
        (_, true, ..) => Some(ExpireCondition::Xx),
        _ => None,
    })
}

/// A 64-bit integer written exactly as Redis writes one: an optional `-`, no leading
/// zeros, no `+`, no blanks.
///
/// # Errors
///
/// [`CommandError::NotAnInteger`] for anything else.
pub(crate) fn parse_integer(text: &[u8]) -> Result<i64, CommandError> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || text == b"0");
    if !canonical {
        return Err(CommandError::NotAnInteger);
    }
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(CommandError::NotAnInteger)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command, CommandError> {
        Command::parse(
            line.split(' ')
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect(),
        )
    }

    fn error(line: &str) -> String {
        parse(line).unwrap_err().to_string()
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(parse("gEt k"), Ok(Command::Get("k".into())));
        assert_eq!(parse("DBSIZE"), Ok(Command::DbSize));
    }

    #[test]
    fn unknown_commands_preview_their_arguments_as_redis_does() {
        assert_eq!(
            error("foo a b"),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            error("FOO"),
            "ERR unknown command 'FOO', with args beginning with: "
        );
        let long = format!("foo {}", "x".repeat(300));
        let preview = format!("'{}' ", "x".repeat(128));
        assert!(error(&long).ends_with(&preview), "{}", error(&long));
    }

    #[test]
    fn wrong_arity_names_the_command_in_lower_case() {
        for (line, name) in [
            ("GET", "get"),
            ("get a b", "get"),
            ("SET k", "set"),
            ("mset a", "mset"),
            ("mset a b c", "mset"),
            ("ping a b", "ping"),
            ("dbsize x", "dbsize"),
            ("expire k", "expire"),
            ("echo", "echo"),
            ("del", "del"),
            ("keys", "keys"),
        ] {
            assert_eq!(
                error(line),
                format!("ERR wrong number of arguments for '{name}' command"),
                "for {line}"
            );
        }
    }

    #[test]
    fn set_options() {
        assert_eq!(
            parse("set k v ex 10 xx"),
            Ok(Command::Set {
                key: "k".into(),
                value: "v".into(),
                expire: Some(Duration::from_secs(10)),
                condition: Some(SetCondition::Xx),
            })
        );
        assert_eq!(error("set k v nx xx"), "ERR syntax error");
        assert_eq!(error("set k v ex 10 px 100"), "ERR syntax error");
        assert_eq!(error("set k v ex"), "ERR syntax error");
        assert_eq!(error("set k v foo"), "ERR syntax error");
        assert_eq!(
            error("set k v ex abc"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error("set k v ex 0"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error("set k v px -1"),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            error("set k v ex 9223372036854775"),
            "ERR invalid expire time in 'set' command"
        );
    }

    #[test]
    fn expire_options() {
        assert_eq!(
            parse("expire k 5 gt"),
            Ok(Command::Expire {
                key: "k".into(),
                seconds: 5,
                condition: Some(ExpireCondition::Gt),
            })
        );
        assert_eq!(
            error("expire k abc"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(error("expire k 10 zz"), "ERR Unsupported option zz");
        assert_eq!(
            error("expire k 10 nx xx"),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            error("expire k 10 gt lt"),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            error("expire k 9223372036854775"),
            "ERR invalid expire time in 'expire' command"
        );
    }

    #[test]
    fn integers_are_read_strictly() {
        for good in [
            "0",
            "-1",
            "42",
            "9223372036854775807",
            "-9223372036854775808",
        ] {
            assert!(parse_integer(good.as_bytes()).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-",
            "+1",
            " 1",
            "01",
            "1.5",
            "9223372036854775808",
            "abc",
        ] {
            assert_eq!(
                parse_integer(bad.as_bytes()),
                Err(CommandError::NotAnInteger),
                "{bad}"
            );
        }
    }

    #[test]
    fn flushdb_and_debug() {
        assert_eq!(parse("flushdb async"), Ok(Command::FlushDb));
        assert_eq!(error("flushdb zz"), "ERR syntax error");
        assert_eq!(parse("debug crash"), Ok(Command::DebugCrash));
        assert_eq!(
            error("debug foo"),
            "ERR unknown subcommand 'foo'. Try DEBUG HELP."
        );
    }
}
