"""Augmentation of a batch of crops inside the tf.data graph: flip, affine jitter, warp, colour.

Every random draw is stateless, seeded from (seed, identity, step), so a batch is the same
whatever process draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Augment:
    """Which augmentations run.  Warp applies to the encoder input only (DeepFaceLab style):
    the network must undo it, which is what teaches the decoders expressions they never saw."""

    flip: bool = True
    affine: bool = True
    warp: bool = True
    color: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.05
    shift: float = 0.05
    affine_amount: float = 1.0  # scales the three above: on aligned crops it trades eyes for mouth (docs/experiments/real-faces.md)
    warp_cells: int = 4
    warp_amount: float = 0.24  # of a cell, as DeepFaceLab


def _bilinear(images: tf.Tensor, coords: tf.Tensor) -> tf.Tensor:
    """Sample [B, H, W, C] at float pixel coords [B, H, W, 2] (y, x), edges replicated."""
    size = tf.shape(images)[1]
    limit = tf.cast(size - 1, tf.float32)
    y, x = tf.clip_by_value(coords[..., 0], 0.0, limit), tf.clip_by_value(coords[..., 1], 0.0, limit)
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    y0i, x0i = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    y1i, x1i = tf.minimum(y0i + 1, size - 1), tf.minimum(x0i + 1, size - 1)

    def at(yi: tf.Tensor, xi: tf.Tensor) -> tf.Tensor:
        return tf.gather_nd(images, tf.stack([yi, xi], -1), batch_dims=1)

    top = at(y0i, x0i) * (1 - wx) + at(y0i, x1i) * wx
    bottom = at(y1i, x0i) * (1 - wx) + at(y1i, x1i) * wx
    return top * (1 - wy) + bottom * wy


def _affine_coords(seed: tf.Tensor, batch: int, size: int, aug: Augment) -> tf.Tensor:
    """Source pixel coords for a random rotation/scale/shift about the centre (flip included)."""
    r = tf.random.stateless_uniform([batch, 5], seed, -1.0, 1.0)
    c = (size - 1) / 2.0
    grid = tf.cast(tf.stack(tf.meshgrid(tf.range(size), tf.range(size), indexing="ij"), -1), tf.float32) - c
    grid = tf.tile(grid[None], [batch, 1, 1, 1])
    amount = aug.affine_amount if aug.affine else 0.0
    angle = r[:, 0] * np.deg2rad(aug.rotate_deg) * amount
    scale = 1.0 + r[:, 1] * aug.scale * amount
    shift = r[:, 2:4] * aug.shift * size * amount
    flip = tf.where(r[:, 4] < 0.0, -1.0, 1.0) if aug.flip else tf.ones([batch])
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    y, x = grid[..., 0], grid[..., 1] * flip[:, None, None]
    sy = (cos * y - sin * x) / scale[:, None, None] + shift[:, None, None, 0]
    sx = (sin * y + cos * x) / scale[:, None, None] + shift[:, None, None, 1]
    return tf.stack([sy, sx], -1) + c


def _warp_offsets(seed: tf.Tensor, batch: int, size: int, aug: Augment) -> tf.Tensor:
    """A smooth random displacement field: inner points of a coarse grid moved, borders fixed."""
    n = aug.warp_cells + 1
    cell = size / aug.warp_cells
    inner = tf.random.stateless_uniform([batch, n - 2, n - 2, 2], seed, -1.0, 1.0) * aug.warp_amount * cell
    coarse = tf.pad(inner, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.image.resize(coarse, [size, size], "bicubic")


def _color(seed: tf.Tensor, images: list[tf.Tensor]) -> list[tf.Tensor]:
    """The same brightness/contrast/saturation change applied to every tensor in `images`."""
    batch = tf.shape(images[0])[0]
    r = tf.random.stateless_uniform([batch, 1, 1, 3], seed, -1.0, 1.0)
    out = []
    for img in images:
        gray = tf.reduce_mean(img, -1, keepdims=True)
        img = gray + (img - gray) * (1.0 + 0.2 * r[..., 2:3])
        mean = tf.reduce_mean(img, [1, 2, 3], keepdims=True)
        img = mean + (img - mean) * (1.0 + 0.15 * r[..., 1:2]) + 0.08 * r[..., 0:1]
        out.append(tf.clip_by_value(img, 0.0, 1.0))
    return out


def augment(images: tf.Tensor, masks: tf.Tensor, seed: tf.Tensor, aug: Augment) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(encoder input, target, mask), float32.  Target and mask get flip+affine; input also the warp."""
    batch, size = images.shape[0], images.shape[1]
    images = tf.cast(images, tf.float32) / 255.0
    masks = tf.cast(masks, tf.float32) / 255.0
    seeds = tf.random.experimental.stateless_split(seed, 3)
    target, inputs = images, images
    if aug.flip or aug.affine or aug.warp:
        coords = _affine_coords(seeds[0], batch, size, aug)
        target, masks = _bilinear(images, coords), _bilinear(masks, coords)
        inputs = _bilinear(images, coords + _warp_offsets(seeds[1], batch, size, aug)) if aug.warp else target
    if aug.color:
        inputs, target = _color(seeds[2], [inputs, target])
    return inputs, target, masks
