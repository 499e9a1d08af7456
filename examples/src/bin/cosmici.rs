//! `cosmici`: pulse fitting, shower finding, shower directions, plots and exports for
//! people with their own threshold-crossing data and no server.
//!
//! Every data command reads CSV with a header row (a file, or stdin when none is given)
//! and writes CSV with a header row (`-o FILE`, or stdout). Each is a thin shell over
//! the axon components: rows become messages into `PulseFitterComponent`,
//! `ShowerFilterComponent` or `AngleFinderComponent`, their outbox becomes rows, and
//! `--db` adds a `StoreWriter` to the graph. Run `cosmici <command> --help` for the
//! columns and units.

#![allow(
    clippy::print_stdout,
    reason = "a command-line tool writes its results to stdout"
)]

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use axon::{Component, Control, Outbox, Runtime};
use clap::{Args, Parser, Subcommand, ValueEnum};
use components::physics::components::{
    AngleFinderComponent, ArrivalTimes, FittedPulse, FoundDirection, Hit, PulseFitterComponent,
    PulseToFit, ShowerFilterComponent,
};
use components::physics::fit::{Crossings, LevelCrossing, PulseFitterConfig};
use components::physics::layout::DetectorLayout;
use components::physics::model::PulseShape;
use components::physics::shower::{ShowerCandidate, ShowerFilterConfig, ShowerPulse};
use components::physics::simulate::fedm_ladder;
use components::physics::sky::SkyFrame;
use components::plots::{
    ShowerFront, front_svg, pulse_svg_from_store, sky_map_svg_from_store, sky_svg_from_store,
    svg_to_png,
};
use components::store::{
    Cell, Durability, FIT_COLUMNS, HIT_COLUMNS, Record, SHOWER_COLUMNS, Store, StoreWriter,
    StoredPulse, StoredShower, Table, fit_row, hit_rows, shower_row,
};

const FIT_HELP: &str = "\
Fits a bi-exponential pulse to each pulse's threshold crossings.

INPUT (CSV, header row; one row per level a pulse crossed; extra columns are ignored):
  pulse_id   integer   the pulse; rows of one pulse must be consecutive
  level_v    V         threshold level; the sign is ignored (-0.2 and 0.2 are the same level)
  rise_ns    ns        clock time of the rising edge, as reported (floored onto the clock)
  fall_ns    ns        clock time of the falling edge
  detector   integer   optional: detector id, kept in the database
A row with rise_ns and fall_ns both empty says the pulse did NOT reach that level.
Otherwise the level not reached is the next --levels rung above the highest crossed.
`cosmici export crossings` writes this format.

OUTPUT (CSV, header row; one row per pulse, in input order):
  pulse_id                          the pulse
  status                            converged | iteration_limit | numerical | invalid
  reason                            for invalid: why the crossings are inconsistent
                                    (fall before rise, levels out of order, edges not
                                    nested, fewer points than parameters, ...)
  shape_path                        fixed | decay_free | free: shape parameters fitted
  peak_height_v, peak_height_err_v  peak height and its 1-sigma error, V
  peak_time_ns, peak_time_err_ns    time of the peak, ns
  onset_ns, onset_err_ns            pulse onset t0, ns
  amplitude_v, amplitude_err_v      bi-exponential amplitude A, V
  area_vns, area_err_vns            pulse area, V*ns
  cf_time_ns, cf_time_err_ns        constant-fraction time (--cf-fraction of the peak), ns
  decay_ns, decay_err_ns            decay time constant, ns (error 0 when held fixed)
  rise_ns, rise_err_ns              rise time constant, ns (error 0 when held fixed)
  chi2, dof, p_value                chi-square of the time residuals, degrees of freedom,
                                    probability (empty without degrees of freedom)
  flags                             ;-separated: peak_at_limit, peak_at_top_level,
                                    shape_fit_failed, no_dof
Inconsistent pulses come out with status invalid and the reason, never as a fit.
Malformed rows are reported on stderr with their line number and skipped, together
with the rest of their pulse (--strict: the first one is fatal).";

const SHOWERS_HELP: &str = "\
Groups detector pulses into shower candidates: pulses from at least --min-detectors
distinct detectors, pairwise within distance/c + --margin of each other.

INPUT (CSV, header row; one row per pulse, in time order up to --lateness):
  detector      integer   detector id (index in the layout)
  time_ns       ns        pulse time
  amplitude_v   V         optional: pulse height
  pulse_id      integer   optional: the pulse's id

LAYOUT (--layout FILE, CSV, header row; one row per detector):
  detector   integer   0, 1, 2, ... in order
  x_m, y_m   m         position, x east, y north
  z_m        m         optional: height (default 0)
or --grid NXxNY with --spacing M for a square grid (ids along x first).

