//! ConsoleReader and ConsoleWriter over in-memory streams and the blocking adapters.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axon::testing::Harness;
use axon::{Control, Exit};
use components::console::{BlockingReader, BlockingWriter, ConsoleReader, ConsoleWriter, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn all_lines(h: &mut Harness<(), String>) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(line) = h.recv().await {
        lines.push(line);
    }
    lines
}

fn failure(exit: &Exit) -> Option<&Error> {
    match exit {
        Exit::Failed(e) => e.downcast_ref::<Error>(),
        _ => None,
    }
}

#[tokio::test]
async fn reader_sends_lines_and_finishes_at_end_of_input() {
    let input: &[u8] = b"one\r\ntwo\n\nlast";
    let mut h = Harness::new(ConsoleReader::new(input));
    assert_eq!(all_lines(&mut h).await, ["one", "two", "", "last"]);
    assert!(matches!(h.exit().await, Exit::Finished));
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
}

#[tokio::test]
async fn reader_waits_for_lines_written_in_pieces() {
    let (mut tx, rx) = tokio::io::duplex(64);
    let mut h = Harness::new(ConsoleReader::new(rx));
    tx.write_all(b"hel").await.unwrap();
    tx.write_all(b"lo\nwor").await.unwrap();
    assert_eq!(h.recv().await.as_deref(), Some("hello"));
    tx.write_all(b"ld\n").await.unwrap();
    assert_eq!(h.recv().await.as_deref(), Some("world"));
    drop(tx);
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn reader_stops_on_shutdown_while_input_is_open() {
    let (_tx, rx) = tokio::io::duplex(64);
    let mut h = Harness::new(ConsoleReader::new(rx));
    h.send_control(Control::Shutdown).await;
    assert_eq!(h.recv().await, None);
    assert!(matches!(h.exit().await, Exit::ShutDown));
    assert_eq!(h.recv_signal().await, Some(Control::Shutdown));
}

#[tokio::test]
async fn reader_fails_on_a_line_too_long() {
    let input: &[u8] = b"ok\nmuch too long\n";
    let mut h = Harness::new(ConsoleReader::new(input).max_line_length(4));
    assert_eq!(all_lines(&mut h).await, ["ok"]);
    let exit = h.exit().await;
    assert!(
        matches!(failure(&exit), Some(Error::LineTooLong { max: 4 })),
        "{exit}"
    );
}

#[tokio::test]
async fn reader_fails_on_invalid_utf8() {
    let input: &[u8] = b"fine\n\xff\xfe\n";
    let mut h = Harness::new(ConsoleReader::new(input));
    assert_eq!(all_lines(&mut h).await, ["fine"]);
    let exit = h.exit().await;
    assert!(matches!(failure(&exit), Some(Error::Read(_))), "{exit}");
}

#[tokio::test]
async fn reader_reads_a_blocking_source_on_its_own_thread() {
    // More than one chunk of the adapter, so lines cross chunk boundaries.
    let text: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    assert!(text.len() > 3 * 8192);
    let source = BlockingReader::new(std::io::Cursor::new(text.into_bytes()));
    let mut h = Harness::new(ConsoleReader::new(source));
    let lines = all_lines(&mut h).await;
    assert_eq!(lines.len(), 3000);
    assert_eq!(lines[0], "line 0");
    assert_eq!(lines[2999], "line 2999");
    assert!(matches!(h.exit().await, Exit::Finished));
}

#[tokio::test]
async fn writer_writes_everything_queued_then_finishes() {
    let (tx, mut rx) = tokio::io::duplex(4096);
    let mut h = Harness::new(ConsoleWriter::<String, _>::new(tx));
    for s in ["alpha", "", "gamma"] {
        h.send(s.to_string()).await;
    }
    h.finish().await;
    let mut text = String::new();
    rx.read_to_string(&mut text).await.unwrap();
    assert_eq!(text, "alpha\n\ngamma\n");
    assert!(matches!(h.exit().await, Exit::Finished));
    assert_eq!(h.recv_signal().await, Some(Control::ProducerFinished));
}

#[tokio::test]
async fn writer_flushes_when_its_inbox_is_empty() {
    let (tx, mut rx) = tokio::io::duplex(4096);
    let mut h = Harness::new(ConsoleWriter::<u64, _>::new(tx));
    h.send(42).await;
    // Still running: the line must reach the stream without waiting for the end.
    let mut line = [0u8; 3];
    rx.read_exact(&mut line).await.unwrap();
    assert_eq!(&line, b"42\n");
    h.send_control(Control::Shutdown).await;
    assert!(matches!(h.exit().await, Exit::ShutDown));
}

#[tokio::test]
async fn writer_fails_when_the_stream_is_closed() {
    let (tx, rx) = tokio::io::duplex(64);
    drop(rx);
    let mut h = Harness::new(ConsoleWriter::<&'static str, _>::new(tx));
    h.send("nobody reads this").await;
    let exit = h.exit().await;
    assert!(matches!(failure(&exit), Some(Error::Write(_))), "{exit}");
}

/// A blocking sink the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn writer_through_the_blocking_adapter_writes_everything() {
    let sink = Shared::default();
    let mut h = Harness::new(ConsoleWriter::<usize, _>::new(BlockingWriter::new(
        sink.clone(),
    )));
    for n in 0..5000 {
        h.send(n).await;
    }
    h.finish().await;
    assert!(matches!(h.exit().await, Exit::Finished));
    let mut expected = Vec::new();
    for n in 0..5000 {
        writeln!(expected, "{n}").unwrap();
    }
    assert_eq!(*sink.0.lock().unwrap(), expected);
}
