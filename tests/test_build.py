"""`suites build` on short cuts of the repository's real clips (FOMM-layout frame folders) and a
faceless clip: rejection with its reason, cutting, stratified sampling by seed, the build cache, and a
per-condition aggregate over an evaluation of the built suite."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from qa_harness.errors import QaHarnessError
from qa_harness.metrics.base import MetricContext
from qa_harness.metrics.l1 import build as build_l1
from qa_harness.models.baselines import identity
from qa_harness.runner import PairJob, evaluate_pair
from qa_harness.runs.table import condition_table
from qa_harness.suites import curate
from qa_harness.suites.build import build_suite, report_path
from qa_harness.suites.curate import BuildSpec
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.media import crop_resize, read_frames, write_frames
from qa_harness.suites.strata import stratify
from qa_harness.suites.tag_suite import tag_suite
from tests.helpers.runs import records

DATA = Path(__file__).resolve().parents[1] / "data"
FRAMES, MAX_LEN = 16, 8


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """Three short real clips (d20 dim, vrt_face5 bright, lp_s32 turned) at 256 px, and a flat grey one."""
    folder = tmp_path_factory.mktemp("raw")
    for name in ("d20", "vrt_face5", "lp_s32"):
        frames = read_frames(DATA / "clips" / f"{name}.mp4", max_frames=FRAMES)
        write_frames(crop_resize(frames, None, 256), folder / name)
    write_frames(np.full((FRAMES, 96, 96, 3), 128, np.uint8), folder / "empty_room")
    return folder


SPEC = BuildSpec(max_len=MAX_LEN, stride=4, resolution=128, axes=("lighting", "pose"), strata=("lighting",))


@pytest.fixture(scope="module")
def built(raw, tmp_path_factory) -> Path:
    return build_suite(raw, tmp_path_factory.mktemp("out") / "real.yaml", SPEC)


def test_faceless_clip_is_rejected_with_its_reason(built):
    report = yaml.safe_load(report_path(built).read_text())
    empty = report["empty_room"]
    assert [s["status"] for s in empty] == ["rejected", "rejected"]
    assert "face found in 0% of 2 checked frames" in empty[0]["reason"]
    assert all(s["status"] == "accepted" for v in ("d20", "vrt_face5", "lp_s32") for s in report[v])


def test_clips_are_cut_cropped_and_tagged(built):
    report = yaml.safe_load(report_path(built).read_text())
    assert [s["frames"] for s in report["d20"]] == [[0, 8], [8, 16]]
    suite = load_suite(built)
    clips = {p.driving.id: p.driving for p in suite.pairs}
    assert set(clips) == {f"{v}.{k:03d}" for v in ("d20", "vrt_face5", "lp_s32") for k in (0, 1)}
    assert clips["d20.001"].frame_count == MAX_LEN and clips["d20.001"].size == (128, 128)
    assert clips["d20.000"].tags["lighting"] == "dim" and clips["vrt_face5.000"].tags["lighting"] == "bright"
    assert clips["lp_s32.000"].tags["yaw"] == "moderate" and clips["vrt_face5.001"].tags["yaw"] == "frontal"


def test_stratified_draw_is_balanced_and_reproducible():
    clips = {
        f"c{i:02d}": {"yaw": "frontal" if i % 3 else "extreme", "lighting": "dim" if i < 10 else "bright"}
        for i in range(20)
    }
    strata = stratify(clips, by=("yaw", "lighting"), per_stratum=2, seed=5)
    assert len(strata) == 4 and all(len(s.selected) == 2 for s in strata)
    assert strata == stratify(clips, by=("yaw", "lighting"), per_stratum=2, seed=5)
    draws = {
        tuple(i for s in stratify(clips, by=("yaw",), per_stratum=3, seed=k) for i in s.selected) for k in range(10)
    }
    assert len(draws) > 1  # the seed matters
    assert stratify(clips, by=("lighting",), per_stratum=None, seed=0)[0].selected == tuple(
        f"c{i:02d}" for i in range(10, 20)
    )


def test_rebuild_reuses_the_cache_and_the_seed_versions_the_suite(raw, built, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("video analysed again although nothing changed")

    first, version = built.read_bytes(), load_suite(built).version
    monkeypatch.setattr(curate, "_analyse", fail)
    assert build_suite(raw, built, SPEC).read_bytes() == first
    # A new draw reuses the curated clips too; the seed is in the manifest, so the version moves.
    build_suite(raw, built, replace(SPEC, per_stratum=1, seed=1))
    draws = yaml.safe_load(built.read_text())["generator"]["strata_counts"]
    assert all(c["selected"] == 1 for c in draws.values())
    assert load_suite(built).version != version
    assert build_suite(raw, built, SPEC).read_bytes() == first


def test_aggregate_over_the_built_suite_has_a_row_per_stratum(built):
    suite = load_suite(built)
    job = PairJob(suite=suite, run_id="t", batch_size=8, seed=0)
    metric = build_l1(MetricContext(device=torch.device("cpu")))
    parts = [evaluate_pair(p, identity(), [metric], job, torch.device("cpu"))[1].to_frame() for p in suite.pairs]
    table = condition_table(records(pd.concat(parts, ignore_index=True))).frame()
    strata = yaml.safe_load(built.read_text())["generator"]["strata_counts"]
    values = set(table[(table.axis == "lighting") & (table.metric == "l1")].value)
    assert values == {key.split("=")[1] for key in strata}


def test_whole_frames_are_kept_without_face_checks(raw, tmp_path):
    out = build_suite(raw, tmp_path / "whole.yaml", replace(SPEC, crop="none", axes=("lighting",)))
    report = yaml.safe_load(report_path(out).read_text())
    assert all(s["status"] == "accepted" and s["crop"] == [0, 0, 256] for s in report["d20"])
    assert [s["status"] for s in report["empty_room"]] == ["accepted", "accepted"]
    assert report["empty_room"][0]["crop"] == [0, 0, 96]


def test_several_video_folders_make_one_suite(raw, built, tmp_path):
    """`--videos A --videos B`: the curation of A (cached) and B together, each folder in the manifest;
    a video name in two folders is refused (clip ids are made from names)."""
    more = tmp_path / "more"
    (more / "d20_again").mkdir(parents=True)
    for frame in sorted((raw / "d20").iterdir()):
        (more / "d20_again" / frame.name).write_bytes(frame.read_bytes())
    out = build_suite([raw, more], built, SPEC)
    report = yaml.safe_load(report_path(out).read_text())
    assert set(report) == {"d20", "vrt_face5", "lp_s32", "empty_room", "d20_again"}
    assert len(yaml.safe_load(out.read_text())["generator"]["videos"]) == 2
    assert [s["tags"] for s in report["d20_again"]] == [s["tags"] for s in report["d20"]]
    with pytest.raises(QaHarnessError, match="a video named 'd20' is also in"):
        build_suite([raw, more, raw], tmp_path / "twice.yaml", SPEC)
    build_suite(raw, built, SPEC)  # the module's suite as the other tests expect it


def test_built_tags_are_what_suites_tag_measures_on_every_stored_frame(tmp_path):
    """Issue 12 item 5: a built clip's tags come from every stored frame, as `suites tag` (and evaluation)
    read them, not from the `stride` sample of the face checks (that disagreed on 14 gate.yaml tags). The
    clip: vrt_face5 (bright) with every frame the stride-4 checks skip darkened to dim."""
    frames = read_frames(DATA / "clips" / "vrt_face5.mp4", max_frames=MAX_LEN).astype(np.float32)
    frames[np.arange(MAX_LEN) % 4 != 0] *= 0.35
    write_frames(crop_resize(frames.astype(np.uint8), None, 256), tmp_path / "raw" / "flicker")
    spec = replace(SPEC, axes=("lighting",))
    built = build_suite(tmp_path / "raw", tmp_path / "out" / "flicker.yaml", spec)
    retagged = tag_suite(built, tmp_path / "retagged.yaml", axes=spec.axes)
    before = {c["id"]: c["tags"] for c in yaml.safe_load(built.read_text())["clips"]}
    after = {c["id"]: c["tags"] for c in yaml.safe_load(retagged.read_text())["clips"]}
    assert before["flicker"]["lighting"] == "dim"  # 6 of 8 frames; the 2 the face checks saw are bright
    assert after == before
