"""Suite manifests: valid suites load; every malformed one names the file, line, key and problem."""

from __future__ import annotations

import pytest

from qa_harness.errors import ConfigError
from qa_harness.suites.manifest import load_suite
from tests.helpers.media import REPO


def test_demo_suite_loads_with_probed_media():
    suite = load_suite(REPO / "suites" / "demo.yaml")
    assert suite.name == "demo" and len(suite.pairs) == 8
    d20 = next(p for p in suite.pairs if p.id == "d20")
    assert (d20.driving.frame_count, d20.driving.size, d20.driving.fps) == (175, (480, 480), 25.0)
    assert d20.conditions == {"yaw": "frontal", "occlusion": "none", "lighting": "dim"}
    cross = next(p for p in suite.pairs if p.protocol == "cross")
    assert cross.id == "lp_s1->d20" and cross.source.frame_count == 1


def test_version_changes_with_manifest_and_media(write_suite, tmp_path):
    base = {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}]}
    v1 = load_suite(write_suite(base)).version
    assert load_suite(write_suite(base)).version == v1  # stable
    assert load_suite(write_suite({**base, "max_frames": 5})).version != v1
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.mp4").write_bytes((REPO / "data/clips/d20.mp4").read_bytes())
    v_copy = load_suite(write_suite({**base, "data_root": str(media), "clips": [{"id": "a", "path": "a.mp4"}]})).version
    (media / "a.mp4").write_bytes((REPO / "data/clips/d12.mp4").read_bytes())
    v_changed = load_suite(
        write_suite({**base, "data_root": str(media), "clips": [{"id": "a", "path": "a.mp4"}]})
    ).version
    assert v_copy != v_changed


def test_default_pairs_are_reconstruction_of_every_video(write_suite):
    suite = load_suite(
        write_suite(
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}, {"id": "p", "path": "photos/lp_s1.jpg"}]}
        )
    )
    assert [(p.id, p.protocol) for p in suite.pairs] == [("a", "reconstruction")]


def test_user_strings_are_kept_verbatim(write_suite):
    suite = load_suite(
        write_suite(
            {
                "name": "s",
                "clips": [
                    {"id": "<script>alert(1)</script>", "path": "clips/d20.mp4", "tags": {"source_clip": "<b>x</b>"}}
                ],
            }
        )
    )
    assert suite.pairs[0].id == "<script>alert(1)</script>"
    assert suite.pairs[0].conditions["source_clip"] == "<b>x</b>"


@pytest.mark.parametrize(
    ("manifest", "where", "problem"),
    [
        ({"name": "s", "clip": []}, "clip", "unknown key 'clip'. Did you mean 'clips'?"),
        ({"clips": [{"id": "a", "path": "clips/d20.mp4"}]}, "(top level)", "missing required key 'name'"),
        ({"name": "s", "clips": [{"id": "a", "path": "clips/nope.mp4"}]}, "clips[0].path", "file not found"),
        ({"name": "s", "clips": [{"id": "a", "path": "../../etc/passwd"}]}, "clips[0].path", "escapes the data root"),
        ({"name": "s", "clips": [{"id": "a", "path": "/etc/passwd"}]}, "clips[0].path", "must be relative"),
        (
            {"name": "s", "resolution": "big", "clips": [{"id": "a", "path": "clips/d20.mp4"}]},
            "resolution",
            "expected a positive integer",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4", "crop": [1, 2]}]},
            "clips[0].crop",
            "expected [left, top, size]",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4", "tags": {"Pose!": "x"}}]},
            "clips[0].tags.Pose!",
            "must match",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}, {"id": "a", "path": "clips/d12.mp4"}]},
            "clips[1].id",
            "used twice",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}], "pairs": [{"driving": "b"}]},
            "pairs[0].driving",
            "unknown clip id 'b'",
        ),
        (
            {
                "name": "s",
                "clips": [{"id": "a", "path": "clips/d20.mp4"}],
                "pairs": [{"driving": "a", "protocol": "selfie"}],
            },
            "pairs[0].protocol",
            "unknown protocol",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}], "metric_options": {"akdd": {}}},
            "metric_options.akdd",
            "Unknown metric 'akdd'. Did you mean: akd",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}], "metric_options": {"akd": {"detector": 1}}},
            "metric_options.akd.detector",
            "metric 'akd' takes no option(s) detector",
        ),
        (
            {"name": "s", "clips": [{"id": "a", "path": "clips/d20.mp4"}], "metric_options": {"akd": "dlib"}},
            "metric_options.akd",
            "expected a mapping of option -> value",
        ),
    ],
)
def test_malformed_manifest_names_file_line_key_and_problem(write_suite, manifest, where, problem):
    path = write_suite(manifest)
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    assert f": {where}: " in message and problem in message, message


def test_yaml_syntax_error_gives_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: s\nclips:\n  - id: a\n    path: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: invalid YAML"):
        load_suite(path)


def test_error_line_points_at_the_bad_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"name: s\ndata_root: {REPO / 'data'}\nclips:\n  - id: a\n    path: clips/d20.mp4\n"
        "  - id: b\n    path: clips/missing.mp4\n"
    )
    with pytest.raises(ConfigError, match=rf"{path}:7: clips\[1\]\.path: file not found"):
        load_suite(path)


def test_metric_options_line_and_value(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"name: s\ndata_root: {REPO / 'data'}\nmetric_options:\n  akd:\n    landmarks: dlib\n"
        "    suffix: _x\n    detector: 1\nclips:\n  - {id: a, path: clips/d20.mp4}\n"
    )
    with pytest.raises(ConfigError, match=rf"{path}:7: metric_options\.akd\.detector: "):
        load_suite(path)
    path.write_text(path.read_text().replace("    detector: 1\n", ""))
    assert load_suite(path).metric_options == {"akd": {"landmarks": "dlib", "suffix": "_x"}}


@pytest.mark.parametrize(
    "name", ["demo", "real", "synth_lighting", "synth_occlusion", "synth_geometry", "synth_compression"]
)
def test_shipped_suites_load_and_probe(name):
    suite = load_suite(REPO / "suites" / f"{name}.yaml")
    assert suite.pairs and not [c.id for p in suite.pairs for c in (p.source, p.driving) if c.problem]


def test_real_suite_carries_measured_per_frame_tags():
    suite = load_suite(REPO / "suites" / "real.yaml")
    for pair in suite.pairs:
        assert len(pair.frame_tags) == pair.driving.frame_count
    lp_s32 = next(p for p in suite.pairs if p.id == "lp_s32")
    yaw = [pair_tags["yaw"] for pair_tags in lp_s32.frame_tags]
    assert sum(y in ("moderate", "extreme") for y in yaw) > len(yaw) // 2  # the clip with the 3/4 head turn
