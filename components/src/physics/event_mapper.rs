//! [`EventMapperComponent`]: shower directions from the angle finder, with their event
//! times, onto the sky (the seed's EventMapper).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use axon::{BoxError, Component, Context, LinkError, Setup};

use super::angle::ShowerDirection;
use super::components::{FoundDirection, Hit};
use super::error::AngleError;
use super::sky::{EventMapper, SkyPosition};

/// The UTC (ns since the Unix epoch) that hit times count from.
///
/// Hit times are `f64` ns; counted from the Unix epoch they would lose
/// sub-microsecond precision, so a pipeline counts them from a time origin its first
/// stage fixes (the UTC second of the first pulse) and later stages read. Clones share
/// one origin; it is set once.
///
/// # Examples
///
/// ```
/// use components::physics::event_mapper::TimeOrigin;
/// let origin = TimeOrigin::default();
/// let seen_by_mapper = origin.clone();
/// assert_eq!(seen_by_mapper.get(), None);
/// assert_eq!(origin.get_or_set(1_700_000_000_000_000_000), 1_700_000_000_000_000_000);
/// assert_eq!(origin.get_or_set(5), 1_700_000_000_000_000_000); // set once
/// assert_eq!(seen_by_mapper.get(), Some(1_700_000_000_000_000_000));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TimeOrigin(Arc<OnceLock<i64>>);

impl TimeOrigin {
    /// An origin fixed now, at `utc_ns`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::event_mapper::TimeOrigin;
    /// assert_eq!(TimeOrigin::at(7).get(), Some(7));
    /// ```
    pub fn at(utc_ns: i64) -> Self {
        let origin = TimeOrigin::default();
        origin.get_or_set(utc_ns);
        origin
    }

    /// The origin, once set.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::event_mapper::TimeOrigin;
    /// assert_eq!(TimeOrigin::default().get(), None);
    /// ```
    pub fn get(&self) -> Option<i64> {
        self.0.get().copied()
    }

    /// The origin, setting it to `utc_ns` if it is not set yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::event_mapper::TimeOrigin;
    /// let o = TimeOrigin::default();
    /// assert_eq!(o.get_or_set(3), 3);
    /// ```
    pub fn get_or_set(&self, utc_ns: i64) -> i64 {
        *self.0.get_or_init(|| utc_ns)
    }
}

/// A shower event with its direction and, when it has one above the horizon and a
/// known time, its place on the sky.
///
/// # Examples
///
/// ```
/// use components::physics::error::AngleError;
/// use components::physics::event_mapper::MappedEvent;
/// let e = MappedEvent { event: 1, utc_ns: None, hits: vec![], direction: Err(AngleError::TooFewHits(0)), sky: None };
/// assert!(e.sky.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MappedEvent {
    /// The event id.
    pub event: u64,
    /// UTC of the earliest hit, ns since the Unix epoch, when the time origin is known.
    pub utc_ns: Option<i64>,
    /// The hits, times in ns after the time origin.
    pub hits: Vec<Hit>,
    /// The direction, or why there is none.
    pub direction: Result<ShowerDirection, AngleError>,
    /// J2000 and galactic coordinates with errors.
    pub sky: Option<SkyPosition>,
}

