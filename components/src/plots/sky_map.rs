//! The seed's MapDisplay: shower arrival directions on an all-sky Hammer–Aitoff
//! (equal-area) map in galactic or equatorial coordinates, with a graticule, the
//! detector's exposure band shaded and one marker per shower coloured by time.

use plotters::prelude::*;

use super::{PlotError, draw_err};
use crate::physics::sky::{Site, SkyFrame};

const MAP_WIDTH: u32 = 1000;
const MAP_HEIGHT: u32 = 620;
/// Hammer–Aitoff half-width and half-height.
const XMAX: f64 = 2.0 * std::f64::consts::SQRT_2;
const YMAX: f64 = std::f64::consts::SQRT_2;

/// One shower on the map.
///
/// # Examples
///
/// ```
/// use components::plots::MapEvent;
/// let e = MapEvent { id: 1, lon_deg: 120.0, lat_deg: -10.0, utc_ns: Some(0) };
/// assert_eq!(e.id, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapEvent {
    /// The shower id.
    pub id: u64,
    /// Longitude in the map's frame (l or RA), degrees.
    pub lon_deg: f64,
    /// Latitude in the map's frame (b or Dec), degrees.
    pub lat_deg: f64,
    /// UTC, ns: sets the marker's colour (early blue to late red).
    pub utc_ns: Option<i64>,
}

/// What a site can see: declinations within `max_zenith_deg` of its zenith, over a
/// sidereal day.
///
/// # Examples
///
/// ```
/// use components::physics::sky::Site;
/// use components::plots::Exposure;
/// let e = Exposure { site: Site::default(), max_zenith_deg: 60.0 };
/// assert!(e.sees(0.0, 30.0) && !e.sees(0.0, -40.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    /// The site.
    pub site: Site,
    /// Largest zenith angle counted, degrees.
    pub max_zenith_deg: f64,
}

impl Exposure {
    /// Whether a J2000 `(ra, dec)` in degrees passes within the zenith limit once a day
    /// (precession over decades is ignored: a fraction of a degree).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// use components::plots::Exposure;
    /// let e = Exposure { site: Site::new(-30.0, 0.0, 0.0)?, max_zenith_deg: 45.0 };
    /// assert!(e.sees(10.0, -70.0) && !e.sees(10.0, 20.0));
    /// # Ok::<(), components::physics::sky::SiteError>(())
    /// ```
    pub fn sees(&self, _ra_deg: f64, dec_deg: f64) -> bool {
        (dec_deg - self.site.latitude_deg).abs() <= self.max_zenith_deg
    }
}

/// The Hammer–Aitoff projection of `(lon, lat)` in degrees, longitude increasing to
/// the left and centred on 0: `x` in ±2√2, `y` in ±√2.
///
/// # Examples
///
/// ```
/// use components::plots::hammer_aitoff;
/// assert_eq!(hammer_aitoff(0.0, 0.0), (0.0, 0.0));
/// let (x, _) = hammer_aitoff(90.0, 0.0);
/// assert!(x < 0.0); // east of centre is drawn to the left, as on the sky
/// let (_, y) = hammer_aitoff(0.0, 90.0);
/// assert!((y - 2f64.sqrt()).abs() < 1e-12);
/// ```
pub fn hammer_aitoff(lon_deg: f64, lat_deg: f64) -> (f64, f64) {
    let lon = ((lon_deg + 180.0).rem_euclid(360.0) - 180.0).to_radians();
    let lat = lat_deg.to_radians();
    let d = (1.0 + lat.cos() * (lon / 2.0).cos()).sqrt();
    (
        -2.0 * std::f64::consts::SQRT_2 * lat.cos() * (lon / 2.0).sin() / d,
        std::f64::consts::SQRT_2 * lat.sin() / d,
    )
}

fn frame_names(frame: SkyFrame) -> (&'static str, &'static str, &'static str) {
    match frame {
        SkyFrame::Galactic => ("galactic", "l", "b"),
        SkyFrame::Equatorial => ("equatorial J2000", "RA", "Dec"),
    }
}

/// The colour of a marker at `f` in [0, 1] of the run: blue, through violet, to red.
fn time_colour(f: f64) -> RGBColor {
    let f = f.clamp(0.0, 1.0);
    RGBColor(
        (30.0 + 210.0 * f) as u8,
        (60.0 * (1.0 - f)) as u8,
        (220.0 * (1.0 - f) + 30.0) as u8,
    )
}

