"""Faces linked across video frames, and their landmarks smoothed over time.

High-resolution swaps flicker when every frame's crop follows that frame's landmark noise
(the paper stabilises its landmarks for this reason). Detections are linked into tracks by
box overlap; within a track the landmarks are averaged with a centred Gaussian over time,
which removes the noise without lagging behind real head motion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from combtf.faces.align import crop_affine

MIN_IOU = 0.3


@dataclass
class Observation:
    frame: int
    box: np.ndarray
    score: float
    landmarks: np.ndarray  # [68, 2] as found in this frame
    track: int = -1
    aligned: np.ndarray | None = None  # [68, 2] the landmarks the crop follows (smoothed)
    patch: np.ndarray | None = field(default=None, repr=False)  # small grey aligned face, to follow it

    def affine(self, size: int) -> np.ndarray:
        """Source -> crop matrix for a `size` px crop: from the smoothed landmarks where a track gave them."""
        return crop_affine(self.landmarks if self.aligned is None else self.aligned, size)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def link(frames: list[list[Observation]], max_gap: int) -> int:
    """Give every observation a track id (largest faces claim tracks first); returns the track count.

    An observation continues the active track it overlaps most, if that track was last seen at
    most `max_gap` frames before; otherwise it starts a new track.
    """
    last: dict[int, Observation] = {}
    count = 0
    for observations in frames:
        taken: set[int] = set()
        for obs in observations:
            candidates = [
                (iou(obs.box, prev.box), track)
                for track, prev in last.items()
                if track not in taken and obs.frame - prev.frame <= max_gap
            ]
            overlap, track = max(candidates, default=(0.0, -1))
            if overlap < MIN_IOU:
                track, count = count, count + 1
            obs.track = track
            taken.add(track)
            last[track] = obs
    return count


def smooth(track: list[Observation], sigma: float) -> None:
    """Set `aligned` on one track's observations (in frame order): Gaussian over frame numbers."""
    points = np.stack([obs.landmarks for obs in track])
    if sigma <= 0 or len(track) == 1:
        for obs, p in zip(track, points):
            obs.aligned = p
        return
    times = np.array([obs.frame for obs in track], dtype=np.float64)
    lo = np.searchsorted(times, times - 3 * sigma, side="left")
    hi = np.searchsorted(times, times + 3 * sigma, side="right")
    for i, obs in enumerate(track):
        weights = np.exp(-0.5 * ((times[lo[i] : hi[i]] - times[i]) / sigma) ** 2)
        obs.aligned = np.tensordot(weights / weights.sum(), points[lo[i] : hi[i]], axes=1)
