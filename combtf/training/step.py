"""One training step at one level, as a `tf.function` written for `strategy.run`.

A step encodes one batch of every identity through the shared encoder, decodes each with its own
head, applies the mask to output and target (inside the loss, after the forward pass) and takes one
optimizer step on the mean masked-SSIM loss of all identities, plus the swap cycle where it applies.
It returns each identity's masked SSIM, not only their mean: a decoder that collapses while the
others improve is invisible in the mean.
The optimizer is built over every level's variables before any step is traced: Keras 3 needs that
before a `tf.function` updates per-level subsets.
"""
from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

from combtf.config import TrainConfig
from combtf.model.network import CombModel
from combtf.training.losses import reconstruction_loss
from combtf.training.swap_cycle import swap_cycle_applies, swap_cycle_distance
from combtf.training.weight_average import WeightAverage


class _Summed:
    """Gradients reach this optimizer already summed over the replicas and clipped (`make_step`).

    Keras 3 clips each replica's share of the gradient before it sums the shares, so with
    clipping a run over R replicas would not be the run over one device with R times the batch."""

    def _all_reduce_sum_gradients(self, grads_and_vars: list) -> list:
        return list(grads_and_vars)


class _Adam(_Summed, keras.optimizers.Adam):
    pass


class _SGD(_Summed, keras.optimizers.SGD):
    pass


def make_optimizer(config: TrainConfig, policy: str) -> keras.optimizers.Optimizer:
    optimizer = _SGD(config.lr, momentum=0.9, name="sgd") if config.optimizer == "sgd" else _Adam(config.lr, name="adam")
    return keras.optimizers.LossScaleOptimizer(optimizer) if policy == "mixed_float16" else optimizer


def summed_and_clipped(grads: list[tf.Tensor], optimizer: keras.optimizers.Optimizer, clip_norm: float) -> list[tf.Tensor]:
    """The global batch's gradient (sum over replicas), its global norm clipped to `clip_norm`.
    Loss-scaled gradients are clipped by their unscaled norm; a non-finite norm stays non-finite,
    so a float16 loss-scale optimizer still skips that step."""
    grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
    if not clip_norm:
        return grads
    norm = tf.linalg.global_norm(grads) / optimizer.scale_loss(tf.constant(1.0))
    factor = clip_norm / tf.maximum(norm, clip_norm)
    return [g * factor for g in grads]


def make_step(
    model: CombModel,
    optimizer: keras.optimizers.Optimizer,
    average: WeightAverage | None,
    level: int,
    config: TrainConfig,
    strategy: tf.distribute.Strategy,
) -> Callable[[tuple, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """step(batch, alpha, global step) -> (loss, masked SSIM per identity); the global step picks the swap
    cycle's sources."""
    variables = model.level_variables(level)
    identities = model.arch.identities
    cycle_weight = config.swap_cycle_weight if swap_cycle_applies(model.arch, level) else 0.0

    def replica_step(inputs: tuple, targets: tuple, masks: tuple, alpha: tf.Tensor, at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            latents = tf.split(model.encode(tf.concat(inputs, 0), level, alpha), len(identities), 0)
            losses, scores = [], []
            for ident, z, target, mask in zip(identities, latents, targets, masks):
                # the mask is applied inside the loss, after the forward pass, to output and target
                loss, score = reconstruction_loss(model.decode(z, ident, level, alpha), target, mask, config.loss,
                                                  config.l1_weight, config.eyes_mouth_weight, config.detail_weight)
                losses.append(loss)
                scores.append(score)
            loss = tf.reduce_mean(tf.concat(losses, 0))
            if cycle_weight:
                cycle = swap_cycle_distance(model, latents, inputs, masks, level, alpha, at)
                loss = loss + cycle_weight * tf.reduce_mean(cycle)
            scaled = optimizer.scale_loss(loss / strategy.num_replicas_in_sync)
        grads = summed_and_clipped(tape.gradient(scaled, variables), optimizer, config.clip_norm)
        optimizer.apply_gradients(zip(grads, variables))
        if average is not None:
            average.update(variables)
        return loss, tf.stack([tf.reduce_mean(s) for s in scores])

    @tf.function
    def step(batch: tuple, alpha: tf.Tensor, at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss, score = strategy.run(replica_step, args=(*batch, alpha, at))
        mean = tf.distribute.ReduceOp.MEAN
        return strategy.reduce(mean, loss, axis=None), strategy.reduce(mean, score, axis=None)

    return step
