"""A run folder: its config, its checkpoints, and the model they rebuild.

    runs/<name>/config.yaml     resolved options (identities included)
    runs/<name>/checkpoints/    tf.train.CheckpointManager files
    runs/<name>/previews/       PNG grids
    runs/<name>/logs/           TensorBoard scalars
    runs/<name>/summary.json    written when an invocation ends

TensorFlow writes a checkpoint's data under a temporary name and only then points the
`checkpoint` state file at it (itself replaced atomically), so a kill at any moment leaves
the previous checkpoint loadable; `restore_newest` also falls back to older ones if the
newest cannot be read.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from combtf.averaging import WeightAverage
from combtf.config import TrainConfig, load_config
from combtf.errors import CombtfError
from combtf.latents import LatentStats
from combtf.levels import level_of, resolution
from combtf.mirror import mirror_mean, with_mirrors
from combtf.model import Architecture, CombModel

log = logging.getLogger(__name__)
CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"


class TrainState:
    """Where training stands; saved in every checkpoint so a resume continues exactly."""

    def __init__(self) -> None:
        def var(dtype: tf.DType, name: str) -> tf.Variable:
            return tf.Variable(tf.zeros([], dtype), trainable=False, name=name)

        self.step = var(tf.int64, "step")              # optimizer steps so far (seeds the data)
        self.phase = var(tf.int64, "phase")            # index into schedule.plan()
        self.phase_step = var(tf.int64, "phase_step")  # steps done in that phase
        self.repeats = var(tf.int64, "repeats")        # score-gate repeats of that phase
        self.score_sum = var(tf.float64, "score_sum")  # masked SSIM summed over the phase
        self.score_count = var(tf.int64, "score_count")
        self.level = var(tf.int64, "level")            # what a swap should use
        self.alpha = var(tf.float32, "alpha")

    def trackables(self) -> dict[str, tf.Variable]:
        return {name: value for name, value in vars(self).items() if isinstance(value, tf.Variable)}

    @tf.function
    def advance(self, level: tf.Tensor, alpha: tf.Tensor, score: tf.Tensor) -> None:
        """One training step done: a single graph call instead of seven eager ones (a few ms a step)."""
        for var in (self.step, self.phase_step, self.score_count):
            var.assign_add(1)
        self.score_sum.assign_add(tf.cast(score, tf.float64))
        self.level.assign(level)
        self.alpha.assign(alpha)

    def value(self, name: str) -> int | float:
        return getattr(self, name).numpy().item()


def architecture(config: TrainConfig) -> Architecture:
    return Architecture(
        identities=tuple(config.identities),
        max_level=level_of(config.max_resolution, "max_resolution"),
        width=config.width,
        latent_dim=config.latent_dim,
        latent_size=config.latent_size,
        shared_decoder_levels=config.shared_decoder_levels,
    )


def make_average(model: CombModel, config: TrainConfig) -> WeightAverage | None:
    return WeightAverage(model.trainable_variables, config.weight_average) if config.weight_average else None


def make_checkpoint(
    model: CombModel, state: TrainState, average: WeightAverage | None, stats: LatentStats, optimizer: object | None = None
) -> tf.train.Checkpoint:
    items = {**model.trackables(), "state": state.trackables(), "latent_stats": stats.trackables()}
    if average is not None:
        items["average"] = average.trackables()
    if optimizer is not None:
        items["optimizer"] = optimizer
    return tf.train.Checkpoint(**items)


def restore_newest(manager: tf.train.CheckpointManager, checkpoint: tf.train.Checkpoint, partial: bool = False) -> str:
    """Restore the newest readable checkpoint; a damaged newest one falls back to the one before."""
    candidates = list(reversed(manager.checkpoints))
    if not candidates:
        raise CombtfError(f"{manager.directory}: no checkpoint to restore")
    problems = []
    for path in candidates:
        try:
            status = checkpoint.restore(path)
            if partial:
                status.expect_partial()
            status.assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError) as exc:  # corrupt files raise all of these
            first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:200]
            problems.append(f"{path}: {first}")
            continue
        for problem in problems:  # said only when an older one did load: when none does, the error says it once
            log.warning("cannot restore %s; restored the older %s instead", problem, path)
        return path
    raise CombtfError(f"{problems[0]} (no checkpoint in {manager.directory} matches this model)")


def find_run(model: str | Path | None, runs_root: Path = Path("runs")) -> Path:
    """The run folder named, or the newest one under runs/."""
    if model is not None:
        run = Path(model)
        if not (run / CONFIG).is_file():
            raise CombtfError(f"{run}: not a combtf run folder (no {CONFIG})")
        return run
    runs = sorted((p for p in runs_root.glob("*") if (p / CONFIG).is_file()), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise CombtfError(f"{runs_root}: no training run found; pass --model RUN")
    return runs[-1]


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
        mirror = self.config.mirror_average
        z = self.model.encode(with_mirrors(x) if mirror else x, self.level, self.alpha)
        if match:
            z = self.stats.match(z, source, target, self.config.latent_match)
        swapped = self.model.decode(z, source, self.level, self.alpha)
        return mirror_mean(swapped) if mirror else swapped


def load_trained(run: Path, policy: str = "float32") -> TrainedModel:
    """The run's newest checkpoint, computing in `policy` (float32 unless asked) whatever trained it."""
    config = load_config(run / CONFIG).validate()
    if len(config.identities) < 2:
        raise CombtfError(f"{run / CONFIG}: the run lists fewer than 2 identities")
    keras.mixed_precision.set_global_policy(policy)
    model = CombModel(architecture(config))
    state, average, stats = TrainState(), make_average(model, config), LatentStats(model)
    checkpoint = make_checkpoint(model, state, average, stats)
    manager = tf.train.CheckpointManager(checkpoint, str(run / CHECKPOINTS), max_to_keep=None)
    path = restore_newest(manager, checkpoint, partial=True)
    if average is not None:
        average.copy_to_model()
    level = int(state.value("level"))
    if not stats.ready(level):
        log.warning("%s: no latent statistics for %d px yet (training stopped inside the level); swaps skip latent matching",
                    path, resolution(level))
    return TrainedModel(run, config, model, stats, level, float(state.value("alpha")), path, policy)