OUTPUT (CSV, header row; one row per pulse of each candidate, candidates in time order;
this is the input format of `cosmici direction`):
  shower_id     integer   candidate number, from 0
  detector      integer   detector id
  time_ns       ns        pulse time
  amplitude_v   V         pulse height (empty if not given)
  pulse_id      integer   the pulse's id (empty if not given)
Malformed rows and refused pulses (late, unknown detector) are reported on stderr with
their line number and skipped (--strict: fatal).";

const DIRECTION_HELP: &str = "\
Finds each event's shower direction from its arrival times (flat shower front):
closed form for three detectors, weighted least squares for more.

INPUT (CSV, header row; one row per hit; rows of one event consecutive;
`cosmici showers` writes this format):
  shower_id   integer   the event
  detector    integer   detector id (index in the layout)
  time_ns     ns        arrival time
  sigma_ns    ns        optional: timing error of this hit (default --sigma)

LAYOUT (--layout FILE): as for `cosmici showers` (detector, x_m, y_m[, z_m]).

OUTPUT (CSV, header row; one row per event, in input order):
  id                                 the event (shower_id)
  start_ns                           earliest hit time, ns
  detectors                          number of hits
  direction                          found | unphysical (no direction fits the times;
                                     zenith reported as 90) | failed
  reason                             for failed: why (too few hits, collinear, ...)
  zenith_deg, zenith_err_deg         zenith angle from vertical and its 1-sigma error, deg
  azimuth_deg, azimuth_err_deg       azimuth from +x (east) towards +y (north), (-180, 180], deg
  front_time_ns, front_time_err_ns   time the front passes the layout origin, ns
  chi2, dof                          chi-square of the arrival times, hits - 3
Malformed rows are reported on stderr with their line number and skipped, with the rest
of their event (--strict: fatal).";

/// Pulse fitting, shower finding and shower directions for COSMICi-style detectors.
#[derive(Debug, Parser)]
#[command(name = "cosmici", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Threshold crossings CSV in, pulse fits CSV out.
    #[command(long_about = FIT_HELP)]
    Fit(FitArgs),
    /// Timed pulses CSV in, shower candidates CSV out.
    #[command(long_about = SHOWERS_HELP)]
    Showers(ShowersArgs),
    /// Detector layout and per-event arrival times in, zenith and azimuth with errors out.
    #[command(long_about = DIRECTION_HELP)]
    Direction(DirectionArgs),
    /// Draw a stored pulse with its fit, the stored showers on the sky, or one shower's
    /// front crossing the layout, as SVG or PNG.
    Plot(PlotArgs),
    /// Write a stored table as CSV.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct Io {
    /// Input CSV file [default: stdin].
    input: Option<PathBuf>,
    /// Output CSV file [default: stdout].
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Also store the input and the results in this SQLite database.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Stop at the first malformed row instead of reporting and skipping it.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
struct FitArgs {
    #[command(flatten)]
    io: Io,
    /// Threshold ladder, V, comma-separated: the level not reached is the next rung.
    #[arg(long, value_delimiter = ',', default_values_t = fedm_ladder())]
    levels: Vec<f64>,
    /// Clock period, ns.
    #[arg(long, default_value_t = 2.0)]
    clock_period: f64,
    /// Timing jitter per edge, ns.
    #[arg(long, default_value_t = 0.3)]
    jitter: f64,
    /// Calibrated rise time constant, ns.
    #[arg(long, default_value_t = 0.9)]
    rise: f64,
    /// Calibrated decay time constant, ns.
    #[arg(long, default_value_t = 2.1)]
    decay: f64,
    /// Fraction of the peak for the constant-fraction time.
    #[arg(long, default_value_t = 0.5)]
    cf_fraction: f64,
}

#[derive(Debug, Args)]
struct LayoutArgs {
    /// Detector layout CSV (detector, x_m, y_m[, z_m]).
    #[arg(long, conflicts_with = "grid")]
    layout: Option<PathBuf>,
    /// A square grid layout instead, e.g. 4x4.
    #[arg(long)]
    grid: Option<String>,
    /// Grid spacing, m.
    #[arg(long, default_value_t = 10.0)]
    spacing: f64,
}

#[derive(Debug, Args)]
struct ShowersArgs {
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    layout: LayoutArgs,
    /// Fewest distinct detectors for a candidate.
    #[arg(long, default_value_t = 3)]
    min_detectors: usize,
    /// Causality margin added to distance/c, ns.
    #[arg(long, default_value_t = 10.0)]
    margin: f64,
    /// Window from the first pulse, ns [default: the layout's largest causal limit].
    #[arg(long)]
    window: Option<f64>,
    /// Largest out-of-order delay accepted, ns.
    #[arg(long, default_value_t = 1000.0)]
    lateness: f64,
}

#[derive(Debug, Args)]
struct DirectionArgs {
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    layout: LayoutArgs,
    /// Timing error of a hit without its own sigma_ns, ns.
    #[arg(long, default_value_t = 1.0)]
    sigma: f64,
}

