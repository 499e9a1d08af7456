//! Lines on a node's UART bridge (TCP port 63766 + node id): the FPGA host's
//! data, comma-separated, optionally NMEA-framed (see [`nmea`]).
//!
//! ```text
//! HOST_STARTING,CTU_GPS,1.2          any host: booting, with firmware version
//! HOST_READY                         any host: ready for commands
//! ACK,START                          any host: command acknowledged
//! ERR,BAD_CMD,FOO                    any host: error <type>,<data>
//! PPSCNTR,41,3462552667              CTU: fast counter at GPS PPS edge #41
//! GPRMC,212143.013,A,…               CTU: GPS sentences pass through
//! DAC_LEVELS,-0.200,-2.500,-0.299,-0.447,-0.669,-1.000
//! NC_PULSES,1618,3352941653,3352948689,115,68,203
//! FIFO_FULL,2392,3407048110,3,1
//! LOST_PULSES,2,1
//! CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)
//! ```
//!
//! [`UartLine::parse`] takes an unframed body; [`UartLine::parse_line`] also
//! checks and removes NMEA framing. `Display` writes the unframed body, which
//! parses back to an equal value (frame it with [`nmea::frame`]
//! to send it framed). Parsing never panics, whatever the input.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::UartLine;
//! use components::cosmici::wire::nmea;
//!
//! let line = UartLine::parse_line(&nmea::frame("PPSCNTR,41,3462552667")).unwrap();
//! assert_eq!(line, UartLine::PpsCntr { pps_num: 41, fast_cnt: 3_462_552_667 });
//! assert_eq!(line.to_string(), "PPSCNTR,41,3462552667");
//! ```

use std::fmt;
use std::str::FromStr;

use super::error::UartError;
use super::fields::{Fields, parse_uint};
use super::gps::GpsSentence;
use super::nmea;
use super::pulse::ConPulse;

/// Which firmware a host runs, from `HOST_STARTING`.
///
/// # Examples
///
/// ```
/// use components::cosmici::HostKind;
///
/// assert_eq!("CTU_GPS".parse::<HostKind>(), Ok(HostKind::CtuGps));
/// assert_eq!(HostKind::Fedm.to_string(), "FEDM");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostKind {
    /// `CTU_GPS`: the central timing unit with its GPS receiver.
    CtuGps,
    /// `FEDM`: the front-end digitizer module (shower detector).
    Fedm,
}

impl HostKind {
    /// The protocol word.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::HostKind;
    ///
    /// assert_eq!(HostKind::CtuGps.as_str(), "CTU_GPS");
    /// assert_eq!(HostKind::Fedm.to_string(), "FEDM");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CtuGps => "CTU_GPS",
            Self::Fedm => "FEDM",
        }
    }
}

impl fmt::Display for HostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HostKind {
    type Err = UartError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "CTU_GPS" => Ok(Self::CtuGps),
            "FEDM" => Ok(Self::Fedm),
            _ => Err(UartError::BadHostKind {
                token: s.to_owned(),
            }),
        }
    }
}

