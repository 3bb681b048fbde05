"""LPIPS perceptual distance per frame: `lpips` (AlexNet trunk, the default) and `lpips_vgg` (VGG16).

The two names are one class over two `NetSpec`s (variants are config, not copies). Lower is better,
0 for identical frames. Frames arrive in [0, 1] and are mapped to LPIPS's [-1, 1]; the whole batch
goes through the network at once on the context device (GPU when there is one). The network and
where its weights come from are described in `qa_harness.metrics.lpips_net`; an absent weight file
raises `WeightsUnavailableError` at build time, which the runner reports as "metric unavailable".

Metric card. *Range* [0, ~1], lower is better, 0 for identical frames. *Reference*: `lpips` 0.1.4
(`tests/test_lpips.py`, 1e-5 with the same weights) and the published example distances with the
ImageNet weights (AlexNet 0.7219 / 0.1376, `tests/test_lpips_weights.py`, 1e-4). *Weights*: a user's
torchvision file, else the ones `qa-harness weights install lpips` builds (the run's `lpips_weights`
param says which). *Failure modes*: needs >= 31 px (AlexNet) frames; blind to time.

The ground truth's side is the same for every model evaluated on a suite: with a cache folder (the
runner's `ctx.cache_dir`), its unit feature maps are stored under `<cache_dir>/lpips/<net>-<weights
hash>/<suite version>/<content hash>.npy` (`_suite_cache`, read memory-mapped), and a warm run passes
only the outputs through the backbone: half the network's work (issue 18), the same values bit for bit
(`tests/test_lpips.py`).
Opt-in, because of its size (2.6 MB per 256 px frame, float32 as computed: 614 MB for the demo's 240
frames; VGG16's maps would be 32 MB per frame): `cache_reference: auto` in a suite's `metric_options`
caches AlexNet's maps on the CPU only (a GPU computes them faster than they are read back), `true`
always, `false` (the default) never.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.errors import QaHarnessError
from qa_harness.metrics._suite_cache import SuiteCache, content_hash
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext, check_frame_pair
from qa_harness.metrics.lpips_net import ALEXNET, VGG16, LpipsNet, NetSpec, load_lpips_net

#: Version of the cached maps' layout; part of the cache folder's name.
CACHE_VERSION = 1


class LPIPS(Metric):
    """Learned perceptual image patch similarity (Zhang et al., CVPR 2018), version 0.1."""

    needs_reference = True

    def __init__(
        self,
        spec: NetSpec,
        *,
        name: str,
        device: torch.device,
        backbone: Path | None = None,
        cache_dir: Path | None = None,
        suite_version: str = "",
    ) -> None:
        self.name = name
        self.columns = (Column(name, higher_is_better=False, low=0.0),)
        self.device = device
        self.net = load_lpips_net(spec, backbone=backbone).to(device)
        tag = f"{spec.name}-{_weights_hash(self.net)}-v{CACHE_VERSION}" if cache_dir is not None else ""
        self.reference = SuiteCache(cache_dir, area="lpips", tag=tag, suite_version=suite_version)
        #: Ground-truth frames this instance passed through the backbone (none on a warm cache).
        self.reference_frames = 0

    @torch.inference_mode()
    def distance(self, output: Tensor, target: Tensor) -> Tensor:
        """(N, 3, H, W) x2 in [0, 1] -> (N,) float32 LPIPS distances on the context device."""
        check_frame_pair(output, target, metric=self.name)
        key = content_hash(target) if self.reference.folder is not None else ""
        stored = self.reference.load_array(key) if key else None
        if stored is not None:
            ux = self.net.unit_features(self.net.scaled(output, unit=True))
            if (uy := _split(stored, ux)) is not None:
                return self.net.layer_sum(ux, [u.to(self.device) for u in uy])
        units = self.net.unit_features(self.net.scaled(output, target, unit=True))
        ux, uy = zip(*(u.chunk(2) for u in units), strict=True)
        self.reference_frames += target.shape[0]
        if key:  # channels-last maps, (N, H * W * C) each, side by side in one array
            flat = torch.cat([u.permute(0, 2, 3, 1).reshape(u.shape[0], -1) for u in uy], dim=1)
            self.reference.store_array(key, flat.cpu().numpy())
        return self.net.layer_sum(ux, uy)

    def run_params(self) -> dict[str, str]:
        return {self.net.spec.param: self.net.weights_label}

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(
                f"{self.name}: needs ground truth, but pair {batch.pair.id!r} has none ({batch.pair.protocol} protocol)"
            )
        return {self.name: self.distance(batch.output, batch.target)}


#: `build(net=...)` -> the network spec.
NETS = {"alex": ALEXNET, "vgg": VGG16}


def _split(stored: np.ndarray, like: list[Tensor]) -> list[Tensor] | None:
    """The cached (N, sum of H * W * C) array as views shaped like the output's maps (channels-last
    NCHW), or None when its shape does not fit them (then the ground truth is computed again)."""
    n = like[0].shape[0]
    sizes = [u[0].numel() for u in like]
    if stored.shape != (n, sum(sizes)) or stored.dtype != np.float32:
        return None
    flat, maps, start = torch.from_numpy(stored), [], 0
    for u, size in zip(like, sizes, strict=True):
        _, c, h, w = u.shape
        maps.append(flat[:, start : start + size].view(n, h, w, c).permute(0, 3, 1, 2))
        start += size
    return maps


def _weights_hash(net: LpipsNet) -> str:
    """12 hex digits of the network's parameters: other weights, another cache folder."""
    digest = hashlib.blake2b(digest_size=6)
    for key, value in net.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


#: Nets whose ground-truth maps are cached by default (see the module docstring for the sizes).
CACHED_BY_DEFAULT = frozenset({"alex"})


def build(ctx: MetricContext, *, net: str = "alex", name: str = "lpips", cache_reference: bool | str = False) -> LPIPS:
    if net not in NETS:
        raise QaHarnessError(f"{name}: unknown LPIPS net '{net}' (known: {', '.join(NETS)})")
    if cache_reference != "auto" and not isinstance(cache_reference, bool):
        raise QaHarnessError(f"{name}: cache_reference must be true, false or auto, got {cache_reference!r}")
    # auto: on the CPU only; on a GPU the backbone costs less than reading its maps back (41 MB a batch)
    auto = net in CACHED_BY_DEFAULT and ctx.device.type == "cpu"
    cached = auto if cache_reference == "auto" else cache_reference
    return LPIPS(
        NETS[net],
        name=name,
        device=ctx.device,
        cache_dir=ctx.cache_dir if cached else None,
        suite_version=ctx.suite_version,
    )
