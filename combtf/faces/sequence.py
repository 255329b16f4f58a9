"""Plates and image sequences as frames in the model's working space, with every gap said.

A plate is read at its own depth and converted from its colour space (`--colorspace`, else by
what it holds: `combtf.io.colour.default_space`) to the 8-bit working space the detector, the
landmarks and the crops see; the swap itself converts only each face's region, in floats
(highlights above 1 survive outside the face). The next frame is read while one is used. A
missing or unreadable frame is recorded by name and skipped, or stops the run with `strict`.
"""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError
from combtf.io import sequences
from combtf.io.colour import DEFAULT_CONFIG, Conversion, default_space
from combtf.io.plates import PLATE_EXTS, Plate, is_plate, read_plate
from combtf.io.sequences import Sequence


class StrictError(CombtfError):
    """A missing or unreadable frame under --strict: the run stops instead of skipping it."""


@dataclass(frozen=True)
class PlateOptions:
    frames: tuple[int, int] | None = None  # first, last; None: what the files hold
    strict: bool = False  # a missing or unreadable frame stops the run
    colorspace: str | None = None  # any space or role of the config; None: by what the plate holds
    ocio_config: str = DEFAULT_CONFIG

    def conversion(self, plate: Plate) -> Conversion:
        return Conversion(self.ocio_config, self.colorspace or default_space(plate.is_float, plate.dpx_transfer))


def expand(spec: str | Path, options: PlateOptions, recursive: bool = True) -> list[Sequence] | None:
    """The sequences a pattern, a plate file or a folder's plates (EXR, DPX, TIFF; and its subfolders' where
    `recursive`) name; None for anything else."""
    text, path = str(spec), Path(spec)
    if sequences.is_pattern(text) and not path.exists():
        found = sequences.find(text, options.frames)
        if not found.frames and not found.missing:
            raise CombtfError(f"{text}: no frames match the pattern")
        return [found]
    if path.is_file() and is_plate(path):
        return [Sequence(text, [(0, path)])]
    if path.is_dir():
        folders = sorted({p.parent for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file() and p.suffix.lower() in PLATE_EXTS})
        return [s for folder in folders for s in sequences.in_folder(folder, PLATE_EXTS, options.frames)]
    return None


def name_of(sequence: Sequence) -> str:
    """The pattern's file name without its frame token: `shot.%04d.exr` -> `shot`."""
    name = Path(sequence.pattern).name
    stem = name.split("%")[0] if "%" in name else Path(name).stem
    return stem.rstrip("._-") or "frames"


def plate_frames(sequence: Sequence, options: PlateOptions, problems: dict[str, str], every: int = 1,
                 rgb: bool = False) -> Iterator[tuple[int, Plate, np.ndarray, np.ndarray | None]]:  # fmt: skip
    """(frame number, plate, its uint8 working-space image, with `rgb` its float32 RGB in plate units) for every
    `every`-th present frame; the next frame is read and converted on a second thread while this one is used.
    Missing and unreadable frames go to `problems` (path -> reason), or raise with `strict`."""
    for _, path in sequence.missing:
        _problem(problems, path, "missing from the sequence", options.strict)

    def load(item: tuple[int, Path]) -> tuple[int, Path, Plate | str, np.ndarray | None, np.ndarray | None]:
        number, path = item
        try:
            plate = read_plate(path)
            stored = plate.pixels if plate.rgb_index == [0, 1, 2] and plate.pixels.shape[-1] == 3 else plate.pixels[..., plate.rgb_index]
            return number, path, plate, options.conversion(plate).to_working_uint8(stored), plate.rgb() if rgb else None
        except CombtfError as exc:
            return number, path, str(exc).removeprefix(f"{path}: "), None, None

    items = sequence.frames[::every]
    with ThreadPoolExecutor(1) as reader:
        pending = reader.submit(load, items[0]) if items else None
        for k in range(len(items)):
            number, path, plate, working, floats = pending.result()
            pending = reader.submit(load, items[k + 1]) if k + 1 < len(items) else None
            if isinstance(plate, str):
                _problem(problems, path, plate, options.strict)
                continue
            yield number, plate, working, floats


def _problem(problems: dict[str, str], path: Path, reason: str, strict: bool) -> None:
    if strict:
        raise StrictError(f"{path}: {reason} (--strict)")
    problems[str(path)] = reason