/// Draws showers on an all-sky Hammer–Aitoff map in `frame`: a 30° graticule with
/// labels, the exposure band shaded (when given), one marker per shower coloured from
/// blue (first) to red (last) by UTC, the time span in the caption, and a cross at
/// `zenith` (the site's zenith at some moment, in the map's frame, degrees) if given.
///
/// # Errors
///
/// [`PlotError::Draw`] if drawing fails. No events draws the empty map.
///
/// # Examples
///
/// ```
/// use components::physics::sky::{Site, SkyFrame};
/// use components::plots::{Exposure, MapEvent, sky_map_svg};
///
/// let events = [MapEvent { id: 1, lon_deg: 150.0, lat_deg: 20.0, utc_ns: Some(0) }];
/// let exposure = Exposure { site: Site::default(), max_zenith_deg: 60.0 };
/// let svg = sky_map_svg("showers", SkyFrame::Galactic, &events, Some(exposure), None)?;
/// assert!(svg.contains("1 showers") && svg.contains("galactic"));
/// # Ok::<(), components::plots::PlotError>(())
/// ```
pub fn sky_map_svg(
    title: &str,
    frame: SkyFrame,
    events: &[MapEvent],
    exposure: Option<Exposure>,
    zenith: Option<(f64, f64)>,
) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (MAP_WIDTH, MAP_HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let (frame_name, lon_name, lat_name) = frame_names(frame);
        let times: Vec<i64> = events.iter().filter_map(|e| e.utc_ns).collect();
        let (t0, t1) = (times.iter().min().copied(), times.iter().max().copied());
        let span = match (t0, t1) {
            (Some(a), Some(b)) => format!(
                ", {} to {} UTC",
                utc_text(a),
                utc_text(b).split(' ').nth(1).unwrap_or_default()
            ),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{title}: {} showers, {frame_name} coordinates{span}",
                    events.len()
                ),
                ("sans-serif", 18),
            )
            .margin(15)
            .build_cartesian_2d(-XMAX * 1.04..XMAX * 1.04, -YMAX * 1.12..YMAX * 1.06)
            .map_err(draw_err)?;
        let grey = RGBColor(170, 170, 170);
        let outline: Vec<(f64, f64)> = (0..=360)
            .map(|i| {
                let a = std::f64::consts::TAU * f64::from(i) / 360.0;
                (XMAX * a.cos(), YMAX * a.sin())
            })
            .collect();
        chart
            .draw_series([Polygon::new(
                outline.clone(),
                RGBColor(250, 250, 250).filled(),
            )])
            .map_err(draw_err)?;
        if let Some(exposure) = exposure {
            let shade = RGBColor(255, 225, 150).mix(0.7).filled();
            for band in exposure_strips(frame, &exposure) {
                chart
                    .draw_series([Polygon::new(band, shade)])
                    .map_err(draw_err)?;
            }
        }
        for lat in (-60..=60).step_by(30) {
            let line = (-180..=180).map(|lon| hammer_aitoff(f64::from(lon), f64::from(lat)));
            chart
                .draw_series(LineSeries::new(line, grey.stroke_width(1)))
                .map_err(draw_err)?;
            if lat != 0 {
                let (x, y) = hammer_aitoff(179.9, f64::from(lat));
                chart
                    .draw_series([Text::new(
                        format!("{lat:+}°"),
                        (x - 0.2, y + 0.03),
                        ("sans-serif", 12).into_font().color(&grey.mix(1.0)),
                    )])
                    .map_err(draw_err)?;
            }
        }
        for lon in (-150_i32..=180).step_by(30) {
            let line = (-90..=90).map(|lat| hammer_aitoff(f64::from(lon), f64::from(lat)));
            chart
                .draw_series(LineSeries::new(line, grey.stroke_width(1)))
                .map_err(draw_err)?;
            let label = match frame {
                SkyFrame::Galactic => format!("{}°", lon.rem_euclid(360)),
                SkyFrame::Equatorial => format!("{}h", lon.rem_euclid(360) / 15),
            };
            let (x, y) = hammer_aitoff(f64::from(lon), 0.0);
            chart
                .draw_series([Text::new(
                    label,
                    (x + 0.03, y - 0.02),
                    ("sans-serif", 12).into_font().color(&RGBColor(90, 90, 90)),
                )])
                .map_err(draw_err)?;
        }
        chart
            .draw_series(LineSeries::new(outline, BLACK.stroke_width(1)))
            .map_err(draw_err)?;
        let colour = |e: &MapEvent| match (e.utc_ns, t0, t1) {
            (Some(t), Some(a), Some(b)) if b > a => time_colour((t - a) as f64 / (b - a) as f64),
            _ => time_colour(0.0),
        };
        chart
            .draw_series(
                events
                    .iter()
                    .filter(|e| e.lon_deg.is_finite() && e.lat_deg.is_finite())
                    .map(|e| {
                        Circle::new(hammer_aitoff(e.lon_deg, e.lat_deg), 5, colour(e).filled())
                    }),
            )
            .map_err(draw_err)?;
        if let Some((lon, lat)) = zenith {
            let (x, y) = hammer_aitoff(lon, lat);
            chart
                .draw_series([Cross::new((x, y), 8, BLACK.stroke_width(2))])
                .map_err(draw_err)?;
            chart
                .draw_series([Text::new(
                    "zenith at the first shower",
                    (x + 0.06, y + 0.1),
                    ("sans-serif", 12).into_font(),
                )])
                .map_err(draw_err)?;
        }
        let note = match exposure {
            Some(x) => format!(
                "{lon_name} increases to the left; shaded: sky within {:.0}° of the zenith of {:.3}° {}, {:.3}° {} once a day; markers blue (first) to red (last)",
                x.max_zenith_deg,
                x.site.latitude_deg.abs(),
                if x.site.latitude_deg >= 0.0 { "N" } else { "S" },
                x.site.longitude_deg.abs(),
                if x.site.longitude_deg >= 0.0 {
                    "E"
                } else {
                    "W"
                },
            ),
            None => format!(
                "{lon_name} increases to the left; {lat_name} up; markers blue (first) to red (last)"
            ),
        };
        chart
            .draw_series([Text::new(
                note,
                (-XMAX * 1.02, -YMAX * 1.06),
                ("sans-serif", 12).into_font(),
            )])
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// The exposed part of the map as strips one degree of latitude high, each a polygon
/// between two parallels over a run of exposed longitudes.
fn exposure_strips(frame: SkyFrame, exposure: &Exposure) -> Vec<Vec<(f64, f64)>> {
    let mut strips = Vec::new();
    for lat in -90..90 {
        let mid = f64::from(lat) + 0.5;
        let seen = |lon: i32| {
            let (ra, dec) =
                frame.to_equatorial((f64::from(lon) + 0.5).to_radians(), mid.to_radians());
            exposure.sees(ra.to_degrees(), dec.to_degrees())
        };
        let mut lon = -180;
        while lon < 180 {
            if !seen(lon) {
                lon += 1;
                continue;
            }
            let start = lon;
            while lon < 180 && seen(lon) {
                lon += 1;
            }
            let (lo, hi) = (f64::from(lat), f64::from(lat + 1));
            let mut polygon: Vec<(f64, f64)> = (start..=lon)
                .map(|l| hammer_aitoff(f64::from(l).min(179.999), lo))
                .collect();
            polygon.extend(
                (start..=lon)
                    .rev()
                    .map(|l| hammer_aitoff(f64::from(l).min(179.999), hi)),
            );
            strips.push(polygon);
        }
    }
    strips
}

