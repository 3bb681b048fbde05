"""dlib's face-recognition ResNet in torch: same descriptors as dlib's own on real crops, and the .dat reader.

Reference: `dlib.face_recognition_model_v1.compute_face_descriptor` (the `dlib_native` backend) on the
same frames and 5-point shapes. Tolerance 1e-4 per descriptor component (the issue's); measured 4.5e-7
on 12 faces of the six demo clips, float32 summation order being the only difference.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from qa_harness.catalog import IDENTITY
from qa_harness.errors import CheckpointError
from qa_harness.identity.dlib_dat import read_dat
from qa_harness.identity.dlib_torch import DlibFaceNet
from qa_harness.landmarks.base import to_uint8_images
from qa_harness.landmarks.dlib68 import dlib_model_file
from tests.helpers.face import CLIPS, decode

CPU = torch.device("cpu")
DAT = "dlib_face_recognition_resnet_model_v1.dat"


@pytest.fixture(scope="module")
def port():
    return IDENTITY.build("dlib", device=CPU)


def test_port_matches_dlib_descriptors_on_real_crops(port) -> None:
    """Four faces of two clips (two people, poses, a blink): port vs dlib <= 1e-4, batched and alone
    (frames also decoded by test_identity / the face tests: cached)."""
    native = IDENTITY.build("dlib_native", device=CPU)
    frames = torch.cat([decode()[[0, 8]], decode(CLIPS / "vrt_face5.mp4", (0, 60))])
    images = to_uint8_images(frames)
    hits, shapes = native._shapes(images, None)  # dlib's HOG face and 5-point shape, as the backend uses
    assert hits == [0, 1, 2, 3]
    want = native.descriptors(list(images), shapes)
    got = port.descriptors(list(images), shapes)
    assert np.abs(got - want).max() <= 1e-4
    alone = port.descriptors([images[3]], [shapes[3]])
    assert np.abs(alone - got[3]).max() <= 1e-5  # batch size does not change a face's descriptor
    assert 1.0 < np.linalg.norm(want, axis=1).min()  # real descriptors (norm ~1.3-1.4), not zeros
    emb = port.embed(torch.cat([frames[2:], torch.zeros(1, 3, 256, 256)]))
    assert emb.found.tolist() == [True, True, False] and torch.isnan(emb.vectors[2]).all()
    np.testing.assert_allclose(emb.vectors[:2].numpy(), want[2:], atol=1e-4, rtol=0)
    assert port.version.endswith("-torch") and native.version != port.version  # separate cache entries


def test_reader_names_every_tensor_of_the_network() -> None:
    """The whole file is consumed; shapes are dlib's (stem 7x7x3 -> 32, last block 256, fc 256 -> 128) and
    the input layer's portable floats decode to dlib's channel means exactly."""
    arrays = read_dat(dlib_model_file(DAT))
    assert arrays["stem.conv.weight"].shape == (32, 3, 7, 7) and arrays["fc.weight"].shape == (128, 256)
    assert arrays["blocks.13.conv_b.weight"].shape == (256, 256, 3, 3)
    assert arrays["input.mean"].tolist() == np.float32([122.782, 117.001, 104.298]).tolist()
    net = DlibFaceNet()
    assert sum(t.numel() for t in net.state_dict().values()) == sum(a.size for a in arrays.values())


def test_reader_errors_name_the_file_and_the_offset(tmp_path) -> None:
    real = dlib_model_file(DAT)
    data = real.read_bytes()
    renamed = tmp_path / "renamed.dat"  # the stem convolution's version string changed
    at = data.index(b"con_4")
    renamed.write_bytes(data[:at] + b"con_9" + data[at + 5 :])
    with pytest.raises(CheckpointError, match=rf"renamed\.dat: byte {at + 5}: stem\.conv layer: .*'con_9'"):
        read_dat(renamed)
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated\.dat: byte \d+: file ends"):
        read_dat(truncated)
    longer = tmp_path / "longer.dat"
    shutil.copyfile(real, longer)
    with longer.open("ab") as f:
        f.write(b"\x00\x00")
    with pytest.raises(CheckpointError, match="2 bytes left after the network"):
        read_dat(longer)
