//! GPS sentences passed through by the CTU, and decoders for the two the
//! server needs: `GPRMC` (UTC date and time) and `PDMETRAIM` (timing accuracy).
//!
//! The CTU's receiver is a DeLorme GPS2058 *(reading, from the original
//! server's sources)*, which speaks standard `GP…` sentences plus DeLorme's
//! proprietary `PDME…` ones:
//!
//! ```text
//! GPRMC,212143.013,A,3025.676,N,08417.112,W,0.0,0.0,161211,4.1,W
//! GPGGA,212559.000,3025.67523,N,08417.09543,W,1,07,1.2,083.67,M,-29.7,M,,
//! PDMETRAIM,0,1,0.000000045,1,17,0,0,0,0,0,0,0,0,0,0,0
//! ```
//!
//! `PDMETRAIM` fields *(reading)*: solution (0 = error under the alarm
//! threshold, 1 = over, 2 = unknown), valid (1 = yes), time error in seconds
//! (nine decimals), number of satellites removed, then the removed satellite
//! ids padded with zeros. The server treats GPS time as good when
//! [`Traim::time_good`] holds with the PROTOCOLS threshold of 100 ns.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::{GpsSentence, Traim};
//!
//! let s = GpsSentence::parse("PDMETRAIM,0,1,0.000000045,0").unwrap();
//! let traim = Traim::from_sentence(&s).unwrap();
//! assert_eq!(traim.accuracy_ns(), 45);
//! assert!(traim.time_good(Traim::DEFAULT_TIME_GOOD_NS));
//! ```

use std::fmt;

use super::error::GpsError;
use super::utc::UtcNanos;

/// A GPS sentence: its first field (the sentence id) and the fields after it.
///
/// The first field is kept verbatim, so DeLorme's header lines such as
/// `PDMEHEADER1: DeLORME GPS2058_HW_1.0.1` (no comma) round-trip;
/// [`GpsSentence::sentence_id`] gives the bare id.
///
/// # Examples
///
/// ```
/// use components::cosmici::GpsSentence;
///
/// let s = GpsSentence::parse("GPGGA,212559.000,,N").unwrap();
/// assert_eq!(s.kind, "GPGGA");
/// assert_eq!(s.fields, ["212559.000", "", "N"]);
/// assert_eq!(s.to_string(), "GPGGA,212559.000,,N");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GpsSentence {
    /// The first comma-separated field, e.g. `GPRMC`.
    pub kind: String,
    /// The fields after it, empty ones included.
    pub fields: Vec<String>,
}

impl GpsSentence {
    /// Whether `tag` (a first field) names a GPS sentence: its leading run of
    /// upper-case letters and digits is at least two long and starts with `GP`
    /// or `P`.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::GpsSentence;
    ///
    /// assert!(GpsSentence::is_gps_tag("GPRMC"));
    /// assert!(GpsSentence::is_gps_tag("PDMEHEADER1: DeLORME"));
    /// assert!(!GpsSentence::is_gps_tag("HOST_READY"));
    /// assert!(!GpsSentence::is_gps_tag("P"));
    /// ```
    pub fn is_gps_tag(tag: &str) -> bool {
        let id = leading_id(tag);
        id.len() >= 2 && (id.starts_with("GP") || id.starts_with('P'))
    }

    /// Parses an unframed sentence (no `$`, no checksum).
    ///
    /// # Errors
    ///
    /// [`GpsError::NotGps`] unless [`GpsSentence::is_gps_tag`] holds for the
    /// first field.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::GpsSentence;
    ///
    /// assert!(GpsSentence::parse("GPTXT,COSMICi Custom_Config_0.0.3").is_ok());
    /// assert!(GpsSentence::parse("ACK,1").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, GpsError> {
        let (tag, rest) = match text.split_once(',') {
            Some((tag, rest)) => (tag, Some(rest)),
            None => (text, None),
        };
        if !Self::is_gps_tag(tag) {
            return Err(GpsError::NotGps {
                tag: tag.to_owned(),
            });
        }
        Ok(Self::from_parts(tag, rest))
    }

    /// Builds a sentence from a first field and the text after its comma.
    pub(crate) fn from_parts(tag: &str, rest: Option<&str>) -> Self {
        Self {
            kind: tag.to_owned(),
            fields: rest
                .into_iter()
                .flat_map(|rest| rest.split(','))
                .map(str::to_owned)
                .collect(),
        }
    }

    /// The bare sentence id: the leading upper-case letters and digits of
    /// [`GpsSentence::kind`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::GpsSentence;
    ///
    /// let s = GpsSentence::parse("PDMEHEADER2: DeLORME GPS2058_FW_2.0.1").unwrap();
    /// assert_eq!(s.sentence_id(), "PDMEHEADER2");
    /// ```
    pub fn sentence_id(&self) -> &str {
        leading_id(&self.kind)
    }

    fn expect(&self, expected: &'static str, min: usize) -> Result<(), GpsError> {
        if self.sentence_id() != expected {
            return Err(GpsError::WrongSentence {
                expected,
                found: self.kind.clone(),
            });
        }
        if self.fields.len() < min {
            return Err(GpsError::TooFewFields {
                sentence: expected,
                min,
                found: self.fields.len(),
            });
        }
        Ok(())
    }
}

