//! The joints between the time chain and the physics components in the station's
//! graph. Needs the `store` feature.
//!
//! ```text
//! PulseClock ─TimedPulse─► PulseIntake ─PulseToFit─► PulseFitter ─FittedPulse─► FitJoiner ─ShowerPulse─► ShowerFilter
//!                            │ pending ─────────────────────────────────────────────▲   │ records
//!                            │ records                                                   ▼
//!                            ▼                                                     StoreWriter ◄─ records ─ ShowerEvents ◄─ShowerCandidate─┘
//!                      StoreWriter                                                     ▲                         │ ArrivalTimes
//!                                                                                      │                         ▼
//!                                                     Transform(Record::Event) ◄─ EventMapper ◄─FoundDirection─ AngleFinder
//! ```
//!
//! [`PulseFitterComponent`](crate::physics::components::PulseFitterComponent),
//! [`ShowerFilterComponent`](crate::physics::components::ShowerFilterComponent),
//! [`AngleFinderComponent`](crate::physics::components::AngleFinderComponent) and
//! [`EventMapperComponent`](crate::physics::event_mapper::EventMapperComponent) are
//! the same components the `cosmici` tool runs; the three here only translate
//! between the node's view of a pulse (node, channel, UTC) and the physics' view
//! (pulse id, detector, ns after a [`TimeOrigin`]), and hand what is to be stored to
//! the [`StoreWriter`](crate::store::StoreWriter) on their `records` outbox. That
//! outbox must be linked: a joint whose records have nowhere to go ends with an error
//! rather than drop them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axon::{BoxError, Component, Context, LinkError, Setup};

use super::progress::ChainProgress;
use super::reconstruct::{DetectorMap, crossings_of};
use super::timing::TimedPulse;
use crate::physics::components::{ArrivalTimes, FittedPulse, PulseToFit};
use crate::physics::event_mapper::TimeOrigin;
use crate::physics::fit::Crossings;
use crate::physics::shower::{ShowerCandidate, ShowerPulse};
use crate::store::{NodeLevels, PulseOrigin, Record, StoredPulse, StoredShower};

/// Counters of the reconstruction, shared by the pipeline's joints.
///
/// # Examples
///
/// ```
/// use components::cosmici::pipeline::PipelineStats;
/// let stats = PipelineStats::default();
/// assert_eq!((stats.pulses(), stats.fit_failures(), stats.showers()), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Default)]
pub struct PipelineStats {
    inner: Arc<[AtomicU64; 4]>,
}

impl PipelineStats {
    /// Pulses taken in for fitting.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::pipeline::PipelineStats::default().pulses(), 0);
    /// ```
    pub fn pulses(&self) -> u64 {
        self.inner[0].load(Ordering::Relaxed)
    }

    /// Pulses without a fit (unknown levels, inconsistent crossings).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::pipeline::PipelineStats::default().fit_failures(), 0);
    /// ```
    pub fn fit_failures(&self) -> u64 {
        self.inner[1].load(Ordering::Relaxed)
    }

    /// Shower candidates found.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::pipeline::PipelineStats::default().showers(), 0);
    /// ```
    pub fn showers(&self) -> u64 {
        self.inner[2].load(Ordering::Relaxed)
    }

    /// Pulses of channels that map to no detector (stored, not used for showers).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(components::cosmici::pipeline::PipelineStats::default().unmapped(), 0);
    /// ```
    pub fn unmapped(&self) -> u64 {
        self.inner[3].load(Ordering::Relaxed)
    }

