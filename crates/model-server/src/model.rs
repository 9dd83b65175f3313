//! Finding, loading and re-loading the model file.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aiops_iforest::Model;

use crate::{Error, Result};

/// The model file `path` designates (a file, or a folder holding one) by the rules every
/// command uses, [`aiops_artifacts::model::resolve`].
///
/// # Errors
/// [`Error::Artifact`] when the folder holds no candidate or several, or cannot be listed.
pub fn resolve_model_file(path: &Path) -> Result<PathBuf> {
    Ok(aiops_artifacts::model::resolve(path)?)
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
        let loaded = aiops_artifacts::model::read(path)?;
        Ok(Self { model: loaded.model, digest: loaded.digest, stamp })
    }

    pub(crate) fn n_features(&self) -> usize {
        self.model.forest.n_features()
    }
}
