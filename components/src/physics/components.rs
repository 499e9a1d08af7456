//! Axon components around the physics library, usable on their own by anyone with
//! threshold-crossing data:
//!
//! | component | inbox | outbox | runs on |
//! | --- | --- | --- | --- |
//! | [`PulseFitterComponent`] | [`PulseToFit`] | [`FittedPulse`] | a blocking thread |
//! | [`ShowerFilterComponent`] | [`ShowerPulse`] | [`ShowerCandidate`] | the runtime |
//! | [`AngleFinderComponent`] | [`ArrivalTimes`] | [`FoundDirection`] | the runtime |
//!
//! Each wraps the algorithm of the same domain name ([`PulseFitter`],
//! [`ShowerFilter`], [`AngleFinder`]) and adds nothing to its results: a message in
//! gives the same answer as calling the algorithm directly. Input the algorithm
//! refuses comes out as data with the reason (a fit result that is an error, a
//! rejected pulse), never as a silently wrong answer and never as a failed component.
//!
//! # Examples
//!
//! A shower filter feeding the angle finder:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axon::Runtime;
//! use components::physics::components::{AngleFinderComponent, ArrivalTimes, ShowerFilterComponent};
//! use components::physics::layout::DetectorLayout;
//! use components::physics::shower::{ShowerFilterConfig, ShowerPulse};
//! use components::physics::shower::ShowerCandidate;
//! use components::transform::Transform;
//!
//! let layout = DetectorLayout::grid(2, 2, 10.0)?;
//! let rt = Runtime::new();
//! let filter = rt.add(ShowerFilterComponent::new(layout.clone(), ShowerFilterConfig::default())?)?;
//! let number = rt.add(Transform::new(|c: ShowerCandidate| ArrivalTimes::from_candidate(0, &c)))?;
//! let finder = rt.add(AngleFinderComponent::new(layout, 1.0)?)?;
//! let mut ext = rt.external("main");
//! let (to, mut pulses) = ext.add_outbox::<ShowerPulse>("pulses")?;
//! let (from, mut directions) = ext.add_inbox("directions", 16)?;
//! rt.link(to, filter.inbox())?;
//! rt.link(filter.outbox(), number.inbox())?;
//! rt.link(number.outbox(), finder.inbox())?;
//! rt.link(finder.outbox(), from)?;
//! let (_f, _n, _a) = (filter.start(), number.start(), finder.start());
//! for d in 0..4 {
//!     pulses.send(ShowerPulse { detector: d, time: 500.0, amplitude: 0.4, fit_ref: None }).await?;
//! }
//! // A pulse far later decides the first window.
//! pulses.send(ShowerPulse { detector: 0, time: 90_000.0, amplitude: 0.4, fit_ref: None }).await?;
//! let found = directions.recv().await.expect("one shower");
//! assert!(found.result?.zenith.value.abs() < 1e-6, "simultaneous hits: vertical");
//! # Ok(()) }
//! ```

use std::borrow::Cow;

use axon::threaded::{BlockingContext, threaded};
use axon::{BoxError, Component, Context, Control, LinkError, Setup};
use serde::{Deserialize, Serialize};

use super::angle::{AngleFinder, ShowerDirection};
use super::error::{AngleError, ConfigError, CrossingsError, ShowerError};
use super::fit::{Crossings, PulseFit, PulseFitter, PulseFitterConfig};
use super::layout::DetectorLayout;
use super::shower::{ShowerCandidate, ShowerFilter, ShowerFilterConfig, ShowerPulse};

/// One pulse's threshold crossings, with the caller's id for it.
///
/// # Examples
///
/// ```
/// use components::physics::components::PulseToFit;
/// use components::physics::fit::{Crossings, LevelCrossing};
///
/// let p = PulseToFit {
///     id: 7,
///     crossings: Crossings {
///         levels: vec![LevelCrossing { level: 0.2, rise: 10.0, fall: 14.0 }],
///         next_level: Some(0.3),
///     },
/// };
/// assert_eq!(p.crossings.points(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PulseToFit {
    /// The caller's pulse id, copied to the result.
    pub id: u64,
    /// The crossings, lowest level first.
    pub crossings: Crossings,
}

