"""2-D maps of latent codes, and how much two identities' codes overlap (`combtf latent-plot`).

TensorFlow-free: the command line reads its choice of methods from here before anything heavy loads.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError
from combtf.io.atomic import write_atomic

METHODS = ("tsne", "pca", "umap")  # the first is the default


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


def split(points: np.ndarray, codes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows of a stacked array back to the identities whose `codes` were stacked, in order."""
    out, start = {}, 0
    for name, rows in codes.items():
        out[name] = points[start : start + len(rows)]
        start += len(rows)
    return out
