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

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use axon::{
    BoxError, BoxRef, Component, Context, Control, Exit, Handle, LinkError, Runtime, Setup,
};
use serde::{Deserialize, Serialize};

use super::pipeline::{PipelineStats, ShowerEvents};
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
/// own records at the end of a run) into `to`, with the lifecycle into `control`.
pub(super) fn uplink(
    rt: &Runtime,
    origin: TimeOrigin,
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
    let tp = rt.add(
        Transform::new(move |pulse: ShowerPulse| StationMessage::Pulse {
            origin_ns: origin.get().unwrap_or(0),
            pulse,
        })
        .named("StationPulses"),
    )?;
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

/// One station's message, or its end (`None`), tagged with the station's index.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The station's index in the central's list.
    pub station: u32,
    /// The message; `None` once the station has finished.
    pub message: Option<StationMessage>,
}

/// Tags one station's messages with its index and says when it has finished.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`StationMessage`] | the station's stream (from a remote link) |
/// | `outbox` | [`Tagged`] | the same, tagged, then its end |
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
                message: Some(m),
            })
            .await?;
        }
        ctx.send(Tagged {
            station: self.station,
            message: None,
        })
        .await?;
        Ok(())
    }
}

/// Merges the stations' streams: pulses back in one UTC order (a [`NodeMerge`] by
/// station), pulse ids renumbered so that stations do not collide, times re-based on the
/// central's origin; records on `records`. Ends once every station has.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`Tagged`] | every station's tagger |
/// | `outbox` | [`ShowerPulse`] | pulses for the shower filter, in UTC order |
/// | `records` | [`Record`] | pulses, fits and node levels to store |
#[derive(Debug)]
pub struct StationMerge {
    stations: u32,
    base: u64,
    origin: TimeOrigin,
}

impl StationMerge {
    /// The merge of `stations` streams, numbering pulses from `base`, on `origin`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::split::StationMerge;
    /// use components::physics::event_mapper::TimeOrigin;
    /// let merge = StationMerge::new(2, 1, TimeOrigin::default());
    /// // Station 1's third pulse: 1 + 2·2 + 1.
    /// assert_eq!(merge.pulse_id(1, 3), 6);
    /// ```
    pub fn new(stations: u32, base: u64, origin: TimeOrigin) -> Self {
        Self {
            stations: stations.max(1),
            base,
            origin,
        }
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
            let Some(Tagged { station, message }) = ctx.recv().await else {
                break;
            };
            match message {
                None => {
                    tracing::info!("station {station} finished");
                    merge.silence(station);
                    ended.insert(station);
                }
                Some(StationMessage::Record(r)) => records.send(self.record(station, *r)?).await?,
                Some(StationMessage::Pulse {
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
        let n = u32::try_from(config.stations.len()).unwrap_or(u32::MAX);
        let merge = rt.add(StationMerge::new(n, first_pulse, origin.clone()))?;
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
