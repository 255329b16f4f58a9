"""Video frames through PyAV (`av` on PyPI), whose wheels ship their own FFmpeg libraries."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError

log = logging.getLogger(__name__)

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


def _warn_if_cut(path: Path, end: float, duration: int | None, rate: Fraction | None) -> None:
    """A file cut short decodes without an error and just ends: say so, since the output will be shorter."""
    declared = (duration or 0) / 1_000_000  # container.duration is in microseconds
    period = 1.0 / float(rate) if rate else 0.0
    if declared and end + 3 * period < declared:
        log.warning("%s: the video ends at %.2f s of the %.2f s its header declares (file cut short?)", path, end + period, declared)


def frames(path: Path, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB uint8 [H, W, 3]) for every `every`-th frame; decoder errors become CombtfError."""
    av = _av()
    probe(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            end = 0.0
            for index, frame in enumerate(container.decode(stream)):
                end = float(frame.time or 0.0)
                if index % every == 0:
                    yield index, frame.to_ndarray(format="rgb24")
            _warn_if_cut(path, end, container.duration, stream.average_rate)
    except av.FFmpegError as exc:
        raise CombtfError(f"{path}: video stopped decoding ({exc.__class__.__name__})") from exc


class VideoWriter:
    """H.264 video at the source's frame rate, the source's audio copied, metadata set; atomic.

    Frames go to a hidden temporary file next to `path` that is renamed over it only when
    `close` succeeds, so a failed or interrupted run never leaves a half-written video where an
    earlier one was.
    """

    def __init__(self, path: Path, like: Path, metadata: dict[str, str], crf: int = 18) -> None:
        av = _av()
        info = probe(like)
        self.path, self._like = path, like
        self._tmp = path.with_name(f".{path.name}.partial{path.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "use_metadata_tags"} if path.suffix.lower() in (".mp4", ".mov") else {}
        self._out = av.open(str(self._tmp), "w", options=options)
        self._out.metadata.update(metadata)
        self._video = self._out.add_stream("libx264", rate=info.rate or Fraction(30), options={"crf": str(crf)})
        self._video.width, self._video.height, self._video.pix_fmt = info.width, info.height, "yuv420p"
        self._audio_in = av.open(str(like))
        audio = self._audio_in.streams.audio
        self._audio = (audio[0], self._out.add_stream_from_template(audio[0])) if audio else None
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        av = _av()
        for packet in self._video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
            self._out.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._video.encode():
            self._out.mux(packet)
        if self._audio:
            source, target = self._audio
            for packet in self._audio_in.demux(source):
                if packet.dts is not None:
                    packet.stream = target
                    self._out.mux(packet)
        self._out.close()
        self._audio_in.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        for handle in (self._out, self._audio_in):
            with contextlib.suppress(Exception):  # already failing; the partial file goes either way
                handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:  # noqa: ANN001
        if kind is None:
            self.close()
        else:
            self.abort()
