//! [`Tap`]: the component put into a recorded link. It forwards every message to the
//! link's destination unchanged and in order, and while a recording is under way
//! hands each one, encoded and stamped, to the recording's writer.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use super::session::Session;
use crate::component::{Component, Context, Setup};
use crate::error::LinkError;
use crate::exit::BoxError;

/// Messages a tap's inbox holds at most: what a tapped link may hold in flight beyond
/// what it held untapped.
pub(crate) const TAP_CAPACITY: usize = 8;

/// What a tap shares with the runtime: the recording under way (or the last one), and
/// whether the tap has ended.
#[derive(Default)]
pub(crate) struct TapShared {
    state: Mutex<TapState>,
}

#[derive(Default)]
pub(crate) struct TapState {
    pub(crate) session: Option<Session>,
    pub(crate) ended: bool,
    /// The last recording stopped, for [`Runtime::recordings`](crate::Runtime::recordings).
    pub(crate) last: Option<super::RecordingSummary>,
}

impl TapShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, TapState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forwards a link's messages and records them (see the [module](crate::record)).
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `T` | the link's messages, from its source |
/// | `control` | in | `Control` | the source's lifecycle, when it went to the destination |
/// | `outbox` | out | `T` | the same messages, to the link's destination |
/// | `signal` | out | `Control` | the lifecycle passed on, after the last message |
pub(crate) struct Tap<T> {
    shared: Arc<TapShared>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Tap<T> {
    pub(crate) fn new(shared: Arc<TapShared>) -> Self {
        Tap {
            shared,
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + Send + 'static> Component for Tap<T> {
    type In = T;
    type Out = T;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        "tap".into()
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.set_capacity("inbox", TAP_CAPACITY)?;
        s.describe("inbox", "the recorded link's messages, from its source")?;
        s.describe("outbox", "the same messages, to the link's destination")
    }

    async fn run(self, mut ctx: Context<T, T>) -> Result<(), BoxError> {
        while let Some(msg) = ctx.recv().await {
            if let Some(s) = &self.shared.lock().session
                && let Some(line) = s.encode(&msg)
            {
                s.push(line);
            }
            // The destination has ended: the source will find the link gone, as it
            // would have untapped.
            if ctx.send(msg).await.is_err() {
                break;
            }
        }
        let mut state = self.shared.lock();
        state.ended = true;
        if let Some(s) = state.session.as_mut() {
            s.close();
        }
        Ok(())
    }
}
