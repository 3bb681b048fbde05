"""Is the mouth covered? A small learned classifier over what the lower face looks like.

The hand-written cues (`skin`'s colour share, `lips`' line and colour) miss masks on small and turned
faces, patterned and red masks, and faces whose mouth landmarks fall off the mouth (benchmarks/
RESULTS.md, "Learned mouth cover"). This reads the face from the eyes alone (the most reliable
points of every detector), so misplaced mouth landmarks do not move it: the frame is warped by the
similarity that puts the eye centres at fixed places of a `SIZE` crop (`EYE_PX` apart), and the
lower face there (nose to chin, `LOWER`) is described by
- its HOG (edges and their directions: a mask's smooth cloth and its rim vs lips, nostrils, chin);
- on a 3 x 3 grid of it, log-chroma minus the upper face's median (the skin of this face in this
  light, as `skin` reasons), luma relative to the upper face's, and the luma's spread (texture);
- the hand-written cues (foreign share, lip line, lip red; 0 with a flag where not measured).
The face's size is not a feature: in the training photos small faces are mostly masked crowds, a
confound, not a cue (the training adds downscaled copies of both classes: `mouth_cover_train`).
Faces turned beyond about 40 degrees (`turned`) are not read. A logistic regression over those
(standardised) gives `probability`; its weights come from `COEFFICIENTS`, a JSON file written by
`benchmarks/mouth_cover_train.py` with an `origin` line saying which photos trained it (read as plain
numbers: no pickle).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from qa_harness.errors import ConfigError
from qa_harness.suites.skin import log_chroma

COEFFICIENTS = Path(__file__).with_name("mouth_cover.json")
#: The aligned crop (width, height) and where the eyes go: eye centres `EYE_PX` apart on row `EYE_ROW`.
SIZE, EYE_PX, EYE_ROW = (32, 48), 16.0, 12.0
#: Lower face (x0, y0, x1, y1) in the crop: 0.75 eye distances either side of the face's middle,
#: from 0.5 to 2.0 eye distances below the eyes (nose tip to chin); upper face: brows and eyes.
LOWER, UPPER = (4, 20, 28, 44), (0, 2, 32, 16)
_HOG = cv2.HOGDescriptor((24, 24), (16, 16), (8, 8), (8, 8), 9)
#: A face is turned beyond what the classifier knows when its nose tip lies over `TURNED_NOSE` eye
#: distances off the eyes' midline or its mouth over `TURNED_DROP` below the eye line (the eye distance
#: shrinks with yaw): about 40 degrees of yaw. The training photos hold few unmasked profiles, and on
#: the AFLW2000 faces every profile (yaw 51-97 degrees: nose 0.61-1.66, drop 1.41-4.67) read covered,
#: the faces under 41 degrees at most 0.48 / 1.26 (RESULTS.md, "Learned mouth cover").
TURNED_NOSE, TURNED_DROP = 0.45, 1.35


def turned(keypoints: np.ndarray) -> bool:
    """True for a face turned away (see `TURNED_NOSE`), from keypoints eyes, nose tip, mouth centre."""
    right, left, nose, mouth = (keypoints[k].astype(np.float64) for k in range(4))
    iod = float(np.linalg.norm(left - right))
    if not np.isfinite(iod) or iod < 1.0:
        return True
    u = (left - right) / iod
    eyes = (right + left) / 2
    off, drop = abs(float((nose - eyes) @ u)) / iod, float((mouth - eyes) @ np.array([-u[1], u[0]])) / iod
    return off > TURNED_NOSE or drop > TURNED_DROP


def aligned(frame: np.ndarray, keypoints: np.ndarray) -> np.ndarray | None:
    """uint8 (48, 32, 3) crop of `frame` with the eye centres (keypoints 0, 1: the subject's right,
    left) at fixed places; None when the eyes coincide."""
    right, left = keypoints[0].astype(np.float64), keypoints[1].astype(np.float64)
    iod = float(np.linalg.norm(left - right))
    if not np.isfinite(iod) or iod < 1.0:
        return None
    scale = EYE_PX / iod
    u = (left - right) / iod
    rot = scale * np.array([[u[0], u[1]], [-u[1], u[0]]])
    target = np.array([SIZE[0] / 2, EYE_ROW])
    matrix = np.hstack([rot, (target - rot @ ((right + left) / 2))[:, None]])
    return cv2.warpAffine(frame, matrix, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def _grid(values: np.ndarray, cells: int = 3) -> np.ndarray:
    """(cells * cells, C) means of an (H, W, C) array's cells."""
    rows = np.array_split(values, cells, axis=0)
    return np.array([cell.reshape(-1, values.shape[-1]).mean(0) for r in rows for cell in np.array_split(r, cells, 1)])


