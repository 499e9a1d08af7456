//! `cosmici direction` and `cosmici showers` fed from a station export, as a user runs
//! them: a TSV with comment lines, one row per event (`t1…t4`, sentinels, ns since 1970),
//! a layout by distance, bearing and height.

use std::io::Write;
use std::process::{Command, Stdio};

fn run(args: &[&str], stdin: &str) -> (String, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cosmici"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cosmici");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("cosmici ran");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

fn column<'a>(header: &'a str, row: &'a str, name: &str) -> &'a str {
    let i = header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header}"));
    row.split(',').nth(i).unwrap_or("")
}

/// A centre detector and three at 5.774 m (a 10 m triangle), at heights 0, +1, −0.7, +2 m.
const LAYOUT: &str = "\
detector,distance_m,bearing_deg,height_m
0,0,0,0
1,5.7735026919,0,1.0
2,5.7735026919,120,-0.7
3,5.7735026919,240,2.0
";

/// Noiseless fronts (θ, φ) = (30°, 40°), (10°, −120°), (50°, 170°), then a three-hit
/// event from (20°, 60°) (t4 = −999), a malformed row and a two-detector row (t3, t4 = −1).
const EVENTS: &str = "\
# station 501, events export
ext_timestamp\tt1\tt2\tt3\tt4
1800000000000000000\t500\t490.9217\t498.7288\t503.7054
1800000001000000007\t500\t499.6112\t502.2995\t490.5339
1800000002000000014\t500\t495.2941\t515.3639\t484.4105
1800000003000000021\t500\t491.1612\t502.1941\t-999
1800000004000000000\t12.5\tabc\t-1\t-1
1800000005000000000.5\t12.5\t20\t-1\t-1
";

/// The layout in a file of this test's own (tests run in parallel).
fn layout_file(test: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "cosmici-station-layout-{test}-{}.csv",
        std::process::id()
    ));
    std::fs::write(&path, LAYOUT).expect("write layout");
    path
}

#[test]
fn direction_reads_a_station_export_with_heights_and_sentinels() {
    let layout = layout_file("read");
    let (out, err, ok) = run(
        &[
            "direction",
            "--delimiter",
            "tab",
            "--layout",
            layout.to_str().expect("utf-8"),
        ],
        EVENTS,
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let header = lines[0];
    assert_eq!(lines.len(), 6, "{out}");
    for (row, (zenith, azimuth)) in
        lines[1..4]
            .iter()
            .zip([(30.0, 40.0), (10.0, -120.0), (50.0, 170.0)])
    {
        assert_eq!(column(header, row, "direction"), "found", "{row}");
        let z: f64 = column(header, row, "zenith_deg").parse().expect("zenith");
        let a: f64 = column(header, row, "azimuth_deg").parse().expect("azimuth");
        assert!(
            (z - zenith).abs() < 0.01 && (a - azimuth).abs() < 0.05,
            "{row}"
        );
    }
    // Exact start: the timestamp plus the earliest time, to the picosecond (490.9217 ns
    // rounds to 490.922).
    assert_eq!(
        column(header, lines[1], "start_ns"),
        "1800000000000000490.922"
    );
    assert_eq!(column(header, lines[4], "detectors"), "3");
    assert!(
        matches!(column(header, lines[4], "direction"), "found" | "ambiguous"),
        "{}",
        lines[4]
    );
    assert_eq!(column(header, lines[5], "direction"), "failed");
    assert_eq!(column(header, lines[5], "start_ns"), "1800000005000000013");
    assert!(err.contains("line 7: `t2`"), "{err}");
    assert!(
        err.contains(
            "5 event(s) read; 1 skipped: 1 malformed; 1 time(s) 'no signal', 2 'no detector'"
        ),
        "{err}"
    );
    let _ = std::fs::remove_file(layout);
}

#[test]
fn offsets_shift_a_detector_and_strict_stops_at_the_bad_row() {
    let layout = layout_file("offsets");
    let path = layout.to_str().expect("utf-8");
    let first_event = EVENTS.lines().take(3).collect::<Vec<_>>().join("\n");
    // Detector 1 (t2) reports 10 ns late: an offset of 10 takes it back.
    let shifted = first_event.replace("490.9217", "500.9217");
    let (out, err, ok) = run(
        &[
            "direction",
            "--delimiter",
            "tab",
            "--layout",
            path,
            "--offsets",
            "0,10,0,0",
        ],
        &shifted,
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let z: f64 = column(lines[0], lines[1], "zenith_deg")
        .parse()
        .expect("zenith");
    assert!((z - 30.0).abs() < 0.01, "{out}");
    let (_, err, ok) = run(
        &[
            "direction",
            "--delimiter",
            "tab",
            "--layout",
            path,
            "--strict",
        ],
        EVENTS,
    );
    assert!(!ok && err.contains("line 7"), "{err}");
    let _ = std::fs::remove_file(layout);
}

#[test]
fn showers_keep_exact_times_and_refuse_ids_beyond_i64() {
    let pulses = "\
detector,time_ns,pulse_id
0,1800000000000000000.5,1
1,1800000000000000003,2
2,1800000000000000005.25,9223372036854775808
3,1800000000000000007.5,4
0,1800000009000000000,5
";
    let (out, err, ok) = run(&["showers", "--grid", "2x2", "--spacing", "10"], pulses);
    assert!(ok, "{err}");
    assert!(
        err.contains("line 4") && err.contains("9223372036854775807"),
        "{err}"
    );
    assert_eq!(
        out,
        "shower_id,detector,time_ns,amplitude_v,pulse_id\n\
         0,0,1800000000000000000.5,,1\n\
         0,1,1800000000000000003,,2\n\
         0,3,1800000000000000007.5,,4\n"
    );
}

#[test]
fn showers_group_each_event_row_on_its_own_with_exact_times() {
    let layout = layout_file("showers");
    let (out, err, ok) = run(
        &[
            "showers",
            "--delimiter",
            "tab",
            "--layout",
            layout.to_str().expect("utf-8"),
        ],
        EVENTS,
    );
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    // Four events with at least three detectors; the malformed and two-detector rows give
    // no candidate. Hits come in time order with their exact times.
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(
        ids,
        [
            "0", "0", "0", "0", "1", "1", "1", "1", "2", "2", "2", "2", "3", "3", "3"
        ]
    );
    assert_eq!(rows[0], "0,1,1800000000000000490.922,,");
    assert_eq!(rows[14], "3,2,1800000003000000523.194,,");
    assert!(
        err.contains("line 7") && err.contains("1 skipped: 1 malformed"),
        "{err}"
    );
    // Piped into `direction`, the candidates give the fronts back.
    let (directions, err, ok) = run(
        &["direction", "--layout", layout.to_str().expect("utf-8")],
        &out,
    );
    assert!(ok, "{err}");
    let lines: Vec<&str> = directions.lines().collect();
    assert_eq!(lines.len(), 5, "{directions}");
    let z: f64 = column(lines[0], lines[1], "zenith_deg")
        .parse()
        .expect("zenith");
    assert!((z - 30.0).abs() < 0.01, "{directions}");
    let _ = std::fs::remove_file(layout);
}

#[test]
fn help_says_how_to_feed_a_station_export() {
    let (out, _, ok) = run(&["direction", "--help"], "");
    assert!(ok);
    for needle in [
        "FROM A STATION EXPORT",
        "--no-signal",
        "--offsets",
        "bearing_deg",
        "valid_from",
    ] {
        assert!(out.contains(needle), "{needle} missing from --help");
    }
}
