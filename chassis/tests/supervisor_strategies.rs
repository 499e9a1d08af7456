//! Supervisor: strategies, restart kinds, intensity and backoff (on tokio's paused clock).

mod supervisor_support;

use std::time::Duration;

use axon::testing::Harness;
use axon::{Exit, Outbox, Runtime};
use chassis::supervisor::{Backoff, Intensity, Restart, Strategy, Supervisor, SupervisorGaveUp};
use supervisor_support::{
    FAIL, FINISH, PANIC, Starts, bounded, ids_named, next_restart, worker_spec,
};

type Out = (String, u32);

/// A supervisor over workers `a`, `b`, `c` (each offering its inbox as a service of
/// its name, all writing to the supervisor's outbox), and one sender per worker.
struct Fixture {
    h: Harness<(), Out>,
    rt: Runtime,
    starts: [Starts; 3],
    to: [Outbox<u32>; 3],
    _ext: axon::External,
}

const NAMES: [&str; 3] = ["a", "b", "c"];

fn fixture(strategy: Strategy, kinds: [Restart; 3], intensity: Intensity) -> Fixture {
    let starts: [Starts; 3] = Default::default();
    let mut sup = Supervisor::<(), Out>::new()
        .strategy(strategy)
        .intensity(intensity)
        .backoff(Backoff::none());
    for (i, name) in NAMES.iter().enumerate() {
        sup = sup
            .child(
                worker_spec(name, &starts[i])
                    .restart(kinds[i])
                    .service(*name, "inbox"),
            )
            .link((name, "outbox"), ("self", "outbox"));
    }
    let rt = Runtime::new();
    let h = Harness::with_runtime(rt.clone(), sup);
    let mut ext = rt.external("test");
    let to = NAMES.map(|name| {
        let (src, out) = ext.add_outbox::<u32>(format!("to-{name}")).unwrap();
        rt.link(src, rt.service::<u32>(name).unwrap()).unwrap();
        out
    });
    Fixture {
        h,
        rt,
        starts,
        to,
        _ext: ext,
    }
}

impl Fixture {
    /// Send `n` to worker `i` and expect it back from that worker.
    async fn echo(&mut self, i: usize, n: u32) {
        self.to[i].send(n).await.unwrap();
        let got = bounded("a reply", self.h.recv()).await;
        assert_eq!(got, Some((NAMES[i].to_string(), n)));
    }

