"""`suites tag`: measured condition tags into a manifest and per-frame conditions into its sidecar."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

from qa_harness.errors import QaHarnessError
from qa_harness.suites.bins import DEFAULT_BINS, load_bins
from qa_harness.suites.conditions import conditions_path, frame_conditions, relabel
from qa_harness.suites.manifest import load_suite
from qa_harness.suites.tag_suite import tag_suite
from qa_harness.suites.tagging import build_axes

DATA = Path(__file__).resolve().parents[1] / "data"


def _manifest(folder: Path) -> Path:
    path = folder / "real.yaml"
    clips = [
        {"id": "d20", "path": "clips/d20.mp4", "tags": {"lighting": "bright", "source_clip": "d20_raw"}},
        {"id": "vrt", "path": "clips/vrt_face5.mp4"},
        {"id": "photo", "path": "photos/ddfa2_emma_profile.jpg"},
    ]
    pairs = ["d20", "vrt", {"source": "photo", "driving": "vrt"}]
    manifest = {"name": "real", "data_root": str(DATA), "max_frames": 3, "clips": clips, "pairs": pairs}
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_tags_go_into_the_manifest_and_frames_into_the_sidecar(tmp_path, caplog):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "real_tagged.yaml"
    with caplog.at_level(logging.WARNING):
        tag_suite(_manifest(tmp_path), out, axes=("lighting", "pose"))
    assert "measured lighting=dim replaces bright" in caplog.text
    suite = load_suite(out)
    clips = {c.id: c for p in suite.pairs for c in (p.source, p.driving)}
    assert clips["d20"].tags["lighting"] == "dim" and clips["d20"].tags["source_clip"] == "d20_raw"
    assert clips["vrt"].tags["lighting"] == "bright" and clips["vrt"].tags["yaw"] == "frontal"
    manifest = yaml.safe_load(out.read_text())
    assert set(manifest["bins"]) == {"lighting", "pose"}
    assert manifest["clips"][2]["tags"]["yaw"] == "extreme"
    frames = frame_conditions(out)
    assert [len(frames[p]) for p in ("d20", "vrt", "photo->vrt")] == [3, 3, 3]
    assert frames["d20"][0]["lighting"] == "dim" and frames["vrt"][0]["yaw"] == "frontal"
    # The cross pair moves the profile photo's head (yaw ~ -42) like a frontal one: a large gap,
    # where the frontal clip against its own first frame has a small one.
    assert {f["pose_gap"] for f in frames["photo->vrt"]} == {"large"}
    assert {f["pose_gap"] for f in frames["vrt"]} == {"small"}
    assert conditions_path(out).name == "real_tagged.conditions.parquet"


def test_sidecar_keeps_the_measurements_and_relabel_redraws_the_bins(tmp_path):
    out = tag_suite(_manifest(tmp_path), tmp_path / "t.yaml", axes=("lighting", "pose"))
    table = pd.read_parquet(conditions_path(out))
    measured = {f"{a.name}.{m}" for a in build_axes(["lighting", "pose"]) for m in a.measures}
    assert measured <= set(table.columns)  # every axis's every measurement, generic over AxisTags
    vrt = table[table["pair"] == "vrt"]
    assert (vrt["pose.abs_yaw"] == vrt["pose.yaw"].abs()).all() and vrt["pose.pose_gap"].iloc[0] == 0
    cross = table[table["pair"] == "photo->vrt"]
    assert (cross["pose.pose_gap"] > 25).all()  # the cross gap, as its labels say (large)
    # Re-drawing with the shipped bins reproduces the stored labels exactly.
    pd.testing.assert_frame_equal(relabel(table, load_bins()), table)
    # Other bins move labels by the stored numbers alone: level up to 40 degrees of pitch.
    bins = tmp_path / "bins.yaml"
    bins.write_text(DEFAULT_BINS.read_text().replace("down: -5, level: 10, up: null", "down: -40, level: 40, up: null"))
    moved = relabel(table, load_bins(bins))
    assert set(moved["cond:pitch"]) == {"level"} and (moved["cond:yaw"] == table["cond:yaw"]).all()
    with pytest.raises(QaHarnessError, match="not the measurement pose.abs_yaw"):
        relabel(table.drop(columns=["pose.abs_yaw"]), load_bins())


def test_suite_version_changes_with_the_bins(tmp_path):
    manifest = _manifest(tmp_path)
    first = tag_suite(manifest, tmp_path / "a.yaml", axes=("lighting",))
    bins = tmp_path / "bins.yaml"
    bins.write_text(DEFAULT_BINS.read_text().replace("dark: 45, dim: 95", "dark: 45, dim: 90"))
    second = tag_suite(manifest, tmp_path / "b.yaml", axes=("lighting",), bins_path=bins)
    assert load_suite(first).version != load_suite(second).version
    assert frame_conditions(tmp_path / "never_tagged.yaml") == {}


def test_cli_parsers_run(tmp_path, capsys):
    import argparse

    from qa_harness.suites.cli import add_build_parser, add_tag_parser

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_tag_parser(sub)
    add_build_parser(sub)
    manifest = tmp_path / "one.yaml"
    clips = [{"id": "p", "path": "photos/sadtalker_people0.png"}]
    manifest.write_text(yaml.safe_dump({"name": "one", "data_root": str(DATA), "clips": clips}))
    args = parser.parse_args(["tag", str(manifest), "--out", str(tmp_path / "t.yaml"), "--axes", "lighting"])
    assert args.func(args) == 0 and "wrote" in capsys.readouterr().out
    args = parser.parse_args(
        [
            "build",
            "--videos",
            str(tmp_path),
            "--out",
            str(tmp_path / "b.yaml"),
            "--per-stratum",
            "2",
            "--seed",
            "4",
            "--strata",
            "yaw,lighting",
        ]
    )
    assert args.per_stratum == 2 and args.seed == 4 and args.strata == "yaw,lighting"
