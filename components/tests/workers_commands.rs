//! Remote commands: output streamed in order with the exit code, interrupt of a whole
//! process group, and a connection cut mid-command.

mod workers_support;

use std::time::Duration;

use components::workers::{
    CommandEvent, CommandOutcome, CommandState, MasterOptions, OpError, OpReply, SessionEnd,
    Worker, WorkerConfig, WorkerOp,
};
use workers_support::{LIMIT, ask, collect, process_stopped, rig, shell, stopped_by, worker};

#[tokio::test]
async fn a_commands_output_is_streamed_in_order_with_its_exit_code() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    let script =
        "i=1; while [ $i -le 500 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done; exit 3";
    assert_eq!(ask(&mut ops, shell("c1", script)).await, Ok(OpReply::Done));
    let (out, outcome) = collect(&mut rig, "c1").await;
    let expect = |tag: &str| (1..=500).map(|i| format!("{tag}{i}")).collect::<Vec<_>>();
    assert_eq!(out.stdout, expect("out"));
    assert_eq!(out.stderr, expect("err"));
    assert_eq!(
        outcome,
        CommandOutcome::Failure {
            rc: Some(3),
            message: "rc=3".into()
        }
    );
    assert_eq!(outcome.to_string(), "rc=3");

    // Runs in the worker's working directory; rc 0 is Ok.
    assert_eq!(ask(&mut ops, shell("c2", "pwd")).await, Ok(OpReply::Done));
    let (out, outcome) = collect(&mut rig, "c2").await;
    let tmp = std::env::temp_dir().canonicalize().unwrap();
    assert_eq!(out.stdout, vec![tmp.display().to_string()]);
    assert_eq!(outcome, CommandOutcome::Ok);
    assert!(rig.master.workers().view("w1").unwrap().running.is_empty());
}

#[tokio::test]
async fn a_command_that_cannot_start_is_refused_and_completes_as_a_failure() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    let op = WorkerOp::StartCommand {
        builder: String::new(),
        command_id: "c1".into(),
        command: "/nonexistent/program".into(),
        args: vec![],
    };
    let Err(OpError::Refused(why)) = ask(&mut ops, op).await else {
        panic!("refused");
    };
    assert!(why.contains("cannot start /nonexistent/program"), "{why}");
    let (out, outcome) = collect(&mut rig, "c1").await;
    assert!(out.stdout.is_empty());
    assert!(
        matches!(outcome, CommandOutcome::Failure { rc: None, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn interrupt_stops_sleep_and_its_child_within_a_second_and_is_idempotent() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    // The shell starts `sleep 1000` in the background, prints its pid and waits for it.
    let script = "sleep 1000 & echo $!; wait";
    assert_eq!(ask(&mut ops, shell("c1", script)).await, Ok(OpReply::Done));
    let first = rig.next_output().await;
    let components::workers::CommandEvent::Stdout { line } = first.event else {
        panic!("the child's pid first, got {first:?}");
    };
    let child: i32 = line.parse().unwrap();
    assert!(!process_stopped(child));
    assert_eq!(
        rig.master.workers().view("w1").unwrap().running["c1"],
        CommandState::Running
    );
    let asked = tokio::time::Instant::now();
    let interrupt = WorkerOp::InterruptCommand {
        command_id: "c1".into(),
        why: "user asked".into(),
    };
    assert_eq!(ask(&mut ops, interrupt.clone()).await, Ok(OpReply::Done));
    assert_eq!(ask(&mut ops, interrupt.clone()).await, Ok(OpReply::Done));
    let (_, outcome) = tokio::time::timeout(Duration::from_secs(1), collect(&mut rig, "c1"))
        .await
        .expect("interrupted within 1 s");
    assert!(asked.elapsed() < Duration::from_secs(1));
    assert_eq!(
        outcome,
        CommandOutcome::Interrupted {
            why: "user asked".into()
        }
    );
    assert!(
        stopped_by(child, asked + Duration::from_secs(1)).await,
        "the background sleep {child} was stopped too, within 1 s"
    );
    // After the end, interrupting again is still answered Done.
    assert_eq!(ask(&mut ops, interrupt).await, Ok(OpReply::Done));
    assert!(
        rig.master
            .workers()
            .wait_for(LIMIT, |w| w
                .view("w1")
                .is_some_and(|v| v.running.is_empty()))
            .await
    );
}

#[tokio::test]
async fn a_command_ignoring_sigterm_is_killed_after_the_grace() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    let script = "trap '' TERM; echo ready; while :; do sleep 1; done";
    assert_eq!(ask(&mut ops, shell("c1", script)).await, Ok(OpReply::Done));
    assert_eq!(
        rig.next_output().await.event,
        components::workers::CommandEvent::Stdout {
            line: "ready".into()
        }
    );
    let interrupt = WorkerOp::InterruptCommand {
        command_id: "c1".into(),
        why: "stuck".into(),
    };
    assert_eq!(ask(&mut ops, interrupt).await, Ok(OpReply::Done));
    let (_, outcome) = collect(&mut rig, "c1").await;
    assert_eq!(
        outcome,
        CommandOutcome::Interrupted {
            why: "stuck".into()
        }
    );
}

#[tokio::test]
async fn a_connection_cut_mid_command_completes_it_as_connection_lost_and_stops_it() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let w = worker("w1", "s");
    let status = w.status();
    let addr = rig.addr;
    let session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    assert_eq!(
        ask(&mut ops, shell("c1", "echo $$; exec sleep 1000")).await,
        Ok(OpReply::Done)
    );
    assert_eq!(
        ask(&mut ops, shell("c2", "echo $$; exec sleep 1000")).await,
        Ok(OpReply::Done)
    );
    let mut pids = Vec::new();
    for _ in 0..2 {
        let u = rig.next_output().await;
        let components::workers::CommandEvent::Stdout { line } = u.event else {
            panic!("a pid, got {u:?}");
        };
        pids.push(line.parse::<i32>().unwrap());
    }
    assert_eq!(status.running(), 2);
    assert!(rig.master.workers().disconnect("w1"));
    let mut lost = Vec::new();
    for _ in 0..2 {
        let u = rig.next_output().await;
        assert_eq!(
            u.event,
            components::workers::CommandEvent::Completed {
                outcome: CommandOutcome::ConnectionLost
            }
        );
        lost.push(u.command_id);
    }
    lost.sort();
    assert_eq!(lost, ["c1", "c2"]);
    // The worker stops its commands before its session returns.
    let end = tokio::time::timeout(LIMIT, session).await.unwrap().unwrap();
    assert_eq!(end.unwrap(), SessionEnd::ConnectionLost);
    assert_eq!(status.running(), 0);
    // The worker reaped each command's leader before its session returned.
    for pid in pids {
        assert!(process_stopped(pid), "{pid} still runs");
    }
    // A request to the gone worker fails at once: its service went with it.
    assert!(
        rig.rt
            .service::<components::workers::WorkerRequest>("workers/w1")
            .is_err()
    );
}

