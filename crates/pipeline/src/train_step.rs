//! The train step: features CSV in, model file and training metrics JSON out.

use std::path::{Path, PathBuf};

use aiops_artifacts::model::schema_record;
use aiops_features::FeatureSchema;
use aiops_iforest::{IsolationForest, IsolationForestParams, MODEL_FILE_NAME, Model, TrainingSummary};
use serde::Serialize;

use aiops_artifacts::Format;
use aiops_artifacts::table::{Table, TableReader, standard_schema};
use aiops_artifacts::write_atomically;

use crate::features_step::schema_file;
use crate::{Error, Result};

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

/// Fits a forest on `table` and wraps it as a [`Model`], recording `schema`: the feature schema
/// the columns were computed with (see [`feature_schema`]), or `None` for other columns.
///
/// # Errors
/// [`crate::Error::Model`] for bad parameters or data the forest refuses.
pub fn train(table: &Table, schema: Option<&FeatureSchema>, params: &IsolationForestParams) -> Result<Model> {
    let (forest, scores) = IsolationForest::fit_scored(params, table.values.view())?;
    let schema = schema.map(schema_record);
    let scores = scores.as_slice().unwrap_or_default();
    Ok(Model::from_training_scores(forest, table.columns.clone(), schema, scores)?)
}

/// The largest feature schema file read (a schema is a few hundred bytes).
const MAX_SCHEMA_BYTES: u64 = 16 << 20;

/// The feature schema `table` (read from `features`) was computed with, when its columns are the
/// standard features: the one the features step recorded in `schema` when given (which must
/// exist: a pipeline passes it as an artifact), else in [`schema_file`]`(features)` when that
/// exists, else (a features table made elsewhere) the reference schema. Other columns have no
/// schema.
///
/// # Errors
/// [`crate::Error::Artifact`] when the schema file cannot be read (a given one also when it is
/// missing); [`crate::Error::InvalidParameter`] naming `feature schema` when it is not a valid
/// schema or names other columns than the table's.
pub fn feature_schema(
    features: &Path,
    schema: Option<&Path>,
    table: &Table,
) -> Result<Option<FeatureSchema>> {
    let Some(standard) = standard_schema(&table.columns) else {
        return Ok(None);
    };
    let path = schema.map_or_else(|| schema_file(features), Path::to_owned);
    let bytes = match aiops_bounded::read_file(&path, MAX_SCHEMA_BYTES) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && schema.is_none() => {
            return Ok(Some(standard));
        }
        Err(source) => return Err(aiops_artifacts::Error::Io { path, source }.into()),
    };
    let invalid = |reason: String| Error::InvalidParameter { field: "feature schema", reason };
    let recorded: FeatureSchema =
        serde_json::from_slice(&bytes).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let recorded = recorded.check().map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    if recorded.columns != table.columns {
        return Err(invalid(format!(
            "{} records columns {:?}, but {} has {:?}",
            path.display(),
            recorded.columns,
            features.display(),
            table.columns
        )));
    }
    Ok(Some(recorded))
}

/// Where a model goes: `path` itself, or `path/model.iforest` when `path` is a folder.
pub fn model_file(path: &Path) -> PathBuf {
    if path.is_dir() { path.join(MODEL_FILE_NAME) } else { path.to_owned() }
}

/// Reads `features` (in `format`, or as its name says; the chosen `columns`, default
/// [`aiops_artifacts::table::default_columns`]) and the feature schema they were computed with
/// (`schema`, see [`feature_schema`]), trains, and writes the model and the metrics JSON
/// atomically. Returns the model.
///
/// # Errors
/// Input errors naming the line, model errors, or I/O errors naming the file.
pub fn run(
    features: &Path,
    schema: Option<&Path>,
    model_out: &Path,
    metrics_out: &Path,
    columns: Option<&[String]>,
    params: &IsolationForestParams,
    format: Option<Format>,
) -> Result<Model> {
    let reader = TableReader::open(features, Format::resolve(features, format), columns)?;
    let table = reader.without_timestamps().read_all()?;
    let schema = feature_schema(features, schema, &table)?;
    let model = train(&table, schema.as_ref(), params)?;
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
