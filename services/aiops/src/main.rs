//! `aiops`: turns Prometheus metrics into trained anomaly-detection models and serves them to
//! SREs and LLM agents. Each subcommand is a thin shell over a library crate.

mod commands;

use clap::{Parser, Subcommand};

/// Anomaly detection for Kubernetes nodes: fetch metrics, compute features, train, serve.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch one node metric (cpu, memory, disk, network) from Prometheus into a data CSV.
    Fetch(commands::fetch::Args),
    /// Compute the reference features (rolling mean/std, rate of change, hour) of a data CSV.
    Features(commands::features::Args),
    /// Create or update the KServe InferenceService serving a model, and wait until it is Ready.
    Deploy(commands::deploy::Args),
    /// Compile the training pipeline for Kubeflow Pipelines, or run it on this machine.
    Pipeline(commands::pipeline::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Fetch(args) => commands::fetch::run(&args),
        Command::Features(args) => commands::features::run(&args),
        Command::Deploy(args) => commands::deploy::run(&args),
        Command::Pipeline(args) => commands::pipeline::run(&args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
