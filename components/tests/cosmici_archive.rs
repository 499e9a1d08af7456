//! The SQLite archive: runs accumulate in one file without clashing.
#![cfg(feature = "store")]

use axon::Control;
use axon::testing::Harness;
use components::cosmici::archive::{RunArchive, read_back};
use components::cosmici::reconstruct::{DetectorMap, PulseReconstructor, ReconstructStats, Record};
use components::cosmici::timing::TimedPulse;
use components::cosmici::{ConPulse, UtcNanos};
use components::physics::fit::PulseFitterConfig;

fn pulse(num: u32) -> Record {
    let fitter = PulseReconstructor::new(
        PulseFitterConfig::default(),
        DetectorMap::default(),
        ReconstructStats::default(),
    )
    .unwrap();
    let con: ConPulse = format!("CON_PULSE,1,100,2,{num},150,2,(0,(1,1),3)")
        .parse()
        .unwrap();
    let timed = TimedPulse {
        node: 1,
        pulse: con,
        utc: UtcNanos(1_700_000_000_000_000_000 + i64::from(num)),
        levels: vec![0.2, 0.3, 0.45, 0.675, 1.013],
        clock_period_ns: 2.0,
    };
    let reconstructed = fitter.reconstruct(u64::from(num), timed);
    assert_eq!(reconstructed.detector, Some(1));
    Record::Pulse(Box::new(reconstructed))
}

async fn store(path: &std::path::Path, records: Vec<Record>) -> i64 {
    let archive = RunArchive::open(path).unwrap();
    let run = archive.run();
    let stats = archive.stats();
    let mut h = Harness::new(archive.into_component());
    let n = records.len() as u64;
    for r in records {
        h.send(r).await;
    }
    h.send_control(Control::ProducerFinished).await;
    assert!(h.exit().await.is_clean());
    assert_eq!(stats.pulses(), n);
    run
}

#[tokio::test]
async fn runs_accumulate_in_one_file() {
    let path = std::env::temp_dir().join(format!("cosmici-archive-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    assert_eq!(store(&path, vec![pulse(1), pulse(2)]).await, 1);
    assert_eq!(store(&path, vec![pulse(1)]).await, 2);
    let (pulses, showers) = read_back(&path).unwrap();
    assert!(showers.is_empty());
    assert_eq!(pulses.len(), 1, "only the latest run is read back");
    assert_eq!(
        (pulses[0].node, pulses[0].ch, pulses[0].pulse_num),
        (1, 2, 1)
    );
    assert_eq!(pulses[0].utc_ns, 1_700_000_000_000_000_001);
    assert!(pulses[0].peak_height.is_some(), "a two-level pulse fits");
    let _ = std::fs::remove_file(&path);
}
