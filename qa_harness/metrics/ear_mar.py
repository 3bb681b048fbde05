"""Eye- and mouth-aspect-ratio trajectories against a reference, with blink and mouth-open event F1.

Metric card. *What*: `ear_mar` (reconstruction): per frame the EAR and MAR of output and ground truth
(descriptive columns); per clip their MAE, how well the output follows the reference (`ear_corr`,
`mar_corr`) and blink / mouth-open event F1 (`face_events`). `expression_transfer` (cross protocol, no
ground truth, `needs_reference=False`): the same against the driving frames, i.e. whether the animation
blinks and speaks when the driver does; absolute EAR differs between identities, so its clip values are
the correlations and event F1 only, not the MAE. *Range and direction*: corr in [-1, 1] and F1 in
[0, 1], higher is better; MAE >= 0, lower is better. *Follow correlation*: Pearson over frames where
both have a face; 0 for a constant output against a moving reference (a frozen face follows nothing),
NaN when the reference itself is constant or fewer than 3 frames have faces (nothing to follow).
*Frozen output*: flat EAR/MAR, so corr 0 and F1 0 (or NaN when the reference has no event either); the
MAE of a frozen face is its distance from the reference's mean state, which can be small.
*Reference implementation*: EAR as Soukupova & Cech 2016, MAR on the inner lips (`_face_geometry`);
tested against numpy on hand-made trajectories. *Failure modes*: landmark jitter on tiny or dim faces;
NaN frames where no face is found (counted by `akd`'s `face_found_output` / `mkr`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis, no_face
from qa_harness.metrics._face_geometry import eye_aspect_ratio, mean_abs_error, mouth_aspect_ratio, pearson
from qa_harness.metrics.base import UNSCORED, Column, FrameBatch, Metric, MetricContext, reason_codes
from qa_harness.metrics.face_events import event_f1, eyes_closed, mouth_open


def follow_correlation(output: np.ndarray, reference: np.ndarray) -> float:
    """Pearson correlation where both are finite; 0 for a constant output against a varying reference.

    >>> follow_correlation(np.full(5, .2), np.array([.3, .3, .1, .3, .3]))
    0.0
    >>> round(follow_correlation(np.array([.3, .3, .1, .3, .3]), np.array([.3, .3, .1, .3, .3])), 6)
    1.0
    """
    ok = np.isfinite(output) & np.isfinite(reference)
    if ok.sum() >= 3 and np.std(reference[ok]) > 0 and np.std(output[ok]) == 0:
        return 0.0
    return pearson(output, reference)


class EarMar(Metric):
    def __init__(self, landmarks: FaceAnalysis, *, reference: Literal["target", "driving"]) -> None:
        self.landmarks = landmarks
        self.reference = reference
        self.needs_reference = reference == "target"
        self.name = "ear_mar" if self.needs_reference else "expression_transfer"
        self.prefix = "" if self.needs_reference else "xfer_"
        ref = "target" if self.needs_reference else "driving"
        self.reasons = (
            no_face("output", "landmark"),
            no_face("ground truth" if self.needs_reference else ref, "landmark"),
        )
        self._frame_cols = {
            key: f"{self.prefix}{key.replace('ref', ref)}" for key in ("ear_output", "ear_ref", "mar_output", "mar_ref")
        }
        self.columns = tuple(  # raw trajectories: descriptive; their clip-level agreement is the score
            Column(name, higher_is_better=None, low=0.0) for name in self._frame_cols.values()
        )
        clip = ["ear_corr", "mar_corr", "blink_f1", "mouth_open_f1"]
        if self.needs_reference:
            clip += ["ear_mae", "mar_mae"]
        self.clip_columns = tuple(
            Column(
                f"{self.prefix}{name}",
                higher_is_better=not name.endswith("mae"),
                low=0.0 if not name.endswith("corr") else -1.0,
                high=float("inf") if name.endswith("mae") else 1.0,
            )
            for name in clip
        )

    def frame_values(self, batch: FrameBatch) -> dict[str, Tensor]:
        reference = batch.target if self.needs_reference else batch.driving
        if reference is None:
            raise ValueError(f"{self.name}: needs ground truth (pair '{batch.pair.id}' has none)")
        out_lm = self.landmarks(batch.output, suite_content=False)
        ref_lm = self.landmarks(reference, suite_content=True)
        out, ref = out_lm.points, ref_lm.points
        values = {
            "ear_output": eye_aspect_ratio(out),
            "ear_ref": eye_aspect_ratio(ref),
            "mar_output": mouth_aspect_ratio(out),
            "mar_ref": mouth_aspect_ratio(ref),
        }
        codes = reason_codes(~out_lm.found, ~ref_lm.found)
        return {self._frame_cols[key]: value for key, value in values.items()} | {UNSCORED: codes}

    def clip_values(self, per_frame: Mapping[str, np.ndarray]) -> dict[str, float]:
        c = self._frame_cols
        ear_o, ear_r = (np.asarray(per_frame[c[k]], dtype=float) for k in ("ear_output", "ear_ref"))
        mar_o, mar_r = (np.asarray(per_frame[c[k]], dtype=float) for k in ("mar_output", "mar_ref"))
        values = {
            "ear_corr": follow_correlation(ear_o, ear_r),
            "mar_corr": follow_correlation(mar_o, mar_r),
            "blink_f1": event_f1(eyes_closed(ear_o), eyes_closed(ear_r)),
            "mouth_open_f1": event_f1(mouth_open(mar_o), mouth_open(mar_r)),
        }
        if self.needs_reference:
            values |= {"ear_mae": mean_abs_error(ear_o, ear_r), "mar_mae": mean_abs_error(mar_o, mar_r)}
        return {f"{self.prefix}{name}": value for name, value in values.items()}


def build(ctx: MetricContext, *, landmarks: str, reference: Literal["target", "driving"] = "target") -> EarMar:
    """`reference="driving"` is `expression_transfer` (cross protocol: the output follows the driver)."""
    return EarMar(landmark_analysis(ctx, landmarks), reference=reference)
