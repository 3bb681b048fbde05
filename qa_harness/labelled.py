"""Readers for labelled face datasets that measure the condition tags: AFLW2000-3D and CSV manifests.

They live in the library (not the benchmark) so tests and users' own checks read the same rows.
- AFLW2000-3D: `imageNNNNN.jpg` + `imageNNNNN.mat` whose `Pose_Para` = [pitch, yaw, roll, tx, ty,
  tz, scale] (radians, AFLW's axes). `aflw_angles` converts it to this project's convention
  (`qa_harness.suites.axes.headpose`): euler_angles(M (Rz(roll) Ry(yaw) Rx(pitch))^T M), M =
  diag(1, -1, -1). A folder with `manifest.csv` (the shared subset: file, yaw, pitch, roll, valid)
  is read from it; a plain download (jpg + mat pairs) is converted here. `valid` is the usual
  AFLW2000 filter: every raw angle within 99 degrees.
- CSV manifests: one row per image, a `file` column relative to the manifest's folder and any label
  columns; every listed file must exist.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa_harness.errors import QaHarnessError
from qa_harness.suites.axes.headpose import euler_angles

#: AFLW2000's usual filter: a sample whose raw Pose_Para angles are all within this many degrees.
VALID_DEGREES = 99.0


class LabelError(QaHarnessError):
    """A labelled folder or manifest that cannot be read; the message names the file and problem."""


@dataclass(frozen=True, slots=True)
class PoseSample:
    """One image with its true head pose, degrees in the project's convention."""

    image: Path
    yaw: float
    pitch: float
    roll: float
    valid: bool


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def aflw_angles(pose_para: np.ndarray) -> tuple[float, float, float, bool]:
    """AFLW `Pose_Para` (pitch, yaw, roll radians first) -> (yaw, pitch, roll) degrees in the
    project's convention, and whether the sample passes the usual |angle| <= 99 degrees filter."""
    pitch, yaw, roll = (float(v) for v in np.asarray(pose_para, dtype=np.float64).ravel()[:3])
    m = np.diag([1.0, -1.0, -1.0])
    rotation = m @ (_rz(roll) @ _ry(yaw) @ _rx(pitch)).T @ m
    valid = all(abs(math.degrees(a)) <= VALID_DEGREES for a in (pitch, yaw, roll))
    return (*euler_angles(rotation), valid)


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV manifest with `file` resolved to an absolute path (key `path`); raises
    `LabelError` naming the manifest and row when the file column is missing or a file is absent."""
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise LabelError(f"{path}: cannot read manifest: {err}") from err
    if not rows or "file" not in rows[0]:
        raise LabelError(f"{path}: expected a CSV with a header and a 'file' column")
    for line, row in enumerate(rows, start=2):
        file = path.parent / row["file"]
        if not file.is_file():
            raise LabelError(f"{path}:{line}: listed file {row['file']} does not exist")
        row["path"] = str(file)
    return rows


def _float(path: Path, line: int, row: dict[str, str], key: str) -> float:
    try:
        return float(row[key])
    except (KeyError, TypeError, ValueError) as err:
        raise LabelError(f"{path}:{line}: column '{key}' missing or not a number: {row.get(key)!r}") from err


def load_aflw2000(folder: Path) -> list[PoseSample]:
    """AFLW2000-3D samples of `folder`: from its `manifest.csv` when there is one, else from the
    `image*.jpg` + `image*.mat` pairs of a full download (a jpg without its mat raises)."""
    folder = Path(folder)
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return [
            PoseSample(
                Path(row["path"]),
                *(_float(manifest, i, row, k) for k in ("yaw", "pitch", "roll")),
                valid=row.get("valid", "1").strip() == "1",
            )
            for i, row in enumerate(read_manifest(manifest), start=2)
        ]
    images = sorted(folder.glob("image*.jpg"))
    if not images:
        raise LabelError(f"{folder}: no manifest.csv and no image*.jpg files (an AFLW2000-3D folder)")
    from scipy.io import loadmat  # only a full download needs it

    samples = []
    for image in images:
        mat = image.with_suffix(".mat")
        if not mat.is_file():
            raise LabelError(f"{image}: no {mat.name} beside it (AFLW2000 labels)")
        try:
            pose_para = loadmat(str(mat))["Pose_Para"]
        except (KeyError, ValueError, OSError) as err:
            raise LabelError(f"{mat}: no readable Pose_Para: {err}") from err
        yaw, pitch, roll, valid = aflw_angles(pose_para)
        samples.append(PoseSample(image, yaw, pitch, roll, valid))
    return samples
