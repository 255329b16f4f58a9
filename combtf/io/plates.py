"""VFX plates through OpenImageIO: EXR, DPX, TIFF and 16-bit PNG read and written at their own depth.

A `Plate` keeps the file's pixels in their stored type (half, float, 10/16-bit as uint16,
uint8), its channel names and types and its header, so that a written plate differs from the
one read only where combtf changed pixels. Files are untrusted: the header is checked
(pixel count, channels, deep data) before any pixel is decoded, and every decoder failure is
a one-line CombtfError naming the file. Writes go to a hidden sibling that is renamed over
the target only once complete.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError
from combtf.io.images import MAX_PIXELS

PLATE_EXTS = (".exr", ".dpx", ".tif", ".tiff")
MAX_CHANNELS = 64
RGB = ("R", "G", "B")


def _oiio():  # noqa: ANN202 - the module, imported late: photos-only work needs no OpenImageIO
    try:
        import OpenImageIO
    except ImportError as exc:
        raise CombtfError("plates (EXR, DPX, TIFF) need OpenImageIO: pip install openimageio") from exc
    return OpenImageIO


def is_plate(path: Path) -> bool:
    """EXR, DPX and TIFF files, and PNGs of 16 bits per channel (PIL reads those only at 8)."""
    suffix = path.suffix.lower()
    if suffix in PLATE_EXTS:
        return True
    if suffix != ".png":
        return False
    try:
        with path.open("rb") as handle:
            header = handle.read(25)
    except OSError:
        return False
    return len(header) == 25 and header[:8] == b"\x89PNG\r\n\x1a\n" and header[24] == 16  # IHDR bit depth


@dataclass
class Plate:
    path: Path
    pixels: np.ndarray  # [H, W, C] in the stored type (the widest one where channels differ)
    channels: list[str]
    spec: object = field(repr=False)  # OpenImageIO.ImageSpec as read: header attributes, channel types

    @property
    def is_float(self) -> bool:
        return self.pixels.dtype.kind == "f"

    @property
    def dpx_transfer(self) -> str | None:
        return self.spec.get_string_attribute("dpx:Transfer") or None

    @property
    def rgb_index(self) -> list[int]:
        """Where R, G, B are: by name, else the first three channels (a grey plate repeats its one)."""
        if all(c in self.channels for c in RGB):
            return [self.channels.index(c) for c in RGB]
        return [0, 1, 2] if len(self.channels) >= 3 else [0, 0, 0]

    def rgb(self) -> np.ndarray:
        """float32 [H, W, 3] in the plate's own units: floats as stored, integers scaled to [0, 1]."""
        values = self.pixels[..., self.rgb_index].astype(np.float32)
        if self.pixels.dtype.kind in "ui":
            values /= np.float32(np.iinfo(self.pixels.dtype).max)
        return values

    def with_rgb(self, rgb: np.ndarray, where: np.ndarray) -> np.ndarray:
        """The plate's pixels with RGB replaced by `rgb` (plate units) where `where` [H, W] is true, untouched elsewhere."""
        out = self.pixels.copy()
        rows, cols = np.nonzero(where.any(axis=1))[0], np.nonzero(where.any(axis=0))[0]
        if rows.size == 0:
            return out
        box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        rgb, where = rgb[box], where[box]
        stored = _stored(rgb, self.pixels.dtype)
        if len(set(self.rgb_index)) < 3:  # grey plate: the face's luminance
            stored = stored.astype(np.float64).mean(axis=-1, keepdims=True).astype(self.pixels.dtype)
        region = out[box]
        for k, c in enumerate(dict.fromkeys(self.rgb_index)):
            region[..., c] = np.where(where, stored[..., k], region[..., c])
        return out


def read_plate(path: Path) -> Plate:
    try:
        return _read(path)
    except (UnicodeDecodeError, ValueError, RuntimeError) as exc:  # header strings that are not text, bindings' refusals
        raise CombtfError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc


def _read(path: Path) -> Plate:
    oiio = _oiio()
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise CombtfError(f"{path}: not a readable image ({_first_line(oiio.geterror())})")
    try:
        spec = inp.spec()
        if spec.deep:
            raise CombtfError(f"{path}: deep images are not supported")
        if spec.width * spec.height > MAX_PIXELS or spec.width <= 0 or spec.height <= 0:
            raise CombtfError(f"{path}: image is {spec.width}x{spec.height}, outside 1 to {MAX_PIXELS} pixels")
        if not 1 <= spec.nchannels <= MAX_CHANNELS:
            raise CombtfError(f"{path}: image has {spec.nchannels} channels (1 to {MAX_CHANNELS} supported)")
        pixels = inp.read_image(0, 0, 0, spec.nchannels, oiio.UNKNOWN)
        if pixels is None:
            raise CombtfError(f"{path}: image stopped decoding ({_first_line(inp.geterror())})")
        spec = oiio.ImageSpec(spec)
        channels = list(spec.channelnames)
        spec.get_string_attribute("dpx:Transfer")  # every header string combtf reads later must be text
    finally:
        inp.close()
    pixels = np.asarray(pixels).reshape(spec.height, spec.width, spec.nchannels)
    if pixels.dtype.kind == "f" and pixels.dtype != np.float16:
        pixels = pixels.astype(np.float32)
    return Plate(Path(path), pixels, channels, spec)


