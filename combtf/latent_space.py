"""The latent codes of each identity's frames: sampling, encoding, 2-D maps and overlap.

Frames are sampled evenly over each identity's folder (a video's frames stay spread over
the shot) and encoded once at one level (`combtf latent-plot`).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from combtf import data
from combtf.config import write_atomic
from combtf.errors import CombtfError
from combtf.latents import encode_images
from combtf.levels import resolution
from combtf.run import TrainedModel

METHODS = ("tsne", "pca", "umap")


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
    faces = data.scan(data_dir, identities)
    for name in faces.identities:
        trained.check_identity(name, "identities")
    size = resolution(level)
    frames = Frames(level, {}, {}, {}, {})
    for name, paths in faces.images.items():
        step = max(1, math.ceil(len(paths) / max_samples))
        chosen = paths[::step][:max_samples]
        images, frames.masks[name], _ = data.load_crops(chosen, size, faces.skipped)
        frames.images[name] = images
        frames.paths[name] = [p for p in chosen if str(p) not in faces.skipped]
        frames.codes[name] = encode_images(trained.model, images, level, progress=progress).reshape(len(images), -1)
    return frames


def centred(codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each identity's codes standardised, as latent matching does before a swap."""
    return {name: (c - c.mean(0)) / np.maximum(c.std(0), 1e-4) for name, c in codes.items()}


def reduce(points: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """[n, d] -> [n, 2]."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=seed).fit_transform(points)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(2, perplexity=min(30.0, (len(points) - 1) / 3), init="pca", random_state=seed).fit_transform(points)
    if method == "umap":
        try:
            import umap
        except ImportError as exc:
            raise CombtfError("--method umap needs umap-learn: pip install umap-learn (or use tsne or pca)") from exc
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(points)
    raise CombtfError(f"--method must be one of {', '.join(METHODS)}, got '{method}'")


def overlap(codes: dict[str, np.ndarray], k: int = 10) -> dict[tuple[str, str], float]:
    """For each ordered pair (A, B): the share of A's codes that have a B code among their k
    nearest neighbours in the codes of A and B together.  Mixed clouds score about
    n_B / (n_A + n_B) or more; separate clouds score near 0."""
    from sklearn.neighbors import NearestNeighbors

    scores = {}
    for a in codes:
        for b in codes:
            if a == b:
                continue
            both = np.concatenate([codes[a], codes[b]])
            k_here = min(k, len(both) - 1)
            index = NearestNeighbors(n_neighbors=k_here + 1).fit(both)
            _, neighbours = index.kneighbors(codes[a])
            scores[(a, b)] = float(np.mean((neighbours[:, 1:] >= len(codes[a])).any(axis=1)))
    return scores


def plot(points: dict[str, np.ndarray], title: str, out: Path) -> None:
    """One colour per identity, with a legend; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=110)
    for name, xy in points.items():
        ax.scatter(xy[:, 0], xy[:, 1], s=10, alpha=0.7, label=f"{name} ({len(xy)})")
    ax.legend(loc="best", markerscale=2)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    buffer = io.BytesIO()
    fig.savefig(buffer, format=out.suffix.lstrip(".") or "png", bbox_inches="tight")
    plt.close(fig)
    write_atomic(out, buffer.getvalue())


def split(points: np.ndarray, frames: Frames) -> dict[str, np.ndarray]:
    """Rows of a stacked array back to their identities."""
    out, start = {}, 0
    for name in frames.identities:
        out[name] = points[start : start + len(frames.codes[name])]
        start += len(frames.codes[name])
    return out
