"""Tags and evaluation see the same pixels: a non-square clip without a crop box gets a face-centred
square from `suites tag`, the tags are measured through evaluation's decoder, and `suites validate`
warns when the frame a model gets holds no face. The tall clip is a shipped portrait pasted at the
bottom of a grey canvas (3 frames), where the centred square holds only grey."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from qa_harness.records import CropBox
from qa_harness.suites.conditions import conditions_path
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.facecrop import face_in_crop, face_square
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.tag_suite import tag_suite
from qa_harness.suites.tagging import Tagger, build_axes
from qa_harness.video.io import iter_frames_uint8
from tests.helpers.media import PHOTOS, write_mp4
from tests.test_cli import cli

HEIGHT = 1400  # the portrait (474 px) at the bottom: the centred square (rows 463-937) is grey


@pytest.fixture(scope="module")
def tall(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("tall")
    face = Image.open(PHOTOS / "sadtalker_people0.png").convert("RGB")
    canvas = Image.new("RGB", (face.width, HEIGHT), (128, 128, 128))
    canvas.paste(face, (0, HEIGHT - face.height))
    write_mp4(folder / "tall.mp4", [np.asarray(canvas)] * 3)
    manifest = folder / "tall.yaml"
    manifest.write_text(yaml.safe_dump({"name": "tall", "clips": [{"id": "tall", "path": "tall.mp4"}]}))
    return folder, manifest, face.width


def test_face_square_moves_the_short_side_square_onto_the_face(tall):
    folder, _, side = tall
    # Reference: the face box the detector finds in the portrait alone, moved down by the paste offset.
    portrait = np.asarray(Image.open(PHOTOS / "sadtalker_people0.png").convert("RGB"))[None]
    box = detect_faces(portrait).boxes[0]
    centre = (box[1] + box[3]) / 2 + HEIGHT - side
    crop = face_square(folder / "tall.mp4")
    # Tolerance 5 % of the side: the detector sees the tall frame letterboxed to its input, so its box
    # differs by a few percent from the one it draws on the portrait alone (11 px of 474 here).
    assert (crop.left, crop.size) == (0, side) and abs(crop.top + side / 2 - centre) <= 0.05 * side
    assert face_square(PHOTOS / "sadtalker_people0.png") is not None  # square media: found too
    grey = folder / "grey.png"
    Image.new("RGB", (200, 300), (128, 128, 128)).save(grey)
    assert face_square(grey) is None


def test_tag_stores_the_face_crop_and_tags_the_pixels_evaluation_decodes(tall, tmp_path):
    folder, manifest, side = tall
    out = tag_suite(manifest, tmp_path / "tagged.yaml", axes=("lighting", "pose"))
    entry = yaml.safe_load(out.read_text())["clips"][0]
    assert entry["crop"][0::2] == [0, side] and entry["crop"][1] > HEIGHT / 2  # the face, not the grey
    assert entry["tags"]["yaw"] != "unknown"  # the face was seen
    suite = load_suite(out)
    clip = suite.pairs[0].driving
    assert clip.crop == CropBox(*entry["crop"])
    # The runner's frames (same decoder, crop and resolution), measured again, give the stored numbers.
    frames = np.concatenate(list(iter_frames_uint8(clip.path, resolution=suite.resolution, crop=clip.crop)))
    again = Tagger(build_axes(["lighting", "pose"])).tag_frames(frames)
    table = pd.read_parquet(conditions_path(out))
    for name, values in again.measures.items():
        np.testing.assert_array_equal(table[name].to_numpy(), values, err_msg=name)
    # Without the face crop the model would get grey: no face, and the tags would say unknown.
    assert not face_in_crop(clip.path, resolution=suite.resolution, crop=None)
    assert face_in_crop(clip.path, resolution=suite.resolution, crop=clip.crop)


def test_validate_warns_when_the_models_frame_has_no_face(tall, tmp_path):
    _, manifest, _ = tall
    untagged = cli("suites", "validate", str(manifest))
    assert untagged.returncode == 0
    assert "warning: clip 'tall': no face found in its first frame through the centred square" in untagged.stderr
    tagged = tag_suite(manifest, tmp_path / "tagged.yaml", axes=("lighting",))
    result = cli("suites", "validate", str(tagged))
    assert result.returncode == 0 and "warning" not in result.stderr