#[derive(Debug, Args)]
struct PlotArgs {
    #[command(subcommand)]
    what: PlotKind,
}

#[derive(Debug, Subcommand)]
enum PlotKind {
    /// One pulse: its crossings and the fitted curve.
    Pulse {
        /// The pulse id.
        #[arg(long)]
        id: u64,
        /// Database to read.
        #[arg(long, default_value = "cosmici.sqlite")]
        db: PathBuf,
        /// Clock period, ns (the width of each crossing's bin).
        #[arg(long, default_value_t = 2.0)]
        clock_period: f64,
        /// SVG file to write [default: stdout].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Every stored shower on the sky: an all-sky Hammer–Aitoff map in galactic or
    /// equatorial (J2000) coordinates with the site's exposure band, or the local sky
    /// (zenith at the centre, azimuth around it).
    Sky {
        /// Database to read.
        #[arg(long, default_value = "cosmici.sqlite")]
        db: PathBuf,
        /// Coordinates to draw in.
        #[arg(long, value_enum, default_value_t = Frame::Galactic)]
        frame: Frame,
        /// Largest zenith angle of the shaded exposure band, degrees (the default
        /// holds 98% of a cos²θ shower flux).
        #[arg(long, default_value_t = 75.0)]
        max_zenith: f64,
        /// File to write, SVG or, if it ends in .png, PNG [default: SVG on stdout].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// One stored shower's plane front sweeping across the detector layout, the
    /// detectors lighting up at their measured times: an animated SVG a browser plays
    /// (or, with --at, the still frame at that time).
    Front {
        /// Database to read.
        #[arg(long, default_value = "cosmici.sqlite")]
        db: PathBuf,
        /// The shower id.
        #[arg(long)]
        shower: u64,
        /// Detector layout CSV (detector, x_m, y_m[, z_m]).
        #[arg(long, conflicts_with = "grid")]
        layout: Option<PathBuf>,
        /// A square grid layout instead [default: 2x2, sensornet's for 4 detectors].
        #[arg(long)]
        grid: Option<String>,
        /// Grid spacing, m.
        #[arg(long, default_value_t = 10.0)]
        spacing: f64,
        /// A still frame at this many ns after the shower's first hit.
        #[arg(long)]
        at: Option<f64>,
        /// File to write, SVG or, if it ends in .png, PNG [default: SVG on stdout].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Frame {
    /// Galactic longitude and latitude (l, b).
    Galactic,
    /// Right ascension and declination, J2000.
    Equatorial,
    /// The local sky: zenith angle and azimuth.
    Local,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportTable {
    /// pulses: id, detector, levels, next_level_v.
    Pulses,
    /// crossings: pulse_id, level_index, level_v, rise_ns, fall_ns (input of `fit`).
    Crossings,
    /// fits: the columns `cosmici fit` writes.
    Fits,
    /// showers: the columns `cosmici direction` writes.
    Showers,
    /// shower_hits: the columns `cosmici showers` writes (input of `direction`).
    ShowerHits,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Table to export.
    #[arg(value_enum)]
    table: ExportTable,
    /// Database to read.
    #[arg(long, default_value = "cosmici.sqlite")]
    db: PathBuf,
    /// CSV file to write [default: stdout].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Fit(a) => runtime()?.block_on(fit(a)),
        Command::Showers(a) => runtime()?.block_on(showers(a)),
        Command::Direction(a) => runtime()?.block_on(direction(a)),
        Command::Plot(a) => plot(a),
        Command::Export(a) => export(a),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?)
}

fn open_output(path: Option<&Path>) -> Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout())),
    })
}

fn open_input(path: Option<&Path>) -> Result<csv::Reader<Box<dyn Read + Send>>> {
    let read: Box<dyn Read + Send> = match path {
        Some(p) => {
            let file = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            // A long input shows its progress on a terminal (nothing otherwise).
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let bar =
                examples::progress_bar_bytes(size).with_finish(indicatif::ProgressFinish::AndClear);
            Box::new(bar.wrap_read(file))
        }
        None => Box::new(std::io::stdin()),
    };
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(read))
}

fn write_row(out: &mut dyn Write, row: &[Cell]) -> std::io::Result<()> {
    let line: Vec<String> = row.iter().map(Cell::to_string).collect();
    writeln!(out, "{}", line.join(","))
}

/// Reports malformed input with its line number (the caller says what is skipped), or
/// makes it fatal with `--strict`.
struct Reporter {
    strict: bool,
    skipped: usize,
}

impl Reporter {
    fn malformed(&mut self, line: u64, what: impl std::fmt::Display) -> Result<()> {
        if self.strict {
            bail!("line {line}: {what}");
        }
        eprintln!("line {line}: {what}");
        self.skipped += 1;
        Ok(())
    }
}

/// Column positions by header name.
struct Columns {
    names: Vec<String>,
}

