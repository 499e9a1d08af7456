//! SVG plots (feature `plots`): a pulse display, sky plots of shower directions, an
//! all-sky map and an animation of a shower front.
//!
//! | function | draws |
//! | --- | --- |
//! | [`pulse_svg`] | one pulse: its threshold crossings (each a clock bin wide) and the fitted curve |
//! | [`sky_svg`] | shower directions on the sky: zenith as the distance from the centre, azimuth around it |
//! | [`sky_map_svg`] | the MapDisplay: showers on an all-sky Hammer–Aitoff map in galactic or equatorial coordinates, exposure band shaded |
//! | [`pulse_svg_from_store`], [`sky_svg_from_store`], [`sky_map_svg_from_store`] | the same, from a [`Store`](crate::store::Store) (with feature `store`) |
//! | [`front_svg`] | the EventAnimator: one shower's front sweeping the layout, detectors lighting up at their times (animated SVG, or a still frame) |
//! | [`svg_to_png`] | any of them as PNG (feature `png`) |
//!
//! Voltages are drawn in the positive convention of [`crate::physics::model`]: a −0.2 V
//! threshold is the level 0.2 V.
//!
//! # Examples
//!
//! ```
//! use components::physics::fit::{Crossings, LevelCrossing};
//! use components::physics::model::{BiExpPulse, PulseShape};
//! use components::plots::pulse_svg;
//!
//! let crossings = Crossings {
//!     levels: vec![LevelCrossing { level: 0.2, rise: 20.0, fall: 24.0 }],
//!     next_level: Some(0.3),
//! };
//! let curve = BiExpPulse::from_peak(0.25, 19.5, PulseShape::SCINTILLATOR)?;
//! let svg = pulse_svg("pulse 1", &crossings, Some(&curve), 2.0)?;
//! assert!(svg.starts_with("<svg"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use plotters::prelude::*;
use thiserror::Error;

mod front;
#[cfg(feature = "png")]
mod png;
mod sky_map;

pub use front::{ShowerFront, front_svg};

#[cfg(feature = "png")]
pub use png::svg_to_png;
pub use sky_map::{Exposure, MapEvent, hammer_aitoff, sky_map_svg};

use crate::physics::fit::Crossings;
use crate::physics::model::BiExpPulse;

/// Why a plot could not be drawn.
///
/// # Examples
///
/// ```
/// let e = components::plots::PlotError::Empty("no crossings");
/// assert!(e.to_string().contains("no crossings"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlotError {
    /// There is nothing to draw.
    #[error("nothing to plot: {0}")]
    Empty(&'static str),
    /// The drawing backend failed.
    #[error("drawing failed: {0}")]
    Draw(String),
    /// Reading the store failed.
    #[cfg(feature = "store")]
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The pulse is not in the store.
    #[cfg(feature = "store")]
    #[error("pulse {0} is not in the store")]
    UnknownPulse(u64),
}

fn draw_err(e: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(e.to_string())
}

const WIDTH: u32 = 800;
const HEIGHT: u32 = 500;

