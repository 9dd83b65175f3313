//! The train step: features CSV in, model file and training metrics JSON out.

use std::path::{Path, PathBuf};

use aiops_iforest::{IsolationForest, IsolationForestParams, MODEL_FILE_NAME, Model, TrainingSummary};
use serde::Serialize;

use aiops_artifacts::table::{Table, read_table, standard_schema};
use aiops_artifacts::write_atomically;

use crate::Result;

/// The metrics JSON: the reference platform's fields first, then what else we know.
#[derive(Debug, Clone, Serialize)]
pub struct TrainMetrics<'a> {
    /// Counts, percentages, offset and score percentiles on the training data.
    #[serde(flatten)]
    pub summary: &'a TrainingSummary,
    /// The model's input columns.
    pub feature_names: &'a [String],
    /// The parameters used.
    pub params: &'a IsolationForestParams,
    /// SHA-256 of the model file (its content identifier).
    pub model_sha256: String,
}

/// Fits a forest on `table` and wraps it as a [`Model`], recording the feature schema when the
/// columns are the standard features.
///
/// # Errors
/// [`crate::Error::Model`] for bad parameters or data the forest refuses.
pub fn train(table: &Table, params: &IsolationForestParams) -> Result<Model> {
    let forest = IsolationForest::fit(params, table.values.view())?;
    let schema = standard_schema(&table.columns);
    Ok(Model::new(forest, table.columns.clone(), schema, table.values.view())?)
}

/// Where a model goes: `path` itself, or `path/model.iforest` when `path` is a folder.
pub fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(MODEL_FILE_NAME) } else { path.to_owned() }
}

/// Reads `features` (the chosen `columns`, default [`aiops_artifacts::table::default_columns`]), trains,
/// and writes the model and the metrics JSON atomically. Returns the model.
///
/// # Errors
/// Input errors naming the line, model errors, or I/O errors naming the file.
pub fn run(
    features: &Path,
    model_out: &Path,
    metrics_out: &Path,
    columns: Option<&[String]>,
    params: &IsolationForestParams,
) -> Result<Model> {
    let table = read_table(features, columns)?;
    let model = train(&table, params)?;
    let bytes = model.to_bytes();
    let metrics = TrainMetrics {
        summary: &model.metadata.training,
        feature_names: &model.metadata.feature_names,
        params: &model.metadata.params,
        model_sha256: model.digest(),
    };
    let metrics = serde_json::to_vec_pretty(&metrics)?;
    write_atomically(&model_file(model_out), |out| out.write_all(&bytes))?;
    write_atomically(metrics_out, |out| out.write_all(&metrics))?;
    Ok(model)
}
