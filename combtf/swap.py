"""Swaps of aligned face crops: encode the target's frame, decode it as the source."""
from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import tensorflow as tf

from combtf.config import TrainConfig
from combtf.data import load_crop
from combtf.errors import CombtfError
from combtf.faces.video import VIDEO_EXTS
from combtf.images import IMAGE_EXTS, list_images, write_png
from combtf.provenance import png_text

log = logging.getLogger(__name__)
BATCH = 16


class Swapper(Protocol):
    """A run folder (`run.TrainedModel`) or an export folder (`exported.ExportedModel`)."""

    run: Path
    config: TrainConfig
    can_match: bool

    @property
    def resolution(self) -> int: ...

    def check_identity(self, name: str, role: str) -> None: ...

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> tf.Tensor: ...


def match_strength(trained: Swapper, match: bool) -> float:
    """How far swaps move the target's code towards the source's statistics (0: not at all), for reports:
    a score means little without it, and a run without statistics cannot match whatever was asked."""
    return float(trained.config.latent_match) if match and trained.can_match else 0.0


def resolve_inputs(spec: str | None, default_folder: Path) -> list[Path]:
    """A file, a folder or a glob of crops, photos or videos; by default the target's training images."""
    if spec is None:
        if not default_folder.is_dir():
            raise CombtfError(f"{default_folder}: the target's training folder is gone; pass --input")
        paths = list_images(default_folder)
    elif Path(spec).is_dir():
        paths = sorted(p for p in Path(spec).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS)
    elif Path(spec).is_file():
        paths = [Path(spec)]
    else:
        paths = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
    if not paths:
        raise CombtfError(f"{spec or default_folder}: no input images or videos found")
    return paths


@dataclass
class SwapSummary:
    written: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def composite(
    trained: Swapper, images: np.ndarray, masks: np.ndarray, source: str, target: str, match: bool = True, raw: bool = False
) -> np.ndarray:
    """uint8 crops [N, s, s, 3] and masks [N, s, s, 1] of the target -> the swapped face over each crop by its mask."""
    x = images.astype(np.float32) / 255.0
    y = np.asarray(trained.swap(x, source, target, match))
    if not raw:
        m = masks.astype(np.float32) / 255.0
        y = y * m + x * (1.0 - m)
    return (np.clip(y, 0, 1) * 255).round().astype(np.uint8)


def swap_crops(
    trained: Swapper,
    source: str,
    target: str,
    inputs: list[Path],
    output: Path,
    raw: bool = False,
    match: bool = True,
    progress: Callable[[int], None] | None = None,
) -> SwapSummary:
    """One PNG per input (same stem): the swapped face over the input crop by its mask, or bare with `raw`."""
    trained.check_identity(source, "source")
    trained.check_identity(target, "target")
    size = trained.resolution
    summary = SwapSummary()
    note = png_text(str(trained.run), f"source {source}, target {target}")
    for start in range(0, len(inputs), BATCH):
        chunk, images, masks = [], [], []
        for path in inputs[start : start + BATCH]:
            try:
                rgb, mask = load_crop(path, size)
            except CombtfError as exc:
                summary.skipped[str(path)] = str(exc)
                log.warning("skipping %s", exc)
                continue
            chunk.append(path)
            images.append(rgb)
            masks.append(np.full((size, size), 255, np.uint8) if mask is None else mask)
        if chunk:
            for path, pixels in zip(chunk, composite(trained, np.stack(images), np.stack(masks)[..., None], source, target, match, raw)):
                dest = output / f"{path.stem}.png"
                write_png(dest, pixels, note)
                summary.written.append(dest)
        if progress:
            progress(len(inputs[start : start + BATCH]))
    return summary
