//! [`UtcNanos`]: the instant every timed line and pulse carries.

use std::fmt;

const NS_PER_S: i64 = 1_000_000_000;

/// An instant in UTC: nanoseconds since 1970-01-01T00:00:00 UTC, leap seconds
/// not counted (POSIX time). `Display` writes RFC 3339 with nanoseconds.
///
/// # Examples
///
/// ```
/// use components::cosmici::UtcNanos;
///
/// let t = UtcNanos::from_civil(2012, 2, 23, 21, 21, 43, 13_000_000).unwrap();
/// assert_eq!(t.to_string(), "2012-02-23T21:21:43.013000000Z");
/// assert_eq!(t.unix_seconds(), 1_330_032_103);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcNanos(pub i64);

impl UtcNanos {
    /// The instant at a whole UTC second.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos::from_unix_seconds(2).as_nanos(), 2_000_000_000);
    /// ```
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds.saturating_mul(NS_PER_S))
    }

    /// The instant at a calendar date and time of day, or `None` when the date
    /// does not exist or a field is out of range (second 60 is accepted and,
    /// as in POSIX time, equals the next minute's second 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos::from_civil(1970, 1, 1, 0, 0, 0, 0), Some(UtcNanos(0)));
    /// assert_eq!(UtcNanos::from_civil(2023, 2, 29, 0, 0, 0, 0), None);
    /// // A leap second equals the next minute's second 0.
    /// assert_eq!(
    ///     UtcNanos::from_civil(2016, 12, 31, 23, 59, 60, 0),
    ///     UtcNanos::from_civil(2017, 1, 1, 0, 0, 0, 0)
    /// );
    /// ```
    pub fn from_civil(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        nanos: u32,
    ) -> Option<Self> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        if !(1..=days_in_month).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
            || nanos >= 1_000_000_000
        {
            return None;
        }
        if !(-1_000_000..=1_000_000).contains(&year) {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        seconds
            .checked_mul(NS_PER_S)?
            .checked_add(i64::from(nanos))
            .map(Self)
    }

    /// Nanoseconds since the epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos(-5).as_nanos(), -5);
    /// ```
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos(1_500_000_000).unix_seconds(), 1);
    /// assert_eq!(UtcNanos(-1).unix_seconds(), -1);
    /// ```
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(NS_PER_S)
    }

    /// Nanoseconds past [`UtcNanos::unix_seconds`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos(1_500_000_000).subsec_nanos(), 500_000_000);
    /// assert_eq!(UtcNanos(-1).subsec_nanos(), 999_999_999);
    /// ```
    pub fn subsec_nanos(self) -> u32 {
        // rem_euclid of a positive modulus is in 0..1e9, which fits.
        u32::try_from(self.0.rem_euclid(NS_PER_S)).unwrap_or(0)
    }

    /// The nearest whole second since the epoch (half a second rounds up).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UtcNanos;
    ///
    /// assert_eq!(UtcNanos(2_999_000_000).nearest_second(), 3);
    /// assert_eq!(UtcNanos(3_001_000_000).nearest_second(), 3);
    /// ```
    pub fn nearest_second(self) -> i64 {
        self.0.saturating_add(NS_PER_S / 2).div_euclid(NS_PER_S)
    }
}

impl fmt::Display for UtcNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.unix_seconds();
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let secs_of_day = seconds.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60,
            self.subsec_nanos()
        )
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
