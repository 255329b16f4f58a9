"""Draw each person's rare expressions more often.

A calm person's few open-mouth frames are a small share of their crops, so uniform draws teach the
shared encoder little about them, and swaps onto that person follow their mouth poorly.  Each crop is
drawn with probability proportional to density**-strength, where density is how common its expression
(mouth and eye opening, from its sidecar's landmarks) is among the person's crops: strength 0 draws
uniformly, 1 evenly over expressions.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from combtf.data.sidecars import crop_landmarks
from combtf.faces.expression import eye_opening, mouth_opening

log = logging.getLogger(__name__)
MAX_RATIO = 10.0  # no crop is drawn more than ten times as often as the most common one


def expression(crop: Path) -> tuple[float, float] | None:
    """(mouth opening, mean eye opening) of an aligned crop; None where its sidecar has no usable landmarks."""
    found = crop_landmarks(crop)
    if found is None:
        return None
    points, size = found
    return mouth_opening(points, size), (eye_opening(points, 36) + eye_opening(points, 42)) / 2


def draw_weights(crops: list[Path], strength: float) -> np.ndarray | None:
    """Draw probabilities of `crops` (summing to 1), or None for uniform draws: strength 0, fewer
    than three crops, or any crop without landmarks (a weighting of the others would be arbitrary)."""
    if strength == 0 or len(crops) < 3:
        return None
    found = [expression(path) for path in crops]
    missing = [path for path, value in zip(crops, found) if value is None]
    if missing:
        log.warning("%s: no landmarks in its sidecar (.json); %s draws uniformly", missing[0], missing[0].parent)
        return None
    x = np.array(found)
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    bandwidth = len(x) ** (-1 / 6)  # Scott's rule in two dimensions, on standardised features
    density = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / (2 * bandwidth**2)).mean(1)
    weights = density**-strength
    weights = np.minimum(weights, weights.min() * MAX_RATIO)
    return weights / weights.sum()