/// The fit of one pulse, or why its crossings cannot be fitted.
///
/// # Examples
///
/// ```
/// use components::physics::components::FittedPulse;
/// use components::physics::error::CrossingsError;
///
/// let f = FittedPulse { id: 3, result: Err(CrossingsError::Empty) };
/// assert!(f.result.is_err());
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FittedPulse {
    /// The id of the [`PulseToFit`].
    pub id: u64,
    /// The fit, or the reason the crossings are inconsistent.
    pub result: Result<PulseFit, CrossingsError>,
}

/// Fits pulses from their threshold crossings, on a blocking thread.
///
/// # What it does
///
/// For every [`PulseToFit`] on `inbox` it sends one [`FittedPulse`] with the same id
/// on `outbox`, in the same order: the [`PulseFitter`] result, or the
/// [`CrossingsError`] saying why the crossings are inconsistent (a fall before its
/// rise, levels out of order, fewer points than parameters …).
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`PulseToFit`] | pulses to fit |
/// | `outbox` | [`FittedPulse`] | one result per pulse, in input order |
/// | `control` / `signal` | [`Control`] | `ProducerFinished` fits what is queued, then ends; `Shutdown` ends at once |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::physics::components::{PulseFitterComponent, PulseToFit};
/// use components::physics::fit::{Crossings, LevelCrossing, PulseFitterConfig};
///
/// let mut h = Harness::new(PulseFitterComponent::new(PulseFitterConfig::default())?);
/// let crossings = Crossings {
///     levels: vec![
///         LevelCrossing { level: 0.2, rise: 100.0, fall: 102.0 },
///         LevelCrossing { level: 0.3, rise: 100.0, fall: 102.0 },
///     ],
///     next_level: Some(0.45),
/// };
/// h.send(PulseToFit { id: 1, crossings }).await;
/// let fitted = h.recv().await.expect("one result");
/// assert_eq!(fitted.id, 1);
/// assert!(fitted.result?.peak_height.value > 0.3);
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// A fit takes tens of microseconds of pure computation, so the body runs on tokio's
/// blocking pool ([`axon::threaded`]): the runtime's workers stay free for I/O while
/// a stream of pulses is fitted. The hand-off is the component's own bounded boxes,
/// so backpressure works as everywhere else. Run several of them behind a splitter to
/// use more cores.
#[derive(Debug, Clone)]
pub struct PulseFitterComponent {
    fitter: PulseFitter,
}

impl PulseFitterComponent {
    /// A component fitting with the given settings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as [`PulseFitter::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::PulseFitterComponent;
    /// use components::physics::fit::PulseFitterConfig;
    ///
    /// let c = PulseFitterComponent::new(PulseFitterConfig::default())?;
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(config: PulseFitterConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_fitter(PulseFitter::new(config)?))
    }

    /// A component around an existing fitter.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::PulseFitterComponent;
    /// use components::physics::fit::{PulseFitter, PulseFitterConfig};
    ///
    /// let c = PulseFitterComponent::from_fitter(PulseFitter::new(PulseFitterConfig::default())?);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn from_fitter(fitter: PulseFitter) -> Self {
        PulseFitterComponent { fitter }
    }
}

impl Component for PulseFitterComponent {
    type In = PulseToFit;
    type Out = FittedPulse;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("PulseFitter")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "pulses to fit: crossings and an id")?;
        setup.describe("outbox", "one fit (or the reason there is none) per pulse")
    }

    fn run(
        self,
        ctx: Context<PulseToFit, FittedPulse>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let fitter = self.fitter;
        let body = move |mut ctx: BlockingContext<PulseToFit, FittedPulse>| {
            while let Some(pulse) = ctx.recv() {
                let result = fitter.fit(&pulse.crossings);
                ctx.send(FittedPulse {
                    id: pulse.id,
                    result,
                })?;
            }
            Ok(())
        };
        threaded("PulseFitter", body).run(ctx)
    }
}

/// A pulse the shower filter refused, with the reason.
///
/// # Examples
///
/// ```
/// use components::physics::components::RejectedPulse;
/// use components::physics::error::ShowerError;
/// use components::physics::shower::ShowerPulse;
///
/// let r = RejectedPulse {
///     pulse: ShowerPulse { detector: 9, time: 0.0, amplitude: 0.3, fit_ref: None },
///     error: ShowerError::UnknownDetector(9),
/// };
/// assert!(r.error.to_string().contains("9"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RejectedPulse {
    /// The pulse as it arrived.
    pub pulse: ShowerPulse,
    /// Why it was refused.
    pub error: ShowerError,
}

