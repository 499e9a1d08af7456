//! Remote links between two processes on loopback: `remote_peer --role recv` offers
//! `test/sink/inbox`, `remote_peer --role send` numbers messages 0..N into it. Every wait
//! is bounded; ports come from the OS.

mod support;

use support::{Peer, Proxy, field, free_port, json_field};

fn receiver(port: u16, extra: &[&str]) -> Peer {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["--role", "recv", "--zenoh-listen", &listen];
    args.extend_from_slice(extra);
    let mut p = Peer::start("receiver", &args);
    p.wait_for("ready", 30);
    p
}

fn sender(port: u16, count: u64, extra: &[&str]) -> Peer {
    let connect = format!("127.0.0.1:{port}");
    let count = count.to_string();
    let mut args = vec![
        "--role",
        "send",
        "--zenoh-connect",
        &connect,
        "--count",
        &count,
    ];
    args.extend_from_slice(extra);
    let mut p = Peer::start("sender", &args);
    p.wait_for("ready", 30);
    p
}

/// Asks a peer for its count (received, or sent by the producer) until it reaches `n`
/// (at most 2000 asks).
fn wait_until_received(rx: &mut Peer, n: u64) {
    for _ in 0..2000 {
        match rx.count() {
            Some(c) if c < n => {}
            _ => return,
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the receiver never counted {n}: {:?}", rx.seen.last());
}

fn wait_until_flowing(rx: &mut Peer) {
    wait_until_received(rx, 1);
}

#[test]
fn the_blocking_policy_delivers_everything_in_order_and_producer_finished_crosses() {
    let port = free_port();
    let mut rx = receiver(port, &[]);
    let mut tx = sender(port, 20_000, &[]);
    let fin = rx.wait_for("final", 60);
    assert_eq!(field(&fin, "received"), 20_000, "{fin}");
    assert_eq!(
        (field(&fin, "duplicates"), field(&fin, "gaps")),
        (0, 0),
        "{fin}"
    );
    assert_eq!(field(&fin, "last"), 19_999);
    assert!(fin.contains("ended_by=Some(ProducerFinished)"), "{fin}");
    assert_eq!(rx.wait_for("exit", 10), "exit finished");
    assert_eq!(tx.wait_for("exit", 10), "exit finished");
}

#[test]
fn shutdown_crosses_the_link() {
    let port = free_port();
    let mut rx = receiver(port, &[]);
    let _tx = sender(port, 100, &["--end", "shutdown"]);
    let fin = rx.wait_for("final", 60);
    assert!(fin.contains("ended_by=Some(Shutdown)"), "{fin}");
    assert_eq!(rx.wait_for("exit", 10), "exit shut down");
}

#[test]
fn a_receiver_that_does_not_read_holds_the_sender_back_and_nothing_is_lost() {
    let port = free_port();
    let mut rx = receiver(port, &["--paused", "--window", "64"]);
    let mut tx = sender(port, 100_000, &["--window", "64"]);
    let full = rx.wait_for("window-full", 60);
    let limit = field(&full, "limit");
    // The sink's inbox (64) filled, then the window (64) beyond it: no more credit.
    assert_eq!(
        limit,
        64 + 64,
        "nothing read: credit stops at inbox + window: {full}"
    );
    tx.say("status");
    let status = tx.wait_for("status", 10);
    let sent = field(&status, "count");
    // In flight (64) + the sending endpoint's inbox (64) + one in the producer's hands.
    assert!(
        sent <= limit + 64 + 1,
        "the sender ran ahead of its credit: {status}"
    );
    rx.say("go");
    let fin = rx.wait_for("final", 120);
    assert_eq!(field(&fin, "received"), 100_000, "{fin}");
    assert_eq!(
        (field(&fin, "duplicates"), field(&fin, "gaps")),
        (0, 0),
        "{fin}"
    );
    assert_eq!(tx.wait_for("exit", 10), "exit finished");
}

#[test]
fn a_lossy_policy_drops_on_the_sending_host_and_both_hosts_count_it() {
    let port = free_port();
    let mut rx = receiver(port, &["--paused", "--window", "16"]);
    let mut tx = sender(port, 5_000, &["--window", "16", "--policy", "drop-newest"]);
    // The producer never waits: what finds neither credit nor room is dropped.
    wait_until_received(&mut tx, 5_000);
    rx.say("go");
    let fin = rx.wait_for("final", 60);
    let received = field(&fin, "received");
    assert_eq!(field(&fin, "duplicates"), 0, "{fin}");
    let rx_link = rx.wait_for("link", 10);
    let tx_link = tx.seen.iter().find(|l| l.starts_with("link")).cloned();
    let tx_link = tx_link.unwrap_or_else(|| tx.wait_for("link", 30));
    let exit = tx.seen.iter().find(|l| l.starts_with("exit")).cloned();
    assert_eq!(
        exit.unwrap_or_else(|| tx.wait_for("exit", 10)),
        "exit finished"
    );
    let (rx_dropped, tx_dropped) = (
        json_field(&rx_link, "dropped"),
        json_field(&tx_link, "dropped"),
    );
    assert_eq!(
        rx_dropped, tx_dropped,
        "both hosts show the same count: {rx_link} / {tx_link}"
    );
    assert!(
        tx_dropped > 0,
        "a paused receiver with drop-newest drops: {tx_link}"
    );
    assert_eq!(
        received + tx_dropped,
        5_000,
        "every message delivered or counted: {fin}"
    );
    assert!(rx_link.contains("\"role\":\"receiver\"") && tx_link.contains("\"role\":\"sender\""));
}

#[test]
fn a_killed_sender_is_named_in_the_receivers_exit_reason() {
    let port = free_port();
    let mut rx = receiver(port, &["--grace-ms", "1000", "--lease-ms", "1000"]);
    let mut tx = sender(port, u64::MAX / 2, &[]);
    wait_until_flowing(&mut rx);
    tx.kill();
    rx.wait_for("exit", 30);
    let said = |prefix: &str| {
        rx.seen
            .iter()
            .find(|l| l.starts_with(prefix))
            .cloned()
            .unwrap()
    };
    let exit = said("endpoint-exit");
    assert!(
        exit.contains("failed")
            && exit.contains("vanished")
            && exit.contains("sender axon/test/sink/inbox"),
        "{exit}"
    );
    let fin = said("final");
    assert!(
        fin.contains("ended_by=Some(Shutdown)"),
        "the consumer is stopped: {fin}"
    );
}

#[test]
fn a_killed_receiver_is_named_in_the_senders_exit_reason() {
    let port = free_port();
    let mut rx = receiver(port, &[]);
    let mut tx = sender(
        port,
        u64::MAX / 2,
        &["--grace-ms", "1000", "--lease-ms", "1000"],
    );
    wait_until_flowing(&mut rx);
    rx.kill();
    let exit = tx.wait_for("exit", 30);
    assert!(
        exit.contains("vanished") && exit.contains("receiver axon/test/sink/inbox"),
        "{exit}"
    );
}

#[test]
fn a_cut_connection_resumes_without_loss_or_duplicates() {
    let port = free_port();
    let proxy = Proxy::start(port);
    let mut rx = receiver(port, &["--grace-ms", "20000"]);
    let mut tx = sender(proxy.port, 200_000, &[]);
    // Cut mid-stream, refusing the first attempt to reconnect.
    wait_until_received(&mut rx, 20_000);
    proxy.cut(1);
    let fin = rx.wait_for("final", 120);
    assert_eq!(field(&fin, "received"), 200_000, "{fin}");
    assert_eq!(
        (field(&fin, "duplicates"), field(&fin, "gaps")),
        (0, 0),
        "{fin}"
    );
    assert!(
        proxy.accepted.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "it reconnected"
    );
    assert_eq!(tx.wait_for("exit", 10), "exit finished");
}
