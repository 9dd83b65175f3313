//! `aiops eval nab --data-dir DIR [--profile standard|low_fp|low_fn] [--plots DIR]`: runs a
//! detector on every series of the Numenta Anomaly Benchmark listed in
//! `DIR/combined_windows.json` and scores its alerts with NAB's rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aiops_artifacts::series::{Order, parse_timestamp, read_series};
use aiops_incidents::nab::{self, Evaluation, LabelledSeries, Profile};
use aiops_incidents::{DetectorParams, IncidentParams, ThresholdRule};
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
    /// NAB data folder: `combined_windows.json` and the CSV files it names.
    #[arg(long)]
    data_dir: PathBuf,
    /// NAB cost profile.
    #[arg(long, value_enum, default_value = "standard")]
    profile: ProfileArg,
    /// Write a PNG per series (values, labelled windows shaded, alerts) into this folder.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// The detector to evaluate.
    #[arg(long, value_enum, default_value = "incidents")]
    detector: DetectorArg,
    /// Print the evaluation as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tuning: Tuning,
}

/// Overrides of the incident detector's defaults (see `aiops_incidents::DetectorParams`).
#[derive(Debug, clap::Args)]
struct Tuning {
    /// Rolling window of the features (the reference computation with another window length).
    #[arg(long)]
    window: Option<usize>,
    /// Points before the first training.
    #[arg(long)]
    train_points: Option<usize>,
    /// Points between retrainings (0: never retrain).
    #[arg(long)]
    retrain_every: Option<usize>,
    /// Most recent points each retraining uses.
    #[arg(long)]
    history: Option<usize>,
    /// Threshold: this quantile of the training scores.
    #[arg(long)]
    quantile: Option<f64>,
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
    fn params(&self) -> anyhow::Result<DetectorParams> {
        let defaults = DetectorParams::default();
        let schema = match self.window {
            Some(window) => aiops_features::FeatureSchema::with_window(window)?,
            None => defaults.schema.clone(),
        };
        let incidents = IncidentParams {
            min_points: self.min_points.unwrap_or(defaults.incidents.min_points),
            max_gap: self.max_gap.unwrap_or(defaults.incidents.max_gap),
            cooldown: self.cooldown.unwrap_or(defaults.incidents.cooldown),
            ..defaults.incidents
        };
        Ok(DetectorParams {
            schema,
            train_points: self.train_points.unwrap_or(defaults.train_points),
            retrain_every: self.retrain_every.unwrap_or(defaults.retrain_every),
            history: self.history.unwrap_or(defaults.history),
            threshold: self.quantile.map_or(defaults.threshold, |q| ThresholdRule::Quantile { q }),
            incidents,
            ..defaults
        })
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let Benchmark::Nab(args) = &args.benchmark;
    let series = load_nab(&args.data_dir)?;
    let profile = match args.profile {
        ProfileArg::Standard => Profile::Standard,
        ProfileArg::LowFp => Profile::LowFp,
        ProfileArg::LowFn => Profile::LowFn,
    };
    let evaluation = match args.detector {
        DetectorArg::Incidents => {
            let params = args.tuning.params()?.check().context("detector parameters")?;
            nab::evaluate(&series, profile, |s| {
                Ok(aiops_incidents::detect(&params, &s.timestamps, &s.values)?.alerts)
            })
        }
        DetectorArg::Reference => {
            let (schema, forest) = (
                aiops_features::FeatureSchema::reference(),
                aiops_iforest::IsolationForestParams::reference(),
            );
            nab::evaluate(&series, profile, |s| {
                aiops_incidents::reference_point_alerts(&schema, &forest, &s.timestamps, &s.values)
            })
        }
    }
    .context("evaluating on NAB")?;
    if let Some(folder) = &args.plots {
        write_plots(folder, &series, &evaluation)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
    } else {
        print_table(&evaluation);
    }
    Ok(())
}

/// Reads `combined_windows.json` and every series it names.
fn load_nab(dir: &Path) -> anyhow::Result<Vec<LabelledSeries>> {
    let windows_path = dir.join("combined_windows.json");
    let text = std::fs::read_to_string(&windows_path)
        .with_context(|| format!("reading {}", windows_path.display()))?;
    let labels: BTreeMap<String, Vec<[String; 2]>> = serde_json::from_str(&text).with_context(|| {
        format!("{}: expected {{\"file.csv\": [[start, end], ...]}}", windows_path.display())
    })?;
    if labels.is_empty() {
        bail!("{} lists no series", windows_path.display());
    }
    labels
        .into_iter()
        .map(|(name, windows)| {
            let path = dir.join(&name);
            let series =
                read_series(&path, Order::Strict).with_context(|| format!("reading {}", path.display()))?;
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
        .collect()
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

fn write_plots(folder: &Path, series: &[LabelledSeries], evaluation: &Evaluation) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    for (s, result) in series.iter().zip(&evaluation.series) {
        let shaded: Vec<(f64, f64)> =
            s.windows.iter().map(|w| (s.timestamps[w.left], s.timestamps[w.right])).collect();
        let alerts: Vec<f64> = result.alerts.iter().map(|&i| s.timestamps[i]).collect();
        let title = format!("{} (NAB score {:.2})", s.name, result.score.score);
        let chart = aiops_charts::SeriesChart {
            title: &title,
            value_label: "value",
            timestamps: &s.timestamps,
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
