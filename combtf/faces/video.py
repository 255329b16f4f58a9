"""Video frames through PyAV (`av` on PyPI), whose wheels ship their own FFmpeg libraries."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError

VIDEO_EXTS = (".mp4", ".mov", ".avi", ".mkv")
MAX_FRAME_PIXELS = 40_000_000  # above 8K: a stream claiming more is treated as hostile


@dataclass
class VideoInfo:
    frames: int  # as the container says; 0 when it does not know
    rate: Fraction
    width: int
    height: int


def _av():  # noqa: ANN202 - the module, imported late so that photos-only work needs no PyAV
    try:
        import av
    except ImportError as exc:
        raise CombtfError("videos need PyAV: pip install av") from exc
    return av


def probe(path: Path) -> VideoInfo:
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise CombtfError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            info = VideoInfo(stream.frames or 0, Fraction(stream.average_rate or 0), stream.codec_context.width, stream.codec_context.height)
    except av.FFmpegError as exc:
        raise CombtfError(f"{path}: not a readable video ({exc.__class__.__name__})") from exc
    if info.width * info.height > MAX_FRAME_PIXELS or info.width <= 0 or info.height <= 0:
        raise CombtfError(f"{path}: video frame size {info.width}x{info.height} is not supported")
    return info


def frames(path: Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB uint8 [H, W, 3]) for every `every`-th frame; decoder errors become CombtfError."""
    av = _av()
    probe(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for index, frame in enumerate(container.decode(stream)):
                if index % every == 0:
                    yield index, frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise CombtfError(f"{path}: video stopped decoding ({exc.__class__.__name__})") from exc
