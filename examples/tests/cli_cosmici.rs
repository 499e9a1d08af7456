//! The `cosmici` command-line tool, as a user runs it: CSV in, CSV out.

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

/// A pulse of the calibrated shape (rise 0.9 ns, decay 2.1 ns) with onset 100 ns and peak
/// 0.4 V: it crosses 0.2 V at 100.3/103.8 ns and 0.3 V at 100.6/102.7 ns, floored onto
/// the 2 ns clock. Then an inconsistent pulse (fall before rise), a malformed row, and
/// the first pulse again 300 ns later.
const CROSSINGS: &str = "\
pulse_id,level_v,rise_ns,fall_ns
1,0.2,100,102
1,0.3,100,102
2,0.2,200,190
3,0.2,abc,310
4,0.2,400,402
4,0.3,400,402
";

fn column<'a>(header: &'a str, row: &'a str, name: &str) -> &'a str {
    let i = header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header}"));
    row.split(',').nth(i).unwrap_or("")
}

#[test]
fn fit_turns_crossings_into_fits_flags_bad_pulses_and_reports_bad_rows() {
    let (out, err, ok) = run(&["fit"], CROSSINGS);
    assert!(ok, "stderr: {err}");
    let mut lines = out.lines();
    let header = lines.next().expect("a header row");
    let rows: Vec<&str> = lines.collect();
    let ids: Vec<&str> = rows.iter().map(|r| column(header, r, "pulse_id")).collect();
    assert_eq!(
        ids,
        ["1", "2", "4"],
        "the malformed pulse is skipped: {out}"
    );
    let fit = rows[0];
    assert_eq!(column(header, fit, "status"), "converged");
    let peak: f64 = column(header, fit, "peak_height_v").parse().unwrap();
    assert!(
        (0.3..0.3 * 1.5).contains(&peak),
        "peak {peak} V lies between the crossed and the next level"
    );
    let onset: f64 = column(header, fit, "onset_ns").parse().unwrap();
    assert!(
        (98.0..101.5).contains(&onset),
        "onset {onset} ns, truth 100 ns"
    );
    assert_eq!(column(header, rows[1], "status"), "invalid");
    assert!(!column(header, rows[1], "reason").is_empty());
    assert!(
        err.contains("line 5"),
        "the malformed row is reported by line: {err}"
    );
}

#[test]
fn strict_mode_makes_a_malformed_row_fatal() {
    let (_, err, ok) = run(&["fit", "--strict"], CROSSINGS);
    assert!(!ok, "--strict must fail on a malformed row");
    assert!(err.contains("line 5"), "{err}");
}
