//! `aiops eval nab --data-dir DIR [--windows FILE] [--profile standard|low_fp|low_fn] [--plots DIR]
//! [--cross-validate]`: runs a detector on every series of the Numenta Anomaly Benchmark listed in
//! the windows file (default `DIR/combined_windows.json`, else `DIR/../labels/` as in NAB's
//! repository), files as NAB ships them, and scores its alerts with NAB's rules under every
//! profile.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aiops_artifacts::series::{Order, OrderProblems, order_problems, parse_timestamp, read_series};
use aiops_incidents::nab::{self, Evaluation, LabelledSeries, Profile};
use aiops_incidents::{DetectorParams, IncidentParams};
use anyhow::{Context, bail};

/// Arguments of `aiops eval`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    benchmark: Benchmark,
}

#[derive(Debug, clap::Subcommand)]
enum Benchmark {
    /// Score a detector on the Numenta Anomaly Benchmark (NAB) with NAB's own rules.
    Nab(NabArgs),
}

/// Which NAB cost profile to score with.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
#[clap(rename_all = "snake_case")]
enum ProfileArg {
    Standard,
    LowFp,
    LowFn,
}

/// Which detector raises the alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DetectorArg {
    /// The causal incident detector (streaming features, retrained forest, incidents).
    Incidents,
    /// The reference platform's point detector: a forest fitted on the whole series
    /// (contamination 0.05), every flagged point an alert.
    Reference,
}

/// Arguments of `aiops eval nab`.
#[derive(Debug, clap::Args)]
struct NabArgs {
    /// NAB data folder laid out like NAB's `data/`: category folders of CSV files, named as in
    /// the windows file (e.g. `realKnownCause/nyc_taxi.csv`).
    #[arg(long)]
    data_dir: PathBuf,
    /// NAB's labelled windows (`{"category/file.csv": [[start, end], ...]}`); default
    /// `DATA_DIR/combined_windows.json`, or in a checkout of NAB's repository (`--data-dir
    /// NAB/data`) `NAB/labels/combined_windows.json` when the first is absent.
    #[arg(long)]
    windows: Option<PathBuf>,
    /// NAB cost profile of the per-file table and of the JSON's per-series results (the
    /// normalised score of every profile is always printed).
    #[arg(long, value_enum, default_value = "standard")]
    profile: ProfileArg,
    /// Write a PNG per series (values, labelled windows shaded, alerts) into this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// The detector to evaluate.
    #[arg(long, value_enum, default_value = "incidents")]
    detector: DetectorArg,
    /// Also choose the incident detector's parameters by leave-one-file-out cross-validation over
    /// its candidate grid, and print the in-sample and cross-validated scores of every profile.
    #[arg(long)]
    cross_validate: bool,
    /// Print the evaluation as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tuning: Tuning,
}

/// Overrides of the incident detector's defaults (see `aiops_incidents::DetectorParams`).
#[derive(Debug, clap::Args)]
struct Tuning {
    /// Surprise (-log10 of the anomaly likelihood's tail probability) at which a point is
    /// anomalous.
    #[arg(long)]
    threshold: Option<f64>,
    /// Rows before anything can be anomalous.
    #[arg(long, alias = "train-points")]
    learning: Option<usize>,
    /// Horizon (rows) of the anomaly likelihood's running distribution.
    #[arg(long)]
    history: Option<usize>,
    /// Anomalous points that confirm an incident.
    #[arg(long)]
    min_points: Option<usize>,
    /// Normal points allowed inside one incident.
    #[arg(long)]
    max_gap: Option<usize>,
    /// Points after an alert during which no new alert fires.
    #[arg(long)]
    cooldown: Option<usize>,
}

impl Tuning {
    fn params(&self) -> DetectorParams {
        let defaults = DetectorParams::default();
        let incidents = IncidentParams {
            min_points: self.min_points.unwrap_or(defaults.incidents.min_points),
            max_gap: self.max_gap.unwrap_or(defaults.incidents.max_gap),
            cooldown: self.cooldown.unwrap_or(defaults.incidents.cooldown),
            ..defaults.incidents
        };
        DetectorParams {
            threshold: self.threshold.unwrap_or(defaults.threshold),
            learning: self.learning.unwrap_or(defaults.learning),
            history: self.history.unwrap_or(defaults.history),
            incidents,
            ..defaults
        }
    }
}

const PROFILES: [Profile; 3] = [Profile::Standard, Profile::LowFp, Profile::LowFn];

/// The JSON output: the chosen profile's evaluation and every profile's normalised score.
#[derive(serde::Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    evaluation: &'a Evaluation,
    profiles: BTreeMap<&'static str, f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cross_validation: Vec<nab::CrossValidation>,
}

