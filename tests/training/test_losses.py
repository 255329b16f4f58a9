import numpy as np
import pytest
import tensorflow as tf

from combtf.faces.template import template
from combtf.training.losses import (
    code_distance,
    eyes_and_mouth,
    masked_gradient_l1,
    masked_l1,
    masked_ms_ssim,
    masked_psnr,
    masked_ssim,
    ms_ssim_scales,
    reconstruction_loss,
)


def face_mask(size: int, radius: float) -> tf.Tensor:
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    return tf.constant((np.hypot(yy, xx) < radius * size)[None, ..., None].astype(np.float32))


def smooth_image(size: int, seed: int) -> tf.Tensor:
    return tf.image.resize(tf.random.stateless_uniform([1, 8, 8, 3], [seed, 0]), [size, size], "bicubic")


def test_gradient_is_zero_outside_the_mask() -> None:
    mask = face_mask(32, 0.25)
    target = smooth_image(32, 1)
    pred = tf.Variable(smooth_image(32, 2))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(reconstruction_loss(pred, target, mask, l1_weight=1.0)[0])
    grad = tape.gradient(loss, pred).numpy()
    outside = mask.numpy()[0, ..., 0] == 0
    assert np.abs(grad[0][outside]).max() == 0.0
    assert np.abs(grad[0][~outside]).max() > 0.0


def test_identical_images_score_one() -> None:
    x = smooth_image(32, 3)
    assert float(masked_ssim(x, x, face_mask(32, 0.3))[0]) == pytest.approx(1.0, abs=1e-5)
    assert float(masked_ms_ssim(x, x, face_mask(32, 0.3))[0]) == pytest.approx(1.0, abs=1e-4)


def test_black_background_does_not_inflate_the_score() -> None:
    size = 64
    truth, wrong = smooth_image(size, 4), tf.random.stateless_uniform([1, size, size, 3], [5, 5])
    small = face_mask(size, 0.15)
    plain = float(tf.image.ssim(wrong * small, truth * small, 1.0)[0])
    ours = float(masked_ssim(wrong, truth, small)[0])
    assert plain > 0.8           # a plain SSIM of masked images calls this a near match
    assert ours < 0.35           # ours sees only the (wrong) face
    bigger = float(masked_ssim(wrong, truth, face_mask(size, 0.3))[0])
    assert abs(ours - bigger) < 0.15  # and does not depend on how much background there is


def test_small_levels_are_scored() -> None:
    x = smooth_image(4, 6)
    score = masked_ssim(x * 0.5, x, tf.ones([1, 4, 4, 1]))
    assert 0.0 < float(score[0]) < 0.99


def test_psnr_and_l1_use_mask_pixels_only() -> None:
    truth = tf.zeros([1, 8, 8, 3])
    mask = tf.concat([tf.ones([1, 8, 4, 1]), tf.zeros([1, 8, 4, 1])], axis=2)
    pred = tf.concat([tf.fill([1, 8, 4, 3], 0.1), tf.fill([1, 8, 4, 3], 0.9)], axis=2)
    assert float(masked_psnr(pred, truth, mask)[0]) == pytest.approx(20.0, abs=1e-3)  # mse 0.01
    assert float(masked_l1(pred, truth, mask)[0]) == pytest.approx(0.1, abs=1e-6)


def test_ms_ssim_only_where_it_fits() -> None:
    assert ms_ssim_scales(128) == 4 and ms_ssim_scales(256) == 5 and ms_ssim_scales(16) == 1
    x, y = smooth_image(128, 7), smooth_image(128, 8)
    mask = face_mask(128, 0.4)
    loss, score = reconstruction_loss(x, y, mask, kind="ms_ssim")
    assert float(loss[0]) == pytest.approx(1 - float(masked_ms_ssim(x, y, mask)[0]), abs=1e-6)
    assert float(score[0]) == pytest.approx(float(masked_ssim(x, y, mask)[0]), abs=1e-6)


def test_gradient_difference_reads_edges_not_shades() -> None:
    size = 32
    mask = face_mask(size, 0.4)
    edge = np.zeros([1, size, size, 3], np.float32)
    edge[:, :, size // 2 :] = 1.0
    edge = tf.constant(edge)
    assert float(masked_gradient_l1(edge + 0.1, edge, mask)[0]) == pytest.approx(0.0, abs=1e-6)  # a shade: no cost
    assert float(masked_l1(edge + 0.1, edge, mask)[0]) == pytest.approx(0.1, abs=1e-6)
    assert float(masked_gradient_l1(tf.roll(edge, 1, 2), edge, mask)[0]) > 0.01  # the edge one pixel to the right
    outside = tf.where(mask > 0, edge, tf.random.stateless_uniform(edge.shape, [4, 4]))
    assert float(masked_gradient_l1(outside, edge, mask)[0]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("term", ["eyes_mouth_weight", "detail_weight"])
def test_eyes_and_mouth_terms_weigh_only_the_eye_and_mouth_boxes(term: str) -> None:
    size = 64
    region = eyes_and_mouth(size).numpy()[0, ..., 0]
    points = np.round(template(size)[36:68]).astype(int)
    assert region[points[:, 1], points[:, 0]].all()  # every eye and mouth point of the template
    assert region[: size // 5].sum() == 0 and 0.1 < region.mean() < 0.4  # not the forehead, not the face
    mask, target = tf.ones([1, size, size, 1]), smooth_image(size, 5)

    def loss(pred: tf.Tensor, weight: float) -> float:
        return float(reconstruction_loss(pred, target, mask, **{term: weight})[0][0])

    forehead = target.numpy()
    forehead[0, 2:8, 20:44] = 0.0
    mouth = target.numpy()
    x, y = points[-20:].mean(0).astype(int)  # the mouth's centre
    mouth[0, y - 3 : y + 3, x - 12 : x + 12] = 0.0
    assert loss(tf.constant(forehead), 5.0) == pytest.approx(loss(tf.constant(forehead), 0.0), abs=1e-6)
    assert loss(tf.constant(mouth), 5.0) > loss(tf.constant(mouth), 0.0) + 0.1


def test_code_distance_reads_direction_not_scale() -> None:
    z = tf.random.stateless_normal([2, 4, 4, 8], [3, 0])
    np.testing.assert_allclose(code_distance(z, z).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(code_distance(0.01 * z, z).numpy(), 0.0, atol=1e-6)  # a shrunken code is no closer
    np.testing.assert_allclose(code_distance(-z, z).numpy(), 2.0, atol=1e-6)
    other = tf.random.stateless_normal([2, 4, 4, 8], [4, 0])
    assert code_distance(other, z).shape == (2,) and 0.5 < float(tf.reduce_mean(code_distance(other, z))) < 1.5
