//! Link recording from the page: `POST /record/start`, `/record/stop`, `/replay`
//! (JSON bodies, JSON answers), writing and reading only inside the dashboard's
//! recordings directory ([`Dashboard::allow_recordings_in`](super::Dashboard::allow_recordings_in);
//! by default `axon-recordings` under the system's temporary directory).
//!
//! Every refusal is `{"error": "..."}` with a 4xx status, given before anything in
//! the graph or on disk changed (the [`RecordError`] text for the runtime's own
//! refusals).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::hub::Shared;
use crate::record::{Pace, RecordError};

/// The recordings directory when the program names none.
pub(crate) fn default_dir() -> PathBuf {
    std::env::temp_dir().join("axon-recordings")
}

/// `path` inside `dir`: a relative path without `..`, or an absolute one already
/// inside `dir`. Anything else is refused.
pub(crate) fn confine(dir: &Path, path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if path.is_empty() || p.file_name().is_none() {
        return Err(format!("`{path}` does not name a file"));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("`{path}`: `..` is not allowed"));
    }
    if p.is_absolute() {
        return if p.starts_with(dir) {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "`{path}` is outside the recordings directory {}",
                dir.display()
            ))
        };
    }
    if p.has_root() || p.components().any(|c| matches!(c, Component::Prefix(_))) {
        return Err(format!("`{path}` is not a plain relative path"));
    }
    Ok(dir.join(p))
}

fn refuse(status: StatusCode, error: impl std::fmt::Display) -> Response {
    (status, Json(json!({ "error": error.to_string() }))).into_response()
}

fn refuse_record(e: &RecordError) -> Response {
    let status = match e {
        RecordError::BadLabel { .. }
        | RecordError::UnknownBox { .. }
        | RecordError::NotLinked { .. }
        | RecordError::NotRecording { .. } => StatusCode::NOT_FOUND,
        RecordError::AlreadyRecording { .. } => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    refuse(status, e)
}

/// Resolve `path` in the recordings directory, creating its directory if asked
/// (only once the path is known to be inside).
fn resolve(shared: &Shared, path: &str, create: bool) -> Result<PathBuf, (StatusCode, String)> {
    let dir = shared
        .recordings_dir
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let full = confine(&dir, path).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    if create && let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: {e}", parent.display()),
            )
        })?;
    }
    Ok(full)
}

/// `POST /record/start`: record the link `from -> to` into `path`.
#[derive(Debug, Deserialize)]
pub(crate) struct Start {
    from: String,
    to: String,
    path: String,
}

pub(crate) async fn start(State(shared): State<Arc<Shared>>, Json(s): Json<Start>) -> Response {
    let full = match resolve(&shared, &s.path, true) {
        Ok(p) => p,
        Err((status, e)) => return refuse(status, e),
    };
    // The page never overwrites a file (a refused recording would remove it too).
    if full.exists() {
        return refuse(
            StatusCode::CONFLICT,
            format!("{} exists already; choose another name", full.display()),
        );
    }
    match shared.rt.record_link(&s.from, &s.to, &full) {
        Ok(()) => Json(json!({ "from": s.from, "to": s.to, "path": full })).into_response(),
        Err(e) => refuse_record(&e),
    }
}

/// `POST /record/stop`: stop recording `from -> to`; answers its summary.
#[derive(Debug, Deserialize)]
pub(crate) struct Stop {
    from: String,
    to: String,
}

pub(crate) async fn stop(State(shared): State<Arc<Shared>>, Json(s): Json<Stop>) -> Response {
    match shared.rt.stop_recording(&s.from, &s.to).await {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => refuse_record(&e),
    }
}

/// `POST /replay`: replay the recording `path` into the inbox `to`, at `pace`
/// (`recorded`, the default, or `max`).
#[derive(Debug, Deserialize)]
pub(crate) struct ReplayAsk {
    path: String,
    to: String,
    #[serde(default)]
    pace: Option<String>,
}

pub(crate) async fn replay(
    State(shared): State<Arc<Shared>>,
    Json(r): Json<ReplayAsk>,
) -> Response {
    let pace = match r.pace.as_deref() {
        None | Some("recorded") => Pace::Recorded,
        Some("max") => Pace::Max,
        Some(other) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("pace `{other}`: expected `recorded` or `max`"),
            );
        }
    };
    let full = match resolve(&shared, &r.path, false) {
        Ok(p) => p,
        Err((status, e)) => return refuse(status, e),
    };
    match shared.rt.replay_named(&full, &r.to, pace) {
        Ok(_replay) => Json(json!({ "to": r.to, "path": full })).into_response(),
        Err(e) => refuse_record(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_recordings_directory() {
        let dir = Path::new("/srv/rec");
        assert_eq!(confine(dir, "a.axrec").unwrap(), dir.join("a.axrec"));
        assert_eq!(confine(dir, "x/a.axrec").unwrap(), dir.join("x/a.axrec"));
        assert_eq!(
            confine(dir, "/srv/rec/b.axrec").unwrap(),
            dir.join("b.axrec")
        );
        for bad in [
            "../a.axrec",
            "x/../../a",
            "/etc/passwd",
            "/srv/recx/a",
            "",
            "/srv/rec/..",
        ] {
            assert!(confine(dir, bad).is_err(), "{bad} accepted");
        }
    }
}
