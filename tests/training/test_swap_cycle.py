import keras
import numpy as np
import tensorflow as tf

from combtf.config import TrainConfig
from combtf.model.network import Architecture, CombModel
from combtf.training.losses import code_distance
from combtf.training.step import make_optimizer, make_step
from combtf.training.swap_cycle import swap_cycle_distance

IDS = ("a", "b", "c")
LEVEL = 2  # 16 px


def test_swap_cycle_decodes_each_frame_with_the_identity_the_step_names() -> None:
    keras.utils.set_random_seed(0)
    model = CombModel(Architecture(IDS, max_level=LEVEL, width=1 / 32, latent_dim=16))
    inputs = tuple(tf.random.stateless_uniform([2, 16, 16, 3], [i, 0]) for i in range(3))
    masks = tuple(tf.cast(tf.random.stateless_uniform([2, 16, 16, 1], [i, 1]) > 0.3, tf.float32) for i in range(3))
    codes = [model.encode(x, LEVEL) for x in inputs]

    def by_hand(shift: int) -> np.ndarray:
        swapped = [model.decode(z[:1], IDS[(i + shift) % 3], LEVEL) for i, z in enumerate(codes)]
        blended = [m[:1] * s + (1 - m[:1]) * x[:1] for s, m, x in zip(swapped, masks, inputs)]
        return code_distance(model.encode(tf.concat(blended, 0), LEVEL), tf.concat([z[:1] for z in codes], 0)).numpy()

    traced = tf.function(lambda at: swap_cycle_distance(model, codes, inputs, masks, LEVEL, tf.constant(1.0), at))
    at = [traced(tf.constant(step, tf.int64)).numpy() for step in range(3)]
    np.testing.assert_allclose(at[0], by_hand(1), atol=1e-5)  # step 0: a's frame through b's decoder, b's through c's...
    np.testing.assert_allclose(at[1], by_hand(2), atol=1e-5)  # step 1: a's through c's
    np.testing.assert_allclose(at[2], at[0], atol=1e-6)  # and round again: every ordered pair takes its turn
    assert at[0].shape == (3,) and np.abs(at[0] - at[1]).max() > 1e-4


def test_swap_cycle_gradient_reaches_the_encoder_and_the_swapping_decoders() -> None:
    keras.utils.set_random_seed(1)
    model = CombModel(Architecture(("a", "b"), max_level=LEVEL, width=1 / 32, latent_dim=16, shared_decoder_levels=0))
    inputs = tuple(tf.random.stateless_uniform([2, 16, 16, 3], [i, 2]) for i in range(2))
    masks = (tf.ones([2, 16, 16, 1]),) * 2
    variables = model.level_variables(LEVEL)
    with tf.GradientTape() as tape:
        codes = [model.encode(x, LEVEL) for x in inputs]
        loss = tf.reduce_sum(swap_cycle_distance(model, codes, inputs, masks, LEVEL, tf.constant(1.0), tf.constant(0, tf.int64)))
    grads = dict(zip((id(v) for v in variables), tape.gradient(loss, variables)))
    blocks = {block.name: block for block in model.blocks()}

    def reached(name: str) -> bool:
        return any(grads.get(id(v)) is not None and float(tf.norm(grads[id(v)])) > 0 for v in blocks[name].trainable_variables)

    assert reached("enc0") and reached(f"from_rgb{LEVEL}")
    assert reached(f"dec{LEVEL}_a") and reached(f"dec{LEVEL}_b")  # a's frame through b's decoder and b's through a's


def test_swap_cycle_starts_at_the_first_level_whose_decoders_differ() -> None:
    # with 2 shared decoder levels, 8 px is drawn by the same blocks for every identity: no cycle there
    arch = Architecture(IDS, max_level=2, width=1 / 32, latent_dim=16, shared_decoder_levels=2)

    def first_loss(level: int, weight: float) -> float:
        keras.utils.set_random_seed(2)
        model = CombModel(arch)
        config = TrainConfig(swap_cycle_weight=weight, precision="float32")
        optimizer = make_optimizer(config, "float32")
        optimizer.build(model.trainable_variables)
        step = make_step(model, optimizer, None, level, config, tf.distribute.get_strategy())
        size = 4 * 2**level
        images = tuple(tf.random.stateless_uniform([2, size, size, 3], [i, 3]) for i in range(3))
        loss, _ = step((images, images, (tf.ones([2, size, size, 1]),) * 3), tf.constant(1.0), tf.constant(0, tf.int64))
        return float(loss)

    assert first_loss(1, 1.0) == first_loss(1, 0.0)
    assert first_loss(2, 1.0) > first_loss(2, 0.0) + 1e-4
