//! The local runner: features, train, score and report over a data CSV, writing the same
//! artifacts as the Kubeflow pipeline (data CSV, features CSV, model file, metrics JSON) plus
//! scores, incidents and a chart. `aiops demo` feeds it the built-in trace; `aiops pipeline run`
//! feeds it what `fetch` got from Prometheus ([`fetch_train_and_report`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForestParams, MODEL_FILE_NAME, Model};
use aiops_incidents::{CheckedDetectorParams, Incident, detect};

use aiops_promclient::{Progress, PromClient};

use crate::fetch_step::{self, FetchRequest};
use aiops_artifacts::series::{Order, Series, read_series};
use aiops_artifacts::table::read_table;
use aiops_artifacts::{Format, write_atomically};

use crate::{Result, features_step, score_step, train_step};

/// The artifact files of one run, all inside one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// `data.csv`: `timestamp,cpu_usage`.
    pub data: PathBuf,
    /// `features.csv`.
    pub features: PathBuf,
    /// `model.iforest`.
    pub model: PathBuf,
    /// `metrics.json`: the reference's training metrics.
    pub metrics: PathBuf,
    /// `scores.csv`: `timestamp,score,decision,prediction`.
    pub scores: PathBuf,
    /// `incidents.json`: anomaly periods.
    pub incidents: PathBuf,
    /// `chart.png`: the series with anomalies and incidents marked.
    pub chart: PathBuf,
}

impl Artifacts {
    /// The standard names inside `folder`.
    pub fn in_folder(folder: &Path) -> Self {
        Self {
            data: folder.join("data.csv"),
            features: folder.join("features.csv"),
            model: folder.join(MODEL_FILE_NAME),
            metrics: folder.join("metrics.json"),
            scores: folder.join("scores.csv"),
            incidents: folder.join("incidents.json"),
            chart: folder.join("chart.png"),
        }
    }

    /// Every artifact path, in the order the steps write them.
    pub fn all(&self) -> [&Path; 7] {
        [&self.data, &self.features, &self.model, &self.metrics, &self.scores, &self.incidents, &self.chart]
    }

