"""The one place where names are bound: models, metrics, landmark and identity backends. Adding one is one file and one line here.

Entries are lazy `"module:attr"` strings so that nothing heavy is imported until it is used.
Models map to factories `(*, checkpoint, device, **options) -> Animator`; metrics to `build(ctx) -> Metric`.
"""

from __future__ import annotations

from qa_harness.registry import Registry

MODELS = Registry("model")
MODELS.add("identity", "qa_harness.models.baselines:identity")
MODELS.add("driving", "qa_harness.models.baselines:driving")

METRICS = Registry("metric")
METRICS.add("l1", "qa_harness.metrics.l1:build")
METRICS.add("psnr", "qa_harness.metrics.psnr:build")
METRICS.add("ssim", "qa_harness.metrics.ssim:build")

LANDMARKS = Registry("landmark backend")  # build(*, device, weights=None) -> LandmarkBackend
LANDMARKS.add("mediapipe", "qa_harness.landmarks.mediapipe_mesh:build")
LANDMARKS.add("dlib", "qa_harness.landmarks.dlib68:build")
LANDMARKS.add("fan", "qa_harness.landmarks.fan:build")
#: Works offline here (ships its models); `fan` is the papers' AKD detector when its weights are present.
DEFAULT_LANDMARKS = "mediapipe"

IDENTITY = Registry("identity backend")  # build(*, device, weights=None) -> IdentityBackend
IDENTITY.add("dlib", "qa_harness.identity.dlib_resnet:build")
IDENTITY.add("openface", "qa_harness.identity.openface:build")
#: Works offline here; `openface` is the papers' AED network when `openface.pth` is supplied.
DEFAULT_IDENTITY = "dlib"

#: Metrics a suite gets when it names none.
DEFAULT_METRICS = ("l1", "psnr", "ssim")
