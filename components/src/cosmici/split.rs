//! The COSMICi server split across hosts: stations next to the detectors, one central.
//! Needs the `store` feature.
//!
//! ```text
//!  station (one per site): MAIN, bridges, UART parsing, time chain, PulseIntake, PulseFitter, FitJoiner
//!      FitJoiner ─records─► StationRecords ─┐
//!      FitJoiner ─outbox──► StationPulses ──┴─► StationMessage ─► (remote link) ─┐
//!                                                                                 ▼
//!  central: per station a StationTag ─► StationMerge ─► ShowerFilter ─► ShowerEvents ─► AngleFinder ─► EventMapper ─► StoreWriter
//!                                            └─ records ───────────────────────────────────────────────────────────────────►┘
//! ```
//!
//! A station is a [`Station`](super::station::Station) started with
//! [`Station::start_uplink`](super::station::Station::start_uplink): its fitted pulses
//! and its records (pulses, fits, node levels) leave as one stream of
//! [`StationMessage`]s, serde-encoded, records before the pulses that refer to them.
//! The central ([`Central`]) takes one such stream per station, each into its own
//! [`StationTag`]; the [`StationMerge`] puts the stations' pulses back in one UTC order
//! with the [`NodeMerge`] the time chain uses for FEDM nodes (a station that has ended
//! is no longer waited for), renumbers pulse ids so that stations do not collide
//! (station `i` of `n`, its pulse `k` counted from 1: `base + (k - 1)·n + i`, `base`
//! the store's next pulse id — with one station the ids are the single-process ones),
//! and re-bases pulse times on the central's time origin. Everything after is the
//! single-process chain, so a central fed by one station stores what one process would.
//!
//! # Several stations, one array
//!
//! Detector and node numbers are the array's: a station that has part of the array
//! ([`StationConfig::detectors`](super::station::StationConfig::detectors)) waits only
//! for the FEDM nodes that carry its detectors, and its pulses keep their detector
//! numbers, so the central's shower filter sees one array. The simulator and the replay
//! can play one station's part of a whole array
//! ([`DetectorSimConfig::detectors`](super::sim::DetectorSimConfig::detectors),
//! [`Recording::for_detectors`](super::sim::replay::Recording::for_detectors)).
//!
//! # Progress, and stations that go away
//!
//! The merge holds a pulse until every station still running has shown a later UTC.
//! A station whose detectors are quiet shows no pulse, so each station also sends its
//! **progress**: [`StationMessage::Progress`], "no pulse before this UTC will follow",
//! at most once a second (wall time) when it has advanced and no pulse is on its way
//! out. It is the station's time chain's frontier (its FEDM nodes report their sync
//! counter every second, pulses or not) once every pulse the chain released before it
//! has left ([`ChainProgress`]), less a microsecond (a
//! pulse's fitted onset lies a few ns before its first threshold crossing). The merge
//! advances the station to it. A station whose stream ends without its end — its
//! link was shut down because the remote endpoint failed, e.g. its peer vanished past
//! the grace period — is removed from the merge with a warning naming it and why, and
//! the other stations go on; so is a station that finishes.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use axon::{
    BoxError, BoxRef, Component, Context, Control, Exit, Handle, LinkError, Runtime, Setup,
};
use futures::FutureExt as _;
use serde::{Deserialize, Serialize};

use super::pipeline::{PipelineStats, ShowerEvents};
use super::progress::ChainProgress;
use super::time_order::NodeMerge;
use super::wire::utc::UtcNanos;
use crate::physics::components::{AngleFinderComponent, FittedPulse, ShowerFilterComponent};
use crate::physics::event_mapper::{EventMapperComponent, TimeOrigin};
use crate::physics::layout::DetectorLayout;
use crate::physics::shower::{ShowerFilterConfig, ShowerPulse};
use crate::physics::sky::{EventMapper, Site};
use crate::store::{
    Durability, NodeLevels, PulseOrigin, Record, RecordKind, Store, StoreStats, StoreWriter,
    StoredPulse,
};
use crate::transform::Transform;

/// Pulses held by the central's merge at most before the oldest is released early.
const MAX_HELD: usize = 100_000;

/// How long [`Central::run_until`] waits for the chain to drain once stopped.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How often (wall time) a station looks whether its progress can be sent.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How far a station's progress stays behind its time chain's frontier, ns: a pulse's
/// fitted onset lies before its first threshold crossing by its rise, a few ns.
pub const PROGRESS_MARGIN_NS: i64 = 1_000;

