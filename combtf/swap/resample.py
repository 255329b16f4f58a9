"""A fixed affine resample as gathers: how an exported graph moves pixels between two crop layouts
(a DFM's whole-face input and combtf's template) with ops every ONNX opset since 11 has (Gather,
Mul, Add, Reshape), where GridSample would need opset 16 and DeepFaceLab's own DFMs use 12-13.

Bilinear, with `faces.align.warp`'s convention (drawn pixel p shows source pixel invert(matrix)(p));
taps past the border repeat the edge.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from combtf.faces.align import invert


@dataclass(frozen=True)
class Taps:
    source: tuple[int, int]  # (h, w) of the images read
    size: tuple[int, int]  # (h, w) of the images drawn
    index: np.ndarray  # int32 [4, h*w]: flat source pixel of each tap
    weight: np.ndarray  # float32 [4, h*w, 1]
    inside: np.ndarray  # float32 [h, w, 1]: 1 where the drawn pixel's centre falls inside the source


def taps(matrix: np.ndarray, source: tuple[int, int], size: tuple[int, int]) -> Taps:
    """`matrix` (2x3) takes source pixel coordinates to drawn ones, as `faces.align.crop_affine` does."""
    (sh, sw), (h, w) = source, size
    back = invert(np.asarray(matrix, np.float64))
    ys, xs = np.mgrid[0:h, 0:w]
    at = np.stack([xs.ravel(), ys.ravel()], 1) @ back[:, :2].T + back[:, 2]  # in source pixel indices
    x0, y0 = np.floor(at[:, 0]), np.floor(at[:, 1])
    fx, fy = at[:, 0] - x0, at[:, 1] - y0
    index, weight = [], []
    for dy, dx, wt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        xi = np.clip(x0 + dx, 0, sw - 1).astype(np.int64)
        yi = np.clip(y0 + dy, 0, sh - 1).astype(np.int64)
        index.append(yi * sw + xi)
        weight.append(wt)
    inside = (at[:, 0] >= -0.5) & (at[:, 0] <= sw - 0.5) & (at[:, 1] >= -0.5) & (at[:, 1] <= sh - 0.5)
    return Taps(source, size, np.asarray(index, np.int32), np.asarray(weight, np.float32)[..., None],
                inside.reshape(h, w, 1).astype(np.float32))


def resample(images: tf.Tensor, chosen: Taps) -> tf.Tensor:
    """images [n, sh, sw, c] -> [n, h, w, c]."""
    (sh, sw), (h, w) = chosen.source, chosen.size
    channels = images.shape[-1]
    flat = tf.reshape(images, [-1, sh * sw, channels])
    drawn = tf.add_n([tf.gather(flat, chosen.index[k], axis=1) * chosen.weight[k] for k in range(4)])
    return tf.reshape(drawn, [-1, h, w, channels])
