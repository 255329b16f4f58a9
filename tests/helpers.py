"""What several test modules share: tiny settings, the command line in-process and as a subprocess,
test clips, face folders, and the bad-input corpus (made by the tests, never downloaded: what users
hand combtf by mistake or on purpose; each maker writes files and returns their paths)."""
from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
import time
import zlib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from combtf.config import TrainConfig
from combtf_cli.main import main

# --- tiny runs --------------------------------------------------------------------------------

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
    return [sys.executable, "-c", "from combtf_cli.main import main; main()", "train", "--data", str(data), "--out", str(run),
            "--max-resolution", "8", "--width", "0.03125", "--latent-dim", "16", "--precision", "float32",
            "--preview-every", "0", "--quiet", *extra]  # fmt: skip


def start_training(command: list[str], run: Path) -> subprocess.Popen[str]:
    """Start a training subprocess and return once its first checkpoint is complete (listed)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "checkpoint").is_file() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # waiting for an event (the first checkpoint), not for time to pass
    if not (run / "checkpoints" / "checkpoint").is_file():
        proc.kill()
        pytest.fail(f"no checkpoint: {proc.communicate()[1][-2000:]}")
    return proc


TINY = ["--max-resolution", "8", "--width", "0.03125", "--latent-dim", "16", "--batch-size", "4",
        "--images-per-level", "32", "--precision", "float32", "--preview-every", "0", "--quiet"]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.output


# --- test data -------------------------------------------------------------------------------

def face_folder(root: Path, name: str, n: int = 3, size: int = 16, mask: bool = True) -> Path:
    folder = root / name
    (folder / "masks").mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(folder / f"f{i}.png")
        if mask:
            Image.fromarray(np.full((size, size), 200, np.uint8)).save(folder / "masks" / f"f{i}.png")
    return folder


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


# --- the bad-input corpus ----------------------------------------------------------------------

def png_bytes(size: int = 4) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(size * size * 3, dtype=np.uint8).reshape(size, size, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(path: Path) -> Path:
    """A valid small PNG whose header claims 30000 x 30000 px (CRC fixed, so only the size gives it away)."""
    png = bytearray(png_bytes())
    ihdr = bytearray(png[12:29])  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", 30000, 30000)
    png[12:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(png))
    return path


def bad_images(folder: Path) -> list[Path]:
    """Truncated, zero-byte, a bomb, and non-images with image names."""
    folder.mkdir(parents=True, exist_ok=True)
    whole = png_bytes(32)
    files = {"truncated.png": whole[: len(whole) // 2], "empty.png": b"", "notes.png": b"shopping list\n",
             "program.jpg": b"\x7fELF" + bytes(range(256))}  # fmt: skip
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files] + [bomb_png(folder / "bomb.png")]


class RunsCode:
    """A pickle payload that writes `marker` when unpickled: what a crafted file would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.write_text, (self.marker, "executed"))


def dfl_jpeg(path: Path, meta: object, raw_pickle: bytes | None = None, declared: int | None = None) -> Path:
    """A JPEG the way DeepFaceLab writes aligned faces: the pickle in an APP15 segment after SOI.
    `declared` overrides the segment's length field (a malformed length)."""
    buffer = io.BytesIO()
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    data = buffer.getvalue()
    payload = raw_pickle if raw_pickle is not None else pickle.dumps(meta)
    length = len(payload) + 2 if declared is None else declared
    path.write_bytes(data[:2] + b"\xff\xef" + length.to_bytes(2, "big") + payload + data[2:])
    return path


def truncated_video(path: Path, frames: int = 30) -> Path:
    """An H.264 clip cut at 60 % of its bytes: it stops mid-stream."""
    rng = np.random.default_rng(4)
    write_video(path, [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(frames)])
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


def bad_configs(folder: Path, marker: Path) -> dict[str, Path]:
    """YAML run configs: an unknown key, a wrong type, a tag that would run code, not a mapping."""
    folder.mkdir(parents=True, exist_ok=True)
    texts = {
        "unknown_key.yaml": "max_resolution: 64\nlearning_rate: 0.1\n",
        "wrong_type.yaml": "batch_size: [1, 2]\n",
        "python_tag.yaml": f"width: !!python/object/apply:pathlib.Path.write_text ['{marker}', 'executed']\n",
        "not_mapping.yaml": "- just\n- a list\n",
    }
    for name, text in texts.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in texts}
