"""dlib's face-recognition ResNet in torch: same descriptors as dlib's own on real crops, and the .dat reader.

Reference: `dlib.face_recognition_model_v1.compute_face_descriptor` (the `dlib_native` backend) on the
same frames and 5-point shapes. Tolerance 1e-4 per descriptor component (the issue's); measured 4.5e-7
on 12 faces of the six demo clips, float32 summation order being the only difference.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from qa_harness.catalog import IDENTITY
from qa_harness.errors import CheckpointError
from qa_harness.identity.dlib_dat import ARCH, read_dat
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
    hits, shapes = native.face_shapes(images, None)  # dlib's HOG face and 5-point shape, as the backend uses
    assert hits == [0, 1, 2, 3]
    want = native.descriptors(list(images), shapes)
    got = port.descriptors(list(images), shapes)
    assert np.abs(got - want).max() <= 1e-4
    alone = port.descriptors([images[3]], [shapes[3]])
    # batch size and order do not change a face's descriptor, bit for bit (fixed-shape network calls): a
    # source photo embedded alone and a Ray worker's batches give the local run's numbers
    assert np.array_equal(alone[0], got[3])
    reordered = port.descriptors([images[i] for i in (3, 1, 0, 2)], [shapes[i] for i in (3, 1, 0, 2)])
    assert np.array_equal(reordered, got[[3, 1, 0, 2]])
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


class _Writer:
    """dlib's encodings (dlib/serialize.h, float_details.h, cuda/tensor.h), written independently of the reader."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def int(self, value: int) -> None:
        magnitude = abs(value).to_bytes(8, "little").rstrip(b"\x00") or b"\x00"
        self.parts.append(bytes([len(magnitude) | (0x80 if value < 0 else 0)]) + magnitude)

    def str(self, text: str) -> None:
        self.int(len(text))
        self.parts.append(text.encode())

    def bool(self, value: bool) -> None:
        self.parts.append(b"1" if value else b"0")

    def float(self, value: float) -> None:
        fraction, exponent = math.frexp(value)
        mantissa, exponent = int(fraction * 2**53), exponent - 53
        while mantissa and mantissa % 256 == 0:  # dlib drops low zero bytes
            mantissa, exponent = mantissa // 256, exponent + 8
        self.int(mantissa)
        self.int(exponent)

    def tensor(self, values: np.ndarray | None = None) -> None:
        flat = np.zeros(0, np.float32) if values is None else np.asarray(values, np.float32).reshape(-1)
        for dim in (2, flat.size, 1, 1, 1) if flat.size else (2, 0, 0, 0, 0):
            self.int(dim)
        self.parts.append(flat.astype("<f4").tobytes())

    def alias(self, *shape: int) -> None:
        for dim in (1, *shape, *[1] * (4 - len(shape))):  # alias_tensor(n, k=1, nr=1, nc=1)
            self.int(dim)


