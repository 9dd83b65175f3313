//! `--s3-endpoint` and `--s3-region`, and the one way a command reads a model given by `--model`:
//! a local file or folder, or `s3://bucket/key`, through [`ModelSource`].

use aiops_artifacts::model::{LoadedModel, ModelSource, S3Options};
use anyhow::Context;

/// How to reach S3-compatible storage for an `s3://` model, besides the standard `AWS_*`
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL`, ...).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct S3Args {
    /// Endpoint of S3-compatible storage (MinIO, moto), e.g. `http://minio-service.kubeflow:9000`.
    #[arg(long, env = "AIOPS_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Region of the bucket (S3-compatible servers accept any).
    #[arg(long, env = "AIOPS_S3_REGION")]
    s3_region: Option<String>,
}

impl S3Args {
    /// The options of [`ModelSource::parse`].
    pub(crate) fn options(&self) -> S3Options {
        S3Options { endpoint: self.s3_endpoint.clone(), region: self.s3_region.clone() }
    }
}

/// Reads and checks the model at `location` (a local file or folder, or `s3://bucket/key`) once,
/// for the commands that do not run an async runtime of their own yet.
///
/// # Errors
/// The location is unusable, or the model cannot be read or is refused.
pub(crate) fn load_model(location: &str, s3: &S3Args) -> anyhow::Result<LoadedModel> {
    let source = ModelSource::parse(location, &s3.options())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (model, _version) =
        runtime.block_on(source.load()).with_context(|| format!("loading the model {}", source.display()))?;
    Ok(model)
}
