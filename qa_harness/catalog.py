"""The one place where names are bound: models, metrics, landmark and identity backends.

Adding one is one file and one line here; a variant of one (another detector, another network) is one
line with options. Every registry also accepts a user's own `"package.module:attr"` in place of a name,
and checks what an entry builds against its base class (`Registry.build`).

Entries are lazy `"module:attr"` strings so that nothing heavy is imported until it is used.
Models map to factories `(*, checkpoint, device, **options) -> Animator`; metrics to `build(ctx, **options) -> Metric`;
executors to `build(**options)` objects with `run(pairs, spec, on_result=, on_frames=)`.
"""

from __future__ import annotations

from qa_harness.registry import Registry

MODELS = Registry("model", "qa_harness.models.base:Animator")  # factory(*, checkpoint, device, **options)
MODELS.add("identity", "qa_harness.models.baselines:identity")
MODELS.add("driving", "qa_harness.models.baselines:driving")
MODELS.add("fomm", "qa_harness.models.fomm:build")
MODELS.add("tpsmm", "qa_harness.models.tpsmm:build")
MODELS.add("mraa", "qa_harness.models.mraa:build")
MODELS.add("mrfa", "qa_harness.models.mrfa:build")
MODELS.add("landmark_tps", "qa_harness.models.landmark_tps:build")

EXECUTORS = Registry("executor")
EXECUTORS.add("local", "qa_harness.executors.local:build")
EXECUTORS.add("ray", "qa_harness.executors.ray:build")

LANDMARKS = Registry("landmark backend", "qa_harness.landmarks.base:LandmarkBackend")  # build(*, device, weights=None)
LANDMARKS.add("mediapipe", "qa_harness.landmarks.mediapipe_mesh:build")
LANDMARKS.add("dlib", "qa_harness.landmarks.dlib68:build")
LANDMARKS.add("fan", "qa_harness.landmarks.fan:build")
#: Works offline here (ships its models); `fan` is the papers' AKD detector when its weights are present.
DEFAULT_LANDMARKS = "mediapipe"

IDENTITY = Registry("identity backend", "qa_harness.identity.base:IdentityBackend")  # build(*, device, weights=None)
IDENTITY.add("dlib", "qa_harness.identity.dlib_resnet:build")  # dlib's ResNet ported to torch (metric device)
IDENTITY.add("dlib_native", "qa_harness.identity.dlib_resnet:build", engine="dlib")  # dlib's own, CPU
IDENTITY.add("openface", "qa_harness.identity.openface:build")
#: Works offline here; `openface` is the papers' AED network when `openface.pth` is supplied.
DEFAULT_IDENTITY = "dlib"

# A variant is an entry with options (one builder, several names); a suite may override options per metric.
METRICS = Registry("metric", "qa_harness.metrics.base:Metric")  # build(ctx, **options) -> Metric
METRICS.add("l1", "qa_harness.metrics.l1:build")
METRICS.add("psnr", "qa_harness.metrics.psnr:build")
METRICS.add("ssim", "qa_harness.metrics.ssim:build")
METRICS.add("lpips", "qa_harness.metrics.lpips:build", net="alex", name="lpips")
METRICS.add("lpips_vgg", "qa_harness.metrics.lpips:build", net="vgg", name="lpips_vgg")
METRICS.add("akd", "qa_harness.metrics.akd:build", landmarks=DEFAULT_LANDMARKS)  # + mkr, face_found_output
METRICS.add("akd_fan", "qa_harness.metrics.akd:build", landmarks="fan", suffix="_fan")  # papers' FAN; needs weights
METRICS.add("aed", "qa_harness.metrics.aed:build", identity=DEFAULT_IDENTITY, landmarks=DEFAULT_LANDMARKS)
METRICS.add("aed_openface", "qa_harness.metrics.aed:build", identity="openface", name="aed_openface")  # openface.pth
METRICS.add("face_regions", "qa_harness.metrics.face_regions:build", landmarks=DEFAULT_LANDMARKS)
METRICS.add("face_regions_lpips", "qa_harness.metrics.face_regions_lpips:build", landmarks=DEFAULT_LANDMARKS)
METRICS.add("face_nme", "qa_harness.metrics.face_nme:build", landmarks=DEFAULT_LANDMARKS)
METRICS.add("ear_mar", "qa_harness.metrics.ear_mar:build", landmarks=DEFAULT_LANDMARKS)  # + blink/mouth event F1
# cross protocol: identity kept from the source; expression transferred from the driver
METRICS.add(
    "id_source",
    "qa_harness.metrics.aed:build",
    identity=DEFAULT_IDENTITY,
    landmarks=DEFAULT_LANDMARKS,
    name="id_source",
    reference="source",
)
METRICS.add("expression_transfer", "qa_harness.metrics.ear_mar:build", landmarks=DEFAULT_LANDMARKS, reference="driving")
# temporal consistency: the output's frame-to-frame change against the ground truth's (cross: the driving's)
METRICS.add("landmark_jitter", "qa_harness.metrics.temporal:build_jitter", landmarks=DEFAULT_LANDMARKS)
METRICS.add("flicker", "qa_harness.metrics.temporal:build_flicker", landmarks=DEFAULT_LANDMARKS)
METRICS.add("warp_error", "qa_harness.metrics.temporal:build_warp")
METRICS.add(
    "xfer_landmark_jitter", "qa_harness.metrics.temporal:build_jitter", landmarks=DEFAULT_LANDMARKS, reference="driving"
)
METRICS.add(
    "output_flicker", "qa_harness.metrics.temporal:build_flicker", landmarks=DEFAULT_LANDMARKS, reference="none"
)

#: Metrics a suite gets when it names none.
DEFAULT_METRICS = ("l1", "psnr", "ssim", "lpips")
#: No-reference metrics added for a suite with cross pairs unless `--metrics` is given: identity kept from
#: the source, expression and head-motion transfer from the driving, flicker.
DEFAULT_CROSS_METRICS = ("id_source", "expression_transfer", "xfer_landmark_jitter", "output_flicker")

AXES = Registry("condition axis", "qa_harness.suites.axes.base:ConditionAxis")  # cls(bins)
AXES.add("lighting", "qa_harness.suites.axes.lighting:LightingAxis")
AXES.add("pose", "qa_harness.suites.axes.pose:PoseAxis")
AXES.add("occlusion", "qa_harness.suites.axes.occlusion:OcclusionAxis")
#: Axes `suites tag` measures when none are named.
DEFAULT_AXES = ("lighting", "pose", "occlusion")

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
PERTURBATIONS.add("occlusion.mic", "qa_harness.suites.perturb.occlusion:mic")
PERTURBATIONS.add("geometry.roll", "qa_harness.suites.perturb.geometry:roll")
PERTURBATIONS.add("geometry.scale", "qa_harness.suites.perturb.geometry:scale")
PERTURBATIONS.add("geometry.shift", "qa_harness.suites.perturb.geometry:shift")
PERTURBATIONS.add("compression.jpeg", "qa_harness.suites.perturb.compression:jpeg")
PERTURBATIONS.add("compression.h264", "qa_harness.suites.perturb.compression:h264")
