"""The one place where names are bound: models, metrics, landmark and identity backends.

Adding one is one file and one line here.

Entries are lazy `"module:attr"` strings so that nothing heavy is imported until it is used.
Models map to factories `(*, checkpoint, device, **options) -> Animator`; metrics to `build(ctx) -> Metric`;
executors to `build(**options)` objects with `run(pairs, spec, on_result=, on_frames=)`.
"""

from __future__ import annotations

from qa_harness.registry import Registry

MODELS = Registry("model")
MODELS.add("identity", "qa_harness.models.baselines:identity")
MODELS.add("driving", "qa_harness.models.baselines:driving")
MODELS.add("fomm", "qa_harness.models.fomm:build")
MODELS.add("tpsmm", "qa_harness.models.tpsmm:build")
MODELS.add("mraa", "qa_harness.models.mraa:build")
MODELS.add("mrfa", "qa_harness.models.mrfa:build")
MODELS.add("landmark_tps", "qa_harness.models.landmark_tps:build")

METRICS = Registry("metric")
METRICS.add("l1", "qa_harness.metrics.l1:build")
METRICS.add("psnr", "qa_harness.metrics.psnr:build")
METRICS.add("ssim", "qa_harness.metrics.ssim:build")
METRICS.add("lpips", "qa_harness.metrics.lpips:build_alex")
METRICS.add("lpips_vgg", "qa_harness.metrics.lpips:build_vgg")
METRICS.add("akd", "qa_harness.metrics.akd:build")  # + mkr, face_found_output
METRICS.add("akd_fan", "qa_harness.metrics.akd:build_fan")  # the papers' detector; needs FAN weights
METRICS.add("aed", "qa_harness.metrics.aed:build")
METRICS.add("aed_openface", "qa_harness.metrics.aed:build_openface")  # papers' net; needs openface.pth
METRICS.add("face_regions", "qa_harness.metrics.face_regions:build")
METRICS.add("face_regions_lpips", "qa_harness.metrics.face_regions_lpips:build")  # needs AlexNet weights
METRICS.add("face_nme", "qa_harness.metrics.face_nme:build")
METRICS.add("ear_mar", "qa_harness.metrics.ear_mar:build")  # + blink / mouth-open event F1
METRICS.add("id_source", "qa_harness.metrics.aed:build_source")  # cross protocol
METRICS.add("expression_transfer", "qa_harness.metrics.ear_mar:build_transfer")  # cross protocol
METRICS.add("landmark_jitter", "qa_harness.metrics.temporal:build_jitter")  # temporal, vs the ground truth
METRICS.add("flicker", "qa_harness.metrics.temporal:build_flicker")
METRICS.add("warp_error", "qa_harness.metrics.temporal:build_warp")
METRICS.add("xfer_landmark_jitter", "qa_harness.metrics.temporal:build_xfer_jitter")  # cross protocol
METRICS.add("output_flicker", "qa_harness.metrics.temporal:build_output_flicker")  # cross protocol

EXECUTORS = Registry("executor")
EXECUTORS.add("local", "qa_harness.executors.local:build")
EXECUTORS.add("ray", "qa_harness.executors.ray:build")

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
DEFAULT_METRICS = ("l1", "psnr", "ssim", "lpips")
#: No-reference metrics added for a suite with cross pairs unless `--metrics` is given: identity kept from
#: the source, expression and head-motion transfer from the driving, flicker.
DEFAULT_CROSS_METRICS = ("id_source", "expression_transfer", "xfer_landmark_jitter", "output_flicker")

AXES = Registry("condition axis")
AXES.add("lighting", "qa_harness.suites.axes.lighting:LightingAxis")
AXES.add("pose", "qa_harness.suites.axes.pose:PoseAxis")
AXES.add("occlusion", "qa_harness.suites.axes.occlusion:OcclusionAxis")

#: Synthetic-suite perturbations, `<axis>.<name>` -> `perturb(frames, strength, ctx) -> frames`.
PERTURBATIONS = Registry("perturbation")
PERTURBATIONS.add("lighting.darken", "qa_harness.suites.perturb.lighting:darken")
PERTURBATIONS.add("lighting.shade", "qa_harness.suites.perturb.lighting:shade")
PERTURBATIONS.add("lighting.cast", "qa_harness.suites.perturb.lighting:cast")
PERTURBATIONS.add("lighting.noise", "qa_harness.suites.perturb.lighting:noise")
PERTURBATIONS.add("occlusion.eyes", "qa_harness.suites.perturb.occlusion:eyes")
PERTURBATIONS.add("occlusion.mouth", "qa_harness.suites.perturb.occlusion:mouth")
PERTURBATIONS.add("occlusion.half", "qa_harness.suites.perturb.occlusion:half")
PERTURBATIONS.add("occlusion.hand", "qa_harness.suites.perturb.occlusion:hand")
PERTURBATIONS.add("geometry.roll", "qa_harness.suites.perturb.geometry:roll")
PERTURBATIONS.add("geometry.scale", "qa_harness.suites.perturb.geometry:scale")
PERTURBATIONS.add("geometry.shift", "qa_harness.suites.perturb.geometry:shift")
PERTURBATIONS.add("compression.jpeg", "qa_harness.suites.perturb.compression:jpeg")
PERTURBATIONS.add("compression.h264", "qa_harness.suites.perturb.compression:h264")