    fn add(&self, i: usize) {
        self.inner[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// What the [`FitJoiner`] needs of a pulse besides its fit.
///
/// # Examples
///
/// ```
/// use components::cosmici::pipeline::PendingPulse;
/// let p = PendingPulse { id: 1, utc_ns: 0, detector: Some(2), lowest_level: 0.2 };
/// assert_eq!(p.detector, Some(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PendingPulse {
    /// The pulse id (the [`PulseToFit::id`]).
    pub id: u64,
    /// UTC of the first rising edge, ns.
    pub utc_ns: i64,
    /// The detector, if the node's channel maps to one.
    pub detector: Option<usize>,
    /// The lowest threshold, V: the amplitude used when the fit fails.
    pub lowest_level: f64,
}

/// Numbers timed pulses and turns them into the fitter's input.
///
/// # What it does
///
/// For every [`TimedPulse`]: gives it the next id, stores it with its origin
/// ([`Record::NodePulse`]) and, the first time a node's levels are seen or when they
/// change, the node's levels ([`Record::Node`]); tells the [`FitJoiner`] its UTC and
/// detector (`pending`); and sends its crossings to the fitter. A pulse whose levels
/// are unknown goes to the fitter with no crossings, so that its refusal is stored
/// like any other.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`TimedPulse`] | pulses with UTC from the time chain |
/// | `outbox` | [`PulseToFit`] | crossings to fit, by pulse id |
/// | `pending` | [`PendingPulse`] | UTC and detector of each pulse, for the joiner |
/// | `records` | [`Record`] | pulses and node levels to store |
/// | `control` / `signal` | [`Control`](axon::Control) | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::cosmici::pipeline::{PendingPulse, PipelineStats, PulseIntake};
/// use components::cosmici::reconstruct::DetectorMap;
/// use components::cosmici::timing::TimedPulse;
/// use components::cosmici::UtcNanos;
/// use components::store::Record;
///
/// let mut h = Harness::new(PulseIntake::new(100, DetectorMap::default(), PipelineStats::default()));
/// let mut pending = h.outbox_receiver::<PendingPulse>("pending")?;
/// let mut records = h.outbox_receiver::<Record>("records")?;
/// h.send(TimedPulse {
///     node: 1,
///     pulse: "CON_PULSE,1,0,2,1,500,2,(0,(2,2),5)".parse()?,
///     utc: UtcNanos(1_700_000_000_000_000_000),
///     levels: vec![0.2, 0.299, 0.447],
///     clock_period_ns: 2.0,
/// }).await;
/// let to_fit = h.recv().await.expect("crossings to fit");
/// assert_eq!((to_fit.id, to_fit.crossings.levels.len()), (100, 2));
/// assert_eq!(pending.recv().await.map(|p| p.detector), Some(Some(1)));
/// assert!(matches!(records.recv().await, Some(Record::Node(n)) if n.node == 1));
/// assert!(matches!(records.recv().await, Some(Record::NodePulse(p, o)) if p.id == 100 && o.channel == 2));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PulseIntake {
    next_id: u64,
    map: DetectorMap,
    stats: PipelineStats,
}

impl PulseIntake {
    /// An intake numbering pulses from `first_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::pipeline::{PipelineStats, PulseIntake};
    /// let intake = PulseIntake::new(1, Default::default(), PipelineStats::default());
    /// # let _ = intake;
    /// ```
    pub fn new(first_id: u64, map: DetectorMap, stats: PipelineStats) -> Self {
        PulseIntake {
            next_id: first_id,
            map,
            stats,
        }
    }
}

impl Component for PulseIntake {
    type In = TimedPulse;
    type Out = PulseToFit;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("PulseIntake")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "pulses with UTC from the time chain")?;
        s.describe("outbox", "crossings to fit, by pulse id")?;
        s.outbox::<PendingPulse>("pending", "UTC and detector of each pulse, for the joiner")?;
        s.outbox::<Record>("records", "pulses and node levels to store")?;
        Ok(())
    }

    async fn run(mut self, mut ctx: Context<TimedPulse, PulseToFit>) -> Result<(), BoxError> {
        let mut pending = ctx.outbox_named::<PendingPulse>("pending")?;
        let mut records = ctx.outbox_named::<Record>("records")?;
        let mut ladders: HashMap<u32, (Vec<f64>, f64)> = HashMap::new();
        while let Some(timed) = ctx.recv().await {
            let id = self.next_id;
            self.next_id += 1;
            self.stats.add(0);
            let known = ladders.get(&timed.node);
            if known != Some(&(timed.levels.clone(), timed.clock_period_ns)) {
                ladders.insert(timed.node, (timed.levels.clone(), timed.clock_period_ns));
                records
                    .send(Record::Node(NodeLevels {
                        node: timed.node,
                        levels: timed.levels.clone(),
                        clock_period_ns: timed.clock_period_ns,
                    }))
                    .await?;
            }
            let detector = self.map.detector(timed.node, timed.pulse.ch);
            if detector.is_none() {
                self.stats.add(3);
            }
            let crossings = crossings_of(&timed).unwrap_or_else(|e| {
                tracing::debug!("pulse {id}: {e}");
                Crossings::default()
            });
            let origin = PulseOrigin {
                node: timed.node,
                channel: timed.pulse.ch,
                pulse_num: timed.pulse.pulse_num,
                utc_ns: timed.utc.0,
            };
            let stored = StoredPulse {
                id,
                detector: detector.and_then(|d| u32::try_from(d).ok()),
                crossings: crossings.clone(),
            };
            records.send(Record::NodePulse(stored, origin)).await?;
            pending
                .send(PendingPulse {
                    id,
                    utc_ns: timed.utc.0,
                    detector,
                    lowest_level: timed.levels.first().copied().unwrap_or(0.0),
                })
                .await?;
            ctx.send(PulseToFit { id, crossings }).await?;
        }
        Ok(())
    }
}

