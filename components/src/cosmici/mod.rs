//! The COSMICi sensor-network server: its line formats, the time chain from FEDM
//! clock cycles to UTC, the node model, the servers and the reconstruction graph.
//!
//! | part | what | I/O |
//! | --- | --- | --- |
//! | [`wire`] | every line the nodes and the server exchange: MAIN commands, UART lines, NMEA framing, GPS sentences, pulses, [`UtcNanos`] | none: pure parsing and formatting |
//! | [`timechain`] | PPS counters and sync points to UTC | none |
//! | [`lines`], [`node`] | messages between the server's components; the node model | none |
//! | [`admission`] | which node ids MAIN accepts and from whom: bounded, owned by peer address | none |
//! | [`main_server`], [`bridge`], [`run_manager`], [`uart_component`], [`timing`] | the MAIN command server, AUXIO/UART bridges with transcripts, run start, UART parsing and pulse timing components | TCP, files |
//! | [`transcript`] | one transcript per node, link and run, with connection markers and rotation | files |
//! | [`reconstruct`], [`pipeline`] | node pulses to the physics components' inputs and the store's records | none (the store writes) |
//! | [`station`] | the whole server as one graph (feature `store`) | TCP, SQLite |
//! | [`sim`] | simulated detectors that connect like real ones, their ground truth, and the check of a run against it | TCP, files |
//!
//! Each node (node 0 = CTU timing unit, node 1 = FEDM shower detector) opens
//! three TCP links to the server:
//!
//! | link | port | carries | here |
//! | --- | --- | --- | --- |
//! | MAIN | 26766 | space-separated commands from the node's Wi-Fi script | [`wire::main_cmd`] |
//! | AUXIO bridge | 52737 + id | the Wi-Fi script's console text | (free text) |
//! | UART bridge | 63766 + id | comma-separated FPGA data lines, optionally `$…*hh` framed | [`wire::nmea`], [`wire::uart`], [`wire::gps`], [`wire::pulse`] |
//!
//! ```text
//! MAIN:  POWERED_ON 1 192.168.0.11 00:1a:2b:3c:4d:5e
//!        HEARTBEAT 1 17
//! UART:  $PPSCNTR,41,3462552667*<hh>
//!        CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)
//! ```
//!
//! # Examples
//!
//! ```
//! use components::cosmici::{Edge, UartLine};
//! use components::cosmici::wire::nmea;
//!
//! let framed = nmea::frame("CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)");
//! let UartLine::ConPulse(pulse) = UartLine::parse_line(&framed).unwrap() else {
//!     unreachable!()
//! };
//! let last = pulse.crossings().pop().unwrap();
//! assert_eq!((last.level, last.edge, last.cycles), (1, Edge::Falling, 9));
//! ```

pub mod admission;
pub mod bridge;
pub mod lines;
pub mod main_server;
pub mod node;
#[cfg(feature = "store")]
pub mod pipeline;
pub mod progress;
#[cfg(feature = "physics")]
pub mod reconstruct;
pub mod run_manager;
#[cfg(feature = "physics")]
pub mod sim;
#[cfg(feature = "store")]
pub mod split;
#[cfg(feature = "store")]
pub mod station;
pub mod time_order;
pub mod timechain;
pub mod timing;
pub mod transcript;
pub mod uart_component;
pub mod wire;

pub use lines::{LinkKind, NodeLine, NodeNotice, NodeUartLine};
pub use node::{
    Applied, Node, NodeConfig, NodeEvent, NodeRecord, NodeRegistry, NodeState, Requirement,
    RunReadiness, Transition,
};
pub use timechain::{PpsFit, PpsInstant, TimeChain, TimeChainConfig};
pub use wire::error::{DeltasError, GpsError, MainError, NmeaError, TimeChainError, UartError};
pub use wire::gps::{GpsSentence, Rmc, Traim, TraimSolution};
pub use wire::main_cmd::{BridgeMode, LogLevel, MacAddr, MainCommand};
pub use wire::pulse::{ConPulse, Crossing, Deltas, Edge, LevelCountMismatch, LevelDeltas};
pub use wire::uart::{HostKind, UartLine};
pub use wire::utc::UtcNanos;

