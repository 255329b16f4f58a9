"""Which of A's frames B's decoder cannot render (`combtf coverage`), and why.

Two kinds of evidence, each calibrated only on what a run has without labels:

- data-side (`pose_space`): B's training data hold no frame near A's in head pose and expression
  read from landmarks, with B's own spread as the scale.  No rendering.
- model-side: B's rendering of A's frame loses what the frame shows.  Where dlib can read a rendering
  (from 64 px) it is read for the same pose-and-expression values as the frame's sidecar; their
  difference, scaled by the spread of the same difference on B's own frames against B's own
  renderings of them, is too large beyond the 99th percentile of those.  Where the landmarks cannot
  see (a tongue, funnelled lips) the mouth region's appearance is compared: the RMS difference of the
  grey mouth region of frame and rendering (template points 48-67, means taken out), taken over the
  same score of the frame's nearest frames of A (in pose and expression, else in latent code): a
  frame B renders much worse than frames like it.  Over that ratio's 95th percentile on B's own
  frames rendered by B, it is flagged.  A ratio, not the score itself: a wider or higher-contrast
  mouth of B raises the scores of all of A's frames alike, and that is B's identity, not a gap.

A frame is uncovered when either kind flags it; the report says which.  Chosen by
`benchmarks/coverage_cases.py` (docs/experiments/coverage.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from combtf.analysis import pose_space
from combtf.analysis.latent_codes import Frames
from combtf.analysis.latent_map import centred
from combtf.analysis.pose_space import DataSide
from combtf.faces.template import MOUTH, feature_box
from combtf.swap.from_run import TrainedModel

APPEARANCE_QUANTILE = 95  # of B's own ratios: about 5 % of a fully covered pair's frames land above it
RENDERED_QUANTILE = 99  # of B's own frames' distances to their renderings
LANDMARK_RESOLUTION = 64  # from here dlib reads renderings (not at 32 px: docs/experiments/coverage.md)
LIKE = 10  # frames of A taken as "like" a frame: its nearest in pose and expression
LIKE_PERCENTILE = 25  # of their scores: what a well-rendered frame like it scores
NEIGHBOURS = 5
BATCH = 64
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SHOWN_PER_PAIR = 48  # uncovered frames shown (and rendered again) per pair; the JSON lists all of them
EVIDENCE = ("data", "model", "both")
MEASURE = (
    "a frame of A is uncovered when B's training data hold nothing near it in head pose and expression (data-side: "
    "yaw, pitch, roll, mouth opening, width and lips, each eye's opening, from landmarks, scaled by B's own spread; "
    f"beyond the {pose_space.QUANTILE}th percentile of B's distances to its own nearest frames), or when B's rendering "
    "of it loses what the frame shows (model-side: the same values read off the rendering where dlib can, from "
    f"{LANDMARK_RESOLUTION} px, beyond the {RENDERED_QUANTILE}th percentile of B's own frames against B's renderings "
    "of them; and the mouth region's appearance against frames like it, beyond the "
    f"{APPEARANCE_QUANTILE}th percentile of the same ratio on B's own frames)"
)


@dataclass
class ModelSide:
    """B's renderings of A's frames against the frames."""

    appearance: np.ndarray  # per frame of A: its mouth-region score over what frames like it score
    appearance_threshold: float
    rendered: np.ndarray | None = None  # per frame of A: landmark values of frame and rendering apart, in B's noise
    rendered_threshold: float | None = None

    @property
    def flags(self) -> np.ndarray:
        found = self.appearance > self.appearance_threshold
        return found if self.rendered is None else found | (self.rendered > self.rendered_threshold)

    def severity(self) -> np.ndarray:
        ratio = self.appearance / self.appearance_threshold
        return ratio if self.rendered is None else np.maximum(ratio, self.rendered / self.rendered_threshold)

    def explain(self, i: int) -> list[str]:
        parts = []
        if self.rendered is not None and self.rendered[i] > self.rendered_threshold:
            parts.append(f"rendered landmarks {self.rendered[i]:.2f} > {self.rendered_threshold:.2f}")
        if self.appearance[i] > self.appearance_threshold:
            parts.append(f"mouth appearance {self.appearance[i]:.2f}x frames like it > {self.appearance_threshold:.2f}x")
        return parts


@dataclass
class PairCoverage:
    """A's frames (`source`) against B's decoder and data (`target`)."""

    source: str
    target: str
    model: ModelSide
    data: DataSide | None  # None where some crop has no landmarks: the model-side alone
    nearest: np.ndarray  # per frame of A: B's nearest frame, in pose and expression (else by latent code)
    renders: dict[int, np.ndarray] = field(default_factory=dict)  # B's renderings (uint8) of the frames shown

    @property
    def frames(self) -> int:
        return len(self.model.appearance)

    @property
    def by_data(self) -> np.ndarray:
        return np.zeros(self.frames, bool) if self.data is None else self.data.distance > self.data.threshold

    @property
    def severity(self) -> np.ndarray:
        """Per frame: how far past its thresholds, the largest of the ratios."""
        ratio = self.model.severity()
        return ratio if self.data is None else np.maximum(ratio, self.data.distance / self.data.threshold)

    @property
    def uncovered(self) -> list[int]:
        """Frames of A either kind flags, worst first."""
        above = np.flatnonzero(self.by_data | self.model.flags)
        return above[np.argsort(-self.severity[above], kind="stable")].tolist()

    @property
    def coverage(self) -> float:
        return 1.0 - len(self.uncovered) / self.frames

    def flagged_by(self, i: int) -> str:
        return EVIDENCE[int(self.by_data[i]) + 2 * int(self.model.flags[i]) - 1]

    def missing(self) -> list[str]:
        """What B's data lack, in words a user can act on."""
        found = [] if self.data is None else pose_space.missing(self.data, [i for i in self.uncovered if self.by_data[i]])
        model_only = int((self.model.flags & ~self.by_data).sum())
        if model_only:
            found.append(f"{model_only} frame{'s' * (model_only > 1)} that B's decoder renders without what "
                         f"{'they show' if model_only > 1 else 'it shows'} although B's data hold frames near by "
                         "landmarks (a tongue, lip shapes, gaze): add B's footage of such expressions")  # fmt: skip
        return found

    def explain(self, i: int) -> str:
        """Which measures flagged frame i, and by how much."""
        parts = []
        if self.by_data[i]:
            parts.append(f"pose/expression {self.data.distance[i]:.2f} > {self.data.threshold:.2f} (mostly {self.data.axis(i)})")
        return "; ".join(parts + self.model.explain(i))


