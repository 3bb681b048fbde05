"""The one place where names are bound: models and metrics. Adding one is one file and one line here.

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

#: Metrics a suite gets when it names none.
DEFAULT_METRICS = ("l1", "psnr", "ssim")

AXES = Registry("condition axis")
AXES.add("lighting", "qa_harness.suites.axes.lighting:LightingAxis")

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
