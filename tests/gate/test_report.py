"""report: one self-contained HTML file, opened in real headless Chromium (Debian chromium via
Playwright): no console errors, no network, every image decodes, user strings render as text."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qa_harness import plots
from qa_harness.cli import main
from qa_harness.report.build import build_report
from qa_harness.thumbs import (
    REGION_SIZE,
    THUMB_SIZE,
    available_frames,
    folder_source,
    region_images,
    strip_images,
    thumb_dir,
    thumb_frames,
    write_region_thumbs,
    write_thumbs,
)
from tests.gate.gate_runs import REGRESSIONS, log_run, make_run
from tests.helpers.browser import chromium_page, images, needs_chromium

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def report_file(store, truth, tmp_path_factory):
    """Report of a run whose extreme-pose clips regressed, one clip named like an XSS probe, thumbnails logged."""
    uri, ids, client = store
    folder = tmp_path_factory.mktemp("report")
    run = make_run(
        truth,
        run_id="evil",
        seed=4,
        degrade=REGRESSIONS["extreme_pose_only"],
        thumbs=folder / "thumbs",
        rename={"lp_s32#2": EVIL},
    )
    run_id = log_run(uri, run, folder / "records")
    client.log_artifacts(run_id, str(folder / "thumbs"), artifact_path="thumbs")
    policy = str(ROOT / "gates" / "default.yaml")
    gate = ["gate", "--candidate", run_id, "--baseline", ids["baseline"], "--policy", policy]
    assert main([*gate, "--tracking-uri", uri]) == 1
    out = folder / "report.html"  # without --policy: the verdict the gate logged to the run
    assert main(["report", run_id, "--baseline", ids["baseline"], "--out", str(out), "--tracking-uri", uri]) == 0
    return out, run_id, client


def test_report_is_self_contained_small_and_logged(report_file):
    out, run_id, client = report_file
    html = out.read_text()
    assert out.stat().st_size < 1_000_000  # thumbnails, not frames
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<script" not in html.lower() and EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "FAIL: policy default" in html and "fails: " in html and "ssim-mean[pose=extreme] (+" in html
    assert [a.path for a in client.list_artifacts(run_id, "report")] == ["report/report.html"]


@needs_chromium
def test_report_renders_in_headless_chromium(report_file):
    out, _, _ = report_file
    with chromium_page(out) as (page, events):
        shown = images(page)
        page.locator("details").evaluate("d => d.open = true")
        evil_cells = page.locator("td", has_text=EVIL).count()
        injected = page.locator("img[src='x']").count()
        shots = ROOT / "test-artifacts"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / "report.png"), full_page=True)
    assert events == []  # no console errors or warnings, no script, no dialog, no network request
    assert len(shown) >= 10 and all(complete and width > 0 for _, complete, width in shown)
    assert sum(cls == "thumb" for cls, _, _ in shown) >= 4 * 3  # strips: source | truth | output | error
    assert sum(cls == "crop" for cls, _, _ in shown) >= 6 * 3  # two eyes and the mouth: truth | output
    assert evil_cells == 1 and injected == 0
    assert Image.open(shots / "report.png").size[0] == 1300


def test_report_with_policy_evaluates_the_gate_itself(report_file, store, tmp_path):
    uri, ids, _ = store
    out = tmp_path / "again.html"
    policy = str(ROOT / "gates" / "default.yaml")
    args = ["report", ids["good"], "--baseline", ids["baseline"], "--policy", policy, "--out", str(out)]
    assert main([*args, "--no-log", "--tracking-uri", uri]) == 0
    html = out.read_text()
    assert "PASS: policy default, 0 of" in html and "no failing condition" in html


def test_report_degrades_without_thumbnails_baseline_or_gate(rerun):
    html = build_report(rerun)
    assert "No gate verdict" in html and "logged no thumbnails" in html and 'class="thumb"' not in html
    assert "no failing condition: worst clips overall" in html


def test_thumbnail_contract(tmp_path, truth):
    assert thumb_frames(100, k=4) == [0, 33, 66, 99] and thumb_frames(3, k=8) == [0, 1, 2]
    assert re.fullmatch(r"img_src_x_onerror_alert_1-[0-9a-f]{8}", thumb_dir(EVIL))
    assert thumb_dir("a/b") != thumb_dir("a_b")
    frames = truth["d12"]
    for f in (0, 5):
        write_thumbs(tmp_path, EVIL, f, source=frames[0], target=frames[f], output=frames[f].flip(-1))
    write_thumbs(tmp_path, "cross", 0, source=frames[0], target=None, output=frames[0])
    source = folder_source(tmp_path)
    assert source("never-ran") is None and available_frames(source(EVIL)) == [0, 5]
    images = strip_images(source(EVIL), 5)
    assert set(images) == {"source", "target", "output", "error"}
    decoded = {k: Image.open(io.BytesIO(v)) for k, v in images.items()}
    assert all(im.size == (THUMB_SIZE, THUMB_SIZE) for im in decoded.values())
    assert np.asarray(decoded["error"]).mean() > 20  # a mirrored output differs visibly from its truth
    assert set(strip_images(source("cross"), 0)) == {"source", "output"}  # cross protocol: no truth, no error map


def test_region_crop_contract(tmp_path, truth):
    frame = truth["d12"][5]
    nan = float("nan")
    boxes = {"mouth": [64.0, 90.0, 30.0], "eye_left": [40.0, 50.0, 20.0], "eye_right": [nan, nan, nan]}
    write_thumbs(tmp_path, EVIL, 5, source=frame, target=frame, output=frame)
    write_region_thumbs(tmp_path, EVIL, 5, boxes, target=frame, output=frame.flip(-1))
    pair_dir = folder_source(tmp_path)(EVIL)
    assert available_frames(pair_dir) == [5]  # crops are not frames
    regions = region_images(pair_dir, 5)
    assert list(regions) == ["eye_left", "mouth"] and all(set(r) == {"target", "output"} for r in regions.values())
    crop = np.asarray(Image.open(io.BytesIO(regions["mouth"]["target"])), dtype=np.float32)
    whole = Image.fromarray((frame.numpy().transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8))
    cut = lambda box: np.asarray(  # noqa: E731
        whole.crop(box).resize((REGION_SIZE, REGION_SIZE), Image.Resampling.BILINEAR), dtype=np.float32
    )
    assert crop.shape == (REGION_SIZE, REGION_SIZE, 3)
    assert np.abs(crop - cut((49, 75, 79, 105))).mean() < 4 < np.abs(crop - cut((59, 85, 89, 115))).mean()
    with pytest.raises(ValueError, match="region name '../x'"):
        write_region_thumbs(tmp_path, "p", 0, {"../x": [1.0, 1.0, 1.0]}, target=frame)


def test_plot_text_is_literal(monkeypatch):
    """A user label with `$` is drawn as typed, not parsed as mathtext (what matplotlib would draw is read back
    from the legend through the same preprocessing its renderer applies)."""
    figures = []
    render = plots.to_png
    monkeypatch.setattr(plots, "to_png", lambda fig: figures.append(fig) or render(fig))
    label = "price $x^2$ 100%"
    png = plots.curves([(label, np.arange(3), np.ones(3))], metric="l1", higher_is_better=False)
    assert png.startswith(b"\x89PNG")
    (text,) = figures[0].axes[0].get_legend().get_texts()
    assert text._preprocess_math(text.get_text()) == (label, False)


def test_distributions_wrap_into_rows():
    samples = {f"metric_{i}": {"candidate": np.linspace(0, 1, 10)} for i in range(9)}
    width, height = Image.open(io.BytesIO(plots.distributions(samples, title="t"))).size
    assert width < 4.5 * 3.2 * plots.DPI and height > 2.5 * 2.4 * plots.DPI  # 4 panels to a row, 3 rows


def test_report_of_an_undecided_gate_and_of_a_failing_missing_metric(tmp_path, rerun, baseline_run):
    from qa_harness.gate.evaluate import evaluate_gate
    from qa_harness.gate.policy import load_policy

    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nrules:\n  - {metric: ssim, max_regression: 0.01}\n")
    undecided = evaluate_gate(load_policy(path), rerun, None)  # relative only, no baseline: nothing checked
    assert not undecided.decided
    html = build_report(rerun, gate=undecided)
    assert "No verdict: every check of policy p was skipped" in html and "PASS: policy" not in html
    path.write_text("version: 1\nrules:\n  - {metric: lpips, max_regression: 0.01, conditions: [all, each]}\n")
    missing = evaluate_gate(load_policy(path), rerun, baseline_run)  # fails: lpips is not in the records
    assert missing.decided and not missing.passed
    html = build_report(rerun, baseline=baseline_run, gate=missing)
    assert "FAIL: policy p" in html and "no failing condition: worst clips overall" in html


def test_report_ranks_clips_by_the_rule_they_break_most_each_clip_once(regressed_runs, baseline_run):
    """Frozen eyes: PSNR and SSIM may fail too, but a clip is ranked and shown by eye-SSIM (its regression is
    the largest multiple of its limit), once, with every check it fails; what was not gated is listed."""
    from qa_harness.gate.evaluate import evaluate_gate
    from qa_harness.gate.policy import load_policy

    run = regressed_runs["frozen_eyes"]
    gate = evaluate_gate(load_policy(ROOT / "gates" / "default.yaml"), run, baseline_run)
    html = build_report(run, baseline=baseline_run, gate=gate)
    section = html.split("Worst clips of the failing checks", 1)[1]
    headings = re.findall(r"<h3>clip ([^<]+)</h3>", section)
    assert len(headings) == 6 and len(set(headings)) == 6  # 2 * worst_k clips, none twice
    ranked_by = re.findall(r"ranked by (\w+) on ", section)
    assert ranked_by == ["eye_ssim"] * 6
    fails = re.findall(r"<p>fails: ([^<]+)</p>", section)
    assert all(f.startswith("eye-ssim-mean[") for f in fails) and any(f.count("[") > 1 for f in fails)
    assert "Not gated (" in html and "NOT GATED: lpips-mean[all" in html