/// One line from a node's UART bridge.
///
/// # Examples
///
/// ```
/// use components::cosmici::{HostKind, UartLine};
///
/// assert_eq!(
///     UartLine::parse("HOST_STARTING,FEDM,0.9b").unwrap(),
///     UartLine::HostStarting { host: HostKind::Fedm, version: "0.9b".into() }
/// );
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum UartLine {
    /// `HOST_STARTING,<CTU_GPS|FEDM>,<version>`: the host is booting.
    HostStarting {
        /// Which firmware.
        host: HostKind,
        /// Firmware version, verbatim (no commas).
        version: String,
    },
    /// `HOST_READY`: the host accepts commands.
    HostReady,
    /// `ACK,…`: the host acknowledges a command; the fields after `ACK`.
    Ack(Vec<String>),
    /// `ERR,<type>,<data>`: the host reports an error.
    Err {
        /// Error type (no commas).
        kind: String,
        /// Everything after the type's comma, commas included.
        data: String,
    },
    /// `PPSCNTR,<pps_num>,<fast_cnt>`: the CTU's fast counter at a GPS PPS edge.
    PpsCntr {
        /// Sequence number of the PPS edge.
        pps_num: u32,
        /// Fast counter value (32 bits, wraps) latched at the edge.
        fast_cnt: u32,
    },
    /// A GPS sentence passed through by the CTU (`GP…` or `P…` talker).
    Gps(GpsSentence),
    /// `DAC_LEVELS,<v>,…`: the FEDM's threshold voltages, in volts.
    DacLevels(Vec<f64>),
    /// `NC_PULSES,<sync>,<pll>,<last_pll>,<n1>,<n2>,<n3>`: non-coincidence
    /// pulses skipped per channel since the last report.
    NcPulses {
        /// Number of the last CTU sync pulse.
        sync: u32,
        /// FEDM PLL counter at that sync pulse.
        pll: u32,
        /// FEDM PLL counter of the last skipped pulse.
        last_pll: u32,
        /// Skipped pulses on channels 1, 2, 3.
        n: [u32; 3],
    },
    /// `FIFO_FULL,<sync>,<pll>,<ch>,<n>`: a channel's hardware FIFO filled.
    FifoFull {
        /// Number of the last CTU sync pulse.
        sync: u32,
        /// FEDM PLL counter at that sync pulse.
        pll: u32,
        /// Channel.
        ch: u8,
        /// FIFO-full events since the last report.
        n: u32,
    },
    /// `LOST_PULSES,<ch>,<n>`: pulses dropped because a software buffer was full.
    LostPulses {
        /// Channel.
        ch: u8,
        /// Pulses lost.
        n: u32,
    },
    /// `CON_PULSE,…`: a candidate-coincidence pulse.
    ConPulse(ConPulse),
}

const HOST_STARTING: &str = "HOST_STARTING";
const HOST_READY: &str = "HOST_READY";
const ACK: &str = "ACK";
const ERR: &str = "ERR";
const PPSCNTR: &str = "PPSCNTR";
const DAC_LEVELS: &str = "DAC_LEVELS";
const NC_PULSES: &str = "NC_PULSES";
const FIFO_FULL: &str = "FIFO_FULL";
const LOST_PULSES: &str = "LOST_PULSES";
const CON_PULSE: &str = "CON_PULSE";

