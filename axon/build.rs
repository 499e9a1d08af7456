//! With the `dashboard` feature: installs the page's drawing libraries from npm
//! (`npm ci` in `dashboard/`, as pinned by its package-lock.json) when they are
//! missing, and joins their distributed files into one script the binary embeds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries' files, in load order (dagre before the cytoscape plug-in that uses it).
const LIBS: [&str; 3] = [
    "node_modules/cytoscape/dist/cytoscape.min.js",
    "node_modules/dagre/dist/dagre.min.js",
    "node_modules/cytoscape-dagre/cytoscape-dagre.js",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_DASHBOARD").is_none() {
        return;
    }
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"))
        .join("dashboard");
    for f in [
        "package.json",
        "package-lock.json",
        "index.html",
        "app.js",
        "style.css",
    ] {
        println!("cargo:rerun-if-changed=dashboard/{f}");
    }
    println!("cargo:rerun-if-changed=dashboard/node_modules/.package-lock.json");
    if !LIBS.iter().all(|f| dir.join(f).is_file()) {
        npm_ci(&dir);
    }
    let mut joined = String::new();
    for f in LIBS {
        let text = std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}: {e} (after `npm ci`)", dir.join(f).display()));
        joined.push_str(&text);
        joined.push_str("\n;\n");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("dashboard-libs.js"), joined).expect("write the libraries' bundle");
}

fn npm_ci(dir: &Path) {
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm ci` in {} failed ({s}): the dashboard feature needs the npm registry once \
             to install its drawing libraries",
            dir.display()
        ),
        Err(e) => panic!(
            "the dashboard feature needs npm (Node.js 18 or later) to install its drawing \
             libraries, and `npm` could not be run: {e}. Install Node.js and npm \
             (e.g. `apt-get install nodejs npm`), or build without the `dashboard` feature."
        ),
    }
}
