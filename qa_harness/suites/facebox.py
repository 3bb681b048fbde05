"""Face boxes and six face keypoints per frame from MediaPipe's face detector, which works offline.

Why a detector here and not the 68-point landmark backends: lighting is measured on the face, crops
are centred on it and synthetic occluders are placed on its eyes and mouth, and all three need only a
box and a few points. MediaPipe 0.10.x ships the BlazeFace weights in its wheel (nothing downloads),
runs at several hundred frames/s on CPU and gives the same output for the same input.

Keypoints, in MediaPipe's order: the subject's right eye (image left on a frontal face), left eye,
nose tip, mouth centre, right ear tragion, left ear tragion; all in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from qa_harness.native import native_stderr_to_debug_log
from qa_harness.records import CropBox
from qa_harness.weights import require_package

RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

#: Face box assumed when no frame of a clip has a detected face: the central square of this share of
#: the shorter side, slightly above the centre (where a face sits in a FOMM/VoxCeleb crop).
FALLBACK_BOX = (0.25, 0.15, 0.75, 0.75)


@dataclass(frozen=True, slots=True)
class FaceBoxes:
    """Per-frame face detections of one clip.

    boxes: (N, 4) float (x0, y0, x1, y1) px; keypoints: (N, 6, 2) px; score: (N,) in [0, 1];
    found: (N,) bool. Frames without a face have NaN boxes, keypoints and score.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    score: np.ndarray
    found: np.ndarray
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.found)

    def refined(self, points: np.ndarray, found: np.ndarray) -> FaceBoxes:
        """The six keypoints recomputed from (N, 68, 2) iBUG landmarks where both found a face: eye
        centres (mean of 36-41 and 42-47), nose tip 30, mouth centre (mean of the outer lips 48-59)
        and the jaw ends 0 and 16 for the ears. Landmarks follow the eyes and lips more closely than
        the detector's keypoints, so occluders sit where the parts are."""
        keypoints = self.keypoints.copy()
        both = self.found & found
        p = points[both]
        keypoints[both] = np.stack(
            [p[:, 36:42].mean(1), p[:, 42:48].mean(1), p[:, 30], p[:, 48:60].mean(1), p[:, 0], p[:, 16]], axis=1
        )
        return FaceBoxes(self.boxes, keypoints, self.score, self.found, self.width, self.height)

    def filled(self) -> FaceBoxes:
        """Every frame with a face: a missed frame takes the nearest detected frame's face (the
        earlier one on a tie); a clip with no detection at all takes `FALLBACK_BOX` everywhere."""
        if self.found.all():
            return self
        n = len(self)
        if not self.found.any():
            x0, y0, x1, y1 = FALLBACK_BOX
            side = min(self.width, self.height)
            ox, oy = (self.width - side) / 2, (self.height - side) / 2
            box = np.array([ox + x0 * side, oy + y0 * side, ox + x1 * side, oy + y1 * side])
            boxes = np.repeat(box[None], n, axis=0)
            # Eyes at 40 % of the box height, mouth at 80 %, nose at 62 %, ears at the sides.
            rel = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.62], [0.5, 0.8], [0.0, 0.45], [1.0, 0.45]])
            kp = box[:2] + rel * (box[2:] - box[:2])
            keypoints = np.repeat(kp[None], n, axis=0)
            return FaceBoxes(boxes, keypoints, np.zeros(n), np.ones(n, bool), self.width, self.height)
        hits = np.flatnonzero(self.found)
        nearest = hits[np.abs(np.arange(n)[:, None] - hits[None, :]).argmin(axis=1)]
        return FaceBoxes(
            self.boxes[nearest],
            self.keypoints[nearest],
            self.score[nearest],
            np.ones(n, bool),
            self.width,
            self.height,
        )

    def cropped(self, crop: CropBox, resolution: int) -> FaceBoxes:
        """The same faces in the pixels of frames cropped to `crop` and resized to `resolution`²."""
        scale = resolution / crop.size
        offset = np.array([crop.left, crop.top], dtype=np.float64)
        boxes = (self.boxes.reshape(-1, 2, 2) - offset) * scale
        keypoints = (self.keypoints - offset) * scale
        return FaceBoxes(boxes.reshape(-1, 4), keypoints, self.score, self.found, resolution, resolution)