impl UartLine {
    /// Parses an unframed line; one trailing `\r\n` or `\n` is ignored.
    ///
    /// Host line types are recognised first; any other first field that is a
    /// `GP…` or `P…` sentence id becomes [`UartLine::Gps`].
    ///
    /// # Errors
    ///
    /// A [`UartError`] naming the line type, field and token: empty line,
    /// unknown type, wrong field count, non-numeric or out-of-range field,
    /// non-finite voltage, unknown host kind, malformed deltas list.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{UartError, UartLine};
    ///
    /// assert_eq!(
    ///     UartLine::parse("LOST_PULSES,2,-1"),
    ///     Err(UartError::BadNumber {
    ///         line: "LOST_PULSES",
    ///         field: "n",
    ///         kind: "32-bit unsigned integer",
    ///         token: "-1".into(),
    ///     })
    /// );
    /// ```
    pub fn parse(line: &str) -> Result<Self, UartError> {
        let fields = Fields::split(nmea::strip_line_end(line))?;
        Ok(match fields.tag {
            HOST_STARTING => {
                let [host, version] = fields.exact(HOST_STARTING)?;
                Self::HostStarting {
                    host: host.parse()?,
                    version: version.to_owned(),
                }
            }
            HOST_READY => {
                let [] = fields.exact(HOST_READY)?;
                Self::HostReady
            }
            ACK => Self::Ack(fields.all().map(str::to_owned).collect()),
            ERR => {
                let mut parts = fields.rest.unwrap_or("").splitn(2, ',');
                match (parts.next(), parts.next()) {
                    (Some(kind), Some(data)) => Self::Err {
                        kind: kind.to_owned(),
                        data: data.to_owned(),
                    },
                    _ => {
                        return Err(UartError::TooFewFields {
                            line: ERR,
                            min: 2,
                            found: fields.all().count(),
                        });
                    }
                }
            }
            PPSCNTR => {
                let [pps_num, fast_cnt] = fields.exact(PPSCNTR)?;
                Self::PpsCntr {
                    pps_num: parse_uint(PPSCNTR, "pps_num", pps_num)?,
                    fast_cnt: parse_uint(PPSCNTR, "fast_cnt", fast_cnt)?,
                }
            }
            DAC_LEVELS => {
                if fields.rest.is_none() {
                    return Err(UartError::TooFewFields {
                        line: DAC_LEVELS,
                        min: 1,
                        found: 0,
                    });
                }
                let levels = fields
                    .all()
                    .map(|token| parse_volts(DAC_LEVELS, "level", token))
                    .collect::<Result<_, _>>()?;
                Self::DacLevels(levels)
            }
            NC_PULSES => {
                let [sync, pll, last_pll, n1, n2, n3] = fields.exact(NC_PULSES)?;
                Self::NcPulses {
                    sync: parse_uint(NC_PULSES, "sync", sync)?,
                    pll: parse_uint(NC_PULSES, "pll", pll)?,
                    last_pll: parse_uint(NC_PULSES, "last_pll", last_pll)?,
                    n: [
                        parse_uint(NC_PULSES, "n1", n1)?,
                        parse_uint(NC_PULSES, "n2", n2)?,
                        parse_uint(NC_PULSES, "n3", n3)?,
                    ],
                }
            }
            FIFO_FULL => {
                let [sync, pll, ch, n] = fields.exact(FIFO_FULL)?;
                Self::FifoFull {
                    sync: parse_uint(FIFO_FULL, "sync", sync)?,
                    pll: parse_uint(FIFO_FULL, "pll", pll)?,
                    ch: parse_uint(FIFO_FULL, "ch", ch)?,
                    n: parse_uint(FIFO_FULL, "n", n)?,
                }
            }
            LOST_PULSES => {
                let [ch, n] = fields.exact(LOST_PULSES)?;
                Self::LostPulses {
                    ch: parse_uint(LOST_PULSES, "ch", ch)?,
                    n: parse_uint(LOST_PULSES, "n", n)?,
                }
            }
            CON_PULSE => Self::ConPulse(ConPulse::parse_fields(fields.rest)?),
            tag if GpsSentence::is_gps_tag(tag) => {
                Self::Gps(GpsSentence::from_parts(tag, fields.rest))
            }
            tag => {
                return Err(UartError::UnknownType {
                    tag: tag.to_owned(),
                });
            }
        })
    }

    /// Removes NMEA framing if present (checking the checksum), then parses.
    ///
    /// # Errors
    ///
    /// [`UartError::Nmea`] for a bad frame or checksum (the server drops and
    /// counts these), otherwise as [`UartLine::parse`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{UartError, UartLine};
    ///
    /// assert_eq!(UartLine::parse_line("$HOST_READY*14\r\n"), Ok(UartLine::HostReady));
    /// let err = UartLine::parse_line("$HOST_READY*15").unwrap_err();
    /// assert!(matches!(err, UartError::Nmea(e) if e.is_bad_checksum()));
    /// ```
    pub fn parse_line(line: &str) -> Result<Self, UartError> {
        Self::parse(nmea::unframe(line)?)
    }

