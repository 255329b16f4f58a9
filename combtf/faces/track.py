"""Faces linked across the frames of a video or sequence, and their landmarks smoothed over time.

High-resolution swaps flicker when every frame's crop follows that frame's landmark noise
(the paper stabilises its landmarks for this reason). Detections are linked into tracks by
box overlap; within a track the landmarks are averaged with a centred Gaussian over time.
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


class Tracker:
    """Links each frame's faces into tracks as the frames come, and smooths a frame's landmarks as soon as every frame
    within the smoothing's reach after it has come: one pass over a shot, never more than that reach held.

    Linking: an observation continues the active track it overlaps most (largest faces claim tracks first), if that
    track was last seen at most `max_gap` frames before; otherwise it starts a new track. Smoothing: a Gaussian of
    `sigma` frames over frame numbers, centred, so it removes the noise without lagging behind real head motion.
    """

    def __init__(self, max_gap: int, sigma: float) -> None:
        self.max_gap, self.sigma = max_gap, sigma
        self.reach = 3.0 * sigma if sigma > 0 else 0.0  # frames either side that move a frame's landmarks
        self.tracks = 0
        self._last: dict[int, Observation] = {}
        self._history: dict[int, list[Observation]] = {}

    def add(self, observations: list[Observation]) -> None:
        """One frame's observations, in frame order: each gets its track id."""
        taken: set[int] = set()
        for obs in observations:
            candidates = [
                (iou(obs.box, prev.box), track)
                for track, prev in self._last.items()
                if track not in taken and obs.frame - prev.frame <= self.max_gap
            ]
            overlap, track = max(candidates, default=(0.0, -1))
            if overlap < MIN_IOU:
                track, self.tracks = self.tracks, self.tracks + 1
            obs.track = track
            taken.add(track)
            self._last[track] = obs
            self._history.setdefault(track, []).append(obs)

    def ready(self, frame: int, newest: int) -> bool:
        """Whether `frame` can be smoothed now that `newest` has been added."""
        return frame + self.reach <= newest  # frames come in order: every one up to `newest` is in

    def smooth(self, observations: list[Observation]) -> None:
        """Set `aligned` on one frame's observations (the frame must be `ready`); forget what no later frame needs."""
        for obs in observations:
            track = self._history[obs.track]
            near = [o for o in track if abs(o.frame - obs.frame) <= self.reach]
            if self.sigma <= 0 or len(near) == 1:
                obs.aligned = obs.landmarks
                continue
            weights = np.exp(-0.5 * ((np.array([o.frame for o in near], np.float64) - obs.frame) / self.sigma) ** 2)
            obs.aligned = np.tensordot(weights / weights.sum(), np.stack([o.landmarks for o in near]), axes=1)
        if observations:
            oldest = observations[0].frame - self.reach
            for track, history in self._history.items():
                self._history[track] = [o for o in history if o.frame >= oldest]
