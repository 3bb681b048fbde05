"""Eye- and mouth-aspect-ratio trajectories against a reference, with blink and mouth-open event F1.

`ear_mar` (reconstruction): per frame the EAR and MAR of output and ground truth; per clip their MAE,
their Pearson correlation over frames, and blink / mouth-open event F1 (`face_events`). A model that
freezes the eyes keeps a flat EAR: correlation and blink F1 drop although every single frame looks fine.

`expression_transfer` (cross protocol: no ground truth, `needs_reference=False`): the same against the
driving frames, i.e. whether the animation blinks and speaks when the driver does. Absolute EAR differs
between identities, so its clip values are the correlations and event F1 only, not the MAE.
Geometry: `_face_geometry` (EAR: Soukupova & Cech 2016; MAR on the inner lips). NaN where no face.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
from torch import Tensor

from qa_harness.metrics._face_analysis import FaceAnalysis, landmark_analysis
from qa_harness.metrics._face_geometry import eye_aspect_ratio, mean_abs_error, mouth_aspect_ratio, pearson
from qa_harness.metrics.base import Column, FrameBatch, Metric, MetricContext
from qa_harness.metrics.face_events import event_f1, eyes_closed, mouth_open


class EarMar(Metric):
    def __init__(self, landmarks: FaceAnalysis, *, reference: Literal["target", "driving"]) -> None:
        self.landmarks = landmarks
        self.reference = reference
        self.needs_reference = reference == "target"
        self.name = "ear_mar" if self.needs_reference else "expression_transfer"
        self.prefix = "" if self.needs_reference else "xfer_"
        ref = "target" if self.needs_reference else "driving"
        self._frame_cols = {
            key: f"{self.prefix}{key.replace('ref', ref)}"
            for key in ("ear_output", "ear_ref", "mar_output", "mar_ref")
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
        out = self.landmarks(batch.output, suite_content=False).points
        ref = self.landmarks(reference, suite_content=True).points
        values = {
            "ear_output": eye_aspect_ratio(out),
            "ear_ref": eye_aspect_ratio(ref),
            "mar_output": mouth_aspect_ratio(out),
            "mar_ref": mouth_aspect_ratio(ref),
        }
        return {self._frame_cols[key]: value for key, value in values.items()}

    def clip_values(self, per_frame: Mapping[str, np.ndarray]) -> dict[str, float]:
        c = self._frame_cols
        ear_o, ear_r = (np.asarray(per_frame[c[k]], dtype=float) for k in ("ear_output", "ear_ref"))
        mar_o, mar_r = (np.asarray(per_frame[c[k]], dtype=float) for k in ("mar_output", "mar_ref"))
        values = {
            "ear_corr": pearson(ear_o, ear_r),
            "mar_corr": pearson(mar_o, mar_r),
            "blink_f1": event_f1(eyes_closed(ear_o, ear_r), eyes_closed(ear_r, ear_r)),
            "mouth_open_f1": event_f1(mouth_open(mar_o), mouth_open(mar_r)),
        }
        if self.needs_reference:
            values |= {"ear_mae": mean_abs_error(ear_o, ear_r), "mar_mae": mean_abs_error(mar_o, mar_r)}
        return {f"{self.prefix}{name}": value for name, value in values.items()}


def build(ctx: MetricContext, *, landmarks: str, reference: Literal["target", "driving"] = "target") -> EarMar:
    """`reference="driving"` is `expression_transfer` (cross protocol: the output follows the driver)."""
    return EarMar(landmark_analysis(ctx, landmarks), reference=reference)
