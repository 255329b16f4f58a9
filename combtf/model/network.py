"""The comb: one shared encoder, one decoder head per identity, grown level by level.

Every block is a small Keras functional model, built at construction, so that all
variables exist before the optimizer is built (Keras 3 needs that before a
`tf.function` updates per-level subsets).  The level-of-detail fade-in lives in one
place, `_fade`, as in Karras' progressive-GAN code.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf
from keras import layers

from combtf.config import TrainConfig
from combtf.errors import CombtfError
from combtf.levels import DECODER_CHANNELS, ENCODER_CHANNELS, level_of, resolution, scaled

LRELU = 0.2


def _init() -> keras.initializers.Initializer:
    """He initialisation for leaky ReLU: with Keras' default (Glorot) the signal fades to ~1e-5
    after the nine blocks of a deep level, and every decoder starts out predicting flat grey.
    One per layer, made after `keras.utils.set_random_seed`: an initializer draws its seed when
    it is made, so a shared module-level one gave every layer of a shape the same weights and
    every process different ones (runs were not repeatable)."""
    return keras.initializers.VarianceScaling(2.0 / (1.0 + LRELU**2), mode="fan_in", distribution="truncated_normal")


@dataclass(frozen=True)
class Architecture:
    """The numbers that fix every variable's shape; a checkpoint only loads into the same ones."""

    identities: tuple[str, ...]
    max_level: int
    width: float = 1.0
    latent_dim: int = 512
    shared_decoder_levels: int = 2
    latent_size: int = 1  # 1: the reference's 1x1 code; 4: a 4x4 spatial code (keeps layout, may leak identity)

    def encoder_channels(self, level: int) -> tuple[int, int, int]:
        cin, mid, out = (scaled(c, self.width) for c in ENCODER_CHANNELS[level])
        return cin, mid, (self.latent_dim if level == 0 else out)

    def decoder_channels(self, level: int) -> int:
        return scaled(DECODER_CHANNELS[level], self.width)


def architecture(config: TrainConfig) -> Architecture:
    """The architecture a run's config fixes."""
    return Architecture(
        identities=tuple(config.identities),
        max_level=level_of(config.max_resolution, "max_resolution"),
        width=config.width,
        latent_dim=config.latent_dim,
        latent_size=config.latent_size,
        shared_decoder_levels=config.shared_decoder_levels,
    )


@tf.custom_gradient
def _pixel_norm(x: tf.Tensor) -> tuple[tf.Tensor, Callable]:
    """x / sqrt(mean(x**2 over channels) + 1e-8), with the mean taken in float32.

    The gradient is written out, dx = r * (g - y * mean(g * y)) with r the per-pixel scale and
    y the output: a handful of element-wise passes instead of autodiff's chain through the
    square, the mean's broadcast and the casts (PixelNorm's backward was ~9 % of a bf16 step)."""
    mean = tf.reduce_mean(tf.cast(tf.square(x), tf.float32), axis=-1, keepdims=True)
    r = tf.math.rsqrt(tf.cast(mean, x.dtype) + tf.constant(1e-8, x.dtype))
    y = x * r

    def grad(g: tf.Tensor) -> tf.Tensor:
        t = tf.reduce_mean(tf.cast(g * y, tf.float32), axis=-1, keepdims=True)
        return r * (g - y * tf.cast(t, g.dtype))

    return y, grad


@tf.custom_gradient
def _leaky_relu(x: tf.Tensor) -> tuple[tf.Tensor, Callable]:
    """tf.nn.leaky_relu whose gradient reads the output, not the input (same sign, slope > 0):
    the pre-activation then has one consumer, so grappler's remapper fuses conv + bias + leaky
    ReLU into one oneDNN convolution, and the pre-activation need not be kept for backward."""
    y = tf.nn.leaky_relu(x, alpha=LRELU)

    def grad(g: tf.Tensor) -> tf.Tensor:
        return tf.raw_ops.LeakyReluGrad(gradients=g, features=y, alpha=LRELU)

    return y, grad


