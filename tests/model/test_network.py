import keras
import numpy as np
import pytest
import tensorflow as tf

from combtf.errors import CombtfError
from combtf.model.network import Architecture, CombModel

IDS = ("a", "b", "c")


@pytest.fixture(scope="module")
def model() -> CombModel:
    keras.utils.set_random_seed(0)
    return CombModel(Architecture(IDS, max_level=3, width=1 / 32, latent_dim=16, shared_decoder_levels=2))


def images(res: int, n: int = 2) -> tf.Tensor:
    return tf.random.stateless_uniform([n, res, res, 3], [1, res])


def test_paper_preset_channels() -> None:
    arch = Architecture(IDS, max_level=8)
    assert arch.encoder_channels(8) == (16, 16, 32)
    assert arch.encoder_channels(0) == (512, 512, 512)
    assert arch.decoder_channels(8) == 16
    assert Architecture(IDS, max_level=8, width=0.125, latent_dim=64).encoder_channels(0) == (64, 64, 64)


def test_shapes(model: CombModel) -> None:
    z = model.encode(images(32), 3)
    assert z.shape == (2, 1, 1, 16)
    assert model.decode(z, "b", 3).shape == (2, 32, 32, 3)


def test_encoder_fade_limits(model: CombModel) -> None:
    x = images(16)
    old = model.encode(tf.nn.avg_pool2d(x, 2, 2, "VALID"), 1)  # level 1 alone on the downsampled frame
    np.testing.assert_allclose(model.encode(x, 2, tf.constant(0.0)), old, atol=1e-5)
    np.testing.assert_allclose(model.encode(x, 2, tf.constant(1.0)), model.encode(x, 2), atol=1e-5)
    assert not np.allclose(model.encode(x, 2, tf.constant(0.5)), old, atol=1e-4)


def test_decoder_fade_limits(model: CombModel) -> None:
    z = model.encode(images(16), 2)
    low = model.decode(z, "a", 1).numpy()
    faded_out = model.decode(z, "a", 2, tf.constant(0.0)).numpy()
    np.testing.assert_allclose(faded_out, low.repeat(2, axis=1).repeat(2, axis=2), atol=1e-6)
    # at alpha = 1 the level-1 toRGB no longer matters
    full = model.decode(z, "a", 2, tf.constant(1.0)).numpy()
    to_rgb = model.to_rgb["a"][1]
    saved = [w.copy() for w in to_rgb.get_weights()]
    to_rgb.set_weights([w + 1.0 for w in saved])
    try:
        np.testing.assert_allclose(model.decode(z, "a", 2, tf.constant(1.0)), full, atol=1e-6)
        assert not np.allclose(model.decode(z, "a", 2, tf.constant(0.5)), full, atol=1e-4)
    finally:
        to_rgb.set_weights(saved)


def test_shared_decoder_levels(model: CombModel) -> None:
    blocks = model.decoder_blocks
    assert blocks["a"][0] is blocks["b"][0] and blocks["a"][1] is blocks["c"][1]
    assert blocks["a"][2] is not blocks["b"][2]
    assert model.to_rgb["a"][0] is not model.to_rgb["b"][0]  # every decoder owns its toRGB
    separate = CombModel(Architecture(IDS[:2], max_level=1, width=1 / 32, latent_dim=8, shared_decoder_levels=0))
    assert separate.decoder_blocks["a"][0] is not separate.decoder_blocks["b"][0]
    # identities decode the same latent differently
    z = model.encode(images(32), 3)
    assert float(tf.reduce_max(tf.abs(model.decode(z, "a", 3) - model.decode(z, "b", 3)))) > 1e-2


def test_level_variables_cover_only_what_a_level_uses(model: CombModel) -> None:
    ids = {id(v) for v in model.level_variables(1)}
    assert all(id(v) in ids for v in model.encoder_blocks[1].trainable_variables)
    assert not any(id(v) in ids for v in model.encoder_blocks[2].trainable_variables)
    assert len({id(v) for v in model.trainable_variables}) == len(model.trainable_variables)


def test_needs_two_identities_and_known_names(model: CombModel) -> None:
    with pytest.raises(CombtfError, match="at least 2 identities"):
        CombModel(Architecture(("solo",), max_level=1))
    with pytest.raises(CombtfError, match="unknown identity 'zed'"):
        model.decode(model.encode(images(8), 1), "zed", 1)


def test_spatial_latent_keeps_a_4x4_code() -> None:
    spatial = CombModel(Architecture(IDS[:2], max_level=2, width=1 / 32, latent_dim=8, latent_size=4))
    z = spatial.encode(images(16), 2)
    assert z.shape == (2, 4, 4, 8)
    assert spatial.decode(z, "b", 2).shape == (2, 16, 16, 3)
