"""OpenFace nn4.small2 (128-d), the identity network of the papers' AED, re-implemented in torch.

Protocol of AliaksandrSiarohin/pose-evaluation `extract.py::extract_face_id` (used by FOMM, MRAA, TPSMM,
MRFA): the whole frame (no detection, crop or alignment), RGB -> BGR, resized to 96x96 (skimage
`resize`, bilinear, no anti-aliasing in the pinned 0.14), float in [0, 1]; the 128-d output is L2
normalised; AED compares embeddings by squared L2 (`cmp.py`).

Architecture and state-dict layout follow thnkim/OpenFacePytorch `loadOpenFace.py::netOpenFace` (a port
of the Torch7 nn4.small2.v1 model), so its `openface.pth` loads with strict keys: conv/BN stem
`layer1..layer10`, inception blocks `layer14..layer21` whose branches are `seq_list.<i>.<k>_conv|bn`,
and `layer25` (736 -> 128). Quirks kept because the weights were trained/converted with them: the
3x3 L2-pool branches use stride 3, and every branch output is zero-padded (centred) to the largest
branch's size before concatenation. The weights are not shipped: put `openface.pth` (from that
repository) in `$QA_HARNESS_WEIGHTS` or pass its path.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.landmarks.base import Landmarks
from qa_harness.weights import file_digest, find_weight_file, load_state_dict, load_strict

WEIGHTS_FILE = "openface.pth"
WEIGHTS_ORIGIN = "github.com/thnkim/OpenFacePytorch (openface.pth, the nn4.small2.v1 port)"
INPUT_SIZE = 96


def _conv_bn(prefix: str, cin: int, cout: int, kernel: int, stride: int, pad: int) -> list[tuple[str, nn.Module]]:
    """1x1 or kxk conv, BN, ReLU under the official key names (`<n>_conv`, `<n+1>_bn`, `<n+2>_relu`)."""
    n = int(prefix)
    return [
        (f"{n}_conv", nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad)),
        (f"{n + 1}_bn", nn.BatchNorm2d(cout)),
        (f"{n + 2}_relu", nn.ReLU()),
    ]


class Inception(nn.Module):
    """Branches: per kernel k a 1x1 reduce then a kxk conv; a pool branch (optionally 1x1 projected);
    optionally a plain 1x1 branch. Outputs are centre zero-padded to a common size and concatenated."""

    def __init__(
        self,
        cin: int,
        kernels: tuple[int, ...],
        strides: tuple[int, ...],
        outs: tuple[int, ...],
        reduces: tuple[int | None, ...],
        pool: nn.Module,
    ) -> None:
        super().__init__()
        branches = [
            nn.Sequential(OrderedDict(_conv_bn("1", cin, r, 1, 1, 0) + _conv_bn("4", r, o, k, s, k // 2)))
            for k, s, o, r in zip(kernels, strides, outs, reduces, strict=False)
        ]
        pool_branch: list[tuple[str, nn.Module]] = [("1_pool", pool)]
        proj = reduces[len(kernels)] if len(reduces) > len(kernels) else None
        if proj is not None:
            pool_branch += _conv_bn("2", cin, proj, 1, 1, 0)
        branches.append(nn.Sequential(OrderedDict(pool_branch)))
        plain = reduces[len(kernels) + 1] if len(reduces) > len(kernels) + 1 else None
        if plain is not None:
            branches.append(nn.Sequential(OrderedDict(_conv_bn("1", cin, plain, 1, 1, 0))))
        self.seq_list = nn.ModuleList(branches)

    def forward(self, x: Tensor) -> Tensor:
        ys = [branch(x) for branch in self.seq_list]
        h = max(y.shape[2] for y in ys)
        w = max(y.shape[3] for y in ys)
        padded = []
        for y in ys:
            top, left = (h - y.shape[2]) // 2, (w - y.shape[3]) // 2
            padded.append(F.pad(y, (left, w - y.shape[3] - left, top, h - y.shape[2] - top)))
        return torch.cat(padded, dim=1)


def _max3s2() -> nn.Module:
    return nn.MaxPool2d(3, stride=2, padding=0)


def _l2pool() -> nn.Module:
    return nn.LPPool2d(2, 3, stride=3)


class OpenFaceNN4Small2(nn.Module):
    """(N, 3, 96, 96) BGR in [0, 1] -> (N, 128) unit-norm embeddings."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.layer2 = nn.BatchNorm2d(64)
        self.layer6 = nn.Conv2d(64, 64, 1)
        self.layer7 = nn.BatchNorm2d(64)
        self.layer9 = nn.Conv2d(64, 192, 3, padding=1)
        self.layer10 = nn.BatchNorm2d(192)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)  # Torch7 SpatialCrossMapLRN
        self.layer14 = Inception(192, (3, 5), (1, 1), (128, 32), (96, 16, 32, 64), _max3s2())
        self.layer15 = Inception(256, (3, 5), (1, 1), (128, 64), (96, 32, 64, 64), _l2pool())
        self.layer16 = Inception(320, (3, 5), (2, 2), (256, 64), (128, 32, None, None), _max3s2())
        self.layer17 = Inception(640, (3, 5), (1, 1), (192, 64), (96, 32, 128, 256), _l2pool())
        self.layer18 = Inception(640, (3, 5), (2, 2), (256, 128), (160, 64, None, None), _max3s2())
        self.layer19 = Inception(1024, (3,), (1,), (384,), (96, 96, 256), _l2pool())
        self.layer21 = Inception(736, (3,), (1,), (384,), (96, 96, 256), _max3s2())
        self.layer25 = nn.Linear(736, 128)

    def forward(self, x: Tensor) -> Tensor:
        x = F.max_pool2d(F.relu(self.layer2(self.layer1(x))), 3, stride=2, padding=1)
        x = F.relu(self.layer7(self.layer6(self.lrn(x))))
        x = F.max_pool2d(self.lrn(F.relu(self.layer10(self.layer9(x)))), 3, stride=2, padding=1)
        for block in (
            self.layer14,
            self.layer15,
            self.layer16,
            self.layer17,
            self.layer18,
            self.layer19,
            self.layer21,
        ):
            x = block(x)
        x = F.avg_pool2d(x, 3, stride=1).flatten(1)
        x = self.layer25(x)
        return x / torch.sqrt((x**2).sum(dim=1, keepdim=True) + 1e-6)


