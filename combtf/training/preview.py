"""Preview grids: per identity, input | reconstruction | its swap into every other identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from combtf.io.images import write_png
from combtf.io.provenance import png_text
from combtf.model.latent_stats import LatentStats
from combtf.model.network import CombModel
from combtf.model.swap import swap_faces

MIN_CELL = 64  # small levels are enlarged (nearest) so a 4 px face is still visible


def grid(model: CombModel, level: int, alpha: float, samples: dict[str, np.ndarray], stats: LatentStats | None = None,
         strength: float = 1.0, mirror: bool = False) -> np.ndarray:
    """Rows: identity x sample.  Columns: input, reconstruction, then decoded as each other identity
    (with latent matching when `stats` are given and mirror averaging when asked, as `combtf swap` does)."""
    names = list(model.arch.identities)
    rows = []
    for ident, images in samples.items():
        x = images.astype(np.float32) / 255.0
        order = [ident] + [name for name in names if name != ident]
        columns = [x] + [_drawn(model, x, name, ident, level, alpha, stats, strength, mirror) for name in order]
        rows.append(np.concatenate([np.concatenate(list(col), axis=0) for col in columns], axis=1))
    sheet = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    size = next(iter(samples.values())).shape[1]
    scale = max(1, MIN_CELL // size)
    return sheet.repeat(scale, 0).repeat(scale, 1)


def _drawn(model: CombModel, x: np.ndarray, source: str, target: str, level: int, alpha: float, stats: LatentStats | None,
           strength: float, mirror: bool) -> np.ndarray:
    """`target`'s frames drawn by `source`'s decoder, exactly as a swap from the run folder draws them."""
    match = (lambda z: stats.match(z, source, target, strength)) if stats else None
    swapped = swap_faces(x, lambda i: model.encode(i, level, alpha), lambda z: model.decode(z, source, level, alpha), match, mirror)
    return np.asarray(swapped.faces)


def write(
    paths: list[Path], model: CombModel, level: int, alpha: float, samples: dict[str, np.ndarray], stats: LatentStats | None, run: str,
    strength: float, mirror: bool,
) -> None:
    """Render once, write the same grid to every path (e.g. the step's file and latest.png)."""
    sheet, note = grid(model, level, alpha, samples, stats, strength, mirror), png_text(run, "training preview")
    for path in paths:
        write_png(path, sheet, note)
