"""Crash safety of training: SIGKILL at random moments, and a disk that fills while saving."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from combtf.swap.from_run import load_trained
from tests.helpers import start_training, train_command
from tests.soak.kill_soak import newest_complete, soak


def test_short_kill_soak_loses_nothing(demo_set: Path, tmp_path: Path) -> None:
    """3 SIGKILLs (the long soak: `python -m tests.soak.kill_soak --kills 20`)."""
    result = soak(demo_set / "train", tmp_path, kills=3, seed=1)
    assert result.kills == 3 and not result.problems, result
    assert result.resumes_checked >= 1 and result.checkpoints_checked >= 1, result
    assert result.max_weight_difference <= 1e-5, result  # the same model as an uninterrupted run


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a full disk is simulated with a small tmpfs, which needs root: {mounted.stderr.strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            return filler


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(demo_set: Path, small_disk: Path) -> None:
    run = small_disk / "run"
    command = train_command(demo_set / "train", run, "--images-per-level", "400000", "--checkpoint-every", "5")
    proc = start_training(command, run)
    try:
        kept = newest_complete(run / "checkpoints")
        assert kept
        filler = fill(small_disk)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines = stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr
    assert lines[-1].startswith(f"error: {run / 'checkpoints'}: cannot save the checkpoint of step"), stderr
    assert "No space left on device" in lines[-1] and "kept ckpt-" in lines[-1], lines[-1]
    newest = newest_complete(run / "checkpoints")
    assert newest and f"kept {newest} " in lines[-1]  # the message names the checkpoint that is really there
    assert not list((run / "checkpoints").glob("*_temp")), os.listdir(run / "checkpoints")  # no half-written save left
    filler.unlink()
    resumed = subprocess.run([*command, "--resume", "--stop-after", "2"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {run / 'checkpoints' / newest}" in (run / "train.log").read_text()
    assert load_trained(run).checkpoint.endswith(f"ckpt-{int(newest.split('-')[1]) + 2}")
