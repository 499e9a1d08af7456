//! UART parsing into named outboxes, the time chain on synthetic PPS data, and the
//! run manager.

use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, Inbox};
use components::cosmici::run_manager::{RunEvent, RunManager};
use components::cosmici::timing::{PulseClock, TimedPulse};
use components::cosmici::uart_component::{NodePulse, UartParser, UartStats};
use components::cosmici::wire::nmea;
use components::cosmici::{
    ConPulse, Crossing, Deltas, Edge, LinkKind, NodeLine, NodeUartLine, TimeChainConfig, UartLine,
};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn uart(node: u32, line: &str) -> NodeLine {
    NodeLine {
        node,
        link: LinkKind::Uart,
        line: line.into(),
    }
}

async fn next<T: Send + 'static>(inbox: &mut Inbox<T>) -> T {
    timeout(LIMIT, inbox.recv())
        .await
        .unwrap()
        .expect("a message")
}

#[tokio::test]
async fn every_line_type_good_and_malformed() {
    let stats = UartStats::default();
    let mut h = Harness::new(UartParser::new(stats.clone()).unregistered());
    let mut host = h.outbox_receiver::<NodeUartLine>("host").unwrap();
    let mut pps = h.outbox_receiver::<NodeUartLine>("pps").unwrap();
    let mut gps = h.outbox_receiver::<NodeUartLine>("gps").unwrap();
    let mut fedm = h.outbox_receiver::<NodeUartLine>("fedm").unwrap();
    let mut pulses = h.outbox_receiver::<NodePulse>("pulses").unwrap();

    let good = [
        ("HOST_STARTING,CTU_GPS,1.0", "host"),
        ("HOST_READY", "host"),
        ("ACK,START", "host"),
        ("ERR,BAD_CMD,FOO,1", "host"),
        ("PPSCNTR,41,3462552667", "pps"),
        (
            "GPRMC,212143.013,A,3025.676,N,08417.112,W,0.0,0.0,161211,4.1,W",
            "gps",
        ),
        ("PDMETRAIM,0,1,0.000000045,1,17,0,0", "gps"),
        (
            "DAC_LEVELS,-0.200,-2.500,-0.299,-0.447,-0.669,-1.000",
            "fedm",
        ),
        ("NC_PULSES,1618,3352941653,3352948689,115,68,203", "fedm"),
        ("FIFO_FULL,2392,3407048110,3,1", "fedm"),
        ("LOST_PULSES,2,1", "fedm"),
        (
            "CON_PULSE,3186,3462552667,3,1,3462608072,2,(0,(2,2),5)",
            "pulses",
        ),
    ];
    for (i, (line, outbox)) in good.iter().enumerate() {
        // Every other line NMEA-framed: both forms are accepted.
        let sent = if i % 2 == 0 {
            nmea::frame(line)
        } else {
            (*line).to_owned()
        };
        h.send(uart(1, &sent)).await;
        let all = timeout(LIMIT, h.recv()).await.unwrap().unwrap();
        assert_eq!(all.node, 1);
        assert_eq!(all.line, UartLine::parse(line).unwrap(), "{line}");
        match *outbox {
            "host" => assert_eq!(next(&mut host).await, all),
            "pps" => assert_eq!(next(&mut pps).await, all),
            "gps" => assert_eq!(next(&mut gps).await, all),
            "fedm" => assert_eq!(next(&mut fedm).await, all),
            _ => {
                let p = next(&mut pulses).await;
                assert_eq!(UartLine::ConPulse(p.pulse.clone()), all.line);
                // The nested list as threshold crossings: times and levels.
                let c: Vec<(u8, Edge, u64)> = p
                    .pulse
                    .crossings()
                    .iter()
                    .map(|c| (c.level, c.edge, c.cycles))
                    .collect();
                assert_eq!(
                    c,
                    [
                        (1, Edge::Rising, 0),
                        (2, Edge::Rising, 2),
                        (2, Edge::Falling, 4),
                        (1, Edge::Falling, 9)
                    ]
                );
            }
        }
    }
    assert_eq!(stats.parsed(), good.len() as u64);

    // Bad checksums are dropped and counted; malformed lines counted; nothing comes out.
    let mut bad_frame = nmea::frame("PPSCNTR,41,3462552667");
    bad_frame.replace_range(bad_frame.len() - 2.., "00");
    h.send(uart(1, &bad_frame)).await;
    for malformed in [
        "PPSCNTR,41",
        "PPSCNTR,41,-3",
        "HOST_STARTING,TOASTER,1",
        "DAC_LEVELS,abc",
        "NC_PULSES,1,2,3,4,5",
        "FIFO_FULL,1,2,x,4",
        "LOST_PULSES,2",
        "CON_PULSE,1,2,3,4,5,1,(0,(2,2)",
        "CON_PULSE,1,2,3,4,5,1,((((",
        "WHATEVER,1",
        "$HOST_READY",
    ] {
        h.send(uart(2, malformed)).await;
    }
    // A last good line proves the parser is still alive and the bad ones produced nothing.
    h.send(uart(2, "HOST_READY")).await;
    let last = timeout(LIMIT, h.recv()).await.unwrap().unwrap();
    assert_eq!((last.node, last.line), (2, UartLine::HostReady));
    assert_eq!(stats.bad_checksums(), 1);
    assert_eq!(stats.malformed(), 11);
    assert_eq!(stats.pulses(), 1);
    h.send_control(Control::ProducerFinished).await;
    assert!(timeout(LIMIT, h.exit()).await.unwrap().is_clean());
}

