//! Replaying recordings: at the recorded pace on the paused clock the gaps come back
//! exactly; at maximum pace no time passes; by name; `ProducerFinished` at the end; a
//! damaged or wrong-typed file is refused before anything changes.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axon::component::from_fn;
use axon::record::{Pace, RecordError};
use axon::{Component, Context, Runtime};
use tokio::time::Instant;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("axon-replay-{name}-{}.axrec", std::process::id()))
}

/// Records `(value, arrival time)` of everything it receives until its input ends.
fn timed_sink(into: Arc<Mutex<Vec<(u32, Instant)>>>) -> impl Component<In = u32, Out = ()> {
    from_fn("sink", move |mut ctx: Context<u32, ()>| async move {
        while let Some(n) = ctx.recv().await {
            into.lock().unwrap().push((n, Instant::now()));
        }
        Ok(())
    })
}

/// Sends 0, 1, 2… after the given gaps, on a recorded link; returns the file.
async fn record_with_gaps(name: &str, gaps: &'static [u64]) -> PathBuf {
    let rt = Runtime::new();
    let src = rt
        .add(from_fn(
            "source",
            move |mut ctx: Context<(), u32>| async move {
                for (n, gap) in gaps.iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(*gap)).await;
                    ctx.send(n as u32).await?;
                }
                Ok(())
            },
        ))
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let dst = rt.add(timed_sink(got)).unwrap();
    rt.link(src.outbox(), dst.inbox()).unwrap();
    rt.link(src.signal(), dst.control()).unwrap();
    let path = temp(name);
    rt.record(src.outbox(), dst.inbox(), &path).unwrap();
    let (from, to) = (
        format!("source#{}.outbox", src.id()),
        format!("sink#{}.inbox", dst.id()),
    );
    let (a, b) = (src.start(), dst.start());
    a.join().await;
    b.join().await;
    let s = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(s.written as usize, gaps.len());
    path
}

const GAPS: &[u64] = &[3, 10, 250, 1000, 5, 0, 40];

#[tokio::test(start_paused = true)]
async fn replay_at_the_recorded_pace_reproduces_the_gaps() {
    let path = record_with_gaps("pace", GAPS).await;
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(timed_sink(got.clone())).unwrap();
    let start = Instant::now();
    let replay = rt.replay_into(&path, sink.inbox(), Pace::Recorded).unwrap();
    let sink = sink.start();
    assert!(replay.join().await.is_clean());
    // The replay's ProducerFinished ends the sink after the last message.
    assert!(sink.join().await.is_clean());
    let got = got.lock().unwrap();
    let values: Vec<u32> = got.iter().map(|(n, _)| *n).collect();
    assert_eq!(values, (0..GAPS.len() as u32).collect::<Vec<_>>());
    let mut expected = start;
    for ((n, at), gap) in got.iter().zip(GAPS) {
        expected += Duration::from_millis(*gap);
        assert_eq!(*at - start, expected - start, "message {n}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(start_paused = true)]
async fn replay_at_max_pace_takes_no_time() {
    let path = record_with_gaps("max", GAPS).await;
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(timed_sink(got.clone())).unwrap();
    let start = Instant::now();
    let replay = rt.replay_into(&path, sink.inbox(), Pace::Max).unwrap();
    let sink = sink.start();
    assert!(replay.join().await.is_clean());
    assert!(sink.join().await.is_clean());
    let got = got.lock().unwrap();
    assert_eq!(got.len(), GAPS.len());
    assert!(
        got.iter().all(|(_, at)| *at == start),
        "the recorded gaps (1.3 s) were skipped"
    );
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(start_paused = true)]
async fn replay_by_name_into_a_recordable_inbox() {
    let path = record_with_gaps("named", GAPS).await;
    let rt = Runtime::new();
    rt.make_recordable::<u32>();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(timed_sink(got.clone())).unwrap();
    let label = format!("sink#{}.inbox", sink.id());
    let replay = rt.replay_named(&path, &label, Pace::Max).unwrap();
    let sink = sink.start();
    replay.join().await;
    assert!(sink.join().await.is_clean());
    assert_eq!(got.lock().unwrap().len(), GAPS.len());
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_damaged_or_wrong_typed_recording_is_refused_and_nothing_changes() {
    let path = record_with_gaps("bad", GAPS).await;
    let rt = Runtime::new();
    rt.make_recordable::<String>();
    let words = rt
        .add(from_fn("words", |mut c: Context<String, ()>| async move {
            while c.recv().await.is_some() {}
            Ok(())
        }))
        .unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = rt.add(timed_sink(got)).unwrap();
    let before = rt.snapshot().to_json();

    // A recording of u32 into an inbox of String: by name and typed.
    let err = rt
        .replay_named(&path, &format!("words#{}.inbox", words.id()), Pace::Max)
        .unwrap_err();
    assert!(
        matches!(&err, RecordError::WrongType { recorded, .. } if recorded == "u32"),
        "{err}"
    );
    assert!(matches!(
        rt.replay_into(&path, words.inbox(), Pace::Max),
        Err(RecordError::WrongType { .. })
    ));

    // Cut the third message's line short.
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let damaged = temp("damaged");
    std::fs::write(
        &damaged,
        format!(
            "{}\n{}\n{}\n{}",
            lines[0],
            lines[1],
            lines[2],
            &lines[3][..5]
        ),
    )
    .unwrap();
    let err = rt
        .replay_into(&damaged, sink.inbox(), Pace::Max)
        .unwrap_err();
    assert!(matches!(err, RecordError::Corrupt { line: 4, .. }), "{err}");
    assert!(err.to_string().contains("line 4"), "{err}");

    // Not a recording at all.
    let junk = temp("junk");
    std::fs::write(&junk, "hello\n").unwrap();
    assert!(matches!(
        rt.replay_into(&junk, sink.inbox(), Pace::Max),
        Err(RecordError::Corrupt { line: 1, .. })
    ));
    // No file.
    assert!(matches!(
        rt.replay_into(temp("missing"), sink.inbox(), Pace::Max),
        Err(RecordError::Io { .. })
    ));
    assert_eq!(
        rt.snapshot().to_json(),
        before,
        "no component or link was added"
    );
    for p in [path, damaged, junk] {
        std::fs::remove_file(p).unwrap();
    }
}
