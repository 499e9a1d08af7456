//! The seed's EventAnimator: one shower's plane front sweeping across the detector
//! layout, the detectors lighting up at their measured times, as an SVG that a browser
//! plays (SMIL animation, looping), or as a still frame at a chosen time.

use std::fmt::Write as _;

use super::PlotError;
use crate::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};

const SIZE: f64 = 640.0;
/// Seconds of animation for the shower's crossing, margins included.
const LOOP_S: f64 = 4.0;

/// One shower to animate: its hits and fitted direction.
///
/// # Examples
///
/// ```
/// use components::plots::ShowerFront;
/// let s = ShowerFront { id: 3, title: "shower 3".into(), hits: vec![(0, 10.0)], zenith_deg: 20.0, azimuth_deg: 45.0, front_time_ns: 12.0 };
/// assert_eq!(s.hits.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ShowerFront {
    /// The shower id.
    pub id: u64,
    /// Caption (e.g. with the UTC).
    pub title: String,
    /// `(detector, measured arrival time in ns)` of each hit.
    pub hits: Vec<(usize, f64)>,
    /// Fitted zenith angle, degrees.
    pub zenith_deg: f64,
    /// Fitted azimuth, degrees from east towards north.
    pub azimuth_deg: f64,
    /// Fitted time the front passes the layout origin, ns (same clock as the hits).
    pub front_time_ns: f64,
}

