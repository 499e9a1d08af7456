//! `/metrics`: the graph's counters in Prometheus text, through the `metrics` facade
//! and its Prometheus exporter (a recorder of the dashboard's own, not the process'
//! global one).
//!
//! Series are labelled by component *path* (the names from the root down, e.g.
//! `ServerCore/Echo`), never by id: a server's thousand connections are one series per
//! box, summed, so the number of series stays bounded by the program's shape. Counts
//! of components that ended are kept (the runtime sums their final counters per
//! parent, name and box), so counters only grow. Past [`MAX_PATHS`]
//! distinct paths, further ones are reported as `other`.

use std::sync::Mutex;
use std::time::Duration;

use metrics::with_local_recorder;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;
use rustc_hash::FxHashMap;

use crate::boxes::{ComponentId, NodeStats};
use crate::introspect::{Counter, EndedTotals};

/// Most distinct component paths labelled; the rest are `other`.
pub(crate) const MAX_PATHS: usize = 500;

/// A gauge not set for this long (its component is gone) leaves the page.
const GAUGE_IDLE: Duration = Duration::from_secs(10);

/// What the dashboard exports.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    state: Mutex<State>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// A series: metric, component path, box name (`u32::MAX`: none).
type Series = (&'static str, u32, u32);

#[derive(Default)]
struct State {
    paths: Vec<String>,
    path_ids: FxHashMap<String, u32>,
    boxes: Vec<String>,
    box_ids: FxHashMap<String, u32>,
    /// Paths of ended components' (parent, name), resolved while the parent lived.
    ended_paths: FxHashMap<(Option<ComponentId>, String), u32>,
}

impl State {
    fn path_id(&mut self, path: &str) -> u32 {
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let path = if self.paths.len() >= MAX_PATHS {
            "other"
        } else {
            path
        };
        if let Some(&id) = self.path_ids.get(path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.to_string());
        self.path_ids.insert(path.to_string(), id);
        id
    }

    fn box_id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.box_ids.get(name) {
            return id;
        }
        let id = self.boxes.len() as u32;
        self.boxes.push(name.to_string());
        self.box_ids.insert(name.to_string(), id);
        id
    }

    /// The path id of a child `name` of the component whose path is `parent`.
    fn child_path(&mut self, parent: Option<u32>, name: &str) -> u32 {
        match parent {
            Some(p) => {
                let path = format!("{}/{name}", self.paths[p as usize]);
                self.path_id(&path)
            }
            None => self.path_id(name),
        }
    }
}

/// One reading's sums, per component path; made by [`Metrics::tally`], fed one
/// component at a time while the graph is read, then [`Tally::finish`]ed.
pub(crate) struct Tally<'a> {
    metrics: &'a Metrics,
    st: std::sync::MutexGuard<'a, State>,
    paths: FxHashMap<ComponentId, u32>,
    /// Path ids by parent path and name, so a reading builds no path twice.
    children: FxHashMap<Option<u32>, FxHashMap<String, u32>>,
    counters: FxHashMap<Series, u64>,
    gauges: FxHashMap<Series, u64>,
    instances: FxHashMap<u32, (u64, u64)>,
}

