//! Station exports as they come: one row per event with `t1…tN`, sentinels, offsets,
//! absolute nanoseconds with 2.5 ns fractions, layouts by distance/bearing/height that
//! change over time, and ids up to the store's limit.
#![cfg(feature = "physics")]

use components::physics::angle::{AngleFinder, DirectionStatus};
use components::physics::direction::layouts::LayoutReader;
use components::physics::direction::station::{
    EventReader, Outcome, RejectKind, StationEvent, StationInput,
};
use components::physics::direction::time::ExactTime;
use components::physics::direction::timeline::Timeline;
use components::physics::error::AngleError;
use components::physics::layout::SPEED_OF_LIGHT;

fn events(outcomes: Vec<Outcome>) -> Vec<StationEvent> {
    outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Event(e) => Some(e),
            Outcome::Rejected(_) => None,
        })
        .collect()
}

fn t(s: &str) -> ExactTime {
    ExactTime::parse(s).expect("a time")
}

#[test]
fn wide_rows_keep_every_picosecond_and_skip_sentinels() {
    let input = StationInput::from_options("-999", "-1", &["0", "2.5", "0", "-1.25"], None)
        .expect("valid options");
    let mut reader = EventReader::new(
        &["Event_ID", "ext_timestamp", "t1", "t2", "t3", "t4"],
        input,
    )
    .expect("wide header");
    let row = [
        "17",
        "1800000000123456789",
        "1927.5",
        "1930",
        "-999",
        "1925",
    ];
    let e = events(reader.push(2, &row)).pop().expect("an event");
    assert_eq!(e.id, 17);
    assert_eq!(e.timestamp, Some(t("1800000000123456789")));
    // Detector 2 had no signal; offsets 2.5 ns (detector 1) and −1.25 ns (detector 3).
    let times: Vec<(usize, String)> = e
        .hits
        .iter()
        .map(|h| (h.detector, h.time.to_string()))
        .collect();
    assert_eq!(
        times,
        [
            (0, "1800000000123458716.5".to_string()),
            (1, "1800000000123458716.5".to_string()),
            (3, "1800000000123458715.25".to_string()),
        ]
    );
    let (start, relative) = e.relative();
    assert_eq!(start, t("1800000000123458715.25"));
    assert_eq!(relative, [(0, 1.25, None), (1, 1.25, None), (3, 0.0, None)]);
    // The "no detector" sentinel, an empty field and a malformed time.
    let e = events(reader.push(3, &["18", "1800000000123456790", "-1", "", "5", "6"]))
        .pop()
        .expect("an event");
    assert_eq!(e.hits.len(), 2);
    let rejected = reader.push(4, &["19", "1800000000123456791", "1", "2", "x", "3"]);
    assert!(
        matches!(&rejected[..], [Outcome::Rejected(r)] if r.line == 4 && r.message.contains("`t3`"))
    );
    let summary = reader.summary();
    assert_eq!(
        (summary.events, summary.no_signal, summary.no_detector),
        (2, 2, 1)
    );
    assert_eq!(
        summary.to_string(),
        "2 event(s) read; 1 skipped: 1 malformed; 2 time(s) 'no signal', 1 'no detector'"
    );
}

#[test]
fn absolute_times_give_the_direction_of_relative_ones() {
    // A front from θ = 35°, φ = 120° on a flat 10 m square, times quantised to 2.5 ns and
    // written as ns since 1970 with their fractions.
    let positions = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
    let (theta, phi) = (35f64.to_radians(), 120f64.to_radians());
    let relative: Vec<f64> = positions
        .iter()
        .map(|r| {
            let dt = -(theta.sin() * (phi.cos() * r[0] + phi.sin() * r[1])) / SPEED_OF_LIGHT;
            (dt / 2.5).round() * 2.5 + 100.0
        })
        .collect();
    let stamp = "1800000000000000000";
    let mut reader = EventReader::new(
        &["shower_id", "detector", "time_ns"],
        StationInput::default(),
    )
    .expect("long header");
    for (d, rel) in relative.iter().enumerate() {
        let absolute = t(stamp) + ExactTime::from_ns_f64(*rel);
        let line = (d + 2) as u64;
        assert!(
            events(reader.push(line, &["5", &d.to_string(), &absolute.to_string()])).is_empty()
        );
    }
    let e = events(reader.finish()).pop().expect("the event");
    let (start, hits) = e.relative();
    let layout = components::physics::layout::DetectorLayout::new(
        positions.iter().map(|r| [r[0], r[1], 0.0]).collect(),
    )
    .expect("valid");
    let finder = AngleFinder::new(layout, 1.0).expect("valid");
    let exact: Vec<(usize, f64)> = hits.iter().map(|&(d, time, _)| (d, time)).collect();
    let from_absolute = finder.find(&exact).expect("solvable");
    let small: Vec<(usize, f64)> = relative.iter().copied().enumerate().collect();
    let from_relative = finder.find(&small).expect("solvable");
    assert!((from_absolute.zenith.value - from_relative.zenith.value).abs() < 1e-12);
    assert!((from_absolute.azimuth.value - from_relative.azimuth.value).abs() < 1e-12);
    assert!((from_absolute.zenith.value - theta).abs() < 3f64.to_radians());
    assert_eq!(from_absolute.status, DirectionStatus::Found);
    assert_eq!(
        start,
        t(stamp) + ExactTime::from_ns_f64(relative.iter().copied().fold(f64::INFINITY, f64::min))
    );
    // The same times through f64 since 1970 are refused, not silently vertical.
    let lossy: Vec<(usize, f64)> = e
        .hits
        .iter()
        .map(|h| (h.detector, h.time.as_ns_f64()))
        .collect();
    assert_eq!(finder.find(&lossy), Err(AngleError::Imprecise(0)));
}

