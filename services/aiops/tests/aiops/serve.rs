//! The servers without a model (issue 15): `serve-model` and `serve-mcp` load their model before
//! they bind, so when none can be loaded they exit with an error naming the location and why,
//! and never listen: no `/readyz` (or `/v2/health/ready`) ever answers ready. Once started, a
//! failed reload keeps the loaded model (tested in the crates).

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aiops_testkit::{ChildGuard, free_port};

/// Nothing listens here; serve-mcp does not query Prometheus before a tool call.
const PROMETHEUS: &str = "http://127.0.0.1:9";

#[test]
fn servers_without_a_loadable_model_refuse_to_start_and_never_listen() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("model.iforest"), b"not a model").unwrap();
    let missing = dir.path().join("missing");
    let (broken, missing) = (broken.to_str().unwrap(), missing.to_str().unwrap());
    let serve_model = ["serve-model", "--model-name", "m", "--model"];
    let serve_mcp = ["serve-mcp", "--prometheus-url", PROMETHEUS, "--model"];
    // (command, model location, what stderr must say)
    let cases = [
        (&serve_model, broken, "model.iforest is refused"),
        (&serve_model, missing, "No such file or directory"),
        (&serve_mcp, broken, "model.iforest is refused"),
        (&serve_mcp, missing, "No such file or directory"),
    ];
    for (command, location, expected) in cases {
        let port = free_port();
        let mut child = ChildGuard(
            Command::new(env!("CARGO_BIN_EXE_aiops"))
                .args(*command)
                .arg(location)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .env_remove("AIOPS_LOG_FORMAT")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("aiops starts"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_err(),
                "{} listened on {port} without a model",
                command[0]
            );
            if let Some(status) = child.0.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "{} {location} did not exit within 20 s", command[0]);
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child.0.stderr.take().expect("piped").read_to_string(&mut stderr).expect("stderr");
        assert!(!status.success(), "{} {location} exited with {status}", command[0]);
        assert!(
            stderr.contains(location) && stderr.contains(expected) && !stderr.contains("panicked"),
            "{} {location}: no `{expected}` naming the location in\n{stderr}",
            command[0]
        );
    }
}