#[cfg(test)]
mod test_rng;

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_rng::Rng;

    const SEEDS: &[&str] = &[
        "POWERED_ON 0 192.168.0.10 00:1a:2b:3c:4d:5e",
        "LOGMSG 1 NORMAL 2 Bridge server connected.",
        "HEARTBEAT 1 17",
        "BRIDGE_MODE 0 UART-ONLY",
        "MISSING_SYNCS 1 2",
        "HOST_STARTING,CTU_GPS,1.0",
        "HOST_READY",
        "ACK,START",
        "ERR,BAD,x,y",
        "PPSCNTR,41,3462552667",
        "GPRMC,212143.013,A,3025.676,N,08417.112,W,0.0,0.0,161211,4.1,W",
        "PDMETRAIM,0,1,0.000000045,1,17,0,0,0,0,0,0,0,0,0,0,0",
        "DAC_LEVELS,-0.200,-2.500,-0.299,-0.447,-0.669,-1.000",
        "NC_PULSES,1618,3352941653,3352948689,115,68,203",
        "FIFO_FULL,2392,3407048110,3,1",
        "LOST_PULSES,2,1",
        "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)",
        "$PPSCNTR,12,3462552667*5D",
    ];

    const ALPHABET: &[u8] = b"(),0123456789-+.$*AEFGHIKLMNOPRSTUVXY_ :\r\n\xc3\xa9\xff";

    fn garbage(rng: &mut Rng) -> Vec<u8> {
        let mut bytes = match rng.below(3) {
            0 => (0..rng.below(80)).map(|_| rng.next() as u8).collect(),
            1 => (0..rng.below(80))
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect(),
            _ => SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec(),
        };
        for _ in 0..rng.below(6) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => bytes.truncate(at),
            }
        }
        bytes
    }

    /// Garbage never panics a parser, and whatever parses formats to a line
    /// that parses back to the same value.
    #[test]
    fn garbage_never_panics_and_successes_round_trip() {
        let mut rng = Rng(0xc05_1c1);
        let (mut main_ok, mut uart_ok) = (0, 0);
        for _ in 0..50_000 {
            let bytes = garbage(&mut rng);
            if let Ok(cmd) = MainCommand::parse_bytes(&bytes) {
                main_ok += 1;
                assert_eq!(
                    MainCommand::parse(&cmd.to_string()),
                    Ok(cmd.clone()),
                    "{bytes:?}"
                );
            }
            if let Ok(line) = UartLine::parse_bytes(&bytes) {
                uart_ok += 1;
                assert_eq!(
                    UartLine::parse(&line.to_string()),
                    Ok(line.clone()),
                    "{bytes:?}"
                );
                if let UartLine::Gps(sentence) = &line {
                    let _ = Rmc::from_sentence(sentence);
                    let _ = Traim::from_sentence(sentence);
                }
                if let UartLine::ConPulse(pulse) = &line {
                    assert_eq!(
                        Deltas::from_crossings(&pulse.crossings()).as_ref(),
                        Ok(&pulse.deltas)
                    );
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = text.parse::<Deltas>();
            let _ = GpsSentence::parse(&text);
            let _ = text.parse::<MacAddr>();
            if let Some(rest) = text.find('(').map(|i| &text[i..]) {
                let _ = rest.parse::<Deltas>();
            }
        }
        // The generator must reach the parsers' success paths, not only errors.
        assert!(
            main_ok > 1_000 && uart_ok > 1_000,
            "main {main_ok}, uart {uart_ok}"
        );
    }

    #[test]
    fn time_chain_survives_garbage_points() {
        let mut rng = Rng(99);
        let mut chain = TimeChain::default();
        for _ in 0..10_000 {
            let _ = chain.ingest_pps(rng.next() as u32, rng.next() as u32);
            chain.observe_sync(rng.next() as u32, rng.next() as u32);
            let _ = chain.anchor(rng.next() as u32, rng.next() as i64);
            let _ = chain.utc(rng.next() as u32, rng.next());
        }
    }
}
