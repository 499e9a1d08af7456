//! `ServerConfig::tcp_keepalive` turns the kernel's keepalive probes on for accepted
//! sockets: the kernel's own table (`/proc/net/tcp`) shows the keepalive timer armed with
//! the configured idle time. Linux only.
#![cfg(target_os = "linux")]

use std::time::Duration;

use chassis::tcp::{Echo, ServerConfig, ServerCore, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `tr` (timer kind) and `tm->when` (in hundredths of a second) of the IPv4 socket
/// `local_port -> remote_port`, from `/proc/net/tcp`.
fn kernel_timer(local_port: u16, remote_port: u16) -> Option<(u8, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = (format!(":{local_port:04X}"), format!(":{remote_port:04X}"));
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !(f[1].ends_with(&want.0) && f[2].ends_with(&want.1)) {
            return None;
        }
        let (tr, when) = f[5].split_once(':')?;
        Some((
            u8::from_str_radix(tr, 16).ok()?,
            u64::from_str_radix(when, 16).ok()?,
        ))
    })
}

#[tokio::test]
async fn an_accepted_socket_gets_the_configured_keepalive() {
    const KEEPALIVE: u8 = 2; // the kernel's code for a pending keepalive timer
    let idle = Duration::from_secs(600);
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
        .tcp_keepalive(Some(TcpKeepalive::new(idle, Duration::from_secs(30))));
    let server = ServerCore::new(config, |_| Echo).unwrap();
    let addr = server.local_addr();
    let rt = axon::Runtime::new();
    let _server = rt.spawn(server).unwrap();
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client.write_all(b"hi").await.unwrap();
    let mut echo = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(10), client.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    let client_port = client.local_addr().unwrap().port();
    // Once the echo is acknowledged, the only timer left on the server's socket is the
    // keepalive one (bounded wait: the ACK may be a moment late).
    let mut seen = None;
    for _ in 0..200 {
        seen = kernel_timer(addr.port(), client_port);
        if seen.is_some_and(|(tr, _)| tr == KEEPALIVE) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (tr, when) = seen.expect("the accepted socket is in /proc/net/tcp");
    assert_eq!(
        tr, KEEPALIVE,
        "keepalive timer armed on the accepted socket"
    );
    // Due within the configured idle time (the system default is 2 hours).
    assert!(when <= idle.as_secs() * 100, "next probe in {when} cs");
    assert!(
        when >= (idle.as_secs() - 60) * 100,
        "next probe in {when} cs"
    );
}
