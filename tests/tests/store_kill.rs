//! Storage durability: kill -9 a writer process mid-run, reopen the database, and find
//! every record the writer had acknowledged.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use components::store::{Durability, RecordKind, Store};

/// Acknowledged ids to read before the kill.
const BEFORE_KILL: usize = 3_000;

#[test]
fn every_acknowledged_record_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("axon-store-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("kill.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }

    // Far more records than are read before the kill: the writer is mid-run when killed.
    let mut child = Command::new(env!("CARGO_BIN_EXE_store_writer"))
        .arg(&db)
        .arg("10000000")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the writer starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut acknowledged = Vec::with_capacity(BEFORE_KILL);
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("readable output");
        acknowledged.push(line.trim().parse::<u64>().expect("one id per line"));
        if acknowledged.len() >= BEFORE_KILL {
            break;
        }
    }
    // `kill` is SIGKILL on Unix: no destructors, no flush, no checkpoint.
    child.kill().expect("kill -9");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "the writer was killed, not finished");
    assert_eq!(acknowledged.len(), BEFORE_KILL, "the writer died early");

    let store = Store::open(&db, Durability::Process).expect("the database reopens");
    let stored = store.ids(RecordKind::Pulse).expect("readable");
    let stored: std::collections::HashSet<u64> = stored.into_iter().collect();
    let missing: Vec<u64> = acknowledged
        .iter()
        .copied()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert!(stored.len() >= acknowledged.len());
    for id in [0, 1, acknowledged[BEFORE_KILL - 1]] {
        let p = store.pulse(id).expect("readable").expect("stored");
        assert_eq!(p.crossings.levels.len(), 1);
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
