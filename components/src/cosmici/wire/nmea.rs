//! NMEA-style framing of UART lines: `$<body>*hh`.
//!
//! `hh` is the XOR of every byte strictly between `$` and `*`, written as two
//! hex digits (upper or lower case accepted, upper case written). A line that
//! does not start with `$` is plain and passes through unchanged. A framed line
//! with a bad checksum must be dropped (and counted) by the server.
//!
//! ```text
//! $PPSCNTR,12,3462552667*5D     framed
//! PPSCNTR,12,3462552667         plain
//! ```
//!
//! # Examples
//!
//! ```
//! use components::cosmici::wire::nmea::{frame, unframe};
//!
//! let line = frame("HOST_READY");
//! assert_eq!(line, "$HOST_READY*14");
//! assert_eq!(unframe(&line), Ok("HOST_READY"));
//! assert_eq!(unframe("HOST_READY"), Ok("HOST_READY"));
//! ```

pub use super::error::NmeaError;

/// XOR of all bytes of `body`: the NMEA checksum.
///
/// # Examples
///
/// ```
/// use components::cosmici::wire::nmea::checksum;
///
/// assert_eq!(checksum("AB"), b'A' ^ b'B');
/// assert_eq!(checksum(""), 0);
/// ```
pub fn checksum(body: &str) -> u8 {
    body.bytes().fold(0, |acc, b| acc ^ b)
}

/// Frames `body` as `$<body>*hh` with an upper-case hex checksum.
///
/// The body is written verbatim; a body containing `*` still unframes
/// correctly because [`unframe`] takes the last `*` as the delimiter.
///
/// # Examples
///
/// ```
/// use components::cosmici::wire::nmea::frame;
///
/// assert_eq!(frame("PPSCNTR,1,2"), "$PPSCNTR,1,2*5B");
/// ```
pub fn frame(body: &str) -> String {
    format!("${body}*{:02X}", checksum(body))
}

/// Whether `line` is NMEA-framed (starts with `$`).
///
/// # Examples
///
/// ```
/// use components::cosmici::wire::nmea::is_framed;
///
/// assert!(is_framed("$GPRMC,...*00"));
/// assert!(!is_framed("HOST_READY"));
/// ```
pub fn is_framed(line: &str) -> bool {
    line.starts_with('$')
}

/// Returns the body of a framed line after checking its checksum, or a plain
/// line unchanged. A trailing `\r\n` or `\n` is removed first.
///
/// # Errors
///
/// For a line starting with `$`: [`NmeaError::MissingChecksum`] when there is
/// no `*`, [`NmeaError::BadChecksumDigits`] when `*` is not followed by exactly
/// two hex digits, [`NmeaError::ChecksumMismatch`] when the digits disagree
/// with the body.
///
/// # Examples
///
/// ```
/// use components::cosmici::wire::nmea::{unframe, NmeaError};
///
/// assert_eq!(unframe("$PPSCNTR,1,2*5b\r\n"), Ok("PPSCNTR,1,2"));
/// assert_eq!(
///     unframe("$PPSCNTR,1,2*5A"),
///     Err(NmeaError::ChecksumMismatch { stated: 0x5A, computed: 0x5B })
/// );
/// ```
pub fn unframe(line: &str) -> Result<&str, NmeaError> {
    let line = strip_line_end(line);
    let Some(framed) = line.strip_prefix('$') else {
        return Ok(line);
    };
    let Some(star) = framed.rfind('*') else {
        return Err(NmeaError::MissingChecksum {
            line: line.to_owned(),
        });
    };
    let (body, digits) = (&framed[..star], &framed[star + 1..]);
    let stated = parse_hex_pair(digits).ok_or_else(|| NmeaError::BadChecksumDigits {
        token: digits.to_owned(),
    })?;
    let computed = checksum(body);
    if stated != computed {
        return Err(NmeaError::ChecksumMismatch { stated, computed });
    }
    Ok(body)
}

/// Removes one trailing `\n` and then one trailing `\r`, if present.
pub(crate) fn strip_line_end(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn parse_hex_pair(digits: &str) -> Option<u8> {
    match digits.as_bytes() {
        [hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
        _ => None,
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips_through_unframe() {
        for body in [
            "",
            "HOST_READY",
            "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)",
            "a*b",
            "é",
        ] {
            assert_eq!(unframe(&frame(body)), Ok(body), "body {body:?}");
        }
    }

    #[test]
    fn checksum_is_xor_of_body_bytes() {
        // Textbook NMEA example: the checksum of this GPGGA body is 0x47.
        let body = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,";
        assert_eq!(checksum(body), 0x47);
        assert_eq!(unframe(&format!("${body}*47")), Ok(body));
    }

    #[test]
    fn lower_case_checksum_digits_are_accepted() {
        assert_eq!(unframe("$PPSCNTR,1,2*5b"), Ok("PPSCNTR,1,2"));
    }

    #[test]
    fn plain_lines_pass_through_without_line_end() {
        assert_eq!(
            unframe("NC_PULSES,1,2,3,4,5,6\r\n"),
            Ok("NC_PULSES,1,2,3,4,5,6")
        );
        assert_eq!(unframe(""), Ok(""));
    }

    #[test]
    fn malformed_frames_are_specific_errors() {
        assert_eq!(
            unframe("$HOST_READY"),
            Err(NmeaError::MissingChecksum {
                line: "$HOST_READY".into()
            })
        );
        assert_eq!(
            unframe("$HOST_READY*1"),
            Err(NmeaError::BadChecksumDigits { token: "1".into() })
        );
        assert_eq!(
            unframe("$HOST_READY*14X"),
            Err(NmeaError::BadChecksumDigits {
                token: "14X".into()
            })
        );
        assert_eq!(
            unframe("$HOST_READY*G0"),
            Err(NmeaError::BadChecksumDigits { token: "G0".into() })
        );
        let err = unframe("$HOST_READY*00").unwrap_err();
        assert!(err.is_bad_checksum());
        assert_eq!(
            err.to_string(),
            "NMEA checksum mismatch: line says 00, body XORs to 14"
        );
    }
}
