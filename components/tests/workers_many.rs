//! Many workers, several concurrent commands each: every output complete and in order.

mod workers_support;

use std::collections::HashMap;
use std::time::Duration;

use components::workers::{CommandEvent, CommandOutcome, MasterOptions, OpReply};
use workers_support::{ask, rig, shell, worker};

const WORKERS: usize = 20;
const COMMANDS: usize = 5;
const LINES: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_workers_run_five_concurrent_commands_each_with_all_output_in_order() {
    let names: Vec<String> = (0..WORKERS).map(|w| format!("w{w}")).collect();
    let regs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "s")).collect();
    let mut rig = rig(&regs, MasterOptions::default());
    let mut sessions = Vec::new();
    for name in &names {
        let w = worker(name, "s");
        let addr = rig.addr;
        sessions.push(tokio::spawn(async move { w.connect(addr).await }));
    }
    let all = rig
        .master
        .workers()
        .wait_for(Duration::from_secs(20), |w| w.names().len() == WORKERS)
        .await;
    assert!(all, "all workers logged in");
    let mut ops: Vec<_> = names
        .iter()
        .map(|name| (name.clone(), rig.ops(name)))
        .collect();
    let updates = &mut rig.updates;
    // Start every command while collecting updates: the application must read its
    // updates while it asks, or the connections wait for it (backpressure).
    let start = async {
        for (name, ops) in &mut ops {
            for c in 0..COMMANDS {
                let script = format!(
                    "i=1; while [ $i -le {LINES} ]; do echo {name}-c{c}-$i; i=$((i+1)); done"
                );
                let started = ask(ops, shell(&format!("c{c}"), &script)).await;
                assert_eq!(started, Ok(OpReply::Done));
            }
        }
    };
    let collect = async {
        let mut lines: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut completed = 0;
        while completed < WORKERS * COMMANDS {
            let u = updates.recv().await.expect("the updates inbox is open");
            let key = (u.worker.clone(), u.command_id.clone());
            match u.event {
                CommandEvent::Stdout { line } => lines.entry(key).or_default().push(line),
                CommandEvent::Stderr { line } => panic!("unexpected stderr {line}"),
                CommandEvent::Completed { outcome } => {
                    assert_eq!(outcome, CommandOutcome::Ok, "{key:?}");
                    completed += 1;
                }
            }
        }
        lines
    };
    let bounded = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(start, collect).1
    })
    .await;
    let lines = bounded.expect("every command completed within 60 s");
    assert_eq!(lines.len(), WORKERS * COMMANDS);
    for ((worker, command), got) in lines {
        let want: Vec<String> = (1..=LINES)
            .map(|i| format!("{worker}-{command}-{i}"))
            .collect();
        assert_eq!(got, want);
    }
    assert_eq!(rig.master.stats().updates_undelivered(), 0);
}