@dataclass
class Layer:
    """An EXR part of its own beside the plate's: float32 [h, w, c] in plate units, its data window at `origin`."""

    name: str  # the part's name, and its channels' prefix: "face" -> face.R ...
    channels: tuple[str, ...]  # ("R", "G", "B", "A"), ("A",)
    pixels: np.ndarray
    origin: tuple[int, int] = (0, 0)  # x, y of pixels[0, 0] in the plate's pixel array


def write_plate(path: Path, like: Plate, pixels: np.ndarray, attributes: dict[str, str], layers: tuple[Layer, ...] = ()) -> None:
    """`pixels` (like's type and channels) with like's header, channel types and bit depth, plus `attributes`;
    `layers` follow as parts of the same file (EXR only) whose data windows cover only their pixels, so a face layer
    costs its face's area, not the frame's (Nuke reads every part's channels as layers of one stream)."""
    oiio = _oiio()
    spec = oiio.ImageSpec(like.spec)
    for key, value in attributes.items():
        spec.attribute(key, value)
    if not layers:
        _write(path, [(spec, pixels)])
        return
    spec.attribute("oiio:subimagename", "rgba")
    parts = [(spec, pixels)]
    for layer in layers:
        height, width = layer.pixels.shape[:2]
        part = oiio.ImageSpec(width, height, len(layer.channels), "half" if like.pixels.dtype == np.float16 else "float")
        part.x, part.y = like.spec.x + layer.origin[0], like.spec.y + layer.origin[1]
        part.full_x, part.full_y, part.full_width, part.full_height = (like.spec.full_x, like.spec.full_y, like.spec.full_width,
                                                                       like.spec.full_height)  # fmt: skip
        part.channelnames = [f"{layer.name}.{c}" for c in layer.channels]
        part.attribute("compression", like.spec.get_string_attribute("compression") or "zip")
        part.attribute("oiio:subimagename", layer.name)
        for key, value in attributes.items():
            part.attribute(key, value)
        parts.append((part, layer.pixels.astype(np.float16 if like.pixels.dtype == np.float16 else np.float32)))
    _write(path, parts)


def write_like(path: Path, like: Plate | None, pixels: np.ndarray, channels: list[str], attributes: dict[str, str]) -> None:
    """A new file in like's format, header and type, but at least 16 bits (a layer as a file of its own; a PNG where
    `like` is None): float32 [H, W, c] in plate units, alpha premultiplied (OpenImageIO stores it as the format wants).
    8 bits are too few: a straight-alpha 8-bit file misses the blend by up to 1.3 levels once premultiplied again."""
    oiio = _oiio()
    dtype = np.dtype(np.uint16) if like is None or like.pixels.dtype == np.uint8 else like.pixels.dtype
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], len(channels), oiio.UINT16) if like is None else oiio.ImageSpec(like.spec)
    if like is not None and dtype != like.pixels.dtype:
        spec.set_format(oiio.UINT16)
        spec.attribute("oiio:BitsPerSample", 16)
    spec.nchannels, spec.channelnames = len(channels), channels
    spec.channelformats = []
    spec.alpha_channel = channels.index("A") if "A" in channels else -1
    for key, value in attributes.items():
        spec.attribute(key, value)
    _write(path, [(spec, _stored(pixels.reshape(*pixels.shape[:2], len(channels)), dtype))])


def _stored(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Plate units -> the stored type: integers scaled from [0, 1], rounded and clipped; floats cast."""
    if np.dtype(dtype).kind in "ui":
        top = np.iinfo(dtype).max
        values = np.clip(np.round(values.astype(np.float64) * top), 0, top)
    return values.astype(dtype)


def _write(path: Path, parts: list[tuple[object, np.ndarray]]) -> None:
    """Write (spec, pixels) parts beside the target under a hidden name with the same extension (OpenImageIO picks the
    writer by it), then rename over the target."""
    oiio = _oiio()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    out = oiio.ImageOutput.create(str(tmp))
    try:
        if out is None:
            raise CombtfError(f"{path}: cannot write ({_first_line(oiio.geterror())})")
        specs = [spec for spec, _ in parts]
        for index, (spec, pixels) in enumerate(parts):
            opened = out.open(str(tmp), specs) if index == 0 and len(parts) > 1 else out.open(str(tmp), spec, "AppendSubimage" if index else "Create")
            if not opened or not out.write_image(np.ascontiguousarray(pixels)):
                raise CombtfError(f"{path}: cannot write ({_first_line(out.geterror())})")
        if not out.close():
            raise CombtfError(f"{path}: cannot write ({_first_line(out.geterror())})")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _first_line(message: str) -> str:
    return (message.strip().splitlines() or ["unknown error"])[0][:200]
