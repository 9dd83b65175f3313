//! `aiops pipeline compile --image IMAGE --output pipeline.yaml` and `aiops pipeline run ...`

use std::path::PathBuf;

use aiops_pipeline_steps::kfp::{self, CompileOptions};
use aiops_pipeline_steps::write_atomically;

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