impl Columns {
    fn new(reader: &mut csv::Reader<Box<dyn Read + Send>>) -> Result<Self> {
        let headers = reader.headers().context("reading the header row")?;
        Ok(Columns {
            names: headers.iter().map(|h| h.to_ascii_lowercase()).collect(),
        })
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    fn require(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            anyhow!(
                "the header row has no `{name}` column (it has: {}); see --help",
                self.names.join(", ")
            )
        })
    }
}

fn field<'r>(record: &'r csv::StringRecord, index: usize, name: &str) -> Result<&'r str, String> {
    record
        .get(index)
        .ok_or_else(|| format!("missing the `{name}` field"))
}

fn number<T: std::str::FromStr>(text: &str, name: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("`{name}` is not a valid number: {text:?}"))
}

fn finite(text: &str, name: &str) -> Result<f64, String> {
    let v: f64 = number(text, name)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("`{name}` is not finite: {text:?}"))
    }
}

fn optional<T: std::str::FromStr>(
    record: &csv::StringRecord,
    index: Option<usize>,
    name: &str,
) -> Result<Option<T>, String> {
    match index.and_then(|i| record.get(i)) {
        None | Some("") => Ok(None),
        Some(text) => number(text, name).map(Some),
    }
}

/// The wiring every data command shares: rows in through an external outbox, the
/// component's outbox out through an external inbox, the lifecycle through
/// `control`/`signal`; optionally a `StoreWriter` fed from both sides.
struct Stage<I, O> {
    rt: Runtime,
    _ext: axon::External,
    to_component: Outbox<I>,
    control: Outbox<Control>,
    from_component: axon::Inbox<O>,
    signal: axon::Inbox<Control>,
    handle: axon::Handle,
    store: Option<StoreStage>,
}

struct StoreStage {
    input_side: Outbox<Record>,
    output_side: Outbox<Record>,
    control: Outbox<Control>,
    signal: axon::Inbox<Control>,
    handle: axon::Handle,
}

impl<I: Send + 'static, O: Send + 'static> Stage<I, O> {
    fn new<C: Component<In = I, Out = O>>(component: C, db: Option<&Path>) -> Result<Self> {
        let rt = Runtime::new();
        let c = rt.add(component)?;
        let mut ext = rt.external("cosmici");
        let (to_ref, to_component) = ext.add_outbox::<I>("rows")?;
        let (control_ref, control) = ext.add_outbox::<Control>("control")?;
        let (from_ref, from_component) = ext.add_inbox::<O>("results", 256)?;
        let (signal_ref, signal) = ext.add_inbox::<Control>("signal", 4)?;
        rt.link(to_ref, c.inbox())?;
        rt.link(control_ref, c.control())?;
        rt.link(c.outbox(), from_ref)?;
        rt.link(c.signal(), signal_ref)?;
        let store = match db {
            None => None,
            Some(path) => {
                let store = Store::open(path, Durability::default())
                    .with_context(|| format!("opening the database {}", path.display()))?;
                let w = rt.add(StoreWriter::new(store))?;
                let (a, input_side) = ext.add_outbox::<Record>("store_input")?;
                let (b, output_side) = ext.add_outbox::<Record>("store_results")?;
                let (cr, control) = ext.add_outbox::<Control>("store_control")?;
                let (sr, signal) = ext.add_inbox::<Control>("store_signal", 4)?;
                rt.link(a, w.inbox())?;
                rt.link(b, w.inbox())?;
                rt.link(cr, w.control())?;
                rt.link(w.signal(), sr)?;
                Some(StoreStage {
                    input_side,
                    output_side,
                    control,
                    signal,
                    handle: w.start(),
                })
            }
        };
        let handle = c.start();
        Ok(Stage {
            rt,
            _ext: ext,
            to_component,
            control,
            from_component,
            signal,
            handle,
            store,
        })
    }

