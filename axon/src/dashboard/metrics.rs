//! `/metrics`: the graph's counters in Prometheus text, through the `metrics` facade
//! and its Prometheus exporter (a recorder of the dashboard's own, not the process'
//! global one).
//!
//! Series are labelled by component *path* (the names from the root down, e.g.
//! `ServerCore/Echo`), never by id: a server's thousand connections are one series per
//! box, summed, so the number of series stays bounded by the program's shape. Counts
//! of components that ended are kept, so counters only grow. Past [`MAX_PATHS`]
//! distinct paths, further ones are reported as `other`.

use std::sync::Mutex;
use std::time::Duration;

use metrics::with_local_recorder;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use metrics_util::MetricKindMask;
use rustc_hash::FxHashMap;

use crate::boxes::{ComponentId, Direction};
use crate::introspect::Snapshot;

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

/// A counter series: metric, component path, box (or "").
type Series = (&'static str, u32, String);

#[derive(Default)]
struct State {
    paths: Vec<String>,
    path_ids: FxHashMap<String, u32>,
    series: Vec<Series>,
    series_ids: FxHashMap<Series, u32>,
    /// Each live component's counter values at the last reading.
    last: FxHashMap<ComponentId, Vec<(u32, u64)>>,
    /// Counts of components that ended, per series.
    retired: FxHashMap<u32, u64>,
}

impl State {
    fn path_id(&mut self, path: String) -> u32 {
        if let Some(&id) = self.path_ids.get(&path) {
            return id;
        }
        let path = if self.paths.len() >= MAX_PATHS {
            "other".to_string()
        } else {
            path
        };
        if let Some(&id) = self.path_ids.get(&path) {
            return id;
        }
        let id = self.paths.len() as u32;
        self.paths.push(path.clone());
        self.path_ids.insert(path, id);
        id
    }

    fn series_id(&mut self, s: Series) -> u32 {
        if let Some(&id) = self.series_ids.get(&s) {
            return id;
        }
        let id = self.series.len() as u32;
        self.series.push(s.clone());
        self.series_ids.insert(s, id);
        id
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
        let id = st.path_id(name.to_string());
        st.paths[id as usize].clone()
    }

    /// Read a snapshot: every box and published counter, summed per component path.
    pub(crate) fn update(&self, snap: &Snapshot) {
        let mut st = self.lock();
        let st = &mut *st;
        let mut paths: FxHashMap<ComponentId, u32> = FxHashMap::default();
        let mut instances: FxHashMap<u32, (u64, u64)> = FxHashMap::default();
        let mut gauges: FxHashMap<(&'static str, u32, &str), u64> = FxHashMap::default();
        let mut now: FxHashMap<u32, u64> = FxHashMap::default();
        let mut last = FxHashMap::default();
        for c in &snap.components {
            let path = match c.parent.and_then(|p| paths.get(&p)) {
                Some(&p) => format!("{}/{}", st.paths[p as usize], c.name),
                None => c.name.clone(),
            };
            let pid = st.path_id(path);
            paths.insert(c.id, pid);
            let inst = instances.entry(pid).or_default();
            inst.0 += 1;
            inst.1 += u64::from(c.state == "running");
            let mut mine = Vec::new();
            for b in &c.boxes {
                if b.direction == Direction::In {
                    *gauges.entry(("axon_box_depth", pid, &b.name)).or_default() += b.depth as u64;
                    if let Some(cap) = b.capacity {
                        *gauges.entry(("axon_box_capacity", pid, &b.name)).or_default() +=
                            cap as u64;
                    }
                    if let Some(bytes) = b.bytes {
                        *gauges.entry(("axon_box_bytes", pid, &b.name)).or_default() +=
                            bytes as u64;
                    }
                }
                for (metric, v) in [
                    ("axon_box_sent_total", b.sent),
                    ("axon_box_received_total", b.received),
                    ("axon_box_dropped_total", b.dropped),
                    ("axon_box_undelivered_total", b.undelivered),
                ] {
                    if v > 0 {
                        let sid = st.series_id((metric, pid, b.name.clone()));
                        mine.push((sid, v));
                    }
                }
            }
            for k in &c.counters {
                if k.is_monotonic() {
                    let sid = st.series_id((k.name, pid, String::new()));
                    mine.push((sid, k.value));
                } else {
                    *gauges.entry((k.name, pid, "")).or_default() += k.value;
                }
            }
            for &(sid, v) in &mine {
                *now.entry(sid).or_default() += v;
            }
            last.insert(c.id, mine);
        }
        // Components gone since the last reading: their counts stay in the totals.
        for (id, counts) in st.last.drain() {
            if !last.contains_key(&id) {
                for (sid, v) in counts {
                    *st.retired.entry(sid).or_default() += v;
                }
            }
        }
        st.last = last;
        for (&sid, &v) in &st.retired {
            *now.entry(sid).or_default() += v;
        }
        let paths_of = &st.paths;
        with_local_recorder(&self.recorder, || {
            for (sid, v) in now {
                let (metric, pid, ref b) = st.series[sid as usize];
                let component = paths_of[pid as usize].clone();
                let name = metric_name(metric);
                if b.is_empty() {
                    metrics::counter!(name, "component" => component).absolute(v);
                } else {
                    metrics::counter!(name, "component" => component, "box" => b.clone())
                        .absolute(v);
                }
            }
            for ((metric, pid, b), v) in gauges {
                let component = paths_of[pid as usize].clone();
                let name = metric_name(metric);
                if b.is_empty() {
                    metrics::gauge!(name, "component" => component).set(v as f64);
                } else {
                    metrics::gauge!(name, "component" => component, "box" => b.to_string())
                        .set(v as f64);
                }
            }
            for (pid, (all, running)) in instances {
                let component = paths_of[pid as usize].clone();
                metrics::gauge!("axon_components", "component" => component.clone())
                    .set(all as f64);
                metrics::gauge!("axon_components_running", "component" => component)
                    .set(running as f64);
            }
        });
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
