//! `aiops demo [--out demo-out]`: the whole idea in seconds, with no Prometheus, cluster or
//! network: a built-in week of node CPU with injected incidents, features, training with the
//! reference parameters, scoring, and a report of the anomaly periods found.

use std::path::PathBuf;
use std::time::Duration;

use aiops_artifacts::write_atomically;
use aiops_iforest::IsolationForestParams;
use aiops_pipeline::demo_trace::{self, TraceParams};
use aiops_pipeline::runner::{self, Artifacts, StepDone};
use anyhow::Context;

use crate::args::{limits, values};

/// Arguments of `aiops demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Folder for the artifacts (data, features, model, metrics, scores, incidents, chart).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Days of built-in CPU trace.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Time between points: `60s`, `5m` (whole seconds; a bare number is seconds).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = |text: &str| values::duration(text, &limits::STEP))]
    step: Duration,
    /// Seed of the trace's noise.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let step_seconds = u32::try_from(args.step.as_secs())?;
    let params =
        TraceParams { days: args.days, step_seconds, seed: args.seed, ..TraceParams::default() }.check()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let artifacts = Artifacts::in_folder(&args.out);
    let trace = demo_trace::generate(&params);
    write_atomically(&artifacts.data, |out| trace.write_data_csv(out))?;
    eprintln!(
        "aiops demo: {} days of node CPU at {step_seconds} s ({} points) with {} injected incidents, no network\n",
        args.days,
        trace.values.len(),
        trace.incidents.len()
    );
    let forest = IsolationForestParams::reference();
    let mut step = 0;
    let mut progress = |done: &StepDone| {
        step += 1;
        eprintln!("  [{step}/4] {:<8} {:<40} {:>8.2} s", done.name, done.detail, done.elapsed.as_secs_f64());
    };
    let summary = runner::train_and_report(
        &artifacts,
        &forest,
        "aiops demo: node CPU, anomalies in red",
        &mut progress,
    )?;

    let training = &summary.model.metadata.training;
    println!("\nTraining metrics (the reference's):");
    println!("  training_samples     {}", training.training_samples);
    println!("  normal_samples       {} ({:.2}%)", training.normal_samples, training.normal_percentage);
    println!(
        "  anomalies_detected   {} ({:.2}%)",
        training.anomalies_detected, training.anomalies_percentage
    );
    println!("  threshold (offset)   {:.4}", training.offset);
    println!("  mean score           {:.4}", training.score_mean);

    println!("\nAnomaly periods (UTC):");
    println!("  {}  injected", runner::INCIDENT_TABLE_HEADER);
    let rows = runner::incident_rows(&summary.incidents, &summary.series, f64::from(step_seconds));
    let mut found = 0;
    for (incident, row) in summary.incidents.iter().zip(rows) {
        let injected = trace.incidents.iter().find(|i| i.start <= incident.end && incident.onset <= i.end);
        found += usize::from(injected.is_some());
        println!("  {row}  {}", injected.map_or("-", |i| i.kind.describe()));
    }
    let detected = trace
        .incidents
        .iter()
        .filter(|i| summary.incidents.iter().any(|f| i.start <= f.end && f.onset <= i.end))
        .count();
    println!(
        "\nDetected {detected} of {} injected incidents; {} other periods.",
        trace.incidents.len(),
        summary.incidents.len() - found
    );
    let a = &summary.artifacts;
    println!("\nArtifacts in {}:", args.out.display());
    for path in [&a.data, &a.features, &a.model, &a.metrics, &a.scores, &a.incidents, &a.chart] {
        println!("  {}", path.display());
    }
    println!("\nServe the model:");
    println!("  aiops serve-model --model {} --model-name aiops-iforest", args.out.display());
    println!("  aiops serve-mcp --prometheus-url http://127.0.0.1:9090 --model {}", a.model.display());
    Ok(())
}
