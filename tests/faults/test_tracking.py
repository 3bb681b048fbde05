"""Tracking faults: an unreachable server fails in bounded time; a long strata summary (a freshly tagged
suite with many strata) goes to an artifact, not into a 500-character tag."""

from __future__ import annotations

import json
import socket
import time

import yaml

from qa_harness import tracking
from tests.faults.common import cli, error_line, evaluate_args, mlflow_run, run_id_of
from tests.helpers.media import REPO


def test_an_unreachable_tracking_server_fails_within_a_minute(fault_suite, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    started = time.time()
    result = cli(*evaluate_args(fault_suite, tmp_path / "run", uri), timeout=240)
    elapsed = time.time() - started
    assert result.returncode == 2  # f8bed04: retried for minutes (7 retries, backoff factor 2), then exit 1
    assert error_line(result).startswith(f"qa-harness: error: tracking store {uri}:")
    assert elapsed < 60, f"took {elapsed:.0f} s"


def test_evaluate_on_a_freshly_tagged_suite_with_many_strata(tmp_path):
    from qa_harness.suites.manifest import load_suite
    from qa_harness.suites.tag_suite import tag_suite

    clips = ("d12", "d20", "lp_d11", "lp_s32", "tpsmm_driving", "vrt_face5")
    manifest = tmp_path / "many.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "name": "many",
                "data_root": str(REPO / "data"),
                "resolution": 64,
                "max_frames": 2,
                "metrics": ["l1"],
                "clips": [
                    {
                        "id": c,
                        "path": f"clips/{c}.mp4",
                        # provenance tags take any value (condition tags only the vocabulary's): long, distinct ones
                        "tags": {
                            "source_clip": f"speaker_{c}_recorded_in_session_{i}",
                            "synth_op": f"camera_model_{i}",
                            "variant": f"session_{i:03d}_studio_{c}",
                        },
                    }
                    for i, c in enumerate(clips)
                ],
            }
        )
    )
    tagged = tmp_path / "many_tagged.yaml"
    tag_suite(manifest, tagged, axes=("lighting",))
    strata = tracking.strata_counts(load_suite(tagged))
    assert len(json.dumps(strata)) > tracking.INPUT_TAG_LIMIT and "lighting" in strata
    out, uri = tmp_path / "run", f"sqlite:///{tmp_path / 'db'}"
    result = cli(*evaluate_args(tagged, out, uri))
    assert result.returncode == 0, result.stderr  # f8bed04: MlflowException: 'value' exceeds 500 characters
    run = mlflow_run(uri, run_id_of(out))
    tags = {t.key: t.value for t in run.inputs.dataset_inputs[0].tags}
    assert tags["strata"] == f"artifact:{tracking.STRATA_ARTIFACT}" and tags["mlflow.data.context"] == "evaluation"
    from mlflow.tracking import MlflowClient

    logged = json.loads(
        open(MlflowClient(uri).download_artifacts(run.info.run_id, tracking.STRATA_ARTIFACT, str(tmp_path))).read()
    )
    assert logged == strata