    /// [`UartLine::parse_line`] for raw bytes.
    ///
    /// # Errors
    ///
    /// [`UartError::InvalidUtf8`] for bytes that are not UTF-8, otherwise as
    /// [`UartLine::parse_line`].
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::{UartError, UartLine};
    ///
    /// assert_eq!(
    ///     UartLine::parse_bytes(b"ACK,\xc3"),
    ///     Err(UartError::InvalidUtf8 { valid_up_to: 4 })
    /// );
    /// ```
    pub fn parse_bytes(line: &[u8]) -> Result<Self, UartError> {
        let line = std::str::from_utf8(line).map_err(|e| UartError::InvalidUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        Self::parse_line(line)
    }

    /// The line's type word (`PPSCNTR`, …; the sentence id for GPS lines).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::UartLine;
    ///
    /// assert_eq!(UartLine::parse("GPGGA,1").unwrap().tag(), "GPGGA");
    /// assert_eq!(UartLine::HostReady.tag(), "HOST_READY");
    /// ```
    pub fn tag(&self) -> &str {
        match self {
            Self::HostStarting { .. } => HOST_STARTING,
            Self::HostReady => HOST_READY,
            Self::Ack(_) => ACK,
            Self::Err { .. } => ERR,
            Self::PpsCntr { .. } => PPSCNTR,
            Self::Gps(sentence) => sentence.sentence_id(),
            Self::DacLevels(_) => DAC_LEVELS,
            Self::NcPulses { .. } => NC_PULSES,
            Self::FifoFull { .. } => FIFO_FULL,
            Self::LostPulses { .. } => LOST_PULSES,
            Self::ConPulse(_) => CON_PULSE,
        }
    }
}

impl FromStr for UartLine {
    type Err = UartError;

    fn from_str(s: &str) -> Result<Self, UartError> {
        Self::parse(s)
    }
}

/// Writes the unframed line, without a line end.
///
/// Voltages are written with three decimals, as the FEDM does, whenever that
/// reads back exactly; otherwise with the shortest exact representation.
impl fmt::Display for UartLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HostStarting { host, version } => write!(f, "{HOST_STARTING},{host},{version}"),
            Self::HostReady => f.write_str(HOST_READY),
            Self::Ack(fields) => {
                f.write_str(ACK)?;
                fields.iter().try_for_each(|field| write!(f, ",{field}"))
            }
            Self::Err { kind, data } => write!(f, "{ERR},{kind},{data}"),
            Self::PpsCntr { pps_num, fast_cnt } => write!(f, "{PPSCNTR},{pps_num},{fast_cnt}"),
            Self::Gps(sentence) => write!(f, "{sentence}"),
            Self::DacLevels(levels) => {
                f.write_str(DAC_LEVELS)?;
                levels.iter().try_for_each(|v| {
                    let fixed = format!("{v:.3}");
                    if fixed.parse::<f64>().ok() == Some(*v) {
                        write!(f, ",{fixed}")
                    } else {
                        write!(f, ",{v}")
                    }
                })
            }
            Self::NcPulses {
                sync,
                pll,
                last_pll,
                n: [n1, n2, n3],
            } => write!(f, "{NC_PULSES},{sync},{pll},{last_pll},{n1},{n2},{n3}"),
            Self::FifoFull { sync, pll, ch, n } => write!(f, "{FIFO_FULL},{sync},{pll},{ch},{n}"),
            Self::LostPulses { ch, n } => write!(f, "{LOST_PULSES},{ch},{n}"),
            Self::ConPulse(pulse) => write!(f, "{pulse}"),
        }
    }
}

