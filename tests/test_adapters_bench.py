"""benchmarks/adapters_bench.py without official checkouts: what a user (and CI) without them sees.

The measurement itself needs the official repositories, which the project never copies; it is run by hand
(benchmarks/RESULTS.md, issue 18)."""

from __future__ import annotations

from benchmarks.adapters_bench import OFFICIAL, main


def test_models_without_a_checkout_are_skipped_and_named(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for model, (repository, _) in OFFICIAL.items():
        assert f"{model}: skipped, no --{model} checkout of {repository} given" in out
    assert "nothing measured: no official checkout given" in out


def test_a_folder_that_is_not_the_official_checkout_is_a_user_error(tmp_path, capsys):
    (tmp_path / "modules").mkdir()
    assert main(["--mrfa", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"--mrfa {tmp_path}: not a checkout of JialeTao/MRFA (modules/model.py missing)" in err
