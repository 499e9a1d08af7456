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
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, anyhow, bail};
use axon::{Component, Control, Outbox, Runtime};
use clap::{Args, Parser, Subcommand, ValueEnum};
use components::physics::angle::AngleFinder;
use components::physics::components::{
    AngleFinderComponent, ArrivalTimes, FittedPulse, FoundDirection, Hit, PulseFitterComponent,
    PulseToFit, ShowerFilterComponent,
};
use components::physics::direction::layouts::{LayoutHistory, LayoutReader};
use components::physics::direction::output::{DIRECTION_COLUMNS, StatusCounts, direction_row};
use components::physics::direction::station::{EventReader, Outcome, PulseColumns, StationInput};
use components::physics::direction::time::ExactTime;
use components::physics::direction::timeline::Timeline;
use components::physics::fit::{Crossings, LevelCrossing, PulseFitterConfig};
use components::physics::layout::{DetectorLayout, SPEED_OF_LIGHT};
use components::physics::model::PulseShape;
use components::physics::shower::{ShowerCandidate, ShowerFilterConfig, ShowerPulse};
use components::physics::simulate::fedm_ladder;
use components::physics::sky::SkyFrame;
use components::plots::{
    ShowerFront, front_svg, pulse_svg_from_store, sky_map_svg_from_store, sky_svg_from_store,
    svg_to_png,
};
use components::store::{
    Cell, Durability, FIT_COLUMNS, HIT_COLUMNS, Record, ShowerHit, Store, StoreWriter, StoredPulse,
    StoredShower, Table, fit_row,
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

INPUT (CSV with a header row; lines starting with # are skipped; --delimiter tab for TSV).
One row per pulse, in time order up to --lateness:
  detector      integer   detector id (index in the layout)
  time_ns       ns        pulse time (sentinels --no-signal/--no-detector: not a pulse)
  amplitude_v   V         optional: pulse height
  pulse_id      integer   optional: the pulse's id (at most 2^63 - 1)
or one row per event (header with t1 ... tN, as for `cosmici direction`): each row's
times become pulses, each row is grouped on its own.
Times are read exactly (integer picoseconds) and written exactly. --offsets subtracts a
per-detector offset first.

LAYOUT (--layout FILE): as for `cosmici direction` (x_m, y_m[, z_m] or distance_m,
bearing_deg[, height_m], optional valid_from), or --grid NXxNY with --spacing M.

OUTPUT (CSV, header row; one row per pulse of each candidate, candidates in time order;
this is the input format of `cosmici direction`):
  shower_id     integer   candidate number, from 0
  detector      integer   detector id
  time_ns       ns        pulse time (exact)
  amplitude_v   V         pulse height (empty if not given)
  pulse_id      integer   the pulse's id (empty if not given)
Malformed rows and refused pulses (late, unknown detector) are reported on stderr with
their line number and skipped (--strict: fatal); the summary counts them by reason.";

const DIRECTION_HELP: &str = "\
Finds each event's shower direction from its arrival times (flat shower front):
exact solutions for three detectors, least squares for more; detectors may stand at
different heights.

INPUT (CSV with a header row; lines starting with # are skipped; --delimiter tab for TSV).
One row per event (chosen when the header has a t1 column), as station exports write it:
  t1 ... tN        ns        arrival time at detector 0 ... N-1, relative to the timestamp;
                             --no-signal (-999) = no signal, --no-detector (-1) = no such
                             detector, empty = no signal
  timestamp_ns     ns        optional event timestamp (also ext_timestamp, or
                             --timestamp-column NAME); chooses the layout version
  event_id         integer   optional (also shower_id or id); else rows count from 0
or one row per hit (rows of one event consecutive; `cosmici showers` writes this):
  shower_id   integer   the event
  detector    integer   detector id (index in the layout)
  time_ns     ns        arrival time (sentinels apply)
  sigma_ns    ns        optional: timing error of this hit (default --sigma)
Times are read exactly (integer picoseconds; nanoseconds since 1970 with 2.5 ns steps
keep every digit). --offsets subtracts a per-detector offset first. Ids above
9223372036854775807 (2^63 - 1) are refused.

LAYOUT (--layout FILE, CSV, header row; one row per detector and version):
  detector                     integer   0, 1, 2, ... (t1 is detector 0)
  x_m, y_m[, z_m]              m         east, north, up (or east_m, north_m, up_m)
or
  distance_m, bearing_deg[, height_m]    from the reference point; bearing clockwise
                                         from north; height relative to the reference
  valid_from                   ns        optional: this version holds from this time (same
                                         clock as the timestamps; empty = from the start).
                                         An event uses the latest version not after its
                                         timestamp (or its earliest hit).
or --grid NXxNY with --spacing M.

OUTPUT (CSV, header row; one row per event, in input order):
  id                                 the event
  start_ns                           earliest hit time, ns (exact)
  detectors                          number of hits
  direction                          found | ambiguous (three hits at different heights
                                     with two exact solutions: the second in second_*) |
                                     poor_fit (chi2 probability below --min-probability, or
                                     residuals with no degrees of freedom) | unphysical (no
                                     direction from above the horizon; zenith 90) |
                                     not_converged | failed
  reason                             for failed: why (too few hits, collinear, ...)
  zenith_deg, zenith_err_deg         zenith angle from vertical and its 1-sigma error, deg
  azimuth_deg, azimuth_err_deg       azimuth from +x (east) towards +y (north), (-180, 180], deg
  front_time_ns, front_time_err_ns   time the front passes the layout origin, ns
  chi2, dof, p_value                 chi-square of the arrival times, hits - 3, probability
  second_zenith_deg, ..._err_deg,    the second direction of an ambiguous event
  second_azimuth_deg, ..._err_deg
Malformed rows are reported on stderr with their line number and skipped, with their
event (--strict: fatal); the summary on stderr counts events read, skipped and why, and
each status.

FROM A STATION EXPORT: add a header row naming the columns (e.g. ext_timestamp, t1..t4),
write the layout as detector,distance_m,bearing_deg,height_m[,valid_from], and run
  cosmici direction events.tsv --delimiter tab --layout station.csv --sigma 2.5";

/// Pulse fitting, shower finding and shower directions for COSMICi-style detectors.
#[derive(Debug, Parser)]
#[command(name = "cosmici", version, long_about = None)]
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
    /// Detector layout CSV (detector, x_m, y_m[, z_m] or distance_m, bearing_deg[,
    /// height_m]; optional valid_from).
    #[arg(long, conflicts_with = "grid")]
    layout: Option<PathBuf>,
    /// A square grid layout instead, e.g. 4x4.
    #[arg(long)]
    grid: Option<String>,
    /// Grid spacing, m.
    #[arg(long, default_value_t = 10.0)]
    spacing: f64,
}

/// How to read a station's export.
#[derive(Debug, Args)]
struct StationArgs {
    /// Time value meaning "no signal" (`none`: every value is a time).
    #[arg(long, default_value = "-999", allow_hyphen_values = true)]
    no_signal: String,
    /// Time value meaning "no such detector" (`none`: every value is a time).
    #[arg(long, default_value = "-1", allow_hyphen_values = true)]
    no_detector: String,
    /// Per-detector timing offsets, ns, comma-separated from detector 0 (t1); subtracted
    /// from that detector's times.
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    offsets: Vec<String>,
    /// Event timestamp column of the one-row-per-event format [default: timestamp_ns or
    /// ext_timestamp].
    #[arg(long)]
    timestamp_column: Option<String>,
    /// Field delimiter of the input: one character, or `tab` (the layout file's is found
    /// from its header row).
    #[arg(long, default_value = ",")]
    delimiter: String,
}

#[derive(Debug, Args)]
struct ShowersArgs {
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    layout: LayoutArgs,
    #[command(flatten)]
    station: StationArgs,
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
    #[command(flatten)]
    station: StationArgs,
    /// Timing error of a hit without its own sigma_ns, ns.
    #[arg(long, default_value_t = 1.0)]
    sigma: f64,
    /// Smallest chi-square probability of a `found` direction; below it, `poor_fit`.
    #[arg(long, default_value_t = 0.001)]
    min_probability: f64,
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

/// Opens a station file: header row, `#` comment lines skipped, the given delimiter.
fn open_station(path: Option<&Path>, delimiter: &str) -> Result<csv::Reader<Box<dyn Read + Send>>> {
    let delimiter = match delimiter {
        "tab" | "\\t" => b'\t',
        d if d.len() == 1 => d.as_bytes()[0],
        d => bail!("--delimiter wants one character or `tab`, not {d:?}"),
    };
    let read: Box<dyn Read + Send> = match path {
        Some(p) => Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => Box::new(std::io::stdin()),
    };
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .comment(Some(b'#'))
        .delimiter(delimiter)
        .from_reader(read))
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

fn read_layout(args: &LayoutArgs) -> Result<LayoutHistory> {
    if let Some(grid) = &args.grid {
        let (nx, ny) = grid
            .split_once(['x', 'X'])
            .ok_or_else(|| anyhow!("--grid wants NXxNY, e.g. 4x4"))?;
        return Ok(LayoutHistory::single(DetectorLayout::grid(
            nx.trim().parse().context("--grid NX")?,
            ny.trim().parse().context("--grid NY")?,
            args.spacing,
        )?));
    }
    let path = args
        .layout
        .as_deref()
        .ok_or_else(|| anyhow!("give the detector layout: --layout FILE or --grid NXxNY"))?;
    // The layout file's own delimiter: tab when its header row has one, else comma.
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let header_line = text.lines().find(|l| !l.starts_with('#')).unwrap_or("");
    let delimiter = if header_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .comment(Some(b'#'))
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .context("reading the layout's header row")?
        .clone();
    let mut layout = LayoutReader::new(&header.iter().collect::<Vec<_>>())
        .with_context(|| path.display().to_string())?;
    for record in reader.records() {
        let record = record.context("reading the layout")?;
        layout
            .push(line_of(&record), &record.iter().collect::<Vec<_>>())
            .with_context(|| path.display().to_string())?;
    }
    layout.finish().with_context(|| path.display().to_string())
}

fn station_input(args: &StationArgs) -> Result<StationInput> {
    StationInput::from_options(
        &args.no_signal,
        &args.no_detector,
        &args.offsets,
        args.timestamp_column.clone(),
    )
    .map_err(|e| anyhow!(e))
}

fn hit_row(
    id: u64,
    detector: usize,
    time: ExactTime,
    amplitude: Option<f64>,
    pulse: Option<u64>,
) -> String {
    format!(
        "{id},{detector},{time},{},{}",
        amplitude.map_or(String::new(), |a| a.to_string()),
        pulse.map_or(String::new(), |p| p.to_string())
    )
}

async fn showers(a: ShowersArgs) -> Result<()> {
    let history = read_layout(&a.layout)?;
    let input = station_input(&a.station)?;
    let layout = history.combined();
    let config = ShowerFilterConfig {
        min_detectors: a.min_detectors,
        margin: a.margin,
        window: a.window,
        lateness: a.lateness,
    };
    let component = ShowerFilterComponent::new(layout.clone(), config)?;
    // Pauses longer than this are closed on the filter's f64 clock (see Timeline).
    let window = a
        .window
        .unwrap_or(layout.extent() / SPEED_OF_LIGHT + a.margin);
    let timeline = Arc::new(Mutex::new(Timeline::new(
        4.0 * (window + a.lateness + a.margin) + 1000.0,
    )));
    let feed_line = Arc::clone(&timeline);
    let feed_history = history.clone();
    let mut reader = open_station(a.io.input.as_deref(), &a.station.delimiter)?;
    let mut out = open_output(a.io.output.as_deref())?;
    writeln!(out, "{}", HIT_COLUMNS.join(","))?;
    let strict = a.io.strict;
    let lateness = ExactTime::from_ns_f64(a.lateness);
    let stage = Stage::new(component, a.io.db.as_deref())?;
    let mut next_id = 0u64;
    stage
        .run(
            move |to_filter, _| {
                let history = feed_history;
                let mut report = Reporter { strict, skipped: 0 };
                let header = reader.headers().context("reading the header row")?.clone();
                let names: Vec<&str> = header.iter().collect();
                let (mut pulses, mut ignored) = (0usize, 0usize);
                let mut send = |detector: usize, time: ExactTime, amplitude: Option<f64>, pulse_id: Option<u64>| -> Result<()> {
                    let t = feed_line
                        .lock()
                        .map_err(|_| anyhow!("timeline poisoned"))?
                        .map(time);
                    pulses += 1;
                    to_filter
                        .send_blocking(ShowerPulse {
                            detector,
                            time: t,
                            amplitude: amplitude.unwrap_or(f64::NAN),
                            fit_ref: pulse_id,
                        })
                        .map_err(|_| anyhow!("the shower filter stopped"))
                };
                if names.iter().any(|n| n.trim().eq_ignore_ascii_case("t1") || n.trim().eq_ignore_ascii_case("t1_ns")) {
                    // One row per event: each row's hits on their own stretch of the clock.
                    let mut events = EventReader::new(&names, input)?;
                    for record in reader.records() {
                        let record = record.context("reading the input")?;
                        let outcomes = events.push(line_of(&record), &record.iter().collect::<Vec<_>>());
                        for outcome in outcomes {
                            match outcome {
                                Outcome::Rejected(r) => report.malformed(r.line, &r.message)?,
                                Outcome::Event(e) => match history.place(&e) {
                                    Err(r) => {
                                        events.skip_event(r.kind);
                                        report.malformed(r.line, &r.message)?;
                                    }
                                    Ok(version) => {
                                        let (start, _) = e.relative();
                                        feed_line
                                            .lock()
                                            .map_err(|_| anyhow!("timeline poisoned"))?
                                            .map_apart(start);
                                        for h in &e.hits {
                                            let d = history
                                                .combined_index(version, h.detector)
                                                .unwrap_or(usize::MAX);
                                            send(d, h.time, None, None)?;
                                        }
                                    }
                                },
                            }
                        }
                    }
                    eprintln!("{}", events.summary());
                } else {
                    let cols = PulseColumns::new(&names)?;
                    let mut t_max: Option<ExactTime> = None;
                    for record in reader.records() {
                        let record = record.context("reading the input")?;
                        let line = line_of(&record);
                        let fields: Vec<&str> = record.iter().collect();
                        let parsed = cols.parse(&fields, &input).and_then(|p| {
                            let Some(p) = p else { return Ok(None) };
                            let version = history.at(Some(p.time)).ok_or_else(|| {
                                format!("no layout is valid at {} ns", p.time)
                            })?;
                            let d = history.combined_index(version, p.detector).ok_or_else(|| {
                                format!("detector {} is not in the layout", p.detector)
                            })?;
                            if t_max.is_some_and(|m| p.time < m - lateness) {
                                return Err(format!(
                                    "time {} ns is more than the lateness ({} ns) before an earlier pulse",
                                    p.time, a.lateness
                                ));
                            }
                            Ok(Some((d, p)))
                        });
                        match parsed {
                            Ok(Some((d, p))) => {
                                t_max = Some(t_max.map_or(p.time, |m| m.max(p.time)));
                                send(d, p.time, p.amplitude, p.pulse_id)?;
                            }
                            Ok(None) => ignored += 1,
                            Err(why) => report.malformed(line, format!("{why}; row skipped"))?,
                        }
                    }
                    eprintln!(
                        "{pulses} pulse(s) read; {} row(s) skipped; {ignored} sentinel or empty time(s) ignored",
                        report.skipped
                    );
                }
                Ok(())
            },
            |c: ShowerCandidate, to_store| {
                let mut line = timeline.lock().map_err(|_| anyhow!("timeline poisoned"))?;
                let earliest = c.pulses.iter().map(|p| p.time).fold(f64::INFINITY, f64::min);
                line.forget_before(earliest);
                let mut hits = Vec::with_capacity(c.pulses.len());
                for p in &c.pulses {
                    let (_, detector) = history
                        .split_index(p.detector)
                        .ok_or_else(|| anyhow!("the filter returned an unknown detector"))?;
                    let time = line.exact(p.time);
                    let amplitude = Some(p.amplitude).filter(|a| a.is_finite());
                    writeln!(out, "{}", hit_row(next_id, detector, time, amplitude, p.fit_ref))?;
                    hits.push(ShowerHit {
                        detector,
                        time: time.as_ns_f64(),
                        amplitude,
                        pulse_id: p.fit_ref,
                    });
                }
                drop(line);
                let shower = StoredShower {
                    id: next_id,
                    hits,
                    direction: None,
                };
                next_id += 1;
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
    let history = read_layout(&a.layout)?;
    let input = station_input(&a.station)?;
    let finder =
        AngleFinder::new(history.combined(), a.sigma)?.with_min_probability(a.min_probability)?;
    let component = AngleFinderComponent::from_finder(finder);
    let mut reader = open_station(a.io.input.as_deref(), &a.station.delimiter)?;
    let mut out = open_output(a.io.output.as_deref())?;
    writeln!(out, "{}", DIRECTION_COLUMNS.join(","))?;
    let strict = a.io.strict;
    let stage = Stage::new(component, a.io.db.as_deref())?;
    // Each event's exact start and layout version, in the order the finder answers.
    let (starts, started) = std::sync::mpsc::channel::<(ExactTime, usize)>();
    let feed_history = history.clone();
    let mut counts = StatusCounts::default();
    stage
        .run(
            move |to_finder, _| {
                let history = feed_history;
                let mut report = Reporter { strict, skipped: 0 };
                let header = reader.headers().context("reading the header row")?.clone();
                let mut events = EventReader::new(&header.iter().collect::<Vec<_>>(), input)?;
                let mut handle = |events: &mut EventReader, outcomes: Vec<Outcome>| -> Result<()> {
                    for outcome in outcomes {
                        let e = match outcome {
                            Outcome::Rejected(r) => {
                                report.malformed(r.line, &r.message)?;
                                continue;
                            }
                            Outcome::Event(e) => e,
                        };
                        let version = match history.place(&e) {
                            Ok(version) => version,
                            Err(r) => {
                                events.skip_event(r.kind);
                                report.malformed(r.line, &r.message)?;
                                continue;
                            }
                        };
                        let (start, relative) = e.relative();
                        let hits = relative
                            .into_iter()
                            .map(|(d, time, sigma)| Hit {
                                detector: history.combined_index(version, d).unwrap_or(usize::MAX),
                                time,
                                sigma,
                            })
                            .collect();
                        starts
                            .send((start, version))
                            .map_err(|_| anyhow!("the writer stopped"))?;
                        to_finder
                            .send_blocking(ArrivalTimes { event: e.id, hits })
                            .map_err(|_| anyhow!("the angle finder stopped"))?;
                    }
                    Ok(())
                };
                for record in reader.records() {
                    let record = record.context("reading the input")?;
                    let outcomes =
                        events.push(line_of(&record), &record.iter().collect::<Vec<_>>());
                    handle(&mut events, outcomes)?;
                }
                let outcomes = events.finish();
                handle(&mut events, outcomes)?;
                eprintln!("{}", events.summary());
                Ok(())
            },
            |found: FoundDirection, to_store| {
                let (start, version) = started
                    .try_recv()
                    .map_err(|_| anyhow!("a direction without its event"))?;
                counts.add(&found.result);
                let row = direction_row(found.event, start, found.hits.len(), &found.result);
                writeln!(out, "{}", row.join(","))?;
                if let Some(store) = to_store {
                    let hits = found
                        .hits
                        .iter()
                        .map(|h| ShowerHit {
                            detector: history
                                .split_index(h.detector)
                                .filter(|(v, _)| *v == version)
                                .map_or(h.detector, |(_, d)| d),
                            time: (start + ExactTime::from_ns_f64(h.time)).as_ns_f64(),
                            amplitude: None,
                            pulse_id: None,
                        })
                        .collect();
                    store
                        .send_blocking(Record::Shower(StoredShower {
                            id: found.event,
                            hits,
                            direction: Some(found.result),
                        }))
                        .map_err(|_| anyhow!("the store stopped"))?;
                }
                Ok(())
            },
        )
        .await?;
    eprintln!("{counts}");
    Ok(())
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
            let history = read_layout(&LayoutArgs {
                grid: grid.or_else(|| layout.is_none().then(|| "2x2".to_owned())),
                layout,
                spacing,
            })?;
            // A layout file with a history: the latest version is drawn.
            let Some(latest) = history.versions().last() else {
                bail!("the layout has no detectors");
            };
            (
                front_of(&open_existing(&db)?, &latest.layout, shower, at)?,
                output,
            )
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
