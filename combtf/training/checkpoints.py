"""What a checkpoint holds, and saving and restoring it without ever losing a good one.

TensorFlow writes a checkpoint's data under a temporary name and only then points the
`checkpoint` state file at it (itself replaced atomically), so a kill at any moment leaves
the previous checkpoint loadable; `restore_newest` also falls back to older ones if the
newest cannot be read, and a save that fails (a full disk) removes what it left.
"""
from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import tensorflow as tf

from combtf.errors import CombtfError
from combtf.model.latent_stats import LatentStats
from combtf.model.network import CombModel
from combtf.training.weight_average import WeightAverage

log = logging.getLogger(__name__)


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

    def recent_score(self) -> float:
        """Mean masked SSIM over the current (or, once finished, the last) phase."""
        count = self.value("score_count")
        return float(self.value("score_sum") / count) if count else float("nan")


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
    return restore_first(checkpoint, list(reversed(manager.checkpoints)), manager.directory, partial)


def restore_first(checkpoint: tf.train.Checkpoint, candidates: list[str], folder: str, partial: bool = False) -> str:
    """Restore the first readable one of `candidates` (one named checkpoint: that one, or a one-line error)."""
    if not candidates:
        raise CombtfError(f"{folder}: no checkpoint to restore")
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
    raise CombtfError(f"{problems[0]} (no checkpoint in {folder} matches this model)")


class Checkpoints:
    """A run's checkpoint folder as one trainer sees it: resumed from, saved into, cleaned after a failed save.

    A worker that is not the chief takes part in every save, as TensorFlow requires, but into
    `scratch`, which it deletes."""

    def __init__(self, checkpoint: tf.train.Checkpoint, folder: Path, keep: int, scratch: Path | None = None) -> None:
        self.checkpoint, self.folder = checkpoint, folder
        self.run_manager = tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=keep)
        self.manager = self.run_manager if scratch is None else tf.train.CheckpointManager(checkpoint, str(scratch), max_to_keep=1)
        self.saved_step = 0

    def remove_cut_saves(self) -> None:
        """What a save cut short by a kill left; only the chief, which holds the run's lock, may."""
        for leftover in self.folder.glob("ckpt-*_temp"):
            shutil.rmtree(leftover, ignore_errors=True)

    def resume(self, state: TrainState) -> None:
        """Restore the newest readable checkpoint, if any: a run stopped before its first has nothing to lose."""
        if self.run_manager.checkpoints or any(self.folder.glob("ckpt-*.index")):
            path = restore_newest(self.run_manager, self.checkpoint)
            log.info("resumed from %s at step %d", path, state.value("step"))
        else:
            log.info("resumed at step 0: %s holds no checkpoint yet", self.folder)
        self.saved_step = int(state.value("step"))

    def save(self, step: int) -> None:
        if step != self.saved_step or not self.manager.checkpoints:
            try:
                self.manager.save(checkpoint_number=step)
            except (tf.errors.OpError, OSError) as exc:  # a full disk, a quota, a vanished mount
                raise self._save_failed(step, exc) from exc
            self.saved_step = step

    def _save_failed(self, step: int, exc: Exception) -> CombtfError:
        """Remove what the failed save left (never a listed checkpoint) and say what is kept."""
        folder = Path(self.manager.directory)
        shutil.rmtree(folder / f"ckpt-{step}_temp", ignore_errors=True)
        if not any(Path(p).name == f"ckpt-{step}" for p in self.manager.checkpoints):
            for leftover in folder.glob(f"ckpt-{step}.*"):
                leftover.unlink(missing_ok=True)
        newest = self.manager.latest_checkpoint
        kept = f"kept {Path(newest).name} (step {self.saved_step})" if newest else "no earlier checkpoint to keep"
        return CombtfError(f"{folder}: cannot save the checkpoint of step {step} ({os_reason(exc)}); {kept}; "
                           "free space, then resume with --resume")


def os_reason(exc: Exception) -> str:
    """'No space left on device' out of an OSError or TensorFlow's long op message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    found = re.search(r";\s*([^;\[]+?)\s*(\[Op:|$)", str(exc))
    return found.group(1) if found else str(exc).splitlines()[0][:200]
