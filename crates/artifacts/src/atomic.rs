//! All-or-nothing file output: write to a temporary file in the destination's folder, then rename.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Writes `path` through `write`, atomically: the file appears complete or not at all, and an
/// existing file is replaced only when `write` succeeded. Missing parent folders are created.
///
/// # Errors
/// [`Error::Io`] naming `path` when the folder is not writable or `write` fails.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let io_error = |source| Error::Io { path: path.to_owned(), source };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A missing output folder is created (like `out/` in the quick start); only the file itself
    // is all-or-nothing.
    std::fs::create_dir_all(folder).map_err(io_error)?;
    let mut temp = tempfile::NamedTempFile::new_in(folder).map_err(io_error)?;
    {
        let mut buffered = std::io::BufWriter::new(temp.as_file_mut());
        write(&mut buffered).map_err(io_error)?;
        buffered.flush().map_err(io_error)?;
    }
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}
