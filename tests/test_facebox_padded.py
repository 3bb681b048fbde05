"""Faces cropped tight by the frame (forehead and chin cut, as in many masked-face photos) are found
by the bordered retry of `facebox.detect_faces(padded=True)`, and its points map back to the frame:
checked against the same face detected on the whole photo (an independent detection)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from qa_harness.suites.facebox import LEFT_EYE, MOUTH, RIGHT_EYE, detect_faces

PHOTO = Path(__file__).resolve().parents[1] / "data" / "photos" / "lp_d12.jpg"


def test_a_face_cropped_tight_is_found_inside_a_border_and_mapped_back():
    frame = np.asarray(Image.open(PHOTO).convert("RGB"))
    whole = detect_faces(frame[None])
    x0, y0, x1, y1 = whole.boxes[0]
    w, h = x1 - x0, y1 - y0
    top, left = int(y0 + 0.2 * h), int(x0 + 0.05 * w)  # brows to above the chin's bottom: the frame cuts both
    crop = frame[top : int(y1 - 0.1 * h), left : int(x1 - 0.05 * w)]
    scale = 96 / crop.shape[1]
    small = cv2.resize(crop, (96, int(round(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    assert not detect_faces(small[None]).found[0]  # 96 x 74 px: neither BlazeFace model finds it
    found = detect_faces(small[None], padded=True)
    assert found.found[0] and found.width == 96
    expected = (whole.keypoints[0] - [left, top]) * scale
    iod = float(np.linalg.norm(expected[LEFT_EYE] - expected[RIGHT_EYE]))
    error = np.linalg.norm(
        found.keypoints[0][[RIGHT_EYE, LEFT_EYE, MOUTH]] - expected[[RIGHT_EYE, LEFT_EYE, MOUTH]], axis=1
    )
    assert error.max() < 0.2 * iod, (error / iod).round(3)
