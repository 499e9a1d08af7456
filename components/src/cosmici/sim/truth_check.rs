//! The simulator's check of a run: what a station stored against the simulator's
//! ground truth. Part of the simulator, not of the server graph. Needs the `store`
//! feature.

use std::collections::HashMap;
use std::path::Path;

use super::{SentPulse, SimTruth};
use crate::store::{Durability, Store, StoreError};

/// How a station's stored results compare with a simulator's ground truth.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::truth_check::TruthComparison;
///
/// let c = TruthComparison { pulses_sent: 10, pulses_matched: 9, ..Default::default() };
/// assert!(c.to_string().starts_with("pulses 9/10 matched"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TruthComparison {
    /// Pulses the simulator sent.
    pub pulses_sent: usize,
    /// Stored pulses that match a sent one (same node, channel, pulse number).
    pub pulses_matched: usize,
    /// Largest |stored − true| first-rise time, ns.
    pub max_time_error_ns: i64,
    /// Mean of stored − true onset, ns.
    pub onset_bias_ns: f64,
    /// RMS of stored − true onset, ns.
    pub onset_rms_ns: f64,
    /// RMS relative error of the fitted peak heights.
    pub peak_rms_rel: f64,
    /// Simulated showers that reached 3 or more detectors, before the last stored pulse.
    pub showers_visible: usize,
    /// Of those, how many were stored (within 200 ns) with a direction.
    pub showers_found: usize,
    /// Stored showers matching no simulated one.
    pub showers_extra: usize,
    /// Largest distance between true and found direction cosines.
    pub max_cosine_error: f64,
}

impl std::fmt::Display for TruthComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pulses {}/{} matched, times within {} ns, onset bias {:.2} ns rms {:.2} ns, peak rms {:.1}%; \
             showers {}/{} found ({} extra), direction cosines within {:.3}",
            self.pulses_matched,
            self.pulses_sent,
            self.max_time_error_ns,
            self.onset_bias_ns,
            self.onset_rms_ns,
            100.0 * self.peak_rms_rel,
            self.showers_found,
            self.showers_visible,
            self.showers_extra,
            self.max_cosine_error
        )
    }
}

/// Compares what a station stored in the latest run of `db` with a simulator's
/// ground truth.
///
/// # Errors
///
/// [`StoreError`] if the file cannot be opened or read.
///
/// # Examples
///
/// ```
/// use components::cosmici::sim::SimTruth;
/// use components::cosmici::sim::truth_check::{TruthComparison, compare_with_truth};
/// use components::store::{Durability, Store};
///
/// # let path = std::env::temp_dir().join(format!("cosmici-doc-{}-compare.db", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// // An empty run against an empty simulation: nothing sent, nothing matched.
/// Store::open(&path, Durability::Process)?.begin_run("doc", 0, None)?;
/// let c = compare_with_truth(&path, &SimTruth::default())?;
/// assert_eq!(c, TruthComparison::default());
/// # for end in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{end}", path.display()));
/// # }
/// # Ok::<(), components::store::StoreError>(())
/// ```
pub fn compare_with_truth(
    db: impl AsRef<Path>,
    truth: &SimTruth,
) -> Result<TruthComparison, StoreError> {
    let store = Store::open(db, Durability::Process)?;
    let Some(run) = store.latest_run()? else {
        return Ok(TruthComparison {
            pulses_sent: truth.pulses().len(),
            ..TruthComparison::default()
        });
    };
    let pulses = store.run_pulses(run)?;
    let showers = store.run_showers(run)?;
    let sent: HashMap<(u32, u8, u32), SentPulse> = truth
        .pulses()
        .into_iter()
        .map(|p| ((p.node, p.ch, p.pulse_num), p))
        .collect();
    let mut c = TruthComparison {
        pulses_sent: sent.len(),
        ..TruthComparison::default()
    };
    let (mut sum, mut sum2, mut peak2, mut peaks, mut onsets) = (0.0, 0.0, 0.0, 0usize, 0usize);
    for p in &pulses {
        let o = p.origin;
        let Some(t) = sent.get(&(o.node, o.channel, o.pulse_num)) else {
            continue;
        };
        c.pulses_matched += 1;
        c.max_time_error_ns = c
            .max_time_error_ns
            .max((o.utc_ns - truth.utc_ns(t.first_rise)).abs());
        if let Some(onset) = p.onset_utc_ns {
            let e = (onset - truth.utc_ns(t.pulse.time)) as f64;
            onsets += 1;
            sum += e;
            sum2 += e * e;
        }
        if let Some(h) = p.peak_height {
            peaks += 1;
            peak2 += (h / t.pulse.peak_height - 1.0).powi(2);
        }
    }
    if onsets > 0 {
        let n = onsets as f64;
        c.onset_bias_ns = sum / n;
        c.onset_rms_ns = (sum2 / n).sqrt();
    }
    if peaks > 0 {
        c.peak_rms_rel = (peak2 / peaks as f64).sqrt();
    }
    let last = pulses
        .iter()
        .map(|p| p.origin.utc_ns)
        .max()
        .unwrap_or(i64::MIN);
    let cosines =
        |zenith: f64, azimuth: f64| (zenith.sin() * azimuth.cos(), zenith.sin() * azimuth.sin());
    let near = |stored: Option<i64>, utc: i64| stored.is_some_and(|s| (s - utc).abs() < 200);
    let simulated = truth.showers();
    let simulated: Vec<(i64, f64, f64, usize)> = simulated
        .iter()
        .map(|s| (truth.utc_ns(s.time), s.zenith, s.azimuth, s.hits.len()))
        .collect();
    for &(utc_ns, true_zenith, true_azimuth, _) in simulated
        .iter()
        .filter(|(utc_ns, .., hits)| *hits >= 3 && *utc_ns < last.saturating_sub(1_000_000))
    {
        c.showers_visible += 1;
        let found = showers.iter().find(|f| near(f.utc_ns, utc_ns));
        if let Some((zenith, azimuth)) = found.and_then(|f| f.zenith_deg.zip(f.azimuth_deg)) {
            c.showers_found += 1;
            let (u, v) = cosines(zenith.to_radians(), azimuth.to_radians());
            let (tu, tv) = cosines(true_zenith, true_azimuth);
            c.max_cosine_error = c.max_cosine_error.max((u - tu).hypot(v - tv));
        }
    }
    c.showers_extra = showers
        .iter()
        .filter(|f| !simulated.iter().any(|s| near(f.utc_ns, s.0)))
        .count();
    Ok(c)
}
