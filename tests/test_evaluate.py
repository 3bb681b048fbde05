"""End-to-end evaluations on real clips: records, MLflow run read back, baselines, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from qa_harness.evaluate import EvalConfig, run_evaluation
from qa_harness.metrics.psnr import psnr
from qa_harness.metrics.ssim import ssim
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS, decode, truncated_copy, write_mp4

SMALL = {"resolution": 64, "max_frames": 6}


def _suite(write_suite, **extra):
    return write_suite(
        {
            "name": "small",
            **SMALL,
            "clips": [
                {"id": "d20", "path": "clips/d20.mp4", "tags": {"yaw": "frontal", "lighting": "dim"}},
                {"id": "tpsmm", "path": "clips/tpsmm_driving.mp4", "tags": {"yaw": "moderate", "lighting": "normal"}},
                {"id": "photo", "path": "photos/lp_s1.jpg"},
            ],
            "pairs": ["d20", "tpsmm", {"source": "photo", "driving": "d20"}],
            **extra,
        }
    )


def _run(suite, tmp_path, uri, model="driving", **kw):
    return run_evaluation(
        EvalConfig(
            suite=suite, model=model, out_dir=tmp_path / model, tracking_uri=uri, batch_size=4, progress=False, **kw
        )
    )


def test_driving_baseline_is_perfect_and_logged_to_mlflow(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite)
    result = _run(suite, tmp_path, tracking_uri)
    frames = pd.read_parquet(result.records_path)
    recon = frames[frames["protocol"] == "reconstruction"]
    assert len(recon) == 12 and (recon["metric:l1"] == 0).all() and np.allclose(recon["metric:ssim"], 1.0)
    assert (recon["metric:psnr"] == 100.0).all()
    cross = frames[frames["protocol"] == "cross"]
    assert len(cross) == 6 and cross["metric:ssim"].isna().all()  # no ground truth: not scored

    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert (p["model"], p["suite"], p["seed"], p["batch_size"], p["device"]) == ("driving", "small", "0", "4", "cpu")
    assert len(p["suite_version"]) == 16 and p["harness_version"]
    m = run.data.metrics
    assert m["ssim"] == pytest.approx(1.0) and m["l1"] == 0.0 and m["clips/failed"] == 0
    assert m["ssim/yaw_moderate"] == pytest.approx(1.0) and "l1/lighting_dim" in m
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"records", "summary.json", "aggregate.csv", "thumbs"} <= artifacts
    thumbs = sorted(p.name for p in (result.out_dir / "thumbs").rglob("*.jpg"))
    assert len(thumbs) == 2 * 6 * 3 + 6 * 2  # 6 frames of 2 reconstruction pairs, 1 cross pair (no target)
    assert len(client.list_artifacts(result.run_id, "thumbs")) == 3
    names = {a.path for a in client.list_artifacts(result.run_id, "records")}
    assert names == {"records/frames.parquet", "records/clips.parquet"}
    local = client.download_artifacts(result.run_id, "records/frames.parquet", str(tmp_path / "dl"))
    pd.testing.assert_frame_equal(pd.read_parquet(local), frames)
    summary = json.loads(open(client.download_artifacts(result.run_id, "summary.json", str(tmp_path / "dl"))).read())
    assert summary["counts"]["frames/total"] == 18
    hib = summary["higher_is_better"]
    assert {k: hib[k] for k in ("l1", "psnr", "ssim")} == {"l1": False, "psnr": True, "ssim": True}
    assert hib["id_source"] is False and hib["xfer_ear_corr"] is True  # the cross pair's no-reference set
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.name == "small" and dataset.dataset.digest == p["suite_version"]
    strata = json.loads({t.key: t.value for t in dataset.tags}["strata"])
    assert strata == {"lighting": {"dim": 2, "normal": 1}, "yaw": {"frontal": 2, "moderate": 1}}
    suite_files = {a.path for a in client.list_artifacts(result.run_id, "suite")}
    assert suite_files == {"suite/suite.yaml", "suite/strata.json"}


def test_identity_baseline_matches_direct_computation(write_suite, tmp_path, tracking_uri):
    result = _run(_suite(write_suite), tmp_path, tracking_uri, model="identity")
    frames = pd.read_parquet(result.records_path)
    clip = next(iter_frames(CLIPS / "tpsmm_driving.mp4", resolution=64, chunk=6))
    source = clip[0].expand_as(clip)
    got = frames[frames["pair_id"] == "tpsmm"].sort_values("frame")
    np.testing.assert_allclose(got["metric:ssim"], ssim(source, clip).numpy(), atol=1e-6)
    np.testing.assert_allclose(got["metric:psnr"], psnr(source, clip).numpy(), atol=1e-4)
    assert got["metric:ssim"].iloc[0] == pytest.approx(1.0)  # frame 0 is the source itself
    assert got["metric:ssim"].iloc[-1] < 0.995


def test_same_seed_same_numbers(write_suite, tmp_path, tracking_uri):
    suite = _suite(write_suite)
    a = _run(suite, tmp_path / "a", tracking_uri, model="tests.helpers.models:noisy", seed=3)
    b = _run(suite, tmp_path / "b", tracking_uri, model="tests.helpers.models:noisy", seed=3)
    c = _run(suite, tmp_path / "c", tracking_uri, model="tests.helpers.models:noisy", seed=4)
    cols = ["pair_id", "frame", "metric:ssim", "metric:l1"]
    fa, fb, fc = (pd.read_parquet(r.records_path)[cols] for r in (a, b, c))
    pd.testing.assert_frame_equal(fa, fb)
    assert not fa.equals(fc)


def test_bad_inputs_fail_their_clip_only(write_suite, tmp_path, tracking_uri):
    media = tmp_path / "media"
    media.mkdir()
    good = write_mp4(media / "good.mp4", decode(CLIPS / "d20.mp4", 8))
    truncated_copy(good, media / "truncated.mp4", keep=0.5)
    (media / "zero.mp4").write_bytes(b"")
    suite = write_suite(
        {
            "name": "bad",
            "data_root": str(media),
            "resolution": 64,
            "clips": [
                {"id": "good", "path": "good.mp4"},
                {"id": "truncated", "path": "truncated.mp4"},
                {"id": "zero", "path": "zero.mp4"},
                {"id": "<script>alert(1)</script>", "path": "good.mp4"},
            ],
        }
    )
    result = _run(suite, tmp_path, tracking_uri)
    status = {o.pair_id: (o.status, o.error) for o in result.outcomes}
    assert status["good"] == ("ok", "") and status["<script>alert(1)</script>"][0] == "ok"
    assert status["truncated"][0] == "failed" and "truncated.mp4" in status["truncated"][1]
    assert status["zero"][0] == "failed" and "zero.mp4" in status["zero"][1]
    frames = pd.read_parquet(result.records_path)
    assert sorted(frames["pair_id"].unique()) == ["<script>alert(1)</script>", "good"]
    assert MlflowClient(tracking_uri).get_run(result.run_id).data.metrics["clips/failed"] == 2


def test_nan_model_output_fails_that_pair(write_suite, tmp_path, tracking_uri):
    result = _run(
        _suite(write_suite), tmp_path, tracking_uri, model="tests.helpers.models:nan_on_pair", model_options={"bad": 1}
    )
    status = [(o.pair_id, o.status) for o in result.outcomes]
    assert status == [("d20", "ok"), ("tpsmm", "failed"), ("photo->d20", "ok")]
    assert "NaN/Inf" in result.failed[0].error and "frame 0" in result.failed[0].error
    assert set(pd.read_parquet(result.records_path)["pair_id"]) == {"d20", "photo->d20"}


def test_unknown_metric_or_model_fails_before_any_work(write_suite, tmp_path, tracking_uri):
    from qa_harness.errors import QaHarnessError

    with pytest.raises(QaHarnessError, match="Unknown metric 'sssim'"):
        _run(_suite(write_suite), tmp_path, tracking_uri, metrics=("sssim",))
    with pytest.raises(QaHarnessError, match="Unknown model 'fom'"):
        _run(_suite(write_suite), tmp_path / "m", tracking_uri, model="fom")


def test_existing_run_folder_needs_resume_or_overwrite(write_suite, tmp_path, tracking_uri):
    from qa_harness.errors import QaHarnessError

    suite = _suite(write_suite)
    _run(suite, tmp_path, tracking_uri)
    with pytest.raises(QaHarnessError, match="--resume"):
        _run(suite, tmp_path, tracking_uri)
    with pytest.raises(QaHarnessError, match="differs in seed"):
        _run(suite, tmp_path, tracking_uri, resume=True, seed=9)


def test_lpips_without_weights_is_unavailable_not_fatal(write_suite, tmp_path, tracking_uri):
    result = _run(_suite(write_suite), tmp_path, tracking_uri, model="identity", metrics=("ssim", "lpips"))
    assert [o.pair_id for o in result.failed] == ["photo->d20"]  # the cross pair: no listed metric applies
    assert "alexnet-owt-7be5be79.pth" in result.unavailable_metrics["lpips"]
    assert "metric:lpips" not in pd.read_parquet(result.records_path).columns
    summary = json.loads((result.out_dir / "summary.json").read_text())
    run = MlflowClient(tracking_uri).get_run(result.run_id)
    assert "ssim" in run.data.metrics and "lpips" not in run.data.metrics
    assert "alexnet-owt-7be5be79.pth" in summary["unavailable_metrics"]["lpips"]


def test_lpips_with_weights_is_scored(write_suite, tmp_path, tracking_uri, with_seeded_weights):
    result = _run(_suite(write_suite), tmp_path, tracking_uri, model="identity", metrics=("lpips",))
    frames = pd.read_parquet(result.records_path)
    recon = frames[frames["protocol"] == "reconstruction"].sort_values(["pair_id", "frame"])
    assert recon.groupby("pair_id")["metric:lpips"].first().eq(0).all()  # frame 0 is the source itself
    assert (recon["metric:lpips"] >= 0).all() and recon["metric:lpips"].max() > 0
    assert MlflowClient(tracking_uri).get_run(result.run_id).data.metrics["lpips"] > 0


def test_measured_per_frame_tags_reach_every_record(write_suite, tmp_path, tracking_uri):
    from qa_harness.suites.conditions import conditions_path
    from qa_harness.suites.manifest import load_suite

    suite = _suite(write_suite)
    before = load_suite(suite).version
    frames = [("d20", i, "frontal" if i < 3 else "extreme") for i in range(6)]
    pd.DataFrame(frames, columns=["pair", "frame", "cond:yaw"]).to_parquet(conditions_path(suite))
    assert load_suite(suite).version != before  # measured tags are part of the suite's content
    result = _run(suite, tmp_path, tracking_uri)
    records = pd.read_parquet(result.records_path)
    d20 = records[records["pair_id"] == "d20"].sort_values("frame")
    assert list(d20["cond:yaw"]) == ["frontal"] * 3 + ["extreme"] * 3
    assert set(d20["cond:lighting"]) == {"dim"}  # clip tags stay where no frame tag overrides them
    table = pd.read_csv(result.out_dir / "aggregate.csv")
    assert {"extreme", "frontal", "moderate"} <= set(table[table["axis"] == "yaw"]["value"])


def test_an_absent_weight_file_is_warned_about_once_per_process(caplog):
    import logging

    import torch

    from qa_harness.executors.worker import build_metrics
    from qa_harness.metrics.base import MetricContext

    ctx = MetricContext(device=torch.device("cpu"))
    with caplog.at_level(logging.DEBUG, logger="qa_harness.executors.worker"):
        for _ in range(3):  # e.g. the demo's three models, or a matrix
            metrics, unavailable = build_metrics(("ssim", "lpips"), ctx)
            assert [m.name for m in metrics] == ["ssim"] and "alexnet-owt-7be5be79.pth" in unavailable["lpips"]
    levels = [r.levelname for r in caplog.records if "metric lpips unavailable" in r.getMessage()]
    assert levels == ["WARNING", "DEBUG", "DEBUG"]


def test_metric_options_in_effect_are_run_params(write_suite, tmp_path, tracking_uri):
    """Each metric's options as built (builder default, catalog variant, the suite's override) are params."""
    suite = write_suite(
        {
            "name": "opts",
            "resolution": 64,
            "max_frames": 3,
            "metric_options": {"akd": {"landmarks": "dlib"}, "face_nme": {"landmarks": "dlib"}},
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    result = _run(suite, tmp_path, tracking_uri, metrics=("l1", "akd", "lpips_vgg"))
    params = MlflowClient(tracking_uri).get_run(result.run_id).data.params
    logged = {k: v for k, v in params.items() if k.startswith("metric_options.")}
    assert logged == {
        "metric_options.akd.landmarks": "dlib",  # the suite's, over the catalog's mediapipe
        "metric_options.akd.suffix": "",  # the builder's default
        "metric_options.lpips_vgg.net": "vgg",  # the catalog variant's (unavailable here: no weights)
        "metric_options.lpips_vgg.name": "lpips_vgg",
        "metric_options.lpips_vgg.cache_reference": "False",  # the builder's default: opt-in (disk size)
    }  # l1 takes no options; face_nme is not scored by this run, so its suite options are not in effect
    assert result.summary.counts["clips/failed"] == 0