fn parse_volts(line: &'static str, field: &'static str, token: &str) -> Result<f64, UartError> {
    // Only plain decimals: f64::from_str would also take "inf", "NaN" and exponents.
    let plain = !token.is_empty()
        && token
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || b == b'.' || (i == 0 && b == b'-'));
    match token.parse::<f64>() {
        Ok(v) if plain && v.is_finite() => Ok(v),
        _ => Err(UartError::BadNumber {
            line,
            field,
            kind: "decimal number",
            token: token.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosmici::Deltas;

    fn round_trip(line: &UartLine) {
        let text = line.to_string();
        assert_eq!(UartLine::parse(&text).as_ref(), Ok(line), "text {text:?}");
        let framed = nmea::frame(&text);
        assert_eq!(
            UartLine::parse_line(&framed).as_ref(),
            Ok(line),
            "framed {framed:?}"
        );
    }

    #[test]
    fn seed_examples_parse() {
        assert_eq!(
            UartLine::parse("DAC_LEVELS,-0.200,-2.500,-0.299,-0.447,-0.669,-1.000"),
            Ok(UartLine::DacLevels(vec![
                -0.2, -2.5, -0.299, -0.447, -0.669, -1.0
            ]))
        );
        assert_eq!(
            UartLine::parse("NC_PULSES,1618,3352941653,3352948689,115,68,203"),
            Ok(UartLine::NcPulses {
                sync: 1618,
                pll: 3_352_941_653,
                last_pll: 3_352_948_689,
                n: [115, 68, 203],
            })
        );
        assert_eq!(
            UartLine::parse("FIFO_FULL,2392,3407048110,3,1"),
            Ok(UartLine::FifoFull {
                sync: 2392,
                pll: 3_407_048_110,
                ch: 3,
                n: 1,
            })
        );
        assert_eq!(
            UartLine::parse("LOST_PULSES,2,1\n"),
            Ok(UartLine::LostPulses { ch: 2, n: 1 })
        );
        let pulse =
            UartLine::parse("CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)").unwrap();
        assert!(matches!(pulse, UartLine::ConPulse(p) if p.deltas.depth() == 2));
        assert_eq!(
            UartLine::parse("ERR,BAD_ARG,x,y"),
            Ok(UartLine::Err {
                kind: "BAD_ARG".into(),
                data: "x,y".into(),
            })
        );
        assert_eq!(UartLine::parse("ACK"), Ok(UartLine::Ack(vec![])));
        assert_eq!(
            UartLine::parse("ACK,START,1"),
            Ok(UartLine::Ack(vec!["START".into(), "1".into()]))
        );
    }

    #[test]
    fn gps_sentences_pass_through_but_host_lines_win() {
        let line =
            UartLine::parse("GPRMC,212143.013,V,3025.676,N,08417.112,W,0.0,0.0,161211,4.1,W")
                .unwrap();
        let UartLine::Gps(sentence) = &line else {
            panic!("not GPS: {line:?}")
        };
        assert_eq!(sentence.kind, "GPRMC");
        assert_eq!(sentence.fields.len(), 11);
        assert!(matches!(
            UartLine::parse("PDMETRAIM,0,1,0.000000045,0"),
            Ok(UartLine::Gps(_))
        ));
        assert!(matches!(
            UartLine::parse("PPSCNTR,1,2"),
            Ok(UartLine::PpsCntr { .. })
        ));
        assert_eq!(
            UartLine::parse("XYZ,1"),
            Err(UartError::UnknownType { tag: "XYZ".into() })
        );
    }

    #[test]
    fn display_round_trips_every_variant() {
        let lines = [
            UartLine::HostStarting {
                host: HostKind::CtuGps,
                version: "v1.0".into(),
            },
            UartLine::HostStarting {
                host: HostKind::Fedm,
                version: String::new(),
            },
            UartLine::HostReady,
            UartLine::Ack(vec![]),
            UartLine::Ack(vec![String::new()]),
            UartLine::Ack(vec!["START".into(), "".into(), "2".into()]),
            UartLine::Err {
                kind: "E".into(),
                data: "a,b,,c".into(),
            },
            UartLine::Err {
                kind: String::new(),
                data: String::new(),
            },
            UartLine::PpsCntr {
                pps_num: u32::MAX,
                fast_cnt: 0,
            },
            UartLine::Gps(GpsSentence::parse("GPGGA,212559.000,3025.67523,N,,").unwrap()),
            UartLine::Gps(GpsSentence::parse("PDMEHEADER1: DeLORME GPS2058_HW_1.0.1").unwrap()),
            UartLine::DacLevels(vec![-0.2, -2.5, 0.1 + 0.2, 1e-7, 0.0]),
            UartLine::NcPulses {
                sync: 1,
                pll: 2,
                last_pll: 3,
                n: [4, 5, 6],
            },
            UartLine::FifoFull {
                sync: 0,
                pll: u32::MAX,
                ch: u8::MAX,
                n: 7,
            },
            UartLine::LostPulses { ch: 1, n: 0 },
            UartLine::ConPulse(ConPulse::new(
                3186,
                3_462_552_667,
                3,
                1,
                3_462_608_072,
                "(0,(2,(0,0),2),5)".parse::<Deltas>().unwrap(),
            )),
        ];
        for line in &lines {
            round_trip(line);
        }
        assert_eq!(
            UartLine::DacLevels(vec![-0.2, -1.0]).to_string(),
            "DAC_LEVELS,-0.200,-1.000"
        );
    }

    #[test]
    fn malformed_lines_name_the_problem() {
        let bad_u32 = |line, field, token: &str| UartError::BadNumber {
            line,
            field,
            kind: "32-bit unsigned integer",
            token: token.into(),
        };
        let cases: &[(&str, UartError)] = &[
            ("", UartError::Empty),
            ("\r\n", UartError::Empty),
            (
                "HOST_READY,1",
                UartError::FieldCount {
                    line: "HOST_READY",
                    expected: 0,
                    found: 1,
                },
            ),
            (
                "HOST_STARTING,CTU,1",
                UartError::BadHostKind {
                    token: "CTU".into(),
                },
            ),
            (
                "HOST_STARTING,FEDM",
                UartError::FieldCount {
                    line: "HOST_STARTING",
                    expected: 2,
                    found: 1,
                },
            ),
            (
                "PPSCNTR",
                UartError::FieldCount {
                    line: "PPSCNTR",
                    expected: 2,
                    found: 0,
                },
            ),
            (
                "PPSCNTR,1,2,3",
                UartError::FieldCount {
                    line: "PPSCNTR",
                    expected: 2,
                    found: 3,
                },
            ),
            (
                "PPSCNTR,1,4294967296",
                bad_u32("PPSCNTR", "fast_cnt", "4294967296"),
            ),
            ("PPSCNTR, 1,2", bad_u32("PPSCNTR", "pps_num", " 1")),
            ("PPSCNTR,,2", bad_u32("PPSCNTR", "pps_num", "")),
            ("NC_PULSES,1,2,3,4,5,x", bad_u32("NC_PULSES", "n3", "x")),
            ("FIFO_FULL,1,2,3,+4", bad_u32("FIFO_FULL", "n", "+4")),
            (
                "ERR,ONLY_KIND",
                UartError::TooFewFields {
                    line: "ERR",
                    min: 2,
                    found: 1,
                },
            ),
            (
                "ERR",
                UartError::TooFewFields {
                    line: "ERR",
                    min: 2,
                    found: 0,
                },
            ),
            (
                "DAC_LEVELS",
                UartError::TooFewFields {
                    line: "DAC_LEVELS",
                    min: 1,
                    found: 0,
                },
            ),
            (
                "DAC_LEVELS,-0.2,NaN",
                UartError::BadNumber {
                    line: "DAC_LEVELS",
                    field: "level",
                    kind: "decimal number",
                    token: "NaN".into(),
                },
            ),
            (
                "DAC_LEVELS,1e3",
                UartError::BadNumber {
                    line: "DAC_LEVELS",
                    field: "level",
                    kind: "decimal number",
                    token: "1e3".into(),
                },
            ),
            (
                "CON_PULSE,1,2,3,4,5,1,(0,(1,1),2",
                UartError::Deltas(crate::cosmici::DeltasError::Unbalanced { open: 1 }),
            ),
            (
                "gprmc,1",
                UartError::UnknownType {
                    tag: "gprmc".into(),
                },
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(
                UartLine::parse(line).as_ref(),
                Err(expected),
                "line {line:?}"
            );
        }
        assert_eq!(
            UartLine::parse("NC_PULSES,1,2,3,4,5,x")
                .unwrap_err()
                .to_string(),
            "NC_PULSES: field <n3> is not a valid 32-bit unsigned integer: \"x\""
        );
    }
}
