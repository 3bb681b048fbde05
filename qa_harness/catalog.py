"""The one place where names are bound: models and metrics. Adding one is one file and one line here.

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

METRICS = Registry("metric")
METRICS.add("l1", "qa_harness.metrics.l1:build")
METRICS.add("psnr", "qa_harness.metrics.psnr:build")
METRICS.add("ssim", "qa_harness.metrics.ssim:build")
METRICS.add("lpips", "qa_harness.metrics.lpips:build_alex")
METRICS.add("lpips_vgg", "qa_harness.metrics.lpips:build_vgg")

EXECUTORS = Registry("executor")
EXECUTORS.add("local", "qa_harness.executors.local:build")

#: Metrics a suite gets when it names none.
DEFAULT_METRICS = ("l1", "psnr", "ssim", "lpips")
