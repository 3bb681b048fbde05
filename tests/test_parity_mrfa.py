"""Parity of `qa_harness.reference_models.mrfa` with the official MRFA code (JialeTao/MRFA at 20f935f).

Fixtures come from `python -m tests.parity.official_mrfa --repo <checkout>`: the official network built
from vox1.yaml / celebvhq.yaml (parameter names and shapes) and, with name-keyed seeded weights, one
forward (is_train=False) of vox1.yaml at 256x256 and of six tiny 64x64 variants (mtia, fomm and tpsm
priors, background predictor on, prior_only, and mtia_moving: attention weights scaled so that keypoints
follow the input as trained ones do). Keypoints, Jacobians, prior deformation and occlusion, each
refinement level's flow and occlusion, warped features and image and the prediction are compared.
Tolerance 1e-4 max-abs; MTIA's attention uses the official einsum + softmax, so the outputs agree to
float rounding (an SDPA attention drifted 2-3e-4 in the moving regime).
"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from qa_harness.reference_models.mrfa import SPEC
from qa_harness.reference_models.mrfa.checkpoint import LOSS_ONLY_PREFIXES
from qa_harness.reference_models.mrfa.model import MRFA
from qa_harness.reference_models.mrfa.priors import prior_motion
from qa_harness.reference_models.spec import build_reference
from tests.parity.mrfa_fixture import FIXTURES, frames, load_fixture, seeded_network
from tests.parity.official_mrfa import center_crop

ATOL = 1e-4
TINY = ["mtia", "mtia_moving", "fomm", "tpsm", "mtia_bg", "mtia_prior_only"]


#: The moving-keypoint fixture is held tighter: with the official attention arithmetic the CPU outputs are
#: bit-identical (measured 0), while an SDPA attention is 1.6e-5 off on it (2.4e-5 on vox1), inside ATOL.
ATOL_MOVING = 2e-6


def assert_close(ours: torch.Tensor, official: torch.Tensor, what: str, atol: float = ATOL) -> None:
    assert ours.shape == official.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(official.shape)}"
    err = (ours - official).abs().max().item()
    assert err <= atol, f"{what}: max abs difference {err:.3g} > {atol}"


def official_names(label: str) -> dict[str, list[int]]:
    record = json.loads((FIXTURES / "mrfa_names.json").read_text())
    return {k: v for k, v in record["state"][label].items() if not k.startswith(LOSS_ONLY_PREFIXES)}


@pytest.mark.parametrize("config", ["vox1", "celebvhq"])
def test_official_configs_build(config):
    with torch.device("meta"):
        network, _ = build_reference(SPEC, config)
    assert hasattr(network, "bg_predictor") == (config == "celebvhq")  # bg_start 0 vs 1000
    assert network.use_bg == (config == "celebvhq")
    assert network.size == 256


@pytest.mark.parametrize("label", ["vox1_mtia", "vox1_fomm", "vox1_tpsm", "celebvhq_mtia"])
def test_parameter_names_and_shapes_match_official(label):
    config_name, prior = label.split("_")
    _, config = SPEC.load_config(config_name)
    config["train_params"]["prior_model"] = prior
    with torch.device("meta"):
        state = MRFA(config).state_dict()
    assert {k: list(v.shape) for k, v in state.items()} == official_names(label)


def test_unknown_prior_model_is_named():
    _, config = SPEC.load_config("vox1")
    config["train_params"]["prior_model"] = "mraa"
    with pytest.raises(ValueError, match="train_params.prior_model: unknown prior 'mraa'; expected one of mtia"):
        MRFA(config)


def test_official_checkpoint_only_adds_loss_networks():
    """The official state dict = ours + the training-only VGG19 and image pyramid, nothing else."""
    record = json.loads((FIXTURES / "mrfa_names.json").read_text())["state"]["vox1_mtia"]
    extra = {k.split(".")[0] for k in record if k.startswith(LOSS_ONLY_PREFIXES)}
    assert extra == {"vgg", "pyramid"}


def check_forward(record: dict, max_side: int, atol: float = ATOL) -> None:
    network = seeded_network(record)
    source, driving = frames(record)
    expected = record["outputs"]
    with torch.inference_mode():
        kp_s, kp_d = network.keypoints(source), network.keypoints(driving)
        assert_close(kp_s.value, expected["kp_source"], "source keypoints", atol)
        assert_close(kp_d.value, expected["kp_driving"], "driving keypoints", atol)
        if expected["jacobian_source"] is not None:
            assert_close(kp_s.jacobian, expected["jacobian_source"], "source jacobians", atol)
            assert_close(kp_d.jacobian, expected["jacobian_driving"], "driving jacobians", atol)
        bg_param = network.bg_predictor(source, driving) if network.use_bg else None
        deformation, occlusion = prior_motion(network.prior_model, network.dense_motion, source, kp_d, kp_s, bg_param)
        assert_close(deformation, expected["deformation"], "prior deformation", atol)
        assert_close(occlusion, expected["prior_occlusion"], "prior occlusion logits", atol)
        out = network(source, driving)
    assert_close(center_crop(out.prediction, max_side), expected["prediction"], "prediction", atol)
    assert_close(center_crop(out.warped_image, max_side), expected["warped_image"], "warped source image", atol)
    assert len(out.occlusions) == len(expected["occlusions"]) == 6
    for level, (ours, official) in enumerate(zip(out.occlusions, expected["occlusions"], strict=True)):
        assert_close(center_crop(ours, max_side), official, f"occlusion level {level}", atol)
    refined = expected["flows"]  # levels with a refinement update (none for prior_only)
    assert len(refined) == (0 if network.decoder.prior_only else 6)
    for level, (ours, official) in enumerate(zip(out.flows, refined, strict=False)):  # prior_only records none
        assert_close(center_crop(ours, max_side), official, f"refined flow level {level}", atol)
    for level, (ours, official) in enumerate(zip(out.warped_features, expected["warped_feature_means"], strict=True)):
        means = center_crop(ours.mean(1, keepdim=True), max_side)
        assert_close(means, official, f"warped features level {level}", atol)


@pytest.mark.parametrize("variant", TINY)
def test_tiny_forward_matches_official(variant):
    check_forward(load_fixture(f"mrfa_tiny_{variant}"), 64, ATOL_MOVING if variant == "mtia_moving" else ATOL)


def test_vox1_forward_matches_official():
    """Full vox1.yaml network (12-layer MTIA transformer, 256x256), compared on the centre 64x64."""
    check_forward(load_fixture("mrfa_vox1_forward"), 64)


def test_tiny_fixtures_are_small():
    assert sum(p.stat().st_size for p in FIXTURES.glob("mrfa_tiny_*.pt")) < 3_000_000


def test_prediction_depends_on_driving_motion():
    """Guards the fixtures themselves: the recorded prediction is not the source copied through, and the
    two driving frames (0.5 s apart in a real clip) give different outputs."""
    record = load_fixture("mrfa_tiny_mtia")
    source, _ = frames(record)
    prediction = record["outputs"]["prediction"]
    # measured 0.17 and 1.5e-3: far above the 1e-4 tolerance, so a motion error cannot hide in it
    assert (prediction - source).abs().mean() > 0.05
    assert F.l1_loss(prediction[0], prediction[1]) > 5e-4


def test_moving_fixture_is_in_the_input_dependent_regime():
    """Guards the fixture the attention arithmetic matters for: its keypoints move with the input (the maker
    refuses to write it otherwise), unlike plain seeded weights, and its prediction is not saturated."""
    moving, plain = (load_fixture(f"mrfa_tiny_{v}")["outputs"] for v in ("mtia_moving", "mtia"))

    def motion(outputs):
        return (outputs["kp_driving"] - outputs["kp_source"]).norm(dim=-1).amax(-1)

    assert motion(moving).min() >= 0.1 and motion(plain).max() < 0.05
    prediction = moving["prediction"]
    assert prediction.std() > 0.05 and ((prediction <= 0) | (prediction >= 1)).float().mean() < 0.05
