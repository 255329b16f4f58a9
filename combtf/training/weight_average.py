"""Exponential moving average of the weights.

Swaps, exports and previews use the averaged weights: on the synthetic set they scored
higher than the last step's weights (docs/experiments/synthetic.md).  The average is checkpointed
with the weights, so a resume continues it and a swap reads it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import tensorflow as tf

from combtf.config import TrainConfig
from combtf.model.network import CombModel


class WeightAverage:
    """Shadow copies of `variables`, pulled towards them after every optimizer step.

    The momentum warms up at the start of every level, min(momentum, (1+n)/(10+n)) after
    n updates (TensorFlow's ExponentialMovingAverage `num_updates` rule), so that short
    levels and a new level's fresh blocks are not held back at their initial weights.
    """

    def __init__(self, variables: list, momentum: float) -> None:
        """`variables`: the model's Keras variables, every level's, in a fixed order."""
        self.momentum = momentum
        self.variables = variables
        sync = {"synchronization": tf.VariableSynchronization.ON_WRITE, "aggregation": tf.VariableAggregation.ONLY_FIRST_REPLICA}
        self.shadows = [tf.Variable(tf.identity(v.value), trainable=False, name="average", **sync) for v in variables]
        self._shadow_of = {id(v): s for v, s in zip(variables, self.shadows)}
        self.updates = tf.Variable(tf.zeros([], tf.int64), trainable=False, name="updates", **sync)
        self.level = tf.Variable(tf.constant(-1, tf.int64), trainable=False, name="level", **sync)

    def begin_level(self, level: int) -> None:
        if int(self.level.numpy()) != level:
            self.updates.assign(0)
            self.level.assign(level)

    def update(self, variables: list) -> None:
        """Call after the optimizer step, inside the step function, with the variables it updated."""
        n = tf.cast(self.updates, tf.float32)
        decay = tf.minimum(self.momentum, (1.0 + n) / (10.0 + n))
        for var in variables:
            shadow = self._shadow_of[id(var)]
            shadow.assign_sub((1.0 - decay) * (shadow - var.value))
        self.updates.assign_add(1)

    def copy_to_model(self) -> None:
        for var, shadow in zip(self.variables, self.shadows):
            var.assign(shadow)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its training weights again after."""
        saved = [var.numpy() for var in self.variables]
        self.copy_to_model()
        try:
            yield
        finally:
            for var, value in zip(self.variables, saved):
                var.assign(value)

    def trackables(self) -> dict[str, object]:
        return {"shadows": self.shadows, "updates": self.updates, "level": self.level}


def make_average(model: CombModel, config: TrainConfig) -> WeightAverage | None:
    return WeightAverage(model.trainable_variables, config.weight_average) if config.weight_average else None
