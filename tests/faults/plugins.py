"""Misbehaving plug-in models for the fault tests, reachable as `--model tests.faults.plugins:NAME`.

Every one returns the driving frames (so its good pairs score exactly as the `driving` model's) except
on the pair named by `bad` (a driving clip id, `-o bad=ID`), where it misbehaves its own way. `QA_TEST_DELAY`
seconds of sleep per batch make a run slow enough to be signalled or raced; `QA_TEST_HOLD=PATH` holds every
batch until that file exists (a test decides when the run may go on; `PATH.reached` says a batch is
held); `QA_TEST_FAULT_OFF=1` turns the fault off
(a transient one, gone on a retry).
"""

from __future__ import annotations

import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from qa_harness.models.base import Animator


class Faulty(Animator):
    """Driving frames, except `misbehave(driving)` on the pair whose first driving frame is `bad`'s."""

    needs_driving_first = True

    def __init__(self, bad: str, misbehave) -> None:
        self.bad, self.misbehave = bad, misbehave

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> bool:
        if os.environ.get("QA_TEST_FAULT_OFF") or not self.bad:  # the fault was transient: gone on a retry
            return False
        first_of_bad = _first_frame(self.bad, driving_first.shape[-1])
        return torch.allclose(driving_first, first_of_bad.to(driving_first.device), atol=1e-6)

    def animate(self, is_bad: bool, driving: Tensor) -> Tensor:
        time.sleep(float(os.environ.get("QA_TEST_DELAY", "0")))
        if (hold := os.environ.get("QA_TEST_HOLD")) and not Path(hold).exists():
            Path(f"{hold}.reached").touch()  # tells the test the run is held inside the model
            while not Path(hold).exists():
                time.sleep(0.05)
        return self.misbehave(driving) if is_bad else driving.clone()


@functools.cache
def _first_frame(clip_id: str, resolution: int) -> Tensor:
    """The first frame of data/clips/<clip_id>.mp4 as a suite at `resolution` (no crop box) decodes it."""
    from qa_harness.video.io import read_image
    from tests.helpers.media import CLIPS

    return read_image(CLIPS / f"{clip_id}.mp4", resolution=resolution)


def _exit(driving: Tensor) -> Tensor:
    sys.exit(0)


def _interrupt(driving: Tensor) -> Tensor:
    raise KeyboardInterrupt


def _hang(driving: Tensor) -> Tensor:
    while True:
        time.sleep(0.05)


def _scaled_255(driving: Tensor) -> Tensor:
    return driving * 255.0


def _slight_overshoot(driving: Tensor) -> Tensor:
    """0.5 % of the values pushed just above 1 (ringing of a sharpening filter): warned, tolerated."""
    out = driving.clone()
    flat = out.view(-1)
    flat[::200] = 1.02
    return out


def _blank(driving: Tensor) -> Tensor:
    """Flat grey frames: no face for any face metric to find (a model that lost the picture)."""
    return torch.full_like(driving, 0.5)


BEHAVIOURS = {
    "blank": _blank,
    "none": Tensor.clone,
    "exits": _exit,
    "interrupts": _interrupt,
    "hangs": _hang,
    "scaled_255": _scaled_255,
    "overshoots": _slight_overshoot,
}


def faulty(*, checkpoint=None, device=None, behaviour: str = "none", bad: str = "", **_: Any) -> Animator:
    return Faulty(bad, BEHAVIOURS[behaviour])


def factory_raises(*, checkpoint=None, device=None, **_: Any) -> Animator:
    raise RuntimeError("CUDA out of memory while building the generator")


def factory_exits(*, checkpoint=None, device=None, **_: Any) -> Animator:
    sys.exit(0)