    /// Runs `feed` on a blocking thread (it reads the input and sends rows, and records
    /// for the store when there is one) while `sink` takes every result; then ends the
    /// graph in order and checks that every component finished cleanly.
    async fn run(
        self,
        feed: impl FnOnce(&mut Outbox<I>, Option<&mut Outbox<Record>>) -> Result<()> + Send + 'static,
        mut sink: impl FnMut(O, Option<&mut Outbox<Record>>) -> Result<()>,
    ) -> Result<()> {
        let Stage {
            rt: _rt,
            _ext,
            mut to_component,
            mut control,
            mut from_component,
            mut signal,
            handle,
            store,
        } = self;
        let (mut store_input, mut store_results, store_rest) = match store {
            Some(s) => (
                Some(s.input_side),
                Some(s.output_side),
                Some((s.control, s.signal, s.handle)),
            ),
            None => (None, None, None),
        };
        let feeder = tokio::task::spawn_blocking(move || {
            let fed = feed(&mut to_component, store_input.as_mut());
            // End the component's input whether or not the feed failed.
            let _ = control.send_blocking(Control::ProducerFinished);
            fed
        });
        let mut sink_result = Ok(());
        loop {
            tokio::select! {
                biased;
                out = from_component.recv() => match out {
                    Some(o) => {
                        if sink_result.is_ok() {
                            sink_result = sink(o, store_results.as_mut());
                        }
                    }
                    None => break,
                },
                _ = signal.recv() => {
                    while let Ok(o) = from_component.try_recv() {
                        if sink_result.is_ok() {
                            sink_result = sink(o, store_results.as_mut());
                        }
                    }
                    break;
                }
            }
        }
        let fed = feeder.await.context("the input reader panicked")?;
        let exit = handle.join().await;
        if let Some((mut store_control, mut store_signal, store_handle)) = store_rest {
            let _ = store_control.send(Control::ProducerFinished).await;
            let _ = store_signal.recv().await;
            let exit = store_handle.join().await;
            if !exit.is_clean() {
                bail!("storing failed: {exit}");
            }
        }
        fed?;
        sink_result?;
        if !exit.is_clean() {
            bail!("the component ended with {exit}");
        }
        Ok(())
    }
}

async fn fit(a: FitArgs) -> Result<()> {
    let config = PulseFitterConfig {
        clock_period: a.clock_period,
        jitter: a.jitter,
        shape: PulseShape::new(a.rise, a.decay)?,
        cf_fraction: a.cf_fraction,
        ..PulseFitterConfig::default()
    };
    let component = PulseFitterComponent::new(config)?;
    let mut ladder: Vec<f64> = a.levels.iter().map(|l| l.abs()).collect();
    ladder.sort_by(f64::total_cmp);
    let mut reader = open_input(a.io.input.as_deref())?;
    let mut out = open_output(a.io.output.as_deref())?;
    write_row(&mut out, &FIT_COLUMNS.map(|c| Cell::Text(c.into())))?;
    let strict = a.io.strict;
    let stage = Stage::new(component, a.io.db.as_deref())?;
    let mut fitted = 0usize;
    stage
        .run(
            move |to_fitter, mut to_store| {
                let mut report = Reporter { strict, skipped: 0 };
                let cols = Columns::new(&mut reader)?;
                let id_col = cols.require("pulse_id")?;
                let level_col = cols.require("level_v")?;
                let rise_col = cols.require("rise_ns")?;
                let fall_col = cols.require("fall_ns")?;
                let detector_col = cols.find("detector");
                let mut seen = HashSet::new();
                // The pulse being gathered: id, its rows, a detector, a level not reached,
                // and whether a malformed row spoilt it.
                let mut current: Option<PendingPulse> = None;
                let mut emit = |p: PendingPulse| -> Result<()> {
                    if p.spoilt {
                        return Ok(());
                    }
                    let next_level = p.not_reached.or_else(|| {
                        let top = p.levels.last().map_or(0.0, |l| l.level);
                        ladder.iter().copied().find(|&l| l > top * (1.0 + 1e-9))
                    });
                    let crossings = Crossings {
                        levels: p.levels,
                        next_level,
                    };
                    if let Some(store) = to_store.as_deref_mut() {
                        store
                            .send_blocking(Record::Pulse(StoredPulse {
                                id: p.id,
                                detector: p.detector,
                                crossings: crossings.clone(),
                            }))
                            .map_err(|_| anyhow!("the store stopped"))?;
                    }
                    to_fitter
                        .send_blocking(PulseToFit {
                            id: p.id,
                            crossings,
                        })
                        .map_err(|_| anyhow!("the pulse fitter stopped"))
                };
                for record in reader.records() {
                    let record = record.context("reading the input")?;
                    let line = record.position().map_or(0, |p| p.line());
                    let parsed = (|| -> Result<(u64, Option<LevelCrossing>, f64, Option<u32>), String> {
                        let id: u64 = number(field(&record, id_col, "pulse_id")?, "pulse_id")?;
                        let level = finite(field(&record, level_col, "level_v")?, "level_v")?.abs();
                        if level == 0.0 {
                            return Err("`level_v` is 0".into());
                        }
                        let rise = field(&record, rise_col, "rise_ns")?;
                        let fall = field(&record, fall_col, "fall_ns")?;
                        let detector = optional::<u32>(&record, detector_col, "detector")?;
                        if rise.is_empty() && fall.is_empty() {
                            return Ok((id, None, level, detector));
                        }
                        let crossing = LevelCrossing {
                            level,
                            rise: finite(rise, "rise_ns")?,
                            fall: finite(fall, "fall_ns")?,
                        };
                        Ok((id, Some(crossing), level, detector))
                    })();
                    let row_id = record
                        .get(id_col)
                        .and_then(|t| t.parse::<u64>().ok());
                    if current.as_ref().is_some_and(|p| Some(p.id) != row_id)
                        && let Some(done) = current.take()
                    {
                        emit(done)?;
                    }
                    let (id, crossing, level, detector) = match parsed {
                        Ok(v) => v,
                        Err(why) => {
                            match (row_id, current.as_mut()) {
                                (Some(_), Some(p)) => {
                                    p.spoilt = true;
                                    report.malformed(line, format!("{why}; pulse {} skipped", p.id))?;
                                }
                                (Some(id), None) => {
                                    report.malformed(line, format!("{why}; pulse {id} skipped"))?;
                                    seen.insert(id);
                                    current = Some(PendingPulse::new(id, true));
                                }
                                (None, _) => report.malformed(line, format!("{why}; row skipped"))?,
                            }
                            continue;
                        }
                    };
                    if current.is_none() {
                        if !seen.insert(id) {
                            report.malformed(
                                line,
                                format!("pulse {id} appeared earlier; the rows of a pulse must be consecutive; pulse skipped"),
                            )?;
                            current = Some(PendingPulse::new(id, true));
                            continue;
                        }
                        current = Some(PendingPulse::new(id, false));
                    }
                    if let Some(p) = current.as_mut() {
                        p.detector = p.detector.or(detector);
                        match crossing {
                            Some(c) => p.levels.push(c),
                            None => p.not_reached = Some(level),
                        }
                    }
                }
                if let Some(done) = current.take() {
                    emit(done)?;
                }
                if report.skipped > 0 {
                    eprintln!("{} malformed row(s) skipped", report.skipped);
                }
                Ok(())
            },
            |f: FittedPulse, to_store| {
                write_row(&mut out, &fit_row(&f))?;
                fitted += 1;
                if let Some(store) = to_store {
                    store
                        .send_blocking(Record::Fit(f))
                        .map_err(|_| anyhow!("the store stopped"))?;
                }
                Ok(())
            },
        )
        .await?;
    tracing::info!(fitted, "fit done");
    Ok(())
}

