"""MRFA checkpoints in the official layout, the `mrfa` animator on real clips, and the iterations knob.

The official weights cannot be downloaded here, so checkpoints are written in the official layout
(`{'model': {'module.<name>': ...}, 'optimizer', 'epoch'}`) from the seeded weights of the tiny parity
fixture; the tiny config (64x64 frames) keeps the tests fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
import yaml

from qa_harness.catalog import MODELS
from qa_harness.errors import CheckpointError, ConfigError, WeightsUnavailableError
from qa_harness.reference_models.checkpoint import load_subnetworks, read_checkpoint
from qa_harness.reference_models.mrfa import SPEC
from qa_harness.reference_models.mrfa import checkpoint as mrfa_checkpoint
from qa_harness.reference_models.spec import build_reference, load_reference
from tests.parity import common
from tests.parity.mrfa_fixture import frames, load_fixture, seeded_network


@pytest.fixture(scope="module")
def record():
    return load_fixture("mrfa_tiny_mtia")


@pytest.fixture(scope="module")
def network(record):
    return seeded_network(record)


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory, record, network):
    """Tiny config YAML and an official-layout checkpoint of the seeded network (~160 MB: the official
    generator widths are fixed), written once per module."""
    folder = tmp_path_factory.mktemp("mrfa")
    config = folder / "tiny.yaml"
    config.write_text(yaml.safe_dump(record["config"]))
    ckpt = folder / "00000099-checkpoint.pth"
    mrfa_checkpoint.save_official(network, ckpt, epoch=99)
    return config, ckpt


@pytest.fixture(scope="module")
def official_state(tiny_files):
    return torch.load(tiny_files[1], map_location="cpu", weights_only=True)["model"]


def clip_frames(count: int, size: int) -> torch.Tensor:
    """The first `count` frames of the real fixture clip, (count,3,size,size) in [0,1]."""
    return common.clip_frames(size, tuple(range(count)))


def test_official_layout_checkpoint_round_trips(tiny_files, record, network):
    config, ckpt = tiny_files
    content = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert set(content) == {"model", "optimizer", "epoch"}
    assert all(k.startswith("module.") for k in content["model"])
    fresh = load_reference(SPEC, config=config, checkpoint=ckpt)
    source, driving = frames(record)
    with torch.inference_mode():
        torch.testing.assert_close(
            fresh(source, driving).prediction, network(source, driving).prediction, atol=0, rtol=0
        )


def test_loss_only_entries_are_skipped(tiny_files, official_state):
    config, ckpt = tiny_files
    state = dict(official_state)
    state["module.vgg.slice1.0.weight"] = torch.zeros(64, 3, 3, 3)
    state["module.pyramid.downs.0-5.weight"] = torch.zeros(3, 1, 5, 5)
    cleaned = mrfa_checkpoint.unpack(ckpt, {"model": state, "epoch": 99})
    assert not any(k.startswith(("vgg.", "pyramid.", "module.")) for k in cleaned["model"])
    load_subnetworks(ckpt, cleaned, build_reference(SPEC, config)[0].checkpoint_networks())


@pytest.mark.parametrize("damage", ["drop", "add", "reshape"])
def test_mismatched_checkpoint_lists_parameters_and_file(tiny_files, official_state, damage):
    """Names and shapes are checked before loading; the error names the file and the parameters."""
    config, _ = tiny_files
    state = dict(official_state)
    path = Path("damaged-checkpoint.pth")
    if damage == "drop":
        del state["module.decoder.refine.conv2.weight"]
        expected = "[model]  1 missing parameters: decoder.refine.conv2.weight"
    elif damage == "add":
        state["module.decoder.extra.weight"] = torch.zeros(1)
        expected = "[model]  1 unexpected parameters: decoder.extra.weight"
    else:
        state["module.decoder.pos_embedding"] = torch.zeros(1, 10, 8, 8)
        expected = "decoder.pos_embedding (1, 10, 8, 8) != (1, 10, 16, 16)"
    with pytest.raises(CheckpointError, match="damaged-checkpoint.pth") as info:
        networks = build_reference(SPEC, config)[0].checkpoint_networks()
        load_subnetworks(path, mrfa_checkpoint.unpack(path, {"model": state}), networks)
    assert expected in str(info.value)


def test_checkpoint_without_model_key_is_rejected(tmp_path, tiny_files):
    config, _ = tiny_files
    path = tmp_path / "generator_only.pth"
    torch.save({"generator": {}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="generator_only.pth: no 'model' state dict.*generator, epoch"):
        load_reference(SPEC, config=config, checkpoint=path)


class Payload:
    """An arbitrary Python object: unpickling it needs code, which weights_only refuses."""


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_pickled_code_is_refused_unless_trusted(tmp_path, zip_format):
    """The refusal names what needed unpickling (every class of a zip file; the first one torch meets in a
    legacy file) and carries none of torch's generic text or ANSI escapes."""
    path = tmp_path / "pickled.pth"
    content = {
        "model": {"module.down.weight": torch.ones(3, 1, 13, 13)},
        "extra": Payload(),
        "args": argparse.Namespace(lr=1e-4),
    }
    torch.save(content, path, pickle_protocol=2, _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(path)
    message = str(err.value)
    refused = f"argparse.Namespace, {__name__}.Payload" if zip_format else f"{__name__}.Payload"
    assert message.startswith(f"{path}: refused: it needs unpickling of {refused} (Python code"), message
    assert message.endswith("pass --trust-checkpoint (trust_checkpoint=True)."), message
    assert "\x1b" not in message and "Weights only load failed" not in message
    assert isinstance(read_checkpoint(path, trust_checkpoint=True)["extra"], Payload)


def test_missing_checkpoint_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(WeightsUnavailableError) as info:
        MODELS.build("mrfa", checkpoint=None, device=torch.device("cpu"))
    message = str(info.value)
    assert str(tmp_path / "weights" / "mrfa" / "vox1.pth") in message
    assert "1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO" in message


def test_bad_options_name_the_config(tiny_files):
    config, ckpt = tiny_files
    with pytest.raises(ConfigError, match="iterations: must be in 0..6, got 7"):
        MODELS.build("mrfa", checkpoint=ckpt, device=torch.device("cpu"), config=str(config), iterations="7")
    with pytest.raises(ConfigError, match="vox2.yaml: config file not found.*celebvhq, vox1"):
        MODELS.build("mrfa", checkpoint=ckpt, device=torch.device("cpu"), config="vox2")


def test_animator_reconstructs_real_clip(tiny_files, network):
    config, ckpt = tiny_files
    animator = MODELS.build("mrfa", checkpoint=ckpt, device=torch.device("cpu"), config=str(config))
    assert animator.resolution == 64 and not animator.needs_driving_first
    video = clip_frames(3, 64)
    state = animator.prepare(video[0])
    out = animator.animate(state, video[1:])
    assert out.shape == (2, 3, 64, 64) and torch.isfinite(out).all()
    with torch.inference_mode():
        direct = network(video[0:1].expand(2, -1, -1, -1), video[1:]).prediction
    torch.testing.assert_close(out, direct.clamp(0, 1), atol=1e-5, rtol=0)


def test_animator_relative_mode_on_real_clip(tiny_files, network):
    """Relative motion: the driving's first frame carries no motion, so the source is reconstructed
    from its own keypoints; later frames move it."""
    config, ckpt = tiny_files
    animator = MODELS.build(
        "mrfa",
        checkpoint=ckpt,
        device=torch.device("cpu"),
        config=str(config),
        relative=True,
        adapt_movement_scale=True,
        max_batch=2,
    )
    assert animator.needs_driving_first
    video = common.clip_frames(64)  # frames 0, 12, 24
    source = video[0].flip(-1)  # another "identity": the mirrored first frame
    state = animator.prepare(source, driving_first=video[0])
    out = animator.animate(state, video)
    with torch.inference_mode():
        kp = network.keypoints(source[None])
        still = network.animate(source[None], kp, kp).prediction.clamp(0, 1)
    torch.testing.assert_close(out[:1], still, atol=1e-4, rtol=0)
    assert (out[1:] - still).abs().mean() > 5e-4  # measured 1.1e-3 with the seeded weights


def test_iterations_change_output_and_cost(record, network):
    source, driving = (x[:1] for x in frames(record))
    predictions, macs = {}, {}
    for iterations in (0, 3, 6):
        with torch.inference_mode():
            out, macs[iterations] = common.conv_macs(
                network, lambda n=iterations: network(source, driving, iterations=n)
            )
        predictions[iterations] = out.prediction
    assert macs[0] < macs[3] < macs[6]
    # the two finest levels (size/2, size) dominate the refinement cost
    assert macs[6] - macs[3] > 10 * (macs[3] - macs[0])
    assert (predictions[6] - predictions[3]).abs().max() > 1e-3
    assert (predictions[3] - predictions[0]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="iterations must be in 0..6"):
        network(source, driving, iterations=-1)


def test_bf16_autocast_stays_close_to_fp32(tiny_files):
    """`autocast='bf16'` runs the convolutions in bfloat16 (coordinates and motion algebra stay fp32)."""
    config, ckpt = tiny_files
    video = clip_frames(3, 64)
    outputs = {}
    for autocast in (None, "bf16"):
        animator = MODELS.build("mrfa", checkpoint=ckpt, device="cpu", config=str(config), autocast=autocast)
        outputs[autocast] = animator.animate(animator.prepare(video[0]), video[1:])
    deviation = (outputs["bf16"] - outputs[None]).abs()
    assert outputs["bf16"].dtype == torch.float32 and torch.isfinite(outputs["bf16"]).all()
    assert deviation.mean() < 0.03, f"bf16 autocast deviates {deviation.mean():.3g} (mean-abs) from fp32"


@pytest.mark.slow
def test_evaluation_runs_end_to_end_on_a_real_clip(tiny_files, tmp_path, write_suite):
    """`qa-harness evaluate --model mrfa --checkpoint X -o config=<tiny> -o iterations=3` through the
    runner: real clip, official-layout checkpoint, per-frame records with finite pixel metrics."""
    import pandas as pd

    from qa_harness.evaluate import EvalConfig, run_evaluation

    config, ckpt = tiny_files
    suite = write_suite(
        {
            "name": "tiny",
            "resolution": 64,
            "max_frames": 3,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model="mrfa",
            checkpoint=ckpt,
            device="cpu",
            batch_size=3,
            progress=False,
            model_options={"config": str(config), "iterations": 3},
            out_dir=tmp_path / "run",
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        )
    )
    records = pd.read_parquet(result.records_path)
    assert len(records) == 3 and records["metric:l1"].between(0, 1).all()
    assert records["metric:psnr"].notna().all() and (records["metric:psnr"] < 100).all()


@pytest.mark.slow  # subprocess
def test_cli_evaluate_mrfa_with_config_flag(tiny_files, tmp_path, write_suite):
    """The command line end to end: `qa-harness evaluate --model mrfa --checkpoint X --config Y -o iterations=3`."""
    import subprocess
    import sys

    import pandas as pd

    from tests.helpers.media import REPO

    config, ckpt = tiny_files
    suite = write_suite(
        {
            "name": "tiny",
            "resolution": 64,
            "max_frames": 2,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    args = [
        "evaluate",
        "--suite",
        str(suite),
        "--model",
        "mrfa",
        "--checkpoint",
        str(ckpt),
        "--config",
        str(config),
        "-o",
        "iterations=3",
        "--metrics",
        "l1,ssim",
        "--out",
        str(tmp_path / "run"),
        "--tracking-uri",
        f"sqlite:///{tmp_path / 'mlflow.db'}",
    ]
    done = subprocess.run([sys.executable, "-m", "qa_harness.cli", *args], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    records = pd.read_parquet(tmp_path / "run" / "frames.parquet")
    assert len(records) == 2 and records["metric:ssim"].between(-1, 1).all()


def test_source_encoded_once_gives_the_same_frames(record, network):
    """The adapter encodes the source once per batch and views it n times: identical to encoding n copies."""
    source, driving = frames(record)
    source, n = source[:1], driving.shape[0]
    with torch.inference_mode():
        kp_source, kp_driving = network.keypoints(source).expand(n), network.keypoints(driving)
        sources = source.expand(n, -1, -1, -1)
        features = [f.expand(n, *f.shape[1:]) for f in network.decoder.generator.encode(source)]
        once = network.animate(sources, kp_source, kp_driving, source_features=features).prediction
        copies = network.animate(sources, kp_source, kp_driving).prediction
    torch.testing.assert_close(once, copies, atol=1e-5, rtol=0)
