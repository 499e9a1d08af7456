//! Errors of the COSMICi protocol library, one enum per format.
//!
//! Every variant names the problem and carries the offending token, so a
//! server can log the message as it stands and a test can match the variant.

use thiserror::Error;

/// A MAIN-link command line (port 26766) that could not be parsed.
///
/// # Examples
///
/// ```
/// use components::cosmici::{MainCommand, MainError};
///
/// let err = MainCommand::parse("HEARTBEAT 1 many").unwrap_err();
/// assert!(matches!(err, MainError::BadNumber { .. }));
/// assert_eq!(
///     err.to_string(),
///     "HEARTBEAT: argument <n> is not a non-negative integer: \"many\""
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MainError {
    /// The line is empty or only whitespace.
    #[error("empty command line")]
    Empty,
    /// The line's bytes are not UTF-8.
    #[error("command line is not UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The first word is not a MAIN command.
    #[error("unknown command {command:?}")]
    UnknownCommand {
        /// The first word of the line.
        command: String,
    },
    /// A required argument is absent.
    #[error("{command}: missing argument <{argument}>")]
    MissingArgument {
        /// The command word.
        command: &'static str,
        /// Name of the first missing argument.
        argument: &'static str,
    },
    /// More arguments than the command takes.
    #[error("{command}: unexpected extra argument {token:?}")]
    ExtraArgument {
        /// The command word.
        command: &'static str,
        /// The first surplus argument.
        token: String,
    },
    /// An argument that must be a number is not one (or does not fit).
    #[error("{command}: argument <{argument}> is not a non-negative integer: {token:?}")]
    BadNumber {
        /// The command word.
        command: &'static str,
        /// Name of the argument.
        argument: &'static str,
        /// The token as received.
        token: String,
    },
    /// The node sent the literal node id `(unset)`: its Wi-Fi script has no id configured.
    #[error("{command}: node id is \"(unset)\" (the node's Wi-Fi script has no id configured)")]
    UnsetNodeId {
        /// The command word.
        command: &'static str,
    },
    /// `POWERED_ON` with an IP address that does not parse.
    #[error("POWERED_ON: bad IP address {token:?}")]
    BadIp {
        /// The token as received.
        token: String,
    },
    /// `POWERED_ON` with a MAC address that is not six hex octets.
    #[error(
        "POWERED_ON: bad MAC address {token:?} (expected six hex octets like 00:1a:2b:3c:4d:5e)"
    )]
    BadMac {
        /// The token as received.
        token: String,
    },
    /// `BRIDGE_MODE` with a mode outside `NORMAL|UART-ONLY|NONE|TREFOIL|FLYOVER`.
    #[error(
        "BRIDGE_MODE: unknown mode {token:?} (expected NORMAL, UART-ONLY, NONE, TREFOIL or FLYOVER)"
    )]
    BadBridgeMode {
        /// The token as received.
        token: String,
    },
}

/// An NMEA-framed line (`$<body>*hh`) that must be dropped.
///
/// # Examples
///
/// ```
/// use components::cosmici::wire::nmea::unframe;
///
/// let err = unframe("$PPSCNTR,1,2*00").unwrap_err();
/// assert!(err.is_bad_checksum());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NmeaError {
    /// The line starts with `$` but has no `*` before the checksum.
    #[error("NMEA line has no '*' checksum delimiter: {line:?}")]
    MissingChecksum {
        /// The line as received.
        line: String,
    },
    /// The characters after `*` are not exactly two hex digits.
    #[error("NMEA checksum must be two hex digits, got {token:?}")]
    BadChecksumDigits {
        /// The text after the last `*`.
        token: String,
    },
    /// The checksum does not match the body (the server drops and counts these).
    #[error("NMEA checksum mismatch: line says {stated:02X}, body XORs to {computed:02X}")]
    ChecksumMismatch {
        /// The checksum written in the line.
        stated: u8,
        /// The XOR of the body's bytes.
        computed: u8,
    },
}

