"""The weight average: its warm-up, and the average swapped into the model and back."""
import keras
import numpy as np
import pytest

from combtf.training.weight_average import WeightAverage


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