impl Tally<'_> {
    /// A live component (`parent` before its children); its path id, for its boxes
    /// and counters.
    pub(crate) fn component(
        &mut self,
        id: ComponentId,
        parent: Option<ComponentId>,
        name: &str,
        has_children: bool,
        running: bool,
    ) -> u32 {
        let parent_path = parent.and_then(|p| self.paths.get(&p).copied());
        let known = self
            .children
            .get(&parent_path)
            .and_then(|names| names.get(name))
            .copied();
        let pid = match known {
            Some(pid) => pid,
            None => {
                let pid = self.st.child_path(parent_path, name);
                self.children
                    .entry(parent_path)
                    .or_default()
                    .insert(name.to_string(), pid);
                pid
            }
        };
        // Only parents' paths are looked up again (a connection's are not kept).
        if has_children {
            self.paths.insert(id, pid);
        }
        let inst = self.instances.entry(pid).or_default();
        inst.0 += 1;
        inst.1 += u64::from(running);
        pid
    }

    /// One box of a component at `pid`.
    pub(crate) fn boxed(&mut self, pid: u32, name: &str, inbox: bool, s: &NodeStats) {
        let bid = self.st.box_id(name);
        if inbox {
            *self.gauges.entry(("axon_box_depth", pid, bid)).or_default() += s.depth as u64;
            if let Some(cap) = s.capacity {
                *self
                    .gauges
                    .entry(("axon_box_capacity", pid, bid))
                    .or_default() += cap as u64;
            }
            if let Some((used, _)) = s.bytes {
                *self.gauges.entry(("axon_box_bytes", pid, bid)).or_default() += used as u64;
            }
        }
        for (metric, v) in [
            ("axon_box_sent_total", s.sent),
            ("axon_box_received_total", s.received),
            ("axon_box_dropped_total", s.dropped),
            ("axon_box_undelivered_total", s.undelivered),
        ] {
            if v > 0 {
                *self.counters.entry((metric, pid, bid)).or_default() += v;
            }
        }
    }

    /// A counter a component at `pid` publishes.
    pub(crate) fn published(&mut self, pid: u32, c: Counter) {
        let to = if c.is_monotonic() {
            &mut self.counters
        } else {
            &mut self.gauges
        };
        *to.entry((c.name, pid, u32::MAX)).or_default() += c.value;
    }

    /// Add the ended components' totals and hand everything to the exporter.
    pub(crate) fn finish(mut self, ended: Option<&EndedTotals>) {
        for ((parent, name, b), t) in ended.into_iter().flatten() {
            let key = (*parent, name.clone());
            let pid = match self.st.ended_paths.get(&key) {
                Some(&pid) => pid,
                None => {
                    let parent_path = parent.and_then(|p| self.paths.get(&p).copied());
                    let pid = self.st.child_path(parent_path, name);
                    self.st.ended_paths.insert(key, pid);
                    pid
                }
            };
            let bid = self.st.box_id(b);
            for (metric, v) in [
                ("axon_box_sent_total", t[0]),
                ("axon_box_received_total", t[1]),
                ("axon_box_dropped_total", t[2]),
                ("axon_box_undelivered_total", t[3]),
            ] {
                if v > 0 {
                    *self.counters.entry((metric, pid, bid)).or_default() += v;
                }
            }
        }
        let st = &*self.st;
        let label = |pid: u32| st.paths[pid as usize].clone();
        let box_label = |bid: u32| st.boxes.get(bid as usize).cloned();
        with_local_recorder(&self.metrics.recorder, || {
            for ((metric, pid, bid), v) in self.counters {
                let name = metric_name(metric);
                match box_label(bid) {
                    Some(b) => {
                        metrics::counter!(name, "component" => label(pid), "box" => b).absolute(v)
                    }
                    None => metrics::counter!(name, "component" => label(pid)).absolute(v),
                }
            }
            for ((metric, pid, bid), v) in self.gauges {
                let name = metric_name(metric);
                match box_label(bid) {
                    Some(b) => {
                        metrics::gauge!(name, "component" => label(pid), "box" => b).set(v as f64)
                    }
                    None => metrics::gauge!(name, "component" => label(pid)).set(v as f64),
                }
            }
            for (pid, (all, running)) in self.instances {
                metrics::gauge!("axon_components", "component" => label(pid)).set(all as f64);
                metrics::gauge!("axon_components_running", "component" => label(pid))
                    .set(running as f64);
            }
        });
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE))
            .build_recorder();
        let handle = recorder.handle();
        Metrics {
            recorder,
            handle,
            state: Mutex::new(State::default()),
        }
    }

    /// The page, in Prometheus text format.
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a reading.
    pub(crate) fn tally(&self) -> Tally<'_> {
        Tally {
            metrics: self,
            st: self.lock(),
            paths: FxHashMap::default(),
            children: FxHashMap::default(),
            counters: FxHashMap::default(),
            gauges: FxHashMap::default(),
            instances: FxHashMap::default(),
        }
    }

    /// A component ended: counted by name and how it ended (`finished`, `failed`…).
    pub(crate) fn exited(&self, name: &str, exit: &str) {
        let outcome = exit.split(':').next().unwrap_or("").to_string();
        let name = self.bounded_name(name);
        with_local_recorder(&self.recorder, || {
            metrics::counter!("axon_exits_total", "component" => name, "outcome" => outcome)
                .increment(1);
        });
    }

    /// A supervisor restarted `child`.
    pub(crate) fn restarted(&self, child: &str) {
        let child = self.bounded_name(child);
        with_local_recorder(&self.recorder, || {
            metrics::counter!("axon_restarts_total", "child" => child).increment(1);
        });
    }

    fn bounded_name(&self, name: &str) -> String {
        let mut st = self.lock();
        let id = st.path_id(name);
        st.paths[id as usize].clone()
    }
}

/// Box metrics keep their name; a component's published counters get the `axon_` prefix.
fn metric_name(metric: &'static str) -> String {
    if metric.starts_with("axon_") {
        metric.to_string()
    } else {
        format!("axon_{metric}")
    }
}
