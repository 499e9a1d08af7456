//! Link recording: a tapped link delivers exactly what it would have, the file holds
//! every message in order with times that never go back, a slow disk drops lines (and
//! counts them) but never messages, recording by name, and refusals that change nothing.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axon::component::from_fn;
use axon::record::{self, RecordError};
use axon::{Component, Context, Runtime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    seq: u64,
    text: String,
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("axon-{name}-{}.axrec", std::process::id()))
}

/// Sends `n` readings, yielding now and then so the tap runs under traffic.
fn sensor(n: u64, text_len: usize) -> impl Component<In = (), Out = Reading> {
    from_fn("sensor", move |mut ctx: Context<(), Reading>| async move {
        for seq in 0..n {
            ctx.send(Reading {
                seq,
                text: "x".repeat(text_len),
            })
            .await?;
            if seq % 97 == 0 {
                tokio::task::yield_now().await;
            }
        }
        Ok(())
    })
}

fn logger(into: Arc<Mutex<Vec<Reading>>>) -> impl Component<In = Reading, Out = ()> {
    from_fn("logger", move |mut ctx: Context<Reading, ()>| async move {
        while let Some(r) = ctx.recv().await {
            into.lock().unwrap().push(r);
        }
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tapped_link_delivers_what_it_would_and_the_file_has_every_message() {
    const N: u64 = 1000; // below the writer's buffer: no line can be dropped
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    // Half the readings, then (once tapped) the other half, under traffic.
    let src = rt
        .add(from_fn(
            "sensor",
            move |mut ctx: Context<(), Reading>| async move {
                let mut go = Some(go_rx);
                for seq in 0..N {
                    if seq == N / 2
                        && let Some(go) = go.take()
                    {
                        go.await?;
                    }
                    ctx.send(Reading {
                        seq,
                        text: "x".repeat(16),
                    })
                    .await?;
                    if seq % 97 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
                Ok(())
            },
        ))
        .unwrap();
    let dst = rt.add(logger(got.clone())).unwrap();
    rt.link(src.outbox(), dst.inbox()).unwrap();
    rt.link(src.signal(), dst.control()).unwrap();
    let path = temp("tap-traffic");
    let (from, to) = (
        format!("sensor#{}.outbox", src.id()),
        format!("logger#{}.inbox", dst.id()),
    );
    let (out, inbox) = (src.outbox(), dst.inbox());
    let (a, b) = (src.start(), dst.start());
    // Tapped while it runs: messages before the tap went straight, later ones through it.
    rt.record(out, inbox, &path).unwrap();
    go_tx.send(()).unwrap();
    assert!(a.join().await.is_clean());
    // The sink ends only on ProducerFinished, which must not overtake the tap's messages.
    assert!(b.join().await.is_clean());
    let seqs: Vec<u64> = got.lock().unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (0..N).collect::<Vec<_>>(),
        "the destination got every message, in order"
    );

    let summary = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(summary.dropped, 0);
    let rec = record::read::<Reading>(&path).unwrap();
    assert_eq!(
        (rec.header.from.as_str(), rec.header.to.as_str()),
        (from.as_str(), to.as_str())
    );
    assert!(rec.header.type_name.ends_with("Reading"));
    assert_eq!(rec.messages.len() as u64, summary.written);
    // Every message sent after the tap (which came before the second half at the
    // latest), in order, times never going back.
    let recorded: Vec<u64> = rec.messages.iter().map(|(_, r)| r.seq).collect();
    let first = recorded[0];
    assert!(first <= N / 2, "{first}");
    assert_eq!(recorded, (first..N).collect::<Vec<_>>());
    assert!(rec.messages.windows(2).all(|w| w[0].0 <= w[1].0));
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_link_recorded_from_the_start_has_every_message_with_its_time() {
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let src = rt
        .add(from_fn("ticker", |mut ctx: Context<(), u32>| async move {
            for n in 0..50u32 {
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(n % 7))).await;
                ctx.send(n).await?;
            }
            Ok(())
        }))
        .unwrap();
    let dst = rt
        .add(from_fn(
            "sink",
            move |mut ctx: Context<u32, ()>| async move {
                while let Some(n) = ctx.recv().await {
                    got.lock().unwrap().push(n);
                }
                Ok(())
            },
        ))
        .unwrap();
    rt.link(src.outbox(), dst.inbox()).unwrap();
    rt.link(src.signal(), dst.control()).unwrap();
    let path = temp("tap-times");
    rt.record(src.outbox(), dst.inbox(), &path).unwrap();
    let (from, to) = (
        format!("ticker#{}.outbox", src.id()),
        format!("sink#{}.inbox", dst.id()),
    );
    let (a, b) = (src.start(), dst.start());
    a.join().await;
    b.join().await;
    let summary = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!((summary.written, summary.dropped), (50, 0));
    let rec = record::read::<u32>(&path).unwrap();
    let values: Vec<u32> = rec.messages.iter().map(|(_, n)| *n).collect();
    assert_eq!(values, (0..50).collect::<Vec<_>>());
    // The paused clock makes each stamp exactly the sum of the sleeps before the send.
    let mut at = 0u64;
    for (n, (t, _)) in rec.messages.iter().enumerate() {
        at += n as u64 % 7;
        assert_eq!(t.as_millis() as u64, at, "message {n}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_cannot_keep_up_loses_lines_counted_never_messages() {
    const N: u64 = 5000; // ~650 KB of lines: more than the pipe, the buffer and the writer hold
    let dir = std::env::temp_dir().join(format!("axon-fifo-{}", std::process::id()));
    let _ = std::fs::create_dir(&dir);
    let fifo = dir.join("slow.axrec");
    let _ = std::fs::remove_file(&fifo);
    if !std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("SKIPPED: mkfifo failed (apt-get install coreutils)");
        return;
    }
    // A reader that opens the pipe and reads nothing until told: a disk that stalls.
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::File::open(&fifo).unwrap();
            go_rx.recv().unwrap();
            let mut all = String::new();
            f.read_to_string(&mut all).unwrap();
            all
        })
    };
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let src = rt.add(sensor(N, 100)).unwrap();
    let dst = rt.add(logger(got.clone())).unwrap();
    rt.link(src.outbox(), dst.inbox()).unwrap();
    rt.link(src.signal(), dst.control()).unwrap();
    rt.make_recordable::<Reading>();
    let (from, to) = (
        format!("sensor#{}.outbox", src.id()),
        format!("logger#{}.inbox", dst.id()),
    );
    let rt2 = rt.clone();
    let (f2, t2, p2) = (from.clone(), to.clone(), fifo.clone());
    // Opening a pipe for writing waits for its reader: off the runtime's threads.
    tokio::task::spawn_blocking(move || rt2.record_link(&f2, &t2, &p2))
        .await
        .unwrap()
        .unwrap();
    let (a, b) = (src.start(), dst.start());
    assert!(a.join().await.is_clean());
    assert!(b.join().await.is_clean());
    let seqs: Vec<u64> = got.lock().unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>(), "the link lost nothing");
    let info = rt
        .recordings()
        .into_iter()
        .find(|r| r.from == from)
        .unwrap();
    assert!(
        info.dropped > 0,
        "the stalled disk made the tap drop lines: {info:?}"
    );
    go_tx.send(()).unwrap();
    let summary = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(summary.written + summary.dropped, N, "{summary:?}");
    let text = reader.join().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len() as u64,
        1 + summary.written,
        "header and every line written"
    );
    std::fs::remove_file(&fifo).unwrap();
    let _ = std::fs::remove_dir(&dir);
}

