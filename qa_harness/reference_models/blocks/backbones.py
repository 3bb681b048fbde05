"""ResNet-18 with torchvision's parameter names, without torchvision, and the networks built on it.

TPSMM's keypoint detector and background predictor (and MRFA's) are `torchvision.models.resnet18`
with a replaced `fc` (and, for the background, a 6-channel `conv1`); their checkpoints therefore hold
torchvision names (`conv1`, `bn1`, `layer1.0.conv1`, ..., `layer2.0.downsample.0`, `fc`). torchvision is
not importable with the CPU torch here, and the product must not need it, so the architecture is
rebuilt here: BasicBlock x [2, 2, 2, 2], widths 64-512, 7x7/2 stem + 3x3/2 max-pool, global average pool.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with identity (or 1x1 conv-BN `downsample`) shortcut (ResNet-18, HRNet)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet18(nn.Module):
    """torchvision `resnet18` layout: (B,in_channels,H,W) -> (B,num_outputs) from `fc`."""

    def __init__(self, *, in_channels: int = 3, num_outputs: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        widths, in_planes = (64, 128, 256, 512), 64
        for index, planes in enumerate(widths, start=1):
            stride = 1 if index == 1 else 2
            setattr(
                self,
                f"layer{index}",
                nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes)),
            )
            in_planes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_outputs)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ResNetBGMotionPredictor(nn.Module):
    """Background motion as a 3x3 affine matrix from a 6-channel (source, driving) ResNet-18.

    Official: TPSMM / MRFA `modules/bg_motion_predictor.py` (attribute `bg_encoder`); `fc` starts at the
    identity affine. Returns (B,3,3) with last row [0, 0, 1].
    """

    def __init__(self) -> None:
        super().__init__()
        self.bg_encoder = ResNet18(in_channels=6, num_outputs=6)
        nn.init.zeros_(self.bg_encoder.fc.weight)
        with torch.no_grad():
            self.bg_encoder.fc.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, source_image: Tensor, driving_image: Tensor) -> Tensor:
        b = source_image.shape[0]
        prediction = self.bg_encoder(torch.cat([source_image, driving_image], dim=1)).view(b, 2, 3)
        last_row = torch.tensor([0.0, 0.0, 1.0], dtype=prediction.dtype, device=prediction.device)
        return torch.cat([prediction, last_row.expand(b, 1, 3)], dim=1)
