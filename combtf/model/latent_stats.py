"""Per-identity latent statistics and the swap's latent moment matching.

The shared encoder still marks each identity with a small offset in the code: on the
synthetic set a linear probe tells the three identities apart from the code alone, although
the offset carries only ~2 % of the code's variance.  A decoder handed another identity's
code therefore decodes a code from outside its training distribution.  A swap maps the code
of the target's frame from the target's statistics (per element mean and std over the
target's training images) to the source's before decoding, as AdaIN does with feature
statistics.  It raised swap masked SSIM by 0.02-0.03 (docs/experiments/synthetic.md).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from combtf.config import UNKNOWN_TARGET as UNKNOWN
from combtf.errors import CombtfError
from combtf.model.network import CombModel

BATCH = 64
MIN_STD = 1e-4  # an element that never varies for the target stays put instead of exploding


class LatentStats:
    """Mean and std of every code element, per identity, measured at one training step."""

    def __init__(self, model: CombModel) -> None:
        arch = model.arch
        self.identities = list(arch.identities)
        shape = [len(self.identities), arch.latent_size, arch.latent_size, arch.latent_dim]
        self.mean = tf.Variable(tf.zeros(shape), trainable=False, name="mean")
        self.std = tf.Variable(tf.ones(shape), trainable=False, name="std")
        self.level = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="level")  # -1: never measured
        self.step = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="step")

    def measure(self, model: CombModel, level: int, alpha: float, images: dict[str, np.ndarray], step: int) -> None:
        """Encode every training image once (no augmentation); uint8 images at the level's size."""
        means, stds = [], []
        for ident in self.identities:
            codes = encode_images(model, images[ident], level, alpha).astype(np.float64)
            means.append(codes.mean(0))
            stds.append(codes.std(0))
        self.mean.assign(np.stack(means).astype(np.float32))
        self.std.assign(np.stack(stds).astype(np.float32))
        self.level.assign(level)
        self.step.assign(step)

    def ready(self, level: int) -> bool:
        return int(self.level.numpy()) == level

    def match(self, z: tf.Tensor, source: str, target: str, strength: float = 1.0) -> tf.Tensor:
        """The target's code, moved `strength` of the way to the source's statistics; target UNKNOWN
        stands for a face outside the run."""
        s = self._index(source)
        if target == UNKNOWN:
            mean, std = self.pooled(source)
        else:
            t = self._index(target)
            mean, std = self.mean[t], self.std[t]
        return match_codes(z, mean, std, self.mean[s], self.std[s], strength)

    def pooled(self, source: str) -> tuple[tf.Tensor, tf.Tensor]:
        """Mean and std of the equal mixture of every identity's codes but the source's: the best guess
        at a stranger's statistics that needs no frames of the stranger."""
        s = self._index(source)
        others = [i for i in range(len(self.identities)) if i != s]
        mean, std = tf.gather(self.mean, others), tf.gather(self.std, others)
        pooled_mean = tf.reduce_mean(mean, 0)
        variance = tf.reduce_mean(tf.square(std) + tf.square(mean), 0) - tf.square(pooled_mean)
        return pooled_mean, tf.sqrt(tf.maximum(variance, 0.0))

    def _index(self, identity: str) -> int:
        if identity not in self.identities:
            raise CombtfError(f"unknown identity '{identity}' (the model has: {', '.join(self.identities)})")
        return self.identities.index(identity)

    def trackables(self) -> dict[str, tf.Variable]:
        return {"mean": self.mean, "std": self.std, "level": self.level, "step": self.step}


def match_codes(
    z: tf.Tensor, mean_from: tf.Tensor, std_from: tf.Tensor, mean_to: tf.Tensor, std_to: tf.Tensor, strength: float = 1.0
) -> tf.Tensor:
    """Per element: standardise by the target's statistics, take on the source's, and go `strength`
    of the way there: on real faces halfway kept more of the target's mouth (docs/experiments/real-faces.md)."""
    z = tf.cast(z, tf.float32)
    moved = (z - mean_from) / tf.maximum(std_from, MIN_STD) * std_to + mean_to
    return z + strength * (moved - z)


def encode_images(
    model: CombModel, images: np.ndarray, level: int, alpha: float = 1.0, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """uint8 crops [n, s, s, 3] -> float32 codes [n, latent_size, latent_size, latent_dim], in batches."""
    codes = []
    for start in range(0, len(images), BATCH):
        chunk = images[start : start + BATCH].astype(np.float32) / 255.0
        codes.append(np.asarray(model.encode(chunk, level, alpha), np.float32))
        if progress:
            progress(len(chunk))
    return np.concatenate(codes)
