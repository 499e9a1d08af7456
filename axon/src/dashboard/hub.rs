//! The hub: follows the runtime's change stream, reads a snapshot after changes
//! (at most every [`MIN_GAP`]) and every [`TICK`], and hands it to the pages and the
//! metrics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

use super::metrics::Metrics;
use super::panels::Panels;
use super::terminal::Terminals;
use super::view::{Frame, ViewChoice};
use crate::Runtime;
use crate::introspect::GraphEvent;

/// Counters are read this often when nothing changes in the graph.
pub(crate) const TICK: Duration = Duration::from_secs(1);

/// After a change to the graph, the next reading comes at most this soon after the
/// last (so connections coming and going by thousands cost a few readings a second).
pub(crate) const MIN_GAP: Duration = Duration::from_millis(250);

/// Most exits and restarts told to pages per reading; the rest are counted.
const MAX_NEWS: usize = 50;

/// What the hub, the routes and the pages share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) rt: Runtime,
    pub(crate) frames: watch::Receiver<Arc<Frame>>,
    frames_tx: Mutex<Option<watch::Sender<Arc<Frame>>>>,
    pub(crate) news: broadcast::Sender<Arc<News>>,
    pub(crate) panels: Panels,
    pub(crate) terminals: Arc<Terminals>,
    pub(crate) metrics: Metrics,
    /// Where the recording routes may write and read (see [`super::record`]).
    pub(crate) recordings_dir: Mutex<std::path::PathBuf>,
    pages: Mutex<HashMap<u64, Page>>,
    next_page: AtomicU64,
    /// Rung when a page expanded or folded a group: the next frame must keep (or
    /// may merge) that group's members.
    regroup: Notify,
}

/// One connected page's choices, and a bell to redraw it after it changed them.
#[derive(Debug)]
struct Page {
    choice: ViewChoice,
    redraw: Arc<Notify>,
}

/// Exits and restarts since the last reading, for the pages' log.
#[derive(Debug, Default, Serialize)]
pub(crate) struct News {
    lines: Vec<String>,
    /// Further exits and restarts not listed.
    more: usize,
}

impl Shared {
    pub(crate) fn new(rt: Runtime) -> Self {
        rt.keep_ended_totals();
        let metrics = Metrics::new();
        let first = Arc::new(read(&rt, &metrics, &HashSet::new()));
        let (tx, rx) = watch::channel(first);
        Shared {
            rt,
            frames: rx,
            frames_tx: Mutex::new(Some(tx)),
            news: broadcast::channel(64).0,
            panels: Panels::new(),
            terminals: Arc::default(),
            metrics,
            recordings_dir: Mutex::new(super::record::default_dir()),
            pages: Mutex::new(HashMap::new()),
            next_page: AtomicU64::new(1),
            regroup: Notify::new(),
        }
    }

    fn pages(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Page>> {
        self.pages.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new page: its id and the bell that rings when it changed its choices.
    pub(crate) fn open_page(&self) -> (u64, Arc<Notify>) {
        let id = self.next_page.fetch_add(1, Ordering::Relaxed);
        let redraw = Arc::new(Notify::new());
        self.pages().insert(
            id,
            Page {
                choice: ViewChoice::default(),
                redraw: redraw.clone(),
            },
        );
        (id, redraw)
    }

    pub(crate) fn close_page(&self, id: u64) {
        self.pages().remove(&id);
    }

    pub(crate) fn choice(&self, id: u64) -> ViewChoice {
        self.pages()
            .get(&id)
            .map(|p| p.choice.clone())
            .unwrap_or_default()
    }

    /// Change a page's choices; false if there is no such page.
    pub(crate) fn choose(&self, id: u64, change: impl FnOnce(&mut ViewChoice)) -> bool {
        let mut pages = self.pages();
        let Some(page) = pages.get_mut(&id) else {
            return false;
        };
        let groups = page.choice.expanded.len();
        change(&mut page.choice);
        if page.choice.expanded.len() != groups {
            self.regroup.notify_one();
        }
        page.redraw.notify_one();
        true
    }

    /// Every group some page expanded.
    fn expanded(&self) -> HashSet<String> {
        self.pages()
            .values()
            .flat_map(|p| p.choice.expanded.iter().cloned())
            .collect()
    }
}

/// The hub's loop. Ends when the dashboard stops (its task is aborted); the frame
/// sender goes with it, which ends every page's stream.
pub(crate) async fn run(shared: Arc<Shared>, mut events: broadcast::Receiver<GraphEvent>) {
    let Some(frames) = shared
        .frames_tx
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
    else {
        return;
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = Instant::now();
    let mut dirty = false;
    let mut news = News::default();
    loop {
        let soon = last + MIN_GAP;
        tokio::select! {
            _ = tick.tick() => {}
            () = tokio::time::sleep_until(soon), if dirty => {}
            () = shared.regroup.notified() => {}
            event = events.recv() => {
                match event {
                    Ok(e) => note(&shared, &mut news, &e),
                    Err(broadcast::error::RecvError::Lagged(n)) => news.more += n as usize,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
                dirty = true;
                continue;
            }
        }
        dirty = false;
        last = Instant::now();
        let frame = Arc::new(read(&shared.rt, &shared.metrics, &shared.expanded()));
        frames.send_replace(frame);
        if !news.lines.is_empty() || news.more > 0 {
            let _ = shared.news.send(Arc::new(std::mem::take(&mut news)));
        }
    }
}

/// One reading of the graph: the pages' frame, and the metrics updated.
fn read(rt: &Runtime, metrics: &Metrics, expanded: &HashSet<String>) -> Frame {
    let mut tally = metrics.tally();
    let (mut frame, ended) = {
        let st = rt.lock();
        let frame = Frame::read(&st, Instant::now(), expanded, &mut tally);
        (frame, st.ended.clone())
    };
    tally.finish(ended.as_ref());
    // Read outside the graph's lock (the recorder's lock is taken before it).
    frame.snap.recordings = rt.recordings();
    frame
}

/// Exits and restarts go to the pages' log and to the metrics.
fn note(shared: &Shared, news: &mut News, event: &GraphEvent) {
    let line = match event {
        GraphEvent::Exited {
            id,
            name,
            exit,
            dropped,
            unread,
        } => {
            shared.metrics.exited(name, exit);
            let mut line = format!("{name}#{} ended: {exit}", id.0);
            if *dropped + *unread > 0 {
                line.push_str(&format!(" ({dropped} dropped, {unread} unread)"));
            }
            line
        }
        GraphEvent::Restarted {
            child,
            id,
            restarts,
            reason,
            ..
        } => {
            shared.metrics.restarted(child);
            format!(
                "{child} restarted as #{} ({restarts} so far): {reason}",
                id.0
            )
        }
        _ => return,
    };
    if news.lines.len() < MAX_NEWS {
        news.lines.push(line);
    } else {
        news.more += 1;
    }
}
