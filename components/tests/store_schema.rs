//! The store's schema: versions, migrations, and files that are not a store.
#![cfg(feature = "store")]

use std::path::PathBuf;

use components::store::{
    Durability, Record, RecordKind, SCHEMA_VERSION, Store, StoreError, StoredPulse,
};
use rusqlite::Connection;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("store-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for end in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{end}", path.display()));
    }
    path
}

#[test]
fn the_old_sensornet_archive_is_refused_by_name_and_left_untouched() {
    let path = temp("old-sensornet.db");
    // The tables the old `cosmici::archive` wrote, without a schema version.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE runs (run INTEGER PRIMARY KEY, opened_utc_ns INTEGER NOT NULL);
         CREATE TABLE pulses (run INTEGER NOT NULL, id INTEGER NOT NULL, node INTEGER NOT NULL);
         CREATE TABLE showers (run INTEGER NOT NULL, id INTEGER NOT NULL, zenith REAL);
         CREATE TABLE shower_pulses (run INTEGER NOT NULL, shower_id INTEGER NOT NULL, pulse_id INTEGER NOT NULL);",
    )
    .unwrap();
    drop(conn);
    let err = Store::open(&path, Durability::Process).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("old-sensornet.db") && text.contains("is not a pulse store"),
        "{text}"
    );
    assert!(
        text.contains("shower_pulses"),
        "the tables found are named: {text}"
    );
    // Nothing was added or stamped.
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((version, tables), (0, 4));
}

#[test]
fn another_programs_database_and_a_newer_schema_are_refused() {
    let path = temp("other.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "PRAGMA application_id = 1234; PRAGMA user_version = 2; CREATE TABLE t (x);",
    )
    .unwrap();
    drop(conn);
    let err = Store::open(&path, Durability::Process).unwrap_err();
    assert!(err.to_string().contains("application id 0x4d2"), "{err}");

    let path = temp("newer.db");
    drop(Store::open(&path, Durability::Process).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = Store::open(&path, Durability::Process).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1));
    assert!(
        text.contains("newer.db") && text.contains("newer than this program's"),
        "{text}"
    );
}

#[test]
fn a_version_1_store_is_migrated_and_keeps_its_rows() {
    let path = temp("v1.db");
    let conn = Connection::open(&path).unwrap();
    // Version 1 as `cosmici fit --db` wrote it.
    conn.execute_batch(
        "CREATE TABLE pulses (id INTEGER PRIMARY KEY, detector INTEGER, levels INTEGER NOT NULL, next_level_v REAL);
         CREATE TABLE crossings (pulse_id INTEGER NOT NULL, level_index INTEGER NOT NULL, level_v REAL NOT NULL,
             rise_ns REAL NOT NULL, fall_ns REAL NOT NULL, PRIMARY KEY (pulse_id, level_index)) WITHOUT ROWID;
         CREATE TABLE fits (pulse_id INTEGER PRIMARY KEY, status TEXT NOT NULL, reason TEXT, shape_path TEXT,
             peak_height_v REAL, peak_height_err_v REAL, peak_time_ns REAL, peak_time_err_ns REAL,
             onset_ns REAL, onset_err_ns REAL, amplitude_v REAL, amplitude_err_v REAL, area_vns REAL,
             area_err_vns REAL, cf_time_ns REAL, cf_time_err_ns REAL, decay_ns REAL, decay_err_ns REAL,
             rise_ns REAL, rise_err_ns REAL, chi2 REAL, dof INTEGER, p_value REAL, flags TEXT);
         CREATE TABLE showers (id INTEGER PRIMARY KEY, start_ns REAL, detectors INTEGER NOT NULL,
             direction TEXT NOT NULL, reason TEXT, zenith_deg REAL, zenith_err_deg REAL, azimuth_deg REAL,
             azimuth_err_deg REAL, front_time_ns REAL, front_time_err_ns REAL, chi2 REAL, dof INTEGER);
         CREATE TABLE shower_hits (shower_id INTEGER NOT NULL, detector INTEGER NOT NULL, time_ns REAL NOT NULL,
             amplitude_v REAL, pulse_id INTEGER, PRIMARY KEY (shower_id, detector)) WITHOUT ROWID;
         INSERT INTO pulses VALUES (7, 2, 0, 0.3);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let mut store = Store::open(&path, Durability::Process).unwrap();
    assert_eq!(store.ids(RecordKind::Pulse).unwrap(), [7]);
    assert_eq!(store.next_id(RecordKind::Pulse).unwrap(), 8);
    // The new columns are there: a run and a pulse with an origin go in.
    let run = store.begin_run("test", 0, None).unwrap();
    store
        .write(&[Record::NodePulse(
            StoredPulse {
                id: 8,
                detector: Some(0),
                crossings: Default::default(),
            },
            components::store::PulseOrigin {
                node: 1,
                channel: 1,
                pulse_num: 1,
                utc_ns: 5,
            },
        )])
        .unwrap();
    assert_eq!(store.run_pulses(run).unwrap().len(), 1);
    drop(store);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    // Opening again is a no-op.
    assert_eq!(
        Store::open(&path, Durability::Process)
            .unwrap()
            .ids(RecordKind::Pulse)
            .unwrap(),
        [7, 8]
    );
}

/// Issue 13 item 19: a file that is not a database is refused with an error that names it.
#[test]
fn a_file_that_is_not_a_database_is_refused_naming_the_file() {
    let path = temp("not-a-db.db");
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let err = Store::open(&path, Durability::Process).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not-a-db.db"), "{text}");
    // Nothing was written to it.
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'x'; 8192]);
}
