"""Similarity alignment of a face onto the crop template, and the warps both ways.

Every crop puts the predictor's mean face at the same pixels: the template is that mean
shape scaled by TEMPLATE_SCALE and placed so that forehead and chin fit inside the crop.
Only the nose and eye points decide the transform, so an open mouth or raised brows do not
move or scale the crop.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from combtf.faces.landmarks import STABLE, mean_shape

TEMPLATE_SCALE = 0.6  # crop widths per unit of the mean shape's box
TEMPLATE_ANCHOR = (0.5, 0.58)  # this mean-shape point ...
CROP_ANCHOR = (0.5, 0.52)  # ... lands here in the crop (fractions of the crop size)


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


def template(size: int) -> np.ndarray:
    """The 68 template points [68, 2] in pixels of a `size` x `size` crop."""
    anchor, crop = np.asarray(TEMPLATE_ANCHOR), np.asarray(CROP_ANCHOR)
    return ((mean_shape() - anchor) * TEMPLATE_SCALE + crop) * size


EYES, MOUTH = slice(36, 48), slice(48, 68)  # template points of both eyes, of the mouth


def feature_box(size: int, points: slice, pad: float = 0.04) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the box of some template points in a `size` crop, padded by `pad` of the crop."""
    chosen = template(size)[points]
    x0, y0 = np.floor(chosen.min(0) - pad * size).astype(int)
    x1, y1 = np.ceil(chosen.max(0) + pad * size).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)


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
