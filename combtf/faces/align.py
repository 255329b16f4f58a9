"""Similarity alignment of a face onto the crop template (`template.py`), and the warps both ways.

Only the nose and eye points decide the transform, so an open mouth or raised brows do not
move or scale the crop.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from combtf.faces.template import STABLE, template


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (2x3) that maps points `src` onto `dst` (Umeyama 1991)."""
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0  # no reflections
    rotation = u @ np.diag(sign) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((singular * sign).sum() / variance) if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def crop_affine(landmarks: np.ndarray, size: int) -> np.ndarray:
    """2x3 matrix that takes source pixel coordinates to crop pixel coordinates."""
    return umeyama(landmarks[STABLE], template(size)[STABLE])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear, -linear @ matrix[:, 2:]])


def warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample `image` so that output pixel p shows source point invert(matrix)(p); `size` is (w, h).

    PIL samples at pixel centres, hence the half-pixel shifts around the matrix.
    """
    back = invert(matrix)
    shift = back[:, 2] - back[:, :2] @ np.array([0.5, 0.5]) + 0.5
    coeffs = (*back[0, :2], shift[0], *back[1, :2], shift[1])
    img = Image.fromarray(image)
    return np.asarray(img.transform(size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC))
