"""Swaps straight from a run folder: the newest checkpoint's averaged weights, at the level it reached."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from combtf.config import TrainConfig, load_config
from combtf.errors import CombtfError
from combtf.levels import resolution
from combtf.model.latent_stats import LatentStats
from combtf.model.network import CombModel, architecture
from combtf.model.swap import swap_faces
from combtf.training.checkpoints import TrainState, make_checkpoint, restore_first, restore_newest
from combtf.training.run_folder import CHECKPOINTS, CONFIG
from combtf.training.weight_average import make_average

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """A run's model (averaged weights) at the level and alpha its newest checkpoint reached."""

    run: Path
    config: TrainConfig
    model: CombModel
    stats: LatentStats
    level: int
    alpha: float
    checkpoint: str
    policy: str = "float32"
    _compiled: dict = field(default_factory=dict, repr=False)

    @property
    def resolution(self) -> int:
        return resolution(self.level)

    def check_identity(self, name: str, role: str) -> None:
        if name not in self.config.identities:
            raise CombtfError(f"--{role} '{name}' is not an identity of {self.run} ({', '.join(self.config.identities)})")

    @property
    def can_match(self) -> bool:
        return self.stats.ready(self.level)

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> tf.Tensor:
        """Frames of `target` (floats in [0, 1]) -> `source`'s face; `match` moves the code between their statistics.

        One graph per (source, target, match): called eagerly, the Keras layers' Python
        overhead cost 145 ms per 256 px frame, several times the convolutions.
        """
        key = (source, target, bool(match and self.can_match))
        if key not in self._compiled:
            size = self.resolution
            spec = tf.TensorSpec([None, size, size, 3], tf.float32)
            self._compiled[key] = tf.function(lambda images: self._swap(images, *key), input_signature=[spec])
        return self._compiled[key](tf.convert_to_tensor(x, tf.float32))

    def _swap(self, x: tf.Tensor, source: str, target: str, match: bool) -> tf.Tensor:
        model, level, alpha = self.model, self.level, self.alpha
        matched = (lambda z: self.stats.match(z, source, target, self.config.latent_match)) if match else None
        return swap_faces(x, lambda images: model.encode(images, level, alpha), lambda z: model.decode(z, source, level, alpha),
                          matched, self.config.mirror_average).faces


def checkpoints_of(run: Path) -> list[str]:
    """Every checkpoint the run still holds, oldest first (curves over training read them all)."""
    state = tf.train.get_checkpoint_state(str(run / CHECKPOINTS))
    return list(state.all_model_checkpoint_paths) if state else []


def load_trained(run: Path, policy: str = "float32", chosen: str | None = None) -> TrainedModel:
    """The run's newest checkpoint (or `chosen`, one of `checkpoints_of(run)`), computing in `policy`
    (float32 unless asked) whatever trained it."""
    config = load_config(run / CONFIG).validate()
    if len(config.identities) < 2:
        raise CombtfError(f"{run / CONFIG}: the run lists fewer than 2 identities")
    keras.mixed_precision.set_global_policy(policy)
    model = CombModel(architecture(config))
    state, average, stats = TrainState(), make_average(model, config), LatentStats(model)
    saved = make_checkpoint(model, state, average, stats)
    if chosen is None:
        manager = tf.train.CheckpointManager(saved, str(run / CHECKPOINTS), max_to_keep=None)
        path = restore_newest(manager, saved, partial=True)
    else:
        path = restore_first(saved, [chosen], str(run / CHECKPOINTS), partial=True)
    if average is not None:
        average.copy_to_model()
    level = int(state.value("level"))
    if not stats.ready(level):
        log.warning("%s: no latent statistics for %d px yet (training stopped inside the level); swaps skip latent matching",
                    path, resolution(level))
    return TrainedModel(run, config, model, stats, level, float(state.value("alpha")), path, policy)
