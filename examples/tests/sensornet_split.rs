//! `sensornet --role station` and `--role central` as real processes on loopback: the
//! central's store equals a single-process run's on the same data — fed by one
//! station, by two stations with the same data, and by two stations that have half of
//! the array each (`--station-detectors`).
//!
//! The data are one simulated run's bridge transcripts (`tests/data/sensornet-sim7`,
//! recorded once), replayed (`--replay`) into every server under test: a simulated run
//! cut by wall-clock `--duration` stores a different number of pulses each time (none
//! timed at all if its `START` came too late for two PPS edges), a replay of its
//! transcripts stores the same pulses, fits and showers every time. Equal means: the same rows, integers and text
//! exact, except that real numbers may differ by 1e-3 relative and UTC times by 2 ns —
//! two replays of one transcript into one process differ in their last digits already
//! (measured: 3 of 3224 pulse times by 1 ns, fit χ² by ~2e-5 relative; the time chain's
//! clock fit depends on how the nodes' links interleave on arrival).
//! Every process is waited for with a limit. The programs are the ones built beside
//! this test: `cargo build -p examples --features zenoh --example sensornet` first
//! (`cargo test --test sensornet_split` alone does not build examples).

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::types::Value;

mod support;
use support::program;

const LIMIT: Duration = Duration::from_secs(240);

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sensornet-split-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A free port on 127.0.0.1, as the OS hands it out.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `sensornet` in `dir` with free MAIN, bridge and terminal ports.
fn sensornet(dir: &Path, args: &[&str]) -> Child {
    Command::new(program("sensornet"))
        .current_dir(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--bridge-base",
            "0",
            "--terminal-base",
            "0",
        ])
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sensornet")
}

/// Waits for `child`, at most [`LIMIT`] (then kills it), and asserts it succeeded.
fn finish(what: &str, mut child: Child) -> String {
    let pid = child.id();
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let read = |r: Option<&mut dyn std::io::Read>| {
            let mut s = String::new();
            if let Some(r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        };
        let mut stdout = stdout;
        let mut stderr = stderr;
        let out = read(stdout.as_mut().map(|r| r as &mut dyn std::io::Read));
        let err = read(stderr.as_mut().map(|r| r as &mut dyn std::io::Read));
        let _ = tx.send((out, err));
    });
    let Ok((out, err)) = rx.recv_timeout(LIMIT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what} (pid {pid}) did not end within {LIMIT:?}");
    };
    let _ = reader.join();
    let status = child.wait().expect("wait");
    let output = format!("{out}\n{err}");
    assert!(status.success(), "{what} failed ({status}):\n{output}");
    output
}

fn run(what: &str, dir: &Path, args: &[&str]) -> String {
    finish(what, sensornet(dir, args))
}

/// Every row of every table but `runs` (whose start time is the wall clock's), sorted.
fn tables(db: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    tables_with(db, false)
}

/// As [`tables`], but every pulse id (`pulses.id` and the `pulse_id` columns) replaced
/// by the pulse's origin, `node N ch C #P`: what names a pulse however a central
/// numbered it.
fn tables_by_origin(db: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    tables_with(db, true)
}

fn tables_with(db: &Path, by_origin: bool) -> Vec<(String, Vec<Vec<Value>>)> {
    let c = rusqlite::Connection::open(db).expect("open the store");
    let origins: HashMap<i64, String> = c
        .prepare("SELECT id, node, channel, pulse_num FROM pulses")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    format!(
                        "node {} ch {} #{}",
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?
                    ),
                ))
            })?
            .collect()
        })
        .expect("pulse origins");
    let mut names: Vec<String> = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'runs' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    names.sort();
    names
        .into_iter()
        .map(|t| {
            let mut s = c.prepare(&format!("SELECT * FROM {t}")).expect("select");
            let n = s.column_count();
            let ids: Vec<usize> = (0..n)
                .filter(|i| {
                    let name = s.column_name(*i).unwrap_or_default();
                    by_origin && (name == "pulse_id" || (t == "pulses" && name == "id"))
                })
                .collect();
            let mut rows: Vec<Vec<Value>> = s
                .query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
                .and_then(Iterator::collect)
                .expect("rows");
            for row in &mut rows {
                for i in &ids {
                    if let Value::Integer(id) = row[*i] {
                        let origin = origins.get(&id).cloned().unwrap_or_else(|| {
                            panic!("table {t}: pulse {id} is not in the pulses table")
                        });
                        row[*i] = Value::Text(origin);
                    }
                }
            }
            rows.sort_by_key(|r| key(r));
            (t, rows)
        })
        .collect()
}

/// A row's integers and text: what orders rows whose reals differ in the last digits.
fn key(row: &[Value]) -> String {
    let exact: Vec<&Value> = row
        .iter()
        .filter(|v| !matches!(v, Value::Real(_)))
        .collect();
    format!("{exact:?}")
}

/// Equal but for the noise of the time chain's clock fit (see the module docs).
fn same(a: &[Vec<Value>], b: &[Vec<Value>]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} rows, not {}", b.len(), a.len()));
    }
    for (x, y) in a.iter().zip(b) {
        let close = x.len() == y.len()
            && x.iter().zip(y).all(|pair| match pair {
                (Value::Real(p), Value::Real(q)) => (p - q).abs() <= 1e-4 + 1e-3 * p.abs(),
                // UTC ns (the only integers this large).
                (Value::Integer(p), Value::Integer(q)) if p.abs() > 1 << 50 => (p - q).abs() <= 2,
                (p, q) => p == q,
            });
        if !close {
            return Err(format!("{y:?} where {x:?} was stored"));
        }
    }
    Ok(())
}