/// Draws one pulse: every crossing as a point at the reported clock time with a bar
/// across its clock bin (the true crossing lies in it), and the fitted curve if given.
///
/// # Errors
///
/// [`PlotError::Empty`] without crossings, [`PlotError::Draw`] if drawing fails.
///
/// # Examples
///
/// ```
/// use components::physics::fit::{Crossings, LevelCrossing};
/// use components::plots::{PlotError, pulse_svg};
///
/// let crossings = Crossings {
///     levels: vec![
///         LevelCrossing { level: 0.2, rise: 20.0, fall: 26.0 },
///         LevelCrossing { level: 0.3, rise: 22.0, fall: 24.0 },
///     ],
///     next_level: None,
/// };
/// // Without a fitted curve only the crossings are drawn.
/// let svg = pulse_svg("pulse 7", &crossings, None, 2.0)?;
/// assert!(svg.starts_with("<svg") && svg.contains("pulse 7"));
///
/// let nothing = pulse_svg("empty", &Crossings::default(), None, 2.0);
/// assert!(matches!(nothing, Err(PlotError::Empty(_))));
/// # Ok::<(), PlotError>(())
/// ```
pub fn pulse_svg(
    title: &str,
    crossings: &Crossings,
    curve: Option<&BiExpPulse>,
    clock_period: f64,
) -> Result<String, PlotError> {
    if crossings.levels.is_empty() {
        return Err(PlotError::Empty("the pulse has no crossings"));
    }
    let mut t_lo = f64::INFINITY;
    let mut t_hi = f64::NEG_INFINITY;
    let mut v_hi: f64 = 0.0;
    for l in &crossings.levels {
        t_lo = t_lo.min(l.rise);
        t_hi = t_hi.max(l.fall + clock_period);
        v_hi = v_hi.max(l.level);
    }
    if let Some(next) = crossings.next_level {
        v_hi = v_hi.max(next);
    }
    if let Some(c) = curve {
        t_lo = t_lo.min(c.onset);
        v_hi = v_hi.max(c.peak_height());
    }
    let span = (t_hi - t_lo).max(clock_period);
    let (x0, x1) = (t_lo - 0.3 * span, t_hi + 0.6 * span);
    let y1 = 1.15 * v_hi;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x1, 0.0..y1)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("time (ns)")
            .y_desc("pulse height (V, positive)")
            .draw()
            .map_err(draw_err)?;
        for l in &crossings.levels {
            chart
                .draw_series(LineSeries::new(
                    [(x0, l.level), (x1, l.level)],
                    RGBColor(200, 200, 200).stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        if let Some(next) = crossings.next_level {
            chart
                .draw_series(LineSeries::new(
                    [(x0, next), (x1, next)],
                    RGBColor(230, 150, 150).stroke_width(1),
                ))
                .map_err(draw_err)?
                .label(format!("level not reached ({next} V)"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(230, 150, 150)));
        }
        if let Some(c) = curve {
            let n = 400;
            let points = (0..=n).map(|i| {
                let t = x0 + (x1 - x0) * i as f64 / n as f64;
                (t, c.value(t))
            });
            chart
                .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
                .map_err(draw_err)?
                .label(format!(
                    "fit: peak {:.3} V at {:.2} ns",
                    c.peak_height(),
                    c.peak_time()
                ))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        }
        let edges: Vec<(f64, f64)> = crossings
            .levels
            .iter()
            .flat_map(|l| [(l.rise, l.level), (l.fall, l.level)])
            .collect();
        chart
            .draw_series(edges.iter().map(|&(t, v)| {
                PathElement::new([(t, v), (t + clock_period, v)], RED.stroke_width(3))
            }))
            .map_err(draw_err)?;
        chart
            .draw_series(
                edges
                    .iter()
                    .map(|&(t, v)| Circle::new((t, v), 4, RED.filled())),
            )
            .map_err(draw_err)?
            .label("crossings (clock time and bin)")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, RED.filled()));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// One direction on the sky plot.
///
/// # Examples
///
/// ```
/// use components::plots::SkyDirection;
/// let d = SkyDirection { zenith_deg: 20.0, azimuth_deg: 45.0, unphysical: false };
/// assert!(!d.unphysical);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyDirection {
    /// Zenith angle, degrees from vertical.
    pub zenith_deg: f64,
    /// Azimuth, degrees from +x (east) towards +y (north).
    pub azimuth_deg: f64,
    /// No direction fitted the times (drawn on the horizon, hollow).
    pub unphysical: bool,
}