impl fmt::Display for GpsSentence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        self.fields
            .iter()
            .try_for_each(|field| write!(f, ",{field}"))
    }
}

fn leading_id(tag: &str) -> &str {
    let end = tag
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit()))
        .unwrap_or(tag.len());
    &tag[..end]
}

/// The parts of a `GPRMC` sentence the server uses.
///
/// # Examples
///
/// ```
/// use components::cosmici::{GpsSentence, Rmc};
///
/// let s = GpsSentence::parse("GPRMC,212143.013,A,3025.676,N,08417.112,W,0.0,0.0,161211,4.1,W").unwrap();
/// let rmc = Rmc::from_sentence(&s).unwrap();
/// assert!(rmc.valid);
/// assert_eq!(rmc.utc.unwrap().to_string(), "2011-12-16T21:21:43.013000000Z");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rmc {
    /// Status `A` (data valid) rather than `V` (warning).
    pub valid: bool,
    /// UTC of the fix, `None` when the time or date field is empty. Two-digit
    /// years are read as 1980–2079.
    pub utc: Option<UtcNanos>,
}

impl Rmc {
    /// Decodes a `GPRMC` sentence (at least the first nine fields).
    ///
    /// # Errors
    ///
    /// [`GpsError::WrongSentence`] for another sentence, [`GpsError::TooFewFields`],
    /// or [`GpsError::BadField`] for a status other than `A`/`V` or a time
    /// (`hhmmss[.fff]`) or date (`ddmmyy`) that is not a real instant.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{GpsSentence, Rmc};
    ///
    /// let s = GpsSentence::parse("GPRMC,,V,,,,,,,,,").unwrap();
    /// assert_eq!(Rmc::from_sentence(&s).unwrap(), Rmc { valid: false, utc: None });
    /// ```
    pub fn from_sentence(sentence: &GpsSentence) -> Result<Self, GpsError> {
        const GPRMC: &str = "GPRMC";
        sentence.expect(GPRMC, 9)?;
        let f = &sentence.fields;
        let bad = |field: &'static str, token: &str| GpsError::BadField {
            sentence: GPRMC,
            field,
            token: token.to_owned(),
        };
        let valid = match f[1].as_str() {
            "A" => true,
            "V" => false,
            other => return Err(bad("status", other)),
        };
        let (time, date) = (f[0].as_str(), f[8].as_str());
        if time.is_empty() || date.is_empty() {
            return Ok(Self { valid, utc: None });
        }
        let (h, m, s, nanos) = parse_hhmmss(time).ok_or_else(|| bad("time", time))?;
        let [dd, mo, yy] = parse_digit_pairs(date).ok_or_else(|| bad("date", date))?;
        let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
        let utc = UtcNanos::from_civil(i64::from(year), mo, dd, h, m, s, nanos)
            .ok_or_else(|| bad("date", date))?;
        Ok(Self {
            valid,
            utc: Some(utc),
        })
    }
}

/// `hhmmss` or `hhmmss.f…` → (h, m, s, ns); fractions past nine digits are cut.
fn parse_hhmmss(time: &str) -> Option<(u32, u32, u32, u32)> {
    let (whole, frac) = match time.split_once('.') {
        Some((whole, frac)) => (whole, frac),
        None => (time, ""),
    };
    let [h, m, s] = parse_digit_pairs(whole)?;
    if h > 23 || m > 59 || s > 60 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((h, m, s, nanos))
}

/// Six ASCII digits → three two-digit numbers.
fn parse_digit_pairs(text: &str) -> Option<[u32; 3]> {
    let b = text.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pair = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    Some([pair(0), pair(2), pair(4)])
}

/// The TRAIM solution status of a `PDMETRAIM` sentence.
///
/// # Examples
///
/// ```
/// use components::cosmici::{GpsSentence, Traim, TraimSolution};
///
/// let s = GpsSentence::parse("PDMETRAIM,2,0,0.000000000,0").unwrap();
/// assert_eq!(Traim::from_sentence(&s).unwrap().solution, TraimSolution::Unknown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraimSolution {
    /// `0`: timing error under the receiver's alarm threshold.
    UnderAlarm,
    /// `1`: timing error over the alarm threshold.
    OverAlarm,
    /// `2`: timing error cannot be determined.
    Unknown,
}