fn rows<'a>(tables: &'a [(String, Vec<Vec<Value>>)], name: &str) -> &'a [Vec<Value>] {
    &tables
        .iter()
        .find(|(t, _)| t == name)
        .unwrap_or_else(|| panic!("no table {name}"))
        .1
}

/// The recorded transcripts every server under test replays.
fn recording() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sensornet-sim7")
        .display()
        .to_string()
}

/// Replays the recording into one process (`dir/single.db`): the reference.
fn reference(dir: &Path) -> Vec<(String, Vec<Vec<Value>>)> {
    let recording = recording();
    run(
        "single-process replay",
        dir,
        &[
            "--replay",
            &recording,
            "--detectors",
            "4",
            "--transcripts",
            "single",
            "--db",
            "single.db",
        ],
    );
    let single = tables(&dir.join("single.db"));
    assert!(
        !rows(&single, "pulses").is_empty(),
        "the reference stored no pulse"
    );
    assert!(
        !rows(&single, "showers").is_empty(),
        "the reference stored no shower"
    );
    single
}

/// A central for `stations` and one station process per name, replaying the recording
/// (with its `--station-detectors`, if given); the central's store.
fn split(dir: &Path, stations: &[(&str, Option<&str>)]) -> PathBuf {
    let recording = recording();
    let endpoint = format!("127.0.0.1:{}", free_port());
    let list: Vec<&str> = stations.iter().map(|(name, _)| *name).collect();
    let list = list.join(",");
    let central = sensornet(
        dir,
        &[
            "--role",
            "central",
            "--stations",
            &list,
            "--zenoh-listen",
            &endpoint,
            "--detectors",
            "4",
            "--db",
            "central.db",
        ],
    );
    let children: Vec<(String, Child)> = stations
        .iter()
        .map(|(name, mine)| {
            let transcripts = format!("station-{name}");
            let mut args = vec![
                "--role",
                "station",
                "--name",
                name,
                "--zenoh-connect",
                &endpoint,
                "--replay",
                &recording,
                "--detectors",
                "4",
                "--transcripts",
                &transcripts,
            ];
            if let Some(mine) = mine {
                args.extend(["--station-detectors", mine]);
            }
            (format!("station {name}"), sensornet(dir, &args))
        })
        .collect();
    for (what, child) in children {
        finish(&what, child);
    }
    // The central ends by itself once every station's stream has ended.
    finish("central", central);
    dir.join("central.db")
}

#[test]
fn a_central_fed_by_one_station_stores_what_one_process_stores() {
    let dir = scratch("one");
    let single = reference(&dir);
    let central = tables(&split(&dir, &[("a", None)]));
    assert_eq!(single.len(), central.len(), "the same tables");
    for ((table, want), (_, got)) in single.iter().zip(&central) {
        if let Err(e) = same(want, got) {
            panic!("table {table}: {e}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_central_stores_every_station_with_its_own_pulse_ids() {
    let dir = scratch("two");
    let single = reference(&dir);
    let central = tables(&split(&dir, &[("a", None), ("b", None)]));
    // Both stations replay the same data: each pulse twice, station a's at odd ids
    // (2k - 1), station b's at even ones (2k), with the same content.
    let want = rows(&single, "pulses");
    let got = rows(&central, "pulses");
    assert_eq!(got.len(), 2 * want.len(), "pulses from both stations");
    let id = |v: &Value| match v {
        Value::Integer(i) => *i,
        other => panic!("id {other:?}"),
    };
    for station in 0..2 {
        let mut mine: Vec<Vec<Value>> = got
            .iter()
            .filter(|r| (id(&r[0]) - 1) % 2 == station)
            .map(|r| {
                let mut r = r.clone();
                r[0] = Value::Integer((id(&r[0]) - 1 - station) / 2 + 1);
                r
            })
            .collect();
        mine.sort_by_key(|r| key(r));
        if let Err(e) = same(want, &mine) {
            panic!("station {station}'s pulses: {e}");
        }
    }
    assert_eq!(
        rows(&central, "fits").len(),
        2 * rows(&single, "fits").len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// One 4-detector array whose FEDM node 1 carries detectors 0-2 and node 2 detector 3:
/// station a has detectors 0 and 1 (node 1's channels 1 and 2), station b detectors 2
/// and 3 (node 1's channel 3, node 2), each with its own CTU. Between them they send
/// every pulse once, and the central stores the same pulses, fits, showers and
/// directions as one process — only the pulse ids differ (the central numbers each
/// station's pulses apart), so pulses are named by their origin (node, channel, pulse
/// number).
#[test]
fn one_array_split_across_two_stations_stores_what_one_process_stores() {
    let dir = scratch("array");
    reference(&dir);
    let single = tables_by_origin(&dir.join("single.db"));
    let central = tables_by_origin(&split(&dir, &[("a", Some("0,1")), ("b", Some("2-3"))]));
    assert_eq!(single.len(), central.len(), "the same tables");
    for ((table, want), (_, got)) in single.iter().zip(&central) {
        if let Err(e) = same(want, got) {
            panic!("table {table}: {e}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
