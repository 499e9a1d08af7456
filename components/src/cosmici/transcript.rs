//! Bridge transcripts: one file per node, link and run, whatever the number of
//! connections, with connection markers, capped in size with rotation.
//!
//! A transcript is `DIR/node<N>-<link>-<run>.log`, one line per event:
//!
//! ```text
//! 2026-12-05T00:14:54.306871497Z # connected #3 127.0.0.1:5000 -> 127.0.0.1:63767
//! 2026-12-05T00:14:54.306871497Z < $HOST_READY*14
//! 2026-12-05T00:14:54.306946819Z > START
//! 2026-12-05T00:15:02.000000000Z # disconnected #3 127.0.0.1:5000 -> 127.0.0.1:63767
//! ```
//!
//! `<` is a line from the node, `>` a line to it (typed by an operator), `#` a marker:
//! `connected`, `disconnected`, `refused` (a second connection while the first is
//! live) and `replaced` (the first was silent and gave way). When the file reaches
//! [`TranscriptLimits::max_bytes`] it is renamed `node<N>-<link>-<run>.1.log` (older
//! ones move up to `.2`, `.3`, …) and a new one is started; at most
//! [`TranscriptLimits::keep`] rotated files are kept and the oldest is deleted, logged
//! at warn with its size. The replay ([`super::sim::replay`]) reads every file of the
//! directory, rotated ones included, and skips markers.
//!
//! # Examples
//!
//! ```
//! use components::cosmici::LinkKind;
//! use components::cosmici::transcript::{Transcript, TranscriptLimits};
//!
//! let dir = std::env::temp_dir().join(format!("transcript-doc-{}", std::process::id()));
//! let mut t = Transcript::new(&dir, 1, LinkKind::Uart, "run7", TranscriptLimits::default());
//! t.marker("connected #1 127.0.0.1:5000 -> 127.0.0.1:63767");
//! t.line('<', "$HOST_READY*14");
//! let text = std::fs::read_to_string(dir.join("node1-uart-run7.log"))?;
//! assert!(text.lines().nth(1).unwrap().ends_with(" < $HOST_READY*14"));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::{Path, PathBuf};

use super::lines::{LinkKind, utc_now};

/// Size cap and rotation of a [`Transcript`].
///
/// # Examples
///
/// ```
/// use components::cosmici::transcript::TranscriptLimits;
///
/// let limits = TranscriptLimits::default();
/// assert_eq!((limits.max_bytes, limits.keep), (64 << 20, 4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TranscriptLimits {
    /// Size at which the file is rotated, bytes (default 64 MiB).
    pub max_bytes: u64,
    /// Rotated files kept (default 4); the oldest beyond that is deleted.
    pub keep: usize,
}

impl Default for TranscriptLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            keep: 4,
        }
    }
}

/// One node's link's transcript for one run; see the [module docs](self).
///
/// Write failures stop the transcript (logged at warn once); the bridge serves the node
/// either way.
#[derive(Debug)]
pub struct Transcript {
    dir: PathBuf,
    stem: String,
    limits: TranscriptLimits,
    file: Option<LineWriter<File>>,
    written: u64,
    failed: bool,
}

impl Transcript {
    /// The transcript of `node`'s `link` in run `run`, in `dir` (created on the first
    /// write; an existing file is appended to).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::transcript::{Transcript, TranscriptLimits};
    ///
    /// let t = Transcript::new("transcripts", 2, LinkKind::Auxio, "run1", TranscriptLimits::default());
    /// assert_eq!(t.path(), std::path::Path::new("transcripts/node2-auxio-run1.log"));
    /// ```
    pub fn new(
        dir: impl Into<PathBuf>,
        node: u32,
        link: LinkKind,
        run: &str,
        limits: TranscriptLimits,
    ) -> Self {
        Self {
            dir: dir.into(),
            stem: format!("node{node}-{link}-{run}"),
            limits,
            file: None,
            written: 0,
            failed: false,
        }
    }

