"""A run folder: what it holds, how a run starts or resumes in one, and what an invocation leaves there.

    runs/<name>/config.yaml     resolved options (identities included)
    runs/<name>/checkpoints/    tf.train.CheckpointManager files (`checkpoints.py`)
    runs/<name>/previews/       PNG grids
    runs/<name>/logs/           TensorBoard scalars
    runs/<name>/train.log       what the run chose and why, level ends
    runs/<name>/summary.json    written when an invocation ends
"""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from combtf.config import TrainConfig, load_config
from combtf.errors import CombtfError
from combtf.io.atomic import write_atomic

CONFIG = "config.yaml"
CHECKPOINTS = "checkpoints"
PREVIEWS = "previews"
LOGS = "logs"


def prepare_run(config: TrainConfig, resume: bool, chief: bool) -> TrainConfig:
    """New run: refuse to overwrite one.  Resume: the saved config wins (it fixes the model).
    Workers other than the chief only read the run folder (and only to resume)."""
    run = Path(config.out)
    saved = run / CONFIG
    if resume:
        if not saved.is_file():
            where = "" if chief else " (every worker reads the run folder to resume: share it or copy it there)"
            raise CombtfError(f"{run}: nothing to resume (no {CONFIG}){where}")
        resumed = load_config(saved).validate()
        resumed.out = str(run)  # the folder named is the run, wherever it was made (a moved run once trained the old one)
        return resumed
    if chief and (saved.exists() or (run / CHECKPOINTS).exists()):
        raise CombtfError(f"{run}: already holds a run; pass --resume to continue it or choose another --out")
    return config


@contextlib.contextmanager
def run_log(run: Path) -> Iterator[None]:
    """combtf's log lines also go to `<run>/train.log`, always at INFO, while the block runs."""
    run.mkdir(parents=True, exist_ok=True)
    file_log = logging.FileHandler(run / "train.log")
    file_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("combtf")
    level = logger.level
    logger.setLevel(min(level or logging.INFO, logging.INFO))
    logger.addHandler(file_log)
    try:
        yield
    finally:
        logger.removeHandler(file_log)
        logger.setLevel(level)
        file_log.close()


def write_summary(run: Path, summary: dict) -> None:
    write_atomic(run / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())


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