/// A decoded `PDMETRAIM` (DeLorme timing-integrity) sentence.
///
/// # Examples
///
/// ```
/// use components::cosmici::{GpsSentence, Traim, TraimSolution};
///
/// let s = GpsSentence::parse("PDMETRAIM,1,1,-0.000000250,1,17,0,0").unwrap();
/// let traim = Traim::from_sentence(&s).unwrap();
/// assert_eq!(traim.solution, TraimSolution::OverAlarm);
/// assert_eq!(traim.time_error_ns, -250);
/// assert_eq!(traim.removed_svids, [17]);
/// assert!(!traim.time_good(Traim::DEFAULT_TIME_GOOD_NS));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traim {
    /// Whether the timing error is under the receiver's alarm threshold.
    pub solution: TraimSolution,
    /// The receiver's valid flag.
    pub valid: bool,
    /// The receiver's estimated time error, in nanoseconds (rounded).
    pub time_error_ns: i64,
    /// Satellites removed from the timing solution, as counted by the receiver.
    pub removed: u32,
    /// Ids of the removed satellites (the zero padding dropped).
    pub removed_svids: Vec<u32>,
}

impl Traim {
    /// The accuracy PROTOCOLS.md calls good GPS time: ±100 ns.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{GpsSentence, Traim};
    ///
    /// let s = GpsSentence::parse("PDMETRAIM,0,1,0.000000100,0").unwrap();
    /// assert!(Traim::from_sentence(&s).unwrap().time_good(Traim::DEFAULT_TIME_GOOD_NS));
    /// ```
    pub const DEFAULT_TIME_GOOD_NS: u64 = 100;

    /// Decodes a `PDMETRAIM` sentence (at least its first four fields).
    ///
    /// # Errors
    ///
    /// [`GpsError::WrongSentence`], [`GpsError::TooFewFields`], or
    /// [`GpsError::BadField`] naming the field that does not decode.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{GpsSentence, Traim};
    ///
    /// let s = GpsSentence::parse("PDMETRAIM,0,1,0.000000045,2,05,12").unwrap();
    /// let traim = Traim::from_sentence(&s).unwrap();
    /// assert!(traim.valid);
    /// assert_eq!(traim.time_error_ns, 45);
    /// assert_eq!((traim.removed, traim.removed_svids), (2, vec![5, 12]));
    ///
    /// let rmc = GpsSentence::parse("GPRMC,,V,,,,,,,,,").unwrap();
    /// assert!(Traim::from_sentence(&rmc).is_err());
    /// ```
    pub fn from_sentence(sentence: &GpsSentence) -> Result<Self, GpsError> {
        const PDMETRAIM: &str = "PDMETRAIM";
        sentence.expect(PDMETRAIM, 4)?;
        let f = &sentence.fields;
        let bad = |field: &'static str, token: &str| GpsError::BadField {
            sentence: PDMETRAIM,
            field,
            token: token.to_owned(),
        };
        let solution = match f[0].as_str() {
            "0" => TraimSolution::UnderAlarm,
            "1" => TraimSolution::OverAlarm,
            "2" => TraimSolution::Unknown,
            other => return Err(bad("solution", other)),
        };
        let valid = match f[1].as_str() {
            "0" => false,
            "1" => true,
            other => return Err(bad("valid", other)),
        };
        let time_error_ns = parse_seconds_as_ns(&f[2]).ok_or_else(|| bad("time_error", &f[2]))?;
        let removed = parse_digits(&f[3]).ok_or_else(|| bad("removed", &f[3]))?;
        let mut removed_svids = Vec::new();
        for id in &f[4..] {
            match parse_digits(id) {
                Some(0) => {}
                Some(id) => removed_svids.push(id),
                None if id.is_empty() => {}
                None => return Err(bad("svid", id)),
            }
        }
        Ok(Self {
            solution,
            valid,
            time_error_ns,
            removed,
            removed_svids,
        })
    }

    /// The magnitude of the receiver's time error, in nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{GpsSentence, Traim};
    ///
    /// let s = GpsSentence::parse("PDMETRAIM,0,1,-0.000000080,0").unwrap();
    /// assert_eq!(Traim::from_sentence(&s).unwrap().accuracy_ns(), 80);
    /// ```
    pub fn accuracy_ns(&self) -> u64 {
        self.time_error_ns.unsigned_abs()
    }

    /// GPS time is good: the receiver says valid, under alarm, and the time
    /// error is at most `threshold_ns` either way.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{GpsSentence, Traim};
    ///
    /// let s = GpsSentence::parse("PDMETRAIM,0,1,-0.000000080,0").unwrap();
    /// let traim = Traim::from_sentence(&s).unwrap();
    /// assert!(traim.time_good(80));
    /// assert!(!traim.time_good(79));
    /// ```
    pub fn time_good(&self, threshold_ns: u64) -> bool {
        self.valid
            && self.solution == TraimSolution::UnderAlarm
            && self.accuracy_ns() <= threshold_ns
    }
}

