"""The swap, written once: encode the target's frames, optionally with their mirror images, move
the codes to the source's statistics, decode them as the source, and average each frame's draw
with its mirror image's, mirrored back.

A run folder (`swap/from_run.py`), an export's graph (`swap/export.py`) and the training previews
(`training/preview.py`) all call `swap_faces`, so they draw the same pixels. Mirror averaging
(`mirror_average`): training flips faces, so the model draws both halves of every face; on real
faces the two draws disagree mostly in noise that landmarks read as expression
(docs/experiments/real-faces.md).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

Codes = Callable[[tf.Tensor], tf.Tensor]


class Swapped(NamedTuple):
    faces: tf.Tensor  # float32 [n, s, s, 3] in [0, 1]
    codes: tf.Tensor  # float32 [n, ...]: the frames' own codes, before matching


def swap_faces(images: tf.Tensor, encode: Codes, decode: Codes, match: Codes | None = None, mirror: bool = False) -> Swapped:
    """Frames [n, s, s, 3] of the target -> the source's face; `encode` and `decode` are the shared
    encoder and the source's decoder at one level, `match` moves a code to the source's statistics."""
    n = tf.shape(images)[0]
    codes = tf.cast(encode(with_mirrors(images) if mirror else images), tf.float32)
    drawn = tf.cast(decode(match(codes) if match is not None else codes), tf.float32)
    return Swapped(mirror_mean(drawn) if mirror else drawn, codes[:n])


def with_mirrors(images: tf.Tensor) -> tf.Tensor:
    """The frames, then their mirror images, as one batch."""
    return tf.concat([images, tf.reverse(images, [2])], 0)


def mirror_mean(swapped: tf.Tensor) -> tf.Tensor:
    """The mean of each frame's swap and its mirror image's swap, mirrored back."""
    n = tf.shape(swapped)[0] // 2
    return (swapped[:n] + tf.reverse(swapped[n:], [2])) / 2
