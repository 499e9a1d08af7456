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
