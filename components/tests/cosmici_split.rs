//! The split server's progress and lost stations, in-process on tokio's paused clock:
//! a quiet station's progress lets the central's merge release the other stations'
//! pulses, a station whose link is lost leaves the merge so the others go on, and a
//! station sends its progress only once its pulses have left.
#![cfg(feature = "store")]

use std::time::Duration;

use axon::Control;
use axon::testing::Harness;
use components::cosmici::UtcNanos;
use components::cosmici::progress::ChainProgress;
use components::cosmici::split::{
    PROGRESS_EVERY, StationEvent, StationMerge, StationMessage, StationPulses, StationTag, Tagged,
};
use components::physics::event_mapper::TimeOrigin;
use components::physics::shower::ShowerPulse;
use components::store::Record;

/// Far longer than anything the components wait for on their own (on the paused
/// clock this costs nothing): what has not come by then does not come.
const QUIET: Duration = Duration::from_secs(30);

const ORIGIN: i64 = 1_700_000_000_000_000_000;

fn pulse(detector: usize, time: f64) -> ShowerPulse {
    ShowerPulse {
        detector,
        time,
        amplitude: 0.5,
        fit_ref: None,
    }
}

fn from(station: u32, event: StationEvent) -> Tagged {
    Tagged { station, event }
}

fn pulse_of(station: u32, detector: usize, time: f64) -> Tagged {
    from(
        station,
        StationEvent::Message(StationMessage::Pulse {
            origin_ns: ORIGIN,
            pulse: pulse(detector, time),
        }),
    )
}

fn progress_of(station: u32, time: i64) -> Tagged {
    from(
        station,
        StationEvent::Message(StationMessage::Progress {
            utc_ns: ORIGIN + time,
        }),
    )
}

/// What the merge releases before it goes quiet, as (detector, time).
async fn released(h: &mut Harness<Tagged, ShowerPulse>) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    while let Ok(Some(p)) = tokio::time::timeout(QUIET, h.recv()).await {
        out.push((p.detector, p.time));
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_quiet_station_s_progress_releases_the_other_station_s_pulses() {
    let merge = StationMerge::new(vec!["a".into(), "b".into()], 1, TimeOrigin::default());
    let mut h = Harness::new(merge);
    let _records = h.outbox_receiver::<Record>("records").expect("records");
    for t in [1_000.0, 2_000.0, 3_000.0] {
        h.send(pulse_of(0, 0, t)).await;
    }
    // Station b has shown no time: it may still send a pulse before any of a's.
    assert_eq!(released(&mut h).await, []);
    // b's detectors are quiet, but its time chain has got to 2.5 µs.
    h.send(progress_of(1, 2_500)).await;
    assert_eq!(released(&mut h).await, [(0, 1_000.0), (0, 2_000.0)]);
    // b's next pulse, and progress past a's last one.
    h.send(pulse_of(1, 3, 2_700.0)).await;
    h.send(progress_of(1, 10_000)).await;
    assert_eq!(released(&mut h).await, [(3, 2_700.0), (0, 3_000.0)]);
    h.send(from(0, StationEvent::Finished)).await;
    h.send(from(1, StationEvent::Finished)).await;
    assert_eq!(h.recv().await, None);
    assert!(h.exit().await.is_clean());
}

#[tokio::test(start_paused = true)]
async fn a_station_whose_link_is_lost_leaves_the_merge_and_the_others_go_on() {
    let merge = StationMerge::new(vec!["a".into(), "b".into()], 1, TimeOrigin::default());
    let mut h = Harness::new(merge);
    let _records = h.outbox_receiver::<Record>("records").expect("records");
    h.send(progress_of(1, 500)).await;
    for t in [1_000.0, 2_000.0] {
        h.send(pulse_of(0, 0, t)).await;
    }
    assert_eq!(released(&mut h).await, []);
    // b's link is shut down (its peer vanished): a's pulses go on while a runs.
    h.send(from(1, StationEvent::Lost)).await;
    assert_eq!(released(&mut h).await, [(0, 1_000.0), (0, 2_000.0)]);
    h.send(pulse_of(0, 1, 3_000.0)).await;
    assert_eq!(released(&mut h).await, [(1, 3_000.0)]);
    h.send(from(0, StationEvent::Finished)).await;
    assert_eq!(h.recv().await, None);
    assert!(h.exit().await.is_clean());
}

#[tokio::test(start_paused = true)]
async fn a_tag_tells_a_lost_link_from_a_finished_station() {
    let mut lost = Harness::new(StationTag::new(1));
    lost.send_control(Control::Shutdown).await;
    assert_eq!(lost.recv().await, Some(from(1, StationEvent::Lost)));

    let mut finished = Harness::new(StationTag::new(0));
    finished
        .send(StationMessage::Progress { utc_ns: ORIGIN })
        .await;
    finished.finish().await;
    assert_eq!(
        finished.recv().await,
        Some(progress_of(0, 0)),
        "the stream first"
    );
    assert_eq!(finished.recv().await, Some(from(0, StationEvent::Finished)));
}

#[tokio::test(start_paused = true)]
async fn a_station_sends_its_progress_once_its_pulses_have_left() {
    let progress = ChainProgress::default();
    let origin = TimeOrigin::default();
    origin.get_or_set(ORIGIN);
    let mut h = Harness::new(StationPulses::new(origin, progress.clone()));
    // The clock has released one pulse; nothing before 10 µs will follow it. The
    // pulse is still being fitted: no progress may pass it.
    progress.clock_released(1, Some(UtcNanos(ORIGIN + 10_000)));
    assert!(tokio::time::timeout(QUIET, h.recv()).await.is_err());
    h.send(pulse(2, 4_000.0)).await;
    progress.pulse_joined();
    assert_eq!(
        h.recv().await,
        Some(StationMessage::Pulse {
            origin_ns: ORIGIN,
            pulse: pulse(2, 4_000.0)
        })
    );
    let started = tokio::time::Instant::now();
    assert_eq!(
        h.recv().await,
        Some(StationMessage::Progress {
            utc_ns: ORIGIN + 9_000
        })
    );
    assert!(started.elapsed() <= PROGRESS_EVERY, "within a tick");
    // No news: nothing more is sent.
    assert!(tokio::time::timeout(QUIET, h.recv()).await.is_err());
    // The chain's nodes report more time (status lines, no pulse).
    progress.clock_released(1, Some(UtcNanos(ORIGIN + 1_000_000)));
    assert_eq!(
        h.recv().await,
        Some(StationMessage::Progress {
            utc_ns: ORIGIN + 999_000
        })
    );
    h.finish().await;
    assert_eq!(h.recv().await, None);
    assert!(h.exit().await.is_clean());
}