/// Groups detector pulses into shower candidates as they stream in.
///
/// # What it does
///
/// Feeds every [`ShowerPulse`] to a [`ShowerFilter`] and sends each decided
/// [`ShowerCandidate`] (pulses from at least `min_detectors` distinct detectors that
/// are causally compatible) as soon as the filter's watermark has passed its window.
/// At the end of input (`ProducerFinished`) the remaining windows are decided and
/// sent before the component ends; after `Shutdown` they are not.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`ShowerPulse`] | detector pulses, in time order up to the filter's lateness |
/// | `outbox` | [`ShowerCandidate`] | shower candidates, in time order |
/// | `rejected` | [`RejectedPulse`] | refused pulses (late, unknown detector, NaN time), when linked |
/// | `control` / `signal` | [`Control`] | `ProducerFinished` flushes, then ends; `Shutdown` ends at once |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::physics::components::ShowerFilterComponent;
/// use components::physics::layout::DetectorLayout;
/// use components::physics::shower::{ShowerFilterConfig, ShowerPulse};
///
/// let layout = DetectorLayout::grid(2, 2, 10.0)?;
/// let mut h = Harness::new(ShowerFilterComponent::new(layout, ShowerFilterConfig::default())?);
/// for (detector, time) in [(0, 1000.0), (1, 1012.0), (3, 1020.0)] {
///     h.send(ShowerPulse { detector, time, amplitude: 0.5, fit_ref: None }).await;
/// }
/// h.finish().await;
/// assert_eq!(h.recv().await.map(|c| c.detectors()), Some(3));
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// The filter costs well under a microsecond per pulse, so it runs on the runtime
/// like any light transform; the component's own cost is one message per pulse.
/// Refused pulses are counted by the filter and, when `rejected` has a destination,
/// sent there; otherwise they are only logged at debug level.
#[derive(Debug, Clone)]
pub struct ShowerFilterComponent {
    filter: ShowerFilter,
}

impl ShowerFilterComponent {
    /// A component filtering pulses of `layout`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as [`ShowerFilter::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::ShowerFilterComponent;
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::ShowerFilterConfig;
    ///
    /// let c = ShowerFilterComponent::new(DetectorLayout::grid(4, 4, 10.0)?, ShowerFilterConfig::default())?;
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(layout: DetectorLayout, config: ShowerFilterConfig) -> Result<Self, ConfigError> {
        Ok(Self::from_filter(ShowerFilter::new(layout, config)?))
    }

    /// A component around an existing filter.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::ShowerFilterComponent;
    /// use components::physics::layout::DetectorLayout;
    /// use components::physics::shower::{ShowerFilter, ShowerFilterConfig};
    ///
    /// let f = ShowerFilter::new(DetectorLayout::grid(2, 2, 10.0)?, ShowerFilterConfig::default())?;
    /// let c = ShowerFilterComponent::from_filter(f);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn from_filter(filter: ShowerFilter) -> Self {
        ShowerFilterComponent { filter }
    }
}

impl Component for ShowerFilterComponent {
    type In = ShowerPulse;
    type Out = ShowerCandidate;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ShowerFilter")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "detector pulses, time-ordered up to the lateness")?;
        setup.describe("outbox", "shower candidates in time order")?;
        setup.outbox::<RejectedPulse>("rejected", "pulses the filter refused, with the reason")?;
        Ok(())
    }

    async fn run(self, mut ctx: Context<ShowerPulse, ShowerCandidate>) -> Result<(), BoxError> {
        let mut filter = self.filter;
        let mut rejected = ctx.outbox_named::<RejectedPulse>("rejected")?;
        while let Some(pulse) = ctx.recv().await {
            if let Err(error) = filter.push(pulse) {
                if rejected.is_linked() {
                    // A listener that went away loses only the rejects, not the showers.
                    let _ = rejected.send(RejectedPulse { pulse, error }).await;
                } else {
                    tracing::debug!(%error, "shower filter refused a pulse");
                }
            }
            while let Some(candidate) = filter.pop_candidate() {
                ctx.send(candidate).await?;
            }
        }
        if ctx.ended_by() != Some(Control::Shutdown) {
            filter.flush();
            while let Some(candidate) = filter.pop_candidate() {
                ctx.send(candidate).await?;
            }
        }
        let stats = filter.stats();
        tracing::debug!(
            accepted = stats.accepted,
            late = stats.late,
            candidates = stats.candidates,
            "shower filter ended"
        );
        Ok(())
    }
}

