"""Frame thumbnails for report strips: the contract between the runner (writer) and the report (reader).

The runner calls `write_thumbs` for the frames `thumb_frames` picks in every pair, into a folder it
logs as the run's `thumbs/` artifact. Layout: `thumbs/<thumb_dir(pair_id)>/<frame:06d>_<kind>.jpg`,
kind in source | target | output (target absent under the cross protocol). Pair ids are user
strings, so the folder name is a filesystem-safe slug plus a hash. Thumbnails, not frames: 96 px
JPEGs of ~3 KB keep the artifact and the report small. The error heat map is not stored; the
report computes it from the target and output thumbnails.

Where a metric scores inside face regions (eyes, mouth), `write_region_thumbs` also saves crops of
those regions cut from the full-resolution frames (a 96 px thumbnail has too few pixels for an eye):
`<frame:06d>_<region>-<kind>.jpg`, 48 px, kind in target | output.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

THUMBS_ARTIFACT = "thumbs"
KINDS = ("source", "target", "output")
THUMB_SIZE = 96
REGION_SIZE = 48
REGION_KINDS = ("target", "output")
_REGION_NAME = re.compile(r"[a-z0-9_]+")
JPEG_QUALITY = 80


def thumb_dir(pair_id: str) -> str:
    """Folder name of a pair's thumbnails: e.g. `vox_id10001-3f2a9c1e` for `vox/id10001`."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", pair_id).strip("._")[:48] or "pair"
    return f"{slug}-{hashlib.sha1(pair_id.encode()).hexdigest()[:8]}"


def thumb_frames(frame_count: int, k: int = 8) -> list[int]:
    """`k` driving-frame indices spread evenly over a clip, first and last included."""
    if frame_count <= k:
        return list(range(frame_count))
    return sorted({round(i * (frame_count - 1) / (k - 1)) for i in range(k)})


def _to_uint8(image) -> np.ndarray:
    """(3, H, W) float in [0, 1] (torch tensor or numpy) -> (H, W, 3) uint8."""
    array = image.detach().cpu().numpy() if hasattr(image, "detach") else np.asarray(image)
    return (np.clip(array.transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_thumbs(folder: Path, pair_id: str, frame: int, **images) -> None:
    """Save `source=`, `target=` (optional), `output=` images of one frame as thumbnail JPEGs."""
    from PIL import Image

    unknown = set(images) - set(KINDS)
    if unknown:
        raise ValueError(f"write_thumbs: unknown image kinds {sorted(unknown)}; expected {KINDS}")
    target_dir = Path(folder) / thumb_dir(pair_id)
    target_dir.mkdir(parents=True, exist_ok=True)
    for kind, image in images.items():
        if image is None:
            continue
        picture = Image.fromarray(_to_uint8(image))
        picture.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        picture.save(target_dir / f"{frame:06d}_{kind}.jpg", format="JPEG", quality=JPEG_QUALITY)


def write_region_thumbs(folder: Path, pair_id: str, frame: int, boxes: Mapping[str, Sequence[float]], **images) -> None:
    """Save crops of each named box (centre x, centre y, side in pixels) of `target=` and `output=`.

    Boxes with a NaN (no face in the ground truth) are skipped; pixels outside the frame are black.
    """
    from PIL import Image

    unknown = set(images) - set(REGION_KINDS)
    if unknown:
        raise ValueError(f"write_region_thumbs: unknown image kinds {sorted(unknown)}; expected {REGION_KINDS}")
    pictures = {kind: Image.fromarray(_to_uint8(image)) for kind, image in images.items()}
    target_dir = Path(folder) / thumb_dir(pair_id)
    for region, box in boxes.items():
        if not _REGION_NAME.fullmatch(region):
            raise ValueError(f"write_region_thumbs: region name {region!r} must match {_REGION_NAME.pattern}")
        cx, cy, side = (float(v) for v in box)
        if not (np.isfinite([cx, cy, side]).all() and side > 0):
            continue
        extent = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        target_dir.mkdir(parents=True, exist_ok=True)
        for kind, picture in pictures.items():
            crop = picture.transform(
                (REGION_SIZE, REGION_SIZE), Image.Transform.EXTENT, extent, resample=Image.Resampling.BILINEAR
            )
            crop.save(target_dir / f"{frame:06d}_{region}-{kind}.jpg", format="JPEG", quality=JPEG_QUALITY)


#: Where a report finds a pair's thumbnails: pair id -> its folder, or None when it has none. Local
#: runs use `folder_source`; the report command fetches one pair's folder from MLflow on demand,
#: so a report on a large suite downloads the thumbnails of its worst clips only.
ThumbSource = Callable[[str], Path | None]


def folder_source(root: Path) -> ThumbSource:
    """Thumbnails under a local `thumbs/` folder."""

    def pair_dir(pair_id: str) -> Path | None:
        folder = Path(root) / thumb_dir(pair_id)
        return folder if folder.is_dir() else None

    return pair_dir


def available_frames(pair_dir: Path | None) -> list[int]:
    """Frames that have an output thumbnail in a pair's folder (none without a folder)."""
    if pair_dir is None:
        return []
    return sorted(int(p.name[:6]) for p in pair_dir.glob("*_output.jpg") if p.name[:6].isdigit())


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def strip_images(pair_dir: Path, frame: int) -> dict[str, bytes]:
    """JPEG bytes of the frame's thumbnails, plus `error`: |output - target| as a colour heat map."""
    from matplotlib import colormaps
    from PIL import Image

    out = {
        kind: (pair_dir / f"{frame:06d}_{kind}.jpg").read_bytes()
        for kind in KINDS
        if (pair_dir / f"{frame:06d}_{kind}.jpg").exists()
    }
    if "target" in out and "output" in out:
        target = np.asarray(Image.open(io.BytesIO(out["target"])).convert("RGB"), dtype=np.float32) / 255.0
        output = np.asarray(Image.open(io.BytesIO(out["output"])).convert("RGB"), dtype=np.float32) / 255.0
        if target.shape == output.shape:
            error = np.abs(output - target).mean(axis=2)
            rgb = (colormaps["inferno"](np.clip(error / 0.25, 0.0, 1.0))[..., :3] * 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
            out["error"] = buffer.getvalue()
    return out


def region_images(pair_dir: Path, frame: int) -> dict[str, dict[str, bytes]]:
    """JPEG bytes of the frame's region crops: region -> {target, output}; regions missing one are left out."""
    found: dict[str, dict[str, bytes]] = {}
    for path in sorted(pair_dir.glob(f"{frame:06d}_*-*.jpg")):
        region, _, kind = path.stem[7:].rpartition("-")
        if kind in REGION_KINDS:
            found.setdefault(region, {})[kind] = path.read_bytes()
    return {region: images for region, images in found.items() if set(images) == set(REGION_KINDS)}
