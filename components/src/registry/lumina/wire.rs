//! [`WireForm`]: the two shapes a Lumina message takes on the wire, and ASCII-only JSON.

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};

use super::Message;
use crate::registry::error::LuminaError;

/// Which of Lumina's two wire forms a connection speaks, chosen from its first message.
///
/// - [`Classic`](Self::Classic) (2017, the seed's form): `{"name", "args", "kw", "seq",
///   "success", "result"}`.
/// - [`Typed`](Self::Typed) (2018 onwards): `{"type": "command"|"event", "name",
///   "args", "requestid"}`; a reply is `{"type", "name", "requestid", "response",
///   "result"}`. No `kw`.
///
/// A message with a `type`, `requestid` or `response` field is typed; anything else is
/// classic. Both are read into a [`Message`] (`requestid` as `seq`, `response` as
/// `success`), so the rest of the server speaks one form. Both are written as ASCII
/// JSON: every non-ASCII character escaped as `\uXXXX`, as Python's `json.dumps` does
/// by default (Python 2 nodes decode lines as ASCII).
///
/// # Examples
///
/// ```
/// use components::registry::lumina::{Message, WireForm};
///
/// let line = br#"{"type":"command","name":"serverid","args":[],"requestid":4}"#;
/// let (form, request) = WireForm::decode(line)?.ok_or("a keepalive")?;
/// assert_eq!(form, WireForm::Typed);
/// assert_eq!(request.seq, Some(4));
///
/// let reply = request.success_reply("hub-\u{fc}".into());
/// assert_eq!(
///     form.encode(&reply),
///     r#"{"name":"serverid","requestid":4,"response":true,"result":"hub-\u00fc","type":"command"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WireForm {
    /// The 2017 form: `name`, `args`, `kw`, `seq`, `success`, `result`.
    #[default]
    Classic,
    /// The 2018 form: `type`, `name`, `args`, `requestid`, `response`, `result`.
    Typed,
}

/// A line that could not be read as a message, with what could be salvaged from it to
/// answer it: its form and, when it carried one, its `seq` (or `requestid`) and `name`.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::WireForm;
///
/// let broken = WireForm::decode(br#"{"name":"serverid","seq":3,"args":"oops"}"#).unwrap_err();
/// assert_eq!((broken.form, broken.seq), (WireForm::Classic, Some(3)));
/// assert!(broken.error.to_string().contains("args"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct Unreadable {
    /// Why the line could not be read.
    pub error: LuminaError,
    /// The form the line looked like.
    pub form: WireForm,
    /// Its `seq` / `requestid`, when it had an integer one: the sender waits for a reply.
    pub seq: Option<i64>,
    /// Its `name`, when it had a string one.
    pub name: Option<String>,
}

impl Unreadable {
    /// The failure reply that answers the line, if it wanted one (it carried a `seq`).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::WireForm;
    /// let broken = WireForm::decode(br#"{"name":"x","seq":3,"kw":[]}"#).unwrap_err();
    /// let reply = broken.reply().ok_or("a reply")?;
    /// assert_eq!((reply.seq, reply.success), (Some(3), Some(false)));
    /// assert_eq!(reply.result[0], "NodeException");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reply(&self) -> Option<Message> {
        let seq = self.seq?;
        let name = self.name.clone().unwrap_or_default();
        Some(Message::new(name).with_seq(seq).error_reply(&self.error))
    }
}

