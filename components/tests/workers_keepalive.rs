//! The master's application keepalive, on tokio's paused clock: `keepalive` is printed
//! to the worker's log every period, and a worker silent for the deadline is detached.

use std::time::Duration;

use axon::testing::Harness;
use bytes::Bytes;
use chassis::tcp::ConnectionInfo;
use components::workers::wire::{ToMaster, ToWorker};
use components::workers::{
    MasterOptions, OpReply, Registration, Registrations, WorkerMaster, WorkerOp, auth,
};
use tokio::time::Instant;

fn line(msg: &ToMaster) -> Bytes {
    let mut v = serde_json::to_vec(msg).unwrap();
    v.push(b'\n');
    Bytes::from(v)
}

fn parse(bytes: Option<Bytes>) -> ToWorker {
    let bytes = bytes.expect("a line from the master");
    serde_json::from_slice(bytes.strip_suffix(b"\n").expect("one whole line")).unwrap()
}

/// A master connection in a harness, logged in as `w1`.
async fn logged_in(period: Duration, deadline: Duration) -> (WorkerMaster, Harness<Bytes, Bytes>) {
    let regs = Registrations::default();
    regs.set("w1", Registration::new("s"));
    let master =
        WorkerMaster::new(regs).with_options(MasterOptions::default().keepalive(period, deadline));
    let info = ConnectionInfo {
        id: 1,
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:9989".parse().unwrap(),
    };
    let mut h = Harness::with_runtime(axon::Runtime::new(), master.connection(&info));
    h.send(line(&ToMaster::Hello { name: "w1".into() })).await;
    let ToWorker::Challenge { nonce } = parse(h.recv().await) else {
        panic!("a challenge");
    };
    let mac = auth::answer(b"s", &nonce);
    h.send(line(&ToMaster::Auth { mac })).await;
    assert_eq!(parse(h.recv().await), ToWorker::Welcome);
    assert!(master.workers().is_attached("w1"));
    (master, h)
}

#[tokio::test(start_paused = true)]
async fn keepalive_is_printed_every_period_and_a_silent_worker_is_detached_at_the_deadline() {
    let period = Duration::from_secs(30);
    let deadline = Duration::from_secs(90);
    let (master, mut h) = logged_in(period, deadline).await;
    let start = Instant::now();
    // Answer five keepalives: the worker stays.
    for n in 1..=5u32 {
        let ToWorker::Call { id, op } = parse(h.recv().await) else {
            panic!("a call");
        };
        assert_eq!(
            op,
            WorkerOp::Print {
                text: "keepalive".into()
            }
        );
        assert_eq!(start.elapsed(), period * n);
        h.send(line(&ToMaster::Reply {
            id,
            result: Ok(OpReply::Done),
        }))
        .await;
    }
    assert!(master.workers().is_attached("w1"));
    let last_heard = start.elapsed();
    // Now silent: keepalives still go out, and at the deadline the connection ends.
    let mut unanswered = 0;
    while let Some(bytes) = h.recv().await {
        assert!(matches!(parse(Some(bytes)), ToWorker::Call { .. }));
        unanswered += 1;
        assert!(unanswered <= 3, "more keepalives than the deadline allows");
    }
    assert_eq!(start.elapsed(), last_heard + deadline);
    assert_eq!(
        unanswered, 1,
        "a keepalive at +30 s; at +60 s it is still unanswered, so none more; the deadline at +90 s"
    );
    assert_eq!(master.stats().silent_detached(), 1);
    assert!(!master.workers().is_attached("w1"));
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_talks_but_never_answers_keepalives_has_one_outstanding() {
    let period = Duration::from_secs(30);
    let (master, mut h) = logged_in(period, Duration::from_secs(90)).await;
    let start = Instant::now();
    let ToWorker::Call { id: first, .. } = parse(h.recv().await) else {
        panic!("a keepalive");
    };
    assert_eq!(start.elapsed(), period);
    // Ten periods of talk (a reply to nothing the master asked), never an answer, half
    // a period off the ticks.
    tokio::time::sleep(period / 2).await;
    for _ in 0..10 {
        h.send(line(&ToMaster::Reply {
            id: u64::MAX,
            result: Ok(OpReply::Done),
        }))
        .await;
        tokio::time::sleep(period).await;
    }
    assert!(master.workers().is_attached("w1"), "talk keeps it attached");
    assert_eq!(master.stats().keepalives_unanswered(), 10);
    // Answered at last: the next period prints again, and that is the next line sent.
    h.send(line(&ToMaster::Reply {
        id: first,
        result: Ok(OpReply::Done),
    }))
    .await;
    let ToWorker::Call { id, op } = parse(h.recv().await) else {
        panic!("a keepalive");
    };
    assert_ne!(id, first);
    assert_eq!(
        op,
        WorkerOp::Print {
            text: "keepalive".into()
        }
    );
    assert_eq!(start.elapsed(), period * 12);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_never_logs_in_is_closed_at_the_login_timeout() {
    let master = WorkerMaster::new(Registrations::default())
        .with_options(MasterOptions::default().login_timeout(Duration::from_secs(10)));
    let info = ConnectionInfo {
        id: 1,
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:9989".parse().unwrap(),
    };
    let mut h = Harness::with_runtime(axon::Runtime::new(), master.connection(&info));
    let start = Instant::now();
    assert_eq!(h.recv().await, None);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
}
