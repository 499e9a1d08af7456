//! [`ChildSpec`]: how to make a supervised child, when to restart it, and what it
//! offers by name.

use std::fmt;

use axon::{BoxError, Component, DynComponent};

use super::policy::Restart;

/// A supervised child: its name in the supervisor, the factory that makes each
/// instance, its [`Restart`] kind, and the services it offers.
///
/// # Examples
///
/// ```
/// use axon::{Context, component::from_fn};
/// use chassis::supervisor::{ChildSpec, Restart};
///
/// let store = ChildSpec::new("store", || {
///     from_fn("store", |mut c: Context<String, ()>| async move {
///         while let Some(_key) = c.recv().await {}
///         Ok(())
///     })
/// })
/// .restart(Restart::Permanent)
/// .service("kv-store", "inbox");
/// assert_eq!(store.name(), "store");
/// ```
pub struct ChildSpec {
    pub(crate) name: String,
    pub(crate) factory: Box<dyn FnMut() -> Result<Box<dyn DynComponent>, BoxError> + Send>,
    pub(crate) restart: Restart,
    /// (service name, box name).
    pub(crate) services: Vec<(String, String)>,
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("restart", &self.restart)
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

impl ChildSpec {
    /// A child named `name` (unique in its supervisor, not `"self"`), made by
    /// `factory` at the start and again for every restart. Permanent by default.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let spec = chassis::supervisor::ChildSpec::new("idle", || {
    ///     from_fn("idle", |_c: Context<(), ()>| async { Ok(()) })
    /// });
    /// # let _ = spec;
    /// ```
    pub fn new<C, F>(name: impl Into<String>, mut factory: F) -> Self
    where
        C: Component,
        F: FnMut() -> C + Send + 'static,
    {
        ChildSpec {
            name: name.into(),
            factory: Box::new(move || Ok(Box::new(factory()) as Box<dyn DynComponent>)),
            restart: Restart::Permanent,
            services: Vec::new(),
        }
    }

    /// A child whose factory can fail (a server binding its port, a store opening
    /// its file). A failure at the start fails the supervisor's setup; a failure at
    /// a restart counts as the child failing again: it is retried after the backoff,
    /// within the intensity.
    ///
    /// # Examples
    ///
    /// ```
    /// use chassis::supervisor::ChildSpec;
    /// use chassis::tcp::{Echo, ServerConfig, ServerCore};
    /// let addr = "127.0.0.1:0".parse().unwrap();
    /// let spec = ChildSpec::try_new("echo", move || ServerCore::new(ServerConfig::new(addr), |_| Echo));
    /// # let _ = spec;
    /// ```
    pub fn try_new<C, E, F>(name: impl Into<String>, mut factory: F) -> Self
    where
        C: Component,
        E: Into<BoxError>,
        F: FnMut() -> Result<C, E> + Send + 'static,
    {
        ChildSpec {
            name: name.into(),
            factory: Box::new(move || {
                factory()
                    .map(|c| Box::new(c) as Box<dyn DynComponent>)
                    .map_err(Into::into)
            }),
            restart: Restart::Permanent,
            services: Vec::new(),
        }
    }

    /// Set when the child is restarted.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// use chassis::supervisor::{ChildSpec, Restart};
    /// let spec = ChildSpec::new("job", || from_fn("job", |_c: Context<(), ()>| async { Ok(()) }))
    ///     .restart(Restart::Temporary);
    /// # let _ = spec;
    /// ```
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Register the child's inbox `box_name` as the service `service`. The
    /// registration names the supervisor's hold in front of that inbox, so it stays
    /// valid across restarts: handlers that found the service and linked to it reach
    /// every later instance without noticing.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let spec = chassis::supervisor::ChildSpec::new("store", || {
    ///     from_fn("store", |_c: Context<String, ()>| async { Ok(()) })
    /// })
    /// .service("kv-store", "inbox");
    /// # let _ = spec;
    /// ```
    pub fn service(mut self, service: impl Into<String>, box_name: impl Into<String>) -> Self {
        self.services.push((service.into(), box_name.into()));
        self
    }

    /// The child's name in its supervisor.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::{Context, component::from_fn};
    /// let spec = chassis::supervisor::ChildSpec::new("a", || from_fn("x", |_c: Context<(), ()>| async { Ok(()) }));
    /// assert_eq!(spec.name(), "a");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new instance, or why the factory could not make one.
    pub(crate) fn make(&mut self) -> Result<Box<dyn DynComponent>, axon::LinkError> {
        (self.factory)().map_err(|e| axon::LinkError::NotMade {
            component: format!("child {:?}", self.name),
            reason: e.to_string(),
        })
    }
}
