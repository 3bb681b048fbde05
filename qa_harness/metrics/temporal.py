"""Temporal consistency per frame: landmark jitter, face flicker and flow warping error, all weight-free.

Per-frame metrics judge each frame alone, so an output that trembles, flickers or is out of order can
score well. These three compare the output's frame-to-frame change with the reference's own (the
ground truth's, or the driving's on the cross protocol), so real motion is not penalised and the ground
truth itself scores exactly 0. Lower is better for all. A frame's value needs its predecessors (carried
across batches by `_temporal.History`); the first frames of a clip are NaN and counted (`UNSCORED`).

Metric cards (for all five: *Range* >= 0, lower is better, exactly 0 for the reference itself):

`landmark_jitter` (% of inter-ocular distance; reconstruction). *What*: the mean over the 68 landmarks of
|a_out - a_ref|, a = p(t) - 2 p(t-1) + p(t-2) the backward acceleration of each point, divided by the
reference's inter-ocular distance (36-45) at t. Smooth motion that follows the reference has ~0; a
trembling or shuffled output has large accelerations the reference lacks. *Reference*: numpy second
differences (tests). *Failure modes*: the detector's own jitter on the output adds to the score (on the
repo clips it is a fraction of a %); NaN where either face is missing in t-2..t.
`xfer_landmark_jitter` (cross): the same against the driving, each face normalised by its own
inter-ocular distance (identities differ in size).

`flicker` (8-bit levels; reconstruction). *What*: per channel, the change of the mean colour of the face
box (the square around the reference's 68 landmarks, 1.2x their extent) from t-1 to t, output minus
reference, absolute, averaged over R, G, B, x 255. Lighting that changes in the reference may change in
the output; flicker that the reference lacks is scored. Insensitive to blur and to small shifts (a mean
over the box). `output_flicker` (cross): the same change of the output's own face box with no reference
(a still photo animated should not flicker). *Failure modes*: a mouth opening changes the box mean a
little (it is in the reference too under reconstruction).

`warp_error` (8-bit levels; reconstruction). *What*: Farneback optical flow of the ground truth from t
to t-1 (OpenCV, on luma) warps frame t-1 onto t, for the output and for the ground truth alike; the
score is the mean absolute difference of their warping residuals (O_t - W(O_{t-1})) - (G_t - W(G_{t-1}))
over pixels where the flow is forward-backward consistent (Sundaram et al. 2010), x 255. As the flow
is the ground truth's, the output's temporal change is measured along the true motion (Lai et al.,
ECCV 2018, warping error), and subtracting the ground truth's own residual makes it exactly 0 for the
ground truth. *Cost*: the flow is the ground truth's, so it is computed once per suite and cached on
disk with the face analysis (`GroundTruthFlow`); a warm run only warps. *Failure modes*: where the flow
is wrong the mask removes most, not all, pixels; a static blur of a moving picture changes its residual
a little (measured below 1/5 of 1 px jitter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import crop_boxes, inter_ocular
from qa_harness.metrics._suite_cache import SuiteCache, content_hash
from qa_harness.metrics._temporal import History
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes

FIRST_FRAMES = "first frame(s) of the clip: a temporal value needs the frames before it"
NO_FACE_OUTPUT = "no face found in the output (this frame or the ones before it)"
NO_FACE_REFERENCE = "no face found in the reference (this frame or the ones before it)"
#: Face box side over the landmarks' extent (flicker), and the side the box is resampled to.
FACE_BOX_SCALE = 1.2
FACE_CROP = 32
#: Farneback settings (OpenCV's documented example values) and the consistency test's constants.
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
CONSISTENCY = (0.01, 0.5)
#: Bump when the flow or mask computation changes; with the settings and OpenCV's version it names the
#: ground-truth flow cache folder, so a change never reads stale flows.
FLOW_CODE_VERSION = 1
FLOW_TAG = (
    f"farneback-{content_hash(np.frombuffer(repr((FARNEBACK, CONSISTENCY)).encode(), np.uint8))[:12]}"
    f"-opencv{cv2.__version__}-v{FLOW_CODE_VERSION}"
)


def _batch_part(values: Tensor, n_full: int, held: int, lag: int) -> Tensor:
    """`values` are for frames lag..n_full-1 of (kept + batch); return the batch's frames, NaN before `lag`."""
    full = torch.full((n_full,), float("nan"), dtype=torch.float32, device=values.device)
    full[lag:] = values.float()
    return full[held:]