class PixelNorm(layers.Layer):
    """ProGAN's per-pixel feature normalisation: keeps decoder activations from escalating
    until the sigmoid saturates and a decoder stops learning (seen here without it)."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return _pixel_norm(x)


class LeakyReLU(layers.Layer):
    """Leaky ReLU (slope LRELU) with the output-based gradient of `_leaky_relu`.  Weightless, and
    in the place of keras.layers.LeakyReLU, so checkpoints (keyed by layer position) still load."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return _leaky_relu(x)


def _input(shape: tuple[int, ...]) -> keras.KerasTensor:
    """A block's input in the policy's compute dtype: a functional model converts what it is given
    to its Input's dtype, so a float32 Input cast every bfloat16 activation to float32 at each block
    boundary, and its first layer cast it straight back (exact, but two passes forward and back)."""
    return keras.Input(shape, dtype=keras.mixed_precision.global_policy().compute_dtype)


def _conv(filters: int, kernel: int, name: str, padding: str = "same") -> layers.Conv2D:
    return layers.Conv2D(filters, kernel, padding=padding, kernel_initializer=_init(), name=name)


def _from_rgb(arch: Architecture, level: int) -> keras.Model:
    res = resolution(level)
    x = _input((res, res, 3))
    h = LeakyReLU()(_conv(arch.encoder_channels(level)[0], 1, "conv")(x))
    return keras.Model(x, h, name=f"from_rgb{level}")


def _encoder_block(arch: Architecture, level: int) -> keras.Model:
    res = resolution(level)
    cin, mid, out = arch.encoder_channels(level)
    x = _input((res, res, cin))
    h = LeakyReLU()(_conv(mid, 3, "conv0")(x))
    if level == 0:
        # 4x4 -> the 1x1 latent, or a 1x1 conv to a 4x4 spatial latent
        h = _conv(out, 4, "conv1", padding="valid")(h) if arch.latent_size == 1 else _conv(out, 1, "conv1")(h)
    else:
        h = LeakyReLU()(_conv(out, 3, "conv1")(h))
        h = layers.MaxPooling2D(2)(h)
    return keras.Model(x, h, name=f"enc{level}")


def _decoder_block(arch: Architecture, level: int, owner: str) -> keras.Model:
    out = arch.decoder_channels(level)

    def act(h: tf.Tensor) -> tf.Tensor:
        return PixelNorm()(LeakyReLU()(h))

    if level == 0:
        x = _input((arch.latent_size, arch.latent_size, arch.latent_dim))
        if arch.latent_size == 1:
            h = act(_conv(out, 4, "conv0", padding="valid")(layers.ZeroPadding2D(3)(x)))  # 1x1 -> 4x4
        else:
            h = act(_conv(out, 3, "conv0")(x))
    else:
        res = resolution(level - 1)
        x = _input((res, res, arch.decoder_channels(level - 1)))
        h = layers.UpSampling2D(2, interpolation="nearest")(x)
        h = act(_conv(out, 3, "conv0")(h))
    h = act(_conv(out, 3, "conv1")(h))
    return keras.Model(x, h, name=f"dec{level}_{owner}")


def _to_rgb(arch: Architecture, level: int, owner: str) -> keras.Model:
    res = resolution(level)
    x = _input((res, res, arch.decoder_channels(level)))
    # float32 so the image, the fade and the loss never round to bfloat16.
    y = layers.Conv2D(3, 1, activation="sigmoid", dtype="float32", name="conv")(x)
    return keras.Model(x, y, name=f"to_rgb{level}_{owner}")


def _fade(new: tf.Tensor, old: tf.Tensor, alpha: float | tf.Tensor) -> tf.Tensor:
    """alpha * new + (1 - alpha) * old: the only place a level is faded in."""
    alpha = keras.ops.cast(alpha, new.dtype)
    return alpha * new + (1.0 - alpha) * keras.ops.cast(old, new.dtype)


def _downsample(x: tf.Tensor) -> tf.Tensor:
    return keras.ops.average_pool(x, 2, 2)


def _upsample(x: tf.Tensor) -> tf.Tensor:
    return keras.ops.repeat(keras.ops.repeat(x, 2, axis=1), 2, axis=2)


