//! [`Message`]: one line of the Lumina protocol, and its parsing.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::registry::error::LuminaError;

/// One Lumina message: a request, an event or a reply.
///
/// Wire form (one JSON object per line):
/// `{"name": str, "args": [...], "kw": {...}, "seq": int?, "success": bool?, "result": any?}`.
/// No `success` = a request (or event); `success` present = a reply. A request with
/// `seq` wants a reply carrying the same `seq`. Missing or `null` `args`/`kw` read as
/// empty; unknown fields are ignored.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::Message;
/// use serde_json::json;
///
/// let request = Message::parse_line(br#"{"name": "serverid", "seq": 4}"#)?.ok_or("a keepalive")?;
/// assert!(request.wants_reply());
///
/// let reply = request.success_reply(json!("hub-1"));
/// assert_eq!(
///     reply.to_line(),
///     "{\"name\":\"serverid\",\"args\":[],\"kw\":{},\"seq\":4,\"success\":true,\"result\":\"hub-1\"}\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The command, event or built-in name, e.g. `register` or `lamp/on`.
    pub name: String,
    /// Positional arguments.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub args: Vec<Value>,
    /// Keyword arguments.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub kw: Map<String, Value>,
    /// Request sequence number: set on requests that want a reply, echoed by the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// Set on replies only: whether the request succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// A reply's result; on failure `[ErrorName, args...]`. Omitted when `null`.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub result: Value,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

impl Message {
    /// A request or event named `name` with no arguments and no `seq`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// let event = Message::new("lamp/dimmed");
    /// assert_eq!(event.to_line(), "{\"name\":\"lamp/dimmed\",\"args\":[],\"kw\":{}}\n");
    /// assert!(!event.wants_reply());
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            args: Vec::new(),
            kw: Map::new(),
            seq: None,
            success: None,
            result: Value::Null,
        }
    }

    /// Sets the positional arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// use serde_json::json;
    /// let status = Message::new("status").with_args(vec![json!("GREEN"), json!("OFF"), json!("up")]);
    /// assert_eq!(status.args.len(), 3);
    /// ```
    pub fn with_args(mut self, args: Vec<Value>) -> Self {
        self.args = args;
        self
    }

    /// Sets the keyword arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// use serde_json::json;
    /// let kw = json!({"node": "lamp"}).as_object().cloned().unwrap_or_default();
    /// let register = Message::new("register").with_kw(kw);
    /// assert_eq!(register.kw["node"], "lamp");
    /// ```
    pub fn with_kw(mut self, kw: Map<String, Value>) -> Self {
        self.kw = kw;
        self
    }

    /// Sets `seq`, asking for a reply.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// let request = Message::new("serverid").with_seq(4);
    /// assert_eq!(request.seq, Some(4));
    /// assert!(request.wants_reply());
    /// ```
    pub fn with_seq(mut self, seq: i64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// Whether this is a reply (`success` present).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// let request = Message::new("serverid").with_seq(1);
    /// assert!(!request.is_reply());
    /// assert!(request.success_reply("hub-1".into()).is_reply());
    /// ```
    pub fn is_reply(&self) -> bool {
        self.success.is_some()
    }

    /// Whether this is a request that wants a reply (no `success`, `seq` present).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// assert!(Message::new("serverid").with_seq(1).wants_reply());
    /// assert!(!Message::new("lamp/dimmed").wants_reply()); // an event: no `seq`
    /// let reply = Message::new("serverid").with_seq(1).success_reply("hub-1".into());
    /// assert!(!reply.wants_reply()); // a reply keeps `seq` but wants nothing back
    /// ```
    pub fn wants_reply(&self) -> bool {
        !self.is_reply() && self.seq.is_some()
    }

    /// The successful reply to this request: same name and `seq`, `success: true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// use serde_json::json;
    /// let reply = Message::new("lamp/on").with_seq(9).success_reply(json!({"on": true}));
    /// assert_eq!((reply.name.as_str(), reply.seq, reply.success), ("lamp/on", Some(9), Some(true)));
    /// assert_eq!(reply.result["on"], true);
    /// ```
    pub fn success_reply(&self, result: Value) -> Message {
        self.reply(true, result)
    }

    /// The failed reply to this request: `success: false`, `result: [error, args...]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// use serde_json::json;
    ///
    /// let reply = Message::new("lamp/on").with_seq(9).failure_reply("TimeoutException", []);
    /// assert_eq!(reply.success, Some(false));
    /// assert_eq!(reply.result, json!(["TimeoutException"]));
    /// ```
    pub fn failure_reply(&self, error: &str, args: impl IntoIterator<Item = Value>) -> Message {
        let result = std::iter::once(Value::from(error)).chain(args).collect();
        self.reply(false, Value::Array(result))
    }

    /// The failed reply carrying `error`: `result: [error.error_name(), error.to_string()]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::LuminaError;
    /// use components::registry::lumina::Message;
    /// use serde_json::json;
    /// let error = LuminaError::UnknownCommand("lamp/dim".into());
    /// let reply = Message::new("lamp/dim").with_seq(2).error_reply(&error);
    /// assert_eq!(reply.success, Some(false));
    /// assert_eq!(reply.result, json!(["UnknownCommandException", "unknown command \"lamp/dim\""]));
    /// ```
    pub fn error_reply(&self, error: &LuminaError) -> Message {
        self.failure_reply(error.error_name(), [Value::from(error.to_string())])
    }

    fn reply(&self, success: bool, result: Value) -> Message {
        Message {
            seq: self.seq,
            success: Some(success),
            result,
            ..Message::new(self.name.clone())
        }
    }

    /// Parses one received line (with or without its `\n` / `\r\n`).
    ///
    /// Returns `Ok(None)` for an empty or blank line: a keepalive.
    ///
    /// # Errors
    ///
    /// [`LuminaError::InvalidUtf8`] for non-UTF-8 bytes; [`LuminaError::MalformedJson`]
    /// when the line is not a JSON object with a string `name` and well-typed fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::LuminaError;
    /// use components::registry::lumina::Message;
    ///
    /// assert_eq!(Message::parse_line(b"\r\n")?, None);
    /// let error = Message::parse_line(b"{\"args\": []}");
    /// assert!(matches!(error, Err(LuminaError::MalformedJson(why)) if why.contains("missing field `name`")));
    /// # Ok::<(), components::registry::LuminaError>(())
    /// ```
    pub fn parse_line(line: &[u8]) -> Result<Option<Message>, LuminaError> {
        let text = std::str::from_utf8(line).map_err(|_| LuminaError::InvalidUtf8)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|error| LuminaError::MalformedJson(error.to_string()))
    }

    /// The 2017 wire form: compact ASCII JSON followed by `\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Message;
    /// let line = Message::new("serverid").with_seq(1).to_line();
    /// assert_eq!(line, "{\"name\":\"serverid\",\"args\":[],\"kw\":{},\"seq\":1}\n");
    /// assert_eq!(Message::parse_line(line.as_bytes())?, Some(Message::new("serverid").with_seq(1)));
    /// # Ok::<(), components::registry::LuminaError>(())
    /// ```
    pub fn to_line(&self) -> String {
        format!("{self}\n")
    }
}