    fn start_counts(&self) -> [usize; 3] {
        [0, 1, 2].map(|i| self.starts[i].count())
    }
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_child_that_panicked_or_failed() {
    let mut f = fixture(
        Strategy::OneForOne,
        [Restart::Permanent; 3],
        Intensity::default(),
    );
    let mut events = f.rt.subscribe();
    f.echo(0, 1).await;
    f.echo(1, 2).await;
    f.to[1].send(PANIC).await.unwrap();
    let (child, id, restarts, reason) = next_restart(&mut events).await;
    assert_eq!((child.as_str(), restarts), ("b", 1));
    assert!(reason.contains("b got zero"), "{reason}");
    f.echo(1, 3).await;
    f.to[2].send(FAIL).await.unwrap();
    let (child, _, _, reason) = next_restart(&mut events).await;
    assert_eq!(child, "c");
    assert!(reason.contains("c refused"), "{reason}");
    f.echo(2, 4).await;
    f.echo(0, 5).await;
    assert_eq!(f.start_counts(), [1, 2, 2]);
    // The snapshot shows the restart on the new instance.
    let snap = f.rt.snapshot();
    let b = snap.component(id).expect("restarted b is alive");
    assert_eq!(
        (
            b.restarts,
            b.last_failure.as_deref().map(|r| r.contains("zero"))
        ),
        (1, Some(true))
    );
    f.h.send_control(axon::Control::Shutdown).await;
    assert!(matches!(bounded("end", f.h.exit()).await, Exit::ShutDown));
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_every_child() {
    let mut f = fixture(
        Strategy::OneForAll,
        [Restart::Permanent; 3],
        Intensity::default(),
    );
    let mut events = f.rt.subscribe();
    let before: Vec<_> = NAMES.iter().flat_map(|n| ids_named(&f.rt, n)).collect();
    f.to[1].send(PANIC).await.unwrap();
    let mut restarted = Vec::new();
    for _ in 0..3 {
        restarted.push(next_restart(&mut events).await.0);
    }
    restarted.sort();
    assert_eq!(restarted, ["a", "b", "c"]);
    for i in 0..3 {
        f.echo(i, 10 + i as u32).await;
    }
    assert_eq!(f.start_counts(), [2, 2, 2]);
    let after: Vec<_> = NAMES.iter().flat_map(|n| ids_named(&f.rt, n)).collect();
    assert!(
        before.iter().all(|id| !after.contains(id)),
        "{before:?} {after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_child_and_those_after_it() {
    let mut f = fixture(
        Strategy::RestForOne,
        [Restart::Permanent; 3],
        Intensity::default(),
    );
    let mut events = f.rt.subscribe();
    f.to[1].send(PANIC).await.unwrap();
    let mut restarted = vec![
        next_restart(&mut events).await.0,
        next_restart(&mut events).await.0,
    ];
    restarted.sort();
    assert_eq!(restarted, ["b", "c"]);
    for i in 0..3 {
        f.echo(i, 20 + i as u32).await;
    }
    assert_eq!(f.start_counts(), [1, 2, 2]);
}

#[tokio::test(start_paused = true)]
async fn restart_kinds_decide_what_comes_back() {
    // a: permanent (even a clean end restarts), b: transient, c: temporary.
    let mut f = fixture(
        Strategy::OneForOne,
        [Restart::Permanent, Restart::Transient, Restart::Temporary],
        Intensity::new(10, Duration::from_secs(5)),
    );
    let mut events = f.rt.subscribe();
    f.to[0].send(FINISH).await.unwrap();
    assert_eq!(next_restart(&mut events).await.0, "a");
    f.to[1].send(FAIL).await.unwrap();
    assert_eq!(next_restart(&mut events).await.0, "b");
    f.echo(1, 7).await;
    // A transient child that ends cleanly stays ended; its service goes with it.
    f.to[1].send(FINISH).await.unwrap();
    supervisor_support::wait_exited(&mut events, "b").await;
    // A temporary child is not restarted even after a panic.
    f.to[2].send(PANIC).await.unwrap();
    supervisor_support::wait_exited(&mut events, "c").await;
    // Long after any backoff, still no new instances.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(f.start_counts(), [2, 2, 1]);
    assert!(f.rt.service::<u32>("b").is_err() && f.rt.service::<u32>("c").is_err());
    // Senders to a child that is gone for good are told so, not left waiting.
    assert!(f.to[2].send(5).await.is_err());
    f.echo(0, 8).await;
}

#[tokio::test(start_paused = true)]
async fn more_restarts_than_the_intensity_allows_fail_the_supervisor_naming_the_child() {
    let mut f = fixture(
        Strategy::OneForOne,
        [Restart::Permanent; 3],
        Intensity::new(2, Duration::from_secs(5)),
    );
    for round in 0..3 {
        f.to[1].send(PANIC).await.unwrap();
        if round < 2 {
            f.echo(1, 100 + round).await;
        }
    }
    let exit = bounded("the supervisor gives up", f.h.exit()).await;
    let Exit::Failed(e) = exit else {
        panic!("expected a failure, got {exit:?}")
    };
    let gave_up = e
        .downcast_ref::<SupervisorGaveUp>()
        .expect("a SupervisorGaveUp");
    assert_eq!((gave_up.child.as_str(), gave_up.restarts), ("b", 2));
    assert!(gave_up.last_failure.contains("b got zero"), "{gave_up}");
    // Its children were stopped with it.
    for name in NAMES {
        assert!(
            ids_named(&f.rt, name).is_empty(),
            "{name} outlived its supervisor"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn restarts_outside_the_window_do_not_count() {
    let mut f = fixture(
        Strategy::OneForOne,
        [Restart::Permanent; 3],
        Intensity::new(1, Duration::from_secs(5)),
    );
    for round in 0..4 {
        f.to[0].send(PANIC).await.unwrap();
        f.echo(0, 200 + round).await;
        tokio::time::advance(Duration::from_secs(6)).await;
    }
    assert_eq!(f.start_counts()[0], 5);
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_from_min_up_to_max() {
    let starts = Starts::default();
    let sup = Supervisor::<u32, Out>::new()
        .intensity(Intensity::new(10, Duration::from_secs(60)))
        .backoff(Backoff::new(Duration::from_millis(100), Duration::from_millis(300)).jitter(0.0))
        .child(supervisor_support::worker_spec("w", &starts))
        .link(("self", "inbox"), ("w", "inbox"))
        .link(("w", "outbox"), ("self", "outbox"));
    let mut h = Harness::new(sup);
    for round in 0..4 {
        h.send(PANIC).await;
        h.send(300 + round).await;
        assert_eq!(
            bounded("reply", h.recv()).await,
            Some(("w".to_string(), 300 + round))
        );
    }
    let t = starts.times();
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 4);
    // 100 ms, 200 ms, then capped at 300 ms (the paused clock makes these exact).
    let want = [100, 200, 300, 300].map(Duration::from_millis);
    for (gap, want) in gaps.iter().zip(want) {
        assert!(
            *gap >= want && *gap < want + Duration::from_millis(5),
            "{gaps:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_jitter_stays_within_its_fraction() {
    let starts = Starts::default();
    let sup = Supervisor::<u32, Out>::new()
        .intensity(Intensity::new(100, Duration::from_secs(1)))
        .backoff(Backoff::new(Duration::from_millis(100), Duration::from_millis(100)).jitter(0.5))
        .child(supervisor_support::worker_spec("w", &starts))
        .link(("self", "inbox"), ("w", "inbox"))
        .link(("w", "outbox"), ("self", "outbox"));
    let mut h = Harness::new(sup);
    for round in 0..20 {
        h.send(PANIC).await;
        h.send(round + 1).await;
        assert!(bounded("reply", h.recv()).await.is_some());
    }
    let t = starts.times();
    let gaps: Vec<Duration> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter()
            .all(|g| *g >= Duration::from_millis(100) && *g <= Duration::from_millis(151)),
        "{gaps:?}"
    );
    let distinct: std::collections::HashSet<_> = gaps.iter().collect();
    assert!(distinct.len() > 1, "no jitter at all: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_children_and_nothing_is_restarted_after_it() {
    let mut f = fixture(
        Strategy::OneForOne,
        [Restart::Permanent; 3],
        Intensity::default(),
    );
    f.echo(0, 1).await;
    f.h.send_control(axon::Control::Shutdown).await;
    assert!(matches!(bounded("end", f.h.exit()).await, Exit::ShutDown));
    assert_eq!(f.start_counts(), [1, 1, 1]);
    for name in NAMES {
        assert!(
            ids_named(&f.rt, name).is_empty(),
            "{name} outlived its supervisor"
        );
    }
}
