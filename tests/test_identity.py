"""Identity backends: dlib separates people on real clips; OpenFace loads weights, preprocesses as papers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qa_harness.catalog import IDENTITY
from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.identity import openface
from tests.helpers.face import CLIPS, decode, source_and_target

CPU = torch.device("cpu")


def test_dlib_embeddings_separate_two_people_and_flag_faceless_frames() -> None:
    """Frames of one person (tpsmm_driving) are at least twice closer than frames of three others.

    At 256x256 dlib's usual 0.6 L2 threshold does not hold for two similar-looking men (d12: 0.45-0.54),
    so the test asserts the separation margin, not the threshold.
    """
    backend = IDENTITY.build("dlib", device=CPU)
    _, target = source_and_target()
    same = backend.embed(torch.cat([target[::2], torch.zeros(1, 3, 256, 256)]))
    other = backend.embed(
        torch.cat([decode(CLIPS / f"{name}.mp4", (0, 60)) for name in ("d12", "vrt_face5", "lp_d11")])
    )
    assert same.vectors.shape == (9, 128) and same.found.tolist() == [True] * 8 + [False]
    assert torch.isnan(same.vectors[8]).all()
    d_same = ((same.vectors[1:8] - same.vectors[0]) ** 2).sum(dim=1)
    d_other = ((other.vectors - same.vectors[0]) ** 2).sum(dim=1)
    assert other.found.all() and d_other.min() > 2 * d_same.max()


def test_openface_matches_the_published_parameter_count() -> None:
    """nn4.small2 has 3,733,968 parameters (OpenFace model table); a wrong block layout changes it."""
    net = openface.OpenFaceNN4Small2()
    assert sum(p.numel() for p in net.parameters()) == 3_733_968
    out = net.eval()(torch.rand(2, 3, 96, 96))
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2), atol=1e-5, rtol=0)


def test_openface_preprocessing_matches_skimage_resize_of_the_bgr_frame() -> None:
    """pose-evaluation: frame[..., ::-1] then skimage resize to 96x96 (order 1, no anti-aliasing in 0.14)."""
    from skimage.transform import resize

    frame = decode()[:1]
    rgb = frame[0].permute(1, 2, 0).numpy().astype(np.float64)
    expected = resize(rgb[..., ::-1], (96, 96), order=1, anti_aliasing=False, mode="reflect")
    got = openface.preprocess(frame)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path))
    return tmp_path


def test_openface_loads_made_weights_and_embeds_whole_frames(weights_dir) -> None:
    torch.manual_seed(0)
    net = openface.OpenFaceNN4Small2()
    for module in net.modules():  # non-trivial BN statistics, as trained weights have
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), weights_dir / openface.WEIGHTS_FILE)
    backend = IDENTITY.build("openface", device=CPU)
    frames = torch.cat([decode()[:2], torch.zeros(1, 3, 256, 256)])
    emb = backend.embed(frames)
    assert emb.found.all() and emb.vectors.shape == (3, 128)  # no detection: every frame has a vector
    with torch.no_grad():
        expected = net.eval()(openface.preprocess(frames))
    torch.testing.assert_close(emb.vectors, expected, atol=1e-5, rtol=0)
    assert backend.version.startswith("nn4.small2-")


def test_openface_absent_or_wrong_weights_are_clear_errors(weights_dir) -> None:
    with pytest.raises(WeightsUnavailableError, match="openface.pth") as err:
        IDENTITY.build("openface", device=CPU)
    assert str(weights_dir) in str(err.value) and "OpenFacePytorch" in str(err.value)
    state = openface.OpenFaceNN4Small2().state_dict()
    del state["layer25.weight"]
    bad = weights_dir / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match=r"bad\.pth.*layer25\.weight"):
        openface.build(device=CPU, weights=bad)
