//! `/events`: one page's updates as server-sent events. First `hello` (the page's id,
//! its whole view, the panels and terminals), then `delta` (only the boxes and links
//! that changed), `panels` (only the panels that changed) and `news` (exits and
//! restarts).

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::json;
use tokio::sync::{Notify, broadcast, watch};

use super::hub::{News, Shared};
use super::view::{Frame, View};

/// Closes the page's entry when its stream is dropped (the browser went away).
struct PageGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for PageGuard {
    fn drop(&mut self) {
        self.shared.close_page(self.id);
    }
}

struct PageStream {
    guard: PageGuard,
    redraw: Arc<Notify>,
    frames: watch::Receiver<Arc<Frame>>,
    news: broadcast::Receiver<Arc<News>>,
    panels: watch::Receiver<u64>,
    panels_seen: u64,
    view: View,
    said_hello: bool,
}

/// The event stream of a new page.
pub(crate) fn page_events(
    shared: Arc<Shared>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (id, redraw) = shared.open_page();
    let state = PageStream {
        frames: shared.frames.clone(),
        news: shared.news.subscribe(),
        panels: shared.panels.watch(),
        guard: PageGuard { shared, id },
        redraw,
        panels_seen: 0,
        view: View::default(),
        said_hello: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        let event = st.next().await?;
        Some((Ok(event), st))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

impl PageStream {
    /// The next event for the page; `None` when the dashboard stopped.
    async fn next(&mut self) -> Option<Event> {
        let shared = self.guard.shared.clone();
        if !self.said_hello {
            self.said_hello = true;
            let frame = self.frames.borrow_and_update().clone();
            self.view = View::project(&frame, &shared.choice(self.guard.id), &View::default());
            let (panels, version) = shared.panels.since(0);
            self.panels_seen = version;
            self.panels.borrow_and_update();
            let hello = json!({
                "page": self.guard.id,
                "view": self.view.delta(&View::default()),
                "panels": panels,
                "terminals": shared.terminals.names(),
            });
            return Some(Event::default().event("hello").data(hello.to_string()));
        }
        loop {
            tokio::select! {
                changed = self.frames.changed() => {
                    changed.ok()?;
                    if let Some(e) = self.redraw_view(&shared) {
                        return Some(e);
                    }
                }
                () = self.redraw.notified() => {
                    if let Some(e) = self.redraw_view(&shared) {
                        return Some(e);
                    }
                }
                news = self.news.recv() => match news {
                    Ok(news) => {
                        return Some(Event::default().event("news").data(json!(*news).to_string()));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                changed = self.panels.changed() => {
                    changed.ok()?;
                    let (panels, version) = shared.panels.since(self.panels_seen);
                    self.panels_seen = version;
                    let update = json!({ "panels": panels, "terminals": shared.terminals.names() });
                    return Some(Event::default().event("panels").data(update.to_string()));
                }
            }
        }
    }

    /// The page's view of the latest frame; an event if anything it draws changed.
    fn redraw_view(&mut self, shared: &Shared) -> Option<Event> {
        let frame = self.frames.borrow_and_update().clone();
        let view = View::project(&frame, &shared.choice(self.guard.id), &self.view);
        let delta = view.delta(&self.view);
        self.view = view;
        (!delta.is_empty()).then(|| {
            Event::default()
                .event("delta")
                .data(json!(delta).to_string())
        })
    }
}
