"""Bad media, checkpoints and policies: exit 2 (or the pair fails, exit 3) with one line naming the
file and the problem, and the good pairs' records are the reference's bit for bit."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from qa_harness.cli import main
from qa_harness.errors import ConfigError
from qa_harness.gate.policy import load_policy
from tests.faults.common import CLIP_IDS, assert_good_pairs_identical, cli, error_line, evaluate_args, write_tiny_suite
from tests.helpers.media import CLIPS, decode


def _frame_folder(folder, sizes):
    folder.mkdir(parents=True)
    for i, (frame, side) in enumerate(zip(decode(CLIPS / "d20.mp4", len(sizes)), sizes, strict=True)):
        Image.fromarray(frame).resize((side, side)).save(folder / f"{i:05d}.png")
    return folder


@pytest.mark.parametrize("batch", ["1", "4"])
def test_frames_of_different_sizes_fail_the_pair_naming_the_frame_whatever_the_batch(tmp_path, batch):
    root = tmp_path / "data"
    _frame_folder(root / "mixed", [80, 96, 80])
    (root / "clips").mkdir()
    (root / "clips" / "d20.mp4").write_bytes((CLIPS / "d20.mp4").read_bytes())
    suite = write_tiny_suite(tmp_path, clips=("d20",), extra={"data_root": str(root)})
    manifest = yaml.safe_load(suite.read_text())
    manifest["clips"].append({"id": "mixed", "path": "mixed"})
    suite.write_text(yaml.safe_dump(manifest))
    out = tmp_path / "run"
    args = evaluate_args(suite, out, f"sqlite:///{tmp_path / 'db'}")
    args[args.index("--batch-size") + 1] = batch
    assert cli(*args).returncode == 3  # f8bed04: --batch-size 1 passed, 4 failed with a bare numpy message
    error = pd.read_parquet(out / "clips.parquet").set_index("pair_id").loc["mixed", "error"]
    assert error == (
        f"{root / 'mixed' / '00001.png'}: frame is 96x96, but the folder's first frame 00000.png is "
        "80x80; every frame of a clip needs one size"
    )


def test_a_symlinked_frame_escaping_the_data_root_is_refused(tmp_path):
    root = tmp_path / "data"
    _frame_folder(root / "frames", [64, 64])
    secret = _frame_folder(tmp_path / "elsewhere", [64])
    os.unlink(root / "frames" / "00001.png")
    (root / "frames" / "00001.png").symlink_to(secret / "00000.png")
    suite = tmp_path / "s.yaml"
    suite.write_text(yaml.safe_dump({"name": "s", "data_root": str(root), "clips": [{"id": "f", "path": "frames"}]}))
    result = cli("suites", "validate", str(suite))
    assert result.returncode == 2  # f8bed04: read the file outside the root
    line = error_line(result)
    assert f"{suite}:" in line and "clips[0].path" in line
    assert f"frame 00001.png of 'frames' links to {secret / '00000.png'}, outside the data root {root}" in line


def test_an_unknown_suite_metric_names_file_and_line(tmp_path):
    suite = write_tiny_suite(tmp_path, extra={"metrics": ["l1", "ssmi"]})
    line = [n for n, text in enumerate(suite.read_text().splitlines(), 1) if "ssmi" in text][0]
    with pytest.raises(ConfigError, match=rf"^{suite}:{line}: metrics\[1\]: Unknown metric 'ssmi'. Did you mean: ssim"):
        from qa_harness.suites.manifest import load_suite

        load_suite(suite)


def test_a_missing_checkpoint_exits_2(fault_suite, tmp_path):
    missing = tmp_path / "nope.pth"
    result = cli(
        *evaluate_args(fault_suite, tmp_path / "run", f"sqlite:///{tmp_path / 'db'}", "fomm"),
        "--checkpoint",
        str(missing),
    )
    assert result.returncode == 2  # f8bed04: 1 with a traceback
    assert error_line(result) == f"qa-harness: error: {missing}: --checkpoint: no such file"


@pytest.mark.parametrize("trust", [[], ["--trust-checkpoint"]], ids=["plain", "trusted"])
def test_random_bytes_are_not_a_torch_checkpoint(fault_suite, tmp_path, trust):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    result = cli(
        *evaluate_args(fault_suite, tmp_path / "run", f"sqlite:///{tmp_path / 'db'}", "fomm"),
        "--checkpoint",
        str(junk),
        *trust,
    )
    assert result.returncode == 2, result.stderr  # f8bed04: "needs unpickling ... pass --trust-checkpoint"
    line = error_line(result)
    assert f"{junk}: not a torch checkpoint" in line and "trust-checkpoint" not in line


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", ".nan"), ("max_regression", ".nan"), ("threshold", ".inf"), ("max_regression", "-.inf")],
)
def test_a_non_finite_policy_number_is_refused_with_its_line(tmp_path, field, value):
    policy = tmp_path / "p.yaml"
    policy.write_text(f"version: 1\nrules:\n  - name: r\n    metric: ssim\n    {field}: {value}\n")
    with pytest.raises(ConfigError, match=rf"^{policy}:5: rules\[0\]\.{field} \(rule 'r'\): must be a finite number"):
        load_policy(policy)  # f8bed04: a NaN limit passed a 0.27 SSIM regression


def test_a_nan_statistic_is_refused_by_the_gate_command(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("version: 1\nstatistics: {confidence: .nan}\nrules:\n  - {metric: ssim, threshold: 0.5}\n")
    result = cli("gate", "--candidate", "x", "--policy", str(policy), "--tracking-uri", f"sqlite:///{tmp_path / 'd'}")
    assert result.returncode == 2
    assert f"{policy}:2: statistics.confidence: must be a finite number" in error_line(result)


def test_good_pairs_of_the_mixed_suite_match_the_reference(fault_suite, reference, tmp_path):
    """The reference itself is reproducible: a second run of `driving` gives the same bits."""
    out = tmp_path / "again"
    assert cli(*evaluate_args(fault_suite, out, f"sqlite:///{tmp_path / 'db'}")).returncode == 0
    assert_good_pairs_identical(out, reference, CLIP_IDS)


def test_an_internal_error_keeps_its_traceback_and_exits_4(monkeypatch, capsys):
    import qa_harness.cli as cli_module

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli_module, "_cmd_list", broken)
    assert main(["models"]) == 4
    err = capsys.readouterr().err
    assert "Traceback" in err and "qa-harness: internal error (a bug): ZeroDivisionError: a bug" in err
    assert sys.exc_info() == (None, None, None)
