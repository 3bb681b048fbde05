"""Contract tests over the AXES and PERTURBATIONS registries: every entry, on a tiny real input, keeps
its documented shapes, dtypes and labels. A new catalog line is tested by being added."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_harness.catalog import AXES, PERTURBATIONS
from qa_harness.suites.bins import UNKNOWN, load_bins
from qa_harness.suites.facebox import detect_faces
from qa_harness.suites.media import crop_resize, read_frames
from qa_harness.suites.perturb.base import PerturbContext
from qa_harness.suites.tagging import Tagger, build_axes

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return crop_resize(read_frames(DATA / "clips" / "tpsmm_driving.mp4", max_frames=3), None, 96)


@pytest.mark.parametrize("name", AXES.names())
def test_axis_measures_every_frame_and_labels_from_its_bins(name, frames):
    tagger = Tagger(build_axes([name]))
    axis = tagger.axes[0]
    tags = tagger.tag_frames(frames)
    assert set(tags.measures) == {f"{name}.{m}" for m in axis.measures}
    assert all(v.shape == (3,) and v.dtype == np.float64 for v in tags.measures.values())
    for b in load_bins()[name]:
        assert set(tags.frame_labels[b.tag]) <= {*b.labels, UNKNOWN}
        assert tags.clip_labels[b.tag] in (*b.labels, UNKNOWN)


@pytest.mark.parametrize("name", PERTURBATIONS.names())
def test_perturbation_keeps_shape_and_dtype_and_is_repeatable(name, frames):
    ctx = PerturbContext(faces=detect_faces(frames).filled(), seed=(1, 2))
    perturb = PERTURBATIONS.get(name)
    out = perturb(frames, 1.0, ctx)
    assert out.shape == frames.shape and out.dtype == np.uint8
    assert not np.array_equal(out, frames)
    assert np.array_equal(out, perturb(frames, 1.0, ctx))
