//! `ExactTime`: a time in nanoseconds held exactly as integer picoseconds.
//!
//! Station exports write absolute times as nanoseconds since 1970 (about 1.8×10¹⁸ ns),
//! which `f64` holds only in steps of 256 ns, and relative times in 2.5 ns steps such as
//! `1927.5`. [`ExactTime::parse`] reads the decimal text without going through a float;
//! differences are exact integers, and [`ExactTime::ns_since`] turns a (small) difference
//! into `f64` with a single rounding.
//!
//! # Examples
//!
//! ```rust
//! use components::physics::direction::time::ExactTime;
//!
//! let stamp = ExactTime::parse("1800000000000000000")?;
//! let hit = stamp + ExactTime::parse("1927.5")?;
//! assert_eq!(hit.to_string(), "1800000000000001927.5");
//! assert_eq!(hit.ns_since(stamp), 1927.5);
//! // Through f64 the half nanosecond (and more) is lost: steps are 256 ns there.
//! assert_eq!(1.8e18 + 1927.5, 1.8e18 + 1927.0);
//! # Ok::<(), components::physics::direction::time::TimeError>(())
//! ```

use std::fmt;
use std::ops::{Add, Neg, Sub};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Picoseconds per nanosecond.
const PS_PER_NS: i128 = 1000;

/// A time (or time difference) in ns, held as integer picoseconds.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::time::ExactTime;
///
/// let t = ExactTime::parse("-2.5")?;
/// assert_eq!(t.as_ps(), -2500);
/// assert_eq!(ExactTime::from_ns(3) - ExactTime::from_ps(500), ExactTime::parse("2.5")?);
/// # Ok::<(), components::physics::direction::time::TimeError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct ExactTime(i128);

/// Why a time could not be read.
///
/// # Examples
///
/// ```rust
/// use components::physics::direction::time::{ExactTime, TimeError};
///
/// assert_eq!(ExactTime::parse(""), Err(TimeError::Empty));
/// assert!(matches!(ExactTime::parse("12:30"), Err(TimeError::Malformed(_))));
/// assert!(matches!(ExactTime::parse("1e60"), Err(TimeError::OutOfRange(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    /// The field is empty.
    #[error("empty time")]
    Empty,
    /// Not a decimal number.
    #[error("not a decimal time in ns: {0:?}")]
    Malformed(String),
    /// Beyond ±10²⁶ ns (3×10⁹ years).
    #[error("time out of range: {0:?}")]
    OutOfRange(String),
}

/// Largest magnitude accepted, ps (10²⁶ ns).
const LIMIT_PS: i128 = 100_000_000_000_000_000_000_000_000_000;

impl ExactTime {
    /// Zero.
    pub const ZERO: ExactTime = ExactTime(0);

    /// A time of `ps` picoseconds.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(ExactTime::from_ps(2500).to_string(), "2.5");
    /// ```
    pub const fn from_ps(ps: i128) -> Self {
        ExactTime(ps)
    }

    /// A whole number of nanoseconds.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(ExactTime::from_ns(-7).as_ps(), -7000);
    /// ```
    pub const fn from_ns(ns: i64) -> Self {
        ExactTime(ns as i128 * PS_PER_NS)
    }

    /// The nearest picosecond to `ns` (not exact: for offsets computed in `f64`).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(ExactTime::from_ns_f64(1.2345), ExactTime::from_ps(1235));
    /// ```
    pub fn from_ns_f64(ns: f64) -> Self {
        ExactTime((ns * 1000.0).round() as i128)
    }

    /// Picoseconds.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(ExactTime::from_ns(2).as_ps(), 2000);
    /// ```
    pub const fn as_ps(self) -> i128 {
        self.0
    }

    /// The time in ns as `f64` (rounded: an absolute time since 1970 loses up to 128 ns).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// assert_eq!(ExactTime::from_ps(2500).as_ns_f64(), 2.5);
    /// ```
    pub fn as_ns_f64(self) -> f64 {
        self.0 as f64 / PS_PER_NS as f64
    }

    /// `self − origin` in ns as `f64`: the exact difference, rounded once.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    /// let a = ExactTime::parse("1800000000000000000.025")?;
    /// let b = ExactTime::parse("1800000000000000002.5")?;
    /// assert_eq!(b.ns_since(a), 2.475);
    /// # Ok::<(), components::physics::direction::time::TimeError>(())
    /// ```
    pub fn ns_since(self, origin: ExactTime) -> f64 {
        (self.0 - origin.0) as f64 / PS_PER_NS as f64
    }

