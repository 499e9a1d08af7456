//! Where on the sky a shower came from: the detector site, sidereal time, and the
//! transformations from the local horizon frame to equatorial J2000 (RA, Dec) and
//! galactic (l, b) coordinates.
//!
//! # Frames and accuracy
//!
//! The local frame is the layout's: `x` east, `y` north, `z` up; a direction is the
//! unit vector towards its source. The chain is
//!
//! 1. local (east, north, up) → mean equator and equinox of date, by the local
//!    sidereal time and the site's latitude;
//! 2. of date → J2000 by the IAU 1976 precession (Lieske et al. 1977);
//! 3. J2000 → galactic by the IAU 1958 definition in its FK5 form (the matrix of the
//!    Hipparcos catalogue, vol. 1, §1.5.3).
//!
//! Sidereal time is the IAU 2006 GMST (Capitaine et al. 2003) from the Earth rotation
//! angle, with UT1 taken equal to UTC and TT − UTC neglected in the slow terms.
//! Nutation (≤ 17″), annual aberration (≤ 21″), UT1 − UTC (≤ 0.9 s, ≤ 14″ in RA) and
//! polar motion (< 1″) are left out: together below 0.02°, a hundred times finer than
//! a shower direction from a few detectors 10 m apart. Refraction does not apply to
//! shower particles. The site's altitude does not change a direction; it is kept for
//! the record. `tests/data/sky_reference.csv` holds positions computed by astropy with
//! every one of these effects included; the tests check that the difference stays
//! below 0.02°.
//!
//! No crate is used for the time scales: the only time scale needed is UTC (UT1 and
//! TT differ from it by effects far below the accuracy above), and the sidereal-time
//! formula is a few lines. `hifitime` would give TT and UT1 with leap seconds and IERS
//! tables, none of which changes a result here by more than 0.001°.
//!
//! # Examples
//!
//! ```
//! use components::physics::sky::{Site, SkyFrame};
//!
//! // The galactic centre is at l = 0, b = 0.
//! let (l, b) = SkyFrame::Galactic.from_equatorial(266.405_f64.to_radians(), (-28.936_f64).to_radians());
//! assert!(l.to_degrees().abs() < 0.01 || (l.to_degrees() - 360.0).abs() < 0.01);
//! assert!(b.to_degrees().abs() < 0.01);
//!
//! // The zenith of a site is at RA = local sidereal time, Dec = latitude.
//! let site = Site::new(30.428, -84.285, 20.0)?;
//! let utc_ns = 1_700_000_000_000_000_000;
//! let (ra, dec) = site.to_equatorial_of_date(utc_ns, [0.0, 0.0, 1.0]);
//! assert!((ra - site.local_sidereal_time(utc_ns)).abs() < 1e-12);
//! assert!((dec.to_degrees() - 30.428).abs() < 1e-9);
//! # Ok::<(), components::physics::sky::SiteError>(())
//! ```

use std::f64::consts::{PI, TAU};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Julian date of the Unix epoch (1970-01-01T00:00 UTC).
const JD_UNIX_EPOCH: f64 = 2_440_587.5;
/// Julian date of J2000.0.
const JD_J2000: f64 = 2_451_545.0;
/// Nanoseconds per day.
const NS_PER_DAY: f64 = 86_400e9;
/// Radians per arcsecond.
const ARCSEC: f64 = PI / (180.0 * 3600.0);

/// ICRS/FK5 J2000 equatorial → galactic rotation (rows: galactic x, y, z axes).
const EQ_TO_GAL: [[f64; 3]; 3] = [
    [
        -0.054_875_560_416_215_4,
        -0.873_437_090_234_885,
        -0.483_835_015_548_713_2,
    ],
    [
        0.494_109_427_875_583_7,
        -0.444_829_629_960_011_2,
        0.746_982_244_497_219,
    ],
    [
        -0.867_666_149_019_004_7,
        -0.198_076_373_431_201_5,
        0.455_983_776_175_066_9,
    ],
];