/// Compact ASCII JSON in the 2017 form, without the line end: non-ASCII characters are
/// escaped as `\uXXXX`, as Python's `json.dumps` does by default.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::wire::to_ascii_json(self))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn missing_or_null_args_and_kw_read_as_empty() {
        for line in [
            r#"{"name":"x"}"#,
            r#"{"name":"x","args":null,"kw":null}"#,
            r#"{"name":"x","extra":1}"#,
        ] {
            let parsed = Message::parse_line(line.as_bytes());
            assert_eq!(parsed, Ok(Some(Message::new("x"))), "{line}");
        }
    }

    #[test]
    fn request_and_reply_are_told_apart() {
        let parse = |line: &str| Message::parse_line(line.as_bytes()).ok().flatten();
        let event = parse(r#"{"name":"a/b","args":[1]}"#);
        assert_eq!(event.as_ref().map(Message::wants_reply), Some(false));
        assert_eq!(event.as_ref().map(Message::is_reply), Some(false));
        let request = parse(r#"{"name":"a/c","seq":3}"#);
        assert_eq!(request.as_ref().map(Message::wants_reply), Some(true));
        let reply = parse(r#"{"name":"a/c","seq":3,"success":false,"result":["E","x"]}"#);
        assert_eq!(reply.as_ref().map(Message::is_reply), Some(true));
        assert_eq!(reply.as_ref().map(Message::wants_reply), Some(false));
        assert_eq!(reply.map(|r| r.result), Some(json!(["E", "x"])));
    }

    #[test]
    fn keepalives_and_malformed_lines() {
        assert_eq!(Message::parse_line(b""), Ok(None));
        assert_eq!(Message::parse_line(b"  \r\n"), Ok(None));
        assert_eq!(
            Message::parse_line(b"\xff\n"),
            Err(LuminaError::InvalidUtf8)
        );
        for bad in [
            &b"{not json"[..],
            b"[1,2]",
            b"{\"name\":5}",
            b"{\"name\":\"x\",\"seq\":\"1\"}",
        ] {
            let error = Message::parse_line(bad);
            assert!(
                matches!(error, Err(LuminaError::MalformedJson(ref text)) if !text.is_empty()),
                "{error:?}"
            );
        }
    }

    #[test]
    fn replies_round_trip() {
        let request = Message::new("n/c").with_args(vec![json!(1)]).with_seq(12);
        let ok = request.success_reply(json!({"v": 2}));
        let failed = request.failure_reply("NodeException", [json!("bad")]);
        for reply in [ok, failed] {
            let line = reply.to_line();
            assert!(line.ends_with('\n'));
            assert_eq!(Message::parse_line(line.as_bytes()), Ok(Some(reply)));
        }
        let line = request.success_reply(Value::Null).to_line();
        assert_eq!(
            line,
            "{\"name\":\"n/c\",\"args\":[],\"kw\":{},\"seq\":12,\"success\":true}\n"
        );
    }
}
