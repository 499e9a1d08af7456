//! Record a simulated run's UART transcripts, replay them into fresh servers (at
//! ten times the recorded pace, as fast as the server takes them, and with one
//! node's link held back by seconds), and find the same pulses and showers stored,
//! with the station's default shower lateness.
#![cfg(feature = "store")]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use components::cosmici::UtcNanos;
use components::cosmici::bridge::BridgeConfig;
use components::cosmici::sim::replay::{RecordedLine, Recording, ReplayConfig, replay};
use components::cosmici::sim::{BridgePorts, DetectorSim, DetectorSimConfig};
use components::cosmici::station::{Station, StationConfig};
use components::physics::layout::DetectorLayout;
use components::physics::simulate::ShowerSimConfig;
use components::store::{Durability, Store};

const RUN: Duration = Duration::from_millis(2500);

fn config(layout: &DetectorLayout, db: &Path, transcripts: Option<&Path>) -> StationConfig {
    let mut config = StationConfig::new(layout.clone(), db);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.bridges = BridgeConfig {
        auxio_base: 0,
        uart_base: 0,
        terminal_base: 0,
        transcript_dir: transcripts.map(Path::to_path_buf),
        ..BridgeConfig::default()
    };
    config
}

type Pulses = BTreeMap<(u32, u8, u32), (i64, Option<i64>, Option<f64>)>;
type Showers = Vec<(i64, Option<f64>, Option<f64>)>;

fn stored(db: &Path) -> (Pulses, Showers) {
    let store = Store::open(db, Durability::Process).unwrap();
    let run = store.latest_run().unwrap().unwrap();
    let pulses = store
        .run_pulses(run)
        .unwrap()
        .into_iter()
        .map(|p| {
            let o = p.origin;
            (
                (o.node, o.channel, o.pulse_num),
                (o.utc_ns, p.onset_utc_ns, p.peak_height),
            )
        })
        .collect();
    let mut showers: Showers = store
        .run_showers(run)
        .unwrap()
        .into_iter()
        .map(|s| (s.utc_ns.unwrap(), s.zenith_deg, s.azimuth_deg))
        .collect();
    showers.sort_by_key(|s| s.0);
    (pulses, showers)
}

/// Replays `recording` into a fresh station storing into `db`, at `speed` (`None`:
/// as fast as the server takes it), and checks every line arrived.
async fn replay_into(
    layout: &DetectorLayout,
    db: &Path,
    recording: &Recording,
    speed: Option<f64>,
) {
    let rt = axon::Runtime::new();
    let station = Station::start(&rt, config(layout, db, None)).await.unwrap();
    let stats = station.stats().clone();
    let replay_config = ReplayConfig {
        bridges: BridgePorts::Directory(station.directory()),
        speed,
        ..ReplayConfig::new(station.main_addr())
    };
    let mut reported = 0;
    let sent = replay(recording, &replay_config, |n| reported = n)
        .await
        .unwrap();
    assert_eq!((sent, reported), (recording.len(), recording.len()));
    for (part, exit) in station.shutdown().await {
        assert!(exit.is_clean(), "{part}: {exit}");
    }
    assert_eq!(
        stats.uart.lines() as usize,
        recording.len(),
        "every recorded line arrived"
    );
}

/// The same pulses (times within a nanosecond, peak heights to 1e-6) and the same
/// showers (UTC within a nanosecond, directions within 0.001°) in both files.
fn assert_same(original: &Path, replayed: &Path, what: &str) {
    let (pulses, showers) = stored(original);
    let (replayed_pulses, replayed_showers) = stored(replayed);
    assert!(pulses.len() > 200, "{} pulses", pulses.len());
    // A pulse that waited for the time chain's calibration is timed with the
    // calibration of the moment it is released, which depends on how the nodes'
    // lines interleaved on arrival: hence a nanosecond, not zero.
    let same = |a: &(i64, Option<i64>, Option<f64>), b: &(i64, Option<i64>, Option<f64>)| {
        let near = |x: i64, y: i64| (x - y).abs() <= 1;
        near(a.0, b.0)
            && a.1.zip(b.1).is_some_and(|(x, y)| near(x, y))
            && match (a.2, b.2) {
                (Some(x), Some(y)) => (x / y - 1.0).abs() < 1e-6,
                (x, y) => x == y,
            }
    };
    let differing: Vec<_> = pulses
        .iter()
        .filter(|(k, v)| !replayed_pulses.get(k).is_some_and(|r| same(v, r)))
        .take(3)
        .map(|(k, v)| (k, v, replayed_pulses.get(k)))
        .collect();
    assert!(
        differing.is_empty() && replayed_pulses.len() == pulses.len(),
        "{what}: {} pulses stored, {} replayed; first differences {differing:?}",
        pulses.len(),
        replayed_pulses.len()
    );
    assert!(showers.len() >= 3, "{showers:?}");
    assert_eq!(
        replayed_showers.len(),
        showers.len(),
        "{what}: showers {showers:?} replayed as {replayed_showers:?}"
    );
    for (a, b) in showers.iter().zip(&replayed_showers) {
        assert!((a.0 - b.0).abs() <= 1, "{what}: {a:?} vs {b:?}");
        let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-3,
            (None, None) => true,
            _ => false,
        };
        assert!(close(a.1, b.1) && close(a.2, b.2), "{what}: {a:?} vs {b:?}");
    }
}