/// Draws shower directions on the sky: the centre is the zenith, the outer circle the
/// horizon, the distance from the centre is the zenith angle, east to the right and
/// north up.
///
/// # Errors
///
/// [`PlotError::Draw`] if drawing fails. An empty list draws an empty sky.
///
/// # Examples
///
/// ```
/// use components::plots::{SkyDirection, sky_svg};
///
/// let svg = sky_svg("showers", &[SkyDirection { zenith_deg: 30.0, azimuth_deg: 90.0, unphysical: false }])?;
/// assert!(svg.contains("<circle"));
/// # Ok::<(), components::plots::PlotError>(())
/// ```
pub fn sky_svg(title: &str, directions: &[SkyDirection]) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (HEIGHT + 100, HEIGHT + 100)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{title} ({} directions)", directions.len()),
                ("sans-serif", 20),
            )
            .margin(20)
            .build_cartesian_2d(-100.0..100.0, -100.0..100.0)
            .map_err(draw_err)?;
        let grey = RGBColor(180, 180, 180);
        for ring in [30.0, 60.0, 90.0] {
            let circle = (0..=180).map(|i| {
                let a = std::f64::consts::TAU * i as f64 / 180.0;
                (ring * a.cos(), ring * a.sin())
            });
            chart
                .draw_series(LineSeries::new(circle, grey.stroke_width(1)))
                .map_err(draw_err)?;
            chart
                .draw_series([Text::new(
                    format!("{ring}°"),
                    (ring * 0.707 + 1.0, ring * 0.707 + 1.0),
                    ("sans-serif", 12).into_font().color(&grey),
                )])
                .map_err(draw_err)?;
        }
        for (label, x, y) in [
            ("E", 94.0, -2.0),
            ("N", -2.0, 96.0),
            ("W", -98.0, -2.0),
            ("S", -2.0, -92.0),
        ] {
            chart
                .draw_series([Text::new(label, (x, y), ("sans-serif", 14).into_font())])
                .map_err(draw_err)?;
        }
        chart
            .draw_series(LineSeries::new(
                [(-90.0, 0.0), (90.0, 0.0)],
                grey.stroke_width(1),
            ))
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, -90.0), (0.0, 90.0)],
                grey.stroke_width(1),
            ))
            .map_err(draw_err)?;
        let xy = |d: &SkyDirection| {
            let (s, c) = d.azimuth_deg.to_radians().sin_cos();
            let r = if d.unphysical {
                90.0
            } else {
                d.zenith_deg.clamp(0.0, 90.0)
            };
            (r * c, r * s)
        };
        chart
            .draw_series(
                directions
                    .iter()
                    .filter(|d| {
                        !d.unphysical && d.zenith_deg.is_finite() && d.azimuth_deg.is_finite()
                    })
                    .map(|d| Circle::new(xy(d), 3, BLUE.filled())),
            )
            .map_err(draw_err)?;
        chart
            .draw_series(
                directions
                    .iter()
                    .filter(|d| d.unphysical && d.azimuth_deg.is_finite())
                    .map(|d| Circle::new(xy(d), 4, RED.stroke_width(1))),
            )
            .map_err(draw_err)?;
        let side = i32::try_from(HEIGHT + 100).unwrap_or(i32::MAX);
        root.draw(&Text::new(
            "marker: where a shower came from (zenith angle from the centre); map view, N up, E right",
            (10, side - 16),
            ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
        ))
        .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// [`pulse_svg`] for a stored pulse and its stored fit (if any).
///
/// # Errors
///
/// [`PlotError::UnknownPulse`], [`PlotError::Store`], or as [`pulse_svg`].
///
/// # Examples
///
/// ```
/// use components::physics::fit::{Crossings, LevelCrossing};
/// use components::plots::pulse_svg_from_store;
/// use components::store::{Record, Store, StoredPulse};
///
/// let mut store = Store::open_in_memory()?;
/// let crossings = Crossings { levels: vec![LevelCrossing { level: 0.2, rise: 20.0, fall: 24.0 }], next_level: Some(0.3) };
/// store.write(&[Record::Pulse(StoredPulse { id: 1, detector: None, crossings })])?;
/// assert!(pulse_svg_from_store(&store, 1, 2.0)?.contains("pulse 1"));
/// assert!(pulse_svg_from_store(&store, 2, 2.0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "store")]
pub fn pulse_svg_from_store(
    store: &crate::store::Store,
    pulse_id: u64,
    clock_period: f64,
) -> Result<String, PlotError> {
    let pulse = store
        .pulse(pulse_id)?
        .ok_or(PlotError::UnknownPulse(pulse_id))?;
    let curve = store.fitted_curve(pulse_id)?;
    let title = match pulse.detector {
        Some(d) => format!("pulse {pulse_id} (detector {d})"),
        None => format!("pulse {pulse_id}"),
    };
    pulse_svg(&title, &pulse.crossings, curve.as_ref(), clock_period)
}

