//! Whole-file reads with a size limit.

use std::io::Read;
use std::path::Path;

/// The bytes of the file at `path`, refused (`InvalidData`, naming the limit) when its length
/// is over `limit` before anything is read, or once more than `limit` bytes have been read: a
/// file's length may be unknown (a device, a pipe) or grow while it is read.
///
/// ```
/// let file = tempfile::NamedTempFile::new().unwrap();
/// std::fs::write(file.path(), b"0123456789").unwrap();
/// assert_eq!(aiops_bounded::read_file(file.path(), 10).unwrap(), b"0123456789");
/// let error = aiops_bounded::read_file(file.path(), 9).unwrap_err();
/// assert_eq!(error.to_string(), "larger than 9 bytes");
/// ```
///
/// # Errors
/// The file's I/O error, or `InvalidData` when it is larger than `limit`.
pub fn read_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let too_large =
        || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("larger than {}", size(limit)));
    let file = std::fs::File::open(path)?;
    let length = file.metadata()?.len();
    if length > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(length as usize);
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// `bytes` in whole MiB or KiB when it is a multiple of one.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}
