"""Mirror averaging (`mirror_average`): a swap is the mean of the frame's swap and its mirror image's, mirrored back.

Training flips faces, so the model draws both halves of every face; on real faces the two draws
disagree mostly in noise that landmarks read as expression (README, configs/real.yaml)."""
from __future__ import annotations

import tensorflow as tf


def with_mirrors(images: tf.Tensor) -> tf.Tensor:
    """The frames, then their mirror images, as one batch."""
    return tf.concat([images, tf.reverse(images, [2])], 0)


def mirror_mean(swapped: tf.Tensor) -> tf.Tensor:
    """The mean of each frame's swap and its mirror image's swap, mirrored back."""
    n = tf.shape(swapped)[0] // 2
    return (swapped[:n] + tf.reverse(swapped[n:], [2])) / 2
