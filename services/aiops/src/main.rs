//! `aiops`: turns Prometheus metrics into trained anomaly-detection models and serves them to
//! SREs and LLM agents. Each subcommand is a thin shell over a library crate.

mod args;
mod commands;
mod telemetry;

use clap::{Parser, Subcommand};

/// Anomaly detection for Kubernetes nodes: fetch metrics, compute features, train, serve.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    telemetry: telemetry::Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch one node metric (cpu, memory, disk, network) from Prometheus into a data CSV.
    Fetch(commands::fetch::Args),
    /// Compute the reference features (rolling mean/std, rate of change, hour) of a data CSV.
    Features(commands::features::Args),
    /// Train an Isolation Forest on a features CSV; write the model file and training metrics.
    Train(commands::train::Args),
    /// Score a CSV with a model: `[timestamp,]score,decision,prediction` per row.
    Score(commands::score::Args),
    /// Evaluate detectors on labelled benchmarks (`eval nab`: NAB's scoring rules).
    Eval(commands::eval::Args),
    /// Create or update the KServe InferenceService serving a model, and wait until it is Ready.
    Deploy(commands::deploy::Args),
    /// Compile the training pipeline for Kubeflow Pipelines, or run it on this machine.
    Pipeline(commands::pipeline::Args),
    /// The whole idea in seconds, offline: built-in CPU trace, train, score, report and chart.
    Demo(commands::demo::Args),
    /// Serve a model over the Open Inference Protocol (KServe v2 REST), with /metrics.
    ServeModel(commands::serve_model::Args),
    /// Serve the anomaly-detection MCP tools (streamable HTTP at /mcp) for KAgent and any MCP client.
    ServeMcp(commands::serve_mcp::Args),
    /// Score live node metrics every interval and export the verdicts as Prometheus metrics.
    Watch(commands::watch::Args),
}

impl Command {
    /// Whether the command reads, computes and writes whole tables and then exits (rather than
    /// serving): it allocates and frees large buffers block after block.
    fn works_on_whole_tables(&self) -> bool {
        matches!(
            self,
            Self::Features(_)
                | Self::Train(_)
                | Self::Score(_)
                | Self::Eval(_)
                | Self::Pipeline(_)
                | Self::Demo(_)
        )
    }
}

/// Keeps memory the program frees for its own next allocations. By default glibc hands every
/// freed allocation above 128 KiB back to the kernel, and the kernel must map and zero fresh
/// pages for the next one: a table command allocates and frees the buffers of each block, and
/// those page faults were a fifth of its time (issue 16: `train`, `score` and `features` on a
/// million rows 8-10 % faster with freed memory reused). Allocations below 32 MiB now come from
/// the heap and freed memory stays there for the next ones: the peak resident memory grows by
/// what is kept (measured +22 MB on 1,000,000 rows, +54 MB on 10,000,000, before the read
/// buffers were allocated whole), all returned at exit, which a table command reaches in
/// seconds. Servers keep the default. Other C libraries (the musl of the static image) are
/// left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_freed_memory_for_reuse() {
    // SAFETY: `mallopt` only sets the allocator's thresholds, under its own lock; both values
    // are in range, and memory already handed out is not affected.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory_for_reuse() {}

fn main() -> std::process::ExitCode {
    // ring is the one TLS provider linked in (reqwest, kube and object_store all use it); installed
    // process-wide before any client exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    // Held until exit: dropping it flushes the spans still buffered.
    let _telemetry = match telemetry::init(&cli.telemetry) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if cli.command.works_on_whole_tables() {
        keep_freed_memory_for_reuse();
    }
    let outcome = match cli.command {
        Command::Fetch(args) => commands::fetch::run(&args),
        Command::Features(args) => commands::features::run(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::Score(args) => commands::score::run(&args),
        Command::Eval(args) => commands::eval::run(&args),
        Command::Deploy(args) => commands::deploy::run(&args),
        Command::Pipeline(args) => commands::pipeline::run(&args),
        Command::Demo(args) => commands::demo::run(&args),
        Command::ServeModel(args) => commands::serve_model::run(&args),
        Command::ServeMcp(args) => commands::serve_mcp::run(&args),
        Command::Watch(args) => commands::watch::run(&args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            // The chain may carry remote text (a proxy's error page): no control character
            // reaches the terminal.
            eprintln!("error: {}", aiops_text::Escaped(format_args!("{error:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}
