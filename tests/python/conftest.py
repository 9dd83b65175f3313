"""Shared fixtures for the Python conformance tests, which drive the `aiops` binary with
third-party clients (tritonclient, kserve, the MCP SDK, kfp). Run through ./scripts/test."""

import os
import pathlib
import socket
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def require(what: str):
    """Fail the test, naming what it needs and how to get it: a test never passes or skips
    silently because data or an oracle is missing."""
    pytest.fail(f"this test needs {what}, which is missing (run ./scripts/test, which sets everything up)")


@pytest.fixture(scope="session")
def aiops_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("AIOPS_BIN", ROOT / "target/debug/aiops"))
    if not path.exists():
        require(f"the aiops binary at {path} (cargo build)")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("AIOPS_SHARED_DIR", ROOT.parent / "shared"))
    if not (path / "data").is_dir():
        require(f"the shared data folder {path}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


class Server:
    """A child process listening on a loopback port; terminated when the test ends."""

    def __init__(self, args, port: int, env=None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(args, env={**os.environ, **(env or {})})
        try:
            wait_for_port(port, self.process)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}


@pytest.fixture
def s3():
    """A moto S3 server with the bucket `aiops-models`: yields (endpoint, boto3 client); the
    `aiops` processes reading it need S3_CREDENTIALS in their environment."""
    moto = ROOT / ".venv/main/bin/moto_server"
    if not moto.exists():
        require("moto_server (scripts/setup)")
    import boto3

    port = free_port()
    server = Server([str(moto), "-p", str(port)], port)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket="aiops-models")
        yield endpoint, client
    finally:
        server.stop()
