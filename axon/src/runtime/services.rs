//! Services: boxes findable by name.

use super::Runtime;
use crate::boxes::{BoxId, BoxRef};
use crate::error::LinkError;

impl Runtime {
    /// Register a box (typically a shared component's inbox) under a name, so that
    /// components made later can find it: Kamaelia's coordinating assistant tracker.
    /// The entry goes when the box's component ends.
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateService`] if the name is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Runtime, Context, component::from_fn};
    /// let rt = Runtime::new();
    /// let registry = rt.add(from_fn("registry", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("registry", registry.inbox()).unwrap();
    /// let found = rt.service::<String>("registry").unwrap();
    /// assert_eq!(found.id(), registry.inbox().id());
    /// assert!(rt.service::<u32>("registry").is_err());
    /// # }
    /// ```
    pub fn register_service<T: Send + 'static>(
        &self,
        name: impl Into<String>,
        inbox: BoxRef<T>,
    ) -> Result<(), LinkError> {
        let name = name.into();
        let mut st = self.lock();
        if st.services.contains_key(&name) {
            return Err(LinkError::DuplicateService { name });
        }
        st.services.insert(name, inbox.id);
        Ok(())
    }

    /// [`register_service`](Runtime::register_service) by box id, for composites that
    /// register boxes they know only by id (a supervisor's holds).
    ///
    /// # Errors
    ///
    /// [`LinkError::DuplicateService`] if the name is taken; [`LinkError::UnknownBox`]
    /// if the box does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let store = rt.add(from_fn("store", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service_id("store", store.inbox().id()).unwrap();
    /// assert_eq!(rt.service::<String>("store").unwrap().id(), store.inbox().id());
    /// # }
    /// ```
    pub fn register_service_id(&self, name: impl Into<String>, id: BoxId) -> Result<(), LinkError> {
        let name = name.into();
        let mut st = self.lock();
        if st.get_box(id).is_none() {
            return Err(LinkError::UnknownComponent {
                component: st.label(id),
            });
        }
        if st.services.contains_key(&name) {
            return Err(LinkError::DuplicateService { name });
        }
        st.services.insert(name, id);
        Ok(())
    }

    /// Find a registered service's box, checking its type.
    ///
    /// # Errors
    ///
    /// [`LinkError::UnknownService`] listing what is registered, or [`LinkError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, LinkError, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let log = rt.add(from_fn("log", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("log", log.inbox()).unwrap();
    /// assert_eq!(rt.service::<String>("log").unwrap().id(), log.inbox().id());
    /// assert!(matches!(rt.service::<String>("metrics"), Err(LinkError::UnknownService { .. })));
    /// # }
    /// ```
    pub fn service<T: Send + 'static>(&self, name: &str) -> Result<BoxRef<T>, LinkError> {
        let id = {
            let st = self.lock();
            match st.services.get(name) {
                Some(id) => *id,
                None => {
                    let mut names: Vec<&str> = st.services.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    return Err(LinkError::UnknownService {
                        name: name.to_string(),
                        existing: if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        },
                    });
                }
            }
        };
        let box_name = {
            let st = self.lock();
            st.get_box(id)
                .map(|b| b.label.name().to_string())
                .unwrap_or_default()
        };
        self.box_ref::<T>(id.component, &box_name)
    }

    /// Remove a service entry. Returns whether it existed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let log = rt.add(from_fn("log", |_c: Context<String, ()>| async { Ok(()) })).unwrap();
    /// rt.register_service("log", log.inbox()).unwrap();
    /// assert!(rt.unregister_service("log"));
    /// assert!(!rt.unregister_service("log"));
    /// assert!(rt.service::<String>("log").is_err());
    /// # }
    /// ```
    pub fn unregister_service(&self, name: &str) -> bool {
        self.lock().services.remove(name).is_some()
    }
}
