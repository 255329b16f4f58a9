"""The training loop: one `tf.function` step per level, greedy stage-by-stage growth.

A step encodes one batch of every identity through the shared encoder, decodes each with
its own head, applies the mask to output and target, and takes one optimizer step on the
mean masked-SSIM loss of all identities.  The step is written for `strategy.run` so that
the same code runs under any tf.distribute strategy.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from combtf import data, precision, preview, schedule
from combtf.config import TrainConfig, load_config, save_config, write_atomic
from combtf.errors import CombtfError
from combtf.levels import resolution
from combtf.losses import reconstruction_loss
from combtf.model import CombModel
from combtf.run import CHECKPOINTS, CONFIG as CONFIG_NAME, TrainState, architecture, make_checkpoint, restore_newest

log = logging.getLogger(__name__)
PREVIEW_SAMPLES = 3


@dataclass
class TrainResult:
    run: Path
    steps: int
    seconds: float
    level: int
    alpha: float
    score: float
    finished: bool
    skipped: dict[str, str]
    precision: str


def make_optimizer(config: TrainConfig, policy: str) -> keras.optimizers.Optimizer:
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(config.lr, momentum=0.9)
    else:
        optimizer = keras.optimizers.Adam(config.lr)
    return keras.optimizers.LossScaleOptimizer(optimizer) if policy == "mixed_float16" else optimizer


def make_step(
    model: CombModel, optimizer: keras.optimizers.Optimizer, level: int, config: TrainConfig, strategy: tf.distribute.Strategy
) -> Callable[[tuple, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    variables = model.level_variables(level)
    identities = model.arch.identities

    def replica_step(inputs: tuple, targets: tuple, masks: tuple, alpha: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            latents = tf.split(model.encode(tf.concat(inputs, 0), level, alpha), len(identities), 0)
            losses, scores = [], []
            for ident, z, target, mask in zip(identities, latents, targets, masks):
                # the mask is applied inside the loss, after the forward pass, to output and target
                loss, score = reconstruction_loss(model.decode(z, ident, level, alpha), target, mask, config.loss, config.l1_weight)
                losses.append(loss)
                scores.append(score)
            loss = tf.reduce_mean(tf.concat(losses, 0))
            scaled = optimizer.scale_loss(loss / strategy.num_replicas_in_sync)
        grads = tape.gradient(scaled, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, tf.reduce_mean(tf.concat(scores, 0))

    @tf.function
    def step(batch: tuple, alpha: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss, score = strategy.run(replica_step, args=(*batch, alpha))
        mean = tf.distribute.ReduceOp.MEAN
        return strategy.reduce(mean, loss, axis=None), strategy.reduce(mean, score, axis=None)

    return step


def _prepare_run(config: TrainConfig, resume: bool) -> TrainConfig:
    """New run: refuse to overwrite one.  Resume: the saved config wins (it fixes the model)."""
    run = Path(config.out)
    saved = run / CONFIG_NAME
    if resume:
        if not saved.is_file():
            raise CombtfError(f"{run}: nothing to resume (no {CONFIG_NAME})")
        return load_config(saved).validate()
    if saved.exists() or (run / CHECKPOINTS).exists():
        raise CombtfError(f"{run}: already holds a run; pass --resume to continue it or choose another --out")
    return config


class _Progress:
    """tqdm bar over all steps of the schedule, with level, alpha, loss, SSIM and images/s."""

    def __init__(self, total: int, done: int, images_per_step: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, initial=done, disable=not enabled, unit="step", dynamic_ncols=True)
        self.images_per_step = images_per_step
        self.rate = 0.0
        self.last = time.perf_counter()

    def update(self, phase: schedule.Phase, alpha: float, loss: float, score: float) -> None:
        now = time.perf_counter()
        rate = self.images_per_step / max(now - self.last, 1e-9)
        self.rate = rate if self.rate == 0 else 0.9 * self.rate + 0.1 * rate
        self.last = now
        self.bar.set_postfix_str(
            f"{resolution(phase.level)}px {phase.name} a={alpha:.2f} loss={loss:.4f} ssim={score:.4f} {self.rate:.1f} img/s",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def train(config: TrainConfig, resume: bool = False, stop_after: int | None = None, show_progress: bool = True) -> TrainResult:
    """Train (or resume) the run in `config.out`.  `stop_after` ends this invocation after N steps."""
    config = _prepare_run(config, resume)
    run = Path(config.out)
    faces = data.scan(config.data, config.identities or None)
    if resume and faces.identities != config.identities:
        raise CombtfError(f"{config.data}: identities {faces.identities} differ from the run's {config.identities}")
    config.identities = faces.identities
    run.mkdir(parents=True, exist_ok=True)
    file_log = logging.FileHandler(run / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("combtf")
    level = logger.level
    logger.setLevel(min(level or logging.INFO, logging.INFO))  # the run log always gets INFO
    logger.addHandler(file_log)
    try:
        return _train(config, run, faces, resume, stop_after, show_progress)
    finally:
        logger.removeHandler(file_log)
        logger.setLevel(level)
        file_log.close()


def _train(
    config: TrainConfig, run: Path, faces: data.FaceSet, resume: bool, stop_after: int | None, show_progress: bool
) -> TrainResult:
    policy, reason = precision.apply(config.precision)
    log.info("precision %s: %s", policy, reason)
    if not resume:
        save_config(config, run / CONFIG_NAME)
    keras.utils.set_random_seed(config.seed)  # initial weights; the data has its own stateless seeds
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = CombModel(architecture(config))
        optimizer = make_optimizer(config, policy)
        optimizer.build(model.trainable_variables)
    state = TrainState()
    checkpoint = make_checkpoint(model, state, optimizer)
    manager = tf.train.CheckpointManager(checkpoint, str(run / CHECKPOINTS), max_to_keep=config.keep_checkpoints)
    if resume:
        path = restore_newest(manager, checkpoint)
        log.info("resumed from %s at step %d", path, state.value("step"))

    phases = schedule.plan(config)
    identities = config.identities
    augment = data.Augment(config.flip, config.affine, config.warp, config.color)
    total = sum(p.steps for p in phases) + int(state.value("repeats")) * phases[min(int(state.value("phase")), len(phases) - 1)].steps
    progress = _Progress(total, int(state.value("step")), config.batch_size * len(identities), show_progress)
    writer = tf.summary.create_file_writer(str(run / "logs"))
    level_data: data.LevelData | None = None
    warned: set[str] = set()
    steps_done, started = 0, time.perf_counter()
    step_fns: dict[int, Callable] = {}
    stopped = False

    def save() -> None:
        manager.save(checkpoint_number=int(state.value("step")))

    def write_preview(tag: str) -> None:
        samples = {i: level_data.images[i][:PREVIEW_SAMPLES] for i in identities}
        level, alpha = int(state.value("level")), float(state.value("alpha"))
        for name in (f"{tag}.png", "latest.png"):
            preview.write(run / "previews" / name, model, level, alpha, samples, str(run))

    try:
        with writer.as_default():
            while state.value("phase") < len(phases) and not stopped:
                phase = phases[int(state.value("phase"))]
                size = resolution(phase.level)
                if level_data is None or level_data.size != size:
                    level_data = data.load_level(faces, size, warned)
                if phase.level not in step_fns:
                    step_fns[phase.level] = make_step(model, optimizer, phase.level, config, strategy)
                first = int(state.value("step"))
                remaining = phase.steps - int(state.value("phase_step"))
                batches = data.dataset(level_data, identities, config.batch_size, config.seed, first, first + remaining, augment)
                for batch in strategy.experimental_distribute_dataset(batches):
                    alpha = schedule.alpha(phase, int(state.value("phase_step")))
                    loss, score = step_fns[phase.level](batch, tf.constant(alpha, tf.float32))
                    loss, score = float(loss), float(score)
                    if not math.isfinite(loss):
                        raise CombtfError(f"{run}: loss became {loss} at step {state.value('step')}; lower --lr or use --precision float32")
                    for var, value in ((state.step, 1), (state.phase_step, 1), (state.score_count, 1)):
                        var.assign_add(value)
                    state.score_sum.assign_add(score)
                    state.level.assign(phase.level)
                    state.alpha.assign(alpha)
                    step = int(state.value("step"))
                    steps_done += 1
                    progress.update(phase, alpha, loss, score)
                    if step % 10 == 0:
                        for name, value in (("loss", loss), ("masked_ssim", score), ("alpha", alpha), ("level", phase.level)):
                            tf.summary.scalar(name, value, step=step)
                    if step % config.checkpoint_every == 0:
                        save()
                    if config.preview_every and step % config.preview_every == 0:
                        write_preview(f"step{step:07d}")
                    if stop_after is not None and steps_done >= stop_after:
                        stopped = True
                        break
                if not stopped:
                    _end_phase(state, phase, phases, config, progress)
                    save()
                    if state.value("phase") >= len(phases) or phases[int(state.value("phase"))].level != phase.level:
                        write_preview(f"level{phase.level}_{size}px")
            save()
    except KeyboardInterrupt:
        save()
        log.warning("interrupted: saved checkpoint at step %d", state.value("step"))
        raise
    finally:
        progress.close()
        writer.close()

    result = TrainResult(
        run=run,
        steps=int(state.value("step")),
        seconds=time.perf_counter() - started,
        level=int(state.value("level")),
        alpha=float(state.value("alpha")),
        score=_recent_score(state),
        finished=state.value("phase") >= len(phases),
        skipped=dict(faces.skipped),
        precision=policy,
    )
    _write_summary(result, steps_done, config)
    return result


def _recent_score(state: TrainState) -> float:
    count = state.value("score_count")
    return float(state.value("score_sum") / count) if count else float("nan")


def _end_phase(state: TrainState, phase: schedule.Phase, phases: list[schedule.Phase], config: TrainConfig, progress: _Progress) -> None:
    """Move on, or (score gate) repeat the stabilise phase of this level."""
    mean = _recent_score(state)
    log.info("level %d (%d px) %s done: mean masked SSIM %.4f", phase.level, resolution(phase.level), phase.name, mean)
    if schedule.repeat_level(phase, mean, int(state.value("repeats")), config):
        state.repeats.assign_add(1)
        progress.bar.total += phase.steps
        log.info("score gate: %.4f < %.4f, repeating level %d (%d of %d)", mean, config.min_score, phase.level,
                 state.value("repeats"), config.max_repeats)
    else:
        state.phase.assign_add(1)
        state.repeats.assign(0)
    state.phase_step.assign(0)
    if state.value("phase") < len(phases):  # keep the last phase's score for the summary
        state.score_sum.assign(0.0)
        state.score_count.assign(0)


def _write_summary(result: TrainResult, steps_this_run: int, config: TrainConfig) -> None:
    summary = {
        "run": str(result.run),
        "finished": result.finished,
        "steps": result.steps,
        "steps_this_invocation": steps_this_run,
        "seconds_this_invocation": round(result.seconds, 1),
        "images_per_identity": result.steps * config.batch_size,
        "level": result.level,
        "resolution": resolution(result.level),
        "alpha": result.alpha,
        "masked_ssim_recent": result.score,
        "precision": result.precision,
        "skipped_images": len(result.skipped),
        "skipped": result.skipped,
    }
    write_atomic(result.run / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
