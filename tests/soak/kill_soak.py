"""Kill `combtf train` with SIGKILL at random moments, resume each time, and check nothing was lost.

    .venv/bin/python -m tests.soak.kill_soak --kills 20        # the long soak, one JSON line out

Kills land at random times, while a checkpoint is being written (a `ckpt-N_temp` folder
exists) and right after a level's phase ends.  Before every resume the newest complete
checkpoint (listed in the `checkpoint` file and readable tensor by tensor) is worked out
independently; the resume must say it restored that one.  The last resume runs to the end
and its weights must equal an uninterrupted run's.  `make test` runs a short version
(`tests/test_crash.py`).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tests.helpers import train_command

MOMENTS = ("time", "checkpoint", "level")
WEIGHTS = (0.45, 0.45, 0.1)  # a level kill jumps to the next phase end: few, or the run ends before the kills do
RESUMED = re.compile(r"resumed from (\S+) at step (\d+)")


def settings(kills: int) -> tuple[str, ...]:
    """4 -> 8 px with about 15 steps a kill (300 at least): each run gets some way before it dies."""
    images = max(600, 60 * kills)
    return ("--images-per-level", str(images), "--batch-size", "4", "--checkpoint-every", "3", "--seed", "3")


@dataclass
class SoakResult:
    kills: int = 0
    kills_in_checkpoint_write: int = 0
    kills_after_level_change: int = 0
    kills_at_random_time: int = 0
    resumes_checked: int = 0
    checkpoints_checked: int = 0
    max_weight_difference: float = 0.0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def newest_complete(folder: Path) -> str | None:
    """The newest checkpoint the `checkpoint` file lists whose every tensor reads back."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(folder))
    for path in reversed(list(state.all_model_checkpoint_paths) if state else []):
        try:
            reader = tf.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            return str(Path(path).name)
        except (tf.errors.OpError, ValueError):
            continue
    return None


def check_listed(folder: Path, result: SoakResult) -> None:
    """Every listed checkpoint must read back: a kill may lose the newest steps, never damage a kept file."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(folder))
    for path in list(state.all_model_checkpoint_paths) if state else []:
        try:
            reader = tf.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
            result.checkpoints_checked += 1
        except (tf.errors.OpError, ValueError) as exc:
            result.problems.append(f"listed checkpoint {path} does not read: {str(exc)[:120]}")


def saving(run: Path) -> bool:
    """A checkpoint is being written (the trainer removes leftovers of killed saves when it starts)."""
    folder = run / "checkpoints"
    return folder.is_dir() and any(p.name.endswith("_temp") for p in folder.iterdir())


def wait_for(moment: str, proc: subprocess.Popen, run: Path, rng: random.Random, log_lines: int) -> None:
    """Return at the chosen moment (or when the process ends)."""
    deadline = time.monotonic() + (rng.uniform(1.0, 8.0) if moment == "time" else 60.0)
    log = run / "train.log"
    saves, was_saving = rng.randint(1, 4), False  # not always the first save, or a run never gets past it
    while proc.poll() is None and time.monotonic() < deadline:
        now_saving = moment == "checkpoint" and saving(run)
        saves -= now_saving and not was_saving
        was_saving = now_saving
        if now_saving and saves == 0:
            return
        if moment == "level" and log.is_file() and log.read_text().count(" done: mean masked SSIM") > log_lines:
            return
        time.sleep(0.001 if moment == "checkpoint" else 0.02)


def soak(data: Path, work: Path, kills: int, seed: int = 0) -> SoakResult:
    from combtf.swap.from_run import load_trained

    result, rng, start = SoakResult(), random.Random(seed), time.monotonic()
    reference, run = work / "reference", work / "soak"
    done = subprocess.run(train_command(data, reference, *settings(kills)), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"uninterrupted run failed: {done.stderr[-500:]}")
    finished = False
    for index in range(kills + 1):
        started = (run / "config.yaml").is_file()
        expected = newest_complete(run / "checkpoints") if started else None
        log = run / "train.log"
        before = log.read_text() if log.is_file() else ""
        command = train_command(data, run, *settings(kills), *(["--resume"] if started else []))
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        if index < kills:
            moment = rng.choices(MOMENTS, WEIGHTS)[0]
            wait_for(moment, proc, run, rng, before.count(" done: mean masked SSIM"))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                result.kills += 1
                if saving(run):
                    result.kills_in_checkpoint_write += 1
                elif moment == "level":
                    result.kills_after_level_change += 1
                else:
                    result.kills_at_random_time += 1
        _, stderr = proc.communicate()
        after = log.read_text()[len(before):] if log.is_file() else ""
        resumed = RESUMED.search(after)
        restored = Path(resumed.group(1)).name if resumed else ("none" if "resumed at step 0" in after else None)
        if started and restored:  # None: killed before it got that far
            result.resumes_checked += 1
            if restored != (expected or "none"):
                result.problems.append(f"resume {index} restored {restored}, newest complete was {expected}")
        if proc.returncode == 0:
            finished = True
            break
        if proc.returncode != -signal.SIGKILL:
            result.problems.append(f"run {index} exited {proc.returncode}: {stderr.strip()[-300:]}")
            break
        if (run / "config.yaml").is_file():
            from combtf.config import load_config

            load_config(run / "config.yaml").validate()  # raises on a damaged config
        check_listed(run / "checkpoints", result)
    if not finished:
        result.problems.append("the soak run never finished")
    else:
        a, b = load_trained(reference), load_trained(run)
        diffs = [float(np.max(np.abs(x.numpy() - y.numpy()))) for x, y in zip(a.model.trainable_variables, b.model.trainable_variables, strict=True)]
        result.max_weight_difference = max(diffs)
    result.seconds = round(time.monotonic() - start, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from combtf.data.synthetic import write_demo_data

    with tempfile.TemporaryDirectory(prefix="combtf-soak-") as tmp:
        data = Path(tmp) / "data"
        write_demo_data(data, identities=3, images=24, eval_images=1, size=32, seed=1)
        result = soak(data / "train", Path(tmp), args.kills, args.seed)
    print(json.dumps({"benchmark": "kill_soak", **asdict(result)}))
    sys.exit(1 if result.problems or result.max_weight_difference > 1e-5 else 0)


if __name__ == "__main__":
    main()
