//! [`Registration`]: the payload of a Lumina `register` request.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::Message;
use crate::registry::error::LuminaError;

/// What a node declares when it registers.
///
/// Wire form, in the request's `kw` (or, leniently, as its first argument):
/// `{"node": str, "nodeid": any?, "hostname": str?, "hostid": any?, "module": str?,
/// "events": [str...], "commands": [str...]}`.
///
/// Leniency: extra fields are ignored; `nodeid`, `hostname`, `hostid` and `module` may
/// be strings or numbers (numbers are kept as their decimal text); `events` and
/// `commands` may be a list of names or an object whose keys are the names (Lumina
/// iterated either); names may carry the `<node>/` prefix, which is stripped.
///
/// # Examples
///
/// ```
/// use components::registry::lumina::{Message, Registration};
///
/// let line = br#"{"name": "register", "seq": 1, "kw": {"node": "lamp", "hostid": 7,
///     "events": ["lamp/dimmed"], "commands": ["on", "off"]}}"#;
/// let message = Message::parse_line(line)?.ok_or("a keepalive")?;
/// let registration = Registration::from_message(&message)?;
/// assert_eq!(registration.node, "lamp");
/// assert_eq!(registration.host_id.as_deref(), Some("7"));
/// assert!(registration.events.contains("dimmed"));
/// assert_eq!(registration.commands.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Registration {
    /// The node's name (`node`); never empty.
    pub node: String,
    /// The id the node gives itself (`nodeid`).
    pub node_id: Option<String>,
    /// The node's host name (`hostname`).
    pub hostname: Option<String>,
    /// The node's host id (`hostid`).
    pub host_id: Option<String>,
    /// The node's module (`module`).
    pub module: Option<String>,
    /// Declared event names, without the `<node>/` prefix.
    pub events: BTreeSet<String>,
    /// Declared command names, without the `<node>/` prefix.
    pub commands: BTreeSet<String>,
}

impl Registration {
    /// Reads the payload of a `register` request: its `kw`, or else its first argument
    /// when that is an object.
    ///
    /// # Errors
    ///
    /// [`LuminaError::InvalidRegistration`] naming the first field that is missing or
    /// of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::LuminaError;
    /// use components::registry::lumina::{Message, Registration};
    /// use serde_json::json;
    /// // Leniently, the details may come as the first argument instead of `kw`.
    /// let message = Message::new("register").with_args(vec![json!({"node": "lamp", "module": 3})]);
    /// let registration = Registration::from_message(&message)?;
    /// assert_eq!(registration.module.as_deref(), Some("3"));
    ///
    /// let empty = Registration::from_message(&Message::new("register"));
    /// assert!(matches!(empty, Err(LuminaError::InvalidRegistration(_))));
    /// # Ok::<(), LuminaError>(())
    /// ```
    pub fn from_message(message: &Message) -> Result<Self, LuminaError> {
        if !message.kw.is_empty() {
            return Self::from_fields(&message.kw);
        }
        match message.args.first() {
            Some(Value::Object(fields)) => Self::from_fields(fields),
            _ => Err(invalid("no payload: expected the node's details in `kw`")),
        }
    }

    /// Reads the payload from its JSON object.
    ///
    /// # Errors
    ///
    /// As [`from_message`](Self::from_message).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::Registration;
    /// use serde_json::json;
    /// let fields = json!({"node": "lamp", "events": {"lamp/dimmed": null, "lit": null}});
    /// let registration = Registration::from_fields(fields.as_object().ok_or("an object")?)?;
    /// assert_eq!(registration.events.iter().collect::<Vec<_>>(), ["dimmed", "lit"]);
    /// assert!(Registration::from_fields(&serde_json::Map::new()).is_err()); // no `node`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, LuminaError> {
        let node = match fields.get("node") {
            Some(Value::String(node)) if !node.is_empty() => node.clone(),
            Some(Value::String(_)) => return Err(invalid("`node` is empty")),
            Some(_) => return Err(invalid("`node` must be a string")),
            None => return Err(invalid("`node` is missing")),
        };
        Ok(Self {
            node_id: scalar(fields, "nodeid")?,
            hostname: scalar(fields, "hostname")?,
            host_id: scalar(fields, "hostid")?,
            module: scalar(fields, "module")?,
            events: names(fields, "events", &node)?,
            commands: names(fields, "commands", &node)?,
            node,
        })
    }
}

/// Size limits on what a node may declare at `register`, so a node cannot make the
/// registry (and every `_info` reply) grow without bound.
///
/// | field | default | limits |
/// | --- | --- | --- |
/// | `max_name` | 128 | bytes in the node's name and in each event or command name |
/// | `max_field` | 256 | bytes in `nodeid`, `hostname`, `hostid` and `module` |
/// | `max_declared` | 64 | events, and commands, one node may declare |
///
/// # Examples
///
/// ```
/// use components::registry::LuminaError;
/// use components::registry::lumina::{Message, Registration, RegistrationLimits};
/// use serde_json::json;
///
/// let kw = json!({"node": "lamp", "hostname": "h".repeat(300)});
/// let message = Message::new("register").with_kw(kw.as_object().cloned().unwrap_or_default());
/// let registration = Registration::from_message(&message)?;
/// let error = registration.check(&RegistrationLimits::default()).unwrap_err();
/// assert_eq!(
///     error.to_string(),
///     "`hostname` is 300 bytes long; the limit is 256 (`max_field`)"
/// );
/// # Ok::<(), LuminaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationLimits {
    /// Most bytes in a node, event or command name.
    pub max_name: usize,
    /// Most bytes in `nodeid`, `hostname`, `hostid` or `module`.
    pub max_field: usize,
    /// Most events, and most commands, one node may declare.
    pub max_declared: usize,
}