fn parse_digits(token: &str) -> Option<u32> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// A decimal number of seconds such as `-0.000000045` → nanoseconds, exactly
/// (digits past the ninth decimal are cut).
fn parse_seconds_as_ns(token: &str) -> Option<i64> {
    let (negative, digits) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token.strip_prefix('+').unwrap_or(token)),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty())
        || !all_digits(whole)
        || !all_digits(frac)
        || whole.len() > 9
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
    let ns = whole * 1_000_000_000 + frac;
    Some(if negative { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str) -> GpsSentence {
        GpsSentence::parse(text).unwrap()
    }

    #[test]
    fn rmc_reads_status_time_and_date() {
        let rmc = Rmc::from_sentence(&sentence(
            "GPRMC,000000.999,V,3025.676,N,08417.112,W,0.0,0.0,290280,4.1,W",
        ))
        .unwrap();
        assert!(!rmc.valid);
        let utc = rmc.utc.unwrap();
        assert_eq!(utc.to_string(), "1980-02-29T00:00:00.999000000Z");
        assert_eq!(utc.nearest_second(), 320_630_401);
        let rmc = Rmc::from_sentence(&sentence("GPRMC,235959,A,,,,,,,311279,,")).unwrap();
        assert_eq!(
            rmc.utc.unwrap().to_string(),
            "2079-12-31T23:59:59.000000000Z"
        );
    }

    #[test]
    fn rmc_rejects_impossible_fields() {
        let bad = |field, token: &str| {
            Err(GpsError::BadField {
                sentence: "GPRMC",
                field,
                token: token.into(),
            })
        };
        assert_eq!(
            Rmc::from_sentence(&sentence("GPRMC,120000,X,,,,,,,010112")),
            bad("status", "X")
        );
        assert_eq!(
            Rmc::from_sentence(&sentence("GPRMC,246000,A,,,,,,,010112")),
            bad("time", "246000")
        );
        assert_eq!(
            Rmc::from_sentence(&sentence("GPRMC,120000.5x,A,,,,,,,010112")),
            bad("time", "120000.5x")
        );
        assert_eq!(
            Rmc::from_sentence(&sentence("GPRMC,120000,A,,,,,,,300213")),
            bad("date", "300213")
        );
        assert_eq!(
            Rmc::from_sentence(&sentence("GPRMC,120000,A")),
            Err(GpsError::TooFewFields {
                sentence: "GPRMC",
                min: 9,
                found: 2,
            })
        );
        assert_eq!(
            Rmc::from_sentence(&sentence("GPGGA,1,2,3,4,5,6,7,8,9")),
            Err(GpsError::WrongSentence {
                expected: "GPRMC",
                found: "GPGGA".into(),
            })
        );
    }

    #[test]
    fn traim_reads_accuracy_exactly() {
        let t = Traim::from_sentence(&sentence(
            "PDMETRAIM,0,1,0.000000100,2,5,12,0,0,0,0,0,0,0,0,0,0",
        ))
        .unwrap();
        assert_eq!(t.time_error_ns, 100);
        assert_eq!(t.removed, 2);
        assert_eq!(t.removed_svids, [5, 12]);
        assert!(t.time_good(100));
        assert!(!t.time_good(99));
        let invalid = Traim {
            valid: false,
            ..t.clone()
        };
        assert!(!invalid.time_good(100));
        let unknown = Traim {
            solution: TraimSolution::Unknown,
            ..t
        };
        assert!(!unknown.time_good(100));
        assert_eq!(parse_seconds_as_ns("1.5"), Some(1_500_000_000));
        assert_eq!(parse_seconds_as_ns(".000000001"), Some(1));
        assert_eq!(parse_seconds_as_ns("-0.0000000019"), Some(-1));
        for bad in ["", ".", "-", "1e-9", "0.00x", "9999999999.0"] {
            assert_eq!(parse_seconds_as_ns(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn traim_rejects_bad_fields() {
        assert_eq!(
            Traim::from_sentence(&sentence("PDMETRAIM,3,1,0.0,0")),
            Err(GpsError::BadField {
                sentence: "PDMETRAIM",
                field: "solution",
                token: "3".into(),
            })
        );
        assert_eq!(
            Traim::from_sentence(&sentence("PDMETRAIM,0,1,fast,0")),
            Err(GpsError::BadField {
                sentence: "PDMETRAIM",
                field: "time_error",
                token: "fast".into(),
            })
        );
        assert_eq!(
            Traim::from_sentence(&sentence("PDMETRAIM,0,1,0.0,0,x")),
            Err(GpsError::BadField {
                sentence: "PDMETRAIM",
                field: "svid",
                token: "x".into(),
            })
        );
    }
}
