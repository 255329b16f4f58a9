import keras
import numpy as np
import pytest

from combtf.averaging import WeightAverage
from combtf.latents import LatentStats
from combtf.model import Architecture, CombModel


def test_weight_average_warms_up_then_follows_with_its_momentum() -> None:
    var = keras.Variable(np.zeros(3, np.float32))
    average = WeightAverage([var], momentum=0.99)
    average.begin_level(0)
    var.assign(np.ones(3, np.float32))
    average.update([var])  # n = 0: decay min(0.99, 1/10) = 0.1
    np.testing.assert_allclose(average.shadows[0].numpy(), 0.9, rtol=1e-6)
    average.update([var])  # n = 1: decay 2/11
    np.testing.assert_allclose(average.shadows[0].numpy(), 1 - 0.1 * 2 / 11, rtol=1e-6)
    average.begin_level(0)  # same level (a resume): the warm-up does not restart
    assert int(average.updates.numpy()) == 2
    average.begin_level(1)
    assert int(average.updates.numpy()) == 0


def test_applied_swaps_the_average_in_and_back_out() -> None:
    var = keras.Variable(np.full(2, 5.0, np.float32))
    average = WeightAverage([var], momentum=0.9)
    average.shadows[0].assign([1.0, 2.0])
    with average.applied():
        np.testing.assert_array_equal(var.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(var.numpy(), [5.0, 5.0])
    with pytest.raises(RuntimeError), average.applied():
        raise RuntimeError("a failing preview")
    np.testing.assert_array_equal(var.numpy(), [5.0, 5.0])


def test_latent_matching_moves_the_target_codes_onto_the_source_statistics() -> None:
    model = CombModel(Architecture(identities=("a", "b", "c"), max_level=1, width=1 / 32, latent_dim=8))
    rng = np.random.default_rng(0)
    # identities differ in brightness, so their codes differ in mean and spread
    images = {name: (rng.random((40, 8, 8, 3)) * 120 + shift).astype(np.uint8) for name, shift in zip("abc", (0, 60, 120))}
    stats = LatentStats(model)
    assert not stats.ready(1)
    stats.measure(model, 1, 1.0, images, step=7)
    assert stats.ready(1) and int(stats.step.numpy()) == 7
    assert not np.allclose(stats.mean.numpy()[0], stats.mean.numpy()[1], atol=1e-3)
    z = model.encode(images["b"].astype(np.float32) / 255.0, 1)
    moved = stats.match(z, "a", "b").numpy()
    np.testing.assert_allclose(moved.mean(0), stats.mean.numpy()[0], atol=1e-4)
    np.testing.assert_allclose(moved.std(0), stats.std.numpy()[0], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(stats.match(z, "b", "b"), z, atol=1e-5)
    # part of the way: the straight line from the code to its fully matched place
    np.testing.assert_allclose(stats.match(z, "a", "b", 0.5), (z.numpy() + moved) / 2, atol=1e-5)
    np.testing.assert_allclose(stats.match(z, "a", "b", 0.0), z, atol=1e-6)
