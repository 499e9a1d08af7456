//! A simulated run of a few seconds on a bounded real clock: the whole server graph
//! stores pulses and showers that match the simulator's ground truth.
#![cfg(feature = "store")]

use std::collections::HashMap;
use std::time::Duration;

use components::cosmici::bridge::BridgeConfig;
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::cosmici::station::{Station, StationConfig};
use components::physics::layout::DetectorLayout;
use components::physics::simulate::ShowerSimConfig;
use components::store::{Durability, Store, Table};

/// Simulated run length, from `START`.
const RUN: Duration = Duration::from_millis(2500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_run_stores_pulses_and_showers_matching_the_truth() {
    let dir = std::env::temp_dir().join(format!("cosmici-station-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sensornet.db");
    let layout = DetectorLayout::grid(2, 2, 10.0).unwrap();
    let mut config = StationConfig::new(layout.clone(), &db);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.bridges = BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        transcript_dir: Some(dir.join("transcripts")),
        ..BridgeConfig::default()
    };
    // Generous lateness: a loaded machine may skew the two FEDM links.
    config.shower_filter.lateness = 3e9;
    let rt = axon::Runtime::new();
    let station = Station::start(&rt, config).await.unwrap();
    let stats = station.stats().clone();

    let mut sim = DetectorSimConfig::new(station.main_addr(), layout.clone());
    sim.bridges = BridgePorts::Directory(station.directory());
    sim.showers = ShowerSimConfig {
        shower_rate: 5.0,
        background_rate: 50.0,
        ..ShowerSimConfig::default()
    };
    sim.seed = 7;
    sim.truth_file = Some(dir.join("truth.jsonl"));
    let mut sim = DetectorSim::new(sim).unwrap().start();
    tokio::time::timeout(Duration::from_secs(20), sim.wait_started())
        .await
        .expect("the run manager starts the run");
    // The run's length, not a synchronisation: everything after is drained in order.
    tokio::time::sleep(RUN).await;
    let truth = sim.stop().await;
    let exits = station.shutdown().await;
    for (part, exit) in &exits {
        assert!(exit.is_clean(), "{part}: {exit}");
    }
    let nodes = stats.nodes.states();
    assert_eq!(nodes.len(), 3, "a CTU and two FEDMs: {nodes:?}");
    assert_eq!(stats.uart.malformed() + stats.uart.bad_checksums(), 0);

    let truth_pulses: HashMap<(u32, u8, u32), _> = truth
        .pulses()
        .into_iter()
        .map(|p| ((p.node, p.ch, p.pulse_num), p))
        .collect();
    let store = Store::open(&db, Durability::Process).unwrap();
    let run = store
        .latest_run()
        .unwrap()
        .expect("the station began a run");
    let rows: Vec<(u32, u8, u32, i64, i64, Option<f64>)> = store
        .run_pulses(run)
        .unwrap()
        .into_iter()
        .map(|p| {
            let o = p.origin;
            let onset = p.onset_utc_ns.expect("every simulated pulse fits");
            (
                o.node,
                o.channel,
                o.pulse_num,
                o.utc_ns,
                onset,
                p.peak_height,
            )
        })
        .collect();
    assert!(rows.len() > 200, "only {} pulses stored", rows.len());
    assert!(
        rows.len() * 100 >= truth_pulses.len() * 95,
        "{} stored of {} sent",
        rows.len(),
        truth_pulses.len()
    );
    let mut onset_errors = Vec::new();
    for (node, ch, num, utc, onset, peak) in &rows {
        let t = truth_pulses
            .get(&(*node, *ch, *num))
            .expect("a stored pulse was sent");
        // The time chain is exact to the 2 ns FEDM quantisation (plus counter rounding).
        assert!(
            (utc - truth.utc_ns(t.first_rise)).abs() <= 3,
            "first rise {utc} vs {}",
            truth.utc_ns(t.first_rise)
        );
        onset_errors.push((onset - truth.utc_ns(t.pulse.time)) as f64);
        assert!(peak.is_some(), "every simulated pulse fits");
    }
    let n = onset_errors.len() as f64;
    let mean = onset_errors.iter().sum::<f64>() / n;
    let rms = (onset_errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
    // The FEDM latches each sync on its next clock edge, so times carry +U(0, 2 ns):
    // a mean near +1 ns, on top of the fitter's own sub-ns bias.
    assert!(
        mean.abs() < 2.5 && rms < 3.5,
        "onset bias {mean} ns, rms {rms} ns"
    );

    let showers: Vec<(i64, f64, f64)> = store
        .run_showers(run)
        .unwrap()
        .into_iter()
        .filter_map(|s| {
            Some((
                s.utc_ns?,
                s.zenith_deg?.to_radians(),
                s.azimuth_deg?.to_radians(),
            ))
        })
        .collect();
    let last_pulse = rows.iter().map(|r| r.3).max().unwrap();
    let visible: Vec<_> = truth
        .showers()
        .into_iter()
        .filter(|s| s.hits.len() >= 3 && truth.utc_ns(s.time) < last_pulse - 1_000_000)
        .collect();
    assert!(
        visible.len() >= 3,
        "the seed gives a few showers: {}",
        visible.len()
    );
    for s in &visible {
        let found = showers
            .iter()
            .find(|(utc, _, _)| (utc - truth.utc_ns(s.time)).abs() < 200)
            .unwrap_or_else(|| {
                panic!(
                    "shower {} at {} not found in {showers:?}",
                    s.id,
                    truth.utc_ns(s.time)
                )
            });
        // Compare direction cosines, which the arrival times measure (the zenith
        // angle itself is poorly defined near the horizon, the azimuth near the zenith).
        let cosines = |zenith: f64, azimuth: f64| {
            (zenith.sin() * azimuth.cos(), zenith.sin() * azimuth.sin())
        };
        let (u, v) = cosines(found.1, found.2);
        let (tu, tv) = cosines(s.zenith, s.azimuth);
        let off = (u - tu).hypot(v - tv);
        assert!(
            off < 0.2,
            "shower {}: direction cosines off by {off:.3} (zenith {:.1}° vs {:.1}°)",
            s.id,
            found.1.to_degrees(),
            s.zenith.to_degrees()
        );
    }
    assert!(
        showers.len() <= visible.len() + 2,
        "{} showers for {} simulated",
        showers.len(),
        visible.len()
    );
    // Every physical direction is on the sky, with its UTC and galactic position.
    let sky = store.sky().unwrap();
    let physical: Vec<_> = sky.iter().filter(|p| !p.unphysical).collect();
    assert!(!physical.is_empty());
    for p in &physical {
        let (l, b) = p.galactic.expect("mapped to galactic coordinates");
        assert!(
            (0.0..360.0).contains(&l) && (-90.0..=90.0).contains(&b),
            "{p:?}"
        );
        let (_, dec) = p.equatorial.expect("mapped to J2000");
        // A shower within 60° of the zenith at latitude 30.4° N: Dec in (−30°, 90°].
        if p.zenith_deg < 60.0 {
            assert!(dec > -30.0, "{p:?}");
        }
        assert!(p.utc_ns.is_some());
    }
    // The simulator's own comparison agrees.
    let c = components::cosmici::sim::truth_check::compare_with_truth(&db, &truth).unwrap();
    assert_eq!(c.pulses_matched, rows.len());
    assert!(
        c.max_time_error_ns <= 3 && c.showers_found == visible.len(),
        "{c}"
    );
    assert!(dir.join("truth.jsonl").metadata().unwrap().len() > 0);
    // What `cosmici export` and `cosmici plot sky` do with the file sensornet wrote.
    let mut csv = Vec::new();
    let exported = store.export(Table::Showers, &mut csv).unwrap();
    assert_eq!(exported, store.run_showers(run).unwrap().len());
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("l_deg,l_err_deg,b_deg,b_err_deg")
    );
    let mut csv = Vec::new();
    assert_eq!(store.export(Table::Pulses, &mut csv).unwrap(), rows.len());
    #[cfg(feature = "plots")]
    {
        use components::physics::sky::SkyFrame;
        let svg =
            components::plots::sky_map_svg_from_store(&store, SkyFrame::Galactic, 75.0).unwrap();
        let markers = svg.matches("<circle").count();
        assert_eq!(markers, physical.len(), "one marker per shower on the sky");
        assert!(svg.contains("zenith at the first shower"));
        // What `cosmici plot front --shower ID` animates: the stored hits and front.
        let shower = physical[0];
        let hits = store.shower_hits(shower.id).unwrap();
        let (zenith_deg, azimuth_deg, front_time_ns) =
            store.shower_direction(shower.id).unwrap().unwrap();
        let front = components::plots::ShowerFront {
            id: shower.id,
            title: format!("shower {}", shower.id),
            hits: hits.iter().map(|h| (h.detector, h.time)).collect(),
            zenith_deg,
            azimuth_deg,
            front_time_ns,
        };
        let svg = components::plots::front_svg(&layout, &front, None).unwrap();
        // One lighting-up per hit detector, plus the time cursor.
        assert_eq!(svg.matches("<animate ").count(), hits.len() + 1);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