    /// Deletes whichever artifacts exist, so that a failed run leaves no mix of new and stale files.
    fn remove_all(&self) {
        for path in self.all() {
            // A missing file is the expected case; anything else would only hide the run's error.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A finished step, for progress display.
#[derive(Debug, Clone)]
pub struct StepDone {
    /// Step name (`features`, `train`, `score`, `report`).
    pub name: &'static str,
    /// What it produced, in a few words.
    pub detail: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// What a run found.
#[derive(Debug)]
pub struct RunSummary {
    /// The input series.
    pub series: Series,
    /// The trained model (its metadata holds the training metrics).
    pub model: Model,
    /// Per-point prediction (-1 anomaly, 1 normal).
    pub predictions: Vec<i64>,
    /// Anomaly periods, in time order.
    pub incidents: Vec<Incident>,
    /// Where everything was written.
    pub artifacts: Artifacts,
}

fn timed<T>(
    name: &'static str,
    progress: &mut dyn FnMut(&StepDone),
    step: impl FnOnce() -> Result<(T, String)>,
) -> Result<T> {
    let started = Instant::now();
    let (value, detail) = step()?;
    progress(&StepDone { name, detail, elapsed: started.elapsed() });
    Ok(value)
}

/// Runs features, train, score and the report over `artifacts.data` (which must exist),
/// calling `progress` after each step.
///
/// # Errors
/// The first step's error: bad input (line named), refused parameters, or I/O.
pub fn train_and_report(
    artifacts: &Artifacts,
    params: &IsolationForestParams,
    chart_title: &str,
    progress: &mut dyn FnMut(&StepDone),
) -> Result<RunSummary> {
    let schema = FeatureSchema::reference();
    let rows = timed("features", progress, || {
        let schema_out = features_step::schema_file(&artifacts.features);
        let rows = features_step::run(
            &schema,
            &artifacts.data,
            &artifacts.features,
            &schema_out,
            Order::Strict,
            None,
        )?;
        Ok((rows, format!("{rows} rows x {} columns", schema.columns.len())))
    })?;
    let model = timed("train", progress, || {
        let model = train_step::run(
            &artifacts.features,
            None,
            &artifacts.model,
            &artifacts.metrics,
            None,
            params,
            None,
        )?;
        let detail = format!("{} trees on {rows} rows", params.n_estimators);
        Ok((model, detail))
    })?;
    let scores = timed("score", progress, || {
        let table = read_table(&artifacts.features, Some(&model.metadata.feature_names))?;
        let scores = score_step::score(&model, &table)?;
        write_atomically(&artifacts.scores, |out| {
            score_step::write_scores(out, Format::of(&artifacts.scores), table.timestamps.as_ref(), &scores)
        })?;
        let anomalies = scores.prediction.iter().filter(|&&p| p == -1).count();
        Ok((scores, format!("{anomalies} anomalous points")))
    })?;
    let series = read_series(&artifacts.data, Order::Strict)?;
    let incidents = timed("report", progress, || {
        // the one incident policy of every command; the forest's per-point predictions stay in
        // the scores file and the chart
        let incidents =
            detect(&CheckedDetectorParams::default(), &series.timestamps, &series.values)?.incidents;
        let json = serde_json::to_vec_pretty(&incidents)?;
        write_atomically(&artifacts.incidents, |out| out.write_all(&json))?;
        let anomalies: Vec<usize> =
            scores.prediction.iter().enumerate().filter(|(_, p)| **p == -1).map(|(i, _)| i).collect();
        let shaded: Vec<(f64, f64)> = incidents.iter().map(|i| (i.onset, i.end)).collect();
        let chart = aiops_charts::SeriesChart {
            title: chart_title,
            value_label: &series.value_column,
            timestamps: &series.timestamps,
            values: &series.values,
            anomalies: &anomalies,
            shaded: &shaded,
            alerts: &[],
        };
        let png = aiops_charts::render_png(&chart, 1400, 500)?;
        write_atomically(&artifacts.chart, |out| out.write_all(&png))?;
        let detail = format!("{} anomaly periods", incidents.len());
        Ok((incidents, detail))
    })?;
    Ok(RunSummary { series, model, predictions: scores.prediction, incidents, artifacts: artifacts.clone() })
}

/// Fetches `request` from Prometheus into `artifacts.data`, then runs [`train_and_report`]:
/// the whole local pipeline. `fetch_progress` sees the fetch's chunks, `progress` each finished
/// step (`fetch` first). On any error every artifact in the folder is deleted, so a failed run
/// leaves no partial or stale output.
///
/// # Errors
/// The first step's error: the fetch's (no data for the instance, with the instances that
/// have data; Prometheus unreachable), then as [`train_and_report`].
pub async fn fetch_train_and_report(
    client: &PromClient,
    request: &FetchRequest,
    artifacts: &Artifacts,
    params: &IsolationForestParams,
    chart_title: &str,
    fetch_progress: Progress<'_>,
    progress: &mut dyn FnMut(&StepDone),
) -> Result<RunSummary> {
    let run = async {
        let started = Instant::now();
        let rows =
            fetch_step::run(client, request, &artifacts.data, Format::of(&artifacts.data), fetch_progress)
                .await?;
        let detail = format!("{rows} rows of {}", request.metric.value_column());
        progress(&StepDone { name: "fetch", detail, elapsed: started.elapsed() });
        train_and_report(artifacts, params, chart_title, progress)
    };
    let summary = run.await;
    if summary.is_err() {
        artifacts.remove_all();
    }
    summary
}

/// A time as `YYYY-MM-DD HH:MM` (UTC) for reports.
pub fn format_utc(t: f64) -> String {
    chrono::DateTime::from_timestamp(t as i64, 0)
        .map_or_else(|| t.to_string(), |d| d.format("%Y-%m-%d %H:%M").to_string())
}

/// A duration as `N min` or `HhMM` for reports.
///
/// ```
/// use aiops_pipeline::runner::format_duration;
/// assert_eq!(format_duration(1800.0), "30 min");
/// assert_eq!(format_duration(5400.0), "1h30");
/// ```
pub fn format_duration(seconds: f64) -> String {
    let minutes = (seconds / 60.0).round() as i64;
    if minutes < 60 { format!("{minutes} min") } else { format!("{}h{:02}", minutes / 60, minutes % 60) }
}

/// One report line per anomaly period: number, start, end, duration (counting the last point's
/// `step_seconds`), peak value and severity, under [`INCIDENT_TABLE_HEADER`].
pub fn incident_rows(incidents: &[Incident], series: &Series, step_seconds: f64) -> Vec<String> {
    incidents
        .iter()
        .enumerate()
        .map(|(n, incident)| {
            let peak = series.values[incident.onset_index..=incident.end_index]
                .iter()
                .copied()
                .fold(f64::MIN, f64::max);
            format!(
                "{:<3} {:<17} {:<17} {:>8} {:>7.1}  {:<9}",
                n + 1,
                format_utc(incident.onset),
                format_utc(incident.end),
                format_duration(incident.end - incident.onset + step_seconds),
                peak,
                format!("{:?}", incident.severity).to_lowercase(),
            )
        })
        .collect()
}

/// The header of [`incident_rows`].
pub const INCIDENT_TABLE_HEADER: &str = "#   start             end               duration     peak  severity";