#[test]
fn layouts_by_bearing_and_height_change_at_valid_from() {
    let mut reader = LayoutReader::new(&[
        "detector",
        "distance_m",
        "bearing_deg",
        "height_m",
        "valid_from",
    ])
    .expect("polar header");
    let rows = [
        ["0", "0", "0", "0", ""],
        ["1", "10", "90", "1", ""],
        ["2", "10", "0", "-0.7", ""],
        ["0", "0", "0", "0", "1800000000000000000"],
        ["1", "10", "180", "2", "1800000000000000000"],
        ["2", "10", "270", "0", "1800000000000000000"],
        ["3", "5", "45", "0", "1800000000000000000"],
    ];
    for (i, row) in rows.iter().enumerate() {
        reader.push(i as u64 + 2, row).expect("valid row");
    }
    let history = reader.finish().expect("valid history");
    assert_eq!(history.versions().len(), 2);
    let early = &history.versions()[0].layout;
    let p = early.position(1).expect("detector 1");
    assert!(
        (p[0] - 10.0).abs() < 1e-12 && p[1].abs() < 1e-12 && p[2] == 1.0,
        "{p:?}"
    );
    let p = early.position(2).expect("detector 2");
    assert!(p[0].abs() < 1e-12 && (p[1] - 10.0).abs() < 1e-12 && p[2] == -0.7);
    let late = &history.versions()[1].layout;
    assert_eq!(late.len(), 4);
    let p = late.position(1).expect("detector 1");
    assert!((p[1] + 10.0).abs() < 1e-12 && p[2] == 2.0, "south: {p:?}");
    assert_eq!(history.at(Some(t("1799999999999999999.5"))), Some(0));
    assert_eq!(history.at(Some(t("1800000000000000000"))), Some(1));
    assert_eq!(history.at(None), None);
    // An event's timestamp chooses; a detector the version lacks is refused.
    let mut events_reader = EventReader::new(
        &["timestamp_ns", "t1", "t2", "t3", "t4"],
        StationInput::default(),
    )
    .expect("wide");
    let early_event = events(events_reader.push(2, &["1700000000000000000", "0", "1", "2", "3"]))
        .pop()
        .expect("event");
    let rejection = history
        .place(&early_event)
        .expect_err("detector 3 is not there yet");
    assert_eq!(rejection.kind, RejectKind::UnknownDetector);
    assert_eq!(rejection.line, 2);
    let late_event = events(events_reader.push(3, &["1800000000000000001", "0", "1", "2", "3"]))
        .pop()
        .expect("event");
    assert_eq!(history.place(&late_event), Ok(1));
    assert_eq!(history.combined_index(1, 3), Some(6));
    assert_eq!(history.split_index(6), Some((1, 3)));
    // A version missing a detector is an error naming it.
    let mut broken = LayoutReader::new(&["detector", "x_m", "y_m", "valid_from"]).expect("header");
    broken.push(2, &["0", "0", "0", "5"]).expect("row");
    broken.push(3, &["2", "0", "1", "5"]).expect("row");
    let err = broken.finish().expect_err("detector 1 missing").to_string();
    assert!(
        err.contains("valid from 5 ns") && err.contains("detector 1 is missing"),
        "{err}"
    );
}

#[test]
fn ids_above_the_store_limit_are_refused_with_line_and_limit() {
    let mut wide =
        EventReader::new(&["id", "t1", "t2", "t3"], StationInput::default()).expect("wide");
    let out = wide.push(9, &["9223372036854775808", "0", "1", "2"]);
    let [Outcome::Rejected(r)] = &out[..] else {
        panic!("refused: {out:?}")
    };
    assert_eq!(r.line, 9);
    assert!(r.message.contains("9223372036854775807"), "{}", r.message);
    assert!(
        matches!(&wide.push(10, &["9223372036854775807", "0", "1", "2"])[..], [Outcome::Event(e)] if e.id == i64::MAX as u64)
    );
    let mut long = EventReader::new(
        &["shower_id", "detector", "time_ns"],
        StationInput::default(),
    )
    .expect("long");
    let out = long.push(4, &["18446744073709551615", "0", "1"]);
    assert!(
        matches!(&out[..], [Outcome::Rejected(r)] if r.line == 4 && r.message.contains("2^63 - 1")),
        "{out:?}"
    );
    assert_eq!(long.summary().skipped.get(&RejectKind::Malformed), Some(&1));
}

#[test]
fn long_gaps_between_absolute_times_map_back_exactly() {
    let mut line = Timeline::new(50_000.0);
    let mut mapped = Vec::new();
    for k in 0..1000i64 {
        // An event every ~37 ms over 37 s, hits 2.5 ns apart, since 1970.
        let base = t("1800000000000000000.5") + ExactTime::from_ns(k * 37_000_017);
        for h in 0..4 {
            let time = base + ExactTime::from_ps(2500 * h);
            mapped.push((time, line.map(time)));
        }
    }
    for (time, v) in &mapped {
        assert_eq!(line.exact(*v), *time);
        assert!(v.abs() < 1e8, "the f64 clock stays small: {v}");
    }
    // Forgetting stretches as the output advances keeps the table bounded.
    let last = mapped.last().expect("times").1;
    line.forget_before(last);
    assert_eq!(line.segments(), 1);
}