def _detect_with(model_selection: int, frames: np.ndarray, todo: np.ndarray, out: dict) -> None:
    mp = require_package("mediapipe")
    height, width = frames.shape[1:3]
    scale = np.array([width, height], dtype=np.float64)
    with (
        native_stderr_to_debug_log(),
        mp.solutions.face_detection.FaceDetection(
            model_selection=model_selection, min_detection_confidence=0.5
        ) as detector,
    ):  # only the graph runs inside: its native start-up lines go to the debug log
        for index in np.flatnonzero(todo):
            result = detector.process(np.ascontiguousarray(frames[index]))
            if not result.detections:
                continue
            best = max(result.detections, key=lambda d: d.score[0])
            rel = best.location_data.relative_bounding_box
            corner = np.array([rel.xmin, rel.ymin]) * scale
            size = np.array([rel.width, rel.height]) * scale
            out["boxes"][index] = np.concatenate([corner, corner + size])
            points = best.location_data.relative_keypoints
            out["keypoints"][index] = np.array([[p.x, p.y] for p in points[:6]]) * scale
            out["score"][index] = best.score[0]
            out["found"][index] = True


#: Borders tried, in turn, around frames both models miss (share of the frame's side per side, black):
#: a photo cropped tight to a masked face (forehead and chin cut, the face filling the frame) has no
#: face for BlazeFace until it has a margin. On 10 masked and unmasked face-mask photos of a
#: development sample (not the held-out one) that neither model found, 0.5 found 7, 1.0 found 8,
#: edge-replicated borders fewer (RESULTS.md, "Masked faces not found").
PADS = (0.5, 1.0)
#: Padded frames are upscaled to at least this shorter side (the tight crops are 41-240 px).
PAD_MIN_SIDE = 256


def _detect_padded(frames: np.ndarray, todo: np.ndarray, out: dict) -> None:
    """`_detect_with` on the `todo` frames framed in a black border (`PADS`), mapped back to the frames'
    pixels (boxes may then reach beyond the frame: the face is cut by its edge)."""
    height, width = frames.shape[1:3]
    for pad in PADS:
        index = np.flatnonzero(todo & ~out["found"])
        if index.size == 0:
            return
        py, px = int(round(pad * height)), int(round(pad * width))
        scale = max(1.0, PAD_MIN_SIDE / min(height + 2 * py, width + 2 * px))
        padded = np.stack(
            [
                cv2.resize(np.pad(frames[i], ((py, py), (px, px), (0, 0))), None, fx=scale, fy=scale)
                if scale > 1
                else np.pad(frames[i], ((py, py), (px, px), (0, 0)))
                for i in index
            ]
        )
        found = {
            "boxes": np.full((len(index), 4), np.nan),
            "keypoints": np.full((len(index), 6, 2), np.nan),
            "score": np.full(len(index), np.nan),
            "found": np.zeros(len(index), bool),
        }
        for model_selection in (0, 1):
            _detect_with(model_selection, padded, ~found["found"], found)
        hit = found["found"]
        offset = np.array([px, py], dtype=np.float64)
        out["boxes"][index[hit]] = (found["boxes"][hit].reshape(-1, 2, 2) / scale - offset).reshape(-1, 4)
        out["keypoints"][index[hit]] = found["keypoints"][hit] / scale - offset
        out["score"][index[hit]] = found["score"][hit]
        out["found"][index[hit]] = True


def detect_faces(frames: np.ndarray, *, padded: bool = False) -> FaceBoxes:
    """Most confident face per frame of uint8 (N, H, W, 3) RGB frames.

    The short-range model (faces within ~2 m, as in talking-head crops) runs first; frames it misses
    get the full-range model (small faces in wide shots); with `padded`, frames both miss are tried
    again inside a black border (`PADS`: faces cropped tight by the frame, as in many photos).
    """
    n, height, width = frames.shape[:3]
    out = {
        "boxes": np.full((n, 4), np.nan),
        "keypoints": np.full((n, 6, 2), np.nan),
        "score": np.full(n, np.nan),
        "found": np.zeros(n, bool),
    }
    for model_selection in (0, 1):
        if out["found"].all():
            break
        _detect_with(model_selection, frames, ~out["found"], out)
    if padded and not out["found"].all():
        _detect_padded(frames, ~out["found"], out)
    return FaceBoxes(out["boxes"], out["keypoints"], out["score"], out["found"], width, height)


def crop_box(faces: FaceBoxes, *, margin: float = 0.4) -> CropBox:
    """Square crop holding the face through the whole clip (the FOMM `crop-video` idea).

    The union of the detected boxes, widened by `margin` times its side on each side (the detector's
    box is tight, brows to chin; talking-head crops also hold hair and chin), made square around its
    centre and shifted (then shrunk if need be) to stay inside the frame.
    """
    filled = faces.filled()
    boxes = filled.boxes
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = boxes[:, 2].max(), boxes[:, 3].max()
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    size = int(round(min(side, faces.width, faces.height)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(round(np.clip(cx - size / 2, 0, faces.width - size)))
    top = int(round(np.clip(cy - size / 2, 0, faces.height - size)))
    return CropBox(left=left, top=top, size=size)
