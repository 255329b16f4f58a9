"""Augmentation: off passes images through, the warp moves the input only, amounts set how far things move."""
import numpy as np
import tensorflow as tf

from combtf.data.augment import Augment, augment

NO_AUG = Augment(flip=False, affine=False, warp=False, color=False)


def test_no_augmentation_passes_images_through() -> None:
    images = tf.random.stateless_uniform([2, 16, 16, 3], [1, 1], 0, 255, tf.int32)
    masks = tf.fill([2, 16, 16, 1], 255)
    inputs, target, mask = augment(tf.cast(images, tf.uint8), tf.cast(masks, tf.uint8), tf.constant([1, 2], tf.int64), NO_AUG)
    np.testing.assert_allclose(inputs, tf.cast(images, tf.float32) / 255, atol=1e-6)
    np.testing.assert_array_equal(inputs, target)


def test_warp_changes_the_input_only() -> None:
    images = tf.cast(tf.random.stateless_uniform([2, 32, 32, 3], [2, 2], 0, 255, tf.int32), tf.uint8)
    masks = tf.fill([2, 32, 32, 1], tf.constant(255, tf.uint8))
    seed = tf.constant([4, 5], tf.int64)
    warp_only = Augment(flip=False, affine=False, warp=True, color=False)
    inputs, target, _ = augment(images, masks, seed, warp_only)
    np.testing.assert_allclose(target, tf.cast(images, tf.float32) / 255, atol=1e-5)
    assert float(tf.reduce_mean(tf.abs(inputs - target))) > 0.01


def test_affine_amount_sets_how_far_target_and_mask_move() -> None:
    # smooth ramps, so that how much a pixel changes grows with how far the jitter moves it
    ramp = np.arange(32, dtype=np.uint8) * 8
    y, x = np.meshgrid(ramp, ramp, indexing="ij")
    images = tf.constant(np.repeat(np.stack([y, x, 255 - x], -1)[None], 4, 0))
    masks = tf.constant(np.repeat(y[None, ..., None], 4, 0))
    seed = tf.constant([2, 9], tf.int64)

    def moved(amount: float) -> tuple[float, float]:
        aug = Augment(flip=False, affine=True, warp=False, color=False, affine_amount=amount)
        inputs, target, mask = augment(images, masks, seed, aug)
        np.testing.assert_allclose(inputs, target)  # no warp: the encoder sees the target
        return (float(tf.reduce_mean(tf.abs(target - tf.cast(images, tf.float32) / 255))),
                float(tf.reduce_mean(tf.abs(mask - tf.cast(masks, tf.float32) / 255))))

    (image_half, mask_half), (image_full, mask_full) = moved(0.5), moved(1.0)
    assert 0.0 < image_half < 0.8 * image_full
    assert 0.0 < mask_half < 0.8 * mask_full


def test_warp_amount_sets_how_far_the_input_moves() -> None:
    images = tf.cast(tf.random.stateless_uniform([4, 32, 32, 3], [3, 3], 0, 255, tf.int32), tf.uint8)
    masks = tf.fill([4, 32, 32, 1], tf.constant(255, tf.uint8))
    seed = tf.constant([6, 7], tf.int64)

    def moved(amount: float) -> float:
        aug = Augment(flip=False, affine=False, warp=True, color=False, warp_amount=amount)
        inputs, target, _ = augment(images, masks, seed, aug)
        return float(tf.reduce_mean(tf.abs(inputs - target)))

    assert 0.0 < moved(0.08) < 0.8 * moved(0.24)