struct PendingPulse {
    id: u64,
    levels: Vec<LevelCrossing>,
    not_reached: Option<f64>,
    detector: Option<u32>,
    spoilt: bool,
}

impl PendingPulse {
    fn new(id: u64, spoilt: bool) -> Self {
        PendingPulse {
            id,
            levels: Vec::new(),
            not_reached: None,
            detector: None,
            spoilt,
        }
    }
}

fn read_layout(args: &LayoutArgs) -> Result<DetectorLayout> {
    if let Some(grid) = &args.grid {
        let (nx, ny) = grid
            .split_once(['x', 'X'])
            .ok_or_else(|| anyhow!("--grid wants NXxNY, e.g. 4x4"))?;
        return Ok(DetectorLayout::grid(
            nx.trim().parse().context("--grid NX")?,
            ny.trim().parse().context("--grid NY")?,
            args.spacing,
        )?);
    }
    let path = args
        .layout
        .as_deref()
        .ok_or_else(|| anyhow!("give the detector layout: --layout FILE or --grid NXxNY"))?;
    let mut reader = open_input(Some(path))?;
    let cols = Columns::new(&mut reader)?;
    let (d, x, y) = (
        cols.require("detector")?,
        cols.require("x_m")?,
        cols.require("y_m")?,
    );
    let z = cols.find("z_m");
    let mut positions = Vec::new();
    for record in reader.records() {
        let record = record.context("reading the layout")?;
        let line = record.position().map_or(0, |p| p.line());
        let row = (|| -> Result<(usize, [f64; 3]), String> {
            Ok((
                number(field(&record, d, "detector")?, "detector")?,
                [
                    finite(field(&record, x, "x_m")?, "x_m")?,
                    finite(field(&record, y, "y_m")?, "y_m")?,
                    optional::<f64>(&record, z, "z_m")?.unwrap_or(0.0),
                ],
            ))
        })()
        .map_err(|e| anyhow!("{}: line {line}: {e}", path.display()))?;
        if row.0 != positions.len() {
            bail!(
                "{}: line {line}: detector {} out of order (expected {})",
                path.display(),
                row.0,
                positions.len()
            );
        }
        positions.push(row.1);
    }
    Ok(DetectorLayout::new(positions)?)
}

