//! Recording links: [`Runtime::record`], [`Runtime::record_link`] (by name),
//! [`Runtime::stop_recording`], [`Runtime::recordings`], and putting a tap into a link.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::format::{FORMAT_VERSION, Header};
use super::recordable::TapEntry;
use super::session::Session;
use super::tap::{Tap, TapShared};
use super::{RecordError, RecordingInfo, RecordingSummary};
use crate::boxes::{BoxId, BoxRef, ComponentId, NodeKind, Policy};
use crate::graph::GraphState;
use crate::introspect::GraphEvent;
use crate::runtime::Runtime;

impl Runtime {
    /// Make links carrying `T` recordable, and recordings of `T` replayable, by box
    /// name ([`record_link`](Runtime::record_link),
    /// [`replay_named`](Runtime::replay_named)): what a dashboard, which knows only
    /// names, needs. Typed code can use [`record`](Runtime::record) without this.
    /// Components can opt in while they declare their boxes
    /// ([`Setup::make_recordable`](crate::Setup::make_recordable)).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = axon::Runtime::new();
    /// rt.make_recordable::<String>();
    /// ```
    pub fn make_recordable<T: Serialize + DeserializeOwned + Send + 'static>(&self) {
        self.recorder().add_type::<T>();
    }

    /// Record the link `from -> to` into the file `path` (created or truncated): a tap
    /// is put into the link, which forwards every message to `to` unchanged and in
    /// order and writes it, stamped, to the file. See the [module](crate::record) for
    /// the guarantees and what happens when the disk is slow.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotLinked`] if `from` does not link to `to`;
    /// [`RecordError::AlreadyRecording`]; [`RecordError::Io`] if the file cannot be
    /// created. Nothing changes in the graph on an error.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |mut c: Context<(), u32>| async move { c.send(7).await?; Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |mut c: Context<u32, ()>| async move { while c.recv().await.is_some() {} Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// rt.link(a.signal(), b.control()).unwrap();
    /// let path = std::env::temp_dir().join(format!("axon-doc-rec-{}.axrec", std::process::id()));
    /// rt.record(a.outbox(), b.inbox(), &path).unwrap();
    /// let (a, b) = (a.start(), b.start());
    /// a.join().await;
    /// b.join().await;
    /// let from = rt.recordings()[0].from.clone();
    /// let summary = rt.stop_recording(&from, "b#2.inbox").await.unwrap();
    /// assert_eq!((summary.written, summary.dropped), (1, 0));
    /// assert_eq!(axon::record::read::<u32>(&path).unwrap().messages[0].1, 7);
    /// # std::fs::remove_file(&path).unwrap();
    /// # }
    /// ```
    pub fn record<T: Serialize + Send + 'static>(
        &self,
        from: BoxRef<T>,
        to: BoxRef<T>,
        path: impl AsRef<Path>,
    ) -> Result<(), RecordError> {
        self.start_recording(from.id(), to.id(), path.as_ref(), |rt, shared| {
            install_tap::<T>(rt, from.id(), to.id(), shared)
        })
    }

    /// [`record`](Runtime::record) by box names as the snapshot shows them
    /// (`name#id.box`), for a link whose type was made recordable
    /// ([`make_recordable`](Runtime::make_recordable)).
    ///
    /// # Errors
    ///
    /// [`RecordError::BadLabel`], [`RecordError::UnknownBox`],
    /// [`RecordError::NotRecordable`] naming the type, and as [`record`](Runtime::record).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axon::{Context, component::from_fn, record::RecordError};
    /// let rt = axon::Runtime::new();
    /// let a = rt.add(from_fn("a", |_c: Context<(), u32>| async { Ok(()) })).unwrap();
    /// let b = rt.add(from_fn("b", |_c: Context<u32, ()>| async { Ok(()) })).unwrap();
    /// rt.link(a.outbox(), b.inbox()).unwrap();
    /// let err = rt.record_link("a#1.outbox", "b#2.inbox", "/tmp/x.axrec").unwrap_err();
    /// assert!(matches!(err, RecordError::NotRecordable { .. }));
    /// # }
    /// ```
    pub fn record_link(
        &self,
        from: &str,
        to: &str,
        path: impl AsRef<Path>,
    ) -> Result<(), RecordError> {
        let (from, to) = (self.parse_label(from)?, self.parse_label(to)?);
        self.start_recording(from, to, path.as_ref(), |rt, shared| {
            let (type_id, type_name) = {
                let st = rt.lock();
                let b = st.get_box(from).ok_or_else(|| not_linked(&st, from, to))?;
                (b.node.msg_type(), b.node.type_name())
            };
            let Some(recordable) = rt.recorder().lock().recordable(type_id) else {
                let st = rt.lock();
                return Err(RecordError::NotRecordable {
                    from: st.label(from),
                    to: st.label(to),
                    type_name,
                });
            };
            recordable.install(rt, from, to, shared)
        })
    }

    /// Stop recording the link `from -> to` (names as given to
    /// [`record_link`](Runtime::record_link), or as [`recordings`](Runtime::recordings)
    /// lists them), wait until everything handed to the writer is in the file, and
    /// sum up. The link keeps its tap, forwarding without recording, until either end
    /// goes (taking it out could reorder the messages in flight); recording the link
    /// again reuses it.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotRecording`] if no recording of that link is under way or
    /// finished unclaimed.
    ///
    /// # Examples
    ///
    /// See [`record`](Runtime::record).
    pub async fn stop_recording(
        &self,
        from: &str,
        to: &str,
    ) -> Result<RecordingSummary, RecordError> {
        let (session, shared) = {
            let mut reg = self.recorder().lock();
            let found = reg
                .taps
                .iter()
                .position(|t| t.from_label == from && t.to_label == to);
            let session = found.and_then(|i| {
                let entry = &reg.taps[i];
                let shared = entry.shared.clone();
                let mut state = entry.shared.lock();
                let session = state.session.take();
                let ended = state.ended;
                drop(state);
                if ended {
                    reg.taps.swap_remove(i);
                }
                session.map(|s| (s, shared))
            });
            session.ok_or_else(|| RecordError::NotRecording {
                from: from.to_string(),
                to: to.to_string(),
            })?
        };
        let summary = session.finish().await;
        // Kept for `recordings` (the dashboard shows a stopped recording's counts)
        // unless a new recording started meanwhile.
        let mut state = shared.lock();
        if state.session.is_none() {
            state.last = Some(summary.clone());
        }
        Ok(summary)
    }

    /// The tapped links: each one's ends, its tap, and its recording's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(axon::Runtime::new().recordings().is_empty());
    /// ```
    pub fn recordings(&self) -> Vec<RecordingInfo> {
        let reg = self.recorder().lock();
        reg.taps
            .iter()
            .map(|t| {
                let state = t.shared.lock();
                let summary = match state.session.as_ref() {
                    Some(s) => Some((s.is_open(), s.summary())),
                    None => state.last.clone().map(|s| (false, s)),
                };
                RecordingInfo {
                    from: t.from_label.clone(),
                    to: t.to_label.clone(),
                    tap: t.tap,
                    recording: summary.as_ref().is_some_and(|(open, _)| *open),
                    path: summary.as_ref().map(|(_, s)| s.path.clone()),
                    written: summary.as_ref().map_or(0, |(_, s)| s.written),
                    dropped: summary.as_ref().map_or(0, |(_, s)| s.dropped),
                    error: summary.and_then(|(_, s)| s.error),
                }
            })
            .collect()
    }

    /// Start a recording of `from -> to`: on the link's tap if it has one, else on a
    /// tap made by `install`.
    fn start_recording(
        &self,
        from: BoxId,
        to: BoxId,
        path: &Path,
        install: impl FnOnce(&Runtime, Arc<TapShared>) -> Result<ComponentId, RecordError>,
    ) -> Result<(), RecordError> {
        let existing = {
            let mut reg = self.recorder().lock();
            // Taps that ended and whose last recording was claimed are forgotten.
            reg.taps.retain(|t| {
                let s = t.shared.lock();
                !(s.ended && s.session.is_none())
            });
            reg.taps
                .iter()
                .find(|t| t.from == from && t.to == to && !t.shared.lock().ended)
                .map(|t| (t.shared.clone(), t.from_label.clone(), t.to_label.clone()))
        };
        let (from_label, to_label) = match &existing {
            Some((_, f, t)) => (f.clone(), t.clone()),
            None => {
                let st = self.lock();
                let linked = st
                    .get_box(from)
                    .and_then(|b| b.link())
                    .is_some_and(|l| l.to == to);
                if !linked {
                    return Err(not_linked(&st, from, to));
                }
                (st.label(from), st.label(to))
            }
        };
        let type_name = self
            .lock()
            .get_box(from)
            .map_or("?", |b| b.node.type_name());
        let header = Header {
            axon_recording: FORMAT_VERSION,
            from: from_label.clone(),
            to: to_label.clone(),
            type_name: type_name.to_string(),
            started_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        };
        if let Some((shared, _, _)) = existing {
            let mut state = shared.lock();
            if let Some(s) = state.session.as_ref().filter(|s| s.is_open()) {
                return Err(RecordError::AlreadyRecording {
                    from: from_label,
                    to: to_label,
                    path: s.summary().path.display().to_string(),
                });
            }
            state.session = Some(Session::create(path, &header)?);
            return Ok(());
        }
        let shared = Arc::new(TapShared::default());
        shared.lock().session = Some(Session::create(path, &header)?);
        match install(self, shared.clone()) {
            Ok(tap) => {
                self.recorder().lock().taps.push(TapEntry {
                    from,
                    to,
                    from_label,
                    to_label,
                    tap,
                    shared,
                });
                Ok(())
            }
            Err(e) => {
                // Refused: leave no file behind either.
                drop(shared.lock().session.take());
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// The box a `name#id.box` label names.
    pub(crate) fn parse_label(&self, label: &str) -> Result<BoxId, RecordError> {
        let bad = || RecordError::BadLabel {
            label: label.to_string(),
        };
        let (name, rest) = label.rsplit_once('#').ok_or_else(bad)?;
        let (id, box_name) = rest.split_once('.').ok_or_else(bad)?;
        let id = ComponentId(id.parse().map_err(|_| bad())?);
        let unknown = |reason: String| RecordError::UnknownBox {
            label: label.to_string(),
            reason,
        };
        let st = self.lock();
        let entry = st
            .entry(id)
            .map_err(|_| unknown(format!("no component #{id} (it may have ended)")))?;
        if entry.name() != name {
            return Err(unknown(format!("component #{id} is `{}`", entry.name())));
        }
        st.box_id(id, box_name).map_err(|e| unknown(e.to_string()))
    }
}

fn not_linked(st: &GraphState, from: BoxId, to: BoxId) -> RecordError {
    RecordError::NotLinked {
        from: st.label(from),
        to: st.label(to),
    }
}

/// A lifecycle link to carry through the tap: the source component's `signal` to
/// the destination component's `control`, and its policy.
type Lifecycle = (BoxId, BoxId, Policy);

/// Put a new tap of `T` into the link `from -> to`, all links changed under one lock:
/// the tap's outbox to `to` (with the link's policy), and, when the source's
/// lifecycle went to the destination, the source's `signal` through the tap first (so
/// `ProducerFinished` follows the last message instead of overtaking it), then `from`
/// to the tap.
pub(crate) fn install_tap<T: Serialize + Send + 'static>(
    rt: &Runtime,
    from: BoxId,
    to: BoxId,
    shared: Arc<TapShared>,
) -> Result<ComponentId, RecordError> {
    let tap = rt.add(Tap::<T>::new(shared))?;
    let boxes = TapBoxes {
        inbox: tap.inbox().id(),
        control: tap.control().id(),
        outbox: tap.outbox().id(),
        signal: tap.signal().id(),
    };
    let changes = {
        let mut st = rt.lock();
        let lifecycle = wire(&mut st, from, to, &boxes)?;
        rt.watched().then(|| {
            let mut changes = vec![
                (st.label(from), st.label(to), None),
                (st.label(boxes.outbox), st.label(to), Some(Policy::Block)),
                (st.label(from), st.label(boxes.inbox), Some(Policy::Block)),
            ];
            if let Some((signal, control, _)) = lifecycle {
                changes.push((st.label(signal), st.label(control), None));
                changes.push((
                    st.label(boxes.signal),
                    st.label(control),
                    Some(Policy::Block),
                ));
                changes.push((
                    st.label(signal),
                    st.label(boxes.control),
                    Some(Policy::Block),
                ));
            }
            changes
        })
    };
    for (from, to, linked) in changes.into_iter().flatten() {
        rt.emit(|| match linked {
            Some(policy) => GraphEvent::Linked { from, to, policy },
            None => GraphEvent::Unlinked { from, to },
        });
    }
    Ok(tap.start().id())
}

struct TapBoxes {
    inbox: BoxId,
    control: BoxId,
    outbox: BoxId,
    signal: BoxId,
}

fn wire(
    st: &mut GraphState,
    from: BoxId,
    to: BoxId,
    tap: &TapBoxes,
) -> Result<Option<Lifecycle>, RecordError> {
    let policy = st
        .get_box(from)
        .and_then(|b| b.link())
        .filter(|l| l.to == to)
        .map(|l| l.policy)
        .ok_or_else(|| not_linked(st, from, to))?;
    let lifecycle = lifecycle_of(st, from, to);
    st.link(tap.outbox, to, policy, false)?;
    if let Some((signal, control, p)) = lifecycle {
        st.link(tap.signal, control, p, false)?;
        st.link(signal, tap.control, Policy::Block, true)?;
    }
    if let Err(e) = st.link(from, tap.inbox, Policy::Block, true) {
        if let Some((signal, control, p)) = lifecycle {
            let _ = st.link(signal, control, p, true);
        }
        return Err(e.into());
    }
    Ok(lifecycle)
}

fn lifecycle_of(st: &GraphState, from: BoxId, to: BoxId) -> Option<Lifecycle> {
    if st.get_box(from)?.node.kind() != NodeKind::Outbox {
        return None;
    }
    let signal = st.box_id(from.component, "signal").ok()?;
    let control = st.box_id(to.component, "control").ok()?;
    let link = st.get_box(signal)?.link()?;
    (link.to == control).then_some((signal, control, link.policy))
}