#[tokio::test]
async fn a_command_for_a_builder_runs_in_its_directory_between_header_lines() {
    let mut rig = rig(&[("w1", "s")], MasterOptions::default());
    let workdir = std::env::temp_dir().join(format!("axon-builder-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let w = Worker::new(WorkerConfig::new("w1", "s", &workdir));
    let addr = rig.addr;
    let _session = tokio::spawn(async move { w.connect(addr).await });
    rig.attached("w1").await;
    let mut ops = rig.ops("w1");
    let builders = WorkerOp::SetBuilderList {
        builders: vec!["linux".into()],
    };
    assert_eq!(ask(&mut ops, builders).await, Ok(OpReply::Done));
    let op = WorkerOp::StartCommand {
        builder: "linux".into(),
        command_id: "c1".into(),
        command: "sh".into(),
        args: vec!["-c".into(), "pwd; echo done".into()],
    };
    assert_eq!(ask(&mut ops, op).await, Ok(OpReply::Done));
    let dir = workdir.join("linux");
    let mut events = Vec::new();
    loop {
        let u = rig.next_update().await;
        let last = matches!(u.event, CommandEvent::Completed { .. });
        events.push(u.event);
        if last {
            break;
        }
    }
    let header = |line: String| CommandEvent::Header { line };
    let stdout = |line: String| CommandEvent::Stdout { line };
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(
        events[..4],
        [
            header("$ sh -c pwd; echo done".into()),
            header(format!("in {}", dir.display())),
            stdout(dir.display().to_string()),
            stdout("done".into()),
        ]
    );
    assert!(
        matches!(&events[4], CommandEvent::Header { line } if line.starts_with("elapsed ") && line.ends_with(" s")),
        "{:?}",
        events[4]
    );
    assert_eq!(
        events[5],
        CommandEvent::Completed {
            outcome: CommandOutcome::Ok
        }
    );
    // A builder the worker does not have is refused, and the command completes failed.
    let op = WorkerOp::StartCommand {
        builder: "mac".into(),
        command_id: "c2".into(),
        command: "true".into(),
        args: vec![],
    };
    let Err(OpError::Refused(why)) = ask(&mut ops, op).await else {
        panic!("refused");
    };
    assert!(why.contains("unknown builder mac"), "{why}");
    let (_, outcome) = collect(&mut rig, "c2").await;
    assert!(
        matches!(outcome, CommandOutcome::Failure { .. }),
        "{outcome:?}"
    );
    std::fs::remove_dir_all(&workdir).unwrap();
}
