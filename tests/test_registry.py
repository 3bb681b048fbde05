"""Registries: lazy import, suggestions for unknown names, duplicates refused; catalog contract."""

from __future__ import annotations

import functools
import inspect
import typing

import pytest
import torch

from qa_harness import catalog
from qa_harness.catalog import IDENTITY, LANDMARKS, METRICS, MODELS
from qa_harness.errors import QaHarnessError
from qa_harness.executors.worker import build_metrics
from qa_harness.metrics.base import MetricContext
from qa_harness.registry import Registry, UnknownNameError

#: Every registry of the catalog (a test checks none is left out).
REGISTRIES = {name: value for name, value in vars(catalog).items() if isinstance(value, Registry)}
ENTRIES = [(kind, name) for kind, registry in REGISTRIES.items() for name in registry.names()]
CPU = MetricContext(device=torch.device("cpu"))


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

    metric = METRICS.build(name, CPU)
    output, target = (x.float() for x in real_frames)
    clip = Clip("c", path=None, fps=25.0, frame_count=8, size=(128, 128))
    batch = FrameBatch(
        pair=Pair("c", clip, clip, "reconstruction"),
        frames=torch.arange(8),
        output=output,
        driving=target,
        source=target[0],
        target=target,
    )
    values = metric.frame_values(batch)
    codes = values.pop(UNSCORED, None)  # why frames are unscored: one code per frame, each with a reason
    assert set(values) == {c.name for c in metric.columns}
    for v in values.values():
        assert v.shape == (8,) and v.dtype == torch.float32
    if codes is not None:
        assert codes.shape == (8,) and int(codes.min()) >= 0 and int(codes.max()) <= len(metric.reasons)
        for v in values.values():  # every NaN frame has a reason
            assert not (torch.isnan(v) & (codes == 0)).any()


def test_weight_free_models_are_the_floor_and_the_ceiling():
    """`identity` repeats the source for every frame, `driving` returns the driving frames: exactly."""
    source, driving = torch.rand(3, 64, 64), torch.rand(5, 3, 64, 64)
    for name, expected in (("identity", source.expand_as(driving)), ("driving", driving)):
        model = MODELS.build(name, checkpoint=None, device=torch.device("cpu"))
        out = model.animate(model.prepare(source), driving)
        assert out.shape == driving.shape and torch.equal(out, expected), name


def test_catalog_registries_are_all_covered():
    assert set(REGISTRIES) == {"MODELS", "METRICS", "EXECUTORS", "LANDMARKS", "IDENTITY", "AXES", "PERTURBATIONS"}


def _target(obj):
    return obj.func if isinstance(obj, functools.partial) else obj


@pytest.mark.parametrize(("kind", "name"), ENTRIES, ids=[f"{k}:{n}" for k, n in ENTRIES])
def test_entry_contract(kind, name):
    """Every entry imports, takes the options it binds, and makes the registry's base class (by its class or
    its factory's return annotation; building all would need every weight file)."""
    registry = REGISTRIES[kind]
    entry = registry.get(name)
    target = _target(entry)
    assert callable(target), f"{kind} '{name}' is not callable"
    signature = inspect.signature(target)
    signature.bind_partial(**(entry.keywords if isinstance(entry, functools.partial) else {}))  # options fit
    if registry.base is None:
        return
    made = target if isinstance(target, type) else typing.get_type_hints(target).get("return")
    assert isinstance(made, type) and issubclass(made, registry.base), (
        f"{kind} '{name}' makes {made!r}, not a {registry.base.__name__}"
    )


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registry_takes_module_attr(kind):
    """A user's own object by import path, in every registry, without registering it."""
    registry = REGISTRIES[kind]
    name = registry.names()[0]
    path = registry._entries[name] if isinstance(registry._entries[name], str) else None
    path = path or f"{registry._entries[name].__module__}:{registry._entries[name].__qualname__}"
    assert _target(registry.get(path)) is _target(registry.get(name))
    assert path not in registry.names()


def test_build_checks_the_base_class():
    with pytest.raises(QaHarnessError, match=r"model 'builtins:dict' made a dict; expected .*models.base.Animator"):
        MODELS.build("builtins:dict", checkpoint=None, device=torch.device("cpu"))
    with pytest.raises(QaHarnessError, match=r"baselines:identity' made a IdentityAnimator; .*metrics.base.Metric"):
        METRICS.build("qa_harness.models.baselines:identity")


def test_variants_are_options_of_one_builder(with_seeded_weights):
    """`akd_fan` is `akd` with `landmarks="fan"`; options given at build time replace the catalog's."""
    fan = METRICS.build("akd_fan", CPU)
    assert fan.name == "akd_fan" and type(fan.landmarks.backend) is type(LANDMARKS.build("fan", device=CPU.device))
    assert [c.name for c in fan.columns] == ["akd_fan", "akd_l2_fan", "mkr_fan", "face_found_output_fan"]
    dlib = METRICS.build("akd", CPU, landmarks="dlib")
    assert dlib.name == "akd" and dlib.landmarks.backend.name == LANDMARKS.build("dlib", device=CPU.device).name
    assert (
        METRICS.build("aed_openface", CPU).identity.backend.name == IDENTITY.build("openface", device=CPU.device).name
    )
    assert METRICS.build("lpips_vgg", CPU).name == "lpips_vgg"


def test_suite_metric_options_reach_the_metric():
    metrics, unavailable = build_metrics(("akd", "face_regions"), CPU, {"akd": {"landmarks": "dlib"}})
    assert not unavailable
    backends = {m.name: m.landmarks.backend.name for m in metrics}
    assert (
        backends["akd"]
        != backends["face_regions"]
        == LANDMARKS.build(catalog.DEFAULT_LANDMARKS, device=CPU.device).name
    )


def test_unknown_options_are_named():
    assert METRICS.unknown_options("akd", {"landmarks": "dlib", "detector": 1}) == ["detector"]
    assert METRICS.unknown_options("l1", {}) == []
