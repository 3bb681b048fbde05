"""Animators for tests, reachable as `--model tests.helpers.models:NAME`.

`noisy`: a stand-in for a good learned model: the driving frame plus seeded Gaussian noise (so the
runner's per-pair seeding is exercised); `QA_TEST_DELAY` seconds of sleep per batch make it slow
enough to be killed mid-run; `noisy_pid` is `noisy` that also leaves a file named by its process id in
`pid_dir` (so a test can kill the worker process that runs it). `nan_on_pair`: NaN output for its `bad`-th
pair (0-based), else driving. `exit_on_cross`: returns the driving frames, but ends its own process
(`os._exit`) on every cross pair (source differs from the driving's first frame): a worker crash that
recurs on every attempt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from qa_harness.models.base import Animator


class Noisy(Animator):
    def __init__(self, sigma: float) -> None:
        self.sigma = sigma

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> None:
        return None

    def animate(self, state: Any, driving: Tensor) -> Tensor:
        time.sleep(float(os.environ.get("QA_TEST_DELAY", "0")))
        return (driving + self.sigma * torch.randn_like(driving)).clamp(0, 1)


class NanOnPair(Animator):
    def __init__(self, bad: int) -> None:
        self.bad, self.calls = bad, -1

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> int:
        self.calls += 1
        return self.calls

    def animate(self, state: int, driving: Tensor) -> Tensor:
        return torch.full_like(driving, float("nan")) if state == self.bad else driving.clone()


class ExitOnCross(Animator):
    resolution = None
    needs_driving_first = True

    def prepare(self, source: Tensor, *, driving_first: Tensor | None = None) -> None:
        if not torch.equal(source, driving_first):
            os._exit(3)

    def animate(self, state: None, driving: Tensor) -> Tensor:
        return driving.clone()


def noisy(*, checkpoint=None, device=None, sigma: float = 0.05, **_: Any) -> Animator:
    return Noisy(sigma)


def nan_on_pair(*, checkpoint=None, device=None, bad: int = 1, **_: Any) -> Animator:
    return NanOnPair(bad)


def noisy_pid(*, checkpoint=None, device=None, pid_dir: str, sigma: float = 0.05, **_: Any) -> Animator:
    Path(pid_dir, str(os.getpid())).touch()
    return Noisy(sigma)


def exit_on_cross(*, checkpoint=None, device=None, **_: Any) -> Animator:
    return ExitOnCross()