def features(frame: np.ndarray, keypoints: np.ndarray, cues: tuple[float, float, float]) -> np.ndarray | None:
    """The classifier's input for one face (see the module docstring): `cues` are (foreign share,
    lip_line, lip_red), NaN where not measured; None when the eyes coincide."""
    crop = aligned(frame, keypoints)
    if crop is None:
        return None
    x0, y0, x1, y1 = LOWER
    ux0, uy0, ux1, uy1 = UPPER
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    hog = _HOG.compute(np.ascontiguousarray(grey[y0:y1, x0:x1])).ravel()
    chroma, y = log_chroma(crop), grey.astype(np.float32)
    skin = np.median(chroma[uy0:uy1, ux0:ux1].reshape(-1, 2), axis=0)
    level = max(float(np.median(y[uy0:uy1, ux0:ux1])), 8.0)
    lower_chroma, lower_y = chroma[y0:y1, x0:x1] - skin, y[y0:y1, x0:x1, None] / level
    spread = _grid((lower_y - _grid(lower_y).mean()) ** 2) ** 0.5
    measured = np.array([math.isfinite(c) for c in cues], dtype=np.float32)
    extra = [*np.nan_to_num(np.asarray(cues, np.float32)), *measured]
    parts = [hog, _grid(lower_chroma).ravel(), _grid(lower_y).ravel(), spread.ravel(), extra]
    return np.concatenate([np.asarray(p, np.float32).ravel() for p in parts])


@dataclass(frozen=True, slots=True)
class MouthCover:
    """Logistic regression over `features`, standardised by the training sample's mean and scale."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    edge: float
    origin: str

    @classmethod
    def load(cls, path: Path = COEFFICIENTS) -> MouthCover:
        """Read a coefficient file (JSON numbers); a missing, malformed or misshapen one raises
        `ConfigError` naming it."""
        try:
            raw = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(path, "", f"cannot read the mouth-cover coefficients: {exc}") from exc
        keys = ("mean", "scale", "weights", "bias", "edge", "origin")
        if not isinstance(raw, dict) or any(k not in raw for k in keys):
            raise ConfigError(path, "", f"mouth-cover coefficients need the keys {', '.join(keys)}")
        try:
            arrays = [np.asarray(raw[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            bias, edge = float(raw["bias"]), float(raw["edge"])
        except (TypeError, ValueError) as exc:
            raise ConfigError(path, "", f"mouth-cover coefficients are not numbers: {exc}") from exc
        if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays) or not np.all(arrays[1] > 0):
            raise ConfigError(path, "", "mean, scale and weights must be equal-length lists, scale > 0")
        if not all(np.all(np.isfinite(a)) for a in arrays) or not (0 < edge < 1 and math.isfinite(bias)):
            raise ConfigError(path, "", "coefficients must be finite and the edge within (0, 1)")
        return cls(*arrays, bias, edge, str(raw["origin"]))

    def probability(self, feats: np.ndarray | None) -> float:
        """P(mouth covered) of one face's `features` (NaN for None)."""
        if feats is None:
            return float("nan")
        if feats.shape != self.mean.shape:
            raise ValueError(f"mouth-cover features have {feats.size} values, the coefficients {self.mean.size}")
        z = float(((feats - self.mean) / self.scale) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-min(max(z, -50.0), 50.0)))
