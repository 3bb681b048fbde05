"""A "good model" for gate tests, reachable as `--model tests.helpers.gate_models:good`.

Output = ground truth (the driving frame, under reconstruction) with a mild Gaussian blur and seeded
sensor noise, like a well-trained animator. Options:

- `quality`: per-pair run-to-run quality noise, the normal case for a retrained checkpoint: each
  pair's blur sigma is `blur * (1 + quality * u)`, u uniform in [-1, 1] drawn per pair from the
  runner's per-pair seed (run seed + pair id), so another `--seed` is another checkpoint;
- `defect_suite` + `defect_where` (a condition selector such as `yaw=moderate`): an extra blur of
  `defect_blur` on exactly the driving frames of that suite whose conditions match, recognised by
  content (the frames are decoded as the runner decodes them), so a regression is confined to one
  condition value, down to single frames of a clip.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from qa_harness.models.base import Animator
from qa_harness.records import COND_PREFIX
from qa_harness.runs.selectors import parse_selector
from qa_harness.suites.manifest import load_suite
from qa_harness.video.io import iter_frames


def blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of (N, 3, H, W) frames, edges replicated."""
    if sigma <= 0:
        return x
    radius = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    g = g / g.sum()
    x = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)


def fingerprint(frame: Tensor) -> str:
    """Content key of one (3, H, W) frame in [0, 1] (a 4x subsampled grid, rounded to 8 bits)."""
    grid = (frame[:, ::4, ::4] * 255).round().to(torch.uint8)
    return hashlib.sha1(grid.contiguous().numpy().tobytes()).hexdigest()


def condition_frames(suite_path: str, where: str) -> set[str]:
    """Fingerprints of the driving frames of `suite_path` whose conditions match the selector `where`."""
    suite = load_suite(suite_path)
    selector = parse_selector(where).concrete
    keys: set[str] = set()
    for pair in suite.pairs:
        frames = torch.cat(
            list(
                iter_frames(
                    pair.driving.path,
                    resolution=suite.resolution,
                    crop=pair.driving.crop,
                    chunk=64,
                    max_frames=suite.max_frames,
                )
            )
        )
        tags = pd.DataFrame(
            [{COND_PREFIX + k: v for k, v in pair.frame_conditions(i).items()} for i in range(len(frames))]
        )
        keys |= {fingerprint(frames[i]) for i in selector.mask(tags).nonzero()[0]}
    return keys


class Good(Animator):
    def __init__(self, blur: float, noise: float, quality: float, defect: set[str], defect_blur: float) -> None:
        self.blur, self.noise, self.quality, self.defect, self.defect_blur = blur, noise, quality, defect, defect_blur

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> float:
        u = float(torch.rand(())) * 2 - 1  # the runner seeded torch for this pair
        return self.blur * (1 + self.quality * u)

    def animate(self, state: float, driving: Tensor) -> Tensor:
        out = blur(driving, state) + self.noise * torch.randn_like(driving)
        hit = [i for i in range(len(driving)) if self.defect and fingerprint(driving[i]) in self.defect]
        if hit:
            out[hit] = blur(out[hit], self.defect_blur)
        return out.clamp(0, 1)


def good(
    *,
    checkpoint=None,
    device=None,
    blur: float = 0.5,
    noise: float = 0.005,
    quality: float = 0.0,
    defect_suite: str = "",
    defect_where: str = "",
    defect_blur: float = 1.0,
    **_: Any,
) -> Animator:
    defect = condition_frames(defect_suite, defect_where) if defect_where else set()
    if defect_where and not defect:
        raise ValueError(f"no frame of {defect_suite} matches {defect_where!r}")
    return Good(float(blur), float(noise), float(quality), defect, float(defect_blur))


class FrozenEyes(Animator):
    """The ground truth with the first frame's eyes pasted over every frame's eyes (each eye's box found by
    MediaPipe, the first frame's crop resized to it): head, mouth and face move, the eyes never blink.

    A regression only clip-level scores see: a few percent of the pixels change, so pixel means barely move,
    but the output's eye aspect ratio is flat, so `ear_mar`'s blink F1 and EAR correlation fall.
    """

    def __init__(self) -> None:
        from qa_harness.catalog import LANDMARKS

        self.landmarks = LANDMARKS.build("mediapipe", device=torch.device("cpu"))

    def _eye_boxes(self, frames: Tensor) -> list[list[tuple[int, int, int, int] | None]]:
        """Per frame, per eye: (top, bottom, left, right) pixels around the 6 eye points, padded for the lids."""
        from qa_harness.landmarks.base import LEFT_EYE, RIGHT_EYE

        found = self.landmarks.detect(frames)
        h, w = frames.shape[-2:]
        boxes = []
        for points, ok in zip(found.points, found.found, strict=True):
            per_eye = []
            for eye in (RIGHT_EYE, LEFT_EYE):
                if not bool(ok):
                    per_eye.append(None)
                    continue
                xy = points[list(eye)]
                x0, x1, y0, y1 = (
                    float(xy[:, 0].min()),
                    float(xy[:, 0].max()),
                    float(xy[:, 1].min()),
                    float(xy[:, 1].max()),
                )
                pad_x, pad_y = 0.25 * (x1 - x0), 0.6 * (x1 - x0)
                top, bottom = max(0, int(y0 - pad_y)), min(h, int(y1 + pad_y) + 1)
                left, right = max(0, int(x0 - pad_x)), min(w, int(x1 + pad_x) + 1)
                per_eye.append((top, bottom, left, right) if bottom - top > 1 and right - left > 1 else None)
            boxes.append(per_eye)
        return boxes

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> tuple[Tensor, list]:
        first = source if source.ndim == 4 else source[None]
        return first, self._eye_boxes(first)[0]

    def animate(self, state: tuple[Tensor, list], driving: Tensor) -> Tensor:
        first, first_boxes = state
        out = driving.clone()
        for i, boxes in enumerate(self._eye_boxes(driving)):
            for box, src in zip(boxes, first_boxes, strict=True):
                if box is None or src is None:
                    continue
                top, bottom, left, right = box
                crop = first[:, :, src[0] : src[1], src[2] : src[3]]
                out[i, :, top:bottom, left:right] = F.interpolate(
                    crop, size=(bottom - top, right - left), mode="bilinear", align_corners=False
                )[0]
        return out


def frozen_eyes(*, checkpoint=None, device=None, **_: Any) -> Animator:
    return FrozenEyes()
