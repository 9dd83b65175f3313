//! Finding, reading and checking a model file: the one loader of every command and server.
//!
//! A location is a model file, or a folder holding one: its `model.iforest`, else its only
//! `*.iforest` file, else its only regular file whatever its name (KServe's storage initializer
//! puts a downloaded model in `/mnt/models`; a Kubeflow Pipelines artifact is a file named
//! `model`). Files above [`MAX_MODEL_BYTES`] are refused before they are read. The forest crate
//! checks the bytes and every structural limit; this module then reads the feature schema the
//! forest stores as plain data, checks it (a known family, a bounded window) and that it names
//! the model's columns, so that scoring can refuse features computed another way.
//!
//! With the feature `object-store`, [`ModelSource`] reads the same way from a local path or an
//! `s3://` URI and tells model versions apart, and [`ModelStore`] keeps the model a server
//! serves, reloading it when its stored version changes.

use std::path::{Path, PathBuf};

use aiops_features::FeatureSchema;
use aiops_iforest::{MODEL_FILE_NAME, Model};

use crate::{Error, Result};

#[cfg(feature = "object-store")]
mod source;
#[cfg(feature = "object-store")]
pub use source::{ModelSource, ModelVersion, S3Options};
#[cfg(feature = "object-store")]
mod store;
#[cfg(feature = "object-store")]
pub use store::{ModelStore, ReloadResult, StoredModel};

/// Largest model file read: a reference model is about 1 MB, the largest forest the format
/// allows in practice a few hundred.
pub const MAX_MODEL_BYTES: u64 = 256 * 1024 * 1024;

const MODEL_EXTENSION: &str = "iforest";

/// A checked model, with its feature schema and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModel {
    /// The model.
    pub model: Model,
    /// The feature schema its columns were computed with, checked; `None` for other columns.
    pub schema: Option<FeatureSchema>,
    /// SHA-256 of the model file, in hex: its content identifier.
    pub digest: String,
    /// Where it was read from, for messages.
    pub location: String,
}

impl LoadedModel {
    /// Checks a model already in memory (just trained, or decoded elsewhere).
    ///
    /// # Errors
    /// [`Error::SchemaFormat`], [`Error::Schema`] or [`Error::Columns`] when the recorded schema
    /// is unreadable, invalid, or names other columns than the model's.
    pub fn new(model: Model, location: &str) -> Result<Self> {
        let schema = recorded_schema(&model, location)?;
        Ok(Self { digest: model.digest(), model, schema, location: location.to_owned() })
    }

    /// Decodes and checks the bytes of a model file read from `location`.
    ///
    /// # Errors
    /// [`Error::Model`] when the forest refuses the bytes, else as [`LoadedModel::new`].
    pub fn from_bytes(bytes: &[u8], location: &str) -> Result<Self> {
        let model = Model::from_bytes(bytes)
            .map_err(|source| Error::Model { location: location.to_owned(), source })?;
        Self::new(model, location)
    }

    /// Refuses to go on when features computed with `computed` are not what the model was
    /// trained on: another family, version or window (the value column's name may differ), or,
    /// for a model trained on other columns, other column names.
    ///
    /// # Errors
    /// [`Error::Schema`] describing both schemas, or [`Error::Columns`].
    pub fn check_features(&self, computed: &FeatureSchema) -> Result<()> {
        match &self.schema {
            Some(expected) => computed
                .check_compatible(expected)
                .map_err(|source| Error::Schema { location: self.location.clone(), source }),
            None if computed.columns == self.model.metadata.feature_names => Ok(()),
            None => Err(Error::Columns {
                location: self.location.clone(),
                problem: format!(
                    "trained on columns {:?}, not the features {:?}",
                    self.model.metadata.feature_names, computed.columns
                ),
            }),
        }
    }
}

