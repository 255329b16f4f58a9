"""The bad-input corpus, made by the tests (never downloaded): what users hand combtf by
mistake or on purpose.  Each maker writes files and returns their paths."""
from __future__ import annotations

import io
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


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
    from tests.conftest import write_video

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
