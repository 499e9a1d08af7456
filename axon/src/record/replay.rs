//! [`Replay`]: a component that sends a recording's messages again, at the recorded
//! pace or as fast as the destination takes them; [`Runtime::replay_into`] and
//! [`Runtime::replay_named`] start one into an inbox.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::format::{Header, read};
use super::{Pace, RecordError};
use crate::boxes::{BoxId, BoxRef, Policy};
use crate::component::{Component, Context};
use crate::control::Control;
use crate::exit::BoxError;
use crate::runtime::{Handle, Runtime};

/// Sends a recording's messages on its `outbox`, then ends (so `ProducerFinished`
/// leaves on `signal`). At [`Pace::Recorded`] each message goes out when it passed
/// the tap, counted from the replay's start on tokio's clock (so a test on the paused
/// clock reproduces the gaps exactly); at [`Pace::Max`] they go as fast as the
/// destination takes them. `Shutdown` on `control` stops it between messages.
///
/// The whole recording is read and decoded when it is opened: a file of another type
/// or a damaged one is refused then, before anything is added to a graph. It is held
/// in memory while it plays.
///
/// | box | direction | type | for |
/// | --- | --- | --- | --- |
/// | `inbox` | in | `()` | unused |
/// | `control` | in | `Control` | `Shutdown` stops the replay |
/// | `outbox` | out | `T` | the recorded messages |
/// | `signal` | out | `Control` | `ProducerFinished` after the last one |
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axon::record::{Pace, Replay};
/// let rt = axon::Runtime::new();
/// let replay = Replay::<u32>::open("link.axrec", Pace::Max).unwrap();
/// let p = rt.add(replay).unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct Replay<T> {
    header: Header,
    messages: Vec<(Duration, T)>,
    pace: Pace,
}

impl<T: DeserializeOwned> Replay<T> {
    /// Read the recording at `path`.
    ///
    /// # Errors
    ///
    /// As [`read`](super::read): [`RecordError::Io`], [`RecordError::Corrupt`],
    /// [`RecordError::WrongType`].
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::record::{Pace, RecordError, Replay};
    /// let err = Replay::<u32>::open("/nonexistent/x.axrec", Pace::Max).unwrap_err();
    /// assert!(matches!(err, RecordError::Io { .. }));
    /// ```
    pub fn open(path: impl AsRef<Path>, pace: Pace) -> Result<Self, RecordError> {
        let rec = read::<T>(path)?;
        Ok(Replay {
            header: rec.header,
            messages: rec.messages,
            pace,
        })
    }
}

impl<T> Replay<T> {
    /// The recording's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How many messages it will send.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// True if it will send nothing.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// At [`Pace::Max`], yield to other tasks after this many messages sent without waiting.
const YIELD_EVERY: usize = 256;

impl<T: Send + 'static> Component for Replay<T> {
    type In = ();
    type Out = T;

    fn name(&self) -> std::borrow::Cow<'static, str> {
        "replay".into()
    }

    async fn run(self, mut ctx: Context<(), T>) -> Result<(), BoxError> {
        let start = tokio::time::Instant::now();
        let total = self.messages.len();
        for (n, (at, msg)) in self.messages.into_iter().enumerate() {
            match self.pace {
                Pace::Recorded => {
                    let stopped = tokio::select! {
                        () = tokio::time::sleep_until(start + at) => false,
                        c = ctx.control.recv() => c.is_none_or(|c| c == Control::Shutdown),
                    };
                    if stopped {
                        ctx.mark_shut_down();
                        return Ok(());
                    }
                }
                Pace::Max => {
                    if ctx.control.try_recv() == Ok(Control::Shutdown) {
                        ctx.mark_shut_down();
                        return Ok(());
                    }
                    if n % YIELD_EVERY == YIELD_EVERY - 1 {
                        tokio::task::yield_now().await;
                    }
                }
            }
            if ctx.send(msg).await.is_err() {
                return Err(format!("the destination ended after {n} of {total} messages").into());
            }
        }
        Ok(())
    }
}

impl Runtime {
    /// Replay the recording at `path` into the inbox `to`, and `ProducerFinished` into
    /// its component's `control` after the last message: a [`Replay`] added, linked and
    /// started. Its `Handle` tells when it has ended.
    ///
    /// # Errors
    ///
    /// As [`Replay::open`]; a [`LinkError`](crate::LinkError) if `to` cannot be linked.
    /// Nothing changes in the graph on an error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, record::Pace};
    /// let rt = axon::Runtime::new();
    /// let sink = rt.add(from_fn("sink", |mut c: Context<u32, ()>| async move {
    ///     while c.recv().await.is_some() {}
    ///     Ok(())
    /// })).unwrap();
    /// let replay = rt.replay_into("link.axrec", sink.inbox(), Pace::Recorded).unwrap();
    /// let sink = sink.start();
    /// replay.join().await;
    /// sink.join().await;
    /// # }
    /// ```
    pub fn replay_into<T: DeserializeOwned + Send + 'static>(
        &self,
        path: impl AsRef<Path>,
        to: BoxRef<T>,
        pace: Pace,
    ) -> Result<Handle, RecordError> {
        start_into(self, Replay::<T>::open(path, pace)?, to.id())
    }

    /// [`replay_into`](Runtime::replay_into) by the inbox's name (`name#id.box`), for
    /// an inbox whose type was made recordable
    /// ([`make_recordable`](Runtime::make_recordable)).
    ///
    /// # Errors
    ///
    /// [`RecordError::BadLabel`], [`RecordError::UnknownBox`],
    /// [`RecordError::NotReplayable`], and as [`replay_into`](Runtime::replay_into).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, record::{Pace, RecordError}};
    /// let rt = axon::Runtime::new();
    /// let _b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// let err = rt.replay_named("x.axrec", "b#1.inbox", Pace::Max).unwrap_err();
    /// assert!(matches!(err, RecordError::NotReplayable { .. }));
    /// # }
    /// ```
    pub fn replay_named(
        &self,
        path: impl AsRef<Path>,
        to: &str,
        pace: Pace,
    ) -> Result<Handle, RecordError> {
        let id = self.parse_label(to)?;
        let (type_id, type_name) = {
            let st = self.lock();
            let b = st.get_box(id).ok_or_else(|| RecordError::UnknownBox {
                label: to.to_string(),
                reason: "it has just gone".into(),
            })?;
            (b.node.msg_type(), b.node.type_name())
        };
        let recordable = self.recorder().lock().recordable(type_id).ok_or_else(|| {
            RecordError::NotReplayable {
                to: to.to_string(),
                type_name,
            }
        })?;
        recordable.replay(self, path.as_ref(), id, pace)
    }
}

/// Add `replay`, link it into `to` (and its `signal` into `to`'s component's
/// `control`), start it.
pub(crate) fn start_into<T: Send + 'static>(
    rt: &Runtime,
    replay: Replay<T>,
    to: BoxId,
) -> Result<Handle, RecordError> {
    let p = rt.add(replay)?;
    rt.link_ids(p.outbox().id(), to, Policy::Block)?;
    if let Ok(control) = rt.box_id(to.component(), "control") {
        rt.link_ids(p.signal().id(), control, Policy::Block)?;
    }
    Ok(p.start())
}