/// `YYYY-MM-DD HH:MM:SS` of a UTC in ns.
fn utc_text(utc_ns: i64) -> String {
    let secs = utc_ns.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_the_civil_date() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        assert_eq!(utc_text(1_700_000_000_000_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn one_marker_per_shower_and_the_band_where_the_site_looks() {
        let events: Vec<MapEvent> = (0..5)
            .map(|i| MapEvent {
                id: i,
                lon_deg: 30.0 * i as f64,
                lat_deg: 10.0,
                utc_ns: Some(i as i64 * 1_000_000_000),
            })
            .collect();
        let exposure = Exposure {
            site: Site::default(),
            max_zenith_deg: 60.0,
        };
        let svg = sky_map_svg(
            "t",
            SkyFrame::Galactic,
            &events,
            Some(exposure),
            Some((0.0, 0.0)),
        )
        .expect("draws");
        assert!(svg.contains("zenith at the first shower"));
        assert_eq!(svg.matches("<circle").count(), 5);
        // Dec < −29.6° is out of sight: the south celestial pole (b = −27.1°,
        // l = 302.9°) is not shaded, the north one is.
        let strips = exposure_strips(SkyFrame::Galactic, &exposure);
        let covers = |lon: f64, lat: f64| {
            let (x, y) = hammer_aitoff(lon, lat);
            strips.iter().any(|p| inside(p, (x, y)))
        };
        assert!(!covers(302.9, -27.1));
        assert!(covers(122.9, 27.1));
        // The first marker is blue, the last red.
        assert!(
            svg.contains("#1E3CFA") || svg.contains("#1e3cfa"),
            "{}",
            &svg[..200]
        );
        assert!(svg.contains("#F0001E") || svg.contains("#f0001e"));
    }

    fn inside(polygon: &[(f64, f64)], p: (f64, f64)) -> bool {
        let mut inside = false;
        let mut j = polygon.len() - 1;
        for i in 0..polygon.len() {
            let (a, b) = (polygon[i], polygon[j]);
            if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}
