//! `aiops deploy --storage-uri URI [--name N] [--namespace NS] [--canary-percent P] [--dry-run]`

use std::time::Duration;

use aiops_kube::deploy::{self, DeployRequest, MODEL_FORMAT};
use anyhow::Context;

/// Arguments of `aiops deploy`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the model folder lives (`s3://`, `gs://`, `pvc://`, `https://`...). A KFP model
    /// artifact URI is accepted as is (`minio://` becomes `s3://`).
    #[arg(long, visible_alias = "model-artifact-uri")]
    storage_uri: String,
    /// InferenceService name.
    #[arg(long, default_value = "aiops-iforest")]
    name: String,
    /// Namespace (default: the kubeconfig context's, or the pod's own in a cluster).
    #[arg(long)]
    namespace: Option<String>,
    /// Service account whose credentials KServe uses to download the model.
    #[arg(long)]
    service_account: Option<String>,
    /// ServingRuntime to use (default: any runtime that supports the model format).
    #[arg(long)]
    runtime: Option<String>,
    /// Model format name the runtime declares.
    #[arg(long, default_value = MODEL_FORMAT)]
    model_format: String,
    /// Send this percentage of traffic to the new model (KServe canaryTrafficPercent, 0-100).
    #[arg(long)]
    canary_percent: Option<u8>,
    /// Seconds to wait for the InferenceService to become Ready.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Return right after applying, without waiting for Ready.
    #[arg(long)]
    no_wait: bool,
    /// Print the manifest as YAML and touch nothing.
    #[arg(long)]
    dry_run: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let deployment = DeployRequest {
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        service_account: args.service_account.clone(),
        runtime: args.runtime.clone(),
        model_format: args.model_format.clone(),
        storage_uri: args.storage_uri.clone(),
        canary_percent: args.canary_percent,
    }
    .check()?;
    if args.dry_run {
        print!("{}", deployment.manifest_yaml()?);
        return Ok(());
    }
    let timeout = (!args.no_wait).then(|| Duration::from_secs(args.timeout));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let url = runtime
        .block_on(deploy::run(&deployment, timeout))
        .with_context(|| format!("deploying InferenceService {}", deployment.name()))?;
    match (timeout, url) {
        (None, _) => eprintln!("applied InferenceService {} (not waiting for Ready)", deployment.name()),
        (Some(_), Some(url)) => {
            eprintln!("InferenceService {} is Ready", deployment.name());
            println!("{url}");
        }
        (Some(_), None) => {
            eprintln!("InferenceService {} is Ready (KServe published no URL)", deployment.name());
        }
    }
    Ok(())
}
