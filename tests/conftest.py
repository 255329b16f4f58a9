"""Shared fixtures: a tiny synthetic data set and tiny model settings, so the suite runs on 2 CPU cores."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from combtf.config import TrainConfig
from combtf.synthetic import write_demo_data


@pytest.fixture(autouse=True)
def float32_policy() -> Iterator[None]:
    """Training and bf16 exports set Keras' global dtype policy; no test inherits another's."""
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 identities, 24 training crops each, 6 ground-truth evaluation frames, 32 px."""
    out = tmp_path_factory.mktemp("demo") / "set"
    write_demo_data(out, identities=3, images=24, eval_images=6, size=32, seed=1)
    return out


SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """The real footage of ../shared/faces (CI has it; a user's clone does not)."""
    if not (SHARED_FACES / "photos").is_dir():
        pytest.skip(f"real face footage not found at {SHARED_FACES} (only in the project's CI and work machines)")
    return SHARED_FACES


def tiny_config(data: Path, out: Path, **changes: object) -> TrainConfig:
    """A model of a few thousand weights: 4 -> 8 px, 4 steps per phase, float32 so results repeat."""
    config = TrainConfig(
        data=str(data),
        out=str(out),
        max_resolution=8,
        start_resolution=4,
        width=1 / 32,
        latent_dim=16,
        batch_size=4,
        images_per_level=32,
        precision="float32",
        preview_every=0,
        checkpoint_every=3,
        lr=2e-3,
    )
    for key, value in changes.items():
        setattr(config, key, value)
    return config.validate()


def train_command(data: Path, run: Path, *extra: str) -> list[str]:
    """`combtf train` of a tiny float32 model as a subprocess command line."""
    import sys

    return [sys.executable, "-c", "from cli.main import main; main()", "train", "--data", str(data), "--out", str(run),
            "--max-resolution", "8", "--width", "0.03125", "--latent-dim", "16", "--precision", "float32",
            "--preview-every", "0", "--quiet", *extra]  # fmt: skip


def start_training(command: list[str], run: Path) -> "subprocess.Popen[str]":
    """Start a training subprocess and return once its first checkpoint is complete (listed)."""
    import subprocess
    import time

    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "checkpoint").is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # waiting for an event (the first checkpoint), not for time to pass
    if not (run / "checkpoints" / "checkpoint").is_file():
        proc.kill()
        pytest.fail(f"no checkpoint: {proc.communicate()[1][-2000:]}")
    return proc


def write_video(path: Path, frames: list[np.ndarray], rate: int = 30, audio: bool = False) -> None:
    """H.264 test clip written with PyAV, optionally with a sine AAC track."""
    import av

    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(rate))
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("aac", rate=16000) if audio else None
        for rgb in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode())
        if sound:
            samples = (np.sin(np.arange(16000 * len(frames) // rate) / 5) * 0.3).astype(np.float32)[None]
            for start in range(0, samples.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="flt", layout="mono")
                frame.sample_rate = 16000
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
