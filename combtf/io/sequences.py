"""Numbered image sequences: `shot.%04d.exr`, `shot.####.exr`, or a folder of plates, with a frame range.

Frame numbers come from the file names and are kept in every output name. A number inside the
range with no file is a missing frame: listed, never a silent gap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from combtf.errors import CombtfError

_TOKEN = re.compile(r"%0?(\d*)d|#+")
_NUMBERED = re.compile(r"^(?P<head>.*?)(?P<digits>\d+)(?P<tail>\.[A-Za-z0-9]+)$")
MAX_FRAMES = 1_000_000


@dataclass
class Sequence:
    pattern: str  # printf style: /plates/shot.%04d.exr
    frames: list[tuple[int, Path]] = field(default_factory=list)  # present, in frame order
    missing: list[tuple[int, Path]] = field(default_factory=list)  # in the range, no file

    def __str__(self) -> str:
        return self.pattern


def is_pattern(spec: str) -> bool:
    return _TOKEN.search(Path(spec).name) is not None


def parse_range(text: str) -> tuple[int, int]:
    """`1001-1100` or `1001` (negative frames as `-5--1`)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:-\s*(-?\d+)\s*)?", text)
    if not match:
        raise CombtfError(f"--frames {text}: not a frame range (FIRST-LAST, e.g. 1001-1100)")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first or last - first >= MAX_FRAMES:
        raise CombtfError(f"--frames {text}: the last frame must follow the first, at most {MAX_FRAMES} frames")
    return first, last


def _name(head: str, number: int, padding: int, tail: str) -> str:
    sign = "-" if number < 0 else ""
    return f"{head}{sign}{abs(number):0{padding}d}{tail}"


def find(spec: str, frames: tuple[int, int] | None = None) -> Sequence:
    """The files a pattern names (a frame counts when its digits are the number at the pattern's padding)."""
    path = Path(spec)
    tokens = list(_TOKEN.finditer(path.name))
    if len(tokens) != 1:
        raise CombtfError(f"{spec}: a sequence pattern needs exactly one frame token (%04d or ####)")
    token = tokens[0]
    padding = len(token.group(0)) if token.group(0).startswith("#") else int(token.group(1) or 0)
    head, tail = path.name[: token.start()], path.name[token.end() :]
    if not path.parent.is_dir():
        raise CombtfError(f"{spec}: folder {path.parent} does not exist")
    found: dict[int, Path] = {}
    digits = re.compile(re.escape(head) + r"(-?\d+)" + re.escape(tail) + r"$")
    for candidate in path.parent.iterdir():
        match = digits.match(candidate.name)
        if match and candidate.is_file():
            number = int(match.group(1))
            if _name(head, number, padding, tail) == candidate.name:
                found[number] = candidate
    printf = str(path.parent / f"{head}%0{padding}d{tail}") if padding else str(path.parent / f"{head}%d{tail}")
    return _ranged(printf, found, frames, lambda n: path.parent / _name(head, n, padding, tail))


def in_folder(folder: Path, extensions: tuple[str, ...], frames: tuple[int, int] | None = None) -> list[Sequence]:
    """The folder's files of these types grouped into sequences by name (an unnumbered file is a sequence of one)."""
    groups: dict[tuple[str, int, str], dict[int, Path]] = {}
    lone: list[Sequence] = []
    for candidate in sorted(folder.iterdir()):
        if not candidate.is_file() or candidate.suffix.lower() not in extensions or candidate.name.startswith("."):
            continue
        match = _NUMBERED.match(candidate.name)
        if match is None:
            lone.append(Sequence(str(candidate), [(0, candidate)]))
            continue
        digits = match.group("digits")
        groups.setdefault((match.group("head"), len(digits), match.group("tail")), {})[int(digits)] = candidate
    sequences = []
    for (head, padding, tail), found in sorted(groups.items()):
        printf = str(folder / f"{head}%0{padding}d{tail}")
        sequences.append(_ranged(printf, found, frames, lambda n, h=head, p=padding, t=tail: folder / _name(h, n, p, t)))
    return [s for s in sequences if s.frames or s.missing] + lone


def _ranged(printf: str, found: dict[int, Path], frames: tuple[int, int] | None, name_of) -> Sequence:  # noqa: ANN001
    if frames is None:
        if not found:
            return Sequence(printf)
        frames = (min(found), max(found))
    first, last = frames
    present = [(n, p) for n, p in sorted(found.items()) if first <= n <= last]
    if last - first + 1 - len(present) > MAX_FRAMES:
        raise CombtfError(f"{printf}: frames {first}-{last} span more than {MAX_FRAMES} frames")
    missing = [(n, name_of(n)) for n in range(first, last + 1) if n not in found]
    return Sequence(printf, present, missing)