/// A CTU counter at 750 MHz + 0.3 ppm with PPS edges on whole UTC seconds, a FEDM
/// clock of 500 MHz starting at an arbitrary count, and pulses placed at known
/// instants: the chain recovers their UTC times within the 2 ns quantisation.
#[tokio::test]
async fn time_chain_recovers_absolute_times_from_synthetic_pps() {
    const CTU_HZ: f64 = 750e6 * (1.0 + 0.3e-6);
    const RUN_UTC_S: i64 = 1_700_000_000;
    // The counter started 0.4 s before the first PPS edge it reports (PPS #1).
    const PHASE_NS: f64 = 400_000_000.0;
    let pll0: u32 = 4_000_000_000;
    let pll_at = |t_ns: f64| pll0.wrapping_add(((t_ns / 2.0).floor() as u64 & 0xffff_ffff) as u32);
    let count_at = |t_ns: f64| ((t_ns * CTU_HZ / 1e9).round() as u64 & 0xffff_ffff) as u32;

    let mut h = Harness::new(PulseClock::new(0, TimeChainConfig::default()));
    let line = |node, text: &str| NodeUartLine {
        node,
        line: UartLine::parse(text).unwrap(),
    };
    h.send(line(
        1,
        "DAC_LEVELS,-0.200,-2.500,-0.300,-0.450,-0.675,-1.013",
    ))
    .await;
    let mut expected = Vec::new();
    for second in 0..6u32 {
        let edge = PHASE_NS + f64::from(second) * 1e9;
        let pps = second + 1;
        h.send(line(0, &format!("PPSCNTR,{pps},{}", count_at(edge))))
            .await;
        // GPRMC after PPS #1 says 22:13:20 (= RUN_UTC_S) on 14 Nov 2023.
        let (hh, mm, ss) = (22, 13, 20 + second);
        h.send(line(
            0,
            &format!("GPRMC,{hh:02}{mm:02}{ss:02}.000,A,0,N,0,W,0,0,141123,,"),
        ))
        .await;
        // Three pulses per second at odd instants, on the FEDM's clock grid.
        for k in 0..3 {
            let t = edge + 123_456_789.0 * f64::from(k + 1) + 0.7;
            let first_rise = (t / 2.0).floor() * 2.0;
            let sync = (first_rise * CTU_HZ / 1e9 / 262_144.0).floor();
            let sync_t = sync * 262_144.0 * 1e9 / CTU_HZ;
            let deltas = Deltas::from_crossings(&[
                Crossing {
                    level: 1,
                    edge: Edge::Rising,
                    cycles: 0,
                },
                Crossing {
                    level: 1,
                    edge: Edge::Falling,
                    cycles: 3,
                },
            ])
            .unwrap();
            let pulse = ConPulse::new(
                sync as u32,
                pll_at(sync_t),
                2,
                second * 3 + k + 1,
                pll_at(first_rise),
                deltas,
            );
            h.send(NodeUartLine {
                node: 1,
                line: UartLine::ConPulse(pulse),
            })
            .await;
            let utc = RUN_UTC_S * 1_000_000_000 + (first_rise - PHASE_NS).round() as i64;
            expected.push(utc);
        }
    }
    h.send_control(Control::ProducerFinished).await;
    let mut got: Vec<TimedPulse> = Vec::new();
    while let Some(t) = timeout(LIMIT, h.recv()).await.unwrap() {
        got.push(t);
    }
    assert_eq!(got.len(), expected.len(), "every pulse timed");
    for (t, want) in got.iter().zip(&expected) {
        let err = t.utc.0 - want;
        assert!(
            err.abs() <= 2,
            "pulse {}: {} vs {want}: {err} ns",
            t.pulse.pulse_num,
            t.utc.0
        );
        assert_eq!(t.levels, [0.2, 0.3, 0.45, 0.675, 1.013]);
        assert!((t.clock_period_ns - 2.0).abs() < 1e-6);
    }
}

