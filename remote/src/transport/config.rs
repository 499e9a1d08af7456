//! The Zenoh session's configuration: peer mode, TCP only, multicast scouting off,
//! explicit endpoints.

use std::time::Duration;

use crate::RemoteError;

/// Where a host listens and which peers it connects to (`--zenoh-listen`,
/// `--zenoh-connect`), and how fast a silent peer is declared gone.
///
/// # Examples
///
/// ```
/// let c = remote::ZenohConfig::default()
///     .listen("127.0.0.1:7447").unwrap()
///     .connect("tcp/127.0.0.1:7448").unwrap();
/// assert_eq!(c.listen, ["tcp/127.0.0.1:7447"]);
/// assert_eq!(c.connect, ["tcp/127.0.0.1:7448"]);
/// assert!(c.clone().listen("udp/127.0.0.1:1").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct ZenohConfig {
    /// Endpoints to listen on, `tcp/ADDR:PORT`.
    pub listen: Vec<String>,
    /// Peers to connect to (retried until they answer, and after a loss).
    pub connect: Vec<String>,
    /// Zenoh's lease: a peer silent this long is gone (keep-alives go 4 times a lease).
    pub lease: Duration,
}

impl Default for ZenohConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            connect: Vec::new(),
            lease: Duration::from_secs(2),
        }
    }
}

impl ZenohConfig {
    /// Add an endpoint to listen on: `ADDR:PORT` or `tcp/ADDR:PORT`.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] for another transport than TCP.
    pub fn listen(mut self, endpoint: &str) -> Result<Self, RemoteError> {
        self.listen.push(tcp_endpoint(endpoint)?);
        Ok(self)
    }

    /// Add a peer to connect to: `ADDR:PORT` or `tcp/ADDR:PORT`.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] for another transport than TCP.
    pub fn connect(mut self, endpoint: &str) -> Result<Self, RemoteError> {
        self.connect.push(tcp_endpoint(endpoint)?);
        Ok(self)
    }

    /// The zenoh configuration this stands for.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] when zenoh refuses a value.
    pub fn to_zenoh(&self) -> Result<zenoh::Config, RemoteError> {
        let mut c = zenoh::Config::default();
        let list = |v: &[String]| {
            let quoted: Vec<String> = v.iter().map(|e| format!("\"{e}\"")).collect();
            format!("[{}]", quoted.join(","))
        };
        let lease = self.lease.as_millis().max(100);
        for (key, value) in [
            ("mode", "\"peer\"".to_string()),
            ("scouting/multicast/enabled", "false".to_string()),
            // Only the explicit endpoints: no peer learns another route by gossip.
            ("scouting/gossip/enabled", "false".to_string()),
            ("listen/endpoints", list(&self.listen)),
            ("connect/endpoints", list(&self.connect)),
            ("transport/link/tx/lease", lease.to_string()),
            ("transport/link/tx/keep_alive", "4".to_string()),
        ] {
            c.insert_json5(key, &value)
                .map_err(|e| RemoteError::Config(format!("{key} = {value}: {e}")))?;
        }
        Ok(c)
    }

    /// Read `--zenoh-listen ADDR` and `--zenoh-connect ADDR` (each may repeat) from
    /// program arguments, leaving the others.
    ///
    /// # Errors
    ///
    /// [`RemoteError::Config`] for a flag without a value or a non-TCP endpoint.
    ///
    /// # Examples
    ///
    /// ```
    /// let args = ["--zenoh-listen", "127.0.0.1:7447", "--role", "x"].map(String::from);
    /// let (c, rest) = remote::ZenohConfig::from_args(args).unwrap();
    /// assert_eq!((c.listen.len(), rest), (1, vec!["--role".to_string(), "x".to_string()]));
    /// ```
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
    ) -> Result<(Self, Vec<String>), RemoteError> {
        let mut c = Self::default();
        let mut rest = Vec::new();
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let flag = a.as_str();
            if flag == "--zenoh-listen" || flag == "--zenoh-connect" {
                let v = it
                    .next()
                    .ok_or_else(|| RemoteError::Config(format!("{flag} needs ADDR:PORT")))?;
                c = if flag == "--zenoh-listen" {
                    c.listen(&v)?
                } else {
                    c.connect(&v)?
                };
            } else {
                rest.push(a);
            }
        }
        Ok((c, rest))
    }
}

fn tcp_endpoint(e: &str) -> Result<String, RemoteError> {
    match e.split_once('/') {
        None => Ok(format!("tcp/{e}")),
        Some(("tcp", _)) => Ok(e.to_string()),
        Some((other, _)) => Err(RemoteError::Config(format!(
            "endpoint `{e}`: only tcp is built in, not {other}"
        ))),
    }
}
