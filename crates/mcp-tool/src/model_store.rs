//! The served model: [`aiops_artifacts::model::ModelStore`] (a local path or an `s3://` URI,
//! reloaded when the stored object changes), opened with the reference feature schema so that
//! only models trained on the features the tools compute are served.

pub use aiops_artifacts::model::{ModelSource, ModelStore, ModelVersion, S3Options, StoredModel};
use aiops_features::FeatureSchema;

use crate::Result;

/// Loads the model at `source`, checking it (and every reloaded one) was trained on the
/// reference features.
///
/// # Errors
/// [`crate::Error::Model`] when it cannot be read, is not an intact model, or was trained on
/// other features than the reference schema.
pub async fn open(source: ModelSource) -> Result<ModelStore> {
    Ok(ModelStore::open(source, Some(FeatureSchema::reference())).await?)
}