impl NmeaError {
    /// Whether this is a checksum mismatch (as opposed to a malformed frame).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::wire::nmea::unframe;
    ///
    /// assert!(unframe("$HOST_READY*00").unwrap_err().is_bad_checksum());
    /// assert!(!unframe("$HOST_READY").unwrap_err().is_bad_checksum());
    /// ```
    pub fn is_bad_checksum(&self) -> bool {
        matches!(self, Self::ChecksumMismatch { .. })
    }
}

/// A `CON_PULSE` deltas list such as `(0,(2,2),5)` that could not be parsed.
///
/// Positions are byte offsets into the list text.
///
/// # Examples
///
/// ```
/// use components::cosmici::{Deltas, DeltasError};
///
/// assert_eq!(
///     "(0,(2,2),5".parse::<Deltas>().unwrap_err(),
///     DeltasError::Unbalanced { open: 1 }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeltasError {
    /// The list text is empty.
    #[error("deltas list is empty")]
    Empty,
    /// The text ended while `open` parentheses were still open.
    #[error("deltas list ends with {open} unclosed parenthesis(es)")]
    Unbalanced {
        /// How many `(` were still open.
        open: usize,
    },
    /// A `)` with no matching `(`, or text after the closing `)`.
    #[error("unexpected text after the deltas list at byte {pos}: {rest:?}")]
    Trailing {
        /// Offset of the first surplus character.
        pos: usize,
        /// The surplus text.
        rest: String,
    },
    /// A character where the grammar does not allow it.
    #[error("unexpected {found:?} at byte {pos} of the deltas list, expected {expected}")]
    Unexpected {
        /// Offset of the character.
        pos: usize,
        /// The character found.
        found: char,
        /// What the grammar wanted there.
        expected: &'static str,
    },
    /// A delta written with a minus sign: time does not run backwards.
    #[error("negative delta at byte {pos} of the deltas list")]
    Negative {
        /// Offset of the `-`.
        pos: usize,
    },
    /// A delta too large for 32 bits.
    #[error("delta {token:?} at byte {pos} does not fit in 32 bits")]
    Overflow {
        /// Offset of the number.
        pos: usize,
        /// The digits.
        token: String,
    },
    /// More nested levels than [`Deltas::MAX_LEVELS`](crate::cosmici::Deltas::MAX_LEVELS).
    #[error("deltas list nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Crossings given to [`Deltas::from_crossings`](crate::cosmici::Deltas::from_crossings)
    /// that are not rises of levels 1..k followed by falls of levels k..1.
    #[error("crossing #{index} is out of order: {reason}")]
    CrossingOrder {
        /// Zero-based index of the offending crossing.
        index: usize,
        /// What was wrong with it.
        reason: &'static str,
    },
}

