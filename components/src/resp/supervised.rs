//! The store under a supervisor: what the `kvstore` server runs.

use std::time::Duration;

use chassis::supervisor::{ChildSpec, Intensity, Supervisor};

use super::store::{KeyValueStore, STORE_SERVICE};

/// A [`Supervisor`] running one [`KeyValueStore`] (at most `max_bytes` of keys and
/// values) offered as the [`STORE_SERVICE`]. If the store fails or panics (`DEBUG
/// CRASH`), the supervisor starts a new, **empty** one at once: the data is lost (the
/// store keeps everything in memory), but every connection's handler stays linked to
/// the service and its next command is answered by the new store; commands sent while
/// it restarts wait and are answered by it. The command being handled when the store
/// failed is answered `-ERR store unavailable`. More than 10 failures in a minute and
/// the supervisor gives up (the server then answers `store unavailable`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use components::resp::{STORE_SERVICE, StoreRequest, supervised_store};
/// let rt = axon::Runtime::new();
/// let store = rt.spawn(supervised_store(1 << 20)).unwrap();
/// assert!(rt.service::<StoreRequest>(STORE_SERVICE).is_ok());
/// store.shutdown().await.unwrap();
/// # }
/// ```
pub fn supervised_store(max_bytes: usize) -> Supervisor<(), ()> {
    Supervisor::new()
        .named("kv-store-supervisor")
        .intensity(Intensity::new(10, Duration::from_secs(60)))
        .child(
            ChildSpec::new("store", move || KeyValueStore::with_max_bytes(max_bytes))
                .service(STORE_SERVICE, "inbox"),
        )
}