@dataclass
class Coverage:
    run: Path
    resolution: int
    frames: Frames
    pairs: list[PairCoverage]
    measure: str = MEASURE

    def to_json(self) -> dict:
        def path(name: str, index: int) -> str:
            return str(self.frames.paths[name][index])

        def frame(p: PairCoverage, i: int) -> dict:
            rendered = p.model.rendered
            return {
                "frame": path(p.source, i),
                "flagged_by": p.flagged_by(i),
                "why": p.explain(i),
                "pose_expression": None if p.data is None else float(p.data.distance[i]),  # unrounded, as the thresholds
                "axis": None if p.data is None else p.data.axis(i),
                "rendered_landmarks": None if rendered is None else float(rendered[i]),
                "appearance": float(p.model.appearance[i]),
                "nearest": path(p.target, int(p.nearest[i])),
            }

        return {
            "model": str(self.run),
            "level": self.frames.level,
            "resolution": self.resolution,
            "measure": self.measure,
            "pairs": [
                {
                    "from": p.source,
                    "to": p.target,
                    "coverage": round(p.coverage, 4),
                    "thresholds": {
                        "pose_expression": None if p.data is None else p.data.threshold,
                        "rendered_landmarks": p.model.rendered_threshold,
                        "appearance": p.model.appearance_threshold,
                    },
                    "flagged_by": {e: sum(p.flagged_by(i) == e for i in p.uncovered) for e in EVIDENCE},
                    "missing": p.missing(),
                    "uncovered": [frame(p, i) for i in p.uncovered],
                }
                for p in self.pairs
            ],
        }


def mouth_difference(frames: np.ndarray, swaps: np.ndarray) -> np.ndarray:
    """[n]: 0 for the same mouth region, up to 1 (grey levels in [0, 1]); its mean is taken out."""
    x0, y0, x1, y1 = feature_box(frames.shape[1], MOUTH)

    def region(images: np.ndarray) -> np.ndarray:
        grey = images[:, y0:y1, x0:x1] @ LUMA
        return grey - grey.mean((1, 2), keepdims=True)

    return np.sqrt(((region(frames) - region(swaps)) ** 2).mean((1, 2)))


def render(trained: TrainedModel, images: np.ndarray, masks: np.ndarray, decoder: str, frames_of: str) -> np.ndarray:
    """uint8 crops -> float renderings by `decoder`, pasted inside the mask (outside it a decoder is never trained)."""
    out = []
    for start in range(0, len(images), BATCH):
        x = images[start : start + BATCH].astype(np.float32) / 255.0
        m = masks[start : start + BATCH].astype(np.float32) / 255.0
        y = np.clip(np.asarray(trained.swap(x, decoder, frames_of), np.float32), 0.0, 1.0)
        out.append(m * y + (1.0 - m) * x)
    return np.concatenate(out)