async fn showers(a: ShowersArgs) -> Result<()> {
    let layout = read_layout(&a.layout)?;
    let config = ShowerFilterConfig {
        min_detectors: a.min_detectors,
        margin: a.margin,
        window: a.window,
        lateness: a.lateness,
    };
    let component = ShowerFilterComponent::new(layout.clone(), config)?;
    let mut reader = open_input(a.io.input.as_deref())?;
    let mut out = open_output(a.io.output.as_deref())?;
    write_row(&mut out, &HIT_COLUMNS.map(|c| Cell::Text(c.into())))?;
    let strict = a.io.strict;
    let n_detectors = layout.len();
    let stage = Stage::new(component, a.io.db.as_deref())?;
    let mut next_id = 0u64;
    stage
        .run(
            move |to_filter, _| {
                let mut report = Reporter { strict, skipped: 0 };
                let cols = Columns::new(&mut reader)?;
                let d = cols.require("detector")?;
                let t = cols.require("time_ns")?;
                let amp = cols.find("amplitude_v");
                let pid = cols.find("pulse_id");
                let mut t_max = f64::NEG_INFINITY;
                for record in reader.records() {
                    let record = record.context("reading the input")?;
                    let line = record.position().map_or(0, |p| p.line());
                    let parsed = (|| -> Result<ShowerPulse, String> {
                        let detector: usize = number(field(&record, d, "detector")?, "detector")?;
                        if detector >= n_detectors {
                            return Err(format!("detector {detector} is not in the layout"));
                        }
                        let time = finite(field(&record, t, "time_ns")?, "time_ns")?;
                        if time < t_max - a.lateness {
                            return Err(format!(
                                "time {time} ns is more than the lateness ({} ns) before an earlier pulse",
                                a.lateness
                            ));
                        }
                        Ok(ShowerPulse {
                            detector,
                            time,
                            amplitude: optional::<f64>(&record, amp, "amplitude_v")?
                                .map_or(f64::NAN, f64::abs),
                            fit_ref: optional::<u64>(&record, pid, "pulse_id")?,
                        })
                    })();
                    match parsed {
                        Ok(p) => {
                            t_max = t_max.max(p.time);
                            to_filter
                                .send_blocking(p)
                                .map_err(|_| anyhow!("the shower filter stopped"))?;
                        }
                        Err(why) => report.malformed(line, format!("{why}; row skipped"))?,
                    }
                }
                if report.skipped > 0 {
                    eprintln!("{} malformed row(s) skipped", report.skipped);
                }
                Ok(())
            },
            |c: ShowerCandidate, to_store| {
                let shower = StoredShower::from_candidate(next_id, &c);
                next_id += 1;
                for row in hit_rows(&shower) {
                    write_row(&mut out, &row)?;
                }
                if let Some(store) = to_store {
                    store
                        .send_blocking(Record::Shower(shower))
                        .map_err(|_| anyhow!("the store stopped"))?;
                }
                Ok(())
            },
        )
        .await
}

async fn direction(a: DirectionArgs) -> Result<()> {
    let layout = read_layout(&a.layout)?;
    let component = AngleFinderComponent::new(layout, a.sigma)?;
    let mut reader = open_input(a.io.input.as_deref())?;
    let mut out = open_output(a.io.output.as_deref())?;
    write_row(&mut out, &SHOWER_COLUMNS.map(|c| Cell::Text(c.into())))?;
    let strict = a.io.strict;
    let stage = Stage::new(component, a.io.db.as_deref())?;
    stage
        .run(
            move |to_finder, _| {
                let mut report = Reporter { strict, skipped: 0 };
                let cols = Columns::new(&mut reader)?;
                let e = cols.require("shower_id")?;
                let d = cols.require("detector")?;
                let t = cols.require("time_ns")?;
                let s = cols.find("sigma_ns");
                let mut seen = HashSet::new();
                let mut current: Option<(ArrivalTimes, bool)> = None;
                let mut emit = |(event, spoilt): (ArrivalTimes, bool)| -> Result<()> {
                    if spoilt {
                        return Ok(());
                    }
                    to_finder
                        .send_blocking(event)
                        .map_err(|_| anyhow!("the angle finder stopped"))
                };
                for record in reader.records() {
                    let record = record.context("reading the input")?;
                    let line = record.position().map_or(0, |p| p.line());
                    let row_id = record.get(e).and_then(|t| t.parse::<u64>().ok());
                    if current.as_ref().is_some_and(|(c, _)| Some(c.event) != row_id)
                        && let Some(done) = current.take()
                    {
                        emit(done)?;
                    }
                    let parsed = (|| -> Result<(u64, Hit), String> {
                        let id: u64 = number(field(&record, e, "shower_id")?, "shower_id")?;
                        let sigma = optional::<f64>(&record, s, "sigma_ns")?;
                        if sigma.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
                            return Err("`sigma_ns` must be positive".into());
                        }
                        Ok((
                            id,
                            Hit {
                                detector: number(field(&record, d, "detector")?, "detector")?,
                                time: finite(field(&record, t, "time_ns")?, "time_ns")?,
                                sigma,
                            },
                        ))
                    })();
                    match parsed {
                        Ok((id, hit)) => {
                            if current.is_none() {
                                let fresh = seen.insert(id);
                                if !fresh {
                                    report.malformed(
                                        line,
                                        format!("event {id} appeared earlier; the rows of an event must be consecutive; event skipped"),
                                    )?;
                                }
                                current = Some((
                                    ArrivalTimes {
                                        event: id,
                                        hits: Vec::new(),
                                    },
                                    !fresh,
                                ));
                            }
                            if let Some((c, _)) = current.as_mut() {
                                c.hits.push(hit);
                            }
                        }
                        Err(why) => {
                            match (row_id, current.as_mut()) {
                                (Some(_), Some((c, spoilt))) => {
                                    *spoilt = true;
                                    report.malformed(line, format!("{why}; event {} skipped", c.event))?;
                                }
                                (Some(id), None) => {
                                    report.malformed(line, format!("{why}; event {id} skipped"))?;
                                    seen.insert(id);
                                    current = Some((
                                        ArrivalTimes {
                                            event: id,
                                            hits: Vec::new(),
                                        },
                                        true,
                                    ));
                                }
                                _ => report.malformed(line, format!("{why}; row skipped"))?,
                            }
                        }
                    }
                }
                if let Some(done) = current.take() {
                    emit(done)?;
                }
                if report.skipped > 0 {
                    eprintln!("{} malformed row(s) skipped", report.skipped);
                }
                Ok(())
            },
            |found: FoundDirection, to_store| {
                let shower = StoredShower::from(&found);
                write_row(&mut out, &shower_row(&shower))?;
                if let Some(store) = to_store {
                    store
                        .send_blocking(Record::Shower(shower))
                        .map_err(|_| anyhow!("the store stopped"))?;
                }
                Ok(())
            },
        )
        .await
}