class LandmarkJitter(Metric):
    in_order = True  # `History` across batches
    reasons = (FIRST_FRAMES, NO_FACE_OUTPUT, NO_FACE_REFERENCE)

    def __init__(self, landmarks: FaceAnalysis, *, reference: Literal["target", "driving"]) -> None:
        self.landmarks = landmarks
        self.needs_reference = reference == "target"
        self.name = "landmark_jitter" if self.needs_reference else "xfer_landmark_jitter"
        self.columns = (Column(self.name, higher_is_better=False, low=0.0),)
        self.history = History(2)

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        ref_frames = batch.target if self.needs_reference else batch.driving
        if ref_frames is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        out = self.landmarks(batch.output, suite_content=False).points.cpu()
        ref = self.landmarks(ref_frames, suite_content=True).points.cpu()
        full, held = self.history.extend(batch, {"out": out, "ref": ref})
        o, r = full["out"], full["ref"]
        n = len(o)
        if n < 3:
            values = torch.full((len(out),), float("nan"))
        else:
            iod_r = inter_ocular(r)[2:, None, None]
            iod_o = iod_r if self.needs_reference else inter_ocular(o)[2:, None, None]
            acc_o = (o[2:] - 2 * o[1:-1] + o[:-2]) / iod_o
            acc_r = (r[2:] - 2 * r[1:-1] + r[:-2]) / iod_r
            values = _batch_part(100 * (acc_o - acc_r).norm(dim=-1).mean(dim=1), n, held, 2)
        return {self.name: values, UNSCORED: self._reasons(o, r, held)}

    @staticmethod
    def _reasons(o: Tensor, r: Tensor, held: int) -> Tensor:
        def missing(points: Tensor) -> Tensor:  # this frame or one of the two before it has no face
            gone = torch.isnan(points).any(dim=2).any(dim=1)
            return gone | torch.cat([gone[:1], gone[:-1]]) | torch.cat([gone[:2], gone[:-2]])[: len(gone)]

        first = torch.arange(len(o)) < 2
        return reason_codes(first, missing(o), missing(r))[held:]


def _face_box(points: Tensor) -> Tensor:
    """(N, 68, 2) -> (N, 3) square boxes (centre x, centre y, side) around the landmarks, NaN where absent."""
    low, high = points.amin(dim=1), points.amax(dim=1)
    centre, side = (low + high) / 2, FACE_BOX_SCALE * (high - low).amax(dim=1, keepdim=True)
    return torch.cat([centre, side], dim=1)


def _box_mean(frames: Tensor, boxes: Tensor) -> Tensor:
    """(N, 3) mean colour of each frame's box (NaN rows where the box is NaN)."""
    return crop_boxes(frames.float(), boxes.to(frames.device), FACE_CROP).mean(dim=(2, 3)).cpu()


class Flicker(Metric):
    in_order = True
    reasons = (FIRST_FRAMES, NO_FACE_REFERENCE)

    def __init__(self, landmarks: FaceAnalysis, *, reference: Literal["target", "none"]) -> None:
        self.landmarks = landmarks
        self.needs_reference = reference == "target"
        self.name = "flicker" if self.needs_reference else "output_flicker"
        if not self.needs_reference:
            self.reasons = (FIRST_FRAMES, NO_FACE_OUTPUT)
        self.columns = (Column(self.name, higher_is_better=False, low=0.0, high=255.0),)
        self.history = History(1)

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        placed = batch.target if self.needs_reference else batch.output
        if placed is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        boxes = _face_box(self.landmarks(placed, suite_content=self.needs_reference).points)
        features = {"out": _box_mean(batch.output, boxes)}
        if self.needs_reference:
            features["ref"] = _box_mean(batch.target, boxes)
        full, held = self.history.extend(batch, features)
        change = full["out"].diff(dim=0)
        if self.needs_reference:
            change = change - full["ref"].diff(dim=0)
        values = _batch_part(255 * change.abs().mean(dim=1), len(full["out"]), held, 1)
        gone = torch.isnan(full["out"]).any(dim=1)
        gone = gone | torch.cat([gone[:1], gone[:-1]])
        codes = reason_codes(torch.arange(len(gone)) < 1, gone)[held:]
        return {self.name: values, UNSCORED: codes}


