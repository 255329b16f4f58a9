"""The 68 landmarks a crop's sidecar holds, read as untrusted input.

`combtf extract` writes them from dlib's predictor on the frame, DeepFaceLab imports carry the
ones its extractor found, and `combtf demo-data` the ones its renderer drew.  Expression balance
and the coverage report's pose-and-expression space read them here.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MAX_SIDECAR_BYTES = 1 << 20


def crop_landmarks(crop: Path) -> tuple[np.ndarray, float] | None:
    """(points [68, 2] in crop pixels, crop size) from `crop`'s .json; None where it has no usable landmarks."""
    sidecar = crop.with_suffix(".json")
    try:
        if sidecar.stat().st_size > MAX_SIDECAR_BYTES:
            return None
        meta = json.loads(sidecar.read_text())
        points = np.asarray(meta["crop_landmarks"], np.float64)
        size = float(meta["crop_size"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    if points.shape != (68, 2) or not np.isfinite(points).all() or not 0 < size < np.inf:
        return None
    return points, size
