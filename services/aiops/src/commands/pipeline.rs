//! `aiops pipeline compile --image IMAGE --output pipeline.yaml` and `aiops pipeline run ...`

use std::path::PathBuf;
use std::time::Duration;

use aiops_artifacts::write_atomically;
use aiops_kube::kfp::{self, CompileOptions};
use aiops_pipeline::fetch_step::RawFetchRequest;
use aiops_pipeline::runner::{self, Artifacts, StepDone};
use anyhow::Context;

use super::fetch::{ChunkProgress, check_span, step_text};
use crate::args::{ForestArgs, PrometheusArgs, limits, values};

/// Arguments of `aiops pipeline`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: PipelineCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PipelineCommand {
    /// Compile the training pipeline to a Kubeflow Pipelines v2 IR YAML (upload it to KFP).
    Compile(CompileArgs),
    /// Run fetch, features, train and score on this machine, writing the KFP artifacts to --out.
    // Boxed: the run arguments (connection, forest, output) are several times the compile ones.
    Run(Box<RunArgs>),
}

/// Arguments of `aiops pipeline run`.
#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    connection: PrometheusArgs,
    /// Node-exporter instance, `ip:port` or `host:port`.
    #[arg(long)]
    instance: String,
    /// Train on the last HOURS hours, at most 8784 (366 days).
    #[arg(long, value_parser = values::hours)]
    hours: f64,
    /// Folder for the artifacts (data.csv, features.csv, model.iforest, metrics.json, scores.csv,
    /// incidents.json, chart.png).
    #[arg(long)]
    out: PathBuf,
    /// Step between points: `10s`, `1m`, ... (whole seconds, at most a day).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// Metric: cpu, memory, disk or network.
    #[arg(long, default_value = "cpu", value_parser = aiops_promclient::METRIC_NAMES)]
    metric: String,
    #[command(flatten)]
    forest: ForestArgs,
}

/// Arguments of `aiops pipeline compile`.
#[derive(Debug, clap::Args)]
struct CompileArgs {
    /// Container image with the aiops binary that every step runs.
    #[arg(long)]
    image: String,
    /// Where to write the pipeline YAML.
    #[arg(long)]
    output: PathBuf,
    /// Pipeline name.
    #[arg(long, default_value = "aiops-training")]
    name: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    match &args.command {
        PipelineCommand::Compile(args) => compile(args),
        PipelineCommand::Run(args) => run_locally(args),
    }
}

fn compile(args: &CompileArgs) -> anyhow::Result<()> {
    let options = CompileOptions { name: args.name.clone(), ..CompileOptions::for_image(&args.image) };
    let yaml = kfp::compile_yaml(&options)?;
    write_atomically(&args.output, |out| out.write_all(yaml.as_bytes()))?;
    eprintln!(
        "wrote pipeline {} ({} steps) to {}",
        options.name,
        kfp::COMPONENTS.len(),
        args.output.display()
    );
    Ok(())
}

fn run_locally(args: &RunArgs) -> anyhow::Result<()> {
    let request = RawFetchRequest {
        instance: args.instance.clone(),
        metric: args.metric.clone(),
        hours: Some(args.hours),
        step: step_text(args.step),
        ..RawFetchRequest::default()
    }
    .check()?;
    check_span(&request)?;
    let forest = args.forest.params()?;
    let client = aiops_promclient::PromClient::new(args.connection.client_config()?)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let artifacts = Artifacts::in_folder(&args.out);
    let mut step = 0;
    let mut progress = |done: &StepDone| {
        step += 1;
        eprintln!("  [{step}/5] {:<8} {:<40} {:>8.2} s", done.name, done.detail, done.elapsed.as_secs_f64());
    };
    let title = format!("aiops pipeline run: {} of {}", request.metric.value_column(), request.instance);
    let fetch_progress = ChunkProgress::on_terminal();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let summary = runtime
        .block_on(runner::fetch_train_and_report(
            &client,
            &request,
            &artifacts,
            &forest,
            &title,
            Some(&|done, total| fetch_progress.report(done, total)),
            &mut progress,
        ))
        .with_context(|| format!("pipeline run for {}", request.instance))?;

    let anomalies = summary.predictions.iter().filter(|&&p| p == -1).count();
    println!(
        "\n{} rows, {anomalies} anomalous points, {} anomaly periods (UTC):",
        summary.series.values.len(),
        summary.incidents.len()
    );
    println!("  {}", runner::INCIDENT_TABLE_HEADER);
    let step_seconds = request.step.as_secs_f64();
    for row in runner::incident_rows(&summary.incidents, &summary.series, step_seconds) {
        println!("  {row}");
    }
    println!("\nArtifacts in {}:", args.out.display());
    for path in artifacts.all() {
        println!("  {}", path.display());
    }
    Ok(())
}