fn open_existing(db: &Path) -> Result<Store> {
    if !db.exists() {
        bail!("no database at {} (give --db PATH)", db.display());
    }
    Store::open(db, Durability::default())
        .with_context(|| format!("opening the database {}", db.display()))
}

fn plot(a: PlotArgs) -> Result<()> {
    let (svg, output) = match a.what {
        PlotKind::Pulse {
            id,
            db,
            clock_period,
            output,
        } => (
            pulse_svg_from_store(&open_existing(&db)?, id, clock_period)?,
            output,
        ),
        PlotKind::Sky {
            db,
            frame,
            max_zenith,
            output,
        } => {
            let store = open_existing(&db)?;
            let svg = match frame {
                Frame::Galactic => sky_map_svg_from_store(&store, SkyFrame::Galactic, max_zenith)?,
                Frame::Equatorial => {
                    sky_map_svg_from_store(&store, SkyFrame::Equatorial, max_zenith)?
                }
                Frame::Local => sky_svg_from_store(&store)?,
            };
            (svg, output)
        }
        PlotKind::Front {
            db,
            shower,
            layout,
            grid,
            spacing,
            at,
            output,
        } => {
            let layout = read_layout(&LayoutArgs {
                grid: grid.or_else(|| layout.is_none().then(|| "2x2".to_owned())),
                layout,
                spacing,
            })?;
            (front_of(&open_existing(&db)?, &layout, shower, at)?, output)
        }
    };
    let png = output
        .as_deref()
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let mut out = open_output(output.as_deref())?;
    if png {
        out.write_all(&svg_to_png(&svg, 1.0)?)?;
    } else {
        out.write_all(svg.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// The animation (or a frame `at` ns after the first hit) of a stored shower.
fn front_of(store: &Store, layout: &DetectorLayout, id: u64, at: Option<f64>) -> Result<String> {
    let hits = store.shower_hits(id)?;
    if hits.is_empty() {
        bail!("shower {id} is not in the database (or has no hits)");
    }
    let (zenith_deg, azimuth_deg, front_time_ns) = store
        .shower_direction(id)?
        .ok_or_else(|| anyhow!("shower {id} has no direction to animate"))?;
    let first = hits.iter().map(|h| h.time).fold(f64::INFINITY, f64::min);
    let utc = store
        .sky()?
        .into_iter()
        .find(|p| p.id == id)
        .and_then(|p| p.utc_ns)
        .map(|u| format!(" at {}", components::cosmici::UtcNanos(u)))
        .unwrap_or_default();
    let shower = ShowerFront {
        id,
        title: format!("shower {id}{utc}"),
        hits: hits.iter().map(|h| (h.detector, h.time)).collect(),
        zenith_deg,
        azimuth_deg,
        front_time_ns,
    };
    Ok(front_svg(layout, &shower, at.map(|a| first + a))?)
}

fn export(a: ExportArgs) -> Result<()> {
    let store = open_existing(&a.db)?;
    let table = match a.table {
        ExportTable::Pulses => Table::Pulses,
        ExportTable::Crossings => Table::Crossings,
        ExportTable::Fits => Table::Fits,
        ExportTable::Showers => Table::Showers,
        ExportTable::ShowerHits => Table::ShowerHits,
    };
    let mut out = open_output(a.output.as_deref())?;
    let rows = store.export(table, &mut out)?;
    tracing::info!(rows, table = table.name(), "exported");
    Ok(())
}