/// Joins each fit with its pulse's UTC and detector and hands the pulse to the
/// shower filter.
///
/// # What it does
///
/// For every [`FittedPulse`] it takes the [`PendingPulse`] of the same id (the
/// fitter keeps order, so it is the next one), stores the fit ([`Record::Fit`]), and,
/// if the pulse has a detector, sends a [`ShowerPulse`] at its fitted onset (the first
/// rise when the fit failed) in ns after the [`TimeOrigin`], which the first pulse
/// fixes at its UTC second.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`FittedPulse`] | fits from the pulse fitter |
/// | `pending` (in) | [`PendingPulse`] | UTC and detector of each pulse, from the intake |
/// | `outbox` | [`ShowerPulse`] | detector pulses for the shower filter |
/// | `records` | [`Record`] | fits to store |
/// | `control` / `signal` | [`Control`](axon::Control) | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::cosmici::pipeline::{FitJoiner, PendingPulse, PipelineStats};
/// use components::physics::components::FittedPulse;
/// use components::physics::error::CrossingsError;
/// use components::physics::event_mapper::TimeOrigin;
/// use components::store::Record;
///
/// let origin = TimeOrigin::default();
/// let mut h = Harness::new(FitJoiner::new(origin.clone(), PipelineStats::default()));
/// let mut pending = h.inbox_sender::<PendingPulse>("pending")?;
/// let mut records = h.outbox_receiver::<Record>("records")?;
/// pending.send(PendingPulse { id: 1, utc_ns: 1_700_000_000_000_000_250, detector: Some(0), lowest_level: 0.2 }).await?;
/// h.send(FittedPulse { id: 1, result: Err(CrossingsError::Empty) }).await;
/// let p = h.recv().await.expect("a shower pulse");
/// // No fit: the first rise, 250 ns after the origin (the pulse's UTC second).
/// assert_eq!((p.detector, p.time, p.fit_ref), (0, 250.0, Some(1)));
/// assert!(matches!(records.recv().await, Some(Record::Fit(f)) if f.id == 1));
/// assert_eq!(origin.get(), Some(1_700_000_000_000_000_000));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FitJoiner {
    origin: TimeOrigin,
    stats: PipelineStats,
    progress: Option<ChainProgress>,
}

impl FitJoiner {
    /// A joiner counting times from `origin` (which it sets if no one has).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::pipeline::{FitJoiner, PipelineStats};
    /// let j = FitJoiner::new(Default::default(), PipelineStats::default());
    /// # let _ = j;
    /// ```
    pub fn new(origin: TimeOrigin, stats: PipelineStats) -> Self {
        FitJoiner {
            origin,
            stats,
            progress: None,
        }
    }