/// Why a site is refused.
///
/// # Examples
///
/// ```
/// use components::physics::sky::{Site, SiteError};
/// assert!(matches!(Site::new(91.0, 0.0, 0.0), Err(SiteError::Latitude(_))));
/// assert!("30.4".parse::<Site>().is_err()); // longitude missing
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// Latitude outside [−90°, 90°] or not a number.
    #[error("latitude {0}° is not in [-90, 90]")]
    Latitude(f64),
    /// Longitude outside [−180°, 360°] or not a number.
    #[error("longitude {0}° is not in [-180, 360]")]
    Longitude(f64),
    /// Altitude not finite.
    #[error("altitude {0} m is not a finite number")]
    Altitude(f64),
    /// A `LAT,LON[,ALT]` text that does not parse.
    #[error("site `{0}`: expected LAT,LON[,ALT] in degrees (north, east) and metres")]
    Syntax(String),
    /// A site file that cannot be read.
    #[error("site file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The reason.
        source: std::io::Error,
    },
    /// A site file that is not a site.
    #[error("site file {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The reason.
        source: serde_json::Error,
    },
}

/// Where the detector stands: geodetic latitude and longitude (degrees north, east)
/// and altitude (m above the ellipsoid).
///
/// Parses from `LAT,LON[,ALT]`; [`Site::from_file`] reads a JSON site file
/// (`{"latitude_deg": 30.428, "longitude_deg": -84.285, "altitude_m": 20}`).
///
/// # Examples
///
/// ```
/// use components::physics::sky::Site;
/// let site: Site = "30.428,-84.285,20".parse()?;
/// assert_eq!(site, Site::new(30.428, -84.285, 20.0)?);
/// assert_eq!(site, Site::default()); // the COSMICi site, FAMU, Tallahassee
/// # Ok::<(), components::physics::sky::SiteError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Latitude, degrees north.
    pub latitude_deg: f64,
    /// Longitude, degrees east.
    pub longitude_deg: f64,
    /// Altitude, m.
    #[serde(default)]
    pub altitude_m: f64,
}

impl Default for Site {
    /// The COSMICi detector's site at FAMU, Tallahassee (the position in its GPS
    /// `$GPRMC` sentences: 30°25.676′ N, 84°17.112′ W), 20 m.
    fn default() -> Self {
        Site {
            latitude_deg: 30.428,
            longitude_deg: -84.285,
            altitude_m: 20.0,
        }
    }
}

impl FromStr for Site {
    type Err = SiteError;

    fn from_str(s: &str) -> Result<Self, SiteError> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let num = |t: &str| {
            t.parse::<f64>()
                .map_err(|_| SiteError::Syntax(s.to_owned()))
        };
        match parts.as_slice() {
            [lat, lon] => Site::new(num(lat)?, num(lon)?, 0.0),
            [lat, lon, alt] => Site::new(num(lat)?, num(lon)?, num(alt)?),
            _ => Err(SiteError::Syntax(s.to_owned())),
        }
    }
}

impl Site {
    /// A site, checked.
    ///
    /// # Errors
    ///
    /// [`SiteError`] for a latitude outside ±90°, a longitude outside [−180°, 360°],
    /// or a non-finite value.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// assert!(Site::new(-24.6, 289.6, 5200.0).is_ok()); // longitudes may run to 360°
    /// assert!(Site::new(0.0, 0.0, f64::NAN).is_err());
    /// ```
    pub fn new(latitude_deg: f64, longitude_deg: f64, altitude_m: f64) -> Result<Self, SiteError> {
        if !(-90.0..=90.0).contains(&latitude_deg) {
            return Err(SiteError::Latitude(latitude_deg));
        }
        if !(-180.0..=360.0).contains(&longitude_deg) {
            return Err(SiteError::Longitude(longitude_deg));
        }
        if !altitude_m.is_finite() {
            return Err(SiteError::Altitude(altitude_m));
        }
        Ok(Site {
            latitude_deg,
            longitude_deg,
            altitude_m,
        })
    }

