//! Clock on tokio's paused clock: the period, the tick count, stopping, late ticks.

use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, Exit, Runtime};
use components::clock::{Clock, MissedTickBehavior};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn ticks_once_per_period_counting_from_one() {
    let t0 = Instant::now();
    let mut h = Harness::new(Clock::every(SECOND));
    for k in 1..=4u64 {
        assert_eq!(h.recv().await, Some(k));
        assert_eq!(t0.elapsed(), SECOND * k as u32);
    }
    h.send_control(Control::Shutdown).await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::ShutDown));
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn max_ticks_finishes_the_clock() {
    let t0 = Instant::now();
    let mut h = Harness::new(Clock::every(SECOND * 2).max_ticks(3));
    let mut got = Vec::new();
    while let Some(k) = h.recv().await {
        got.push(k);
    }
    assert_eq!(got, [1, 2, 3]);
    assert!(matches!(h.exit().await, Exit::Finished));
    assert_eq!(t0.elapsed(), SECOND * 6);
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
}

#[tokio::test(start_paused = true)]
async fn producer_finished_stops_it_too() {
    let mut h = Harness::new(Clock::every(SECOND));
    assert_eq!(h.recv().await, Some(1));
    h.finish().await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::Finished));
}

/// A clock feeding an inbox of one message that is first read at 5.5 s: returns each
/// tick after that with the time it arrived.
async fn late_reader(behavior: MissedTickBehavior) -> Vec<(u64, Duration)> {
    let t0 = Instant::now();
    let rt = Runtime::new();
    let clock = rt
        .add(Clock::every(SECOND).missed_tick_behavior(behavior))
        .unwrap();
    let mut ext = rt.external("reader");
    let (r, mut ticks) = ext.add_inbox::<u64>("ticks", 1).unwrap();
    rt.link(clock.outbox(), r).unwrap();
    let h = clock.start();
    tokio::time::sleep(SECOND * 11 / 2).await;
    let mut got = Vec::new();
    for _ in 0..5 {
        let tick = ticks.recv().await.unwrap();
        got.push((tick, t0.elapsed()));
    }
    h.kill();
    got
}

#[tokio::test(start_paused = true)]
async fn late_ticks_are_skipped_by_default() {
    let ms = Duration::from_millis;
    let got = late_reader(MissedTickBehavior::Skip).await;
    // 1 was queued, 2 was waiting for room, 3 is the late tick due at 3 s, then the
    // clock is back on the grid: 4 at 6 s, not a burst of stale ticks.
    assert_eq!(
        got,
        [
            (1, ms(5500)),
            (2, ms(5500)),
            (3, ms(5500)),
            (4, ms(6000)),
            (5, ms(7000))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn burst_catches_up() {
    let ms = Duration::from_millis;
    let got = late_reader(MissedTickBehavior::Burst).await;
    assert_eq!(
        got,
        [
            (1, ms(5500)),
            (2, ms(5500)),
            (3, ms(5500)),
            (4, ms(5500)),
            (5, ms(5500))
        ]
    );
}