impl WireForm {
    /// Reads one received line (with or without its line end).
    ///
    /// Returns `Ok(None)` for a blank line (a keepalive), else the form the line is in
    /// and the message. A line holding U+FFFD `�` is read as invalid UTF-8: the
    /// server's line reader puts that character where the bytes were not UTF-8, and a
    /// Lumina node sends only ASCII.
    ///
    /// # Errors
    ///
    /// [`Unreadable`] with [`LuminaError::InvalidUtf8`] or
    /// [`LuminaError::MalformedJson`], and what could be salvaged to answer it.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::WireForm;
    /// assert_eq!(WireForm::decode(b"\r\n"), Ok(None));
    /// let (form, message) = WireForm::decode(br#"{"name":"serverid","seq":1}"#)?.ok_or("a message")?;
    /// assert_eq!((form, message.seq), (WireForm::Classic, Some(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(line: &[u8]) -> Result<Option<(WireForm, Message)>, Unreadable> {
        let unreadable = |error| Unreadable {
            error,
            form: WireForm::Classic,
            seq: None,
            name: None,
        };
        let text = std::str::from_utf8(line).map_err(|_| unreadable(LuminaError::InvalidUtf8))?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|error| unreadable(LuminaError::MalformedJson(error.to_string())))?;
        let Value::Object(fields) = value else {
            return Err(unreadable(LuminaError::MalformedJson(
                "expected a JSON object".into(),
            )));
        };
        let typed = ["type", "requestid", "response"]
            .iter()
            .any(|key| fields.contains_key(*key));
        let form = if typed {
            WireForm::Typed
        } else {
            WireForm::Classic
        };
        let seq_key = if typed { "requestid" } else { "seq" };
        let salvage = |error| Unreadable {
            error,
            form,
            seq: fields.get(seq_key).and_then(Value::as_i64),
            name: fields
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        if text.contains('\u{FFFD}') {
            return Err(salvage(LuminaError::InvalidUtf8));
        }
        let message = if typed {
            typed_message(&fields)
        } else {
            classic_fields(&fields).and_then(|()| {
                serde_json::from_value(Value::Object(fields.clone()))
                    .map_err(|error| LuminaError::MalformedJson(error.to_string()))
            })
        };
        message
            .map(|message| Some((form, message)))
            .map_err(salvage)
    }

    /// Writes `message` in this form: compact ASCII JSON, without the line end.
    ///
    /// In the typed form a request is `{"type": "command", "name", "args",
    /// "requestid"?}` and a reply `{"type": "command", "name", "requestid", "response",
    /// "result"}`; `kw` is not carried (see [`LuminaError::KeywordsUnsupported`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::{Message, WireForm};
    /// let call = Message::new("lamp/say").with_args(vec!["gr\u{fc}\u{df} dich".into()]).with_seq(2);
    /// assert_eq!(
    ///     WireForm::Classic.encode(&call),
    ///     r#"{"name":"lamp/say","args":["gr\u00fc\u00df dich"],"kw":{},"seq":2}"#
    /// );
    /// assert_eq!(
    ///     WireForm::Typed.encode(&call),
    ///     r#"{"args":["gr\u00fc\u00df dich"],"name":"lamp/say","requestid":2,"type":"command"}"#
    /// );
    /// ```
    pub fn encode(self, message: &Message) -> String {
        match self {
            WireForm::Classic => to_ascii_json(message),
            WireForm::Typed => {
                let mut fields = Map::new();
                fields.insert("type".into(), Value::from("command"));
                fields.insert("name".into(), Value::from(message.name.clone()));
                if let Some(seq) = message.seq {
                    fields.insert("requestid".into(), Value::from(seq));
                }
                match message.success {
                    Some(success) => {
                        fields.insert("response".into(), Value::from(success));
                        fields.insert("result".into(), message.result.clone());
                    }
                    None => {
                        fields.insert("args".into(), Value::from(message.args.clone()));
                    }
                }
                to_ascii_json(&Value::Object(fields))
            }
        }
    }
}

/// A field, whether its value has the right type, and what to say when it has not.
type FieldCheck = (&'static str, fn(&Value) -> bool, &'static str);

/// Names the first field of a 2017 message that has the wrong type.
fn classic_fields(fields: &Map<String, Value>) -> Result<(), LuminaError> {
    let wrong = |why: &str| Err(LuminaError::MalformedJson(why.to_owned()));
    match fields.get("name") {
        Some(Value::String(_)) => {}
        Some(_) => return wrong("`name` must be a string"),
        None => return wrong("missing field `name`"),
    }
    let checks: [FieldCheck; 4] = [
        ("args", Value::is_array, "`args` must be a list"),
        ("kw", Value::is_object, "`kw` must be an object"),
        ("seq", Value::is_i64, "`seq` must be an integer"),
        (
            "success",
            Value::is_boolean,
            "`success` must be true or false",
        ),
    ];
    for (key, fits, why) in checks {
        match fields.get(key) {
            None | Some(Value::Null) => {}
            Some(value) if fits(value) => {}
            Some(_) => return wrong(why),
        }
    }
    Ok(())
}

