"""FAN 2D (face-alignment, 68 points): the landmark detector of the papers' AKD protocol.

Protocol (AliaksandrSiarohin/pose-evaluation `extract.py::extract_face_pose`):
`FaceAlignment(LandmarksType._2D, flip_input=False)` - S3FD face detector, first detected face (the
highest-scoring one after NMS), FAN-4 heatmaps, 68 points in pixels of the 256x256 frame.

We drive the `face_alignment` package's own pieces (S3FD net and detector, FAN net, `crop`) but load
their weights ourselves, because `FaceAlignment()` downloads them: `s3fd-619a316812.pth` and the
2D-FAN-4 file named by the installed package (`2DFAN4-11f355bf06.pth.tar` for 1.5.0), looked up at the
given path, in `$QA_HARNESS_WEIGHTS`, then in torch hub's `checkpoints/` (where face-alignment caches
them). Detection runs batched on `device`; the FAN forward pass runs batched over all found faces, and
its heatmap decoding (`heatmap_points`) in torch on the same device.
Confidence is the mean heatmap peak over the 68 points.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor

from qa_harness.errors import CheckpointError, WeightsUnavailableError
from qa_harness.landmarks.base import LandmarkBackend, Landmarks, empty_arrays, to_uint8_images
from qa_harness.weights import (
    file_digest,
    find_weight_file,
    load_state_dict,
    load_strict,
    require_package,
    torch_hub_checkpoints,
)

S3FD_FILE = "s3fd-619a316812.pth"
ORIGIN = "face-alignment (github.com/1adrianb/face-alignment; www.adrianbulat.com/downloads/python-fan/)"


def fan_file() -> str:
    """File name of the 2D-FAN-4 weights the installed face-alignment expects."""
    models_urls = require_package("face_alignment.api").models_urls
    return Path(urlparse(models_urls["2DFAN-4"]).path).name


class FAN2D(LandmarkBackend):
    name = "fan"

    def __init__(self, *, s3fd: Path, fan: Path, device: torch.device) -> None:
        import face_alignment
        from face_alignment.detection.sfd.sfd_detector import SFDDetector
        from face_alignment.models import FAN

        self.version = f"{face_alignment.__version__}-s3fd{file_digest(s3fd)}-fan{file_digest(fan)}"
        self._device = device
        try:  # torch.load(weights_only=True) and a strict state-dict load inside
            self._detector = SFDDetector(str(device), path_to_detector=str(s3fd))
        except Exception as err:  # unreadable file or keys that do not fit
            raise CheckpointError(f"{s3fd}: cannot load into the S3FD face detector: {err}") from err
        self._fan = FAN(4)
        load_strict(self._fan, load_state_dict(fan), path=fan, what="face-alignment FAN-4 (2D)")
        self._fan.to(device).eval()

    @torch.inference_mode()
    def detect(self, frames: Tensor) -> Landmarks:
        from face_alignment.utils import crop

        images = to_uint8_images(frames)  # the CPU crops are cut from these
        points, found, confidence = empty_arrays(len(images))
        # the same uint8 values, quantised where the frames are (no device -> CPU -> device round trip)
        batch = (frames.detach().float().clamp(0, 1) * 255).round().to(self._device)
        hits, boxes, crops = [], [], []
        for i, frame_boxes in enumerate(self._detector.detect_from_batch(batch)):
            if len(frame_boxes) == 0:
                continue
            centre, scale = face_box(frame_boxes[0][:4], self._detector.reference_scale)
            hits.append(i)
            boxes.append((*centre, scale))
            crops.append(crop(images[i], centre, scale).transpose(2, 0, 1))
        if hits:
            inputs = torch.from_numpy(np.stack(crops)).float().div(255).to(self._device)
            heatmaps = self._fan(inputs)
            heatmaps = heatmaps[-1] if isinstance(heatmaps, list) else heatmaps
            pts, peaks = heatmap_points(heatmaps.float(), torch.tensor(boxes, device=self._device))
            points[hits] = pts.cpu().numpy()
            found[hits] = True
            confidence[hits] = peaks.mean(dim=1).clamp(0, 1).cpu().numpy()
        return Landmarks.from_numpy(points, found, confidence)


def face_box(box: np.ndarray, reference_scale: float) -> tuple[np.ndarray, float]:
    """S3FD box (x0, y0, x1, y1) -> FAN crop centre (shifted up by 12 % of the height) and scale."""
    x0, y0, x1, y1 = (float(v) for v in box)
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0 - (y1 - y0) * 0.12])
    return centre, (x1 - x0 + y1 - y0) / reference_scale


def heatmap_points(heatmaps: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
    """(K, 68, R, R) heatmaps, (K, 3) crop (centre x, centre y, scale) -> (K, 68, 2) pixels, (K, 68) peaks.

    face-alignment's `get_preds_fromhm`, batched in torch (it is numba-compiled per process there):
    the peak cell, a quarter cell towards the larger neighbour when not on the border, minus half a
    cell, mapped back through the crop (side 200 x scale around the centre) and truncated to int.
    """
    k, c, h, w = heatmaps.shape
    peaks, idx = heatmaps.flatten(2).max(dim=-1)
    x, y = idx % w, torch.div(idx, w, rounding_mode="floor")
    inner = (x > 0) & (x < w - 1) & (y > 0) & (y < h - 1)
    xi, yi = x.clamp(1, w - 2), y.clamp(1, h - 2)

    def at(dy: int, dx: int) -> Tensor:
        return heatmaps.flatten(2).gather(-1, ((yi + dy) * w + xi + dx)[..., None])[..., 0]

    dx = torch.sign(at(0, 1) - at(0, -1)) * 0.25 * inner
    dy = torch.sign(at(1, 0) - at(-1, 0)) * 0.25 * inner
    cell = torch.stack([x + dx + 0.5, y + dy + 0.5], dim=-1)  # 1-based cell + shift - 0.5
    side = 200.0 * boxes[:, 2, None, None]
    centre = boxes[:, None, :2]
    return torch.trunc(cell * side / h - side / 2 + centre), peaks


def find_files(weights: Path | None) -> tuple[Path, Path]:
    """S3FD and FAN-4 weight paths; one WeightsUnavailableError naming every missing file otherwise."""
    found, missing = [], []
    for name in (S3FD_FILE, fan_file()):
        explicit = weights / name if weights is not None else None
        try:
            found.append(find_weight_file(name, source=ORIGIN, explicit=explicit, upstream=[torch_hub_checkpoints()]))
        except WeightsUnavailableError as err:
            missing.append(str(err))
    if missing:
        raise WeightsUnavailableError("\n".join(missing))
    return found[0], found[1]


def build(*, device: torch.device, weights: Path | None = None) -> FAN2D:
    """`weights`: a folder holding both files. Raises WeightsUnavailableError naming the missing files."""
    s3fd, fan = find_files(weights)
    return FAN2D(s3fd=s3fd, fan=fan, device=device)
