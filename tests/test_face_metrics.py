"""Face metrics on real frames: perfect on ground truth; known answers on shifted, frozen, faceless output."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qa_harness.catalog import IDENTITY, LANDMARKS, METRICS
from qa_harness.metrics import aed, akd, ear_mar, face_nme, face_regions
from qa_harness.metrics._face_analysis import FaceAnalysis
from qa_harness.metrics._face_geometry import region_boxes
from qa_harness.metrics.base import MetricContext
from qa_harness.metrics.ssim import ssim
from tests.helpers.face import make_batch, paste_regions, source_and_target

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def lm() -> FaceAnalysis:
    return FaceAnalysis(LANDMARKS.build("mediapipe", device=CPU), cache_dir=None, suite_version="")


@pytest.fixture(scope="module")
def ident() -> FaceAnalysis:
    return FaceAnalysis(IDENTITY.build("dlib", device=CPU), cache_dir=None, suite_version="")


def _run(metric, batch) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in metric.frame_values(batch).items()}


def shifted(frames: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Content moved right by dx and down by dy pixels (edge pixels repeated)."""
    padded = F.pad(frames, (dx, 0, dy, 0), mode="replicate")
    return padded[..., : frames.shape[-2], : frames.shape[-1]]


def test_ground_truth_against_itself_is_perfect(lm, ident) -> None:
    _, target = source_and_target()
    batch = make_batch(target.clone(), target)
    k = _run(akd.AKD(lm), batch)
    assert np.all(k["akd"] == 0) and np.all(k["akd_l2"] == 0) and np.all(k["mkr"] == 0)
    assert np.all(k["face_found_output"] == 1)
    a = _run(aed.IdentityDistance(ident, name="aed", reference="target"), batch)
    assert np.all(a["aed"] == 0)
    r = _run(face_regions.FaceRegions(lm), batch)
    np.testing.assert_allclose(r["eye_ssim"], 1.0, atol=1e-5)
    np.testing.assert_allclose(r["mouth_ssim"], 1.0, atol=1e-5)
    assert np.all(r["eye_l1"] == 0) and np.all(r["mouth_l1"] == 0)
    n = _run(face_nme.FaceNME(lm), batch)
    assert np.all(n["nme_eyes"] == 0) and np.all(n["nme_lips"] == 0)
    em = ear_mar.EarMar(lm, reference="target")
    clip = em.clip_values(_run(em, batch))
    assert clip["ear_mae"] == 0 and clip["mar_mae"] == 0
    assert clip["ear_corr"] == pytest.approx(1.0) and clip["mar_corr"] == pytest.approx(1.0)
    # The chosen frames hold a blink and two mouth openings, so F1 is defined (not NaN) and perfect.
    assert clip["blink_f1"] == 1.0 and clip["mouth_open_f1"] == 1.0


@pytest.mark.parametrize(("dx", "dy", "expected_akd", "expected_l2"), [(2, 2, 2.0, 2 * 2**0.5), (2, 0, 1.0, 2.0)])
def test_whole_frame_shift_moves_akd_by_the_shift(lm, dx, dy, expected_akd, expected_l2) -> None:
    """AKD is the mean |coordinate difference| (papers' cmp_kp.py): (2, 2) px -> 2; (2, 0) px -> 1.

    Tolerance 0.4 px: the detector is not exactly shift-equivariant (its own jitter on these frames).
    """
    _, target = source_and_target()
    k = _run(akd.AKD(lm), make_batch(shifted(target, dx, dy), target))
    assert k["akd"].mean() == pytest.approx(expected_akd, abs=0.4)
    assert k["akd_l2"].mean() == pytest.approx(expected_l2, abs=0.4)


def test_akd_matches_direct_numpy_on_the_mesh(lm) -> None:
    """AKD from the backend equals numpy on the raw 478-point mesh mapped by hand to 68 points."""
    import mediapipe as mp

    from qa_harness.landmarks.base import to_uint8_images
    from qa_harness.landmarks.mediapipe_mesh import IBUG68_FROM_MESH

    _, target = source_and_target()
    output = shifted(target, 3, 1)
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)

    def ibug(frames: torch.Tensor) -> np.ndarray:
        result = []
        for image in to_uint8_images(frames):
            face = mesh.process(image).multi_face_landmarks[0].landmark
            pts = np.array([[p.x * 256, p.y * 256] for p in face])
            result.append([pts[list(v)].mean(axis=0) for v in IBUG68_FROM_MESH])
        return np.array(result)

    expected = np.abs(ibug(output) - ibug(target)).reshape(len(target), -1).mean(axis=1)
    got = _run(akd.AKD(lm), make_batch(output, target))["akd"]
    np.testing.assert_allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize(("region", "other"), [("eye", "mouth"), ("mouth", "eye")])
