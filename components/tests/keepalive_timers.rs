//! Keepalive on tokio's paused clock: keepalives every period, death after the
//! deadline of silence, and any traffic pushing the deadline back.

use std::time::Duration;

use axon::testing::Harness;
use axon::{Control, Exit};
use components::keepalive::{Error, Keepalive, PeerDead};
use tokio::time::Instant;

const T: Duration = Duration::from_secs(10);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn failure(exit: &Exit) -> Option<Error> {
    match exit {
        Exit::Failed(e) => e.downcast_ref::<Error>().cloned(),
        _ => None,
    }
}

/// Every keepalive sent until the component ends, with the time since `t0`.
async fn keepalives(h: &mut Harness<String, String>, t0: Instant) -> Vec<(String, Duration)> {
    let mut got = Vec::new();
    while let Some(k) = h.recv().await {
        got.push((k, t0.elapsed()));
        assert!(got.len() < 1000, "runaway keepalives");
    }
    got
}

#[tokio::test(start_paused = true)]
async fn a_keepalive_every_period() {
    let t0 = Instant::now();
    let mut n = 0;
    let ka = Keepalive::<String, String>::every_with(T, move || {
        n += 1;
        format!("PING {n}")
    })
    .deadline(secs(1000));
    let status = ka.status();
    let mut h = Harness::new(ka);
    for k in 1..=5u64 {
        assert_eq!(h.recv().await, Some(format!("PING {k}")));
        assert_eq!(t0.elapsed(), T * k as u32);
    }
    assert_eq!(status.keepalives_sent(), 5);
    h.send_control(Control::Shutdown).await;
    assert!(matches!(h.exit().await, Exit::ShutDown));
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn silence_for_the_deadline_kills_the_peer() {
    let t0 = Instant::now();
    let ka = Keepalive::<String, String>::every(T, "PING".into());
    let status = ka.status();
    let mut h = Harness::new(ka);
    let mut dead = h.outbox_receiver::<PeerDead>("dead").unwrap();
    let got = keepalives(&mut h, t0).await;
    // Keepalives at 10 s and 20 s; at 30 s the deadline wins over the third.
    assert_eq!(
        got,
        [
            ("PING".to_string(), secs(10)),
            ("PING".to_string(), secs(20))
        ]
    );
    let exit = h.exit().await;
    assert_eq!(t0.elapsed(), secs(30));
    assert_eq!(
        failure(&exit),
        Some(Error::PeerDead {
            silent_for: secs(30)
        }),
        "{exit}"
    );
    assert_eq!(
        dead.recv().await,
        Some(PeerDead {
            silent_for: secs(30),
            last_heard: None
        })
    );
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
    assert!(status.is_dead());
    assert_eq!(status.last_heard(), None);
}

#[tokio::test(start_paused = true)]
async fn any_traffic_pushes_the_deadline_back() {
    let t0 = Instant::now();
    // Each keepalive says when it was made, so queued ones can be checked later.
    let ka = Keepalive::<String, Duration>::every_with(T, move || t0.elapsed()).deadline(secs(30));
    let status = ka.status();
    let mut h = Harness::new(ka);
    // Not replies to keepalives: any message counts.
    tokio::time::sleep(secs(25)).await;
    h.send("data".into()).await;
    tokio::time::sleep(secs(25)).await; // 50 s
    h.send("more data".into()).await;
    let mut made = Vec::new();
    while let Some(at) = h.recv().await {
        made.push(at);
        assert!(made.len() < 1000, "runaway keepalives");
    }
    // Alive until 50 s + 30 s; a keepalive every 10 s before that.
    assert_eq!(made, (1..=7).map(|k| secs(10 * k)).collect::<Vec<_>>());
    let exit = h.exit().await;
    assert_eq!(t0.elapsed(), secs(80));
    assert_eq!(
        failure(&exit),
        Some(Error::PeerDead {
            silent_for: secs(30)
        }),
        "{exit}"
    );
    assert_eq!(status.last_heard(), Some(t0 + secs(50)));
    assert_eq!(status.messages_heard(), 2);
}

#[tokio::test(start_paused = true)]
async fn traffic_just_before_the_deadline_keeps_the_peer_alive() {
    let t0 = Instant::now();
    let ka = Keepalive::<String, String>::every(T, "PING".into()).deadline(secs(30));
    let mut h = Harness::new(ka);
    tokio::time::sleep(secs(30) - Duration::from_millis(1)).await;
    h.send("just in time".into()).await;
    while h.recv().await.is_some() {}
    assert!(matches!(
        failure(&h.exit().await),
        Some(Error::PeerDead { .. })
    ));
    assert_eq!(t0.elapsed(), secs(60) - Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn the_connection_closing_ends_it_cleanly() {
    let t0 = Instant::now();
    let ka = Keepalive::<String, String>::every(T, "PING".into());
    let status = ka.status();
    let mut h = Harness::new(ka);
    assert_eq!(h.recv().await.as_deref(), Some("PING"));
    h.send("bye".into()).await;
    h.send_control(Control::SocketShutdown).await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::Finished));
    assert_eq!(t0.elapsed(), T);
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
    assert!(!status.is_dead());
    assert_eq!(status.messages_heard(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_full_outbound_path_skips_keepalives_instead_of_waiting() {
    let rt = axon::Runtime::new();
    let ka = Keepalive::<String, String>::every(T, "PING".into()).deadline(secs(1000));
    let status = ka.status();
    let ka = rt.add(ka).unwrap();
    let mut ext = rt.external("test");
    // Room for one keepalive, and nobody reads it.
    let (out_ref, _outbound) = ext.add_inbox::<String>("outbound", 1).unwrap();
    rt.link(ka.outbox(), out_ref).unwrap();
    let h = ka.start();
    tokio::time::sleep(secs(35)).await;
    assert_eq!(status.keepalives_sent(), 1);
    assert_eq!(status.keepalives_skipped(), 2);
    h.shutdown().await.unwrap();
    assert!(matches!(h.join().await, Exit::ShutDown));
}
