"""The data-side coverage check: does B's training data hold a frame near each of A's, in a space of
head pose and expression read from landmarks?  No rendering, so it takes a moment per thousand frames.

Each crop's sidecar landmarks give yaw, pitch, roll (degrees), the mouth's inner-lip gap and each
eye's lid gap (over the crop's height; aligned crops share one scale).  Two readings carry the
person rather than the performance, so they are taken relative to the person's own frames: each
eye's gap over its 90th percentile (an eye's height is identity), and pitch less its median (the
generic 3D model puts a long nose lower).  The axes are scaled by B's own spread (the interquartile
range, no less than the landmarks' resolution, `FLOOR`), and a frame of A is uncovered when its
nearest frame of B is further away than B's frames are from their own nearest (the 99th percentile
of those distances).  Chosen in docs/experiments/coverage.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from combtf.data.sidecars import crop_landmarks
from combtf.faces.expression import head_pose, lid_gap, mouth_opening
from combtf.faces.template import LEFT_EYE, RIGHT_EYE

AXES = ("yaw", "pitch", "roll", "mouth", "mouth width", "lips", "right eye", "left eye")  # the subject's eyes
# Resolution of each axis: degrees; crop heights; fractions of the person's usual width; crop heights; of their open eye
FLOOR = np.array([3.0, 3.0, 3.0, 0.01, 0.04, 0.01, 0.08, 0.08])
OPEN_EYE = 90  # percentile of a person's lid gap taken as their open eye
CLOSED_LIPS = 5  # percentile of a person's outer-lip height taken as their lips at rest
QUANTILE = 99  # of B's distances to its own nearest frames
IQR_TO_SD = 1.349


def reading(points: np.ndarray, size: float) -> list[float]:
    """One crop's values on `AXES`, as read (before `per_person`)."""
    # the mouth's width over the eye corners' (both shrink alike as the head turns), the outer lips' height
    width = np.linalg.norm(points[54] - points[48]) / max(float(np.linalg.norm(points[45] - points[36])), 1e-6)
    lips = np.linalg.norm(points[57] - points[51]) / size
    eyes = [lid_gap(points, RIGHT_EYE) / size, lid_gap(points, LEFT_EYE) / size]
    return [*head_pose(points), mouth_opening(points, size), float(width), float(lips), *eyes]


def features(crops: list[Path]) -> np.ndarray | None:
    """[n, len(AXES)] from the crops' sidecars, as read; None unless every crop has landmarks."""
    rows = []
    for crop in crops:
        found = crop_landmarks(crop)
        if found is None:
            return None
        rows.append(reading(*found))
    return np.array(rows, np.float64)


def per_person(raw: np.ndarray) -> np.ndarray:
    """The readings that carry the person taken relative to the person's own frames."""
    out = raw.copy()
    out[:, 1] -= np.median(raw[:, 1])
    out[:, 4] /= max(float(np.median(raw[:, 4])), 1e-6)
    out[:, 5] -= np.percentile(raw[:, 5], CLOSED_LIPS)
    out[:, 6:] /= np.maximum(np.percentile(raw[:, 6:], OPEN_EYE, axis=0), 1e-6)
    return out


def spread(values: np.ndarray) -> np.ndarray:
    """Per axis: the interquartile range as a standard deviation, no less than the axis's resolution."""
    return np.maximum(np.subtract(*np.percentile(values, [75, 25], axis=0)) / IQR_TO_SD, FLOOR)


@dataclass
class DataSide:
    """A's frames against B's training data."""

    distance: np.ndarray  # per frame of A: to its nearest frame of B, in B's spreads
    nearest: np.ndarray  # per frame of A: that frame of B
    threshold: float
    gaps: np.ndarray  # [n, axes]: A's frame less its nearest of B, in B's spreads
    a: np.ndarray  # A's frames, B's frames, after `per_person`
    b: np.ndarray

    def axis(self, i: int) -> str:
        """The axis that takes frame i furthest from B's data."""
        return AXES[int(np.argmax(np.abs(self.gaps[i])))]


def compare(a_raw: np.ndarray, b_raw: np.ndarray) -> DataSide:
    from sklearn.neighbors import NearestNeighbors

    a, b = per_person(a_raw), per_person(b_raw)
    scale = spread(b)
    index = NearestNeighbors(n_neighbors=min(2, len(b))).fit(b / scale)
    own = index.kneighbors(b / scale)[0][:, -1]  # the nearest other frame (itself is at 0)
    distance, nearest = (v[:, 0] for v in index.kneighbors(a / scale, n_neighbors=1))
    return DataSide(distance, nearest, float(np.percentile(own, QUANTILE)), (a - b[nearest]) / scale, a, b)


_PHRASES = {  # per axis: (above B's range, below it); {} is B's limit
    "mouth": ("no mouth open wider than {:.3f} of the crop", "no mouth shut tighter than {:.3f} of the crop"),
    "mouth width": ("no mouth wider than {:.2f} of its usual width (a broad smile)",
                    "no mouth narrower than {:.2f} of its usual width (funnelled or pursed lips)"),
    "lips": ("no mouth with the lips more than {:.3f} of the crop further apart than at rest (a tongue, a wide open mouth)",
             "no lips pressed tighter than at rest"),
    "right eye": ("no right eye opened wider than {:.2f} of its usual", "no right eye closed beyond {:.2f} of open"),
    "left eye": ("no left eye opened wider than {:.2f} of its usual", "no left eye closed beyond {:.2f} of open"),
    "pitch": ("no frames with pitch above {:+.0f} degrees from the person's usual",
              "no frames with pitch below {:+.0f} degrees from the person's usual"),
}  # fmt: skip


def _phrase(axis: str, above: bool, limit: float) -> str:
    default = (f"no frames with {axis} above {{:+.0f}} degrees", f"no frames with {axis} below {{:+.0f}} degrees")
    return _PHRASES.get(axis, default)[0 if above else 1].format(limit)


def missing(side: DataSide, flagged: list[int], least: int = 2) -> list[str]:
    """What B's data lacks, in words a user can act on: per axis and direction that at least `least`
    flagged frames leave B's range by, with how many frames of A do and how far they go."""
    found = []
    for k, axis in enumerate(AXES):
        lo, hi = np.percentile(side.b[:, k], [1, 99])
        for above in (True, False):
            beyond = [i for i in flagged if (side.a[i, k] > hi if above else side.a[i, k] < lo)
                      and np.argmax(np.abs(side.gaps[i])) == k]  # fmt: skip
            if len(beyond) >= least:
                furthest = (max if above else min)(side.a[i, k] for i in beyond)
                found.append((len(beyond), f"{_phrase(axis, above, hi if above else lo)}: {len(beyond)} of A's frames go to {furthest:.3g}"))
    return [text for _, text in sorted(found, key=lambda item: -item[0])]