    /// The current file.
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::transcript::{Transcript, TranscriptLimits};
    ///
    /// let t = Transcript::new("/tmp", 0, LinkKind::Uart, "r", TranscriptLimits::default());
    /// assert!(t.path().ends_with("node0-uart-r.log"));
    /// ```
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.stem))
    }

    fn rotated(&self, k: usize) -> PathBuf {
        self.dir.join(format!("{}.{k}.log", self.stem))
    }

    /// Records a line sent (`'<'` from the node, `'>'` to it).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::transcript::{Transcript, TranscriptLimits};
    ///
    /// let dir = std::env::temp_dir().join(format!("transcript-line-{}", std::process::id()));
    /// let mut t = Transcript::new(&dir, 1, LinkKind::Uart, "r", TranscriptLimits::default());
    /// t.line('>', "START");
    /// assert!(std::fs::read_to_string(t.path())?.ends_with(" > START\n"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn line(&mut self, direction: char, line: &str) {
        self.write(direction, line);
    }

    /// Records a connection marker (`# <text>`).
    ///
    /// # Examples
    ///
    /// ```
    /// use components::cosmici::LinkKind;
    /// use components::cosmici::transcript::{Transcript, TranscriptLimits};
    ///
    /// let dir = std::env::temp_dir().join(format!("transcript-marker-{}", std::process::id()));
    /// let mut t = Transcript::new(&dir, 1, LinkKind::Uart, "r", TranscriptLimits::default());
    /// t.marker("disconnected #4");
    /// assert!(std::fs::read_to_string(t.path())?.ends_with(" # disconnected #4\n"));
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn marker(&mut self, text: &str) {
        self.write('#', text);
    }

    fn write(&mut self, direction: char, text: &str) {
        if self.failed {
            return;
        }
        if let Err(e) = self.try_write(direction, text) {
            tracing::warn!(
                "transcript {} failed, transcript stopped: {e}",
                self.path().display()
            );
            self.failed = true;
            self.file = None;
        }
    }

    fn try_write(&mut self, direction: char, text: &str) -> std::io::Result<()> {
        if self.written >= self.limits.max_bytes && self.file.is_some() {
            self.rotate()?;
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                std::fs::create_dir_all(&self.dir)?;
                let f = File::options()
                    .create(true)
                    .append(true)
                    .open(self.path())?;
                self.written = f.metadata()?.len();
                self.file.insert(LineWriter::new(f))
            }
        };
        let entry = format!("{} {direction} {text}\n", utc_now());
        file.write_all(entry.as_bytes())?;
        self.written += entry.len() as u64;
        Ok(())
    }

    /// `.log` becomes `.1.log`, `.k.log` becomes `.k+1.log`; beyond `keep`, deleted.
    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        let oldest = self.rotated(self.limits.keep.max(1));
        if let Ok(meta) = std::fs::metadata(&oldest) {
            tracing::warn!(
                "transcript rotation: deleting the oldest, {} ({} bytes; --transcript-keep {})",
                oldest.display(),
                meta.len(),
                self.limits.keep
            );
            std::fs::remove_file(&oldest)?;
        }
        for k in (1..self.limits.keep.max(1)).rev() {
            rename_if_present(&self.rotated(k), &self.rotated(k + 1))?;
        }
        if self.limits.keep == 0 {
            tracing::warn!(
                "transcript rotation: deleting {} ({} bytes; --transcript-keep 0)",
                self.path().display(),
                self.written
            );
            std::fs::remove_file(self.path())?;
        } else {
            rename_if_present(&self.path(), &self.rotated(1))?;
        }
        self.written = 0;
        Ok(())
    }
}

fn rename_if_present(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_newest_files_within_the_cap() {
        let dir = std::env::temp_dir().join(format!("transcript-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let limits = TranscriptLimits {
            max_bytes: 200,
            keep: 2,
        };
        let mut t = Transcript::new(&dir, 3, LinkKind::Uart, "r1", limits);
        for i in 0..100 {
            t.line('<', &format!("line {i:03}"));
        }
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "node3-uart-r1.1.log",
                "node3-uart-r1.2.log",
                "node3-uart-r1.log"
            ]
        );
        for name in &names {
            let len = std::fs::metadata(dir.join(name)).unwrap().len();
            // One line past the cap at most.
            assert!(len < 200 + 64, "{name}: {len}");
        }
        // The newest line is in the current file, and the rotated ones are older.
        let current = std::fs::read_to_string(dir.join("node3-uart-r1.log")).unwrap();
        assert!(current.ends_with("< line 099\n"));
        let numbers = |name: &str| -> Vec<u32> {
            std::fs::read_to_string(dir.join(name))
                .unwrap()
                .lines()
                .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
                .collect()
        };
        let (two, one, now) = (
            numbers("node3-uart-r1.2.log"),
            numbers("node3-uart-r1.1.log"),
            numbers("node3-uart-r1.log"),
        );
        // Consecutive, in order, across the files: nothing lost between them.
        let joined: Vec<u32> = two.iter().chain(&one).chain(&now).copied().collect();
        assert_eq!(joined, (joined[0]..100).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
