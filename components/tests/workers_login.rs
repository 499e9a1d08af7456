//! Worker login: challenge-response, uniform refusals, the failure limit, and
//! registrations changed while the master runs.

mod workers_support;

use std::time::Duration;

use components::workers::wire::{ToMaster, ToWorker};
use components::workers::{
    LoginLimiter, MasterOptions, OpReply, Registration, Registrations, SessionEnd, WORKER_COMMANDS,
    WorkerError, WorkerMaster, WorkerOp, auth,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use workers_support::{LIMIT, ask, rig, rig_for, worker};

/// Log in by hand with `name` and `secret`; returns the master's last line, raw.
async fn raw_login(addr: std::net::SocketAddr, name: &str, secret: &str) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let hello = serde_json::to_string(&ToMaster::Hello { name: name.into() }).unwrap();
    w.write_all(format!("{hello}\n").as_bytes()).await.unwrap();
    let first = tokio::time::timeout(LIMIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let ToWorker::Challenge { nonce } = serde_json::from_str(&first).unwrap() else {
        return first;
    };
    let mac = auth::answer(secret.as_bytes(), &nonce);
    let a = serde_json::to_string(&ToMaster::Auth { mac }).unwrap();
    w.write_all(format!("{a}\n").as_bytes()).await.unwrap();
    tokio::time::timeout(LIMIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_worker_with_the_right_secret_logs_in_and_answers_get_info() {
    let mut rig = rig(&[("w1", "s3cret")], MasterOptions::default());
    let w = worker("w1", "s3cret");
    let session = tokio::spawn({
        let addr = rig.addr;
        async move { w.connect(addr).await }
    });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    let Ok(OpReply::Info { info }) = ask(&mut ops, WorkerOp::GetInfo).await else {
        panic!("get_info answered with info");
    };
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.commands, WORKER_COMMANDS);
    let builders = vec!["linux".to_string(), "docs".to_string()];
    let set = WorkerOp::SetBuilderList {
        builders: builders.clone(),
    };
    assert_eq!(ask(&mut ops, set).await, Ok(OpReply::Done));
    let Ok(OpReply::Info { info }) = ask(&mut ops, WorkerOp::GetInfo).await else {
        panic!("get_info answered with info");
    };
    assert_eq!(info.builders, builders);
    assert_eq!(ask(&mut ops, WorkerOp::Shutdown).await, Ok(OpReply::Done));
    let end = tokio::time::timeout(LIMIT, session).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::Shutdown);
    assert_eq!(rig.master.stats().logins(), 1);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_with_the_same_line_as_an_unknown_worker() {
    let rig = rig(&[("w1", "s3cret")], MasterOptions::default());
    let wrong_secret = raw_login(rig.addr, "w1", "guess").await;
    let unknown = raw_login(rig.addr, "nobody", "s3cret").await;
    assert_eq!(wrong_secret, r#"{"t":"refused","reason":"login refused"}"#);
    assert_eq!(unknown, wrong_secret);
    assert_eq!(rig.master.stats().refused(), 2);
    assert!(!rig.master.workers().is_attached("w1"));
    // The real worker sees the refusal as an error, not as a session.
    let err = worker("w1", "guess").connect(rig.addr).await.unwrap_err();
    assert!(
        matches!(err, WorkerError::Refused(ref r) if r == "login refused"),
        "{err}"
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_address() {
    let regs = Registrations::default();
    regs.set("w1", Registration::new("s3cret"));
    let rig = rig_for(
        WorkerMaster::new(regs).with_limiter(LoginLimiter::new(3, Duration::from_secs(60))),
    );
    let (master, addr) = (&rig.master, rig.addr);
    for _ in 0..3 {
        assert_eq!(
            raw_login(addr, "w1", "guess").await,
            r#"{"t":"refused","reason":"login refused"}"#
        );
    }
    // Over the limit: even the right secret is refused, with the same line, unchallenged.
    assert_eq!(
        raw_login(addr, "w1", "s3cret").await,
        r#"{"t":"refused","reason":"login refused"}"#
    );
    assert_eq!(master.stats().refused(), 4);
    assert_eq!(master.stats().rate_limited(), 1);
    assert_eq!(master.stats().logins(), 0);
}

#[tokio::test]
async fn a_secret_changed_while_connected_takes_effect_and_can_disconnect() {
    let rig = rig(&[("w1", "old")], MasterOptions::default());
    let session = tokio::spawn({
        let w = worker("w1", "old");
        let addr = rig.addr;
        async move { w.connect(addr).await }
    });
    rig.attached("w1").await;
    // Changed without disconnecting: the current session goes on.
    assert!(
        !rig.master
            .update_registration("w1", Registration::new("new"), false)
    );
    assert!(rig.master.workers().is_attached("w1"));
    // Asked to disconnect: the session ends.
    assert!(
        rig.master
            .update_registration("w1", Registration::new("new"), true)
    );
    let end = tokio::time::timeout(LIMIT, session).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::ConnectionLost);
    assert!(
        rig.master
            .workers()
            .wait_for(LIMIT, |w| !w.is_attached("w1"))
            .await
    );
    let old = worker("w1", "old").connect(rig.addr).await;
    assert!(matches!(old, Err(WorkerError::Refused(_))), "{old:?}");
    let session = tokio::spawn({
        let w = worker("w1", "new");
        let addr = rig.addr;
        async move { w.connect(addr).await }
    });
    rig.attached("w1").await;
    assert!(rig.master.workers().disconnect("w1"));
    let end = tokio::time::timeout(LIMIT, session).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::ConnectionLost);
}

#[tokio::test]
async fn a_worker_on_the_wrong_port_is_refused() {
    let rig = rig(&[], MasterOptions::default());
    let other_port = if rig.addr.port() == 1 {
        2
    } else {
        rig.addr.port() - 1
    };
    rig.master
        .registrations()
        .set("w1", Registration::new("s3cret").port(other_port));
    assert_eq!(
        raw_login(rig.addr, "w1", "s3cret").await,
        r#"{"t":"refused","reason":"login refused"}"#
    );
    rig.master
        .registrations()
        .set("w1", Registration::new("s3cret").port(rig.addr.port()));
    assert_eq!(
        raw_login(rig.addr, "w1", "s3cret").await,
        r#"{"t":"welcome"}"#
    );
}

#[tokio::test]
async fn a_second_login_of_the_same_worker_takes_over_from_the_first() {
    let rig = rig(&[("w1", "s3cret")], MasterOptions::default());
    let first = tokio::spawn({
        let w = worker("w1", "s3cret");
        let addr = rig.addr;
        async move { w.connect(addr).await }
    });
    rig.attached("w1").await;
    let first_peer = rig.master.workers().view("w1").unwrap().peer;
    let second = tokio::spawn({
        let w = worker("w1", "s3cret");
        let addr = rig.addr;
        async move { w.connect(addr).await }
    });
    let end = tokio::time::timeout(LIMIT, first).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::ConnectionLost);
    let taken_over = rig
        .master
        .workers()
        .wait_for(LIMIT, |w| {
            w.view("w1").is_some_and(|v| v.peer != first_peer)
        })
        .await;
    assert!(taken_over, "the second connection is the one logged in");
    assert_eq!(rig.master.stats().logins(), 2);
    assert!(rig.master.workers().disconnect("w1"));
    let end = tokio::time::timeout(LIMIT, second).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::ConnectionLost);
}

#[tokio::test]
async fn a_running_worker_logs_in_again_after_a_lost_connection_and_ends_on_shutdown() {
    let mut rig = rig(&[("w1", "s3cret")], MasterOptions::default());
    let run = tokio::spawn({
        let w = worker("w1", "s3cret");
        let addr = rig.addr;
        async move { w.run(addr, Duration::from_secs(1)).await }
    });
    rig.attached("w1").await;
    let first_peer = rig.master.workers().view("w1").unwrap().peer;
    assert!(rig.master.workers().disconnect("w1"));
    let back = rig
        .master
        .workers()
        .wait_for(LIMIT, |w| {
            w.view("w1").is_some_and(|v| v.peer != first_peer)
        })
        .await;
    assert!(back, "the worker logged in again");
    assert_eq!(rig.master.stats().logins(), 2);
    let mut ops = rig.ops("w1");
    assert_eq!(ask(&mut ops, WorkerOp::Shutdown).await, Ok(OpReply::Done));
    let ended = tokio::time::timeout(LIMIT, run).await.unwrap().unwrap();
    assert!(ended.is_ok(), "{ended:?}");
}
