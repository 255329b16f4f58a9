"""Training, top-down: `train` owns the run folder for one invocation, a `Trainer` runs its phases.

Growth is greedy, stage by stage: each phase of `schedule.plan` trains one level (fading it in,
then stabilising it) with its own `tf.function` step (`step.py`); at every level's end the latent
statistics are measured, a preview is drawn and a checkpoint saved (`checkpoints.py`).
"""
from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from combtf.config import TrainConfig, save_config
from combtf.data.augment import Augment
from combtf.data.faceset import FaceSet, LevelData, load_level, scan
from combtf.data.pipeline import dataset, replica_dataset
from combtf.errors import CombtfError
from combtf.levels import resolution
from combtf.model import precision
from combtf.model.latent_stats import LatentStats
from combtf.model.network import CombModel, architecture
from combtf.training import distribute, preview, schedule
from combtf.training.checkpoints import Checkpoints, TrainState, make_checkpoint
from combtf.training.lock import locked
from combtf.training.progress import Progress
from combtf.training.run_folder import CHECKPOINTS, CONFIG, LOGS, PREVIEWS, prepare_run, run_log, write_summary
from combtf.training.step import make_optimizer, make_step
from combtf.training.weight_average import WeightAverage, make_average

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


def train(
    config: TrainConfig,
    resume: bool = False,
    stop_after: int | None = None,
    show_progress: bool = True,
    strategy: str = "auto",
    time_limit: float | None = None,
) -> TrainResult:
    """Train (or resume) the run in `config.out`.  `stop_after` ends this invocation after N steps,
    `time_limit` after that many seconds of it (a night's run; a study's equal wall clock).
    `strategy` is not part of the config: a run may resume on other hardware."""
    cluster = distribute.make(strategy)
    if time_limit is not None and cluster.workers > 1:
        raise CombtfError("a time limit is for one machine: workers' clocks would stop them at different steps (use a step count)")
    chief = cluster.is_chief
    config = prepare_run(config, resume, chief)
    run = Path(config.out)
    with locked(run) if chief else contextlib.nullcontext(), _interrupt_on_sigterm():
        faces = _scan_faces(config, resume)
        with run_log(run) if chief else contextlib.nullcontext():
            started = time.perf_counter()
            deadline = None if time_limit is None else started + time_limit
            trainer = Trainer(config, run, faces, resume, cluster)
            trainer.train(stop_after, show_progress and chief, deadline)
            return trainer.result(time.perf_counter() - started)


def _scan_faces(config: TrainConfig, resume: bool) -> FaceSet:
    """The run's identity folders; a resumed run must find the identities it was trained on."""
    faces = scan(config.data, config.identities or None)
    if resume and faces.identities != config.identities:
        raise CombtfError(f"{config.data}: identities {faces.identities} differ from the run's {config.identities}")
    config.identities = faces.identities
    return faces


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