/// What a station sends its central, in order.
///
/// # Examples
///
/// ```
/// use components::cosmici::split::StationMessage;
/// use components::physics::shower::ShowerPulse;
/// let m = StationMessage::Pulse {
///     origin_ns: 1_700_000_000_000_000_000,
///     pulse: ShowerPulse { detector: 1, time: 12.5, amplitude: 0.4, fit_ref: Some(3) },
/// };
/// assert!(matches!(m, StationMessage::Pulse { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StationMessage {
    /// A fitted pulse for the shower filter; its `time` is ns since `origin_ns`
    /// (the station's time origin, UTC ns).
    Pulse {
        /// The station's time origin, UTC ns.
        origin_ns: i64,
        /// The pulse.
        pulse: ShowerPulse,
    },
    /// A record to store.
    Record(Box<StationRecord>),
    /// No pulse before `utc_ns` (UTC ns) will follow from this station.
    Progress {
        /// The station's watermark, UTC ns.
        utc_ns: i64,
    },
}

/// The records a station makes (those of [`Record`] that come before the shower filter).
///
/// # Examples
///
/// ```
/// use components::cosmici::split::StationRecord;
/// use components::store::{NodeLevels, Record};
/// let levels = NodeLevels { node: 1, levels: vec![0.1, 0.2], clock_period_ns: 20.0 };
/// let r = StationRecord::from(Record::Node(levels.clone()));
/// assert_eq!(Record::try_from(r).unwrap(), Record::Node(levels));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per record and moved boxed (StationMessage::Record)"
)]
pub enum StationRecord {
    /// See [`Record::Pulse`].
    Pulse(StoredPulse),
    /// See [`Record::NodePulse`].
    NodePulse(StoredPulse, PulseOrigin),
    /// See [`Record::Fit`].
    Fit(FittedPulse),
    /// See [`Record::Node`].
    Node(NodeLevels),
    /// A record only the central makes (a shower, an event): a bug if a station sends
    /// it; the central fails naming it.
    Unexpected(String),
}

impl From<Record> for StationRecord {
    fn from(r: Record) -> Self {
        match r {
            Record::Pulse(p) => Self::Pulse(p),
            Record::NodePulse(p, o) => Self::NodePulse(p, o),
            Record::Fit(f) => Self::Fit(f),
            Record::Node(n) => Self::Node(n),
            other => Self::Unexpected(format!("{:?}", other.key())),
        }
    }
}

impl TryFrom<StationRecord> for Record {
    type Error = String;

    fn try_from(r: StationRecord) -> Result<Self, String> {
        Ok(match r {
            StationRecord::Pulse(p) => Record::Pulse(p),
            StationRecord::NodePulse(p, o) => Record::NodePulse(p, o),
            StationRecord::Fit(f) => Record::Fit(f),
            StationRecord::Node(n) => Record::Node(n),
            StationRecord::Unexpected(what) => {
                return Err(format!("a station sent a central's record: {what}"));
            }
        })
    }
}

/// The station's end of the split: its records and its pulses become one stream of
/// [`StationMessage`]s, linked (records first, then pulses, so a pulse never precedes its
/// own records at the end of a run) into `to`, with the lifecycle into `control`; the
/// pulses' side sends the station's progress too.
#[allow(
    clippy::too_many_arguments,
    reason = "the boxes of the station that the uplink joins, each one named"
)]
pub(super) fn uplink(
    rt: &Runtime,
    origin: TimeOrigin,
    progress: ChainProgress,
    records: &[BoxRef<Record>],
    pulses: BoxRef<ShowerPulse>,
    lifecycle: BoxRef<Control>,
    to: BoxRef<StationMessage>,
    control: BoxRef<Control>,
) -> Result<Vec<(&'static str, Starter)>, LinkError> {
    let tr = rt.add(
        Transform::new(|r: Record| StationMessage::Record(Box::new(r.into())))
            .named("StationRecords"),
    )?;
    let tp = rt.add(StationPulses::new(origin, progress))?;
    for r in records {
        rt.link(*r, tr.inbox())?;
    }
    rt.link(pulses, tp.inbox())?;
    // The records end first (when the joiner has), then the pulses, then the link.
    rt.link(lifecycle, tr.control())?;
    rt.link(tr.signal(), tp.control())?;
    rt.link(tr.outbox(), to)?;
    rt.link(tp.outbox(), to)?;
    rt.link(tp.signal(), control)?;
    Ok(vec![
        ("station records", starter(tr)),
        ("station pulses", starter(tp)),
    ])
}

