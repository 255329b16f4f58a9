"""What swaps are made with: a run folder (`from_run.TrainedModel`) or an export folder (`from_export.ExportedModel`)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from combtf.config import TrainConfig

if TYPE_CHECKING:
    import tensorflow as tf


class Swapper(Protocol):
    run: Path
    config: TrainConfig
    can_match: bool

    @property
    def resolution(self) -> int: ...

    def check_identity(self, name: str, role: str) -> None: ...

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> tf.Tensor: ...


def match_strength(trained: Swapper, match: bool) -> float:
    """How far swaps move the target's code towards the source's statistics (0: not at all), for reports:
    a score means little without it, and a run without statistics cannot match whatever was asked."""
    return float(trained.config.latent_match) if match and trained.can_match else 0.0
