"""Which of A's frames B's decoder cannot render (`combtf coverage`).

A swap of A's frame works only where B's training data hold a similar performance.  The
score of a frame is how far its mouth region moves in the swap: the RMS difference of the grey
mouth region (template points 48-67) of the frame and of B's rendering of it, each region's
mean taken out (skin tone and light).  An open mouth rendered closed moves it much.

The threshold comes from frames B covers by construction: B's own frames rendered by A, scored
the same way (its 95th percentile).  Those scores carry the identity change in the other
direction, which is larger or smaller than A -> B's (one face's lips have more contrast than
the other's), so the reference is first scaled to meet A -> B at the 10th percentile, where both
hold only well-rendered frames.  Chosen by `benchmarks/coverage_measures.py` (docs/experiments/coverage.md):
latent distances and the cycle error do not find the frames; this does.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from combtf.analysis.latent_codes import Frames
from combtf.analysis.latent_map import centred
from combtf.faces.template import MOUTH, feature_box
from combtf.swap.from_run import TrainedModel

QUANTILE = 95  # of the reference scores: about 5 % of a fully covered pair's frames land above it
CALIBRATION = 10  # the percentile where the reference is scaled to the pair's own scores
NEIGHBOURS = 5
BATCH = 64
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MEASURE = (
    "mouth-region difference: RMS difference of the grey mouth region (its mean taken out) of a frame of A and of "
    f"B's rendering of it; uncovered above the {QUANTILE}th percentile of the same score on B's own frames rendered "
    f"by A (which B covers by construction), scaled so that its {CALIBRATION}th percentile meets A's"
)


@dataclass
class PairCoverage:
    """A's frames (`source`) against B's decoder (`target`)."""

    source: str
    target: str
    scores: np.ndarray  # per frame of A
    threshold: float
    nearest: np.ndarray  # per frame of A: its nearest frame of B by (centred) latent code

    @property
    def uncovered(self) -> list[int]:
        """Frames of A above the threshold, worst first."""
        above = np.flatnonzero(self.scores > self.threshold)
        return above[np.argsort(-self.scores[above], kind="stable")].tolist()

    @property
    def coverage(self) -> float:
        return 1.0 - len(self.uncovered) / len(self.scores)


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
                    "threshold": float(p.threshold),  # unrounded: a rounded score could tie a rounded threshold
                    "uncovered": [path(p.source, i) for i in p.uncovered],
                    "scores": [float(p.scores[i]) for i in p.uncovered],
                    "nearest": [path(p.target, int(p.nearest[i])) for i in p.uncovered],
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


def threshold(scores: np.ndarray, reference: np.ndarray) -> float:
    """Above it a frame of A is uncovered; `reference` scores frames B covers by construction."""
    scale = np.percentile(scores, CALIBRATION) / max(float(np.percentile(reference, CALIBRATION)), 1e-6)
    return float(np.percentile(reference, QUANTILE) * scale)


def render(trained: TrainedModel, images: np.ndarray, masks: np.ndarray, decoder: str, frames_of: str) -> np.ndarray:
    """uint8 crops -> float renderings by `decoder`, pasted inside the mask (outside it a decoder is never trained)."""
    out = []
    for start in range(0, len(images), BATCH):
        x = images[start : start + BATCH].astype(np.float32) / 255.0
        m = masks[start : start + BATCH].astype(np.float32) / 255.0
        y = np.clip(np.asarray(trained.swap(x, decoder, frames_of), np.float32), 0.0, 1.0)
        out.append(m * y + (1.0 - m) * x)
    return np.concatenate(out)


def score(trained: TrainedModel, frames: Frames, a: str, b: str) -> np.ndarray:
    """Per frame of `a`: how far B's rendering moves its mouth region."""
    swaps = render(trained, frames.images[a], frames.masks[a], b, a)
    return mouth_difference(frames.images[a].astype(np.float32) / 255.0, swaps)


def measure(trained: TrainedModel, frames: Frames, progress: Callable[[int], None] | None = None) -> Coverage:
    """Coverage of every ordered pair of the frames' identities."""
    from sklearn.neighbors import NearestNeighbors

    names = frames.identities
    ordered = [(a, b) for a in names for b in names if a != b]
    scores = {}
    for a, b in ordered:  # once each: a pair's scores are the reverse pair's reference
        scores[a, b] = score(trained, frames, a, b)
        if progress:
            progress(1)
    codes = centred(frames.codes)
    index = {n: NearestNeighbors(n_neighbors=1).fit(codes[n]) for n in names}
    pairs = [
        PairCoverage(a, b, scores[a, b], threshold(scores[a, b], scores[b, a]),
                     index[b].kneighbors(codes[a], return_distance=False)[:, 0])
        for a, b in ordered
    ]  # fmt: skip
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
