//! Both ends of a worker's connection carry the kernel keepalive (`TCP_KEEPALIVE`: first
//! probe after 60 s): the kernel's table (`/proc/net/tcp`) shows the keepalive timer
//! armed on the master's accepted socket and on the worker's. Linux only.
#![cfg(target_os = "linux")]

mod workers_support;

use std::time::Duration;

use components::workers::{MasterOptions, TCP_KEEPALIVE};
use workers_support::{rig, worker};

/// The kernel's code for a pending keepalive timer in `/proc/net/tcp`.
const KEEPALIVE: u8 = 2;

/// Every established IPv4 TCP socket as `(local port, remote port, tr, tm->when in
/// hundredths of a second)`. Only established ones: a closed connection of an earlier
/// test to a port the OS hands out again waits in TIME_WAIT with its own timer.
fn kernel_sockets() -> Vec<(u16, u16, u8, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let port = |field: &str| {
        field
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f[3] != "01" {
                return None; // not ESTABLISHED
            }
            let (tr, when) = f[5].split_once(':')?;
            Some((
                port(f[1])?,
                port(f[2])?,
                u8::from_str_radix(tr, 16).ok()?,
                u64::from_str_radix(when, 16).ok()?,
            ))
        })
        .collect()
}

#[tokio::test]
async fn the_master_and_the_worker_both_set_tcp_keepalive() {
    let rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let idle = TCP_KEEPALIVE.idle.as_secs() * 100;
    // Due within the configured idle time (the system default is two hours).
    let armed = |s: &[(u8, u64)]| s.len() == 1 && s[0].0 == KEEPALIVE && s[0].1 <= idle;
    // Bounded wait for the login's last bytes to be acknowledged: then the keepalive
    // timer is the only one left on each socket.
    let (mut master_side, mut worker_side) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        let sockets = kernel_sockets();
        let pick = |f: &dyn Fn(u16, u16) -> bool| -> Vec<(u8, u64)> {
            sockets
                .iter()
                .filter(|(l, r, _, _)| f(*l, *r))
                .map(|(_, _, tr, when)| (*tr, *when))
                .collect()
        };
        // The accepted socket (not the listener, whose remote port is 0), and the
        // worker's socket to the master's port.
        master_side = pick(&|l, r| l == addr.port() && r != 0);
        worker_side = pick(&|_, r| r == addr.port());
        if armed(&master_side) && armed(&worker_side) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(armed(&master_side), "master's socket: {master_side:?}");
    assert!(armed(&worker_side), "worker's socket: {worker_side:?}");
}
