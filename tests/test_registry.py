"""Registries: lazy import, suggestions for unknown names, duplicates refused; catalog contract."""

from __future__ import annotations

import pytest
import torch

from qa_harness.catalog import METRICS, MODELS
from qa_harness.errors import QaHarnessError
from qa_harness.metrics.base import MetricContext
from qa_harness.registry import Registry, UnknownNameError


def test_unknown_name_suggests_close_matches():
    with pytest.raises(UnknownNameError, match=r"Unknown metric 'sism'\. Did you mean: ssim\?.*Known: .*l1"):
        METRICS.get("sism")


def test_duplicate_registration_raises():
    reg = Registry("thing")
    reg.add("a", "x:y")
    with pytest.raises(QaHarnessError, match="registered twice"):
        reg.add("a", "x:z")


def test_bad_lazy_target_is_a_clear_error():
    reg = Registry("thing")
    reg.add("broken", "qa_harness.nope:thing")
    with pytest.raises(QaHarnessError, match="cannot import 'qa_harness.nope'"):
        reg.get("broken")


@pytest.mark.parametrize("name", METRICS.names())
def test_every_metric_returns_one_value_per_frame(name, real_frames, with_seeded_weights):
    from qa_harness.metrics.base import UNSCORED, FrameBatch
    from qa_harness.records import Clip, Pair

    metric = METRICS.get(name)(MetricContext(device=torch.device("cpu")))
    output, target = (x.float() for x in real_frames)
    clip = Clip("c", path=None, fps=25.0, frame_count=8, size=(128, 128))
    batch = FrameBatch(pair=Pair("c", clip, clip, "reconstruction"), frames=torch.arange(8), output=output,
                       driving=target, source=target[0], target=target)
    values = metric.frame_values(batch)
    codes = values.pop(UNSCORED, None)  # why frames are unscored: one code per frame, each with a reason
    assert set(values) == {c.name for c in metric.columns}
    for v in values.values():
        assert v.shape == (8,) and v.dtype == torch.float32
    if codes is not None:
        assert codes.shape == (8,) and int(codes.min()) >= 0 and int(codes.max()) <= len(metric.reasons)
        for v in values.values():  # every NaN frame has a reason
            assert not (torch.isnan(v) & (codes == 0)).any()


@pytest.mark.parametrize("name", ["identity", "driving"])
def test_weight_free_models_keep_shape(name):
    model = MODELS.get(name)(checkpoint=None, device=torch.device("cpu"))
    source, driving = torch.rand(3, 64, 64), torch.rand(5, 3, 64, 64)
    out = model.animate(model.prepare(source), driving)
    assert out.shape == driving.shape
