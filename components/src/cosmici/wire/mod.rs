//! The COSMICi wire formats: parsing and formatting of every line the nodes and
//! the server exchange. Pure code: no I/O, no clocks, no runtime.
//!
//! | module | what |
//! | --- | --- |
//! | [`main_cmd`] | MAIN commands from the nodes' Wi-Fi scripts |
//! | [`uart`] | UART lines from the FPGA hosts |
//! | [`nmea`] | `$…*hh` framing and checksums |
//! | [`gps`] | GPS sentences (`GPRMC`, `PDMETRAIM`) |
//! | [`pulse`] | `CON_PULSE` and its crossing deltas |
//! | [`utc`] | [`UtcNanos`](utc::UtcNanos), the instant every timed line carries |
//! | [`error`] | the parse errors |
//!
//! Every parser returns a specific error for malformed input and never panics;
//! every line type implements `Display`, writing a line that parses back to an
//! equal value (the simulator sends those). The modules depend one way: `uart` on
//! `gps`, `pulse` and `nmea`; those on `fields` (shared field splitting) and `utc`.

pub mod error;
mod fields;
pub mod gps;
pub mod main_cmd;
pub mod nmea;
pub mod pulse;
pub mod uart;
pub mod utc;