    /// Reads a JSON site file.
    ///
    /// # Errors
    ///
    /// [`SiteError::File`], [`SiteError::Json`], or a range error as [`Site::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// let path = std::env::temp_dir().join(format!("site-doc-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"latitude_deg": 51.48, "longitude_deg": 0.0, "altitude_m": 45}"#)?;
    /// assert_eq!(Site::from_file(&path)?.latitude_deg, 51.48);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SiteError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SiteError::File {
            path: name.clone(),
            source,
        })?;
        let site: Site =
            serde_json::from_str(&text).map_err(|source| SiteError::Json { path: name, source })?;
        Site::new(site.latitude_deg, site.longitude_deg, site.altitude_m)
    }

    /// Local mean sidereal time at `utc_ns` (ns since the Unix epoch), radians in [0, 2π).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// // At Greenwich, at 2000-01-01T12:00 UT, GMST is 280.4606°.
    /// let greenwich = Site::new(51.48, 0.0, 0.0)?;
    /// let lst = greenwich.local_sidereal_time(946_728_000_000_000_000).to_degrees();
    /// assert!((lst - 280.4606).abs() < 0.0001, "{lst}");
    /// # Ok::<(), components::physics::sky::SiteError>(())
    /// ```
    pub fn local_sidereal_time(&self, utc_ns: i64) -> f64 {
        (greenwich_sidereal_time(utc_ns) + self.longitude_deg.to_radians()).rem_euclid(TAU)
    }

    /// The local east, north and up unit vectors in the equatorial frame of date.
    fn basis_of_date(&self, utc_ns: i64) -> [[f64; 3]; 3] {
        let (sl, cl) = self.local_sidereal_time(utc_ns).sin_cos();
        let (sp, cp) = self.latitude_deg.to_radians().sin_cos();
        [
            [-sl, cl, 0.0],
            [-sp * cl, -sp * sl, cp],
            [cp * cl, cp * sl, sp],
        ]
    }

    /// A local direction (unit vector east, north, up) as right ascension and
    /// declination of the mean equator and equinox of date, radians.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::Site;
    /// let site = Site::new(-30.0, 20.0, 0.0)?;
    /// // Due south on the horizon, seen from 30° S: 30° above the south celestial pole.
    /// let (_, dec) = site.to_equatorial_of_date(0, [0.0, -1.0, 0.0]);
    /// assert!((dec.to_degrees() + 60.0).abs() < 1e-9);
    /// # Ok::<(), components::physics::sky::SiteError>(())
    /// ```
    pub fn to_equatorial_of_date(&self, utc_ns: i64, local: [f64; 3]) -> (f64, f64) {
        let b = self.basis_of_date(utc_ns);
        spherical(combine(&b, local))
    }
}

/// Greenwich mean sidereal time (IAU 2006) at `utc_ns`, radians in [0, 2π).
///
/// # Examples
///
/// ```
/// use components::physics::sky::greenwich_sidereal_time;
/// // A sidereal day is 86 164.0905 s: after it GMST is back where it was.
/// let t = 1_600_000_000_000_000_000_i64;
/// let later = t + 86_164_090_500_000;
/// let d = (greenwich_sidereal_time(later) - greenwich_sidereal_time(t)).to_degrees();
/// assert!(d.abs() < 1e-4 || (d.abs() - 360.0).abs() < 1e-4, "{d}");
/// ```
pub fn greenwich_sidereal_time(utc_ns: i64) -> f64 {
    // Whole days and the fraction apart, so that f64 keeps sub-millisecond precision.
    let days = utc_ns.div_euclid(86_400_000_000_000);
    let frac = utc_ns.rem_euclid(86_400_000_000_000) as f64 / NS_PER_DAY;
    // Days since J2000.0: 2 440 587.5 − 2 451 545.0 = −10 957.5.
    let du = (days - 10_957) as f64 + (frac - 0.5);
    // Earth rotation angle (IERS Conventions 2010, eq. 5.15); the whole turns of
    // 1.0 × du drop out, leaving the day fraction.
    let era = TAU * (0.779_057_273_264 + 0.002_737_811_911_354_48 * du + (frac - 0.5));
    let t = du / 36_525.0;
    let poly = 0.014_506
        + t * (4_612.156_534
            + t * (1.391_581_7 + t * (-0.000_000_44 + t * (-0.000_029_956 - t * 0.000_000_036_8))));
    (era + poly * ARCSEC).rem_euclid(TAU)
}

