"""A real MLflow tracking server over HTTP (`mlflow server`, artifacts proxied): evaluate, gate and report
work by URI exactly as on the embedded store, and every artifact goes through the server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from qa_harness.cli import main
from qa_harness.evaluate import EvalConfig, run_evaluation

pytestmark = pytest.mark.slow  # a real mlflow server in a subprocess


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(uri, artifact folder) of an `mlflow server` on a free local port, stopped after the module."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'db.sqlite'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
    ]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    tail = (folder / "server.log").read_text()[-2000:]
                    raise RuntimeError(f"mlflow server did not start: {tail}") from None
                time.sleep(0.5)
        yield uri, folder / "artifacts"
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_evaluate_gate_and_report_against_a_tracking_server(server, write_suite, tmp_path, monkeypatch):
    uri, artifacts = server
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    suite = write_suite(
        {
            "name": "served",
            "resolution": 64,
            "max_frames": 4,
            "clips": [
                {"id": c, "path": f"clips/{c}.mp4", "tags": {"yaw": p}}
                for c, p in (("d20", "frontal"), ("tpsmm_driving", "moderate"))
            ],
            "pairs": ["d20", "tpsmm_driving"],
        }
    )
    runs = {
        model: run_evaluation(
            EvalConfig(
                suite=suite, model=model, out_dir=tmp_path / model, tracking_uri=uri, batch_size=4, progress=False
            )
        ).run_id
        for model in ("driving", "identity")
    }
    client = MlflowClient(uri)
    assert client.get_run(runs["identity"]).data.params["suite"] == "served"
    policy = tmp_path / "floor.yaml"
    policy.write_text("version: 1\nmin_clips: 2\nrules:\n  - {name: ssim-floor, metric: ssim, threshold: 0.9}\n")
    gate = ["gate", "--candidate", runs["identity"], "--baseline", runs["driving"], "--policy", str(policy)]
    assert main([*gate, "--tracking-uri", uri]) == 1  # a model that does not move is below the floor
    assert client.get_run(runs["identity"]).data.tags["qa_harness.gate.verdict"] == "fail"
    html = tmp_path / "report.html"
    assert main(["report", runs["identity"], "--out", str(html), "--tracking-uri", uri]) == 0
    assert "FAIL: policy" in html.read_text()
    logged = {a.path for a in client.list_artifacts(runs["identity"])}
    assert {"records", "summary.json", "thumbs", "gate", "report"} <= logged
    # the artifacts live where the server keeps them: the client uploaded them over HTTP
    stored = {p.name for p in artifacts.rglob("*") if p.is_file()}
    assert {"frames.parquet", "summary.json", "junit.xml", "report.html"} <= stored
