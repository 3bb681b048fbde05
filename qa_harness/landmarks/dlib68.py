"""dlib's HOG face detector and 68-point shape predictor (iBUG layout natively).

The model files come from the `face_recognition_models` package (installed from PyPI, no download at
run time). We locate the package folder without importing it: its `__init__` imports `pkg_resources`,
which recent setuptools no longer ships. CPU only (the `dlib-bin` wheel is built without CUDA).
HOG detection with one upsampling finds faces down to ~40 px at 256x256; the largest-scoring face is used.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.errors import WeightsUnavailableError
from qa_harness.landmarks.base import LandmarkBackend, Landmarks, empty_arrays, to_uint8_images
from qa_harness.weights import require_package

UPSAMPLE = 1


def dlib_model_file(filename: str) -> Path:
    """Path of a model file shipped by `face_recognition_models`; a clear error when it is absent."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "models" / filename
        if path.is_file():
            return path
    raise WeightsUnavailableError(
        f"dlib model '{filename}' not found: it ships in the PyPI package 'face_recognition_models' "
        f"(pip install face_recognition_models); searched {folders or 'no installed package'}"
    )


def dlib_version() -> str:
    return str(require_package("dlib").__version__)


class DlibFaceFinder:
    """HOG detection of the best face per image; shared by the landmark and identity backends."""

    def __init__(self) -> None:
        self._detector = require_package("dlib").get_frontal_face_detector()

    def best_face(self, image: np.ndarray):
        """(H, W, 3) uint8 -> (dlib.rectangle, confidence in (0, 1)) of the top-scoring face, or None.

        The HOG score is an SVM margin (>= 0 at the default threshold); a logistic turns it into a
        confidence so that backends report comparable numbers.
        """
        rects, scores, _ = self._detector.run(image, UPSAMPLE, 0.0)
        if not rects:
            return None
        best = int(np.argmax(scores))
        return rects[best], 1.0 / (1.0 + math.exp(-scores[best]))


class Dlib68(LandmarkBackend):
    name = "dlib"

    def __init__(self) -> None:
        dlib = require_package("dlib")
        self.version = f"{dlib_version()}-hog{UPSAMPLE}-sp68"
        self._finder = DlibFaceFinder()
        self._predictor = dlib.shape_predictor(str(dlib_model_file("shape_predictor_68_face_landmarks.dat")))

    def detect(self, frames: Tensor) -> Landmarks:
        images = to_uint8_images(frames)
        points, found, confidence = empty_arrays(len(images))
        for i, image in enumerate(images):
            face = self._finder.best_face(image)
            if face is None:
                continue
            shape = self._predictor(image, face[0])
            points[i] = [(p.x, p.y) for p in shape.parts()]
            found[i], confidence[i] = True, face[1]
        return Landmarks.from_numpy(points, found, confidence)


def build(*, device: torch.device, weights: Path | None = None) -> Dlib68:
    """CPU only whatever `device` says; the model file ships in `face_recognition_models`."""
    return Dlib68()
