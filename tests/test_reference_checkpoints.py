"""Checkpoint loading of the reference models: the error paths, the cache lookup, and end-to-end animation.

Each case runs for every reference model with a tiny parity config; the checkpoints are written in the
official layout (top-level keys -> state dicts) from the parity fixtures' official weights.
"""

from __future__ import annotations

import argparse

import pytest
import torch

from qa_harness.catalog import MODELS
from qa_harness.errors import CheckpointError, ConfigError, WeightsUnavailableError
from qa_harness.reference_models.checkpoint import read_checkpoint
from qa_harness.reference_models.spec import load_reference
from tests.parity.checks import tiny_network
from tests.parity.common import ROOT, TINY_CONFIGS, clip_frames

REFERENCE_MODELS = ["fomm", "tpsmm", "mraa"]


def _spec(model: str):
    return __import__(f"qa_harness.reference_models.{model}", fromlist=["SPEC"]).SPEC


def _official_layout(model: str) -> tuple[dict, list[str]]:
    """(checkpoint content with training extras, the sub-network keys)."""
    network, _ = tiny_network(_spec(model))
    state = {key: m.state_dict() for key, m in network.checkpoint_networks().items()}
    return state | {"optimizer": {"state": {}, "param_groups": []}, "epoch": 7}, list(state)


def _load(model: str, path):
    return load_reference(_spec(model), config=TINY_CONFIGS / f"{model}-tiny.yaml", checkpoint=path)


@pytest.fixture(params=REFERENCE_MODELS)
def model(request) -> str:
    return request.param


def test_official_layout_loads_and_training_keys_are_ignored(model, tmp_path):
    path = tmp_path / "ok.pth.tar"
    content, _ = _official_layout(model)
    torch.save(content, path)
    network = _load(model, path)
    for key, module in network.checkpoint_networks().items():
        for name, tensor in module.state_dict().items():
            assert torch.equal(tensor, content[key][name]), f"{key}.{name}"


def test_wrong_keys_are_listed_with_the_file(model, tmp_path):
    content, (key, *_) = _official_layout(model)
    state = dict(content[key])
    renamed = next(iter(state))
    state[f"module.{renamed}"] = state.pop(renamed)
    content[key] = state
    path = tmp_path / "renamed.pth.tar"
    torch.save(content, path)
    with pytest.raises(CheckpointError) as err:
        _load(model, path)
    message = str(err.value)
    assert str(path) in message
    assert f"[{key}]  1 missing parameters: {renamed}" in message
    assert f"[{key}]  1 unexpected parameters: module.{renamed}" in message


def test_wrong_shapes_and_missing_subnetworks_are_listed(model, tmp_path):
    content, (first, *rest) = _official_layout(model)
    name, tensor = next((n, t) for n, t in content[first].items() if t.dim() >= 2)
    content[first] = dict(content[first]) | {name: torch.zeros(tensor.shape[0] + 1, *tensor.shape[1:])}
    dropped = rest[-1]
    del content[dropped]
    path = tmp_path / "shapes.pth.tar"
    torch.save(content, path)
    with pytest.raises(CheckpointError) as err:
        _load(model, path)
    message = str(err.value)
    assert f"missing top-level keys: {dropped}" in message
    assert f"mis-shaped parameters: {name} ({tensor.shape[0] + 1}," in message


def test_pickled_object_is_refused_unless_trusted(model, tmp_path):
    path = tmp_path / "pickled.pth.tar"
    torch.save(_official_layout(model)[0] | {"args": argparse.Namespace(lr=1e-4)}, path)
    with pytest.raises(CheckpointError, match="--trust-checkpoint") as err:
        read_checkpoint(path)
    assert str(path) in str(err.value)
    assert read_checkpoint(path, trust_checkpoint=True)["args"].lr == 1e-4
    network = load_reference(
        _spec(model), config=TINY_CONFIGS / f"{model}-tiny.yaml", checkpoint=path, trust_checkpoint=True
    )
    assert set(network.checkpoint_networks()) <= set(read_checkpoint(path, trust_checkpoint=True))


def test_missing_file_says_what_to_download_and_where(model, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "weights"))
    spec = _spec(model)
    with pytest.raises(WeightsUnavailableError) as err:
        MODELS.build(model, checkpoint=None, device=torch.device("cpu"))
    message = str(err.value)
    expected = tmp_path / "weights" / model / spec.checkpoint_file(spec.default_config)
    assert str(expected) in message and spec.hosting in message
    with pytest.raises(WeightsUnavailableError, match="nowhere.pth"):
        _load(model, tmp_path / "nowhere.pth")


