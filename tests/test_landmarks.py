"""Landmark backends: contract, agreement between backends, faceless frames, FAN weight loading."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from qa_harness.catalog import LANDMARKS
from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.landmarks.base import Landmarks
from qa_harness.metrics._face_geometry import inter_ocular
from tests.helpers.face import decode, source_and_target, write_fan_weights

REPO = Path(__file__).resolve().parents[1]

CPU = torch.device("cpu")
OFFLINE_BACKENDS = ["mediapipe", "dlib"]


@pytest.fixture(scope="module")
def frames() -> torch.Tensor:
    """4 real face frames, a black frame and a uniform-noise frame (no face in either)."""
    _, target = source_and_target()
    noise = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    return torch.cat([target[::4], torch.zeros(1, 3, 256, 256), noise])


@pytest.mark.parametrize("name", OFFLINE_BACKENDS)
def test_backend_contract_and_faceless_frames(name: str, frames: torch.Tensor) -> None:
    backend = LANDMARKS.build(name, device=CPU)
    lm = backend.detect(frames)
    assert isinstance(lm, Landmarks) and backend.version
    assert lm.points.shape == (6, 68, 2) and lm.points.dtype == torch.float32
    assert lm.found.tolist() == [True] * 4 + [False, False]
    assert torch.isfinite(lm.points[:4]).all() and torch.isnan(lm.points[4:]).all()
    assert ((lm.points[:4] >= -5) & (lm.points[:4] <= 261)).all()  # pixels of the 256x256 frame
    assert ((lm.confidence[:4] > 0) & (lm.confidence[:4] <= 1)).all() and (lm.confidence[4:] == 0).all()


def test_mediapipe_mapping_agrees_with_dlib_68() -> None:
    """The Face Mesh -> iBUG table puts every point where dlib's native 68-point predictor does.

    Per-point error under 20 % of the inter-ocular distance (jaw points differ most: the two detectors
    define the contour differently), mean under 8 %; a swapped eye or lip index would give > 30 %.
    """
    x = decode()[::2]
    mesh = LANDMARKS.build("mediapipe", device=CPU).detect(x).points
    dlib = LANDMARKS.build("dlib", device=CPU).detect(x).points
    err = (mesh - dlib).norm(dim=-1) / inter_ocular(dlib)[:, None]
    assert err.mean() < 0.08
    assert err.mean(dim=0).max() < 0.2


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """Empty weight folders: ours and torch hub's."""
    monkeypatch.setenv("QA_HARNESS_WEIGHTS", str(tmp_path / "ours"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


@pytest.mark.slow  # a subprocess
def test_mediapipe_start_up_chatter_goes_to_the_debug_log() -> None:
    """Built and run on faces in a fresh process: nothing on stderr (MediaPipe's C++ graph would print
    TFLite and "feedback manager" lines there), the lines are in the debug log instead."""
    code = (
        "import logging, torch\n"
        "logging.basicConfig(level=logging.DEBUG, format='%(name)s %(message)s',\n"
        "                    handlers=[logging.FileHandler('log')])\n"
        "from qa_harness.catalog import LANDMARKS\n"
        "from tests.helpers.face import source_and_target\n"
        "detector = LANDMARKS.build('mediapipe', device=torch.device('cpu'))\n"
        "assert detector.detect(source_and_target()[1][:2]).found.all()\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        result = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        logged = (Path(folder) / "log").read_text()
    assert result.stderr == ""
    assert "qa_harness.native mediapipe:" in logged


def test_fan_absent_weights_name_both_files_and_folders(no_weights) -> None:
    from qa_harness.landmarks import fan

    with pytest.raises(WeightsUnavailableError) as err:
        LANDMARKS.build("fan", device=CPU)
    message = str(err.value)
    assert "s3fd-619a316812.pth" in message and fan.fan_file() in message and "2DFAN4" in message
    hub = no_weights / "torch" / "hub" / "checkpoints"
    assert str(no_weights / "ours") in message and str(hub) in message


def test_fan_loads_made_weights_from_torch_hub_cache(no_weights) -> None:
    """Weights in torch hub's checkpoints/ are found; the crop/heatmap geometry maps back to pixels.

    Zeroed FAN heads peak at heatmap cell (0, 0) -> heatmap point (0.5, 0.5) after face-alignment's
    -0.5 shift -> image point centre - 100 * scale + 0.5 * (200 * scale / 64), truncated to int.
    """
    folder = no_weights / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    write_fan_weights(folder, blank_fan=True)
    backend = LANDMARKS.build("fan", device=CPU)
    lm = backend.detect(decode()[:1])
    assert lm.found.tolist() == [True]
    # Only the stride-128 head fires: 512-px boxes centred on cells (64 + 128 i, 64 + 128 j); NMS keeps one.
    scale = 1024 / 195.0  # (box width + height) / S3FD's reference scale
    points = lm.points[0].numpy()
    assert (points == points[0]).all()
    cells = 64.0 + 128.0 * np.arange(4)
    x = np.trunc(cells - 100 * scale + 0.5 * (200 * scale / 64))
    y = np.trunc(cells - 512 * 0.12 - 100 * scale + 0.5 * (200 * scale / 64))
    assert np.abs(x - points[0, 0]).min() <= 1.0 and np.abs(y - points[0, 1]).min() <= 1.0


def test_fan_explicit_folder_and_corrupt_file(tmp_path, no_weights) -> None:
    from qa_harness.landmarks import fan

    write_fan_weights(tmp_path, blank_fan=False)
    assert fan.build(device=CPU, weights=tmp_path).version.startswith("1.5.0-s3fd")
    (tmp_path / fan.fan_file()).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=fan.fan_file()):
        fan.build(device=CPU, weights=tmp_path)
    (tmp_path / fan.S3FD_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=fan.S3FD_FILE):
        fan.build(device=CPU, weights=tmp_path)


def test_heatmap_decoding_matches_face_alignment(monkeypatch) -> None:
    """Our batched torch decoding equals face-alignment's `_get_preds_fromhm` (run as plain Python).

    The numba-compiled originals take ~30 s to compile here, so their `py_func`s are the reference.
    """
    from face_alignment import utils

    from qa_harness.landmarks.fan import heatmap_points

    monkeypatch.setattr(utils, "transform_np", utils.transform_np.py_func)
    rng = np.random.default_rng(0)
    heatmaps = rng.random((2, 68, 64, 64)).astype(np.float32)
    heatmaps[0, 0, 0, 5] = heatmaps[1, 1, 63, 63] = 2.0  # peaks on the border: no quarter-cell shift
    boxes = np.array([[120.5, 140.25, 0.8], [60.0, 70.0, 1.3]])
    ours, peaks = heatmap_points(torch.from_numpy(heatmaps), torch.from_numpy(boxes).float())
    for k in range(2):
        flat = heatmaps[k : k + 1].reshape(1, 68, -1)
        idx = flat.argmax(axis=-1)
        _, ref = utils._get_preds_fromhm.py_func(heatmaps[k : k + 1], idx.copy(), boxes[k, :2], boxes[k, 2])
        np.testing.assert_allclose(ours[k].numpy(), ref[0], atol=1e-6)
        np.testing.assert_allclose(peaks[k].numpy(), flat.max(axis=-1)[0])


def test_missing_optional_package_names_the_extra() -> None:
    from qa_harness.weights import require_package

    with pytest.raises(WeightsUnavailableError, match=r"qa_harness_no_such_pkg.*pip install 'qa_harness\[face\]'"):
        require_package("qa_harness_no_such_pkg")


def test_registry_lists_the_backends() -> None:
    assert {"mediapipe", "dlib", "fan"} <= set(LANDMARKS.names())