fn profile_name(profile: Profile) -> &'static str {
    match profile {
        Profile::Standard => "standard",
        Profile::LowFp => "low_fp",
        Profile::LowFn => "low_fn",
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Benchmark::Nab(args) = &args.benchmark;
    let windows = match &args.windows {
        Some(windows) => windows.clone(),
        None => default_windows(&args.data_dir)?,
    };
    let series = load_nab(&args.data_dir, &windows)?;
    let profile = match args.profile {
        ProfileArg::Standard => Profile::Standard,
        ProfileArg::LowFp => Profile::LowFp,
        ProfileArg::LowFn => Profile::LowFn,
    };
    let alerts = alerts_of_every_series(args, &series)?;
    let evaluations = PROFILES
        .iter()
        .map(|&p| nab::evaluate(&series, p, |s| Ok(alerts[&s.name].clone())))
        .collect::<Result<Vec<_>, _>>()
        .context("scoring on NAB")?;
    let evaluation = evaluations.iter().find(|e| e.profile == profile).context("the chosen profile")?;
    let cross_validation = if args.cross_validate { cross_validate(&series)? } else { Vec::new() };
    if let Some(folder) = &args.plots {
        write_plots(folder, &series, evaluation)?;
    }
    let profiles = evaluations.iter().map(|e| (profile_name(e.profile), e.normalised)).collect();
    if args.json {
        let report = Report { evaluation, profiles, cross_validation };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(evaluation);
        for (name, score) in &profiles {
            println!("normalised {name} score = {score:.1}");
        }
        for cv in &cross_validation {
            println!(
                "cross-validation ({}): in-sample best {:.1}, leave-one-file-out {:.1}",
                profile_name(cv.profile),
                cv.in_sample[cv.best],
                cv.cross_validated
            );
        }
    }
    Ok(())
}

