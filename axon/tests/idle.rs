//! Idle means idle: a graph of 1000 waiting components costs (near) zero CPU.
//! This file holds one test so no other test shares the process while it measures.

use std::time::{Duration, Instant};

use axon::component::from_fn;
use axon::{Context, Runtime};

/// User + system CPU time of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // The kernel reports in USER_HZ, which is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_graph_of_1000_components_uses_no_cpu() {
    let rt = Runtime::new();
    let mut handles = Vec::new();
    let mut prev = None;
    for _ in 0..1000 {
        let p = rt
            .add(from_fn("idle", |mut ctx: Context<u32, u32>| async move {
                while let Some(n) = ctx.recv().await {
                    ctx.send(n).await?;
                }
                Ok(())
            }))
            .unwrap();
        if let Some(out) = prev {
            rt.link(out, p.inbox()).unwrap();
        }
        prev = Some(p.outbox());
        handles.push(p.start());
    }
    // Let every body reach its first wait.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    let before = cpu_time();
    let started = Instant::now();
    // The observation window: one second of wall time with nothing to do. Blocking this
    // worker is deliberate; the other worker stays free for any component that wakes.
    tokio::task::block_in_place(|| {
        while started.elapsed() < Duration::from_secs(1) {
            std::thread::park_timeout(Duration::from_secs(1) - started.elapsed());
        }
    });
    let used = cpu_time() - before;
    assert!(
        used <= Duration::from_millis(50),
        "1000 idle components used {used:?} of CPU in one second"
    );
    assert_eq!(rt.live_components(), 1000);
    for h in &handles {
        h.kill();
    }
}
