"""Per-level crops -> an augmented, prefetched tf.data pipeline of (inputs, targets, masks) batches.

Batches are a pure function of (seed, identity, global step), drawn with stateless random ops,
so a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from combtf.data.augment import Augment, augment
from combtf.data.faceset import LevelData


def dataset(
    level: LevelData,
    identities: list[str],
    batch_size: int,
    seed: int,
    first_step: int,
    last_step: int,
    aug: Augment,
) -> tf.data.Dataset:
    """Steps first_step..last_step-1; each element is (inputs, targets, masks), one [B, ...] per identity."""
    tensors = [(tf.constant(level.images[i]), tf.constant(level.masks[i]), level.draw_weights.get(i)) for i in identities]

    def make(step: tf.Tensor) -> tuple[tuple[tf.Tensor, ...], ...]:
        inputs, targets, masks = [], [], []
        for index, (imgs, msks, weights) in enumerate(tensors):
            key = tf.stack([tf.constant(seed * 1_000_003 + index * 7_919 + level.size, tf.int64), step])
            draw, aug_seed = tf.unstack(tf.random.experimental.stateless_split(key, 2))
            if weights is None:
                picks = tf.random.stateless_uniform([batch_size], draw, 0, imgs.shape[0], dtype=tf.int32)
            else:
                logits = tf.constant(np.log(weights)[None], tf.float32)
                picks = tf.random.stateless_categorical(logits, batch_size, draw, dtype=tf.int32)[0]
            x, t, m = augment(tf.gather(imgs, picks), tf.gather(msks, picks), aug_seed, aug)
            inputs.append(x)
            targets.append(t)
            masks.append(m)
        return tuple(inputs), tuple(targets), tuple(masks)

    steps = tf.data.Dataset.range(first_step, last_step)
    return steps.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def replica_dataset(
    draw: Callable[[int], tf.data.Dataset], batch_size: int, context: tf.distribute.InputContext
) -> tf.data.Dataset:
    """For `strategy.distribute_datasets_from_function`: this pipeline's replicas' slices of each
    step's global batch (`batch_size` per replica), one element per local replica in turn.
    `draw(global_batch)` is `dataset` with everything but the batch size given.

    Drawing the global batch and slicing it, rather than drawing per replica, makes a run over
    R replicas see exactly the batches of a one-device run with R times the batch size."""
    replicas = context.num_replicas_in_sync
    steps = draw(batch_size * replicas)
    if replicas == 1:
        return steps
    local = replicas // context.num_input_pipelines
    first = context.input_pipeline_id * local

    def slices(*batch: tuple) -> tf.data.Dataset:  # (inputs, targets, masks)
        def take(j: tf.Tensor) -> tuple:
            start = (first + tf.cast(j, tf.int32)) * batch_size
            return tf.nest.map_structure(lambda t: t[start : start + batch_size], batch)

        return tf.data.Dataset.range(local).map(take)

    return steps.flat_map(slices).prefetch(tf.data.AUTOTUNE)
