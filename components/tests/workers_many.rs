//! Many workers, several concurrent commands each: every output complete and in order.

mod workers_support;

use std::collections::HashMap;
use std::time::Duration;

use components::workers::{CommandEvent, CommandOutcome, MasterOptions, OpReply, WorkerOp};
use workers_support::{ask, rig, worker};

const WORKERS: usize = 100;
const COMMANDS: usize = 10;
const LINES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_workers_run_ten_concurrent_commands_each_with_all_output_in_order() {
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
                // One `printf` per command (no shell loop): quick on two cores.
                let mut args = vec!["%s\\n".to_string()];
                args.extend((1..=LINES).map(|i| format!("{name}-c{c}-{i}")));
                let op = WorkerOp::StartCommand {
                    builder: String::new(),
                    command_id: format!("c{c}"),
                    command: "printf".into(),
                    args,
                };
                let started = ask(ops, op).await;
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
                CommandEvent::Header { .. } => {}
                CommandEvent::Completed { outcome } => {
                    assert_eq!(outcome, CommandOutcome::Ok, "{key:?}");
                    completed += 1;
                }
            }
        }
        lines
    };
    let bounded = tokio::time::timeout(Duration::from_secs(120), async {
        tokio::join!(start, collect).1
    })
    .await;
    let lines = bounded.expect("every command completed within 120 s");
    assert_eq!(lines.len(), WORKERS * COMMANDS);
    for ((worker, command), got) in lines {
        let want: Vec<String> = (1..=LINES)
            .map(|i| format!("{worker}-{command}-{i}"))
            .collect();
        assert_eq!(got, want);
    }
    assert_eq!(rig.master.stats().updates_undelivered(), 0);
}