    /// Reads a decimal number of ns: optional sign, digits, optional fraction and optional
    /// exponent (`1927.5`, `-999`, `1.8e18`), exactly to the picosecond; finer digits are
    /// rounded to the nearest picosecond (half away from zero).
    ///
    /// # Errors
    ///
    /// [`TimeError`] when empty, not a decimal number, or beyond ±10²⁶ ns.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use components::physics::direction::time::ExactTime;
    ///
    /// assert_eq!(ExactTime::parse("1927.5")?.as_ps(), 1_927_500);
    /// assert_eq!(ExactTime::parse("+1.5e3")?, ExactTime::from_ns(1500));
    /// assert_eq!(ExactTime::parse("0.0004")?, ExactTime::ZERO);
    /// assert_eq!(ExactTime::parse("-0.0015")?, ExactTime::from_ps(-2));
    /// assert!(ExactTime::parse("NaN").is_err());
    /// # Ok::<(), components::physics::direction::time::TimeError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(TimeError::Empty);
        }
        let malformed = || TimeError::Malformed(text.to_owned());
        let range = || TimeError::OutOfRange(text.to_owned());
        let (negative, body) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = body[i + 1..].parse().map_err(|_| malformed())?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return Err(malformed());
        }
        // value = digits × 10^(exponent − fraction.len()) ns = digits × 10^shift ps.
        let digits = whole.trim_start_matches('0').to_owned() + fraction;
        let digits = digits.trim_start_matches('0');
        let shift = i64::from(exponent) - fraction.len() as i64 + 3;
        let mut value: i128 = 0;
        let mut kept = digits.len() as i64;
        if shift < 0 {
            // Digits below 1 ps: keep the rest, round on the first dropped digit.
            kept = digits.len() as i64 + shift;
        }
        let mut round_up = false;
        for (i, b) in digits.bytes().enumerate() {
            if (i as i64) < kept {
                value = value
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(i128::from(b - b'0')))
                    .filter(|v| *v <= LIMIT_PS)
                    .ok_or_else(range)?;
            } else {
                round_up = i as i64 == kept && b >= b'5';
                break;
            }
        }
        if round_up {
            value += 1;
        }
        if shift > 0 && value != 0 {
            for _ in 0..shift {
                value = value
                    .checked_mul(10)
                    .filter(|v| *v <= LIMIT_PS)
                    .ok_or_else(range)?;
            }
        }
        Ok(ExactTime(if negative { -value } else { value }))
    }
}

impl fmt::Display for ExactTime {
    /// Decimal ns with as few fraction digits as needed (`1927.5`, `-3`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let (whole, ps) = (magnitude / 1000, magnitude % 1000);
        if ps == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let fraction = format!("{ps:03}");
            write!(f, "{sign}{whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

impl Add for ExactTime {
    type Output = ExactTime;

    fn add(self, other: ExactTime) -> ExactTime {
        ExactTime(self.0 + other.0)
    }
}

impl Sub for ExactTime {
    type Output = ExactTime;

    fn sub(self, other: ExactTime) -> ExactTime {
        ExactTime(self.0 - other.0)
    }
}

impl Neg for ExactTime {
    type Output = ExactTime;

    fn neg(self) -> ExactTime {
        ExactTime(-self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_round_trips_to_the_picosecond() {
        for text in [
            "0",
            "1927.5",
            "-999",
            "-1",
            "1800000000000000000.025",
            "1799999999999999999.999",
            "-0.001",
        ] {
            assert_eq!(ExactTime::parse(text).expect(text).to_string(), text);
        }
        assert_eq!(ExactTime::parse("007.50").expect("ok").to_string(), "7.5");
        assert_eq!(ExactTime::parse(".5").expect("ok").as_ps(), 500);
        assert_eq!(ExactTime::parse("5.").expect("ok").as_ps(), 5000);
        assert_eq!(ExactTime::parse("2.5E-3").expect("ok").as_ps(), 3);
        assert_eq!(ExactTime::parse("0e5").expect("ok"), ExactTime::ZERO);
        for bad in ["", " ", ".", "-", "1.2.3", "1e", "inf", "0x10", "1,5"] {
            assert!(ExactTime::parse(bad).is_err(), "{bad:?}");
        }
    }
}