/// Puts each found shower direction on the sky.
///
/// # What it does
///
/// For every [`FoundDirection`] it sends one [`MappedEvent`]: the event's UTC (its
/// earliest hit after the [`TimeOrigin`]) and, for a physical direction, the J2000
/// (RA, Dec) and galactic (l, b) coordinates from [`EventMapper::map`], with errors
/// from the direction's covariance. Events without a direction, with an unphysical
/// one, or before the time origin is known pass through without sky coordinates.
///
/// | box | type | carries |
/// | --- | --- | --- |
/// | `inbox` | [`FoundDirection`] | directions from the angle finder |
/// | `outbox` | [`MappedEvent`] | one event per direction, in order |
/// | `control` / `signal` | [`Control`](axon::Control) | `ProducerFinished` maps what is queued, then ends |
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use axon::testing::Harness;
/// use components::physics::angle::AngleFinder;
/// use components::physics::components::{FoundDirection, Hit};
/// use components::physics::event_mapper::{EventMapperComponent, TimeOrigin};
/// use components::physics::layout::DetectorLayout;
/// use components::physics::sky::{EventMapper, Site};
///
/// let site = Site::new(30.428, -84.285, 20.0)?;
/// let origin = TimeOrigin::at(1_700_000_000_000_000_000);
/// let mut h = Harness::new(EventMapperComponent::new(EventMapper::new(site), origin));
/// let finder = AngleFinder::new(DetectorLayout::grid(2, 2, 10.0)?, 1.0)?;
/// let times = [(0, 500.0), (1, 500.0), (2, 500.0), (3, 500.0)]; // vertical
/// let hits = times.iter().map(|&(detector, time)| Hit { detector, time, sigma: None }).collect();
/// h.send(FoundDirection { event: 3, hits, result: finder.find(&times) }).await;
/// let e = h.recv().await.expect("one event");
/// assert_eq!(e.utc_ns, Some(1_700_000_000_000_000_500));
/// let sky = e.sky.expect("a vertical shower is on the sky");
/// assert!((sky.equatorial.lat_deg - 30.428).abs() < 0.2); // the zenith: Dec ≈ latitude
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct EventMapperComponent {
    mapper: EventMapper,
    origin: TimeOrigin,
}

impl EventMapperComponent {
    /// A component mapping with `mapper`, hit times counted from `origin`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::event_mapper::{EventMapperComponent, TimeOrigin};
    /// use components::physics::sky::{EventMapper, Site};
    /// let c = EventMapperComponent::new(EventMapper::new(Site::default()), TimeOrigin::default());
    /// # let _ = c;
    /// ```
    pub fn new(mapper: EventMapper, origin: TimeOrigin) -> Self {
        EventMapperComponent { mapper, origin }
    }

    /// Maps one found direction.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::components::FoundDirection;
    /// use components::physics::error::AngleError;
    /// use components::physics::event_mapper::{EventMapperComponent, TimeOrigin};
    /// use components::physics::sky::{EventMapper, Site};
    /// let mut c = EventMapperComponent::new(EventMapper::new(Site::default()), TimeOrigin::at(0));
    /// let e = c.map(FoundDirection { event: 1, hits: vec![], result: Err(AngleError::TooFewHits(0)) });
    /// assert_eq!((e.utc_ns, e.sky), (None, None)); // no hits: no time, no direction
    /// ```
    pub fn map(&mut self, found: FoundDirection) -> MappedEvent {
        let first = found.hits.iter().map(|h| h.time).fold(f64::NAN, f64::min);
        let utc_ns = match self.origin.get() {
            Some(origin) if first.is_finite() => Some(origin.saturating_add(first.round() as i64)),
            _ => None,
        };
        let sky = match (&found.result, utc_ns) {
            (Ok(d), Some(utc)) if !d.unphysical => {
                let c = d.covariance;
                self.mapper
                    .map(utc, d.cosines, [[c[1][1], c[1][2]], [c[2][1], c[2][2]]])
            }
            _ => None,
        };
        MappedEvent {
            event: found.event,
            utc_ns,
            hits: found.hits,
            direction: found.result,
            sky,
        }
    }
}

impl Component for EventMapperComponent {
    type In = FoundDirection;
    type Out = MappedEvent;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EventMapper")
    }

    fn setup(&mut self, setup: &mut Setup<'_>) -> Result<(), LinkError> {
        setup.describe("inbox", "shower directions from the angle finder")?;
        setup.describe(
            "outbox",
            "events with UTC and J2000 and galactic coordinates",
        )
    }

    async fn run(mut self, mut ctx: Context<FoundDirection, MappedEvent>) -> Result<(), BoxError> {
        while let Some(found) = ctx.recv().await {
            let event = self.map(found);
            ctx.send(event).await?;
        }
        Ok(())
    }
}
