"""MRFA checkpoints in the official layout, the `mrfa` animator on real clips, and the iterations knob.

The official weights cannot be downloaded here, so checkpoints are written in the official layout
(`{'model': {'module.<name>': ...}, 'optimizer', 'epoch'}`) from the seeded weights of the tiny parity
fixture; the tiny config (64x64 frames) keeps the tests fast.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch.utils.flop_counter import FlopCounterMode

from qa_harness.catalog import MODELS
from qa_harness.errors import CheckpointError, ConfigError, WeightsUnavailableError
from reference_models.mrfa import checkpoint as mrfa_checkpoint
from reference_models.mrfa.model import MRFA
from tests.parity.mrfa_fixture import frames, load_fixture, seeded_network

CLIP = Path(__file__).resolve().parents[1] / "data" / "clips" / "d12.mp4"


@pytest.fixture(scope="module")
def record():
    return load_fixture("mrfa_tiny_mtia")


@pytest.fixture(scope="module")
def network(record):
    return seeded_network(record)


@pytest.fixture()
def tiny_files(tmp_path, record, network):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(record["config"]))
    ckpt = tmp_path / "00000099-checkpoint.pth"
    mrfa_checkpoint.save_official(network, ckpt, epoch=99)
    return config, ckpt


def clip_frames(count: int, size: int) -> torch.Tensor:
    """The first `count` frames of a real clip, (count,3,size,size) float RGB in [0,1]."""
    with av.open(str(CLIP)) as container:
        arrays = [f.to_ndarray(format="rgb24") for _, f in zip(range(count), container.decode(video=0),
                                                               strict=False)]
    video = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    return F.interpolate(video, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def test_official_layout_checkpoint_round_trips(tiny_files, record, network):
    config, ckpt = tiny_files
    content = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert set(content) == {"model", "optimizer", "epoch"}
    assert all(k.startswith("module.") for k in content["model"])
    fresh = MRFA.from_config(config)
    mrfa_checkpoint.load(fresh, ckpt)
    source, driving = frames(record)
    with torch.inference_mode():
        torch.testing.assert_close(fresh(source, driving).prediction, network(source, driving).prediction,
                                   atol=0, rtol=0)


def test_loss_only_entries_are_skipped(tmp_path, tiny_files):
    config, ckpt = tiny_files
    content = torch.load(ckpt, map_location="cpu", weights_only=True)
    content["model"]["module.vgg.slice1.0.weight"] = torch.zeros(64, 3, 3, 3)
    content["model"]["module.pyramid.downs.0-5.weight"] = torch.zeros(3, 1, 5, 5)
    path = tmp_path / "with_vgg.pth"
    torch.save(content, path)
    mrfa_checkpoint.load(MRFA.from_config(config), path)


@pytest.mark.parametrize("damage", ["drop", "add", "reshape"])
def test_mismatched_checkpoint_lists_parameters_and_file(tmp_path, tiny_files, damage):
    config, ckpt = tiny_files
    content = torch.load(ckpt, map_location="cpu", weights_only=True)
    state = content["model"]
    if damage == "drop":
        del state["module.decoder.refine.conv2.weight"]
        expected = "1 missing: decoder.refine.conv2.weight"
    elif damage == "add":
        state["module.decoder.extra.weight"] = torch.zeros(1)
        expected = "1 unexpected: decoder.extra.weight"
    else:
        state["module.decoder.pos_embedding"] = torch.zeros(1, 10, 8, 8)
        expected = "decoder.pos_embedding (1, 10, 8, 8) != (1, 10, 16, 16)"
    path = tmp_path / "damaged.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match="damaged.pth") as info:
        mrfa_checkpoint.load(MRFA.from_config(config), path)
    assert expected in str(info.value)


def test_checkpoint_without_model_key_is_rejected(tmp_path, tiny_files):
    config, _ = tiny_files
    path = tmp_path / "generator_only.pth"
    torch.save({"generator": {}, "epoch": 3}, path)
    with pytest.raises(CheckpointError, match="no 'model' state dict.*generator, epoch"):
        mrfa_checkpoint.load(MRFA.from_config(config), path)


class Payload:
    """An arbitrary Python object: unpickling it needs code, which weights_only refuses."""


def test_pickled_code_is_refused_unless_trusted(tmp_path, tiny_files):
    config, ckpt = tiny_files
    content = torch.load(ckpt, map_location="cpu", weights_only=True)
    content["extra"] = Payload()
    path = tmp_path / "pickled.pth"
    torch.save(content, path, pickle_protocol=pickle.DEFAULT_PROTOCOL)
    with pytest.raises(CheckpointError, match="pickled.pth: refused.*--trust-checkpoint"):
        mrfa_checkpoint.load(MRFA.from_config(config), path)
    mrfa_checkpoint.load(MRFA.from_config(config), path, trust_checkpoint=True)


def test_missing_checkpoint_says_what_to_download_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(WeightsUnavailableError) as info:
        MODELS.get("mrfa")(checkpoint=None, device=torch.device("cpu"))
    message = str(info.value)
    assert str(tmp_path / "weights" / "mrfa" / "vox1.pth") in message
    assert "1QpLCOmAXhQbEoaShlzXZwp6qw_q6sxgO" in message


def test_bad_options_name_the_config(tiny_files):
    config, ckpt = tiny_files
    with pytest.raises(ConfigError, match="tiny.yaml.*iterations must be in 0..6"):
        MODELS.get("mrfa")(checkpoint=ckpt, device=torch.device("cpu"), config=str(config), iterations=7)
    with pytest.raises(ConfigError, match="MRFA config file not found.*celebvhq, vox1"):
        MODELS.get("mrfa")(checkpoint=ckpt, device=torch.device("cpu"), config="vox2")


def test_animator_reconstructs_real_clip(tiny_files, network):
    config, ckpt = tiny_files
    animator = MODELS.get("mrfa")(checkpoint=ckpt, device=torch.device("cpu"), config=str(config))
    assert animator.resolution == 64 and not animator.needs_driving_first
    video = clip_frames(5, 64)
    state = animator.prepare(video[0])
    out = animator.animate(state, video[1:])
    assert out.shape == (4, 3, 64, 64) and torch.isfinite(out).all()
    with torch.inference_mode():
        direct = network(video[0:1].expand(4, -1, -1, -1), video[1:]).prediction
    torch.testing.assert_close(out, direct.clamp(0, 1), atol=1e-5, rtol=0)


def test_animator_relative_mode_on_real_clip(tiny_files, network):
    """Relative motion: the driving's first frame carries no motion, so the source is reconstructed
    from its own keypoints; later frames move it."""
    config, ckpt = tiny_files
    animator = MODELS.get("mrfa")(checkpoint=ckpt, device=torch.device("cpu"), config=str(config),
                                  mode="relative", adapt_scale="true", max_batch=2)
    assert animator.needs_driving_first and animator.adapt_scale
    video = clip_frames(6, 64)
    source = clip_frames(1, 64)[0].flip(-1)  # another "identity": the mirrored first frame
    state = animator.prepare(source, driving_first=video[0])
    out = animator.animate(state, video)
    with torch.inference_mode():
        kp = network.keypoints(source[None])
        still = network.animate(source[None], kp, kp).prediction.clamp(0, 1)
    torch.testing.assert_close(out[:1], still, atol=1e-4, rtol=0)
    assert (out[1:] - still).abs().mean() > 1e-4


def test_iterations_change_output_and_cost(record, network):
    source, driving = frames(record)
    predictions, flops = {}, {}
    for iterations in (0, 3, 6):
        with torch.inference_mode(), FlopCounterMode(display=False) as counter:
            predictions[iterations] = network(source, driving, iterations=iterations).prediction
        flops[iterations] = counter.get_total_flops()
    assert flops[0] < flops[3] < flops[6]
    assert (predictions[6] - predictions[3]).abs().max() > 1e-3
    assert (predictions[3] - predictions[0]).abs().max() > 1e-3
    with pytest.raises(ValueError, match="iterations must be in 0..6"):
        network(source, driving, iterations=-1)