def _write_details(w: _Writer, node, arrays: dict, bn: dict) -> None:
    """Newer dlib's layer versions: con_6, affine_2 (or bn_con2 for the layers in `bn`), relu_2, fc_3."""
    if node.kind == "con":
        weight, bias = arrays[f"{node.name}.weight"], arrays[f"{node.name}.bias"]
        pad = node.size // 2 if node.stride == 1 else 0
        w.str("con_6")
        w.tensor(np.concatenate([weight.reshape(-1), bias]))
        for value in (node.filters, node.size, node.size, node.stride, node.stride, pad, pad):
            w.int(value)
        w.alias(*weight.shape), w.alias(1, node.filters, 1, 1)
        for value in (1.0, 1.0, 1.0, 0.0):
            w.float(value)
        w.bool(True), w.bool(False)
    elif node.kind == "affine" and node.name in bn:
        gamma, beta, means, variances, eps = bn[node.name]
        w.str("bn_con2"), w.tensor(np.concatenate([gamma, beta])), w.alias(1, gamma.size), w.alias(1, gamma.size)
        w.tensor(), w.tensor(), w.tensor(means), w.tensor(variances), w.int(7), w.int(1000)
        for value in (1.0, 1.0, 1.0, 0.0, eps):
            w.float(value)
    elif node.kind == "affine":
        scale, shift = arrays[f"{node.name}.scale"], arrays[f"{node.name}.shift"]
        w.str("affine_2"), w.tensor(np.concatenate([scale, shift])), w.alias(1, scale.size), w.alias(1, scale.size)
        w.int(0), w.bool(False)
    elif node.kind in ("max_pool", "avg_pool"):
        w.str(f"{node.kind}_2")
        pad = node.size // 2 if node.stride == 1 and node.size else 0
        for value in (node.size, node.size, node.stride, node.stride, pad, pad):
            w.int(value)
    elif node.kind == "fc":
        weight = arrays["fc.weight"]
        w.str("fc_3"), w.int(weight.shape[0]), w.int(weight.shape[1]), w.tensor(weight.T)
        w.alias(weight.shape[1], weight.shape[0]), w.alias(1, weight.shape[0]), w.int(1)
        for value in (1.0, 1.0, 1.0, 0.0):
            w.float(value)
        w.bool(False)
    elif node.kind == "add_prev":
        w.str("add_prev_")
    else:
        w.str("relu_2"), w.bool(False)


def _write_net(w: _Writer, index: int, arrays: dict, bn: dict) -> None:
    """dlib's add_layer / tag / skip nesting (dlib/dnn/core.h), outermost first."""
    node = ARCH[index]
    if node.kind in ("tag", "skip"):
        w.int(1)
        _write_net(w, index + 1, arrays, bn)
        return
    innermost = index == len(ARCH) - 1
    w.int(3 if innermost else 2)
    if innermost:
        w.str("input_rgb_image_sized")
        for value in (122.782, 117.001, 104.298):
            w.float(value)
        w.int(150), w.int(150)
    else:
        _write_net(w, index + 1, arrays, bn)
    _write_details(w, node, arrays, bn)
    w.bool(True), w.bool(False), w.bool(False)
    w.tensor(), w.tensor(), w.tensor()
    if innermost:
        w.int(1)


def test_reader_takes_newer_dlib_layer_versions_and_converts_batch_norm(tmp_path) -> None:
    """A .dat this test writes (con_6, affine_2, relu_2, fc_3, add_layer v3, and one bn_con2 layer as a
    network saved before its conversion to affine would hold) reads back to the same arrays; the bn layer
    becomes dlib's affine_(bn_): scale = gamma / sqrt(var + eps), shift = beta - mean * scale."""
    arrays = read_dat(dlib_model_file(DAT))
    rng = np.random.default_rng(0)
    gamma, beta = rng.uniform(0.5, 2, 32).astype(np.float32), rng.normal(0, 1, 32).astype(np.float32)
    means, variances = rng.normal(0, 1, 32).astype(np.float32), rng.uniform(0.1, 3, 32).astype(np.float32)
    w = _Writer()
    w.int(1), w.str("loss_metric_2"), w.float(0.04), w.float(0.6)
    _write_net(w, 0, arrays, {"stem.bn": (gamma, beta, means, variances, 1e-5)})
    path = tmp_path / "newer.dat"
    path.write_bytes(b"".join(w.parts))
    back = read_dat(path)
    assert back.keys() == arrays.keys()
    for name in arrays.keys() - {"stem.bn.scale", "stem.bn.shift"}:
        np.testing.assert_array_equal(back[name], arrays[name], err_msg=name)
    scale = gamma.astype(np.float64) / np.sqrt(variances.astype(np.float64) + 1e-5)
    np.testing.assert_allclose(back["stem.bn.scale"], scale, rtol=1e-6)
    np.testing.assert_allclose(back["stem.bn.shift"], beta - means * scale, rtol=1e-5, atol=1e-6)
