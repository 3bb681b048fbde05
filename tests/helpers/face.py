"""Real frames for the face tests: a few frames of a repo clip at 256x256, decoded as the runner does.

Kept tiny (16 frames) so the face tests stay within seconds on two CPU cores. tpsmm_driving.mp4 frames
80-110 (every second one) hold a blink (~91-95) and two mouth openings (~84-88, ~106-108); frame 0 is the
source, as in the reconstruction protocol.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from qa_harness.metrics.base import FrameBatch
from qa_harness.records import Clip, Pair
from qa_harness.video.io import iter_frames
from tests.helpers.media import CLIPS

CLIP = CLIPS / "tpsmm_driving.mp4"
FRAMES = tuple(range(80, 112, 2))
RES = 256


@functools.cache
def decode(path: Path = CLIP, frames: tuple[int, ...] = (0, *FRAMES)) -> torch.Tensor:
    """(len(frames), 3, 256, 256) float RGB in [0, 1], via `qa_harness.video.io.iter_frames`."""
    chunks = iter_frames(path, resolution=RES, chunk=64, max_frames=max(frames) + 1)
    return torch.cat(list(chunks))[list(frames)]


def source_and_target() -> tuple[torch.Tensor, torch.Tensor]:
    """Source (1, 3, 256, 256) = frame 0 and target (16, 3, 256, 256) = FRAMES; fresh copies."""
    x = decode()
    return x[:1].clone(), x[1:].clone()


def make_pair(protocol: str = "reconstruction") -> Pair:
    clip = Clip(id="tpsmm_driving", path=CLIP, fps=25.0, frame_count=169, size=(410, 412))
    return Pair(id=f"tpsmm_driving/{protocol}", source=clip, driving=clip, protocol=protocol)


def make_batch(output: torch.Tensor, target: torch.Tensor | None, *, driving=None, source=None) -> FrameBatch:
    """A FrameBatch as the runner would pass it (driving = target under reconstruction)."""
    src, tgt = source_and_target()
    driving = driving if driving is not None else (target if target is not None else tgt)
    return FrameBatch(
        pair=make_pair("reconstruction" if target is not None else "cross"),
        frames=torch.tensor(FRAMES),
        output=output,
        driving=driving,
        source=source if source is not None else src[0],
        target=target,
    )


def paste_regions(target: torch.Tensor, source: torch.Tensor, boxes: list[torch.Tensor]) -> torch.Tensor:
    """Copy the source frame's pixels into each box of each target frame (boxes from the target)."""
    out = target.clone()
    for box in boxes:
        for i, (cx, cy, side) in enumerate(box.tolist()):
            x0, y0 = int(cx - side / 2), int(cy - side / 2)
            x1, y1 = int(np.ceil(cx + side / 2)), int(np.ceil(cy + side / 2))
            out[i, :, y0:y1, x0:x1] = source[0, :, y0:y1, x0:x1]
    return out


def write_fan_weights(folder: Path, *, blank_fan: bool = False, finds_faces: bool = True) -> None:
    """Random-init S3FD and FAN-4 weights under their official file names.

    S3FD's class heads are set so that only the coarsest head (stride 128) fires: a handful of
    candidate boxes instead of thousands, so the test stays fast; with `finds_faces=False` no head fires
    (no FAN forward pass at all: seconds per crop on a CPU). With `blank_fan` FAN's last layer is
    zeroed, so every heatmap peaks at its first cell and the points have a closed form.
    """
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    from qa_harness.landmarks import fan

    torch.manual_seed(0)
    detector = s3fd()
    heads = ["conv3_3_norm", "conv4_3_norm", "conv5_3_norm", "fc7", "conv6_2", "conv7_2"]
    with torch.no_grad():
        for head in heads:
            conf, loc = getattr(detector, f"{head}_mbox_conf"), getattr(detector, f"{head}_mbox_loc")
            for layer in (conf, loc):
                layer.weight.zero_()
                layer.bias.zero_()
            conf.bias[-1] = 5.0 if head == "conv7_2" and finds_faces else -10.0
    torch.save(detector.state_dict(), folder / fan.S3FD_FILE)
    net = FAN(4)
    if blank_fan:
        with torch.no_grad():
            net.l3.weight.zero_()
            net.l3.bias.zero_()
    torch.save(net.state_dict(), folder / fan.fan_file())


def write_openface_weights(folder: Path) -> Path:
    """A seeded random OpenFace nn4.small2 state dict under its official file name."""
    from qa_harness.identity import openface

    torch.manual_seed(0)
    path = folder / openface.WEIGHTS_FILE
    torch.save(openface.OpenFaceNN4Small2().state_dict(), path)
    return path
