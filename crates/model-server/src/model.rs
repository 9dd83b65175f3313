//! Finding the model file in a folder.

use std::path::{Path, PathBuf};

use crate::Result;

/// The model file `path` designates (a file, or a folder holding one) by the rules every
/// command uses, [`aiops_artifacts::model::resolve`].
///
/// # Errors
/// [`crate::Error::Artifact`] when the folder holds no candidate or several, or cannot be listed.
pub fn resolve_model_file(path: &Path) -> Result<PathBuf> {
    Ok(aiops_artifacts::model::resolve(path)?)
}
