//! The event mapper against fixed points of the sky and positions computed by astropy.
#![cfg(feature = "physics")]

use components::physics::sky::{EventMapper, Site, SkyFrame, greenwich_sidereal_time};

/// Angle between two directions given as (longitude, latitude) in degrees.
fn separation_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (l1, b1) = (a.0.to_radians(), a.1.to_radians());
    let (l2, b2) = (b.0.to_radians(), b.1.to_radians());
    let c = b1.sin() * b2.sin() + b1.cos() * b2.cos() * (l1 - l2).cos();
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

#[test]
fn galactic_centre_and_north_galactic_pole() {
    let (l, b) =
        SkyFrame::Galactic.from_equatorial(266.405_f64.to_radians(), (-28.936_f64).to_radians());
    assert!(separation_deg((l.to_degrees(), b.to_degrees()), (0.0, 0.0)) < 0.001);
    let (_, b) =
        SkyFrame::Galactic.from_equatorial(192.859_f64.to_radians(), 27.128_f64.to_radians());
    assert!((b.to_degrees() - 90.0).abs() < 0.001, "{}", b.to_degrees());
    // And back.
    let (ra, dec) = SkyFrame::Galactic.to_equatorial(0.0, 90_f64.to_radians());
    assert!(separation_deg((ra.to_degrees(), dec.to_degrees()), (192.859, 27.128)) < 0.001);
}

#[test]
fn the_zenith_is_at_the_local_sidereal_time_and_the_latitude() {
    for (lat, lon) in [(30.428, -84.285), (-45.0, 170.5), (69.65, 18.96)] {
        let site = Site::new(lat, lon, 0.0).unwrap();
        for utc_ns in [0, 946_728_000_000_000_000, 1_700_000_000_123_456_789] {
            let (ra, dec) = site.to_equatorial_of_date(utc_ns, [0.0, 0.0, 1.0]);
            let lst = site.local_sidereal_time(utc_ns);
            assert!((ra - lst).abs() < 1e-9, "RA {ra} vs LST {lst}");
            assert!((dec.to_degrees() - lat).abs() < 1e-9);
        }
    }
}

struct Case {
    utc_ns: i64,
    site: Site,
    zenith_deg: f64,
    azimuth_deg: f64,
    lmst_deg: f64,
    radec: (f64, f64),
    lb: (f64, f64),
}

fn reference() -> Vec<Case> {
    let text = include_str!("data/sky_reference.csv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("utc_ns"))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f[i].parse::<f64>().unwrap();
            Case {
                utc_ns: f[0].parse().unwrap(),
                site: Site::new(n(1), n(2), n(3)).unwrap(),
                zenith_deg: n(4),
                azimuth_deg: n(5),
                lmst_deg: n(6),
                radec: (n(7), n(8)),
                lb: (n(9), n(10)),
            }
        })
        .collect()
}

#[test]
fn sidereal_time_agrees_with_astropy() {
    let cases = reference();
    assert_eq!(cases.len(), 40);
    for c in &cases {
        let lst = c.site.local_sidereal_time(c.utc_ns).to_degrees();
        let d = (lst - c.lmst_deg + 180.0).rem_euclid(360.0) - 180.0;
        // UT1 − UTC (≤ 0.9 s) is 0.004° of rotation.
        assert!(d.abs() < 0.005, "LMST {lst} vs astropy {}", c.lmst_deg);
    }
}

#[test]
fn directions_agree_with_astropy_to_two_hundredths_of_a_degree() {
    let mut worst = (0.0_f64, 0.0_f64);
    for c in reference() {
        let mut mapper = EventMapper::new(c.site);
        let (s, co) = (c.zenith_deg.to_radians().sin(), c.azimuth_deg.to_radians());
        let sky = mapper
            .map(c.utc_ns, [s * co.cos(), s * co.sin()], [[0.0; 2]; 2])
            .expect("above the horizon");
        let eq = separation_deg((sky.equatorial.lon_deg, sky.equatorial.lat_deg), c.radec);
        let gal = separation_deg((sky.galactic.lon_deg, sky.galactic.lat_deg), c.lb);
        worst = (worst.0.max(eq), worst.1.max(gal));
        assert!(
            eq < 0.02 && gal < 0.02,
            "equatorial off by {eq}°, galactic by {gal}°"
        );
    }
    eprintln!(
        "worst separation from astropy: equatorial {:.4}°, galactic {:.4}°",
        worst.0, worst.1
    );
    // The effects left out amount to about 0.01°, not less: the comparison is real.
    assert!(worst.0 > 0.001, "{worst:?}");
}

#[test]
fn errors_follow_the_direction_covariance() {
    let site = Site::default();
    let utc_ns = 1_650_000_000_000_000_000;
    let (ax, ay) = (0.3, -0.2);
    let cov = [[4e-4, 1e-4], [1e-4, 1e-4]];
    let mut mapper = EventMapper::new(site);
    let sky = mapper.map(utc_ns, [ax, ay], cov).unwrap();
    // Finite differences: the tangent-plane shift of a small step in each cosine.
    let h = 1e-6;
    let mut shift = |dx: f64, dy: f64| {
        let moved = mapper
            .map(utc_ns, [ax + dx, ay + dy], [[0.0; 2]; 2])
            .unwrap();
        let c = sky.galactic;
        let m = moved.galactic;
        let dl = ((m.lon_deg - c.lon_deg + 180.0).rem_euclid(360.0) - 180.0)
            * c.lat_deg.to_radians().cos();
        (dl / h, (m.lat_deg - c.lat_deg) / h)
    };
    let (jx, jy) = (shift(h, 0.0), shift(0.0, h));
    let var = |a: f64, b: f64| a * a * cov[0][0] + 2.0 * a * b * cov[0][1] + b * b * cov[1][1];
    let lon_err = var(jx.0, jy.0).sqrt();
    let lat_err = var(jx.1, jy.1).sqrt();
    assert!(
        (sky.galactic.lon_err_deg / lon_err - 1.0).abs() < 1e-3,
        "{} vs {lon_err}",
        sky.galactic.lon_err_deg
    );
    assert!(
        (sky.galactic.lat_err_deg / lat_err - 1.0).abs() < 1e-3,
        "{} vs {lat_err}",
        sky.galactic.lat_err_deg
    );
    // The frames differ by a rotation of the tangent plane, which keeps the trace of
    // the covariance: σ_lon² + σ_lat² is the same in both.
    let total = |c: components::physics::sky::SkyCoordinate| c.lon_err_deg.hypot(c.lat_err_deg);
    assert!((total(sky.galactic) / total(sky.equatorial) - 1.0).abs() < 1e-9);
    // The frames' axes differ here, so the split between the two does too.
    assert!((sky.galactic.lat_err_deg - sky.equatorial.lat_err_deg).abs() > 0.01);
}

#[test]
fn below_the_horizon_has_no_place_on_the_sky() {
    let mut mapper = EventMapper::new(Site::default());
    assert!(mapper.map(0, [0.8, 0.7], [[0.0; 2]; 2]).is_none());
    assert!(mapper.map(0, [f64::NAN, 0.0], [[0.0; 2]; 2]).is_none());
    // Sidereal time runs 360.9856° a day.
    let day = 86_400_000_000_000;
    let d = (greenwich_sidereal_time(day) - greenwich_sidereal_time(0)).to_degrees();
    assert!((d.rem_euclid(360.0) - 0.985_647).abs() < 1e-4, "{d}");
}