class CombModel:
    """Shared encoder + per-identity decoders; decoder levels below `shared_decoder_levels` are shared."""

    def __init__(self, arch: Architecture) -> None:
        if len(arch.identities) < 2:
            raise CombtfError(f"a comb needs at least 2 identities, got {len(arch.identities)}")
        self.arch = arch
        levels = range(arch.max_level + 1)
        self.from_rgb = [_from_rgb(arch, k) for k in levels]
        self.encoder_blocks = [_encoder_block(arch, k) for k in levels]
        shared = [_decoder_block(arch, k, "shared") for k in range(min(arch.shared_decoder_levels, arch.max_level + 1))]
        self.decoder_blocks = {
            ident: shared + [_decoder_block(arch, k, ident) for k in range(len(shared), arch.max_level + 1)]
            for ident in arch.identities
        }
        self.to_rgb = {ident: [_to_rgb(arch, k, ident) for k in levels] for ident in arch.identities}

    # --- forward -----------------------------------------------------------------
    def encode(self, x: tf.Tensor, level: int, alpha: float | tf.Tensor = 1.0) -> tf.Tensor:
        """Image at `level` resolution -> latent [batch, latent_size, latent_size, latent_dim]."""
        h = self.encoder_blocks[level](self.from_rgb[level](x))
        if level > 0 and not _is_one(alpha):
            h = _fade(h, self.from_rgb[level - 1](_downsample(x)), alpha)
        for k in range(level - 1, -1, -1):
            h = self.encoder_blocks[k](h)
        return h

    def decode(self, z: tf.Tensor, identity: str, level: int, alpha: float | tf.Tensor = 1.0) -> tf.Tensor:
        """Latent -> image of `identity` at `level` resolution, float32 in [0, 1]."""
        blocks, to_rgb = self._head(identity)
        h = z
        for k in range(level):
            h = blocks[k](h)
        y = to_rgb[level](blocks[level](h))
        if level > 0 and not _is_one(alpha):
            y = _fade(y, _upsample(to_rgb[level - 1](h)), alpha)
        return y

    # --- variables -------------------------------------------------------------
    def _head(self, identity: str) -> tuple[list[keras.Model], list[keras.Model]]:
        if identity not in self.decoder_blocks:
            raise CombtfError(f"unknown identity '{identity}' (the model has: {', '.join(self.arch.identities)})")
        return self.decoder_blocks[identity], self.to_rgb[identity]

    def blocks(self) -> list[keras.Model]:
        """Every block once (shared decoder blocks are not repeated)."""
        seen: dict[int, keras.Model] = {}
        for block in [*self.from_rgb, *self.encoder_blocks]:
            seen[id(block)] = block
        for ident in self.arch.identities:
            for block in [*self.decoder_blocks[ident], *self.to_rgb[ident]]:
                seen[id(block)] = block
        return list(seen.values())

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return [v for block in self.blocks() for v in block.trainable_variables]

    def level_variables(self, level: int) -> list[tf.Variable]:
        """The variables a step at `level` touches (the fade path's old toRGB/fromRGB included)."""
        wanted = [*self.encoder_blocks[: level + 1], self.from_rgb[level]]
        if level > 0:
            wanted.append(self.from_rgb[level - 1])
        for ident in self.arch.identities:
            wanted += self.decoder_blocks[ident][: level + 1]
            wanted += self.to_rgb[ident][max(0, level - 1) : level + 1]
        seen: dict[int, tf.Variable] = {}
        for block in wanted:
            for v in block.trainable_variables:
                seen[id(v)] = v
        return list(seen.values())

    def trackables(self) -> dict[str, object]:
        """What a tf.train.Checkpoint needs to save and restore every weight."""
        return {
            "from_rgb": self.from_rgb,
            "encoder": self.encoder_blocks,
            "decoders": {ident: self.decoder_blocks[ident] for ident in self.arch.identities},
            "to_rgb": {ident: self.to_rgb[ident] for ident in self.arch.identities},
        }


def _is_one(alpha: float | tf.Tensor) -> bool:
    return isinstance(alpha, (int, float)) and float(alpha) == 1.0
