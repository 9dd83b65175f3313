//! Test support shared by the workspace's integration tests (never a dependency of shipped code):
//! where the shared data is, how to run a Python oracle, and child processes that are killed when
//! a test ends. A test that needs something missing fails with a message naming it and how to get
//! it ([`require`]): it never passes silently, on a laptop or in CI.
//!
//! [`prometheus`] runs a real Prometheus with generated data; [`synthetic`] is a synthetic
//! stand-in for its HTTP API (not Prometheus) for scale benchmarks with 10,000 instances;
//! [`http`] answers with raw bytes a test writes (too large, redirecting, ...).

pub mod http;
pub mod mutate;
pub mod prometheus;
pub mod synthetic;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails the calling test because `what` (data, an oracle program, a tool) is missing, saying how
/// to get it. Tests call the `require_*` helpers, which call this.
///
/// # Panics
/// Always: that is how the test fails.
#[track_caller]
pub fn require(what: &str) -> ! {
    panic!("this test needs {what}, which is missing (run ./scripts/test, which sets everything up)")
}

/// The workspace root (the folder holding the virtual `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

/// The read-only shared folder (`$AIOPS_SHARED_DIR`, default `../shared` beside the workspace).
///
/// # Panics
/// Through [`require`] when it has no `data` folder.
#[track_caller]
pub fn require_shared_dir() -> PathBuf {
    let dir = std::env::var_os("AIOPS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    if !dir.join("data").is_dir() {
        require(&format!("the shared data folder {} (set AIOPS_SHARED_DIR)", dir.display()));
    }
    dir
}

/// The Python interpreter with the pinned oracle packages (`$AIOPS_PYTHON`, default
/// `.venv/main/bin/python`).
///
/// # Panics
/// Through [`require`] when it does not exist.
#[track_caller]
pub fn require_python() -> PathBuf {
    let python = std::env::var_os("AIOPS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/main/bin/python"));
    if !python.exists() {
        require(&format!("the oracle Python {} (set AIOPS_PYTHON)", python.display()));
    }
    python
}

/// Runs `script` with the oracle Python, feeding `stdin`, and returns its standard output.
/// Panics with Python's standard error when the script fails.
pub fn run_python(python: &Path, script: &str, stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut input = child.stdin.take().expect("stdin is piped");
    let writer = {
        let stdin = stdin.to_vec();
        std::thread::spawn(move || input.write_all(&stdin))
    };
    let output = child.wait_with_output().expect("python runs to completion");
    writer.join().expect("stdin writer").expect("python reads its input");
    assert!(output.status.success(), "python oracle failed:\n{}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The `aiops` binary built for the tests (`$AIOPS_BIN`, else cargo's `target/debug/aiops`).
pub fn aiops_bin() -> PathBuf {
    std::env::var_os("AIOPS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/aiops"))
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `127.0.0.1:port`; panics after `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listened on 127.0.0.1:{port} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process that is killed (and reaped) when the guard is dropped, even on panic.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
