//! What the example programs' tests share.

use std::path::PathBuf;

/// The path of example program `name`, built next to this test
/// (`target/<profile>/deps/<this test>` → `target/<profile>/examples/<name>`).
pub(crate) fn program(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    profile.join("examples").join(name)
}

/// `child`'s standard error, line by line, read on a thread of its own (so a test can
/// wait for a line with a time bound).
#[allow(dead_code, reason = "not every test file reads a program's log")]
pub(crate) fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}