/// Precession matrix from the mean equator and equinox of J2000 to that of date
/// (IAU 1976), `t` in Julian centuries since J2000.
fn precession(t: f64) -> [[f64; 3]; 3] {
    let zeta = (2306.2181 + (0.30188 + 0.017998 * t) * t) * t * ARCSEC;
    let z = (2306.2181 + (1.09468 + 0.018203 * t) * t) * t * ARCSEC;
    let theta = (2004.3109 - (0.42665 + 0.041833 * t) * t) * t * ARCSEC;
    let (sz, cz) = zeta.sin_cos();
    let (sw, cw) = z.sin_cos();
    let (st, ct) = theta.sin_cos();
    [
        [cw * ct * cz - sw * sz, -cw * ct * sz - sw * cz, -cw * st],
        [sw * ct * cz + cw * sz, -sw * ct * sz + cw * cz, -sw * st],
        [st * cz, -st * sz, ct],
    ]
}

/// `m · v`.
fn apply(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// `mᵀ · v`.
fn apply_transposed(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[1][0] * v[1] + m[2][0] * v[2],
        m[0][1] * v[0] + m[1][1] * v[1] + m[2][1] * v[2],
        m[0][2] * v[0] + m[1][2] * v[1] + m[2][2] * v[2],
    ]
}

/// `Σ v[i] · rows[i]`: a vector given in the basis `rows`.
fn combine(rows: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    apply_transposed(rows, v)
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Longitude in [0, 2π) and latitude of a unit vector.
fn spherical(v: [f64; 3]) -> (f64, f64) {
    (
        v[1].atan2(v[0]).rem_euclid(TAU),
        v[2].clamp(-1.0, 1.0).asin(),
    )
}

/// The unit vector of a longitude and latitude.
fn cartesian(lon: f64, lat: f64) -> [f64; 3] {
    let (sl, cl) = lon.sin_cos();
    let (sb, cb) = lat.sin_cos();
    [cb * cl, cb * sl, sb]
}

/// The east and north unit vectors of the tangent plane at `(lon, lat)`.
fn tangent(lon: f64, lat: f64) -> ([f64; 3], [f64; 3]) {
    let (sl, cl) = lon.sin_cos();
    let (sb, cb) = lat.sin_cos();
    ([-sl, cl, 0.0], [-sb * cl, -sb * sl, cb])
}

/// A celestial coordinate frame.
///
/// # Examples
///
/// ```
/// use components::physics::sky::SkyFrame;
/// // The north galactic pole.
/// let (_, b) = SkyFrame::Galactic.from_equatorial(192.859_f64.to_radians(), 27.128_f64.to_radians());
/// assert!((b.to_degrees() - 90.0).abs() < 0.01);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SkyFrame {
    /// Equatorial J2000: right ascension, declination.
    Equatorial,
    /// Galactic: longitude l, latitude b.
    Galactic,
}

impl SkyFrame {
    /// J2000 `(ra, dec)` in this frame, radians (longitude in [0, 2π)).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::SkyFrame;
    /// assert_eq!(SkyFrame::Equatorial.from_equatorial(1.0, 0.5), (1.0, 0.5));
    /// ```
    pub fn from_equatorial(self, ra: f64, dec: f64) -> (f64, f64) {
        match self {
            SkyFrame::Equatorial => (ra, dec),
            SkyFrame::Galactic => spherical(apply(&EQ_TO_GAL, cartesian(ra, dec))),
        }
    }