/// A UART-bridge line that could not be parsed.
///
/// # Examples
///
/// ```
/// use components::cosmici::{UartError, UartLine};
///
/// let err = UartLine::parse("PPSCNTR,12").unwrap_err();
/// assert_eq!(err.to_string(), "PPSCNTR: expected 2 fields after the type, found 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UartError {
    /// The line is empty.
    #[error("empty UART line")]
    Empty,
    /// The line's bytes are not UTF-8.
    #[error("UART line is not UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// Length of the longest valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The NMEA framing was bad; the line must be dropped.
    #[error(transparent)]
    Nmea(#[from] NmeaError),
    /// The first field is not a known line type nor a GPS sentence.
    #[error("unknown UART line type {tag:?}")]
    UnknownType {
        /// The first comma-separated field.
        tag: String,
    },
    /// A fixed-length line with the wrong number of fields.
    #[error("{line}: expected {expected} fields after the type, found {found}")]
    FieldCount {
        /// The line type.
        line: &'static str,
        /// Fields the type takes (not counting the type itself).
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// A variable-length line with too few fields.
    #[error("{line}: expected at least {min} fields after the type, found {found}")]
    TooFewFields {
        /// The line type.
        line: &'static str,
        /// Fewest fields the type takes.
        min: usize,
        /// Fields present.
        found: usize,
    },
    /// A numeric field that does not parse (or is out of range, or not finite).
    #[error("{line}: field <{field}> is not a valid {kind}: {token:?}")]
    BadNumber {
        /// The line type.
        line: &'static str,
        /// Name of the field.
        field: &'static str,
        /// What the field must be, e.g. "32-bit unsigned integer".
        kind: &'static str,
        /// The token as received.
        token: String,
    },
    /// `HOST_STARTING` with a host other than `CTU_GPS` or `FEDM`.
    #[error("HOST_STARTING: unknown host kind {token:?} (expected CTU_GPS or FEDM)")]
    BadHostKind {
        /// The token as received.
        token: String,
    },
    /// The `CON_PULSE` deltas list is malformed.
    #[error("CON_PULSE: bad deltas list: {0}")]
    Deltas(#[from] DeltasError),
}

/// A GPS sentence whose fields do not decode as the requested sentence type.
///
/// # Examples
///
/// ```
/// use components::cosmici::{GpsError, GpsSentence, Rmc};
///
/// let s = GpsSentence::parse("GPGGA,212559.000").unwrap();
/// assert!(matches!(Rmc::from_sentence(&s), Err(GpsError::WrongSentence { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GpsError {
    /// The text is not a `GP…` or `P…` sentence.
    #[error("not a GPS sentence: {tag:?} (expected a GP… or P… sentence id)")]
    NotGps {
        /// The first field.
        tag: String,
    },
    /// The sentence is of another type than the decoder handles.
    #[error("expected a {expected} sentence, got {found:?}")]
    WrongSentence {
        /// The type the decoder handles.
        expected: &'static str,
        /// The sentence's own type.
        found: String,
    },
    /// Too few fields for the sentence type.
    #[error("{sentence}: expected at least {min} fields, found {found}")]
    TooFewFields {
        /// The sentence type.
        sentence: &'static str,
        /// Fewest fields the type takes.
        min: usize,
        /// Fields present.
        found: usize,
    },
    /// A field that does not decode.
    #[error("{sentence}: bad field <{field}>: {token:?}")]
    BadField {
        /// The sentence type.
        sentence: &'static str,
        /// Name of the field.
        field: &'static str,
        /// The token as received.
        token: String,
    },
}

/// A request the [`TimeChain`](crate::cosmici::TimeChain) cannot answer or a
/// `PPSCNTR` point it refuses.
///
/// # Examples
///
/// ```
/// use components::cosmici::{TimeChain, TimeChainError};
///
/// let chain = TimeChain::default();
/// assert_eq!(chain.pps_time(0, 0), Err(TimeChainError::NotCalibrated { points: 0 }));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TimeChainError {
    /// Fewer than two `PPSCNTR` points in the fit window.
    #[error("time chain needs at least 2 PPSCNTR points, has {points}")]
    NotCalibrated {
        /// Points currently held.
        points: usize,
    },
    /// A `PPSCNTR` whose PPS number does not increase (a CTU restart needs
    /// [`TimeChain::reset`](crate::cosmici::TimeChain::reset)).
    #[error("PPSCNTR #{got} does not follow #{previous}")]
    PpsNotIncreasing {
        /// The last accepted PPS number.
        previous: u32,
        /// The PPS number received.
        got: u32,
    },
    /// A `PPSCNTR` whose counter is too far from where the fit predicts it.
    #[error("PPSCNTR #{pps_num}: counter is {residual_ns:.0} ns away from the fit's prediction")]
    PpsOutlier {
        /// The PPS number received.
        pps_num: u32,
        /// How far off the counter was, in nanoseconds.
        residual_ns: f64,
    },
    /// An absolute time was asked for before any UTC anchor was set.
    #[error("no UTC anchor: call TimeChain::anchor with a PPS number and its UTC second")]
    NoUtcAnchor,
}
