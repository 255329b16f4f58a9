"""The training loop: one `tf.function` step per level, greedy stage-by-stage growth.

A step encodes one batch of every identity through the shared encoder, decodes each with
its own head, applies the mask to output and target, and takes one optimizer step on the
mean masked-SSIM loss of all identities.  The step is written for `strategy.run` so that
the same code runs under any tf.distribute strategy.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import keras
import tensorflow as tf
from tqdm import tqdm

from combtf import data, distribute, precision, preview, schedule
from combtf.averaging import WeightAverage
from combtf.config import TrainConfig, load_config, save_config, write_atomic
from combtf.errors import CombtfError
from combtf.levels import resolution
from combtf.latents import LatentStats
from combtf.losses import reconstruction_loss
from combtf.model import CombModel
from combtf.runlock import locked
from combtf.swap_cycle import swap_cycle_applies, swap_cycle_distance
from combtf.run import CHECKPOINTS, CONFIG as CONFIG_NAME, TrainState, architecture, make_average, make_checkpoint, restore_newest

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
    chief: bool = True  # False: a worker of a cluster, which wrote nothing into the run folder


class _Summed:
    """Gradients reach this optimizer already summed over the replicas and clipped (`make_step`).

    Keras 3 clips each replica's share of the gradient before it sums the shares, so with
    clipping a run over R replicas would not be the run over one device with R times the batch."""

    def _all_reduce_sum_gradients(self, grads_and_vars: list) -> list:
        return list(grads_and_vars)


class _Adam(_Summed, keras.optimizers.Adam):
    pass


class _SGD(_Summed, keras.optimizers.SGD):
    pass


def make_optimizer(config: TrainConfig, policy: str) -> keras.optimizers.Optimizer:
    optimizer = _SGD(config.lr, momentum=0.9, name="sgd") if config.optimizer == "sgd" else _Adam(config.lr, name="adam")
    return keras.optimizers.LossScaleOptimizer(optimizer) if policy == "mixed_float16" else optimizer


def summed_and_clipped(grads: list[tf.Tensor], optimizer: keras.optimizers.Optimizer, clip_norm: float) -> list[tf.Tensor]:
    """The global batch's gradient (sum over replicas), its global norm clipped to `clip_norm`.
    Loss-scaled gradients are clipped by their unscaled norm; a non-finite norm stays non-finite,
    so a float16 loss-scale optimizer still skips that step."""
    grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
    if not clip_norm:
        return grads
    norm = tf.linalg.global_norm(grads) / optimizer.scale_loss(tf.constant(1.0))
    factor = clip_norm / tf.maximum(norm, clip_norm)
    return [g * factor for g in grads]


def make_step(
    model: CombModel,
    optimizer: keras.optimizers.Optimizer,
    average: WeightAverage | None,
    level: int,
    config: TrainConfig,
    strategy: tf.distribute.Strategy,
) -> Callable[[tuple, tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """step(batch, alpha, global step): the global step picks the swap cycle's sources."""
    variables = model.level_variables(level)
    identities = model.arch.identities
    cycle_weight = config.swap_cycle_weight if swap_cycle_applies(model.arch, level) else 0.0

    def replica_step(inputs: tuple, targets: tuple, masks: tuple, alpha: tf.Tensor, at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            latents = tf.split(model.encode(tf.concat(inputs, 0), level, alpha), len(identities), 0)
            losses, scores = [], []
            for ident, z, target, mask in zip(identities, latents, targets, masks):
                # the mask is applied inside the loss, after the forward pass, to output and target
                loss, score = reconstruction_loss(model.decode(z, ident, level, alpha), target, mask, config.loss,
                                                  config.l1_weight, config.eyes_mouth_weight, config.detail_weight)
                losses.append(loss)
                scores.append(score)
            loss = tf.reduce_mean(tf.concat(losses, 0))
            if cycle_weight:
                cycle = swap_cycle_distance(model, latents, inputs, masks, level, alpha, at)
                loss = loss + cycle_weight * tf.reduce_mean(cycle)
            scaled = optimizer.scale_loss(loss / strategy.num_replicas_in_sync)
        grads = summed_and_clipped(tape.gradient(scaled, variables), optimizer, config.clip_norm)
        optimizer.apply_gradients(zip(grads, variables))
        if average is not None:
            average.update(variables)
        return loss, tf.reduce_mean(tf.concat(scores, 0))

    @tf.function
    def step(batch: tuple, alpha: tf.Tensor, at: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        loss, score = strategy.run(replica_step, args=(*batch, alpha, at))
        mean = tf.distribute.ReduceOp.MEAN
        return strategy.reduce(mean, loss, axis=None), strategy.reduce(mean, score, axis=None)

    return step


def _prepare_run(config: TrainConfig, resume: bool, chief: bool) -> TrainConfig:
    """New run: refuse to overwrite one.  Resume: the saved config wins (it fixes the model).
    Workers other than the chief only read the run folder (and only to resume)."""
    run = Path(config.out)
    saved = run / CONFIG_NAME
    if resume:
        if not saved.is_file():
            where = "" if chief else " (every worker reads the run folder to resume: share it or copy it there)"
            raise CombtfError(f"{run}: nothing to resume (no {CONFIG_NAME}){where}")
        resumed = load_config(saved).validate()
        resumed.out = str(run)  # the folder named is the run, wherever it was made (a moved run once trained the old one)
        return resumed
    if chief and (saved.exists() or (run / CHECKPOINTS).exists()):
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


def train(
    config: TrainConfig, resume: bool = False, stop_after: int | None = None, show_progress: bool = True, strategy: str = "auto"
) -> TrainResult:
    """Train (or resume) the run in `config.out`.  `stop_after` ends this invocation after N steps.
    `strategy` is not part of the config: a run may resume on other hardware."""
    cluster = distribute.make(strategy)
    config = _prepare_run(config, resume, cluster.is_chief)
    lock = locked(Path(config.out)) if cluster.is_chief else contextlib.nullcontext()
    with lock, _interrupt_on_sigterm():
        return _train_locked(config, resume, stop_after, show_progress and cluster.is_chief, cluster)


@contextlib.contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`, a closing container) saves a checkpoint as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _train_locked(
    config: TrainConfig, resume: bool, stop_after: int | None, show_progress: bool, cluster: distribute.Cluster
) -> TrainResult:
    run = Path(config.out)
    faces = data.scan(config.data, config.identities or None)
    if resume and faces.identities != config.identities:
        raise CombtfError(f"{config.data}: identities {faces.identities} differ from the run's {config.identities}")
    config.identities = faces.identities
    if not cluster.is_chief:
        return _train(config, run, faces, resume, stop_after, show_progress, cluster)
    run.mkdir(parents=True, exist_ok=True)
    file_log = logging.FileHandler(run / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("combtf")
    level = logger.level
    logger.setLevel(min(level or logging.INFO, logging.INFO))  # the run log always gets INFO
    logger.addHandler(file_log)
    try:
        return _train(config, run, faces, resume, stop_after, show_progress, cluster)
    finally:
        logger.removeHandler(file_log)
        logger.setLevel(level)
        file_log.close()


class _Trainer:
    """One invocation of training: builds the model, restores state, runs phases until done or stopped."""

    def __init__(self, config: TrainConfig, run: Path, faces: data.FaceSet, resume: bool, cluster: distribute.Cluster) -> None:
        self.config, self.run, self.faces, self.cluster = config, run, faces, cluster
        self.chief = cluster.is_chief
        self.policy, reason = precision.apply(config.precision)
        log.info("precision %s: %s", self.policy, reason)
        replicas = cluster.replicas
        log.info("strategy %s (%s): %s, %d replica(s); batch %d per identity per replica, global batch %d per identity; "
                 "learning rate %g applies to the global batch as given (not scaled with the replicas); each replica "
                 "trains on its slice of every step's global batch", cluster.name, cluster.reason, cluster.who, replicas,
                 config.batch_size, config.batch_size * replicas, config.lr)
        if not resume and self.chief:
            save_config(config, run / CONFIG_NAME)
        keras.utils.set_random_seed(config.seed)  # initial weights; the data has its own stateless seeds
        self.strategy = cluster.strategy
        with self.strategy.scope():
            self.model = CombModel(architecture(config))
            self.optimizer = make_optimizer(config, self.policy)
            self.optimizer.build(self.model.trainable_variables)
            self.average = make_average(self.model, config)
        self.state = TrainState()
        self.stats = LatentStats(self.model)
        checkpoint = make_checkpoint(self.model, self.state, self.average, self.stats, self.optimizer)
        run_manager = tf.train.CheckpointManager(checkpoint, str(run / CHECKPOINTS), max_to_keep=config.keep_checkpoints)
        # a non-chief takes part in every save, as TensorFlow requires, but into scratch it deletes
        self.scratch = None if self.chief else cluster.scratch(run)
        self.manager = run_manager if self.chief else tf.train.CheckpointManager(checkpoint, str(self.scratch), max_to_keep=1)
        if self.chief:
            for leftover in (run / CHECKPOINTS).glob("ckpt-*_temp"):  # a save cut short by a kill; we hold the lock
                shutil.rmtree(leftover, ignore_errors=True)
        if resume and (run_manager.checkpoints or any((run / CHECKPOINTS).glob("ckpt-*.index"))):
            path = restore_newest(run_manager, checkpoint)
            log.info("resumed from %s at step %d", path, self.state.value("step"))
        elif resume:  # stopped before its first checkpoint: nothing to lose, start over
            log.info("resumed at step 0: %s holds no checkpoint yet", run / CHECKPOINTS)
        self.saved_step = int(self.state.value("step"))
        model_options = {k: v for k, v in config.to_dict().items() if k not in ("out", "data")}  # paths differ by machine
        distribute.check_agreement(cluster, {"options": distribute.fingerprint(model_options), "step": self.saved_step})
        self.phases = schedule.plan(config, replicas)
        self.augment = data.Augment(config.flip, config.affine, config.warp, config.color,
                                   affine_amount=config.affine_amount, warp_amount=config.warp_amount)
        self.level_data: data.LevelData | None = None
        self.warned: set[str] = set()
        self.step_fns: dict[int, Callable] = {}
        self.steps_done = 0
        self.at_step = self.saved_step

    # --- state ---------------------------------------------------------------------
    def _int(self, name: str) -> int:
        return int(self.state.value(name))

    @property
    def finished(self) -> bool:
        return self._int("phase") >= len(self.phases)

    def save(self) -> None:
        step = self._int("step")
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
        return CombtfError(f"{folder}: cannot save the checkpoint of step {step} ({_os_reason(exc)}); {kept}; "
                           "free space, then resume with --resume")

    def _peer_lost(self, exc: tf.errors.OpError) -> CombtfError:
        """One line for a lost peer; reads no variable (the broken collective context would fail again)."""
        newest = tf.train.latest_checkpoint(str(self.run / CHECKPOINTS))
        kept = f"the newest checkpoint {newest} is kept" if newest else "no checkpoint was written yet"
        reason = " ".join(line.strip() for line in exc.message.splitlines()[:2])[:300]
        return CombtfError(f"{self.run}: {self.cluster.who} lost the other workers at step {self.at_step} ({reason}); {kept}: "
                           "restart every worker with --resume")

    def averaged(self) -> contextlib.AbstractContextManager:
        return self.average.applied() if self.average is not None else contextlib.nullcontext()

    def preview(self, tag: str) -> None:
        if not self.chief:
            return
        samples = {i: self.level_data.images[i][:PREVIEW_SAMPLES] for i in self.config.identities}
        level, alpha = self._int("level"), float(self.state.value("alpha"))
        folder = self.run / "previews"
        stats = self.stats if self.stats.ready(level) else None
        with self.averaged():
            preview.write([folder / f"{tag}.png", folder / "latest.png"], self.model, level, alpha, samples, stats, str(self.run),
                          self.config.latent_match, self.config.mirror_average)

    def measure_latents(self) -> None:
        """Latent statistics for the swap's matching, from the averaged weights at the current level."""
        level, alpha = self._int("level"), float(self.state.value("alpha"))
        with self.averaged():
            self.stats.measure(self.model, level, alpha, self.level_data.images, self._int("step"))

    # --- loop ----------------------------------------------------------------------
    def train(self, stop_after: int | None, show_progress: bool) -> None:
        current = self.phases[min(self._int("phase"), len(self.phases) - 1)]
        total = sum(p.steps for p in self.phases) + self._int("repeats") * current.steps
        images = self.config.batch_size * self.cluster.replicas * len(self.config.identities)
        progress = _Progress(total, self._int("step"), images, show_progress)
        writer = tf.summary.create_file_writer(str(self.run / "logs")) if self.chief else tf.summary.create_noop_writer()
        try:
            with writer.as_default():
                while not self.finished:
                    phase = self.phases[self._int("phase")]
                    if not self._run_phase(phase, progress, stop_after):
                        self.measure_latents()
                        break
                    _end_phase(self.state, phase, self.phases, self.config, progress)
                    if self.finished or self.phases[self._int("phase")].level != phase.level:
                        self.measure_latents()
                        self.preview(f"level{phase.level}_{resolution(phase.level)}px")
                    self.save()
                self.save()
        except KeyboardInterrupt:
            self.save()
            log.warning("interrupted: saved checkpoint at step %d", self._int("step"))
            raise
        except distribute.PEER_ERRORS as exc:  # surfaces at the step or at any op after it (eager ops run async)
            if self.cluster.workers == 1:
                raise
            raise self._peer_lost(exc) from exc
        finally:
            progress.close()
            writer.close()
            distribute.remove_scratch(self.scratch)

    def _run_phase(self, phase: schedule.Phase, progress: _Progress, stop_after: int | None) -> bool:
        """Run the rest of `phase`; False when `stop_after` ended this invocation inside it."""
        size = resolution(phase.level)
        if self.level_data is None or self.level_data.size != size:
            self.level_data = data.load_level(self.faces, size, self.warned, self.config.expression_balance)
        if phase.level not in self.step_fns:
            self.step_fns[phase.level] = make_step(self.model, self.optimizer, self.average, phase.level, self.config, self.strategy)
        if self.average is not None:
            self.average.begin_level(phase.level)
        first, done = self._int("step"), self._int("phase_step")
        last = first + phase.steps - done
        config = self.config
        draw = functools.partial(data.dataset, self.level_data, config.identities, seed=config.seed, first_step=first,
                                 last_step=last, aug=self.augment)
        batches = self.strategy.distribute_datasets_from_function(functools.partial(data.replica_dataset, draw, config.batch_size))
        level = tf.constant(phase.level, tf.int64)
        for index, batch in enumerate(batches):
            phase_step = done + index  # Python mirrors of the state: reading a variable costs a sync
            alpha = schedule.alpha(phase, phase_step)
            alpha_t = tf.constant(alpha, tf.float32)
            self.at_step = first + index
            loss_t, score_t = self.step_fns[phase.level](batch, alpha_t, tf.constant(self.at_step, tf.int64))
            loss, score = float(loss_t), float(score_t)
            if not math.isfinite(loss):
                raise CombtfError(f"{self.run}: loss became {loss} at step {self.at_step}; lower --lr or use --precision float32")
            self.state.advance(level, alpha_t, score_t)
            self.steps_done += 1
            self._record(first + index + 1, phase, alpha, loss, score)
            progress.update(phase, alpha, loss, score)
            if stop_after is not None and self.steps_done >= stop_after:
                return False
            # the phase's last step is saved by train(), after the latent statistics are measured
            if phase_step + 1 < phase.steps and (first + index + 1) % self.config.checkpoint_every == 0:
                self.save()
        return True

    def _record(self, step: int, phase: schedule.Phase, alpha: float, loss: float, score: float) -> None:
        if step % 10 == 0:
            for name, value in (("loss", loss), ("masked_ssim", score), ("alpha", alpha), ("level", phase.level)):
                tf.summary.scalar(name, value, step=step)
        if self.config.preview_every and step % self.config.preview_every == 0:
            self.preview(f"step{step:07d}")


def _train(
    config: TrainConfig, run: Path, faces: data.FaceSet, resume: bool, stop_after: int | None, show_progress: bool,
    cluster: distribute.Cluster,
) -> TrainResult:
    started = time.perf_counter()
    trainer = _Trainer(config, run, faces, resume, cluster)
    trainer.train(stop_after, show_progress)
    state = trainer.state
    result = TrainResult(
        run=run,
        steps=int(state.value("step")),
        seconds=time.perf_counter() - started,
        level=int(state.value("level")),
        alpha=float(state.value("alpha")),
        score=_recent_score(state),
        finished=trainer.finished,
        skipped=dict(faces.skipped),
        precision=trainer.policy,
        chief=trainer.chief,
    )
    if trainer.chief:
        _write_summary(result, trainer.steps_done, config, cluster.replicas)
    return result


def _os_reason(exc: Exception) -> str:
    """'No space left on device' out of an OSError or TensorFlow's long op message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    found = re.search(r";\s*([^;\[]+?)\s*(\[Op:|$)", str(exc))
    return found.group(1) if found else str(exc).splitlines()[0][:200]


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


def _write_summary(result: TrainResult, steps_this_run: int, config: TrainConfig, replicas: int) -> None:
    summary = {
        "run": str(result.run),
        "finished": result.finished,
        "steps": result.steps,
        "steps_this_invocation": steps_this_run,
        "seconds_this_invocation": round(result.seconds, 1),
        "images_per_identity": result.steps * config.batch_size * replicas,  # the replica count of this invocation
        "replicas": replicas,
        "level": result.level,
        "resolution": resolution(result.level),
        "alpha": result.alpha,
        "masked_ssim_recent": result.score,
        "precision": result.precision,
        "skipped_images": len(result.skipped),
        "skipped": result.skipped,
    }
    write_atomic(result.run / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