/// One detector's arrival time in an event.
///
/// # Examples
///
/// ```
/// use components::physics::components::Hit;
/// let h = Hit { detector: 2, time: 105.5, sigma: None };
/// assert_eq!(h.detector, 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Detector id (index in the layout).
    pub detector: usize,
    /// Arrival time, ns.
    pub time: f64,
    /// Timing error, ns; `None` = the finder's common error.
    pub sigma: Option<f64>,
}

/// The arrival times of one event (a shower candidate, or a row group of a file).
///
/// # Examples
///
/// ```
/// use components::physics::components::ArrivalTimes;
/// use components::physics::shower::{ShowerCandidate, ShowerPulse};
///
/// let c = ShowerCandidate {
///     pulses: vec![ShowerPulse { detector: 1, time: 3.0, amplitude: 0.2, fit_ref: None }],
/// };
/// let a = ArrivalTimes::from_candidate(5, &c);
/// assert_eq!((a.event, a.hits.len()), (5, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalTimes {
    /// The caller's event id, copied to the result.
    pub event: u64,
    /// One hit per detector.
    pub hits: Vec<Hit>,
}

impl ArrivalTimes {
    /// The hits of a shower candidate, each with the finder's common timing error.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::ArrivalTimes;
    /// use components::physics::shower::{ShowerCandidate, ShowerPulse};
    ///
    /// let p = |detector, time| ShowerPulse { detector, time, amplitude: 0.3, fit_ref: Some(9) };
    /// let c = ShowerCandidate { pulses: vec![p(0, 100.0), p(2, 104.0), p(3, 108.0)] };
    /// let a = ArrivalTimes::from_candidate(17, &c);
    /// assert_eq!(a.event, 17);
    /// let hits: Vec<(usize, f64)> = a.hits.iter().map(|h| (h.detector, h.time)).collect();
    /// assert_eq!(hits, [(0, 100.0), (2, 104.0), (3, 108.0)]);
    /// // No per-hit error: the angle finder's common timing error applies.
    /// assert!(a.hits.iter().all(|h| h.sigma.is_none()));
    /// ```
    pub fn from_candidate(event: u64, candidate: &ShowerCandidate) -> Self {
        ArrivalTimes {
            event,
            hits: candidate
                .pulses
                .iter()
                .map(|p| Hit {
                    detector: p.detector,
                    time: p.time,
                    sigma: None,
                })
                .collect(),
        }
    }
}

/// The direction of one event, or why there is none.
///
/// # Examples
///
/// ```
/// use components::physics::components::FoundDirection;
/// use components::physics::error::AngleError;
///
/// let f = FoundDirection { event: 1, hits: vec![], result: Err(AngleError::TooFewHits(0)) };
/// assert!(f.result.is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FoundDirection {
    /// The event id of the [`ArrivalTimes`].
    pub event: u64,
    /// The event's hits, as they arrived.
    pub hits: Vec<Hit>,
    /// The direction, or the reason it could not be found.
    pub result: Result<ShowerDirection, AngleError>,
}

