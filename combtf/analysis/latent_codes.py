"""The latent codes of each identity's frames, sampled evenly over each identity's folder (a video's
frames stay spread over the shot) and encoded once at one level (`combtf latent-plot`, `combtf coverage`).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from combtf.data.faceset import load_crops, scan
from combtf.errors import CombtfError
from combtf.levels import resolution
from combtf.model.latent_stats import encode_images
from combtf.swap.from_run import TrainedModel


@dataclass
class Frames:
    """Per identity: the sampled files, their crops and masks at the level's size, and their codes."""

    level: int
    paths: dict[str, list[Path]]
    codes: dict[str, np.ndarray]  # float32 [n, latent elements]
    images: dict[str, np.ndarray]  # uint8 [n, s, s, 3]
    masks: dict[str, np.ndarray]  # uint8 [n, s, s, 1]

    @property
    def identities(self) -> list[str]:
        return list(self.paths)


def check_level(trained: TrainedModel, level: int | None) -> int:
    if level is None:
        return trained.level
    if not 0 <= level <= trained.level:
        raise CombtfError(f"--level {level}: {trained.run} has trained levels 0..{trained.level}")
    return level


def sample_frames(
    trained: TrainedModel,
    data_dir: Path,
    identities: list[str] | None,
    level: int,
    max_samples: int,
    progress: Callable[[int], None] | None = None,
) -> Frames:
    """Up to `max_samples` frames per identity, evenly spaced, encoded at `level` (alpha 1)."""
    if max_samples < 2:
        raise CombtfError(f"--max-samples must be >= 2, got {max_samples}")
    faces = scan(data_dir, identities)
    for name in faces.identities:
        trained.check_identity(name, "identities")
    size = resolution(level)
    frames = Frames(level, {}, {}, {}, {})
    for name, paths in faces.images.items():
        step = max(1, math.ceil(len(paths) / max_samples))
        chosen = paths[::step][:max_samples]
        images, frames.masks[name], _ = load_crops(chosen, size, faces.skipped)
        frames.images[name] = images
        frames.paths[name] = [p for p in chosen if str(p) not in faces.skipped]
        frames.codes[name] = encode_images(trained.model, images, level, progress=progress).reshape(len(images), -1)
    return frames
