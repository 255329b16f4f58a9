"""The swap cycle: a swap must encode back to the code it was decoded from.

A swap decodes the target's code with the source's decoder, which only ever learnt to draw the
source's own codes: on real faces it kept the source's habitual mouth whatever the target did
(docs/experiments/real-faces.md).  This term decodes one frame of every identity with
another identity's decoder, blends it into the frame with the mask as a swap does, encodes the
blend again and penalises its distance to the frame's code, so every decoder is taught to draw
what another identity's code says.  One frame per identity per step (a quarter more images; on real
faces at 64 px, 0.28 against 0.20 s a step); the source turns with the step, so every ordered pair
takes its turn.
"""
from __future__ import annotations

import tensorflow as tf

from combtf.model.network import Architecture, CombModel
from combtf.training.losses import code_distance


def swap_cycle_applies(arch: Architecture, level: int) -> bool:
    """Only from the first level whose decoder blocks differ between identities: below it every
    identity draws with the same blocks, a swap is a reconstruction in other colours, and the term
    would only add to the step and its traced branches to the level's start."""
    return level >= arch.shared_decoder_levels


def swap_cycle_distance(
    model: CombModel,
    codes: list[tf.Tensor],
    inputs: tuple,
    masks: tuple,
    level: int,
    alpha: tf.Tensor,
    step: tf.Tensor,
) -> tf.Tensor:
    """[identities]: each identity's first frame, swapped to the identity `1 + step % (n - 1)` places on."""
    identities = model.arch.identities
    n = len(identities)
    firsts = [z[:1] for z in codes]

    def swaps(shift: int):
        return lambda: tf.concat([model.decode(z, identities[(i + shift) % n], level, alpha) for i, z in enumerate(firsts)], 0)

    swapped = tf.switch_case(tf.cast(step % (n - 1), tf.int32), [swaps(shift) for shift in range(1, n)])
    frames = tf.concat([tf.cast(x[:1], tf.float32) for x in inputs], 0)
    mask = tf.concat([tf.cast(m[:1], tf.float32) for m in masks], 0)
    blended = mask * swapped + (1.0 - mask) * frames
    return code_distance(model.encode(blended, level, alpha), tf.stop_gradient(tf.concat(firsts, 0)))
