//! A [`Session`]: one recording under way — the file, a bounded buffer of encoded
//! lines, and the thread that writes them.
//!
//! The tap hands each line over with `try_send`: when the buffer is full (the disk is
//! slower than the link) the line is **dropped and counted**, never waited for, so a
//! slow disk never slows the link. The writer flushes whenever the buffer runs empty.
//! After a write error it writes nothing more and counts every later line as dropped.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::sync::oneshot;

use super::format::{Header, encode, encode_header};
use super::{RecordError, RecordingSummary};

/// Encoded lines waiting for the writer, at most.
pub(crate) const WRITE_BUFFER: usize = 1024;

/// A recording's counters, shared by the tap and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    error: Mutex<Option<String>>,
}

impl Counters {
    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    fn fail(&self, why: String) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        e.get_or_insert(why);
    }
}

/// One recording under way.
pub(crate) struct Session {
    path: PathBuf,
    started: tokio::time::Instant,
    /// `None` once no more lines will come (stopped, or the tap ended).
    lines: Option<mpsc::Sender<Vec<u8>>>,
    /// Told when the writer has finished (a thread of its own, not tokio's blocking
    /// pool: a blocking task that lives as long as the recording would stop the paused
    /// clock of a test from advancing).
    writer: Option<oneshot::Receiver<()>>,
    counters: Arc<Counters>,
}

impl Session {
    /// Create `path`, write `header` and start the writer.
    pub(crate) fn create(path: &Path, header: &Header) -> Result<Session, RecordError> {
        let io = |source| RecordError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = std::fs::File::create(path).map_err(io)?;
        file.write_all(&encode_header(header)).map_err(io)?;
        let (tx, rx) = mpsc::channel(WRITE_BUFFER);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("axon-record".into())
            .spawn(move || {
                write_lines(file, rx, &c);
                let _ = done_tx.send(());
            })
            .map_err(io)?;
        Ok(Session {
            path: path.to_path_buf(),
            started: tokio::time::Instant::now(),
            lines: Some(tx),
            writer: Some(done_rx),
            counters,
        })
    }

    /// Encode `msg`, stamped now, if there is room for it; otherwise count it dropped.
    /// `None` if nothing is to be written (stopped, or dropped). Call [`push`](Self::push)
    /// with it under the same lock, so lines keep the order of their stamps.
    pub(crate) fn encode<T: Serialize>(&self, msg: &T) -> Option<Vec<u8>> {
        let lines = self.lines.as_ref()?;
        if lines.capacity() == 0 {
            self.counters.drop_one();
            return None;
        }
        match encode(self.elapsed(), msg) {
            Ok(line) => Some(line),
            Err(e) => {
                self.counters.drop_one();
                self.counters
                    .fail(format!("a message could not be encoded: {e}"));
                None
            }
        }
    }

    /// Hand an encoded line to the writer, or count it dropped if the buffer is full.
    pub(crate) fn push(&self, line: Vec<u8>) {
        if let Some(lines) = &self.lines
            && lines.try_send(line).is_err()
        {
            self.counters.drop_one();
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// No more lines: the writer finishes what it has and closes the file.
    pub(crate) fn close(&mut self) {
        self.lines = None;
    }

    /// True while lines are still accepted.
    pub(crate) fn is_open(&self) -> bool {
        self.lines.is_some()
    }

    /// The counters now.
    pub(crate) fn summary(&self) -> RecordingSummary {
        RecordingSummary {
            path: self.path.clone(),
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            error: self
                .counters
                .error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Close, wait for the writer to write everything handed to it, and sum up.
    pub(crate) async fn finish(mut self) -> RecordingSummary {
        self.close();
        if let Some(w) = self.writer.take()
            && w.await.is_err()
        {
            self.counters.fail("the writer thread panicked".into());
        }
        self.summary()
    }
}

/// The writer's loop, on a blocking thread: write each line, flush when none waits.
fn write_lines(file: std::fs::File, mut lines: mpsc::Receiver<Vec<u8>>, counters: &Counters) {
    let mut out = BufWriter::new(file);
    let mut failed = false;
    while let Some(line) = lines.blocking_recv() {
        if failed {
            counters.drop_one();
            continue;
        }
        let written = out.write_all(&line).and_then(|()| {
            if lines.is_empty() {
                out.flush()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                failed = true;
                counters.drop_one();
                counters.fail(format!("writing failed: {e}"));
            }
        }
    }
    if !failed && let Err(e) = out.flush() {
        counters.fail(format!("writing failed: {e}"));
    }
}