/// Finds the direction of each event from its arrival times (flat front).
///
/// # What it does
///
/// For every [`ArrivalTimes`] on `inbox` it sends one [`FoundDirection`] with the same
/// event id: the [`AngleFinder`] result (zenith and azimuth with errors, flagged
/// unphysical when no direction fits), or the [`AngleError`] saying why there is
/// none (fewer than three hits, an unknown or repeated detector, collinear detectors).
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`ArrivalTimes`] | events: detector arrival times |
/// | `outbox` | [`FoundDirection`] | one direction (or reason) per event, in input order |
/// | `control` / `signal` | [`Control`] | `ProducerFinished` finishes what is queued; `Shutdown` ends at once |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::physics::components::{AngleFinderComponent, ArrivalTimes, Hit};
/// use components::physics::layout::DetectorLayout;
///
/// let mut h = Harness::new(AngleFinderComponent::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?);
/// let hits = (0..4).map(|d| Hit { detector: d, time: 50.0, sigma: None }).collect();
/// h.send(ArrivalTimes { event: 9, hits }).await;
/// let found = h.recv().await.expect("one result");
/// assert_eq!(found.event, 9);
/// assert!(found.result?.zenith.value.abs() < 1e-9);
/// # Ok(()) }
/// ```
///
/// # How it works
///
/// A direction is a small solve, well under a microsecond: it runs on the runtime. Hits
/// without their own σ use the common timing error given to [`new`](Self::new).
#[derive(Debug, Clone)]
pub struct AngleFinderComponent {
    finder: AngleFinder,
    timing_sigma: f64,
}

impl AngleFinderComponent {
    /// A component for `layout`, with a common timing error per hit (ns).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] as [`AngleFinder::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::AngleFinderComponent;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let c = AngleFinderComponent::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
    /// assert!(AngleFinderComponent::new(DetectorLayout::grid(2, 2, 10.0)?, 0.0).is_err());
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn new(layout: DetectorLayout, timing_sigma: f64) -> Result<Self, ConfigError> {
        Ok(AngleFinderComponent {
            finder: AngleFinder::new(layout, timing_sigma)?,
            timing_sigma,
        })
    }

    /// A component around a configured finder (e.g. with another χ² probability limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::angle::AngleFinder;
    /// use components::physics::components::AngleFinderComponent;
    /// use components::physics::layout::DetectorLayout;
    ///
    /// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?.with_min_probability(0.01)?;
    /// let _component = AngleFinderComponent::from_finder(finder);
    /// # Ok::<(), components::physics::error::ConfigError>(())
    /// ```
    pub fn from_finder(finder: AngleFinder) -> Self {
        AngleFinderComponent {
            timing_sigma: finder.timing_sigma(),
            finder,
        }
    }

    fn find(&self, event: &ArrivalTimes) -> Result<ShowerDirection, AngleError> {
        let hits: Vec<(usize, f64, f64)> = event
            .hits
            .iter()
            .map(|h| (h.detector, h.time, h.sigma.unwrap_or(self.timing_sigma)))
            .collect();
        self.finder.find_weighted(&hits)
    }
}