/// [`sky_svg`] for every stored shower with a direction.
///
/// # Errors
///
/// [`PlotError::Store`], or as [`sky_svg`].
///
/// # Examples
///
/// ```
/// use components::plots::sky_svg_from_store;
/// use components::store::Store;
///
/// let store = Store::open_in_memory()?;
/// assert!(sky_svg_from_store(&store)?.contains("0 directions"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "store")]
pub fn sky_svg_from_store(store: &crate::store::Store) -> Result<String, PlotError> {
    let directions: Vec<SkyDirection> = store
        .sky()?
        .into_iter()
        .map(|p| SkyDirection {
            zenith_deg: p.zenith_deg,
            azimuth_deg: p.azimuth_deg,
            unphysical: p.unphysical,
        })
        .collect();
    sky_svg("shower directions", &directions)
}

/// [`sky_map_svg`] of every stored shower with sky coordinates, the exposure band of
/// the latest run's site (when it recorded one) for zenith angles up to
/// `max_zenith_deg`.
///
/// # Errors
///
/// [`PlotError::Store`], or as [`sky_map_svg`].
///
/// # Examples
///
/// ```
/// use components::physics::sky::SkyFrame;
/// use components::plots::sky_map_svg_from_store;
/// use components::store::Store;
///
/// let store = Store::open_in_memory()?;
/// assert!(sky_map_svg_from_store(&store, SkyFrame::Galactic, 60.0)?.contains("0 showers"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "store")]
pub fn sky_map_svg_from_store(
    store: &crate::store::Store,
    frame: crate::physics::sky::SkyFrame,
    max_zenith_deg: f64,
) -> Result<String, PlotError> {
    use crate::physics::sky::SkyFrame;
    let events: Vec<MapEvent> = store
        .sky()?
        .into_iter()
        .filter_map(|p| {
            let (lon_deg, lat_deg) = match frame {
                SkyFrame::Galactic => p.galactic?,
                SkyFrame::Equatorial => p.equatorial?,
            };
            Some(MapEvent {
                id: p.id,
                lon_deg,
                lat_deg,
                utc_ns: p.utc_ns,
            })
        })
        .collect();
    let site = store.latest_site()?;
    let exposure = site.map(|site| Exposure {
        site,
        max_zenith_deg,
    });
    let first = events.iter().filter_map(|e| e.utc_ns).min();
    let zenith = site.zip(first).and_then(|(site, utc)| {
        let sky =
            crate::physics::sky::EventMapper::new(site).map(utc, [0.0, 0.0], [[0.0; 2]; 2])?;
        let c = match frame {
            SkyFrame::Galactic => sky.galactic,
            SkyFrame::Equatorial => sky.equatorial,
        };
        Some((c.lon_deg, c.lat_deg))
    });
    sky_map_svg(
        "shower arrival directions",
        frame,
        &events,
        exposure,
        zenith,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::fit::LevelCrossing;

    #[test]
    fn pulse_display_draws_every_crossing_and_the_curve() {
        let crossings = Crossings {
            levels: vec![
                LevelCrossing {
                    level: 0.2,
                    rise: 20.0,
                    fall: 26.0,
                },
                LevelCrossing {
                    level: 0.3,
                    rise: 22.0,
                    fall: 24.0,
                },
            ],
            next_level: Some(0.45),
        };
        let curve =
            BiExpPulse::from_peak(0.4, 20.0, crate::physics::model::PulseShape::SCINTILLATOR)
                .expect("valid");
        let svg = pulse_svg("pulse 9", &crossings, Some(&curve), 2.0).expect("draws");
        // Four crossings (plus one legend marker), a curve, the title.
        assert_eq!(svg.matches("<circle").count(), 5, "{svg}");
        assert!(svg.contains("pulse 9"));
        assert!(svg.contains("fit: peak 0.400 V"));
        assert!(matches!(
            pulse_svg("x", &Crossings::default(), None, 2.0),
            Err(PlotError::Empty(_))
        ));
    }

    #[test]
    fn sky_plot_draws_one_marker_per_direction() {
        let dirs = [
            SkyDirection {
                zenith_deg: 10.0,
                azimuth_deg: 0.0,
                unphysical: false,
            },
            SkyDirection {
                zenith_deg: 45.0,
                azimuth_deg: 120.0,
                unphysical: false,
            },
            SkyDirection {
                zenith_deg: 90.0,
                azimuth_deg: -60.0,
                unphysical: true,
            },
        ];
        let svg = sky_svg("test", &dirs).expect("draws");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("3 directions"));
    }
}
