//! Panels a program shows beside the graph: a table, a list of values, or a plot of
//! points, each under a name, versioned so pages get only the ones that changed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::watch;

/// What a panel shows. Made with [`Panel::table`], [`Panel::values`] or
/// [`Panel::points`]; given to [`Dashboard::set_panel`](super::Dashboard::set_panel).
///
/// # Examples
///
/// ```
/// use axon::dashboard::Panel;
/// let nodes = Panel::table(["node", "state"], [vec!["1".to_string(), "RUNNING".to_string()]]);
/// let rates = Panel::values([("pulses/s", "120"), ("showers/s", "0.9")]);
/// let sky = Panel::points("azimuth (deg)", "elevation (deg)", [(10.0, 80.0)]);
/// # let _ = (nodes, rates, sky);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Panel {
    /// Rows under column headings.
    Table {
        /// The headings.
        columns: Vec<String>,
        /// The rows, one cell per column.
        rows: Vec<Vec<String>>,
    },
    /// Named values, one a line.
    Values {
        /// (name, value) pairs, in order.
        values: Vec<(String, String)>,
    },
    /// Points on a plane (a scatter plot, or a line when `line` is true).
    Points {
        /// The horizontal axis' title.
        x: String,
        /// The vertical axis' title.
        y: String,
        /// The points.
        points: Vec<(f64, f64)>,
        /// Join the points in order.
        line: bool,
    },
}

impl Panel {
    /// A table.
    pub fn table<C: Into<String>>(
        columns: impl IntoIterator<Item = C>,
        rows: impl IntoIterator<Item = Vec<String>>,
    ) -> Self {
        Panel::Table {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: rows.into_iter().collect(),
        }
    }

    /// Named values.
    pub fn values<K: Into<String>, V: Into<String>>(
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Panel::Values {
            values: values
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A scatter plot.
    pub fn points(
        x: impl Into<String>,
        y: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self {
        Panel::Points {
            x: x.into(),
            y: y.into(),
            points: points.into_iter().collect(),
            line: false,
        }
    }

    /// The same points joined in order (a trace).
    ///
    /// # Examples
    ///
    /// ```
    /// use axon::dashboard::Panel;
    /// let pulse = Panel::points("t (ns)", "mV", [(0.0, 0.0), (5.0, 40.0)]).joined();
    /// assert!(matches!(pulse, Panel::Points { line: true, .. }));
    /// ```
    pub fn joined(self) -> Self {
        match self {
            Panel::Points { x, y, points, .. } => Panel::Points {
                x,
                y,
                points,
                line: true,
            },
            other => other,
        }
    }
}

/// The panels, each with the version it was last changed at.
#[derive(Debug)]
pub(crate) struct Panels {
    inner: Mutex<PanelsInner>,
    changed: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct PanelsInner {
    version: u64,
    panels: BTreeMap<String, (u64, Panel)>,
}

impl Panels {
    pub(crate) fn new() -> Self {
        Panels {
            inner: Mutex::new(PanelsInner::default()),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PanelsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Set a panel; an unchanged panel is not sent again.
    pub(crate) fn set(&self, name: &str, panel: Panel) {
        let version = {
            let mut inner = self.lock();
            if inner.panels.get(name).is_some_and(|(_, p)| *p == panel) {
                return;
            }
            inner.version += 1;
            let v = inner.version;
            inner.panels.insert(name.to_string(), (v, panel));
            v
        };
        self.changed.send_replace(version);
    }

    /// Tell pages to look again (a terminal was added).
    pub(crate) fn touch(&self) {
        let version = {
            let mut inner = self.lock();
            inner.version += 1;
            inner.version
        };
        self.changed.send_replace(version);
    }

    /// The panels changed after `since`, and the version now.
    pub(crate) fn since(&self, since: u64) -> (Vec<(String, Panel)>, u64) {
        let inner = self.lock();
        let changed = inner
            .panels
            .iter()
            .filter(|(_, (v, _))| *v > since)
            .map(|(name, (_, p))| (name.clone(), p.clone()))
            .collect();
        (changed, inner.version)
    }

    /// Wakes when a panel changes.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