def test_unknown_config_name_lists_the_official_ones(model):
    with pytest.raises(ConfigError, match="official names: .*" + _spec(model).default_config):
        MODELS.build(model, checkpoint=None, device=torch.device("cpu"), config="vox-1024")


def test_adapter_animates_a_real_clip_from_the_weight_cache(model, tmp_path, monkeypatch):
    """End to end: checkpoint found in $QA_HARNESS_WEIGHTS, real frames, batched and chunked calls agree,
    both modes, output in [0,1]; bf16 autocast stays close to fp32."""
    spec = _spec(model)
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path))
    cache = tmp_path / model / spec.checkpoint_file(f"{model}-tiny")
    cache.parent.mkdir()
    torch.save(_official_layout(model)[0], cache)
    frames = clip_frames(64, tuple(range(0, 12, 2)), clip=ROOT / "data" / "clips" / "vrt_face5.mp4")
    config = TINY_CONFIGS / f"{model}-tiny.yaml"
    outputs = {}
    for relative in (False, True):
        animator = MODELS.build(model, checkpoint=None, device=torch.device("cpu"), config=config, relative=relative)
        state = animator.prepare(frames[0], driving_first=frames[0])
        whole = animator.animate(state, frames)
        chunked = torch.cat([animator.animate(state, frames[:3]), animator.animate(state, frames[3:])])
        assert whole.shape == frames.shape and whole.dtype == torch.float32
        assert 0 <= whole.min() and whole.max() <= 1
        torch.testing.assert_close(chunked, whole, atol=1e-4, rtol=0)  # batch size changes conv kernels
        assert (whole[1:] - whole[:1]).abs().amax() > 1e-3, "output does not follow the driving motion"
        outputs[relative] = whole
    bf16 = MODELS.build(model, checkpoint=None, device=torch.device("cpu"), config=config, autocast="bf16")
    deviation = (bf16.animate(bf16.prepare(frames[0]), frames) - outputs[False]).abs()
    # Random weights make the keypoints (and TPSMM's spline solves) far more sensitive than trained ones, so
    # this only bounds gross errors: measured mean-abs 0.0008 (FOMM), 0.005 (TPSMM), 0.0015 (MRAA) here.
    assert deviation.mean() < 0.015, f"bf16 autocast deviates {deviation.mean():.3g} (mean-abs) from fp32"


def test_unknown_option_is_a_config_error(model):
    with pytest.raises(ConfigError, match="unknown option.*iterations.*known: config"):
        MODELS.build(model, checkpoint=None, device="cpu", iterations=3)


@pytest.mark.slow
def test_evaluation_runs_end_to_end_on_a_real_clip(model, tmp_path, write_suite):
    """`qa-harness evaluate --model <model> --checkpoint X -o config=<tiny>` through the runner: real clip,
    official-layout checkpoint, per-frame records with finite pixel metrics."""
    import pandas as pd

    from qa_harness.evaluate import EvalConfig, run_evaluation

    checkpoint = tmp_path / "official-layout.pth.tar"
    torch.save(_official_layout(model)[0], checkpoint)
    suite = write_suite(
        {
            "name": "tiny",
            "resolution": 64,
            "max_frames": 4,
            "clips": [{"id": "d20", "path": "clips/d20.mp4"}],
            "pairs": ["d20"],
        }
    )
    result = run_evaluation(
        EvalConfig(
            suite=suite,
            model=model,
            checkpoint=checkpoint,
            device="cpu",
            batch_size=4,
            progress=False,
            model_options={"config": str(TINY_CONFIGS / f"{model}-tiny.yaml")},
            out_dir=tmp_path / "run",
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        )
    )
    records = pd.read_parquet(result.records_path)
    assert len(records) == 4 and records["metric:l1"].between(0, 1).all()
    assert records["metric:psnr"].notna().all() and (records["metric:psnr"] < 100).all()


@pytest.mark.parametrize("model", ["tpsmm", "mraa"])
def test_avd_network_is_loaded_when_present_and_checked(model, tmp_path):
    """`avd_network` (only in checkpoints after AVD training) is optional, but strict when present."""
    network, _ = tiny_network(_spec(model))
    content, _ = _official_layout(model)
    avd = {
        name: torch.full_like(t, 0.5) if t.is_floating_point() else t
        for name, t in network.avd_network.state_dict().items()
    }
    path = tmp_path / "avd.pth"
    torch.save(content | {"avd_network": avd}, path)
    loaded = _load(model, path)
    assert all(torch.equal(t, avd[name]) for name, t in loaded.avd_network.state_dict().items())
    first = next(iter(avd))
    torch.save(content | {"avd_network": avd | {first: avd[first][:1]}}, path)
    with pytest.raises(CheckpointError, match=rf"\[avd_network\].*mis-shaped parameters: {first}"):
        _load(model, path)