/// Draws `shower` on `layout` seen from above (east right, north up): the fitted
/// plane front as a line moving across the ground at its apparent speed c / sin θ, each
/// detector turning from grey to orange at its measured time with that time written
/// beside it, an arrow towards the source's azimuth, and a time line. With `at` (ns,
/// the hits' clock) a still frame at that time; otherwise a looping animation of
/// 4 s over the crossing.
///
/// # Errors
///
/// [`PlotError::Empty`] without hits; [`PlotError::Draw`] for a hit on a detector
/// the layout does not have.
///
/// # Examples
///
/// ```
/// use components::physics::layout::DetectorLayout;
/// use components::plots::{ShowerFront, front_svg};
///
/// let layout = DetectorLayout::grid(2, 2, 10.0)?;
/// let shower = ShowerFront {
///     id: 1,
///     title: "shower 1".into(),
///     hits: vec![(0, 0.0), (1, -16.7), (2, 0.0), (3, -16.7)], // from the east, 30° zenith
///     zenith_deg: 30.0,
///     azimuth_deg: 0.0,
///     front_time_ns: 0.0,
/// };
/// let svg = front_svg(&layout, &shower, None)?;
/// assert_eq!(svg.matches("<animate ").count(), 5); // one per detector, and the time cursor
/// assert!(svg.contains("animateTransform")); // the moving front
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn front_svg(
    layout: &DetectorLayout,
    shower: &ShowerFront,
    at: Option<f64>,
) -> Result<String, PlotError> {
    if shower.hits.is_empty() {
        return Err(PlotError::Empty("the shower has no hits"));
    }
    let positions = layout.positions();
    for &(d, _) in &shower.hits {
        if d >= positions.len() {
            return Err(PlotError::Draw(format!(
                "hit on detector {d}, but the layout has {} detectors",
                positions.len()
            )));
        }
    }
    // Plan view: fit the layout into the square with a margin.
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in positions {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    let span = (x1 - x0).max(y1 - y0).max(1.0);
    let scale = (SIZE - 240.0) / span;
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let px = |x: f64, y: f64| {
        (
            SIZE / 2.0 + (x - cx) * scale,
            SIZE / 2.0 + 20.0 - (y - cy) * scale,
        )
    };

    let times: Vec<f64> = shower.hits.iter().map(|h| h.1).collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let margin = ((last - first) * 0.4).max(10.0);
    let (t_start, t_end) = (first - margin, last + margin);
    let frac = |t: f64| ((t - t_start) / (t_end - t_start)).clamp(0.0, 1.0);

    let st = shower.zenith_deg.to_radians().sin();
    let (sa, ca) = shower.azimuth_deg.to_radians().sin_cos();
    let horizontal = [st * ca, st * sa]; // towards the source, on the ground
    let h = horizontal[0].hypot(horizontal[1]);
    let mut svg = String::new();
    let w = |svg: &mut String, s: String| {
        svg.push_str(&s);
        svg.push('\n');
    };
    w(
        &mut svg,
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{}" viewBox="0 0 {SIZE} {}" font-family="sans-serif">"#,
            SIZE + 40.0,
            SIZE + 40.0
        ),
    );
    w(
        &mut svg,
        r#"<rect width="100%" height="100%" fill="white"/>"#.to_owned(),
    );
    w(
        &mut svg,
        format!(
            r#"<text x="{}" y="26" font-size="17" text-anchor="middle">{}</text>"#,
            SIZE / 2.0,
            escape(&shower.title)
        ),
    );
    w(
        &mut svg,
        format!(
            r#"<text x="{}" y="48" font-size="13" text-anchor="middle">zenith {:.1}°, azimuth {:.1}° (from east towards north); {} detectors hit over {:.1} ns</text>"#,
            SIZE / 2.0,
            shower.zenith_deg,
            shower.azimuth_deg,
            shower.hits.len(),
            last - first
        ),
    );
    // Ground grid every 5 m (kept to the ground, clear of the titles) and the compass.
    w(&mut svg, r#"<defs><clipPath id="ground"><rect x="20" y="60" width="600" height="580"/></clipPath></defs>"#.to_owned());
    w(&mut svg, r#"<g clip-path="url(#ground)">"#.to_owned());
    let step = if span > 60.0 { 20.0 } else { 5.0 };
    let mut g = (x0 / step).floor() * step - step;
    while g <= x1 + step {
        let (a, b) = (px(g, y0 - step), px(g, y1 + step));
        w(
            &mut svg,
            format!(
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
                a.0, a.1, b.0, b.1
            ),
        );
        g += step;
    }
    let mut g = (y0 / step).floor() * step - step;
    while g <= y1 + step {
        let (a, b) = (px(x0 - step, g), px(x1 + step, g));
        w(
            &mut svg,
            format!(
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
                a.0, a.1, b.0, b.1
            ),
        );
        g += step;
    }
    w(&mut svg, "</g>".to_owned());

    // The front: the ground line n_h·r = c (t0 − t), moving along −n_h.
    let front_at = |t: f64| SPEED_OF_LIGHT * (shower.front_time_ns - t) / h.max(1e-12);
    let (ux, uy) = (horizontal[0] / h.max(1e-12), horizontal[1] / h.max(1e-12));
    let long = span * 3.0;
    let line_at = |d: f64| {
        let (mx, my) = (ux * d, uy * d);
        (
            px(mx - uy * long, my + ux * long),
            px(mx + uy * long, my - ux * long),
        )
    };
    if h > 1e-6 {
        let (a, b) = line_at(0.0);
        let (s0, s1) = (front_at(t_start), front_at(t_end));
        let shift = |d: f64| (ux * d * scale, -uy * d * scale);
        let moving = match at {
            Some(t) => {
                let (dx, dy) = shift(front_at(t));
                format!(r#" transform="translate({dx:.2} {dy:.2})""#)
            }
            None => String::new(),
        };
        w(
            &mut svg,
            format!(r#"<g clip-path="url(#ground)"><g{moving}>"#),
        );
        w(
            &mut svg,
            format!(
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#1f5fd0" stroke-width="4" stroke-opacity="0.8"/>"##,
                a.0, a.1, b.0, b.1
            ),
        );
        if at.is_none() {
            let (sx0, sy0) = shift(s0);
            let (sx1, sy1) = shift(s1);
            w(
                &mut svg,
                format!(
                    r#"<animateTransform attributeName="transform" type="translate" from="{sx0:.2} {sy0:.2}" to="{sx1:.2} {sy1:.2}" dur="{LOOP_S}s" repeatCount="indefinite"/>"#
                ),
            );
        }
        w(&mut svg, "</g></g>".to_owned());
        // Towards the source, from the layout's centre.
        let (c0x, c0y) = px(cx, cy);
        let (tx, ty) = (c0x + ux * 90.0, c0y - uy * 90.0);
        w(
            &mut svg,
            format!(
                r##"<line x1="{c0x:.1}" y1="{c0y:.1}" x2="{tx:.1}" y2="{ty:.1}" stroke="#1f5fd0" stroke-width="2" stroke-dasharray="6 4"/><circle cx="{tx:.1}" cy="{ty:.1}" r="4" fill="#1f5fd0"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#1f5fd0" stroke="white" stroke-width="3" paint-order="stroke">towards the source</text>"##,
                tx + 6.0,
                ty - 6.0
            ),
        );
    } else {
        w(
            &mut svg,
            format!(
                r##"<text x="{}" y="{}" font-size="13" fill="#1f5fd0" text-anchor="middle">vertical shower: the front reaches the ground everywhere at once</text>"##,
                SIZE / 2.0,
                SIZE - 10.0
            ),
        );
    }
    // Detectors: grey until their measured time, then orange.
    for (d, p) in positions.iter().enumerate() {
        let (x, y) = px(p[0], p[1]);
        let hit = shower.hits.iter().find(|h| h.0 == d).map(|h| h.1);
        let lit = |t: f64| hit.is_some_and(|ht| t >= ht);
        let base = match at {
            Some(t) if lit(t) => "#ff8c1a",
            _ => "#cccccc",
        };
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="16" fill="{base}" stroke="#333" stroke-width="1.5">"##
        );
        if let (None, Some(ht)) = (at, hit) {
            let f = frac(ht);
            let _ = write!(
                svg,
                r##"<animate attributeName="fill" values="#cccccc;#ff8c1a;#ff8c1a" keyTimes="0;{f:.4};1" calcMode="discrete" dur="{LOOP_S}s" repeatCount="indefinite"/>"##
            );
        }
        svg.push_str("</circle>\n");
        let label = match hit {
            Some(ht) => format!("d{d}: {:+.1} ns", ht - first),
            None => format!("d{d}: no hit"),
        };
        w(
            &mut svg,
            format!(
                r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle">{label}</text>"#,
                x,
                y + 34.0
            ),
        );
    }
    // Time line: the crossing, the hits as ticks, a cursor moving with the front.
    let (l0, l1, ly) = (60.0, SIZE - 60.0, SIZE + 8.0);
    w(
        &mut svg,
        format!(r##"<line x1="{l0}" y1="{ly}" x2="{l1}" y2="{ly}" stroke="#333"/>"##),
    );
    for &t in &times {
        let x = l0 + (l1 - l0) * frac(t);
        w(
            &mut svg,
            format!(
                r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#ff8c1a" stroke-width="2"/>"##,
                ly - 7.0,
                ly + 7.0
            ),
        );
    }
    let cursor_x = l0 + (l1 - l0) * at.map_or(0.0, frac);
    let _ = write!(
        svg,
        r##"<circle cx="{cursor_x:.1}" cy="{ly}" r="5" fill="#1f5fd0">"##
    );
    if at.is_none() {
        let _ = write!(
            svg,
            r#"<animate attributeName="cx" from="{l0}" to="{l1}" dur="{LOOP_S}s" repeatCount="indefinite"/>"#
        );
    }
    svg.push_str("</circle>\n");
    w(
        &mut svg,
        format!(
            r##"<text x="{l0}" y="{}" font-size="12" fill="#555">{:+.1} ns</text><text x="{l1}" y="{}" font-size="12" fill="#555" text-anchor="end">{:+.1} ns after the first hit ({LOOP_S} s of animation)</text>"##,
            ly + 22.0,
            t_start - first,
            ly + 22.0,
            t_end - first
        ),
    );
    if let Some(t) = at {
        w(
            &mut svg,
            format!(
                r##"<text x="{}" y="{}" font-size="13" fill="#1f5fd0" text-anchor="middle">frame at {:+.1} ns</text>"##,
                SIZE / 2.0,
                ly - 14.0,
                t - first
            ),
        );
    }
    // The compass last, over the moving front.
    w(
        &mut svg,
        format!(
            r##"<text x="{:.0}" y="{:.0}" font-size="12" fill="#888" stroke="white" stroke-width="3" paint-order="stroke">N ↑  E →  grid {step} m</text>"##,
            20.0, 72.0
        ),
    );
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shower() -> ShowerFront {
        // From the north-east at 40°: t = −(n·r)/c.
        let st = 40f64.to_radians().sin();
        let (sa, ca) = 45f64.to_radians().sin_cos();
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let hits = layout
            .positions()
            .iter()
            .enumerate()
            .map(|(d, p)| {
                (
                    d,
                    100.0 - (st * ca * p[0] + st * sa * p[1]) / SPEED_OF_LIGHT,
                )
            })
            .collect();
        ShowerFront {
            id: 1,
            title: "t".into(),
            hits,
            zenith_deg: 40.0,
            azimuth_deg: 45.0,
            front_time_ns: 100.0,
        }
    }

    #[test]
    fn detectors_light_in_the_order_the_front_reaches_them() {
        let layout = DetectorLayout::grid(2, 2, 10.0).expect("valid");
        let s = shower();
        // Detector 3 (north-east corner) is hit first, detector 0 last.
        let t3 = s.hits[3].1;
        let t0 = s.hits[0].1;
        let mid = front_svg(&layout, &s, Some((t3 + t0) / 2.0)).expect("draws");
        assert_eq!(
            mid.matches("#ff8c1a\" stroke=\"#333\"").count(),
            3,
            "three lit halfway"
        );
        let before = front_svg(&layout, &s, Some(t3 - 1.0)).expect("draws");
        assert_eq!(before.matches("#ff8c1a\" stroke=\"#333\"").count(), 0);
        let animated = front_svg(&layout, &s, None).expect("draws");
        assert_eq!(
            animated.matches("<animate ").count(),
            5,
            "4 detectors and the cursor"
        );
        assert!(
            front_svg(
                &layout,
                &ShowerFront {
                    hits: vec![(9, 0.0)],
                    ..s
                },
                None
            )
            .is_err()
        );
    }
}