/// A station's fitted pulses as [`StationMessage::Pulse`]s, and its progress as
/// [`StationMessage::Progress`] (see the [module docs](self)).
///
/// Every [`PROGRESS_EVERY`] it reads the chain's [watermark](ChainProgress::watermark);
/// if it has advanced and no pulse waits in its inbox, it sends it less
/// [`PROGRESS_MARGIN_NS`]. (So it runs a timer while the station runs.)
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`ShowerPulse`] | the station's fitted pulses, from its joiner |
/// | `outbox` | [`StationMessage`] | pulses with the station's time origin, and progress |
/// | `control` / `signal` | [`Control`] | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use axon::testing::Harness;
/// use components::cosmici::UtcNanos;
/// use components::cosmici::progress::ChainProgress;
/// use components::cosmici::split::{StationMessage, StationPulses};
///
/// let progress = ChainProgress::default();
/// let mut h = Harness::new(StationPulses::new(Default::default(), progress.clone()));
/// // The time chain has released nothing, and nothing before 5 µs will leave it.
/// progress.clock_released(0, Some(UtcNanos(5_000)));
/// assert_eq!(h.recv().await, Some(StationMessage::Progress { utc_ns: 4_000 }));
/// # }
/// ```
#[derive(Debug)]
pub struct StationPulses {
    origin: TimeOrigin,
    progress: ChainProgress,
}

impl StationPulses {
    /// Pulses timed from `origin`, progress from `progress`.
    pub fn new(origin: TimeOrigin, progress: ChainProgress) -> Self {
        Self { origin, progress }
    }

    fn message(&self, pulse: ShowerPulse) -> StationMessage {
        StationMessage::Pulse {
            origin_ns: self.origin.get().unwrap_or(0),
            pulse,
        }
    }
}

