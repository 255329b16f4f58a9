"""Writing one aligned face: crop, mask and sidecar, each atomically, the crop last.

The data loader only looks at `*.png` beside `masks/`, so a crop that exists always has its
mask and sidecar: an interrupted extraction leaves at most an orphan mask or sidecar.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

import combtf
from combtf.errors import CombtfError
from combtf.io.atomic import write_atomic
from combtf.io.images import write_png

TEMPLATE_NAME = "dlib-68-mean-shape"


def safe_name(text: str, limit: int = 80) -> str:
    """File names from untrusted names: no separators, no dots in front, bounded length."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).lstrip(".")[:limit] or "source"


def check_identity(identity: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", identity):
        raise CombtfError(f"--identity {identity!r}: use letters, digits, '.', '_' and '-' (it becomes a folder name)")


def write_crop(out: Path, stem: str, crop: np.ndarray, mask: np.ndarray, sidecar: dict) -> Path:
    sidecar = {**sidecar, "crop_size": int(crop.shape[0]), "template": TEMPLATE_NAME, "combtf": combtf.__version__}
    write_png(out / "masks" / f"{stem}.png", mask)
    write_atomic(out / f"{stem}.json", json.dumps(sidecar, indent=1).encode())
    path = out / f"{stem}.png"
    write_png(path, crop)
    return path


def points(array: np.ndarray) -> list[list[float]]:
    return np.round(np.asarray(array, dtype=np.float64), 2).tolist()