def test_frozen_region_is_caught_while_whole_frame_ssim_barely_moves(lm, region, other) -> None:
    """Eyes (or mouth) copied from the source frame into otherwise perfect frames.

    Whole-frame SSIM stays above 0.94 (the failure is a few % of the pixels; measured 0.954 eyes, 0.971
    mouth); the region SSIM of the frozen region falls below 0.5 (measured 0.22 and 0.33), at least 10x
    the whole-frame drop; the other region stays at 1, and that region's event F1 collapses (measured 0).
    """
    source, target = source_and_target()
    points = lm(target, suite_content=True).points
    output = paste_regions(target, source, region_boxes(points, region))
    whole = ssim(output, target).numpy()
    r = _run(face_regions.FaceRegions(lm), make_batch(output, target))
    drop_whole = 1 - whole.mean()
    drop_region = 1 - r[f"{region}_ssim"].mean()
    assert whole.min() > 0.94
    assert drop_region > 0.5 and drop_region > 10 * drop_whole
    np.testing.assert_allclose(r[f"{other}_ssim"], 1.0, atol=1e-3)
    em = ear_mar.EarMar(lm, reference="target")
    clip = em.clip_values(_run(em, make_batch(output, target)))
    f1 = "blink_f1" if region == "eye" else "mouth_open_f1"
    corr = "ear_corr" if region == "eye" else "mar_corr"
    assert clip[f1] <= 0.5
    assert clip[corr] < 0.9


@pytest.mark.parametrize(("frozen_at", "state"), [(6, "eyes closed"), (3, "mouth open")])
def test_a_frozen_face_does_not_win_the_event_scores(lm, frozen_at, state) -> None:
    """The issue's case on real frames: `identity`-like output, one target frame repeated, where that frame
    has the eyes closed (EAR 0.058, frame 92) or the mouth open (MAR 0.40, frame 86). The old rules made the
    frozen state one event covering the clip and gave F1 1.0; now every follow score is 0 (measured)."""
    _, target = source_and_target()
    em = ear_mar.EarMar(lm, reference="target")
    frozen = target[frozen_at : frozen_at + 1].expand(16, -1, -1, -1).clone()
    values = _run(em, make_batch(frozen, target))
    assert np.ptp(values["ear_output"]) == 0 and np.ptp(values["mar_output"]) == 0
    assert (values["ear_output"][0] < 0.1) if state == "eyes closed" else (values["mar_output"][0] > 0.3)
    clip = em.clip_values(values)
    assert clip["blink_f1"] == 0.0 and clip["mouth_open_f1"] == 0.0
    assert clip["ear_corr"] == 0.0 and clip["mar_corr"] == 0.0
    late = _run(em, make_batch(torch.cat([target[:1].expand(3, -1, -1, -1), target[:-3]]), target))
    assert em.clip_values(late)["blink_f1"] < 1.0 and em.clip_values(late)["ear_corr"] < 0.5  # 3 frames late


def test_faceless_output_frames_are_flagged_and_counted_in_mkr(lm) -> None:
    _, target = source_and_target()
    output = target.clone()
    output[3] = 0.0  # blank
    output[7] = torch.rand(3, 256, 256, generator=torch.Generator().manual_seed(1))  # noise, no face
    k = _run(akd.AKD(lm), make_batch(output, target))
    assert k["face_found_output"][[3, 7]].tolist() == [0.0, 0.0] and k["face_found_output"].sum() == 14
    assert k["mkr"][[3, 7]].tolist() == [1.0, 1.0] and np.nanmean(k["mkr"]) == pytest.approx(2 / 16)
    assert np.isnan(k["akd"][[3, 7]]).all() and np.isfinite(np.delete(k["akd"], [3, 7])).all()


def test_faceless_ground_truth_frame_is_not_counted_against_the_model(lm) -> None:
    _, target = source_and_target()
    target[5] = 0.0
    k = _run(akd.AKD(lm), make_batch(target.clone(), target))
    assert np.isnan(k["mkr"][5]) and np.nanmean(k["mkr"]) == 0.0
    r = _run(face_regions.FaceRegions(lm), make_batch(target.clone(), target))
    assert np.isnan(r["eye_ssim"][5]) and np.isfinite(np.delete(r["eye_ssim"], 5)).all()


def test_cross_protocol_metrics_need_no_reference(lm, ident) -> None:
    """With no ground truth: identity distance to the source, EAR/MAR correlation with the driving."""
    source, target = source_and_target()
    transfer = ear_mar.EarMar(lm, reference="driving")
    to_source = aed.IdentityDistance(ident, name="id_source", reference="source")
    assert not transfer.needs_reference and not to_source.needs_reference
    batch = make_batch(target.clone(), None, driving=target)
    d = _run(to_source, batch)["id_source"]
    assert d.shape == (16,) and np.all((d > 0) & (d < 0.36))  # same person: under dlib's 0.6 (L2) threshold
    clip = transfer.clip_values(_run(transfer, batch))
    assert clip["xfer_ear_corr"] == pytest.approx(1.0) and clip["xfer_blink_f1"] == 1.0
    frozen = make_batch(source.expand(16, -1, -1, -1).clone(), None, driving=target)
    clip = transfer.clip_values(_run(transfer, frozen))
    assert clip["xfer_ear_corr"] == 0.0 and clip["xfer_blink_f1"] == 0.0  # a still image never blinks


def test_catalog_builds_every_face_metric_with_unique_columns(tmp_path) -> None:
    ctx = MetricContext(device=CPU, cache_dir=tmp_path, suite_version="v1")
    names = ["akd", "aed", "face_regions", "face_nme", "ear_mar", "id_source", "expression_transfer"]
    columns = [c.name for name in names for c in METRICS.build(name, ctx).columns]
    columns += [c.name for name in names for c in METRICS.build(name, ctx).clip_columns]
    assert len(columns) == len(set(columns))
