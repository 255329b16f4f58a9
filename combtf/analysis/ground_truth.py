"""Score swaps against the synthetic set's ground truth (the same performance rendered as the source)."""
from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np

from combtf.data.faceset import load_crops
from combtf.errors import CombtfError
from combtf.io.images import list_images
from combtf.swap.swapper import Swapper, match_strength
from combtf.training.losses import masked_psnr, masked_ssim


def evaluate(trained: Swapper, eval_dir: Path, pairs: list[tuple[str, str]] | None = None, match: bool = True) -> dict:
    """Masked SSIM/PSNR of swap(source <- target frame) vs the truth frame, per ordered pair.

    The truth's own mask is used: it marks where the source's face should be.  Each
    identity's reconstruction of its own frames is reported too, as the ceiling a swap can reach.
    """
    if not eval_dir.is_dir():
        raise CombtfError(f"{eval_dir}: evaluation folder does not exist")
    present = [i for i in trained.config.identities if (eval_dir / i).is_dir()]
    if pairs is None:
        pairs = list(permutations(present, 2))
    if not pairs:
        raise CombtfError(f"{eval_dir}: needs frames of at least 2 of the model's identities ({', '.join(trained.config.identities)})")
    size = trained.resolution
    frames = {}

    def load(ident: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        if ident not in frames:
            if not (eval_dir / ident).is_dir():
                raise CombtfError(f"{eval_dir / ident}: no evaluation frames for identity '{ident}'")
            paths = list_images(eval_dir / ident)
            images, masks, _ = load_crops(paths, size)
            frames[ident] = {p.stem: (img, m) for p, img, m in zip(paths, images, masks)}
        return frames[ident]

    def score(source: str, target: str) -> dict:
        truth, inputs = load(source), load(target)
        stems = sorted(set(truth) & set(inputs))
        if not stems:
            raise CombtfError(f"{eval_dir}: '{source}' and '{target}' share no frame names")
        x = np.stack([inputs[s][0] for s in stems]).astype(np.float32) / 255.0
        t = np.stack([truth[s][0] for s in stems]).astype(np.float32) / 255.0
        m = np.stack([truth[s][1] for s in stems]).astype(np.float32) / 255.0
        y = trained.swap(x, source, target, match)
        return {
            "source": source,
            "target": target,
            "frames": len(stems),
            "masked_ssim": float(np.mean(masked_ssim(y, t, m))),
            "masked_psnr": float(np.mean(masked_psnr(y, t, m))),
        }

    for source, target in pairs:
        trained.check_identity(source, "source")
        trained.check_identity(target, "target")
    swaps = [score(s, t) for s, t in pairs]
    recon = [score(i, i) for i in sorted({i for pair in pairs for i in pair})]
    return {
        "model": str(trained.run),
        "resolution": size,
        "latent_match": match_strength(trained, match),
        "mirror_average": trained.config.mirror_average,
        "pairs": swaps,
        "reconstructions": recon,
        "mean": {
            "masked_ssim": float(np.mean([p["masked_ssim"] for p in swaps])),
            "masked_psnr": float(np.mean([p["masked_psnr"] for p in swaps])),
        },
    }
