//! All-or-nothing file output: write to a temporary file in the destination's folder, then rename.
//!
//! Outputs are created like any other file (mode 0666 less the umask, so 0644 usually: a pipeline
//! step running as another user can read them), and a temporary file left by an interrupted write
//! is removed: on SIGINT or SIGTERM the process deletes the temporary files being written and
//! exits with 128 + the signal number.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

use crate::{Error, Result};

/// Temporary files being written, removed if the process is interrupted.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Writes `path` through `write`, atomically: the file appears complete or not at all, and an
/// existing file is replaced only when `write` succeeded. Missing parent folders are created.
///
/// # Errors
/// [`Error::Io`] naming `path` when the folder is not writable or `write` fails.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
) -> Result<()> {
    write_atomically_with(path, |out| {
        write(out).map_err(|source| Error::Io { path: path.to_owned(), source })
    })
}

/// [`write_atomically`] for a `write` that fails with the caller's own error (a streaming step
/// that reads, computes and writes as it goes): the file appears only when `write` succeeded.
///
/// # Errors
/// `write`'s error, or [`Error::Io`] (converted) naming `path`.
pub fn write_atomically_with<E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> Result<(), E>,
) -> Result<(), E> {
    remove_on_interruption();
    write_through_temp(path, write)
}

/// [`write_atomically`] for a long-running server that handles SIGINT and SIGTERM itself (and
/// writes once more on them, e.g. a last checkpoint): it does not install the handler that
/// exits on those signals, so an interrupted write may leave a `.aiops-*.tmp` file behind.
///
/// # Errors
/// As [`write_atomically`].
pub fn write_atomically_keeping_signals(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
) -> Result<()> {
    write_through_temp(path, |out| write(out).map_err(|source| Error::Io { path: path.to_owned(), source }))
}

fn write_through_temp<E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> Result<(), E>,
) -> Result<(), E> {
    let io_error = |source| Error::Io { path: path.to_owned(), source };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // A missing output folder is created (like `out/` in the quick start); only the file itself
    // is all-or-nothing.
    std::fs::create_dir_all(folder).map_err(io_error)?;
    let mut temp = temp_builder().tempfile_in(folder).map_err(io_error)?;
    let _pending = Pending::new(temp.path());
    {
        let mut buffered = std::io::BufWriter::new(SyncAhead::new(temp.as_file_mut()));
        write(&mut buffered)?;
        buffered.flush().map_err(io_error)?;
        buffered.into_inner().map_err(|e| io_error(e.into_error()))?.finish().map_err(io_error)?;
    }
    temp.as_file().sync_all().map_err(io_error)?;
    temp.persist(path).map_err(|e| io_error(e.error))?;
    Ok(())
}

/// Bytes written between two early flushes of a large output.
const SYNC_AHEAD_BYTES: u64 = 8 << 20;

/// A file writer that has a helper thread flush what was written so far to disk
/// (`sync_data` on a second handle) every [`SYNC_AHEAD_BYTES`], so that the `sync_all` that
/// makes the output durable waits for the last few megabytes only: the disk writes while the
/// caller computes the next rows. Small outputs never start the thread.
struct SyncAhead<'a> {
    file: &'a mut std::fs::File,
    unsynced: u64,
    syncer: Option<Syncer>,
}

/// The helper thread and the channel that asks it to flush (one pending request at most).
struct Syncer {
    requests: std::sync::mpsc::SyncSender<()>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl<'a> SyncAhead<'a> {
    fn new(file: &'a mut std::fs::File) -> Self {
        Self { file, unsynced: 0, syncer: None }
    }

    fn request_sync(&mut self) -> std::io::Result<()> {
        if self.syncer.is_none() {
            let handle = self.file.try_clone()?;
            let (requests, pending) = std::sync::mpsc::sync_channel::<()>(1);
            let thread = std::thread::Builder::new()
                .name("aiops-sync-ahead".into())
                .spawn(move || pending.iter().try_for_each(|()| handle.sync_data()))?;
            self.syncer = Some(Syncer { requests, thread });
        }
        if let Some(syncer) = &self.syncer {
            // Full: a flush is already pending and will cover these bytes too. Disconnected:
            // the thread stopped on an error, which `finish` reports.
            let _ = syncer.requests.try_send(());
        }
        Ok(())
    }

    /// Stops the helper thread and reports the first error of its flushes: an error a flush
    /// consumed would not be reported again by the final `sync_all`.
    fn finish(self) -> std::io::Result<()> {
        let Some(Syncer { requests, thread }) = self.syncer else { return Ok(()) };
        drop(requests);
        thread.join().unwrap_or_else(|_| Err(std::io::Error::other("the sync-ahead thread panicked")))
    }
}

impl Write for SyncAhead<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(buf)?;
        self.unsynced += written as u64;
        if self.unsynced >= SYNC_AHEAD_BYTES {
            self.unsynced = 0;
            self.request_sync()?;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Temporary files named like the output's folder expects, created 0666 less the umask
/// (tempfile's default is 0600).
fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".aiops-").suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
}