def load_openface(path: Path, device: torch.device) -> OpenFaceNN4Small2:
    """The network with `path`'s weights (strict keys and shapes; CheckpointError naming the file)."""
    net = OpenFaceNN4Small2()
    load_strict(net, load_state_dict(path), path=path, what="OpenFace nn4.small2")
    return net.to(device).eval()


def preprocess(frames: Tensor) -> Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 3, 96, 96) BGR: the whole frame, bilinear, no anti-aliasing."""
    bgr = frames.float().flip(1)
    return F.interpolate(bgr, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)


class OpenFace(IdentityBackend):
    name = "openface"
    dim = 128

    def __init__(self, net: OpenFaceNN4Small2, *, weights_id: str, device: torch.device) -> None:
        self.version = f"nn4.small2-{weights_id}"
        self._net, self._device = net, device

    @torch.inference_mode()
    def embed(self, frames: Tensor, faces: Landmarks | None = None) -> Embeddings:
        """The whole frame, as the papers' AED: `faces` are not used."""
        vectors = self._net(preprocess(frames.to(self._device))).cpu()
        return Embeddings(vectors, torch.ones(len(vectors), dtype=torch.bool))


def build(*, device: torch.device, weights: Path | None = None) -> OpenFace:
    """`weights`: the file itself (else the lookup convention). Runs on `device`; WeightsUnavailableError if absent."""
    path = find_weight_file(WEIGHTS_FILE, source=WEIGHTS_ORIGIN, explicit=weights)
    return OpenFace(load_openface(path, device), weights_id=file_digest(path), device=device)
