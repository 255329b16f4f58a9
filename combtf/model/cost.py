"""What a training image costs, in FLOPs of the convolutions: the unit two runs' budgets compare in
when their wall clocks cannot (this host's speed drifts 2x within minutes)."""
from __future__ import annotations

import keras

from combtf.model.network import CombModel

BACKWARD = 2  # a backward pass costs about twice the forward (gradients of inputs and of weights)


def forward_gflop_per_image(model: CombModel, level: int) -> float:
    """Convolutions of the encoder and one decoder at `level`, per image (the fade-in path adds ~nothing)."""
    ident = model.arch.identities[0]
    blocks = [model.from_rgb[level], *model.encoder_blocks[: level + 1], *model.decoder_blocks[ident][: level + 1], model.to_rgb[ident][level]]
    flop = 0
    for block in blocks:
        for layer in block.layers:
            if isinstance(layer, keras.layers.Conv2D):
                _, h, w, c_out = layer.output.shape
                kh, kw, c_in, _ = layer.kernel.shape
                flop += 2 * h * w * kh * kw * c_in * c_out
    return flop / 1e9


def train_gflop_per_image(model: CombModel, level: int) -> float:
    """Forward and backward of one image's reconstruction (a swap-cycle term, where on, is not counted)."""
    return (1 + BACKWARD) * forward_gflop_per_image(model, level)
