"""Score swaps against the synthetic set's ground truth (the same performance rendered as the source)."""
from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np
import tensorflow as tf

from combtf.analysis.detail import band_psnr, detail_ratio, half_resolution
from combtf.data.faceset import load_crops
from combtf.errors import CombtfError
from combtf.io.images import list_images
from combtf.swap.swapper import Swapper, match_strength
from combtf.training.losses import masked_psnr, masked_ssim


def evaluate(
    trained: Swapper,
    eval_dir: Path,
    pairs: list[tuple[str, str]] | None = None,
    match: bool = True,
    size: int | None = None,
    per_frame: bool = False,
) -> dict:
    """Masked SSIM/PSNR and the detail ratio (`detail.py`) of swap(source <- target frame) vs the truth
    frame, per ordered pair.

    The truth's own mask is used: it marks where the source's face should be.  Each
    identity's reconstruction of its own frames is reported too, as the ceiling a swap can reach.
    `size` scores at another resolution than the model's (inputs resized to the model's, swaps
    upscaled bilinearly): how a curve over progressive training compares its low levels with the last.
    `per_frame` adds each frame's masked SSIM (paired comparisons of two models bootstrap over frames).
    """
    if not eval_dir.is_dir():
        raise CombtfError(f"{eval_dir}: evaluation folder does not exist")
    present = [i for i in trained.config.identities if (eval_dir / i).is_dir()]
    if pairs is None:
        pairs = list(permutations(present, 2))
    if not pairs:
        raise CombtfError(f"{eval_dir}: needs frames of at least 2 of the model's identities ({', '.join(trained.config.identities)})")
    size = size or trained.resolution
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
        y = _swap_at(trained, x, source, target, match)
        scores = np.asarray(masked_ssim(y, t, m))
        return {
            "source": source,
            "target": target,
            "frames": len(stems),
            "masked_ssim": float(np.mean(scores)),
            "masked_psnr": float(np.mean(masked_psnr(y, t, m))),
            "detail_ratio": detail_ratio(y, t, m, m),
            "half_resolution_ceiling": detail_ratio(half_resolution(y), t, m, m),
            "detail_band_psnr": band_psnr(y, t, m),
            **({"masked_ssim_per_frame": [round(float(v), 5) for v in scores]} if per_frame else {}),
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
        "mean": {key: float(np.mean([p[key] for p in swaps]))
                 for key in ("masked_ssim", "masked_psnr", "detail_ratio", "half_resolution_ceiling", "detail_band_psnr")},
    }


def _swap_at(trained: Swapper, x: np.ndarray, source: str, target: str, match: bool) -> np.ndarray:
    """Swaps of `x` at x's own size, whatever the model's."""
    size, native = x.shape[1], trained.resolution
    if size != native:
        x = tf.image.resize(x, [native, native], "area").numpy()
    y = np.asarray(trained.swap(x, source, target, match), np.float32)
    if size != native:
        y = np.clip(tf.image.resize(y, [size, size], "bilinear").numpy(), 0, 1)
    return y
