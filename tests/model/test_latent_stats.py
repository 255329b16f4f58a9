"""Latent statistics and the matching that moves a target's codes to a source's."""
import numpy as np

from combtf.config import UNKNOWN_TARGET
from combtf.model.latent_stats import LatentStats
from combtf.model.network import Architecture, CombModel


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


def test_a_stranger_is_matched_with_the_pooled_statistics_of_everyone_but_the_source() -> None:
    model = CombModel(Architecture(identities=("a", "b", "c"), max_level=1, width=1 / 32, latent_dim=8))
    rng = np.random.default_rng(1)
    images = {name: (rng.random((30, 8, 8, 3)) * 120 + shift).astype(np.uint8) for name, shift in zip("abc", (0, 60, 120))}
    stats = LatentStats(model)
    stats.measure(model, 1, 1.0, images, step=0)
    mean, std = (t.numpy() for t in stats.pooled("a"))
    # the moments of b's and c's codes taken together (equal counts, so the equal mixture)
    codes = np.concatenate([model.encode(images[n].astype(np.float32) / 255.0, 1).numpy() for n in "bc"]).astype(np.float64)
    np.testing.assert_allclose(mean, codes.mean(0), atol=1e-4)
    np.testing.assert_allclose(std, codes.std(0), rtol=1e-3, atol=1e-4)
    z = model.encode(images["b"].astype(np.float32) / 255.0, 1)
    assert not np.allclose(stats.match(z, "a", UNKNOWN_TARGET), stats.match(z, "a", "b"), atol=1e-3)
    np.testing.assert_allclose(stats.match(z, "a", UNKNOWN_TARGET), (z.numpy() - mean) / std * stats.std.numpy()[0] + stats.mean.numpy()[0],
                               rtol=1e-4, atol=1e-4)