impl Default for RegistrationLimits {
    fn default() -> Self {
        Self {
            max_name: 128,
            max_field: 256,
            max_declared: 64,
        }
    }
}

impl Registration {
    /// Checks the registration against `limits`.
    ///
    /// # Errors
    ///
    /// [`LuminaError::LimitExceeded`] naming the first field over its limit and the
    /// setting that holds the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::registry::lumina::{Registration, RegistrationLimits};
    /// let registration = Registration { node: "lamp".into(), ..Registration::default() };
    /// assert!(registration.check(&RegistrationLimits::default()).is_ok());
    /// let tight = RegistrationLimits { max_name: 3, ..RegistrationLimits::default() };
    /// assert!(registration.check(&tight).is_err());
    /// ```
    pub fn check(&self, limits: &RegistrationLimits) -> Result<(), LuminaError> {
        let too_long = |what: &str, text: &str, limit: usize, setting: &'static str| {
            (text.len() > limit).then(|| LuminaError::LimitExceeded {
                what: format!("{what} is {} bytes long", text.len()),
                limit,
                setting,
            })
        };
        if let Some(error) = too_long("`node`", &self.node, limits.max_name, "max_name") {
            return Err(error);
        }
        let fields = [
            ("`nodeid`", &self.node_id),
            ("`hostname`", &self.hostname),
            ("`hostid`", &self.host_id),
            ("`module`", &self.module),
        ];
        for (what, value) in fields {
            if let Some(error) = value
                .as_deref()
                .and_then(|text| too_long(what, text, limits.max_field, "max_field"))
            {
                return Err(error);
            }
        }
        for (what, names) in [("`events`", &self.events), ("`commands`", &self.commands)] {
            if names.len() > limits.max_declared {
                return Err(LuminaError::LimitExceeded {
                    what: format!("{what} lists {} names", names.len()),
                    limit: limits.max_declared,
                    setting: "max_declared",
                });
            }
            if let Some(error) = names.iter().find_map(|name| {
                too_long(
                    &format!("a name in {what}"),
                    name,
                    limits.max_name,
                    "max_name",
                )
            }) {
                return Err(error);
            }
        }
        Ok(())
    }
}

fn invalid(reason: impl Into<String>) -> LuminaError {
    LuminaError::InvalidRegistration(reason.into())
}

fn scalar(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, LuminaError> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(invalid(format!("`{key}` must be a string or a number"))),
    }
}

fn names(
    fields: &Map<String, Value>,
    key: &str,
    node: &str,
) -> Result<BTreeSet<String>, LuminaError> {
    let listed: Vec<&str> = match fields.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map.keys().map(String::as_str).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(at, item)| {
                item.as_str()
                    .ok_or_else(|| invalid(format!("`{key}[{at}]` must be a string")))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid(format!("`{key}` must be a list of names"))),
    };
    let prefix = format!("{node}/");
    listed
        .into_iter()
        .map(|name| {
            let bare = name.strip_prefix(&prefix).unwrap_or(name);
            if bare.is_empty() {
                Err(invalid(format!("`{key}` holds an empty name")))
            } else {
                Ok(bare.to_owned())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn register(payload: Value) -> Result<Registration, LuminaError> {
        let kw = match payload {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Registration::from_message(&Message::new("register").with_kw(kw))
    }

    #[test]
    fn reads_every_field_leniently() {
        let registration = register(json!({
            "node": "hifi", "nodeid": 3, "hostname": "pi", "hostid": "abc",
            "module": "yamaha", "events": ["hifi/on", "off"], "commands": {"volume": "doc"},
            "version": "2017.1"
        }));
        let expected = Registration {
            node: "hifi".into(),
            node_id: Some("3".into()),
            hostname: Some("pi".into()),
            host_id: Some("abc".into()),
            module: Some("yamaha".into()),
            events: BTreeSet::from(["on".into(), "off".into()]),
            commands: BTreeSet::from(["volume".into()]),
        };
        assert_eq!(registration, Ok(expected));
    }

    #[test]
    fn payload_may_be_the_first_argument() {
        let message = Message::new("register").with_args(vec![json!({"node": "a"})]);
        let registration = Registration::from_message(&message);
        assert_eq!(registration.map(|r| r.node), Ok("a".to_owned()));
    }

    #[test]
    fn refuses_bad_payloads_with_the_field_named() {
        let cases = [
            (json!({}), "no payload"),
            (json!({"hostid": "h"}), "`node` is missing"),
            (json!({"node": ""}), "`node` is empty"),
            (json!({"node": 1}), "`node` must be a string"),
            (
                json!({"node": "a", "events": [1]}),
                "`events[0]` must be a string",
            ),
            (
                json!({"node": "a", "commands": "on"}),
                "`commands` must be a list",
            ),
            (json!({"node": "a", "commands": ["a/"]}), "empty name"),
            (
                json!({"node": "a", "hostid": [1]}),
                "`hostid` must be a string or a number",
            ),
        ];
        for (payload, expected) in cases {
            let error = register(payload.clone())
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{payload}: {error}");
        }
        let empty = Registration::from_message(&Message::new("register"));
        assert!(matches!(empty, Err(LuminaError::InvalidRegistration(_))));
    }
}
