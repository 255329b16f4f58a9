"""Masked image similarity: the loss only sees face pixels.

The mask is applied after the forward pass (prediction and target both multiplied by
it), and every SSIM window is weighted by how much of it lies inside the mask.  A black
background therefore neither produces gradient nor inflates the score, unlike a plain
SSIM of masked images, where the zeroed background counts as a perfect match.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from combtf.faces.template import EYES, MOUTH, feature_box

WINDOW = 11
SIGMA = 1.5
MIN_SIZE = 16  # smaller images are upsampled so one SSIM window fits, as in the reference
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_C1, _C2 = 0.01**2, 0.03**2
_EPS = 1e-6


def _window(channels: int) -> tf.Tensor:
    ax = tf.range(WINDOW, dtype=tf.float32) - (WINDOW - 1) / 2
    g = tf.exp(-(ax**2) / (2 * SIGMA**2))
    g = g / tf.reduce_sum(g)
    kernel = tf.tensordot(g, g, axes=0)[:, :, None, None]
    return tf.tile(kernel, [1, 1, channels, 1])


def _blur(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.depthwise_conv2d(x, _window(x.shape[-1]), [1, 1, 1, 1], "VALID")


def _weighted_mean(value: tf.Tensor, weight: tf.Tensor) -> tf.Tensor:
    """Per-sample mean of a [B, h, w, 1] map over the mask's windows."""
    return tf.reduce_sum(value * weight, axis=[1, 2, 3]) / (tf.reduce_sum(weight, axis=[1, 2, 3]) + _EPS)


