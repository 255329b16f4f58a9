"""Preview grids: per identity, input | reconstruction | its swap into every other identity."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from combtf.images import write_png
from combtf.latents import LatentStats
from combtf.mirror import mirror_mean, with_mirrors
from combtf.model import CombModel
from combtf.provenance import png_text

MIN_CELL = 64  # small levels are enlarged (nearest) so a 4 px face is still visible


def grid(model: CombModel, level: int, alpha: float, samples: dict[str, np.ndarray], stats: LatentStats | None = None,
         strength: float = 1.0, mirror: bool = False) -> np.ndarray:
    """Rows: identity x sample.  Columns: input, reconstruction, then decoded as each other identity
    (with latent matching when `stats` are given and mirror averaging when asked, as `combtf swap` does)."""
    names = list(model.arch.identities)
    rows = []
    for ident, images in samples.items():
        x = images.astype(np.float32) / 255.0
        z = model.encode(with_mirrors(x) if mirror else x, level, alpha)
        codes = {name: stats.match(z, name, ident, strength) if stats else z for name in names}
        drawn = {name: model.decode(codes[name], name, level, alpha) for name in names}
        decoded = {name: np.asarray(mirror_mean(d) if mirror else d) for name, d in drawn.items()}
        columns = [x, decoded[ident]] + [decoded[name] for name in names if name != ident]
        rows.append(np.concatenate([np.concatenate(list(col), axis=0) for col in columns], axis=1))
    sheet = (np.clip(np.concatenate(rows, axis=0), 0, 1) * 255).round().astype(np.uint8)
    size = next(iter(samples.values())).shape[1]
    scale = max(1, MIN_CELL // size)
    return sheet.repeat(scale, 0).repeat(scale, 1)


def write(
    paths: list[Path], model: CombModel, level: int, alpha: float, samples: dict[str, np.ndarray], stats: LatentStats | None, run: str,
    strength: float, mirror: bool,
) -> None:
    """Render once, write the same grid to every path (e.g. the step's file and latest.png)."""
    sheet, note = grid(model, level, alpha, samples, stats, strength, mirror), png_text(run, "training preview")
    for path in paths:
        write_png(path, sheet, note)