#[tokio::test]
async fn run_starts_only_when_ctu_fedm_and_gps_are_ready() {
    use axon::{Policy, Runtime};
    use bytes::Bytes;
    use chassis::backplane::{Backplane, Subscription, subscriptions_service};
    use components::cosmici::bridge::backplane_name;

    // The CTU's UART down Backplane, as its bridge makes it, with the test listening.
    let rt = Runtime::new();
    let down = backplane_name(0, LinkKind::Uart, "down");
    let _board = rt.spawn(Backplane::<Bytes>::new(down.clone())).unwrap();
    let mut ext = rt.external("ctu");
    let (to_ctu, mut ctu) = ext.add_inbox::<Bytes>("uart", 8).unwrap();
    let (req, mut requests) = ext
        .add_outbox::<axon::Request<Subscription<Bytes>, ()>>("join")
        .unwrap();
    rt.link(req, rt.service(&subscriptions_service(&down)).unwrap())
        .unwrap();
    // Joined once the Backplane answers.
    requests
        .ask(
            Subscription::Join {
                subscriber: ext.id(),
                deliver_to: to_ctu,
                policy: Policy::Block,
            },
            LIMIT,
        )
        .await
        .unwrap();

    let mut h = Harness::with_runtime(rt.clone(), RunManager::new(0));
    let mut notices = h
        .outbox_receiver::<components::cosmici::NodeNotice>("notices")
        .unwrap();
    let send = |node, text: &str| NodeUartLine {
        node,
        line: UartLine::parse(text).unwrap(),
    };
    for (node, text) in [
        (0, "HOST_STARTING,CTU_GPS,1"),
        (1, "HOST_STARTING,FEDM,1"),
        (0, "HOST_READY"),
        (1, "HOST_READY"),
        (0, "PDMETRAIM,0,1,0.000000500,0"),
    ] {
        h.send(send(node, text)).await;
    }
    // GPS time not good (500 ns): no START yet.
    h.send(send(0, "PDMETRAIM,0,1,0.000000050,0")).await;
    assert_eq!(
        timeout(LIMIT, h.recv()).await.unwrap(),
        Some(RunEvent::StartSent)
    );
    assert_eq!(next(&mut ctu).await, Bytes::from_static(b"START\r\n"));
    assert!(ctu.try_recv().is_err(), "START sent once");
    h.send(send(0, "ACK,START")).await;
    assert_eq!(
        timeout(LIMIT, h.recv()).await.unwrap(),
        Some(RunEvent::Started)
    );
    let mut running: Vec<u32> = vec![next(&mut notices).await.node, next(&mut notices).await.node];
    running.sort_unstable();
    assert_eq!(running, [0, 1]);
    // More readiness changes do not start it again.
    h.send(send(0, "PDMETRAIM,0,1,0.000000010,0")).await;
    h.send(send(0, "HOST_READY")).await;
    h.send_control(Control::ProducerFinished).await;
    assert_eq!(timeout(LIMIT, h.recv()).await.unwrap(), None);
    assert!(ctu.try_recv().is_err());
}

/// Pulses of two FEDM nodes leave the clock in UTC order whatever order they came
/// in; a node that goes silent holds the other's pulses no longer than
/// `NODE_SILENCE`.
#[tokio::test(start_paused = true)]
async fn the_clock_waits_for_the_slower_node_but_not_for_a_silent_one() {
    use components::cosmici::timing::NODE_SILENCE;
    use tokio::time::Instant;

    let clock = PulseClock::new(0, TimeChainConfig::default()).expect_nodes([1, 2]);
    let mut h = Harness::new(clock);
    let line = |node, text: &str| NodeUartLine {
        node,
        line: UartLine::parse(text).unwrap(),
    };
    for text in [
        "PPSCNTR,10,0",
        "PPSCNTR,11,750000000",
        "GPRMC,000000.000,A,0,N,0,W,0,0,010124,,",
    ] {
        h.send(line(0, text)).await;
    }
    // Node 1's pulse, 1.8 µs after sync 1: node 2 may still send an earlier one.
    h.send(line(1, "CON_PULSE,1,0,1,1,900,1,(0,3)")).await;
    assert!(
        timeout(Duration::from_secs(1), h.recv()).await.is_err(),
        "held for node 2"
    );
    // Node 2's, 1 µs after sync 1: it goes first, node 1's waits for node 2 to pass it.
    h.send(line(2, "CON_PULSE,1,0,1,1,500,1,(0,3)")).await;
    let first = next_timed(&mut h).await;
    assert_eq!((first.node, first.utc.subsec_nanos()), (2, 350_525));
    // Neither node says more: once both have been silent for NODE_SILENCE, it goes.
    let quiet = Instant::now();
    let second = next_timed(&mut h).await;
    assert_eq!((second.node, second.utc.subsec_nanos()), (1, 351_325));
    assert!(
        (NODE_SILENCE..NODE_SILENCE + Duration::from_millis(10)).contains(&quiet.elapsed()),
        "released after {:?}",
        quiet.elapsed()
    );
}

async fn next_timed(h: &mut Harness<NodeUartLine, TimedPulse>) -> TimedPulse {
    timeout(LIMIT, h.recv())
        .await
        .expect("in time")
        .expect("a pulse")
}
