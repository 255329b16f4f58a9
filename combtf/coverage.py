"""Which of A's frames B's decoder cannot render (`combtf coverage`).

A swap of A's frame works only where B's training data hold a similar performance.  The
score of a frame is how far the structure of its mouth region moves in the swap: one minus the
normalised cross-correlation of the grey mouth region (template points 48-67) of the frame and
of B's rendering of it.  Mean and contrast are taken out per region, so lip colour and skin
tone (identity) count little and an open mouth rendered closed counts much.  The threshold
comes from frames B covers by construction: B's own frames rendered by A, scored the same way.
Chosen by `benchmarks/coverage_measures.py` (README, "Latent space"): latent distances and the
cycle error do not find the frames; this does (ROC AUC 0.91-0.93).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from combtf.faces.align import template
from combtf.latent_space import Frames, centred
from combtf.run import TrainedModel

QUANTILE = 90
NEIGHBOURS = 5
BATCH = 64
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
MEASURE = (
    "mouth-region structure: 1 - normalised cross-correlation of the grey mouth region of a frame of A "
    "and of B's rendering of it; uncovered above the "
    f"{QUANTILE}th percentile of the same score on B's own frames rendered by A (which B covers by construction)"
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
                    "threshold": round(p.threshold, 5),
                    "uncovered": [path(p.source, i) for i in p.uncovered],
                    "scores": [round(float(p.scores[i]), 5) for i in p.uncovered],
                    "nearest": [path(p.target, int(p.nearest[i])) for i in p.uncovered],
                }
                for p in self.pairs
            ],
        }


def mouth_box(size: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the template's mouth points, padded by 4 % of the crop."""
    points = template(size)[48:68]
    x0, y0 = np.floor(points.min(0) - 0.04 * size).astype(int)
    x1, y1 = np.ceil(points.max(0) + 0.04 * size).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)


def structure_distance(frames: np.ndarray, swaps: np.ndarray) -> np.ndarray:
    """[n] in [0, 2]: 0 for the same mouth-region structure, 1 for unrelated ones."""
    x0, y0, x1, y1 = mouth_box(frames.shape[1])

    def normalised(images: np.ndarray) -> np.ndarray:
        region = images[:, y0:y1, x0:x1] @ LUMA
        region = region - region.mean((1, 2), keepdims=True)
        return region / (np.sqrt((region**2).mean((1, 2), keepdims=True)) + 1e-6)

    return 1.0 - (normalised(frames) * normalised(swaps)).mean((1, 2))


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
    """Per frame of `a`: how far B's rendering moves its mouth-region structure."""
    swaps = render(trained, frames.images[a], frames.masks[a], b, a)
    return structure_distance(frames.images[a].astype(np.float32) / 255.0, swaps)


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
        PairCoverage(a, b, scores[a, b], float(np.percentile(scores[b, a], QUANTILE)),
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
