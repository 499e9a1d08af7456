//! [`Registrations`]: who may log in to the master, changeable while it runs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// One worker's registration: its secret, and the master port it must connect to.
///
/// # Examples
///
/// ```
/// use components::workers::Registration;
/// let r = Registration::new("s3cret").port(9989);
/// assert_eq!(r.allowed_port, Some(9989));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    /// The shared secret the worker proves it knows.
    pub secret: Vec<u8>,
    /// The only local port the worker may log in on; `None`: any.
    pub allowed_port: Option<u16>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("secret", &"<hidden>")
            .field("allowed_port", &self.allowed_port)
            .finish()
    }
}

impl Registration {
    /// A registration with `secret`, on any port.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Registration {
            secret: secret.into(),
            allowed_port: None,
        }
    }

    /// Allow logins only on local port `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.allowed_port = Some(port);
        self
    }
}

/// The master's registrations by worker name. Cheap to clone; every clone sees the
/// same table, so changes made while the master runs take effect at the next login.
///
/// # Examples
///
/// ```
/// use components::workers::{Registration, Registrations};
/// let regs = Registrations::default();
/// assert!(regs.set("w1", Registration::new("a")).is_none());
/// assert!(regs.set("w1", Registration::new("b")).is_some());
/// assert_eq!(regs.get("w1").unwrap().secret, b"b");
/// assert!(regs.remove("w1"));
/// assert!(regs.get("w1").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Registrations {
    inner: Arc<RwLock<HashMap<String, Registration>>>,
}

impl Registrations {
    /// Add or change `name`'s registration; returns the one it replaced.
    pub fn set(&self, name: impl Into<String>, registration: Registration) -> Option<Registration> {
        self.write().insert(name.into(), registration)
    }

    /// Remove `name`; returns whether it was registered.
    pub fn remove(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// `name`'s registration, if any.
    pub fn get(&self, name: &str) -> Option<Registration> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Replace the whole table (a registry file reread); returns the names whose
    /// registration changed or went, so their connections can be told.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use components::workers::{Registration, Registrations};
    /// let regs = Registrations::default();
    /// regs.set("same", Registration::new("a"));
    /// regs.set("changed", Registration::new("a"));
    /// regs.set("gone", Registration::new("a"));
    /// let table = HashMap::from([
    ///     ("same".to_string(), Registration::new("a")),
    ///     ("changed".to_string(), Registration::new("b")),
    ///     ("new".to_string(), Registration::new("c")),
    /// ]);
    /// assert_eq!(regs.replace_all(table), ["changed", "gone"]);
    /// assert_eq!(regs.names(), ["changed", "new", "same"]);
    /// ```
    pub fn replace_all(&self, table: HashMap<String, Registration>) -> Vec<String> {
        let mut current = self.write();
        let mut changed: Vec<String> = current
            .iter()
            .filter(|(name, reg)| table.get(*name) != Some(reg))
            .map(|(name, _)| name.clone())
            .collect();
        changed.sort();
        *current = table;
        changed
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// How many workers are registered.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether no worker is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Registration>> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
