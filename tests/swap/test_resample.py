import numpy as np
import tensorflow as tf

from combtf.faces.align import invert
from combtf.swap.resample import resample, taps


def test_the_identity_resample_returns_the_image_and_a_shift_moves_it() -> None:
    image = np.random.default_rng(0).random((1, 6, 7, 3)).astype(np.float32)
    same = taps(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (6, 7), (6, 7))
    np.testing.assert_allclose(resample(tf.constant(image), same).numpy(), image, atol=1e-6)
    assert same.inside.min() == 1.0
    moved = taps(np.array([[1.0, 0, 2], [0, 1.0, 1]]), (6, 7), (6, 7))  # source pixel (x, y) lands at (x + 2, y + 1)
    drawn = resample(tf.constant(image), moved).numpy()
    np.testing.assert_allclose(drawn[0, 1:, 2:], image[0, :-1, :-2], atol=1e-6)
    assert moved.inside[0, 0, 0] == 0.0 and moved.inside[3, 4, 0] == 1.0  # nothing of the source there: the edge repeats


def test_a_turned_and_scaled_resample_is_exact_on_a_linear_ramp() -> None:
    # bilinear interpolation reproduces a linear image exactly, so every drawn pixel must equal the ramp
    # at the point `faces.align.warp`'s convention says it shows
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = np.stack([xs, ys, 0.5 * xs - 0.25 * ys], -1)
    angle, scale = 0.2, 1.25
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    back = np.array([[c, -s, 10.0], [s, c, 5.0]])  # drawn -> source: every drawn pixel lands inside the source
    chosen = taps(invert(back), (64, 64), (32, 32))
    got = resample(tf.constant(ramp[None]), chosen).numpy()[0]
    oy, ox = np.mgrid[0:32, 0:32]
    sx, sy = back[0, 0] * ox + back[0, 1] * oy + back[0, 2], back[1, 0] * ox + back[1, 1] * oy + back[1, 2]
    want = np.stack([sx, sy, 0.5 * sx - 0.25 * sy], -1)
    assert chosen.inside.min() == 1.0
    np.testing.assert_allclose(got, want, atol=1e-3)