def against_like(scores: np.ndarray, space: np.ndarray) -> np.ndarray:
    """Each frame's score over what its nearest frames in `space` (itself left out) score."""
    from sklearn.neighbors import NearestNeighbors

    if len(space) < 2:
        return np.ones_like(scores)  # one frame: nothing to be like
    k = min(LIKE + 1, len(space))
    like = NearestNeighbors(n_neighbors=k).fit(space).kneighbors(space, return_distance=False)[:, 1:]
    return scores / np.maximum(np.percentile(scores[like], LIKE_PERCENTILE, axis=1), 1e-6)


def rendered_gap(frames: np.ndarray, renders: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Per frame: landmark values (after `per_person`) of frame and rendering apart, in units of `noise`."""
    return np.sqrt((((frames - renders) / noise) ** 2).sum(1))


def measure(trained: TrainedModel, frames: Frames, progress: Callable[[int], None] | None = None) -> Coverage:
    """Coverage of every ordered pair of the frames' identities; `progress` hears of each rendering pass (names**2)."""
    from sklearn.neighbors import NearestNeighbors

    names = frames.identities
    read = {n: pose_space.features(frames.paths[n]) for n in names}
    landmarks = all(read[n] is not None for n in names)
    reader = None
    if landmarks and trained.resolution >= LANDMARK_RESOLUTION:
        from combtf.faces.landmarks import CropLandmarks

        reader = CropLandmarks()
    codes = centred(frames.codes)
    person = {n: pose_space.per_person(read[n]) for n in names} if landmarks else {}
    space = {n: person[n] / pose_space.spread(person[n]) if landmarks else codes[n] for n in names}
    appearance, rendered = {}, {}
    for a in names:
        x = frames.images[a].astype(np.float32) / 255.0
        for b in names:  # b == a: A's decoder on A's own frames, the calibration
            y = render(trained, frames.images[a], frames.masks[a], b, a)
            appearance[a, b] = against_like(mouth_difference(x, y), space[a])
            if reader is not None:
                crops = np.round(y * 255).astype(np.uint8)
                size = crops.shape[1]
                rendered[a, b] = pose_space.per_person(np.array([pose_space.reading(reader(c), size) for c in crops]))
            if progress:
                progress(1)
    index = {n: NearestNeighbors(n_neighbors=1).fit(codes[n]) for n in names}
    # Each decoder's calibration on its own frames, once: no less than 1 for appearance (a frame is flagged
    # only when B renders it worse than frames like it); for rendered landmarks, the noise and its threshold.
    look = {b: max(float(np.percentile(appearance[b, b], APPEARANCE_QUANTILE)), 1.0) for b in names}
    noise = {b: pose_space.spread(person[b] - rendered[b, b]) for b in names} if reader is not None else {}
    limit = {b: float(np.percentile(rendered_gap(person[b], rendered[b, b], noise[b]), RENDERED_QUANTILE)) for b in noise}
    pairs = []
    for a in names:
        for b in names:
            if a == b:
                continue
            model = ModelSide(appearance[a, b], look[b])
            if reader is not None:
                model.rendered, model.rendered_threshold = rendered_gap(person[a], rendered[a, b], noise[b]), limit[b]
            data = pose_space.compare(read[a], read[b]) if landmarks else None
            nearest = data.nearest if data is not None else index[b].kneighbors(codes[a], return_distance=False)[:, 0]
            pair = PairCoverage(a, b, model, data, nearest)
            shown = pair.uncovered[:SHOWN_PER_PAIR]
            if shown:
                again = render(trained, frames.images[a][shown], frames.masks[a][shown], b, a)
                pair.renders = dict(zip(shown, np.round(again * 255).astype(np.uint8)))
            pairs.append(pair)
    return Coverage(trained.run, trained.resolution, frames, pairs)


def neighbours(frames: Frames, k: int = NEIGHBOURS) -> list[list[list[int]]]:
    """Per frame (over all identities in order), per identity: its k nearest frames there, itself left out."""
    from sklearn.neighbors import NearestNeighbors

    codes = centred(frames.codes)
    stacked = np.concatenate([codes[n] for n in frames.identities])
    offsets = np.cumsum([0] + [len(codes[n]) for n in frames.identities])
    per_identity = []
    for i, name in enumerate(frames.identities):
        found = NearestNeighbors(n_neighbors=min(k + 1, len(codes[name]))).fit(codes[name]).kneighbors(stacked, return_distance=False)
        per_identity.append(found + offsets[i])
    return [[[int(j) for j in found[row] if j != row][:k] for found in per_identity] for row in range(len(stacked))]