impl Component for AngleFinderComponent {
    type In = ArrivalTimes;
    type Out = FoundDirection;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("AngleFinder")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "events: detector arrival times")?;
        setup.describe(
            "outbox",
            "one direction (or the reason there is none) per event",
        )
    }

    async fn run(self, mut ctx: Context<ArrivalTimes, FoundDirection>) -> Result<(), BoxError> {
        while let Some(event) = ctx.recv().await {
            let result = self.find(&event);
            ctx.send(FoundDirection {
                event: event.event,
                hits: event.hits,
                result,
            })
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use axon::Exit;
    use axon::testing::Harness;

    use super::*;
    use crate::physics::fit::LevelCrossing;
    use crate::physics::simulate::{PulseSynth, PulseSynthConfig};

    #[tokio::test]
    async fn fitter_component_matches_the_library_and_flags_bad_pulses() {
        let config = PulseFitterConfig::default();
        let fitter = PulseFitter::new(config).expect("valid");
        let mut synth = PulseSynth::new(PulseSynthConfig::default(), 11).expect("valid");
        let mut h = Harness::new(PulseFitterComponent::new(config).expect("valid"));
        let mut sent = Vec::new();
        for id in 0..40 {
            let (_, crossings) = synth.next_pulse();
            sent.push(crossings.clone());
            h.send(PulseToFit { id, crossings }).await;
        }
        let bad = Crossings {
            levels: vec![LevelCrossing {
                level: 0.2,
                rise: 10.0,
                fall: 8.0,
            }],
            next_level: Some(0.3),
        };
        h.send(PulseToFit {
            id: 99,
            crossings: bad,
        })
        .await;
        h.finish().await;
        for (id, crossings) in sent.iter().enumerate() {
            let got = h.recv().await.expect("a result per pulse");
            assert_eq!(got.id, id as u64);
            assert_eq!(got.result, fitter.fit(crossings));
        }
        let got = h.recv().await.expect("the bad pulse's result");
        assert_eq!(got.id, 99);
        assert_eq!(got.result, Err(CrossingsError::FallBeforeRise { index: 0 }));
        assert_eq!(h.recv().await, None);
        assert!(matches!(h.exit().await, Exit::Finished));
    }

    fn pulse(detector: usize, time: f64) -> ShowerPulse {
        ShowerPulse {
            detector,
            time,
            amplitude: 0.5,
            fit_ref: None,
        }
    }

    #[tokio::test]
    async fn shower_component_streams_flushes_and_reports_rejects() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let config = ShowerFilterConfig::default();
        let mut h = Harness::new(ShowerFilterComponent::new(layout, config).expect("valid"));
        let mut rejected = h
            .outbox_receiver::<RejectedPulse>("rejected")
            .expect("declared");
        for p in [pulse(0, 1000.0), pulse(1, 1010.0), pulse(2, 1015.0)] {
            h.send(p).await;
        }
        // Far later: the first window is decided while the stream runs.
        h.send(pulse(3, 10_000.0)).await;
        let first = h.recv().await.expect("decided by the watermark");
        assert_eq!(first.detectors(), 3);
        assert_eq!(first.start(), 1000.0);
        // Older than the watermark (10 000 − 1 000 ns lateness), and an unknown detector.
        h.send(pulse(1, 5000.0)).await;
        h.send(pulse(7, 10_001.0)).await;
        let r = rejected.recv().await.expect("late pulse reported");
        assert!(matches!(r.error, ShowerError::Late { .. }));
        let r = rejected.recv().await.expect("unknown detector reported");
        assert_eq!(r.error, ShowerError::UnknownDetector(7));
        for p in [pulse(0, 10_005.0), pulse(2, 10_009.0)] {
            h.send(p).await;
        }
        h.finish().await;
        let last = h.recv().await.expect("flushed at the end of input");
        assert_eq!(last.detectors(), 3);
        assert_eq!(last.start(), 10_000.0);
        assert_eq!(h.recv().await, None);
        assert!(matches!(h.exit().await, Exit::Finished));
    }

    #[tokio::test]
    async fn shower_component_does_not_flush_on_shutdown() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let mut h = Harness::new(
            ShowerFilterComponent::new(layout, ShowerFilterConfig::default()).expect("valid"),
        );
        for p in [pulse(0, 0.0), pulse(1, 1.0), pulse(2, 2.0)] {
            h.send(p).await;
        }
        h.send_control(Control::Shutdown).await;
        assert_eq!(h.recv().await, None);
        assert!(matches!(h.exit().await, Exit::ShutDown));
    }

    #[tokio::test]
    async fn angle_component_finds_directions_and_reasons() {
        use crate::physics::layout::SPEED_OF_LIGHT;
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let mut h = Harness::new(AngleFinderComponent::new(layout.clone(), 0.5).expect("valid"));
        // A front from the east (azimuth 0) at 30° zenith: t_i = −x_i·sin θ / c.
        let s = 30f64.to_radians().sin();
        let hits = layout
            .positions()
            .iter()
            .enumerate()
            .map(|(d, p)| Hit {
                detector: d,
                time: 100.0 - p[0] * s / SPEED_OF_LIGHT,
                sigma: None,
            })
            .collect();
        h.send(ArrivalTimes { event: 1, hits }).await;
        let two = vec![
            Hit {
                detector: 0,
                time: 0.0,
                sigma: None,
            },
            Hit {
                detector: 1,
                time: 1.0,
                sigma: Some(0.2),
            },
        ];
        h.send(ArrivalTimes {
            event: 2,
            hits: two,
        })
        .await;
        h.finish().await;
        let found = h.recv().await.expect("first event");
        assert_eq!((found.event, found.hits.len()), (1, 4));
        let dir = found.result.expect("a direction");
        assert!((dir.zenith.value - 30f64.to_radians()).abs() < 1e-9);
        assert!(dir.azimuth.value.abs() < 1e-9);
        assert!(dir.zenith.error > 0.0);
        let found = h.recv().await.expect("second event");
        assert_eq!(found.event, 2);
        assert_eq!(found.result, Err(AngleError::TooFewHits(2)));
        assert!(matches!(h.exit().await, Exit::Finished));
    }
}
