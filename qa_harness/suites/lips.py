"""Are there lips where the landmarks put the mouth? Two cues that a mask, scarf or hand lacks.

The colour test (`skin`) misses masks whose colour lies within the spread of the face's own skin
(white respirators on brown or pale skin, a grey-green mask under a fringe: benchmarks/RESULTS.md).
Whatever their colour, such covers lack what every visible mouth has:
- `lip_line`: a dark line where the lips meet (or the dark opening of an open mouth), or bright teeth
  between them. Luma profiles across the mouth (along the face's vertical, `PROFILE_HALF` eye
  distances either side of the inner-lip midline, at 13 points between the mouth corners) are read
  after a slight blur; each profile's depth is how far its darkest point within `VALLEY_HALF` of the
  midline lies below the brightest points beyond, its height how far its brightest point there lies
  above them, both relative to them. `lip_line` is the larger of the median depth and the median
  height: about 0 on a smooth cover (no mask's height exceeds 0.01), 0.13-0.97 on the faces seen
  (RESULTS.md; the height is what a smile showing teeth on dark skin has: xportrait_driving);
- `lip_red`: the lips' median `log R/G` minus that of a ring of skin around them (`RING` eye
  distances wide): lips are redder than the skin beside them, a cover is one material. Local, so it
  does not depend on the skin's colour or spread; NaN on grey images, where it cannot be read.
`lips_absent` is 1 when both are missing (`lip_line < LINE_EDGE` and `lip_red < RED_EDGE`), 0 when
either is there: neither cue alone separates (closed thin lips and beards weaken the line, pale lips
the colour), together they do on the labelled photos. `lips_present` is 1 when both are clearly
there (`PRESENT_LINE`, `PRESENT_RED`): then nothing covers the lips, and the colour test's foreign
share (an open mouth's teeth, tongue and shadow) is not a cover. NaN without landmarks or on faces
under `skin.MIN_EYE_DISTANCE` pixels between the eyes.
"""

from __future__ import annotations

import cv2
import numpy as np

from qa_harness.suites.skin import GREY_LEVELS, MIN_EYE_DISTANCE, REC601, log_chroma

PROFILE_HALF, VALLEY_HALF, BLUR = 0.4, 0.08, 0.02
RING = 0.15
#: Edges, from the labelled photos (benchmarks/RESULTS.md, "lips"; chosen on them, no held-out set
#: for masks): masks the colour test misses read lip_line 0.054 / 0.090 and lip_red -0.003 / -0.012;
#: the lowest lip_line of an unmasked face_mask face is 0.126 (a bearded man, lip_red +0.001), the
#: AFLW2000 face with the lowest lip_line (0.080) has red lips (+0.08 or more).
LINE_EDGE, RED_EDGE = 0.11, 0.03
#: Both cues clear: no masked photo has lip_line >= 0.3 with lip_red above +0.008, nor lip_red >= 0.05
#: with lip_line above 0.133; the open mouth of d12 (frames 74-102, read covered by colour at 0.27-0.51)
#: has lip_line 0.34-0.82 and lip_red 0.09-0.13.
PRESENT_LINE, PRESENT_RED = 0.3, 0.05
OUTER_LIPS, INNER_LIPS = np.arange(48, 60), np.arange(60, 68)


def _eye_axes(points: np.ndarray) -> tuple[float, np.ndarray]:
    right, left = points[36:42].mean(0), points[42:48].mean(0)
    iod = float(np.linalg.norm(left - right))
    u = (left - right) / max(iod, 1e-6)
    return iod, np.array([-u[1], u[0]])


def lip_line(frame: np.ndarray, points: np.ndarray) -> float:
    """Contrast of the line between the lips, dark or (teeth) bright (see the module docstring)."""
    iod, down = _eye_axes(points)
    midline = np.vstack([points[48], (points[61:64] + points[[67, 66, 65]]) / 2, points[54]])
    centres = np.concatenate(
        [np.linspace(a, b, 5, endpoint=False) for a, b in zip(midline[:-1], midline[1:], strict=True)]
    )[2:-2]
    offsets = np.linspace(-PROFILE_HALF, PROFILE_HALF, 25) * iod
    samples = centres[:, None, :] + offsets[None, :, None] * down  # (profiles, 25, 2)
    lo = np.floor(samples.reshape(-1, 2).min(0)).astype(int) - 4
    hi = np.ceil(samples.reshape(-1, 2).max(0)).astype(int) + 5
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(lo[0], 0), max(lo[1], 0), min(hi[0], w), min(hi[1], h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return float("nan")
    y = cv2.GaussianBlur(frame[y0:y1, x0:x1].astype(np.float32) @ REC601, (0, 0), max(BLUR * iod, 0.7))
    at = (samples - [x0, y0]).astype(np.float32)
    profiles = cv2.remap(y, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    near = np.abs(offsets) <= VALLEY_HALF * iod
    above, below = profiles[:, offsets < -VALLEY_HALF * iod].max(1), profiles[:, offsets > VALLEY_HALF * iod].max(1)
    ends = np.maximum((above + below) / 2, 1.0)
    depth = np.median(((above + below) / 2 - profiles[:, near].min(1)) / ends)
    height = np.median((profiles[:, near].max(1) - np.maximum(above, below)) / ends)
    return float(max(depth, height))


def lip_red(frame: np.ndarray, points: np.ndarray) -> float:
    """Lips' median log R/G minus that of the skin ring around them; NaN on grey images."""
    iod, _ = _eye_axes(points)
    outer = np.rint(points[OUTER_LIPS]).astype(np.int32)
    k = max(int(round(RING * iod)), 2)
    x0, y0 = np.maximum(outer.min(0) - k - 1, 0)
    x1, y1 = outer.max(0) + k + 2
    crop = frame[y0:y1, x0:x1]
    if crop.shape[0] < 3 or crop.shape[1] < 3:
        return float("nan")
    rgb = crop.astype(np.int16)
    if np.abs(rgb - rgb[..., 1:2]).max(axis=-1).mean() < GREY_LEVELS:
        return float("nan")
    lips, inner = np.zeros(crop.shape[:2], np.uint8), np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(lips, [outer - [x0, y0]], 1)
    cv2.fillPoly(inner, [np.rint(points[INNER_LIPS]).astype(np.int32) - [x0, y0]], 1)
    ring = cv2.dilate(lips, np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool) & ~lips.astype(bool)
    lips = lips.astype(bool) & ~inner.astype(bool)
    if lips.sum() < 5 or ring.sum() < 5:
        return float("nan")
    red = log_chroma(crop)[..., 0]
    return float(np.median(red[lips]) - np.median(red[ring]))


def lip_cues(frame: np.ndarray, points: np.ndarray | None) -> tuple[float, float, float, float]:
    """(lip_line, lip_red, lips_absent, lips_present) of one frame; NaN where not measurable."""
    nan = float("nan")
    if points is None or _eye_axes(points)[0] < MIN_EYE_DISTANCE:
        return nan, nan, nan, nan
    line, red = lip_line(frame, points), lip_red(frame, points)
    if not (np.isfinite(line) and np.isfinite(red)):
        return line, red, nan, nan
    return line, red, float(line < LINE_EDGE and red < RED_EDGE), float(line >= PRESENT_LINE and red >= PRESENT_RED)