fn typed_message(fields: &Map<String, Value>) -> Result<Message, LuminaError> {
    let malformed = |why: &str| LuminaError::MalformedJson(why.to_owned());
    let name = match fields.get("name") {
        Some(Value::String(name)) => name.clone(),
        Some(_) => return Err(malformed("`name` must be a string")),
        None => return Err(malformed("missing field `name`")),
    };
    let args = match fields.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(args)) => args.clone(),
        Some(_) => return Err(malformed("`args` must be a list")),
    };
    let seq = match fields.get("requestid") {
        None | Some(Value::Null) => None,
        Some(id) => Some(
            id.as_i64()
                .ok_or_else(|| malformed("`requestid` must be an integer"))?,
        ),
    };
    let success = match fields.get("response") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(ok)) => Some(*ok),
        Some(_) => return Err(malformed("`response` must be true or false")),
    };
    if let Some(kind) = fields.get("type")
        && !kind.is_string()
    {
        return Err(malformed("`type` must be a string"));
    }
    let mut message = Message::new(name).with_args(args);
    message.seq = seq;
    message.success = success;
    message.result = fields.get("result").cloned().unwrap_or(Value::Null);
    Ok(message)
}

/// Compact JSON with every non-ASCII character escaped as `\uXXXX` (UTF-16 units, as
/// Python's `json.dumps` writes them).
pub(super) fn to_ascii_json(value: &impl Serialize) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, AsciiFormatter);
    // Serialising strings, numbers and string-keyed maps into memory cannot fail.
    if value.serialize(&mut serializer).is_err() {
        return String::new();
    }
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

struct AsciiFormatter;

impl serde_json::ser::Formatter for AsciiFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            writer.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(writer, "\\u{unit:04x}")?;
            }
            start = at + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escapes_like_python_json_dumps() {
        // python3 -c 'import json; print(json.dumps(["ü", "€", "😀", "a\"b\n"]))'
        let text = to_ascii_json(&json!(["ü", "€", "😀", "a\"b\n"]));
        assert_eq!(text, r#"["\u00fc","\u20ac","\ud83d\ude00","a\"b\n"]"#);
        assert!(text.is_ascii());
        assert_eq!(
            serde_json::from_str::<Value>(&text).ok(),
            Some(json!(["ü", "€", "😀", "a\"b\n"]))
        );
    }

    #[test]
    fn typed_messages_read_and_refuse() {
        let line = br#"{"type":"command","name":"n/c","args":[1],"requestid":9}"#;
        let read = WireForm::decode(line);
        let expected = Message::new("n/c").with_args(vec![json!(1)]).with_seq(9);
        assert_eq!(read, Ok(Some((WireForm::Typed, expected))));
        let reply =
            br#"{"type":"command","name":"n/c","requestid":9,"response":false,"result":["E","x"]}"#;
        let read = WireForm::decode(reply).ok().flatten().map(|(_, m)| m);
        assert_eq!(read.as_ref().map(Message::is_reply), Some(true));
        assert_eq!(read.and_then(|m| m.success), Some(false));
        for (bad, seq) in [
            (
                &br#"{"type":"command","name":3,"requestid":1}"#[..],
                Some(1),
            ),
            (
                br#"{"type":"command","name":"x","args":{},"requestid":2}"#,
                Some(2),
            ),
            (br#"{"type":"event","name":"x","requestid":"2"}"#, None),
        ] {
            let error = WireForm::decode(bad).map(|_| ()).unwrap_err();
            assert_eq!((error.form, error.seq), (WireForm::Typed, seq));
        }
    }

    #[test]
    fn replacement_characters_read_as_invalid_utf8() {
        let line = "{\"name\":\"lamp/say\",\"seq\":5,\"args\":[\"\u{FFFD}\"]}";
        let error = WireForm::decode(line.as_bytes()).map(|_| ()).unwrap_err();
        assert_eq!(
            (error.error.clone(), error.seq),
            (LuminaError::InvalidUtf8, Some(5))
        );
        let reply = error.reply().map(|r| r.result);
        assert_eq!(
            reply,
            Some(json!(["NodeException", "message is not valid UTF-8"]))
        );
    }
}