/// The alert rows of every series, by name, with the chosen detector (series in parallel).
fn alerts_of_every_series(
    args: &NabArgs,
    series: &[LabelledSeries],
) -> anyhow::Result<BTreeMap<String, Vec<usize>>> {
    let params = args.tuning.params().check().context("detector parameters")?;
    let (schema, forest) =
        (&aiops_features::FeatureSchema::reference(), &aiops_iforest::IsolationForestParams::reference());
    let detector = args.detector;
    let alerts = std::thread::scope(|scope| {
        let handles: Vec<_> = series
            .iter()
            .map(|s| {
                scope.spawn(move || match detector {
                    DetectorArg::Incidents => {
                        aiops_incidents::detect(&params, &s.timestamps, &s.values).map(|d| d.alerts)
                    }
                    DetectorArg::Reference => {
                        aiops_incidents::reference_point_alerts(schema, forest, &s.timestamps, &s.values)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(series)
            .map(|(h, s)| {
                let alerts = h.join().map_err(|_| anyhow::anyhow!("the detector panicked on {}", s.name))?;
                Ok((s.name.clone(), alerts.with_context(|| format!("detecting on {}", s.name))?))
            })
            .collect::<anyhow::Result<BTreeMap<_, _>>>()
    })?;
    Ok(alerts)
}

/// Leave-one-file-out cross-validation of the detector's candidate grid, per profile.
fn cross_validate(series: &[LabelledSeries]) -> anyhow::Result<Vec<nab::CrossValidation>> {
    let candidates = DetectorParams::candidates()
        .into_iter()
        .map(DetectorParams::check)
        .collect::<Result<Vec<_>, _>>()
        .context("candidate parameters")?;
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    PROFILES
        .iter()
        .map(|&profile| {
            nab::cross_validate(series, profile, candidates.len(), threads, |c, s| {
                Ok(aiops_incidents::detect(&candidates[c], &s.timestamps, &s.values)?.alerts)
            })
            .context("cross-validating on NAB")
        })
        .collect()
}

/// `DIR/combined_windows.json`, or where NAB's repository keeps it beside its `data/` folder
/// (`labels/combined_windows.json`).
fn default_windows(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let beside = data_dir.join("combined_windows.json");
    let in_labels = data_dir.join("../labels/combined_windows.json");
    if beside.is_file() {
        return Ok(beside);
    }
    if in_labels.is_file() {
        return Ok(in_labels);
    }
    bail!(
        "no windows file: neither {} nor {} exists (give one with --windows)",
        beside.display(),
        in_labels.display()
    )
}

/// The largest windows file read (NAB's own is 20 KB).
const MAX_WINDOWS_BYTES: u64 = 64 << 20;

/// Reads the windows file and every series it names, rows as records in file order; warns about
/// duplicated and backwards timestamps (NAB's own files have both), which are scored as NAB
/// scores them.
fn load_nab(dir: &Path, windows_path: &Path) -> anyhow::Result<Vec<LabelledSeries>> {
    let text = aiops_bounded::read_file(windows_path, MAX_WINDOWS_BYTES)
        .with_context(|| format!("reading {}", windows_path.display()))?;
    let labels: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_slice(&text).with_context(|| {
        format!("{}: expected {{\"category/file.csv\": [[start, end], ...]}}", windows_path.display())
    })?;
    if labels.is_empty() {
        bail!("{} lists no series", windows_path.display());
    }
    let mut problems = Vec::new();
    let series = labels
        .into_iter()
        .map(|(name, windows)| {
            let path = dir.join(&name);
            let series =
                read_series(&path, Order::Records).with_context(|| format!("reading {}", path.display()))?;
            let order = order_problems(&series.timestamps);
            if order != OrderProblems::default() {
                problems
                    .push(format!("{name} ({} duplicated, {} backwards)", order.duplicated, order.backwards));
            }
            let times = windows
                .iter()
                .map(|[start, end]| match (parse_timestamp(start), parse_timestamp(end)) {
                    (Some(s), Some(e)) => Ok((s, e)),
                    _ => bail!(
                        "{}: window [{start}, {end}] of {name} is not a pair of timestamps",
                        windows_path.display()
                    ),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let windows = nab::windows_to_rows(&series.timestamps, &times)
                .with_context(|| format!("windows of {name}"))?;
            Ok(LabelledSeries { name, timestamps: series.timestamps, values: series.values, windows })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !problems.is_empty() {
        eprintln!(
            "warning: timestamps that repeat or go backwards in {} file(s), kept as rows in file order as NAB scores them: {}",
            problems.len(),
            problems.join(", ")
        );
    }
    Ok(series)
}

fn print_table(evaluation: &Evaluation) {
    println!(
        "{:<48} {:>5} {:>7} {:>8} {:>6} {:>4} {:>8} {:>8}",
        "file", "rows", "windows", "detected", "alerts", "fp", "tp", "score"
    );
    for s in &evaluation.series {
        let short = s.name.rsplit('/').next().unwrap_or(&s.name);
        println!(
            "{short:<48} {:>5} {:>7} {:>8} {:>6} {:>4} {:>8.3} {:>8.3}",
            s.rows,
            s.score.windows,
            s.score.detected,
            s.alerts.len(),
            s.score.false_positives,
            s.score.true_positive,
            s.score.score
        );
    }
    let total = |f: fn(&nab::FileScore) -> f64| evaluation.series.iter().map(|s| f(&s.score)).sum::<f64>();
    println!(
        "total: S = {:.3} (null {:.1}, perfect {:.1}); normalised {:?} score = {:.1}",
        total(|f| f.score),
        total(|f| f.null_score),
        total(|f| f.perfect_score),
        evaluation.profile,
        evaluation.normalised
    );
}

/// The rows' timestamps as a chart's time axis, which never goes back: NAB's files keep rows
/// whose timestamp repeats or goes backwards (scored as rows in file order), and such a row is
/// drawn in its place, at the latest time before it.
fn drawing_times(timestamps: &[f64]) -> Vec<f64> {
    timestamps
        .iter()
        .scan(f64::NEG_INFINITY, |latest, &t| {
            *latest = latest.max(t);
            Some(*latest)
        })
        .collect()
}

fn write_plots(folder: &Path, series: &[LabelledSeries], evaluation: &Evaluation) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    for (s, result) in series.iter().zip(&evaluation.series) {
        let times = drawing_times(&s.timestamps);
        let shaded: Vec<(f64, f64)> = s.windows.iter().map(|w| (times[w.left], times[w.right])).collect();
        let alerts: Vec<f64> = result.alerts.iter().map(|&i| times[i]).collect();
        let title = format!("{} (NAB score {:.2})", s.name, result.score.score);
        let chart = aiops_charts::SeriesChart {
            title: &title,
            value_label: "value",
            timestamps: &times,
            values: &s.values,
            anomalies: &result.alerts,
            shaded: &shaded,
            alerts: &alerts,
        };
        let png =
            aiops_charts::render_png(&chart, 1600, 500).with_context(|| format!("drawing {}", s.name))?;
        let stem = Path::new(&s.name)
            .file_stem()
            .map_or_else(|| s.name.clone(), |f| f.to_string_lossy().into_owned());
        let path = folder.join(format!("{stem}.png"));
        aiops_artifacts::write_atomically(&path, |w| w.write_all(&png))?;
    }
    eprintln!("wrote {} plots to {}", series.len(), folder.display());
    Ok(())
}