    /// This frame's `(lon, lat)` as J2000 `(ra, dec)`, radians.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::SkyFrame;
    /// let (ra, dec) = SkyFrame::Galactic.to_equatorial(0.0, 0.0);
    /// assert!((ra.to_degrees() - 266.405).abs() < 0.01 && (dec.to_degrees() + 28.936).abs() < 0.01);
    /// ```
    pub fn to_equatorial(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            SkyFrame::Equatorial => (lon, lat),
            SkyFrame::Galactic => spherical(apply_transposed(&EQ_TO_GAL, cartesian(lon, lat))),
        }
    }
}

/// A position on the sky with its 1σ errors, degrees.
///
/// The longitude error is the arc along the parallel (`σ(lon · cos lat)`), so it stays
/// finite at the poles.
///
/// # Examples
///
/// ```
/// use components::physics::sky::SkyCoordinate;
/// let c = SkyCoordinate { lon_deg: 10.0, lat_deg: -5.0, lon_err_deg: 0.5, lat_err_deg: 0.7 };
/// assert!(c.lat_err_deg > c.lon_err_deg);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkyCoordinate {
    /// Longitude (RA or l), degrees in [0, 360).
    pub lon_deg: f64,
    /// Latitude (Dec or b), degrees.
    pub lat_deg: f64,
    /// 1σ arc along the parallel, degrees.
    pub lon_err_deg: f64,
    /// 1σ in latitude, degrees.
    pub lat_err_deg: f64,
}

/// A shower's arrival direction on the sky.
///
/// # Examples
///
/// ```
/// use components::physics::sky::{EventMapper, Site};
/// let mut mapper = EventMapper::new(Site::default());
/// let sky = mapper.map(1_700_000_000_000_000_000, [0.0, 0.0], [[0.0; 2]; 2]).expect("physical");
/// assert!((sky.equatorial.lat_deg - 30.428).abs() < 0.2); // zenith: Dec ≈ latitude (precessed)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkyPosition {
    /// Equatorial J2000: RA, Dec.
    pub equatorial: SkyCoordinate,
    /// Galactic: l, b.
    pub galactic: SkyCoordinate,
}

/// Maps shower directions (local direction cosines at an event time) to J2000 and
/// galactic coordinates, with errors propagated from the direction's covariance.
///
/// It caches the precession matrix for a day of event time (precession moves a
/// direction by 0.004″ a day), so a stream of events costs a handful of
/// trigonometric calls each.
///
/// # Examples
///
/// ```
/// use components::physics::sky::{EventMapper, Site};
///
/// let mut mapper = EventMapper::new(Site::new(30.428, -84.285, 20.0)?);
/// // 30° from the zenith towards the east, cosines known to ±0.01.
/// let s = 30f64.to_radians().sin();
/// let cov = [[1e-4, 0.0], [0.0, 1e-4]];
/// let sky = mapper.map(1_700_000_000_000_000_000, [s, 0.0], cov).expect("above the horizon");
/// // A rotation keeps the size of the error: 0.01 in a cosine is ~0.57° of arc
/// // north-south, 0.66° east-west at 30° zenith (d a_x = cos θ dθ).
/// assert!((sky.equatorial.lat_err_deg - 0.573).abs() < 0.15);
/// assert!(sky.galactic.lon_err_deg > 0.5 && sky.galactic.lon_err_deg < 0.7);
/// # Ok::<(), components::physics::sky::SiteError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EventMapper {
    site: Site,
    day: i64,
    to_j2000: [[f64; 3]; 3],
}