def _ssim_terms(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Luminance*structure map and contrast-structure map, averaged over channels."""
    mu_x, mu_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mu_x**2
    var_y = _blur(y * y) - mu_y**2
    cov = _blur(x * y) - mu_x * mu_y
    cs = (2 * cov + _C2) / (var_x + var_y + _C2)
    lum = (2 * mu_x * mu_y + _C1) / (mu_x**2 + mu_y**2 + _C1)
    return tf.reduce_mean(lum * cs, -1, keepdims=True), tf.reduce_mean(cs, -1, keepdims=True)


def _prepare(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    y_pred, y_true, mask = (tf.cast(t, tf.float32) for t in (y_pred, y_true, mask))
    size = y_true.shape[1]
    if size is not None and size < MIN_SIZE:
        up = [MIN_SIZE, MIN_SIZE]
        y_pred, y_true = tf.image.resize(y_pred, up, "bilinear"), tf.image.resize(y_true, up, "bilinear")
        mask = tf.image.resize(mask, up, "bilinear")
    return y_pred * mask, y_true * mask, mask


def masked_ssim(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """SSIM per sample [B], over the windows inside the mask ([B, H, W, 1] in [0, 1])."""
    x, y, mask = _prepare(y_pred, y_true, mask)
    ssim_map, _ = _ssim_terms(x, y)
    return _weighted_mean(ssim_map, _blur(mask))


def ms_ssim_scales(size: int) -> int:
    """How many MS-SSIM scales fit: the coarsest must still hold one window."""
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and size // 2**scales >= WINDOW:
        scales += 1
    return scales


def masked_ms_ssim(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Multi-scale SSIM per sample [B]; the mask is pooled with the images at every scale."""
    x, y, mask = _prepare(y_pred, y_true, mask)
    scales = ms_ssim_scales(int(x.shape[1]))
    weights = tf.constant(MS_SSIM_WEIGHTS[:scales], tf.float32)
    weights = weights / tf.reduce_sum(weights)
    values = []
    for s in range(scales):
        ssim_map, cs_map = _ssim_terms(x, y)
        term = ssim_map if s == scales - 1 else cs_map
        values.append(tf.nn.relu(_weighted_mean(term, _blur(mask))))
        x, y, mask = (tf.nn.avg_pool2d(t, 2, 2, "VALID") for t in (x, y, mask))
    return tf.reduce_prod(tf.stack(values, -1) ** weights, -1)


def masked_l1(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per sample [B] over mask pixels only."""
    mask = tf.cast(mask, tf.float32)
    diff = tf.abs(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32)) * mask
    return tf.reduce_sum(diff, [1, 2, 3]) / (3 * tf.reduce_sum(mask, [1, 2, 3]) + _EPS)


def masked_gradient_l1(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Per sample [B]: mean absolute difference of the horizontal and vertical pixel steps, where
    both pixels of a step lie inside the mask.

    An L1 on pixels lets a lip edge that is half a pixel off cost as little as a slightly wrong
    shade; the difference of the steps puts the cost on the edge itself (Mathieu et al. 2016's
    gradient difference loss)."""
    y_pred, y_true, mask = (tf.cast(t, tf.float32) for t in (y_pred, y_true, mask))
    total, count = 0.0, 0.0
    for axis in (1, 2):
        (p0, p1), (t0, t1), (m0, m1) = (_neighbours(t, axis) for t in (y_pred, y_true, mask))
        weight = m0 * m1
        total += tf.reduce_sum(tf.abs((p1 - p0) - (t1 - t0)) * weight, [1, 2, 3])
        count += 3 * tf.reduce_sum(weight, [1, 2, 3])
    return total / (count + _EPS)


def _neighbours(t: tf.Tensor, axis: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Every pixel but the last along `axis`, and its next neighbour."""
    return (t[:, :-1], t[:, 1:]) if axis == 1 else (t[:, :, :-1], t[:, :, 1:])


def masked_psnr(y_pred: tf.Tensor, y_true: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """PSNR per sample [B] (dB, peak 1.0) from the mean squared error over mask pixels."""
    mask = tf.cast(mask, tf.float32)
    err = tf.square(tf.cast(y_pred, tf.float32) - tf.cast(y_true, tf.float32)) * mask
    mse = tf.reduce_sum(err, [1, 2, 3]) / (3 * tf.reduce_sum(mask, [1, 2, 3]) + _EPS)
    return 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)


def code_distance(z: tf.Tensor, reference: tf.Tensor) -> tf.Tensor:
    """Per sample [B]: 1 - cosine similarity of the codes' channel vectors, averaged over positions.

    Blind to the codes' scale: every decoder starts with a convolution and a pixel norm, so a code
    scaled down decodes nearly the same, and a distance that shrank with it could be zeroed for free."""
    z, reference = tf.cast(z, tf.float32), tf.cast(reference, tf.float32)
    cosine = tf.reduce_sum(tf.math.l2_normalize(z, -1, _EPS) * tf.math.l2_normalize(reference, -1, _EPS), -1)
    return tf.reduce_mean(1.0 - cosine, [1, 2])


def eyes_and_mouth(size: int) -> tf.Tensor:
    """[1, size, size, 1]: 1 in the template's eye and mouth boxes of an aligned crop, else 0.

    Padded by 8 % of the crop, so a crop shifted or turned by the affine augmentation keeps its
    features inside."""
    region = np.zeros([1, size, size, 1], np.float32)
    for points in (EYES, MOUTH):
        x0, y0, x1, y1 = feature_box(size, points, pad=0.08)
        region[0, y0:y1, x0:x1] = 1.0
    return tf.constant(region)


def reconstruction_loss(
    y_pred: tf.Tensor,
    y_true: tf.Tensor,
    mask: tf.Tensor,
    kind: str = "ssim",
    l1_weight: float = 0.0,
    eyes_mouth_weight: float = 0.0,
    detail_weight: float = 0.0,
) -> tuple[tf.Tensor, tf.Tensor]:
    """(loss, masked SSIM) per sample.  MS-SSIM is used only where it fits (>= 128 px).

    `eyes_mouth_weight` adds a masked L1 over the eye and mouth boxes alone: they are a small
    share of the face, so the whole-face loss gives the expression little gradient (DeepFaceLab's
    "eyes and mouth priority" does the same with landmark hulls).  `detail_weight` adds a
    gradient difference over the same boxes, for lips that move less than a pixel."""
    score = masked_ssim(y_pred, y_true, mask)
    similarity = masked_ms_ssim(y_pred, y_true, mask) if kind == "ms_ssim" and y_true.shape[1] >= 128 else score
    loss = 1.0 - similarity
    if l1_weight:
        loss = loss + l1_weight * masked_l1(y_pred, y_true, mask)
    features = tf.cast(mask, tf.float32) * eyes_and_mouth(y_true.shape[1])
    if eyes_mouth_weight:
        loss = loss + eyes_mouth_weight * masked_l1(y_pred, y_true, features)
    if detail_weight:
        loss = loss + detail_weight * masked_gradient_l1(y_pred, y_true, features)
    return loss, score