/// The schema `model` records, parsed and checked, whose columns must be the model's.
fn recorded_schema(model: &Model, location: &str) -> Result<Option<FeatureSchema>> {
    let Some(value) = &model.metadata.feature_schema else {
        return Ok(None);
    };
    let location = location.to_owned();
    let schema: FeatureSchema = serde_json::from_value(value.clone())
        .map_err(|source| Error::SchemaFormat { location: location.clone(), source })?;
    let schema = schema.check().map_err(|source| Error::Schema { location: location.clone(), source })?;
    if schema.columns != model.metadata.feature_names {
        return Err(Error::Columns {
            location,
            problem: format!(
                "the feature schema names columns {:?}, the model {:?}",
                schema.columns, model.metadata.feature_names
            ),
        });
    }
    Ok(Some(schema))
}

/// `schema` as a model records it ([`aiops_iforest::ModelMetadata::feature_schema`]).
pub fn schema_record(schema: &FeatureSchema) -> serde_json::Value {
    // A schema is strings and integers: it always converts.
    serde_json::to_value(schema).unwrap_or_default()
}

/// The model file `path` designates: `path` itself when it is a file, else `path/model.iforest`,
/// else the only `*.iforest` file in `path`, else the only regular file in `path`.
///
/// # Errors
/// [`Error::ModelNotFound`] when the folder holds no candidate or several (the message lists
/// them), [`Error::Io`] when it cannot be listed.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    if std::fs::metadata(path).map_err(io)?.is_file() {
        return Ok(path.to_owned());
    }
    let standard = path.join(MODEL_FILE_NAME);
    if standard.is_file() {
        return Ok(standard);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let candidate = entry.map_err(io)?.path();
        if candidate.is_file() {
            files.push(candidate);
        }
    }
    files.sort();
    let (models, others): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| f.extension().is_some_and(|e| e == MODEL_EXTENSION));
    let (kind, candidates) = if models.is_empty() {
        ("regular files".to_owned(), others)
    } else {
        (format!("*.{MODEL_EXTENSION} files"), models)
    };
    match <[PathBuf; 1]>::try_from(candidates) {
        Ok([only]) => Ok(only),
        Err(candidates) if candidates.is_empty() => Err(Error::ModelNotFound {
            path: path.to_owned(),
            reason: format!("expected {MODEL_FILE_NAME}, one *.{MODEL_EXTENSION} file or a single file"),
        }),
        Err(candidates) => Err(Error::ModelNotFound {
            path: path.to_owned(),
            reason: format!(
                "{} {kind} and no {MODEL_FILE_NAME} ({}): name the file",
                candidates.len(),
                file_names(&candidates)
            ),
        }),
    }
}

/// The names of `files`, for an error message: `a.iforest, b.iforest`.
fn file_names(files: &[PathBuf]) -> String {
    let names: Vec<_> = files.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy()).collect();
    names.join(", ")
}

/// Reads and checks the model file `file` (already resolved), refusing one above
/// [`MAX_MODEL_BYTES`] before reading it.
///
/// # Errors
/// [`Error::Io`], [`Error::ModelTooLarge`], else as [`LoadedModel::from_bytes`].
pub fn read(file: &Path) -> Result<LoadedModel> {
    let io = |source| Error::Io { path: file.to_owned(), source };
    let bytes = std::fs::metadata(file).map_err(io)?.len();
    if bytes > MAX_MODEL_BYTES {
        return Err(Error::ModelTooLarge { path: file.to_owned(), bytes, limit: MAX_MODEL_BYTES });
    }
    // bounded again while read: a device or a growing file has no meaningful length
    let bytes = aiops_bounded::read_file(file, MAX_MODEL_BYTES).map_err(io)?;
    LoadedModel::from_bytes(&bytes, &file.display().to_string())
}

/// [`resolve`]s `path` and [`read`]s the model file it designates.
///
/// # Errors
/// As [`resolve`] and [`read`].
pub fn load(path: &Path) -> Result<LoadedModel> {
    read(&resolve(path)?)
}