    /// Counts every pulse it has passed on in `progress` (for a station's progress
    /// watermark, [`ChainProgress`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::pipeline::{FitJoiner, PipelineStats};
    /// use components::cosmici::progress::ChainProgress;
    /// let j = FitJoiner::new(Default::default(), PipelineStats::default()).progress(ChainProgress::default());
    /// # let _ = j;
    /// ```
    pub fn progress(mut self, progress: ChainProgress) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// Why the joiner stopped: a fit arrived for a pulse the intake never announced.
#[derive(Debug, thiserror::Error)]
#[error("fit of pulse {0} has no pending pulse (the intake's `pending` link is missing or ended)")]
struct UnannouncedFit(u64);

impl Component for FitJoiner {
    type In = FittedPulse;
    type Out = ShowerPulse;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("FitJoiner")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "fits from the pulse fitter")?;
        s.describe("outbox", "detector pulses for the shower filter")?;
        s.inbox::<PendingPulse>("pending", "UTC and detector of each pulse, from the intake")?;
        s.outbox::<Record>("records", "fits to store")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<FittedPulse, ShowerPulse>) -> Result<(), BoxError> {
        let mut pending = ctx.take_inbox::<PendingPulse>("pending")?;
        let mut records = ctx.outbox_named::<Record>("records")?;
        while let Some(fitted) = ctx.recv().await {
            let pulse = loop {
                match pending.recv().await {
                    Some(p) if p.id == fitted.id => break p,
                    Some(p) if p.id < fitted.id => continue,
                    _ => return Err(UnannouncedFit(fitted.id).into()),
                }
            };
            let (onset, amplitude) = match &fitted.result {
                Ok(fit) => (fit.onset.value, fit.peak_height.value),
                Err(_) => {
                    self.stats.add(1);
                    (0.0, pulse.lowest_level)
                }
            };
            let id = fitted.id;
            records.send(Record::Fit(fitted)).await?;
            if let Some(detector) = pulse.detector {
                let origin = self
                    .origin
                    .get_or_set(pulse.utc_ns.div_euclid(1_000_000_000) * 1_000_000_000);
                let time = (pulse.utc_ns - origin) as f64 + onset;
                ctx.send(ShowerPulse {
                    detector,
                    time,
                    amplitude,
                    fit_ref: Some(id),
                })
                .await?;
            }
            if let Some(p) = &self.progress {
                p.pulse_joined();
            }
        }
        Ok(())
    }
}

/// Numbers shower candidates, stores their hits and sends their arrival times to the
/// angle finder.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`ShowerCandidate`] | candidates from the shower filter |
/// | `outbox` | [`ArrivalTimes`] | each candidate's hits, by shower id |
/// | `records` | [`Record`] | showers with their hits (pulse ids, amplitudes) to store |
/// | `control` / `signal` | [`Control`](axon::Control) | lifecycle |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::cosmici::pipeline::{PipelineStats, ShowerEvents};
/// use components::physics::shower::{ShowerCandidate, ShowerPulse};
/// use components::store::Record;
///
/// let mut h = Harness::new(ShowerEvents::new(7, PipelineStats::default()));
/// let mut records = h.outbox_receiver::<Record>("records")?;
/// let p = |detector, time| ShowerPulse { detector, time, amplitude: 0.3, fit_ref: Some(detector as u64) };
/// h.send(ShowerCandidate { pulses: vec![p(0, 10.0), p(1, 12.0), p(2, 15.0)] }).await;
/// assert_eq!(h.recv().await.map(|a| (a.event, a.hits.len())), Some((7, 3)));
/// assert!(matches!(records.recv().await, Some(Record::Shower(s)) if s.id == 7 && s.hits[2].pulse_id == Some(2)));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ShowerEvents {
    next_id: u64,
    stats: PipelineStats,
}

impl ShowerEvents {
    /// Numbering showers from `first_id`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::pipeline::{PipelineStats, ShowerEvents};
    /// let s = ShowerEvents::new(1, PipelineStats::default());
    /// # let _ = s;
    /// ```
    pub fn new(first_id: u64, stats: PipelineStats) -> Self {
        ShowerEvents {
            next_id: first_id,
            stats,
        }
    }
}

impl Component for ShowerEvents {
    type In = ShowerCandidate;
    type Out = ArrivalTimes;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ShowerEvents")
    }

    fn setup(&mut self, s: &mut Setup<'_>) -> Result<(), LinkError> {
        s.describe("inbox", "candidates from the shower filter")?;
        s.describe("outbox", "each candidate's arrival times, by shower id")?;
        s.outbox::<Record>("records", "showers with their hits to store")?;
        Ok(())
    }

    async fn run(
        mut self,
        mut ctx: Context<ShowerCandidate, ArrivalTimes>,
    ) -> Result<(), BoxError> {
        let mut records = ctx.outbox_named::<Record>("records")?;
        while let Some(candidate) = ctx.recv().await {
            let id = self.next_id;
            self.next_id += 1;
            self.stats.add(2);
            records
                .send(Record::Shower(StoredShower::from_candidate(id, &candidate)))
                .await?;
            ctx.send(ArrivalTimes::from_candidate(id, &candidate))
                .await?;
        }
        Ok(())
    }
}
