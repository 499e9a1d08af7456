//! Two hosts in network namespaces made by the test (`ip netns add`, a veth pair),
//! with the link cut mid-stream (`ip link set down`) until the sender has seen the
//! receiver vanish, then restored. Needs root and `ip` (iproute2); prints `SKIPPED:`
//! without them. The namespaces are removed at the end, even when the test fails.
#![allow(clippy::print_stdout, reason = "a skipped test says so")]

mod support;

use std::process::Command;

use support::{Peer, field, json_field};

/// Namespaces and a veth pair, removed on drop.
struct TwoHosts {
    a: String,
    b: String,
    dev_a: String,
    addr_b: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl TwoHosts {
    fn new(tag: u8) -> Result<TwoHosts, String> {
        let pid = std::process::id() % 100_000;
        let hosts = TwoHosts {
            a: format!("axr{pid}{tag}a"),
            b: format!("axr{pid}{tag}b"),
            dev_a: format!("vx{pid}{tag}a"),
            addr_b: format!("10.213.{tag}.2"),
        };
        let dev_b = format!("vx{pid}{tag}b");
        let (a, b, da) = (hosts.a.as_str(), hosts.b.as_str(), hosts.dev_a.as_str());
        let (addr_a, addr_b) = (format!("10.213.{tag}.1/24"), format!("{}/24", hosts.addr_b));
        ip(&["netns", "add", a])?;
        ip(&["netns", "add", b])?;
        ip(&["link", "add", da, "type", "veth", "peer", "name", &dev_b])?;
        ip(&["link", "set", da, "netns", a])?;
        ip(&["link", "set", &dev_b, "netns", b])?;
        ip(&["-n", a, "addr", "add", &addr_a, "dev", da])?;
        ip(&["-n", b, "addr", "add", &addr_b, "dev", &dev_b])?;
        for (ns, dev) in [(a, da), (b, dev_b.as_str()), (a, "lo"), (b, "lo")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(hosts)
    }

    fn link(&self, up: bool) {
        ip(&[
            "-n",
            &self.a,
            "link",
            "set",
            &self.dev_a,
            if up { "up" } else { "down" },
        ])
        .unwrap();
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the pair.
        let _ = ip(&["netns", "del", &self.a]);
        let _ = ip(&["netns", "del", &self.b]);
    }
}

/// `None` (and a `SKIPPED:` line) without root or `ip`.
fn hosts(tag: u8) -> Option<TwoHosts> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let has_ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !root || !has_ip {
        println!("SKIPPED: needs root and ip (apt-get install iproute2)");
        return None;
    }
    match TwoHosts::new(tag) {
        Ok(h) => Some(h),
        Err(e) => {
            // A half-made pair is removed by the guard of the names it got.
            let pid = std::process::id() % 100_000;
            let _ = ip(&["netns", "del", &format!("axr{pid}{tag}a")]);
            let _ = ip(&["netns", "del", &format!("axr{pid}{tag}b")]);
            println!("SKIPPED: cannot make network namespaces here: {e}");
            None
        }
    }
}

/// Sends `count` messages (20 a millisecond) from host a to host b with `policy`, cutting the link once
/// the receiver has `cut_at` and restoring it once the sender has seen it vanish.
/// Returns the receiver's `final` line and both hosts' `link` lines.
fn cut_and_restore(
    h: &TwoHosts,
    count: u64,
    cut_at: u64,
    policy: &str,
) -> (String, String, String) {
    let listen = format!("{}:7447", h.addr_b);
    let count_s = count.to_string();
    let timing = ["--grace-ms", "60000", "--lease-ms", "1000"];
    let mut rx_args = vec!["--role", "recv", "--zenoh-listen", &listen];
    rx_args.extend(timing);
    let mut rx = Peer::start_in("receiver", Some(&h.b), &rx_args);
    rx.wait_for("ready", 30);
    let mut tx_args = vec![
        "--role",
        "send",
        "--zenoh-connect",
        &listen,
        "--count",
        &count_s,
    ];
    tx_args.extend(["--policy", policy, "--per-ms", "20"]);
    tx_args.extend(timing);
    let mut tx = Peer::start_in("sender", Some(&h.a), &tx_args);
    tx.wait_for("ready", 30);
    for _ in 0..5000 {
        if rx.count().is_none_or(|c| c >= cut_at) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.link(false);
    // Down until the sender has noticed (zenoh's lease): a real outage, not a blip.
    let mut noticed = false;
    for _ in 0..3000 {
        match tx.status() {
            Some(s) if s.contains("\"peer_live\":false") => {
                noticed = true;
                break;
            }
            None => break,
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    h.link(true);
    assert!(
        noticed,
        "the sender never saw the receiver vanish: {:?}",
        tx.seen.last()
    );
    let fin = rx.wait_for("final", 180);
    let rx_link = rx.wait_for("link", 10);
    let tx_link = tx.wait_for("link", 60);
    assert_eq!(tx.wait_for("exit", 10), "exit finished", "{tx_link}");
    (fin, rx_link, tx_link)
}

#[test]
fn a_cut_link_between_hosts_resumes_with_nothing_lost_or_duplicated_under_block() {
    let Some(h) = hosts(1) else { return };
    let (fin, rx_link, tx_link) = cut_and_restore(&h, 100_000, 20_000, "block");
    assert_eq!(field(&fin, "received"), 100_000, "{fin}");
    assert_eq!(
        (field(&fin, "duplicates"), field(&fin, "gaps")),
        (0, 0),
        "{fin}"
    );
    assert!(
        json_field(&rx_link, "peer_losses") >= 1,
        "the receiver saw the cut: {rx_link}"
    );
    assert_eq!(json_field(&tx_link, "dropped"), 0, "{tx_link}");
}

#[test]
fn a_cut_link_between_hosts_loses_only_what_a_lossy_policy_drops_and_counts() {
    let Some(h) = hosts(2) else { return };
    let (fin, rx_link, tx_link) = cut_and_restore(&h, 100_000, 20_000, "drop-oldest");
    let received = field(&fin, "received");
    let dropped = json_field(&tx_link, "dropped");
    assert_eq!(field(&fin, "duplicates"), 0, "{fin}");
    assert!(
        dropped > 0,
        "the producer ran on during the outage: {tx_link}"
    );
    assert_eq!(
        json_field(&rx_link, "dropped"),
        dropped,
        "both hosts count the same"
    );
    assert_eq!(received + dropped, 100_000, "{fin} / {tx_link}");
}
