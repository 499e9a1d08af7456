//! Which message types can be recorded and replayed by name, and which links are
//! tapped: the runtime's [`Registry`]. A type opts in once
//! ([`Runtime::make_recordable`](crate::Runtime::make_recordable)); its entry is what
//! lets code that knows only box names (a dashboard) make a typed tap or replay.

use std::any::TypeId;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::tap::TapShared;
use super::{Pace, RecordError};
use crate::boxes::{BoxId, ComponentId};
use crate::runtime::{Handle, Runtime};

/// A recordable type's typed operations, behind a type-erased face.
pub(crate) trait Recordable: Send + Sync {
    /// Put a tap of this type into the link `from -> to`.
    fn install(
        &self,
        rt: &Runtime,
        from: BoxId,
        to: BoxId,
        shared: Arc<TapShared>,
    ) -> Result<ComponentId, RecordError>;
    /// Replay a recording of this type into `to`.
    fn replay(
        &self,
        rt: &Runtime,
        path: &Path,
        to: BoxId,
        pace: Pace,
    ) -> Result<Handle, RecordError>;
}

struct Typed<T>(PhantomData<fn() -> T>);

impl<T: Serialize + DeserializeOwned + Send + 'static> Recordable for Typed<T> {
    fn install(
        &self,
        rt: &Runtime,
        from: BoxId,
        to: BoxId,
        shared: Arc<TapShared>,
    ) -> Result<ComponentId, RecordError> {
        super::link::install_tap::<T>(rt, from, to, shared)
    }

    fn replay(
        &self,
        rt: &Runtime,
        path: &Path,
        to: BoxId,
        pace: Pace,
    ) -> Result<Handle, RecordError> {
        let replay = super::Replay::<T>::open(path, pace)?;
        super::replay::start_into(rt, replay, to)
    }
}

/// A tapped link.
pub(crate) struct TapEntry {
    pub(crate) from: BoxId,
    pub(crate) to: BoxId,
    pub(crate) from_label: String,
    pub(crate) to_label: String,
    pub(crate) tap: ComponentId,
    pub(crate) shared: Arc<TapShared>,
}

/// The recordable types and the tapped links of one runtime.
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
}

#[derive(Default)]
pub(crate) struct RegistryInner {
    types: FxHashMap<TypeId, Arc<dyn Recordable>>,
    pub(crate) taps: Vec<TapEntry>,
}

impl RegistryInner {
    pub(crate) fn recordable(&self, t: TypeId) -> Option<Arc<dyn Recordable>> {
        self.types.get(&t).cloned()
    }
}

impl Registry {
    pub(crate) fn lock(&self) -> MutexGuard<'_, RegistryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn add_type<T: Serialize + DeserializeOwned + Send + 'static>(&self) {
        self.lock()
            .types
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(Typed::<T>(PhantomData)));
    }
}