/// The recording with node `node`'s lines after its `after`-th pulse sent `delay`
/// later than recorded: what the server sees when that node's link stalls, or when
/// a fast replay reads one link ahead of another.
fn held_back(recording: &Recording, node: u32, after: usize, delay: Duration) -> Recording {
    let mut pulses = 0;
    let shift = i64::try_from(delay.as_nanos()).unwrap();
    let lines = recording
        .lines()
        .iter()
        .map(|l| {
            let mut l: RecordedLine = l.clone();
            if l.node == node {
                if pulses >= after {
                    l.at = UtcNanos(l.at.as_nanos() + shift);
                }
                pulses += usize::from(l.line.starts_with("$CON_PULSE"));
            }
            l
        })
        .collect();
    Recording::from_lines(lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_recording_stores_the_same_pulses_and_showers() {
    let dir = std::env::temp_dir().join(format!("cosmici-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let layout = DetectorLayout::grid(2, 2, 10.0).unwrap();
    let transcripts = dir.join("transcripts");

    // The original run, recorded by the bridges.
    let rt = axon::Runtime::new();
    let station = Station::start(
        &rt,
        config(&layout, &dir.join("original.db"), Some(&transcripts)),
    )
    .await
    .unwrap();
    let mut sim = DetectorSimConfig::new(station.main_addr(), layout.clone());
    sim.bridges = BridgePorts::Directory(station.directory());
    sim.showers = ShowerSimConfig {
        shower_rate: 5.0,
        background_rate: 50.0,
        ..ShowerSimConfig::default()
    };
    sim.seed = 11;
    let mut sim = DetectorSim::new(sim).unwrap().start();
    tokio::time::timeout(Duration::from_secs(20), sim.wait_started())
        .await
        .expect("the run starts");
    // The run's length, not a synchronisation.
    tokio::time::sleep(RUN).await;
    sim.stop().await;
    for (part, exit) in station.shutdown().await {
        assert!(exit.is_clean(), "{part}: {exit}");
    }
    let original = dir.join("original.db");

    // One transcript per node, link and run (run 1 of a fresh database), each
    // between connection markers.
    let mut names: Vec<String> = std::fs::read_dir(&transcripts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..3)
        .flat_map(|n| {
            [
                format!("node{n}-auxio-run1.log"),
                format!("node{n}-uart-run1.log"),
            ]
        })
        .collect();
    assert_eq!(names, expected);
    let uart0 = std::fs::read_to_string(transcripts.join("node0-uart-run1.log")).unwrap();
    let lines: Vec<&str> = uart0.lines().collect();
    assert!(lines[0].contains(" # connected "), "{}", lines[0]);
    assert!(
        lines[lines.len() - 1].contains(" # disconnected "),
        "{}",
        lines[lines.len() - 1]
    );

    let recording = Recording::from_dir(&transcripts).unwrap();
    assert_eq!(recording.nodes(), [0, 1, 2]);
    // As fast as the server takes it, and at ten times the recorded pace.
    for (speed, name) in [(None, "max-speed.db"), (Some(10.0), "speed-10.db")] {
        replay_into(&layout, &dir.join(name), &recording, speed).await;
        assert_same(&original, &dir.join(name), name);
    }
    // Node 2's link held back until the others have sent everything (as when a
    // fast replay's sockets hold the whole recording and one is read first): node
    // 1's pulses all arrive first, seconds of data ahead (more than the lateness),
    // yet the shower filter sees them in time order.
    let skewed = held_back(&recording, 2, 20, Duration::from_secs(3600));
    assert!(skewed.span_ns() > recording.span_ns());
    replay_into(&layout, &dir.join("held-back.db"), &skewed, None).await;
    assert_same(&original, &dir.join("held-back.db"), "node 2 held back");
    let _ = std::fs::remove_dir_all(&dir);
}
