"""Face metrics with frames on a CUDA device give the CPU numbers, on the device (skipped without CUDA).

Detection runs on the CPU for mediapipe/dlib whatever the device; what this checks is that landmarks and
embeddings come back on the frames' device and the metric arithmetic (crops, SSIM, distances) runs there.
OpenFace runs on the GPU itself. Tolerances: 1e-4 (float32 convolutions/resampling, other kernels).
"""

from __future__ import annotations

import pytest
import torch

from qa_harness.catalog import IDENTITY, LANDMARKS
from qa_harness.identity import openface
from qa_harness.metrics import akd, ear_mar, face_regions
from qa_harness.metrics._face_analysis import FaceAnalysis
from tests.helpers.face import make_batch, source_and_target

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_landmark_metrics_on_cuda_match_cpu() -> None:
    lm = FaceAnalysis(LANDMARKS.build("mediapipe", device=CUDA), cache_dir=None, suite_version="")
    _, target = source_and_target()
    output = target.flip(-1)
    metrics = [akd.AKD(lm), face_regions.FaceRegions(lm), ear_mar.EarMar(lm, reference="target")]
    for metric in metrics:
        on_cpu = metric.frame_values(make_batch(output, target))
        on_gpu = metric.frame_values(make_batch(output.to(CUDA), target.to(CUDA)))
        for name, value in on_gpu.items():
            assert value.device.type == "cuda", name
            torch.testing.assert_close(value.cpu(), on_cpu[name], atol=1e-4, rtol=0, equal_nan=True)


def test_openface_on_cuda_matches_cpu(tmp_path) -> None:
    torch.manual_seed(0)
    path = tmp_path / openface.WEIGHTS_FILE
    torch.save(openface.OpenFaceNN4Small2().state_dict(), path)
    _, target = source_and_target()
    on_cpu = IDENTITY.build("openface", device=CPU, weights=path).embed(target)
    on_gpu = IDENTITY.build("openface", device=CUDA, weights=path).embed(target.to(CUDA))
    torch.testing.assert_close(on_gpu.vectors, on_cpu.vectors, atol=1e-4, rtol=0)


def test_dlib_port_on_cuda_matches_dlib() -> None:
    """The torch port of dlib's ResNet on the GPU (TF32 off) gives dlib's own CPU descriptors within 1e-4."""
    _, target = source_and_target()
    native = IDENTITY.build("dlib_native", device=CPU)
    on_gpu = IDENTITY.build("dlib", device=CUDA)
    assert next(on_gpu._net.parameters()).device.type == "cuda"
    torch.testing.assert_close(on_gpu.embed(target).vectors, native.embed(target).vectors, atol=1e-4, rtol=0)