def _luma(frames: Tensor) -> np.ndarray:
    """(N, 3, H, W) in [0, 1] -> (N, H, W) uint8 luma (BT.601), what Farneback takes."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=frames.device).view(1, 3, 1, 1)
    return ((frames.float() * weights).sum(dim=1) * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow F with a(x) ~ b(x + F(x)), (H, W, 2) float32."""
    return cv2.calcOpticalFlowFarneback(a, b, None, **FARNEBACK)


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """image(x + flow(x)), bilinear, borders replicated; image (H, W) or (H, W, C) float32."""
    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).astype(np.float32) + flow
    return cv2.remap(image, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _consistent(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Pixels of t whose backward flow is undone by the forward flow at its target (Sundaram et al. 2010)."""
    ahead = _warp(forward, backward)
    alpha, beta = CONSISTENCY
    gap = np.square(backward + ahead).sum(-1)
    return gap < alpha * (np.square(backward).sum(-1) + np.square(ahead).sum(-1)) + beta


class GroundTruthFlow:
    """Backward flow and consistency mask of consecutive ground-truth frames, cached like the face analysis.

    The ground truth is suite content, so its flow (most of warp_error's cost) is the same for every model:
    it is stored under `<cache_dir>/flow/<FLOW_TAG>/<suite version>/<luma hash>.npz` (`_suite_cache`) and a
    warm run computes none (`computed` counts the frame pairs this instance computed). Without a cache_dir
    nothing is kept: flows are ~0.5 MB a frame at 256 px, so an in-memory store would grow with the suite.
    """

    def __init__(self, cache_dir: Path | None = None, suite_version: str = "") -> None:
        self.store = SuiteCache(cache_dir, area="flow", tag=FLOW_TAG, suite_version=suite_version)
        self.computed = 0

    def __call__(self, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, H, W) uint8 luma -> flows t -> t-1 (n-1, H, W, 2) float32 and masks (n-1, H, W) bool, t = 1..n-1."""
        key = content_hash(luma)
        stored = self.store.load(key)
        if stored is not None:
            return stored["backward"], stored["mask"]
        backward = np.stack([_flow(luma[t], luma[t - 1]) for t in range(1, len(luma))])
        forward = np.stack([_flow(luma[t - 1], luma[t]) for t in range(1, len(luma))])
        mask = np.stack([_consistent(b, f) for b, f in zip(backward, forward, strict=True)])
        self.computed += len(backward)
        self.store.store(key, {"backward": backward, "mask": mask})
        return backward, mask


def warping_residual_gap(output: np.ndarray, target: np.ndarray, backward: np.ndarray, mask: np.ndarray) -> float:
    """The warp_error of one frame pair: output/target (2, H, W, 3) float32 frames t-1, t; the ground truth's
    flow t -> t-1 (H, W, 2) and its consistency mask (H, W)."""
    if not mask.any():
        return float("nan")
    gap = (output[1] - _warp(output[0], backward)) - (target[1] - _warp(target[0], backward))
    return float(255 * np.abs(gap[mask]).mean())


class WarpError(Metric):
    name = "warp_error"
    in_order = True
    needs_reference = True
    columns = (Column("warp_error", higher_is_better=False, low=0.0, high=255.0),)
    reasons = (FIRST_FRAMES, "no pixel with a consistent ground-truth flow")

    def __init__(self, flow: GroundTruthFlow | None = None) -> None:
        self.history = History(1)
        self.flow = flow if flow is not None else GroundTruthFlow()

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        if batch.target is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        frames = {
            "out": batch.output.float().permute(0, 2, 3, 1).cpu(),
            "ref": batch.target.float().permute(0, 2, 3, 1).cpu(),
            "luma": torch.from_numpy(_luma(batch.target)),
        }
        full, held = self.history.extend(batch, frames)
        out, ref, luma = (full[k].numpy() for k in ("out", "ref", "luma"))
        full_values = torch.full((len(out),), float("nan"))
        if len(out) > 1:
            backward, mask = self.flow(luma)  # pairs (t-1, t) for t = 1..n-1; the kept frame, if any, is t = 0
            full_values[1:] = torch.tensor(
                [
                    warping_residual_gap(out[t - 1 : t + 1], ref[t - 1 : t + 1], backward[t - 1], mask[t - 1])
                    for t in range(1, len(out))
                ],
                dtype=torch.float32,
            )
        codes = reason_codes(torch.arange(len(out)) < 1, torch.isnan(full_values))[held:]
        return {self.name: full_values[held:], UNSCORED: codes}


def build_jitter(
    ctx: MetricContext, *, landmarks: str, reference: Literal["target", "driving"] = "target"
) -> LandmarkJitter:
    """`reference="driving"` is `xfer_landmark_jitter` (cross protocol)."""
    return LandmarkJitter(landmark_analysis(ctx, landmarks), reference=reference)


def build_flicker(ctx: MetricContext, *, landmarks: str, reference: Literal["target", "none"] = "target") -> Flicker:
    """`reference="none"` is `output_flicker` (cross protocol: the output's own flicker)."""
    return Flicker(landmark_analysis(ctx, landmarks), reference=reference)


def build_warp(ctx: MetricContext) -> WarpError:
    """The ground truth's flow is cached beside the suite's face analysis (`ctx.cache_dir`)."""
    return WarpError(GroundTruthFlow(ctx.cache_dir, ctx.suite_version))