class Trainer:
    """One invocation of training: builds the model, restores state, runs phases until done or stopped."""

    def __init__(self, config: TrainConfig, run: Path, faces: FaceSet, resume: bool, cluster: distribute.Cluster) -> None:
        self.config, self.run, self.faces, self.cluster = config, run, faces, cluster
        self.chief = cluster.is_chief
        self.strategy = cluster.strategy
        self.policy = self._choose_precision()
        self._say_how_work_is_shared()
        if not resume and self.chief:
            save_config(config, run / CONFIG)
        self.model, self.optimizer, self.average = self._build_model()
        self.state, self.stats = TrainState(), LatentStats(self.model)
        self.checkpoints = self._open_checkpoints()
        if resume:
            self.checkpoints.resume(self.state)
        self._check_workers_agree()
        self.phases = schedule.plan(config, cluster.replicas)
        self.augment = Augment(config.flip, config.affine, config.warp, config.color,
                               affine_amount=config.affine_amount, warp_amount=config.warp_amount)
        self.level_data: LevelData | None = None
        self.warned: set[str] = set()
        self.step_fns: dict[int, Callable] = {}
        self.steps_done = 0
        self.at_step = self.checkpoints.saved_step

    # --- construction, in order ---------------------------------------------------
    def _choose_precision(self) -> str:
        policy, reason = precision.apply(self.config.precision)
        log.info("precision %s: %s", policy, reason)
        return policy

    def _say_how_work_is_shared(self) -> None:
        cluster, config = self.cluster, self.config
        log.info("strategy %s (%s): %s, %d replica(s); batch %d per identity per replica, global batch %d per identity; "
                 "learning rate %g applies to the global batch as given (not scaled with the replicas); each replica "
                 "trains on its slice of every step's global batch", cluster.name, cluster.reason, cluster.who, cluster.replicas,
                 config.batch_size, config.batch_size * cluster.replicas, config.lr)

    def _build_model(self) -> tuple[CombModel, keras.optimizers.Optimizer, WeightAverage | None]:
        """Seeded weights, then the optimizer built over every variable of every level, in the model's
        variable order: a checkpoint matches Adam's slots to variables by that order."""
        keras.utils.set_random_seed(self.config.seed)  # initial weights; the data has its own stateless seeds
        with self.strategy.scope():
            model = CombModel(architecture(self.config))
            optimizer = make_optimizer(self.config, self.policy)
            optimizer.build(model.trainable_variables)
            average = make_average(model, self.config)
        return model, optimizer, average

    def _open_checkpoints(self) -> Checkpoints:
        checkpoint = make_checkpoint(self.model, self.state, self.average, self.stats, self.optimizer)
        self.scratch = None if self.chief else self.cluster.scratch(self.run)
        checkpoints = Checkpoints(checkpoint, self.run / CHECKPOINTS, self.config.keep_checkpoints, self.scratch)
        if self.chief:
            checkpoints.remove_cut_saves()  # we hold the run's lock
        return checkpoints

    def _check_workers_agree(self) -> None:
        model_options = {k: v for k, v in self.config.to_dict().items() if k not in ("out", "data")}  # paths differ by machine
        distribute.check_agreement(self.cluster, {"options": distribute.fingerprint(model_options), "step": self.checkpoints.saved_step})

    # --- state ---------------------------------------------------------------------
    def _int(self, name: str) -> int:
        return int(self.state.value(name))

    @property
    def finished(self) -> bool:
        return self._int("phase") >= len(self.phases)

    def save(self) -> None:
        self.checkpoints.save(self._int("step"))

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
        folder = self.run / PREVIEWS
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
    def train(self, stop_after: int | None, show_progress: bool, deadline: float | None = None) -> None:
        current = self.phases[min(self._int("phase"), len(self.phases) - 1)]
        total = sum(p.steps for p in self.phases) + self._int("repeats") * current.steps
        images = self.config.batch_size * self.cluster.replicas * len(self.config.identities)
        progress = Progress(total, self._int("step"), images, show_progress)
        writer = tf.summary.create_file_writer(str(self.run / LOGS)) if self.chief else tf.summary.create_noop_writer()
        try:
            with writer.as_default():
                while not self.finished:
                    phase = self.phases[self._int("phase")]
                    if not self._run_phase(phase, progress, stop_after, deadline):
                        self.measure_latents()
                        break
                    self._end_phase(phase, progress)
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

    def _run_phase(self, phase: schedule.Phase, progress: Progress, stop_after: int | None, deadline: float | None) -> bool:
        """Run the rest of `phase`; False when `stop_after` or the deadline ended this invocation inside it."""
        size = resolution(phase.level)
        if self.level_data is None or self.level_data.size != size:
            self.level_data = load_level(self.faces, size, self.warned, self.config.expression_balance)
        if phase.level not in self.step_fns:
            self.step_fns[phase.level] = make_step(self.model, self.optimizer, self.average, phase.level, self.config, self.strategy)
        if self.average is not None:
            self.average.begin_level(phase.level)
        first, done = self._int("step"), self._int("phase_step")
        last = first + phase.steps - done
        config = self.config
        draw = functools.partial(dataset, self.level_data, config.identities, seed=config.seed, first_step=first,
                                 last_step=last, aug=self.augment)
        batches = self.strategy.distribute_datasets_from_function(functools.partial(replica_dataset, draw, config.batch_size))
        level = tf.constant(phase.level, tf.int64)
        for index, batch in enumerate(batches):
            phase_step = done + index  # Python mirrors of the state: reading a variable costs a sync
            alpha = schedule.alpha(phase, phase_step)
            alpha_t = tf.constant(alpha, tf.float32)
            self.at_step = first + index
            loss_t, scores_t = self.step_fns[phase.level](batch, alpha_t, tf.constant(self.at_step, tf.int64))
            scores = scores_t.numpy()
            loss, score = float(loss_t), float(scores.mean())
            if not math.isfinite(loss):
                raise CombtfError(f"{self.run}: loss became {loss} at step {self.at_step}; lower --lr or use --precision float32")
            self.state.advance(level, alpha_t, tf.constant(score, tf.float32))
            self.steps_done += 1
            self._record(first + index + 1, phase, alpha, loss, score, scores)
            progress.update(phase, alpha, loss, score)
            if (stop_after is not None and self.steps_done >= stop_after) or (deadline is not None and time.perf_counter() >= deadline):
                return False
            # the phase's last step is saved by train(), after the latent statistics are measured
            if phase_step + 1 < phase.steps and (first + index + 1) % self.config.checkpoint_every == 0:
                self.save()
        return True

    def _record(self, step: int, phase: schedule.Phase, alpha: float, loss: float, score: float, scores: Sequence[float]) -> None:
        if step % 10 == 0:
            for name, value in (("loss", loss), ("masked_ssim", score), ("alpha", alpha), ("level", phase.level)):
                tf.summary.scalar(name, value, step=step)
            for ident, value in zip(self.config.identities, scores):  # a collapsing decoder hides in the mean
                tf.summary.scalar(f"masked_ssim/{ident}", float(value), step=step)
        if self.config.preview_every and step % self.config.preview_every == 0:
            self.preview(f"step{step:07d}")

    def _end_phase(self, phase: schedule.Phase, progress: Progress) -> None:
        """Move on, or (score gate) repeat the stabilise phase of this level."""
        state, config = self.state, self.config
        mean = state.recent_score()
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
        if state.value("phase") < len(self.phases):  # keep the last phase's score for the summary
            state.score_sum.assign(0.0)
            state.score_count.assign(0)

    # --- the invocation's outcome ------------------------------------------------------
    def result(self, seconds: float) -> TrainResult:
        """What this invocation ended with; the chief also writes it to `<run>/summary.json`."""
        state = self.state
        result = TrainResult(
            run=self.run,
            steps=int(state.value("step")),
            seconds=seconds,
            level=int(state.value("level")),
            alpha=float(state.value("alpha")),
            score=state.recent_score(),
            finished=self.finished,
            skipped=dict(self.faces.skipped),
            precision=self.policy,
            chief=self.chief,
        )
        if self.chief:
            replicas = self.cluster.replicas
            write_summary(self.run, {
                "run": str(result.run),
                "finished": result.finished,
                "steps": result.steps,
                "steps_this_invocation": self.steps_done,
                "seconds_this_invocation": round(result.seconds, 1),
                "images_per_identity": result.steps * self.config.batch_size * replicas,  # the replica count of this invocation
                "replicas": replicas,
                "level": result.level,
                "resolution": resolution(result.level),
                "alpha": result.alpha,
                "masked_ssim_recent": result.score,
                "precision": result.precision,
                "skipped_images": len(result.skipped),
                "skipped": result.skipped,
            })
        return result