/// A temporary file listed in [`PENDING`] while it exists.
struct Pending(PathBuf);

impl Pending {
    fn new(path: &Path) -> Self {
        PENDING.lock().unwrap_or_else(PoisonError::into_inner).push(path.to_owned());
        Self(path.to_owned())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        PENDING.lock().unwrap_or_else(PoisonError::into_inner).retain(|p| *p != self.0);
    }
}

/// Installs, once, the handler that removes the [`PENDING`] files on SIGINT or SIGTERM and
/// exits. The signals are registered before this returns, so no interruption is missed.
fn remove_on_interruption() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        // Best effort: without a runtime or a thread, writes stay atomic, only an interruption
        // may leave a temporary file.
        #[cfg(unix)]
        let _ = spawn_cleaner();
    });
}

#[cfg(unix)]
fn spawn_cleaner() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut interrupt, mut terminate) = {
        let _context = runtime.enter();
        (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?)
    };
    std::thread::Builder::new().name("aiops-temp-cleaner".into()).spawn(move || {
        let code = runtime.block_on(async {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            }
        });
        for path in PENDING.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            let _ = std::fs::remove_file(path);
        }
        std::process::exit(code);
    })?;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    use super::*;

    /// The process umask, from `/proc/self/status`.
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:")).expect("a Umask line");
        u32::from_str_radix(line.trim(), 8).unwrap()
    }

    #[test]
    fn outputs_are_created_0666_less_the_umask() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("out.csv");
        write_atomically(&path, |out| out.write_all(b"a,b\n")).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1, "a temporary file is left");
    }

    #[test]
    fn a_large_output_flushed_ahead_arrives_whole() {
        // Odd-sized writes across several early flushes, then a tail below the threshold.
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("big.csv");
        let chunk: Vec<u8> = (0..1_234_567u32).map(|i| (i % 251) as u8).collect();
        let chunks = (3 * SYNC_AHEAD_BYTES as usize) / chunk.len() + 2;
        write_atomically(&path, |out| (0..chunks).try_for_each(|_| out.write_all(&chunk))).unwrap();
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len(), chunks * chunk.len());
        assert!(written.chunks(chunk.len()).all(|c| c == chunk), "the content differs");
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 1, "a temporary file is left");
    }

    /// Re-run by the test below as a child process that is interrupted while writing.
    const CHILD: &str = "AIOPS_TEST_INTERRUPTED_WRITE_DIR";

    #[test]
    fn an_interrupted_write_leaves_no_temporary_file() {
        if let Some(folder) = std::env::var_os(CHILD) {
            let path = PathBuf::from(folder).join("out.csv");
            let _ = write_atomically(&path, |out| {
                out.write_all(b"started\n")?;
                out.flush()?;
                std::thread::sleep(Duration::from_secs(30));
                Ok(())
            });
            unreachable!("the parent terminates this process");
        }
        let folder = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "atomic::tests::an_interrupted_write_leaves_no_temporary_file", "--nocapture"])
            .env(CHILD, folder.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let temp_exists = || std::fs::read_dir(folder.path()).unwrap().count() > 0;
        while !temp_exists() {
            assert!(started.elapsed() < Duration::from_secs(20), "the child never started writing");
            std::thread::sleep(Duration::from_millis(20));
        }
        let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(killed.unwrap().success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(143), "{status}");
        let left: Vec<_> = std::fs::read_dir(folder.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