impl Component for StationPulses {
    type In = ShowerPulse;
    type Out = StationMessage;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("StationPulses")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "the station's fitted pulses")?;
        s.describe(
            "outbox",
            "pulses with the station's time origin, and its progress",
        )?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<ShowerPulse, StationMessage>) -> Result<(), BoxError> {
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shown: Option<i64> = None;
        loop {
            tokio::select! {
                biased;
                pulse = ctx.recv() => {
                    let Some(pulse) = pulse else { break };
                    ctx.send(self.message(pulse)).await?;
                }
                _ = tick.tick() => {
                    let Some(w) = self.progress.watermark() else { continue };
                    let w = w.0.saturating_sub(PROGRESS_MARGIN_NS);
                    if shown.is_some_and(|s| s >= w) {
                        continue;
                    }
                    // A pulse already here was released before the watermark: it goes
                    // first, the progress at the next tick.
                    match ctx.recv().now_or_never() {
                        Some(Some(pulse)) => ctx.send(self.message(pulse)).await?,
                        Some(None) => break,
                        None => {
                            ctx.send(StationMessage::Progress { utc_ns: w }).await?;
                            shown = Some(w);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// What a [`StationTag`] passes on of one station.
#[derive(Debug, Clone, PartialEq)]
pub enum StationEvent {
    /// A message of its stream.
    Message(StationMessage),
    /// Its stream has ended with the station (`ProducerFinished` crossed the link).
    Finished,
    /// Its stream ended without the station's end: the link was shut down (the
    /// remote endpoint failed, e.g. its peer vanished).
    Lost,
}

/// One station's message, or its end, tagged with the station's index.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The station's index in the central's list.
    pub station: u32,
    /// The message, or the end.
    pub event: StationEvent,
}

/// Tags one station's messages with its index and says how its stream ended.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`StationMessage`] | the station's stream (from a remote link) |
/// | `outbox` | [`Tagged`] | the same, tagged, then its end |
/// | `control` | [`Control`] | `ProducerFinished`: the station finished; `Shutdown`: its link was lost |
#[derive(Debug)]
pub struct StationTag {
    station: u32,
}

impl StationTag {
    /// The tagger of station `station`.
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::Component;
    /// assert_eq!(components::cosmici::split::StationTag::new(0).name(), "StationTag");
    /// ```
    pub fn new(station: u32) -> Self {
        Self { station }
    }
}

impl Component for StationTag {
    type In = StationMessage;
    type Out = Tagged;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("StationTag")
    }

    async fn run(self, mut ctx: Context<StationMessage, Tagged>) -> Result<(), BoxError> {
        while let Some(m) = ctx.recv().await {
            ctx.send(Tagged {
                station: self.station,
                event: StationEvent::Message(m),
            })
            .await?;
        }
        let event = if ctx.ended_by() == Some(Control::Shutdown) {
            StationEvent::Lost
        } else {
            StationEvent::Finished
        };
        ctx.send(Tagged {
            station: self.station,
            event,
        })
        .await?;
        Ok(())
    }
}

/// Merges the stations' streams: pulses back in one UTC order (a [`NodeMerge`] by
/// station, advanced by each station's pulses and [progress](StationMessage::Progress)),
/// pulse ids renumbered so that stations do not collide, times re-based on the
/// central's origin; records on `records`. A station that ends — finished, or
/// [lost](StationEvent::Lost), with a warning naming it — is no longer waited for.
/// Ends once every station has.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`Tagged`] | every station's tagger |
/// | `outbox` | [`ShowerPulse`] | pulses for the shower filter, in UTC order |
/// | `records` | [`Record`] | pulses, fits and node levels to store |
#[derive(Debug)]
pub struct StationMerge {
    names: Vec<String>,
    stations: u32,
    base: u64,
    origin: TimeOrigin,
}

impl StationMerge {
    /// The merge of the streams of the stations `names` (numbered in that order),
    /// numbering pulses from `base`, on `origin`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::split::StationMerge;
    /// use components::physics::event_mapper::TimeOrigin;
    /// let merge = StationMerge::new(vec!["a".into(), "b".into()], 1, TimeOrigin::default());
    /// // Station 1's third pulse: 1 + 2·2 + 1.
    /// assert_eq!(merge.pulse_id(1, 3), 6);
    /// ```
    pub fn new(names: Vec<String>, base: u64, origin: TimeOrigin) -> Self {
        Self {
            stations: u32::try_from(names.len()).unwrap_or(u32::MAX).max(1),
            names,
            base,
            origin,
        }
    }

    fn name(&self, station: u32) -> String {
        usize::try_from(station)
            .ok()
            .and_then(|i| self.names.get(i))
            .cloned()
            .unwrap_or_else(|| format!("#{station}"))
    }

    /// The central's id of station `station`'s pulse `id` (counted from 1).
    pub fn pulse_id(&self, station: u32, id: u64) -> u64 {
        self.base + id.saturating_sub(1) * u64::from(self.stations) + u64::from(station)
    }

    fn record(&self, station: u32, r: StationRecord) -> Result<Record, String> {
        let pid = |id| self.pulse_id(station, id);
        Record::try_from(match r {
            StationRecord::Pulse(mut p) => {
                p.id = pid(p.id);
                StationRecord::Pulse(p)
            }
            StationRecord::NodePulse(mut p, o) => {
                p.id = pid(p.id);
                StationRecord::NodePulse(p, o)
            }
            StationRecord::Fit(mut f) => {
                f.id = pid(f.id);
                StationRecord::Fit(f)
            }
            other => other,
        })
    }
}

impl Component for StationMerge {
    type In = Tagged;
    type Out = ShowerPulse;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("StationMerge")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "every station's stream, tagged")?;
        s.describe("outbox", "pulses for the shower filter, in UTC order")?;
        s.outbox::<Record>("records", "pulses, fits and node levels to store")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<Tagged, ShowerPulse>) -> Result<(), BoxError> {
        let mut records = ctx.outbox_named::<Record>("records")?;
        let mut merge = NodeMerge::new(MAX_HELD);
        for s in 0..self.stations {
            merge.expect(s);
        }
        let mut ended = BTreeSet::new();
        while ended.len() < self.stations as usize {
            let Some(Tagged { station, event }) = ctx.recv().await else {
                break;
            };
            match event {
                StationEvent::Finished => {
                    tracing::info!("station {} finished", self.name(station));
                    merge.silence(station);
                    ended.insert(station);
                }
                StationEvent::Lost => {
                    tracing::warn!(
                        "station {}: its link ended before the station did (the remote endpoint failed, e.g. its peer vanished); no longer waited for, the other stations go on",
                        self.name(station)
                    );
                    merge.silence(station);
                    ended.insert(station);
                }
                StationEvent::Message(StationMessage::Record(r)) => {
                    records.send(self.record(station, *r)?).await?;
                }
                StationEvent::Message(StationMessage::Progress { utc_ns }) => {
                    if !ended.contains(&station) {
                        merge.advance(station, UtcNanos(utc_ns));
                    }
                }
                StationEvent::Message(StationMessage::Pulse {
                    origin_ns,
                    mut pulse,
                }) => {
                    let origin = self.origin.get_or_set(origin_ns);
                    if origin_ns != origin {
                        pulse.time += (origin_ns - origin) as f64;
                    }
                    pulse.fit_ref = pulse.fit_ref.map(|id| self.pulse_id(station, id));
                    let utc = UtcNanos(origin.saturating_add(pulse.time as i64));
                    merge.push(station, utc, pulse);
                    merge.advance(station, utc);
                }
            }
            while let Some(p) = merge.pop_ready() {
                ctx.send(p).await?;
            }
        }
        while let Some(p) = merge.pop_any() {
            ctx.send(p).await?;
        }
        Ok(())
    }
}

/// Settings of a [`Central`].
///
/// # Examples
///
/// ```
/// use components::cosmici::split::CentralConfig;
/// use components::physics::layout::DetectorLayout;
/// let c = CentralConfig::new(DetectorLayout::grid(2, 2, 10.0)?, "central.db", vec!["a".into(), "b".into()]);
/// assert_eq!(c.stations.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CentralConfig {
    /// The stations' names, in the order that numbers them.
    pub stations: Vec<String>,
    /// Detector positions (the stations' detectors, numbered as they send them).
    pub layout: DetectorLayout,
    /// Shower filter settings.
    pub shower_filter: ShowerFilterConfig,
    /// Per-detector timing error for the direction fit, ns.
    pub timing_sigma: f64,
    /// Where the detectors stand.
    pub site: Site,
    /// The SQLite file.
    pub db: PathBuf,
    /// How much a commit survives.
    pub durability: Durability,
}

impl CentralConfig {
    /// The single-process defaults (as [`StationConfig::new`](super::station::StationConfig::new)).
    pub fn new(layout: DetectorLayout, db: impl Into<PathBuf>, stations: Vec<String>) -> Self {
        let s = super::station::StationConfig::new(layout, db);
        Self {
            stations,
            layout: s.layout,
            shower_filter: s.shower_filter,
            timing_sigma: s.timing_sigma,
            site: s.site,
            db: s.db,
            durability: s.durability,
        }
    }
}

/// Starts a prepared component.
pub(super) type Starter = Box<dyn FnOnce() -> Handle + Send>;

pub(super) fn starter<C: Component>(p: axon::Prepared<C>) -> Starter {
    Box::new(move || p.start())
}

/// The central: shower finding, directions and storage for several stations; built
/// (not started) so that each station's inbox can be linked first.
pub struct Central {
    rt: Runtime,
    inboxes: Vec<BoxRef<StationMessage>>,
    pending: Vec<(String, Starter)>,
    /// Committed records.
    pub store: StoreStats,
    /// Showers found.
    pub pipeline: PipelineStats,
}

impl std::fmt::Debug for Central {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Central")
            .field("stations", &self.inboxes.len())
            .field(
                "parts",
                &self.pending.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A started [`Central`].
#[derive(Debug)]
pub struct RunningCentral {
    rt: Runtime,
    tags: Vec<Handle>,
    parts: Vec<(String, Handle)>,
}

impl Central {
    /// Builds the central's graph in `rt`.
    ///
    /// # Errors
    ///
    /// [`StationError`](super::station::StationError) if the database cannot be opened,
    /// a setting is invalid or (a bug) the graph cannot be wired.
    pub fn build(
        rt: &Runtime,
        config: CentralConfig,
    ) -> Result<Self, super::station::StationError> {
        let mut store = Store::open(&config.db, config.durability)?;
        let first_pulse = store.next_id(RecordKind::Pulse)?;
        let first_shower = store.next_id(RecordKind::Shower)?;
        let run_id = store.begin_run("sensornet", super::lines::utc_now().0, Some(config.site))?;
        tracing::info!("run {run_id} in {}", config.db.display());
        let spill = super::station::spill_path(&config.db, run_id);
        let writer = StoreWriter::new(store).fallback(&spill, config.durability);
        let pipeline = PipelineStats::default();
        let store_stats = writer.stats();
        let origin = TimeOrigin::default();
        let merge = rt.add(StationMerge::new(
            config.stations.clone(),
            first_pulse,
            origin.clone(),
        ))?;
        let mut pending = Vec::new();
        let mut inboxes = Vec::new();
        for (i, name) in config.stations.iter().enumerate() {
            let tag = rt.add(StationTag::new(u32::try_from(i).unwrap_or(u32::MAX)))?;
            rt.link(tag.outbox(), merge.inbox())?;
            inboxes.push(tag.inbox());
            pending.push((format!("station {name}"), starter(tag)));
        }
        let filter = rt.add(ShowerFilterComponent::new(
            config.layout.clone(),
            config.shower_filter,
        )?)?;
        let events = rt.add(ShowerEvents::new(first_shower, pipeline.clone()))?;
        let finder = rt.add(AngleFinderComponent::new(
            config.layout.clone(),
            config.timing_sigma,
        )?)?;
        let mapper = rt.add(EventMapperComponent::new(
            EventMapper::new(config.site),
            origin,
        ))?;
        let to_record =
            rt.add(Transform::new(super::station::event_record).named("EventRecord"))?;
        let store = rt.add(writer)?;
        rt.link(merge.outbox(), filter.inbox())?;
        rt.link(merge.signal(), filter.control())?;
        rt.link(filter.outbox(), events.inbox())?;
        rt.link(filter.signal(), events.control())?;
        rt.link(events.outbox(), finder.inbox())?;
        rt.link(events.signal(), finder.control())?;
        rt.link(finder.outbox(), mapper.inbox())?;
        rt.link(finder.signal(), mapper.control())?;
        rt.link(mapper.outbox(), to_record.inbox())?;
        rt.link(mapper.signal(), to_record.control())?;
        for records in [merge.id(), events.id()] {
            rt.link(rt.box_ref::<Record>(records, "records")?, store.inbox())?;
        }
        rt.link(to_record.outbox(), store.inbox())?;
        rt.link(to_record.signal(), store.control())?;
        for (name, p) in [
            ("station merge", starter(merge)),
            ("shower filter", starter(filter)),
            ("shower events", starter(events)),
            ("angle finder", starter(finder)),
            ("event mapper", starter(mapper)),
            ("event record", starter(to_record)),
            ("store", starter(store)),
        ] {
            pending.push((name.to_owned(), p));
        }
        Ok(Self {
            rt: rt.clone(),
            inboxes,
            pending,
            store: store_stats,
            pipeline,
        })
    }

    /// The inbox of station `i` (in [`CentralConfig::stations`] order), to link its
    /// remote stream into before [`start`](Self::start).
    pub fn station_inbox(&self, i: usize) -> Option<BoxRef<StationMessage>> {
        self.inboxes.get(i).copied()
    }

    /// Starts every part.
    pub fn start(self) -> RunningCentral {
        let n = self.inboxes.len();
        let mut tags = Vec::new();
        let mut parts = Vec::new();
        for (i, (name, p)) in self.pending.into_iter().enumerate() {
            let h = p();
            if i < n {
                tags.push(h);
            } else {
                parts.push((name, h));
            }
        }
        RunningCentral {
            rt: self.rt,
            tags,
            parts,
        }
    }
}

impl RunningCentral {
    /// Runs until every station has finished and the store has committed, or until
    /// `stop`; then ends every station's stream where it is, lets the chain drain and
    /// returns each part's exit.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Vec<(String, Exit)> {
        let mut parts = self.parts;
        let Some((store_name, store)) = parts.pop() else {
            return Vec::new();
        };
        let store_exit = store.join();
        tokio::pin!(store_exit);
        tokio::pin!(stop);
        let mut exits = Vec::new();
        let exit = tokio::select! {
            exit = &mut store_exit => exit,
            () = &mut stop => {
                for tag in &self.tags {
                    let _ = self.rt.send_control(tag.id(), Control::ProducerFinished).await;
                }
                tokio::time::timeout(DRAIN_LIMIT, &mut store_exit).await.unwrap_or(Exit::Aborted)
            }
        };
        for (i, tag) in self.tags.into_iter().enumerate() {
            let e = tokio::time::timeout(DRAIN_LIMIT, tag.join())
                .await
                .unwrap_or(Exit::Aborted);
            exits.push((format!("station tag {i}"), e));
        }
        for (name, h) in parts {
            let e = tokio::time::timeout(DRAIN_LIMIT, h.join())
                .await
                .unwrap_or(Exit::Aborted);
            exits.push((name, e));
        }
        exits.push((store_name, exit));
        exits
    }
}
