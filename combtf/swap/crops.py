"""Swaps of aligned face crops: encode the target's crop, decode it as the source, put it back by the crop's mask."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from combtf.data.faceset import load_crop
from combtf.errors import CombtfError
from combtf.io.images import write_png
from combtf.io.provenance import png_text
from combtf.swap.swapper import Swapper

log = logging.getLogger(__name__)
BATCH = 16


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