#[tokio::test]
async fn recording_by_name_shows_in_the_snapshot_and_stops() {
    let rt = Runtime::new();
    let got = Arc::new(Mutex::new(Vec::new()));
    let src = rt.add(sensor(20, 4)).unwrap();
    let dst = rt.add(logger(got.clone())).unwrap();
    rt.link(src.outbox(), dst.inbox()).unwrap();
    rt.link(src.signal(), dst.control()).unwrap();
    rt.make_recordable::<Reading>();
    let (from, to) = (
        format!("sensor#{}.outbox", src.id()),
        format!("logger#{}.inbox", dst.id()),
    );
    let path = temp("by-name");
    rt.record_link(&from, &to, &path).unwrap();
    let snap = rt.snapshot();
    assert_eq!(snap.recordings.len(), 1);
    let r = &snap.recordings[0];
    assert_eq!(
        (r.from.as_str(), r.to.as_str(), r.recording),
        (from.as_str(), to.as_str(), true)
    );
    assert_eq!(snap.component(r.tap).unwrap().name, "tap");
    assert!(matches!(
        rt.record_link(&from, &to, temp("by-name-again")),
        Err(RecordError::AlreadyRecording { .. })
    ));
    let (a, b) = (src.start(), dst.start());
    a.join().await;
    b.join().await;
    let summary = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(
        (summary.written, summary.dropped, summary.error),
        (20, 0, None)
    );
    assert!(matches!(
        rt.stop_recording(&from, &to).await,
        Err(RecordError::NotRecording { .. })
    ));
    assert_eq!(got.lock().unwrap().len(), 20);
    assert_eq!(record::read::<Reading>(&path).unwrap().messages.len(), 20);
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_stopped_recording_leaves_the_link_forwarding_and_can_start_again() {
    let rt = Runtime::new();
    let (go_tx, mut go_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let got = Arc::new(Mutex::new(Vec::new()));
    let src = rt
        .add(from_fn(
            "pacer",
            move |mut ctx: Context<(), u32>| async move {
                for n in 0..30 {
                    ctx.send(n).await?;
                    // After each ten, wait for the test's word.
                    if n % 10 == 9 && n < 29 {
                        go_rx.recv().await;
                    }
                }
                Ok(())
            },
        ))
        .unwrap();
    let sink = {
        let got = got.clone();
        rt.add(from_fn(
            "sink",
            move |mut ctx: Context<u32, ()>| async move {
                while let Some(n) = ctx.recv().await {
                    got.lock().unwrap().push(n);
                    let _ = seen_tx.send(n);
                }
                Ok(())
            },
        ))
        .unwrap()
    };
    rt.link(src.outbox(), sink.inbox()).unwrap();
    rt.link(src.signal(), sink.control()).unwrap();
    rt.make_recordable::<u32>();
    let (from, to) = (
        format!("pacer#{}.outbox", src.id()),
        format!("sink#{}.inbox", sink.id()),
    );
    let (p1, p2) = (temp("again-1"), temp("again-2"));
    rt.record_link(&from, &to, &p1).unwrap();
    let (a, b) = (src.start(), sink.start());
    while seen_rx.recv().await.is_some_and(|n| n != 9) {}
    let first = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(first.written, 10);
    assert!(!rt.snapshot().recordings[0].recording);
    go_tx.send(()).unwrap();
    // Not recording: the tap still forwards.
    while seen_rx.recv().await.is_some_and(|n| n != 19) {}
    rt.record_link(&from, &to, &p2).unwrap();
    go_tx.send(()).unwrap();
    a.join().await;
    b.join().await;
    assert_eq!(*got.lock().unwrap(), (0..30).collect::<Vec<_>>());
    let second = rt.stop_recording(&from, &to).await.unwrap();
    assert_eq!(second.written, 10);
    let values = |p: &PathBuf| -> Vec<u32> {
        record::read::<u32>(p)
            .unwrap()
            .messages
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };
    assert_eq!(values(&p1), (0..10).collect::<Vec<_>>());
    assert_eq!(values(&p2), (20..30).collect::<Vec<_>>());
    std::fs::remove_file(&p1).unwrap();
    std::fs::remove_file(&p2).unwrap();
}

/// A message type without serde.
#[derive(Debug)]
struct Opaque(#[allow(dead_code)] u8);

#[tokio::test]
async fn a_link_of_a_type_not_made_recordable_is_refused_and_left_alone() {
    let rt = Runtime::new();
    let a = rt
        .add(from_fn("a", |_c: Context<(), Opaque>| async { Ok(()) }))
        .unwrap();
    let b = rt
        .add(from_fn("b", |_c: Context<Opaque, ()>| async { Ok(()) }))
        .unwrap();
    rt.link(a.outbox(), b.inbox()).unwrap();
    let before = rt.snapshot().to_json();
    let path = temp("refused");
    let err = rt
        .record_link(
            &format!("a#{}.outbox", a.id()),
            &format!("b#{}.inbox", b.id()),
            &path,
        )
        .unwrap_err();
    assert!(matches!(err, RecordError::NotRecordable { .. }));
    let text = err.to_string();
    assert!(
        text.contains("Opaque") && text.contains("make_recordable"),
        "{text}"
    );
    assert_eq!(
        rt.snapshot().to_json(),
        before,
        "nothing in the graph changed"
    );
    assert!(!path.exists(), "no file was left");
    // Unknown names and unlinked boxes are refused as clearly.
    assert!(matches!(
        rt.record_link("a#999.outbox", "b#2.inbox", &path),
        Err(RecordError::UnknownBox { .. })
    ));
    assert!(matches!(
        rt.record_link("nonsense", "b#2.inbox", &path),
        Err(RecordError::BadLabel { .. })
    ));
    assert!(matches!(
        rt.record_link(
            &format!("b#{}.signal", b.id()),
            &format!("a#{}.control", a.id()),
            &path
        ),
        Err(RecordError::NotLinked { .. })
    ));
    assert_eq!(rt.snapshot().to_json(), before);
}

#[test]
fn a_recording_is_json_lines_with_a_header() {
    let path = temp("format");
    std::fs::write(
        &path,
        "{\"axon_recording\":1,\"from\":\"a#1.outbox\",\"to\":\"b#2.inbox\",\"type\":\"u32\",\"started_unix_ms\":5}\n{\"t_us\":0,\"msg\":4}\n{\"t_us\":10,\"msg\":5}\n",
    )
    .unwrap();
    let rec = record::read::<u32>(&path).unwrap();
    assert_eq!(rec.header.started_unix_ms, 5);
    assert_eq!(rec.messages.len(), 2);
    let f = BufReader::new(std::fs::File::open(&path).unwrap());
    assert_eq!(f.lines().count(), 3);
    std::fs::remove_file(&path).unwrap();
}
