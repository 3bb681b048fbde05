"""HRNet feature extractor in front of MTIA's transformer (`HRNET_base` in the official MRFA code).

A stem (two stride-2 3x3 convs and four bottlenecks) followed by HRNet stages 2 and 3 whose branches run
at 1/4, 1/8, 1/16 ... of the input and exchange information by summation after every module. Only the
highest-resolution output of stage 3 is returned: (B, STAGE3.NUM_CHANNELS[0], H/4, W/4).

Parameter names reproduce `encoder.pre_feature.*` of the official state dict (JialeTao/MRFA at commit
20f935f, `modules/transformer/hr_base.py`); index positions of pass-through entries are kept as `None`
in the module lists so that numbering matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from qa_harness.reference_models.blocks.backbones import BasicBlock

_STEM_CHANNELS = 64


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, relu: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4), each with BN, plus shortcut."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(cin, planes * self.expansion, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def _projection(cin: int, cout: int, stride: int) -> nn.Sequential | None:
    """1x1 conv + BN shortcut when the block changes width or resolution, else None (identity)."""
    if stride == 1 and cin == cout:
        return None
    return _conv_bn(cin, cout, 1, stride)


def _blocks(block: type[BasicBlock] | type[Bottleneck], cin: int, planes: int, count: int) -> nn.Sequential:
    layers = [block(cin, planes)]
    layers += [block(planes * block.expansion, planes) for _ in range(1, count)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of residual blocks, then every output branch sums all inputs resampled to it.

    Higher-resolution inputs reach a lower-resolution output through chains of stride-2 3x3 conv-BN
    (ReLU between, none after the last); lower-resolution inputs through 1x1 conv-BN and nearest
    upsampling. With `multi_scale_output=False` only the highest-resolution output is produced.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: Sequence[int],
        in_channels: Sequence[int],
        channels: Sequence[int],
        multi_scale_output: bool,
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            _blocks(block, cin, planes, count)
            for cin, planes, count in zip(in_channels, channels, num_blocks, strict=True)
        )
        self.out_channels = [c * block.expansion for c in channels]
        n = len(channels)
        self.fuse_layers = None
        if n > 1:
            self.fuse_layers = nn.ModuleList(
                nn.ModuleList(self._fuse(j, i) for j in range(n)) for i in range(n if multi_scale_output else 1)
            )
        self.relu = nn.ReLU(True)

    def _fuse(self, src: int, dst: int) -> nn.Module | None:
        c = self.out_channels
        if src == dst:
            return None
        if src > dst:
            return nn.Sequential(*_conv_bn(c[src], c[dst], 1), nn.Upsample(scale_factor=2 ** (src - dst)))
        steps = dst - src
        return nn.Sequential(
            *(_conv_bn(c[src], c[dst] if k == steps - 1 else c[src], 3, 2, relu=k < steps - 1) for k in range(steps))
        )

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        outs = []
        for i, fuse in enumerate(self.fuse_layers):
            y = xs[0] if i == 0 else fuse[0](xs[0])
            for j in range(1, len(xs)):
                y = y + (xs[j] if i == j else fuse[j](xs[j]))
            outs.append(self.relu(y))
        return outs


def _transition(previous: Sequence[int], current: Sequence[int]) -> nn.ModuleList:
    """Adapts stage outputs to the next stage's branches; a new branch is made from the lowest one."""
    layers: list[nn.Module | None] = []
    for i, cout in enumerate(current):
        if i < len(previous):
            layers.append(None if cout == previous[i] else _conv_bn(previous[i], cout, 3, relu=True))
            continue
        extra = i + 1 - len(previous)
        cin = previous[-1]
        layers.append(
            nn.Sequential(*(_conv_bn(cin, cout if k == extra - 1 else cin, 3, 2, relu=True) for k in range(extra)))
        )
    return nn.ModuleList(layers)


class HRNetBase(nn.Module):
    """Stem + stage 2 + stage 3 of HRNet; `extra` is the config's `MODEL.EXTRA` mapping."""

    def __init__(self, extra: Mapping[str, Any]) -> None:
        super().__init__()
        c = _STEM_CHANNELS
        self.conv1 = nn.Conv2d(3, c, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _blocks(Bottleneck, c, c, 4)
        stem_out = [c * Bottleneck.expansion]
        self.transition1, self.stage2, channels = self._stage(extra["STAGE2"], stem_out, True)
        self.transition2, self.stage3, channels = self._stage(extra["STAGE3"], channels, False)
        self.out_channels = channels[0]

    @staticmethod
    def _stage(
        cfg: Mapping[str, Any], previous: list[int], multi_scale_output: bool
    ) -> tuple[nn.ModuleList, nn.Sequential, list[int]]:
        block = BLOCKS[cfg["BLOCK"]]
        channels = list(cfg["NUM_CHANNELS"])
        expanded = [ch * block.expansion for ch in channels]
        transition = _transition(previous, expanded)
        modules, cin = [], expanded
        for m in range(cfg["NUM_MODULES"]):
            last = m == cfg["NUM_MODULES"] - 1
            module = HighResolutionModule(block, cfg["NUM_BLOCKS"], cin, channels, multi_scale_output or not last)
            modules.append(module)
            cin = module.out_channels
        return transition, nn.Sequential(*modules), cin

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))
        x = self.layer1(x)
        xs = [x if t is None else t(x) for t in self.transition1]
        ys = self.stage2(xs)
        xs = [ys[i] if t is None else t(ys[-1]) for i, t in enumerate(self.transition2)]
        return self.stage3(xs)[0]
