//! The dashboard's HTTP routes and the page's files (built into the binary: the
//! page's own files from `axon/dashboard/`, the drawing libraries from its
//! `node_modules`, put together by `build.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::hub::Shared;
use super::stream::page_events;

const INDEX: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/index.html"));
const APP: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/app.js"));
const STYLE: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/style.css"));
const LIBS: &str = include_str!(concat!(env!("OUT_DIR"), "/dashboard-libs.js"));

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route("/app.js", get(|| async { file("text/javascript", APP) }))
        .route("/libs.js", get(|| async { file("text/javascript", LIBS) }))
        .route("/style.css", get(|| async { file("text/css", STYLE) }))
        .route("/events", get(events))
        .route("/view", post(view))
        .route("/metrics", get(metrics))
        .route("/snapshot.json", get(snapshot))
        .route("/terminal/stream", get(terminal_stream))
        .route("/terminal/send", post(terminal_send))
        .route("/record/start", post(super::record::start))
        .route("/record/stop", post(super::record::stop))
        .route("/replay", post(super::record::replay))
        .with_state(shared)
}

fn file(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn events(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    page_events(shared)
}

/// A page's change to what it draws.
#[derive(Debug, Deserialize)]
struct ViewChange {
    page: u64,
    /// `expand` or `fold` a group (`key` = its key), `collapse` or `open` a
    /// composite (`key` = `c<id>`).
    op: String,
    key: String,
}

async fn view(State(shared): State<Arc<Shared>>, Query(c): Query<ViewChange>) -> StatusCode {
    let id = c
        .key
        .strip_prefix('c')
        .and_then(|n| n.parse::<u64>().ok())
        .map(crate::ComponentId::from_raw);
    let known = shared.choose(c.page, |choice| match (c.op.as_str(), id) {
        ("expand", _) => {
            choice.expanded.insert(c.key.clone());
        }
        ("fold", _) => {
            choice.expanded.remove(&c.key);
        }
        ("collapse", Some(id)) => {
            choice.collapsed.insert(id);
        }
        ("open", Some(id)) => {
            choice.collapsed.remove(&id);
        }
        _ => {}
    });
    if known {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        shared.metrics.render(),
    )
        .into_response()
}

async fn snapshot(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        shared.rt.snapshot().to_json(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
struct TerminalName {
    name: String,
}

async fn terminal_stream(
    State(shared): State<Arc<Shared>>,
    Query(t): Query<TerminalName>,
) -> Response {
    match shared.terminals.open(&t.name).await {
        Ok(sse) => sse.into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct TerminalSession {
    session: u64,
}

async fn terminal_send(
    State(shared): State<Arc<Shared>>,
    Query(t): Query<TerminalSession>,
    line: String,
) -> Response {
    match shared.terminals.send(t.session, &line).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::GONE, e).into_response(),
    }
}
