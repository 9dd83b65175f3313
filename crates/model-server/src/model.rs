//! Finding, loading and re-loading the model file.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aiops_iforest::{MODEL_FILE_NAME, Model};

use crate::{Error, Result};

const MODEL_EXTENSION: &str = "iforest";

/// The model file `path` designates: `path` itself when it is a file, else `path/model.iforest`,
/// else the only `*.iforest` file in `path`, else the only regular file in `path` whatever its name
/// (KServe's storage initializer puts a downloaded model in `/mnt/models`; a Kubeflow Pipelines
/// train step's artifact is a file named `model`, with no extension).
///
/// # Errors
/// [`Error::ModelNotFound`] when the folder holds no candidate or several (the message lists
/// them), [`Error::Io`] when it cannot be listed.
pub fn resolve_model_file(path: &Path) -> Result<PathBuf> {
    let io = |source| Error::Io { path: path.to_owned(), source };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.is_file() {
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
                "{} {kind} and no {MODEL_FILE_NAME} ({}): name the file to serve",
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

/// What identifies a version of the file on disk without reading it: a replaced (renamed-over) or
/// rewritten file changes its modification time, length or inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self { modified: metadata.modified().ok(), len: metadata.len(), inode: inode(&metadata) })
    }
}

#[cfg(unix)]
fn inode(metadata: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(metadata)
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// A model ready to serve, with what it was loaded from.
#[derive(Debug)]
pub(crate) struct LoadedModel {
    pub(crate) model: Model,
    /// The model's content digest (changes only when the model does).
    pub(crate) digest: String,
    pub(crate) stamp: FileStamp,
}

impl LoadedModel {
    /// Reads and validates the model file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self> {
        let io = |source| Error::Io { path: path.to_owned(), source };
        // The stamp is taken first: if the file changes while being read, the next poll sees a
        // newer stamp and loads it again.
        let stamp = FileStamp::of(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let model =
            Model::from_bytes(&bytes).map_err(|source| Error::Model { path: path.to_owned(), source })?;
        let digest = model.digest();
        Ok(Self { model, digest, stamp })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.model.forest.n_features()
    }
}
