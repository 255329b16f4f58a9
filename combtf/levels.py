"""The level table: level k works at 4 * 2**k px, from 4 px (level 0) to 1024 px (level 8).

Kept free of TensorFlow so that option checks and the CLI's help stay fast.
"""
from __future__ import annotations

from combtf.errors import CombtfError

MAX_LEVEL = 8

# Reference implementation's encoder blocks, (in, mid, out) channels, indexed by level.
# Level 6 is listed as 64-32-128 there; we read it as the evident 64-64-128.
ENCODER_CHANNELS: tuple[tuple[int, int, int], ...] = (
    (512, 512, 512),   # 4 px: conv3x3, conv4x4 valid -> latent
    (512, 512, 512),   # 8
    (512, 512, 512),   # 16
    (512, 512, 512),   # 32
    (256, 256, 512),   # 64
    (128, 128, 256),   # 128
    (64, 64, 128),     # 256
    (32, 32, 64),      # 512
    (16, 16, 32),      # 1024
)
# Decoder block k outputs this many channels at 4 * 2**k px.
DECODER_CHANNELS: tuple[int, ...] = (512, 512, 512, 512, 256, 128, 64, 32, 16)


def resolution(level: int) -> int:
    return 4 * 2**level


def level_of(res: int, option: str = "resolution") -> int:
    """Level index of a resolution; anything not 4 * 2**k up to 1024 is an error naming the option."""
    for level in range(MAX_LEVEL + 1):
        if resolution(level) == res:
            return level
    allowed = ", ".join(str(resolution(k)) for k in range(MAX_LEVEL + 1))
    raise CombtfError(f"{option} {res} is not a level resolution (one of {allowed})")


def scaled(channels: int, width: float) -> int:
    """Channel count at a width multiplier, never below 4 so tiny models still learn colour."""
    return max(4, int(round(channels * width)))