impl EventMapper {
    /// A mapper for detectors at `site`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::{EventMapper, Site};
    /// let mapper = EventMapper::new(Site::default());
    /// assert_eq!(mapper.site(), Site::default());
    /// ```
    pub fn new(site: Site) -> Self {
        EventMapper {
            site,
            day: i64::MIN,
            to_j2000: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// The site.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::{EventMapper, Site};
    /// assert_eq!(EventMapper::new(Site::default()).site().longitude_deg, -84.285);
    /// ```
    pub fn site(&self) -> Site {
        self.site
    }

    /// Local direction cosines `(a_x, a_y)` (east, north; the direction towards the
    /// source) at `utc_ns`, with their 2×2 covariance, on the sky. `None` when the
    /// cosines are not a direction above the horizon (`a_x² + a_y² ≥ 1`, or not finite).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::physics::sky::{EventMapper, Site};
    /// let mut mapper = EventMapper::new(Site::default());
    /// assert!(mapper.map(0, [0.8, 0.7], [[0.0; 2]; 2]).is_none()); // unphysical
    /// ```
    pub fn map(
        &mut self,
        utc_ns: i64,
        cosines: [f64; 2],
        covariance: [[f64; 2]; 2],
    ) -> Option<SkyPosition> {
        let [ax, ay] = cosines;
        let rho2 = ax * ax + ay * ay;
        if rho2.is_nan() || rho2 >= 1.0 {
            return None;
        }
        let nz = (1.0 - rho2).sqrt();
        let day = utc_ns.div_euclid(86_400_000_000_000);
        if day != self.day {
            let t = ((day as f64 + 0.5) + JD_UNIX_EPOCH - JD_J2000) / 36_525.0;
            self.to_j2000 = precession(t);
            self.day = day;
        }
        let basis = self.site.basis_of_date(utc_ns);
        let to_j2000 = |local: [f64; 3]| apply_transposed(&self.to_j2000, combine(&basis, local));
        let n = to_j2000([ax, ay, nz]);
        // Derivatives of the direction by a_x and a_y, carried into J2000.
        let dx = to_j2000([1.0, 0.0, -ax / nz]);
        let dy = to_j2000([0.0, 1.0, -ay / nz]);
        let (ra, dec) = spherical(n);
        let equatorial = project(ra, dec, dx, dy, covariance);
        let g = apply(&EQ_TO_GAL, n);
        let (l, b) = spherical(g);
        let galactic = project(
            l,
            b,
            apply(&EQ_TO_GAL, dx),
            apply(&EQ_TO_GAL, dy),
            covariance,
        );
        Some(SkyPosition {
            equatorial,
            galactic,
        })
    }
}

/// The coordinate at `(lon, lat)` with the errors of a direction whose derivatives by
/// the two cosines are `dx`, `dy` and whose cosines have covariance `c`.
fn project(lon: f64, lat: f64, dx: [f64; 3], dy: [f64; 3], c: [[f64; 2]; 2]) -> SkyCoordinate {
    let (east, north) = tangent(lon, lat);
    let err = |axis: [f64; 3]| {
        let (jx, jy) = (dot(axis, dx), dot(axis, dy));
        (jx * jx * c[0][0] + 2.0 * jx * jy * c[0][1] + jy * jy * c[1][1])
            .max(0.0)
            .sqrt()
            .to_degrees()
    };
    SkyCoordinate {
        lon_deg: lon.to_degrees(),
        lat_deg: lat.to_degrees(),
        lon_err_deg: err(east),
        lat_err_deg: err(north),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precession_is_a_rotation_and_the_identity_at_j2000() {
        let p = precession(0.0);
        for (i, row) in p.iter().enumerate() {
            for (j, &x) in row.iter().enumerate() {
                assert!((x - f64::from(u8::from(i == j))).abs() < 1e-15);
            }
        }
        let p = precession(0.25);
        let v = apply(&p, [0.3, -0.5, 0.81]);
        let back = apply_transposed(&p, v);
        assert!((back[0] - 0.3).abs() < 1e-12 && (back[2] - 0.81).abs() < 1e-12);
        // 25 years of precession move the pole by θ ≈ 0.139°.
        let pole = apply(&p, [0.0, 0.0, 1.0]);
        assert!((pole[2].acos().to_degrees() - 0.139).abs() < 0.001);
    }
}
