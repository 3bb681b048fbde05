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
