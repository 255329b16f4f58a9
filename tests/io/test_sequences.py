"""Numbered sequences: patterns, ranges and gaps, and folders grouped into shots."""
from __future__ import annotations

from pathlib import Path

import pytest

from combtf.errors import CombtfError
from combtf.io.sequences import find, in_folder, is_pattern, parse_range


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_a_pattern_finds_its_frames_and_names_the_gap(tmp_path: Path) -> None:
    _touch(tmp_path, "shot.1001.exr", "shot.1002.exr", "shot.1004.exr", "shot.1005.exr", "shot.01003.exr", "other.1003.exr")
    for spec in ("shot.%04d.exr", "shot.####.exr"):
        sequence = find(str(tmp_path / spec))
        assert [n for n, _ in sequence.frames] == [1001, 1002, 1004, 1005]
        assert sequence.missing == [(1003, tmp_path / "shot.1003.exr")]  # shot.01003 has another padding: not this frame
        assert sequence.pattern == str(tmp_path / "shot.%04d.exr")
    ranged = find(str(tmp_path / "shot.####.exr"), (1004, 1007))
    assert [n for n, _ in ranged.frames] == [1004, 1005]
    assert [n for n, _ in ranged.missing] == [1006, 1007]


def test_patterns_and_ranges_are_checked(tmp_path: Path) -> None:
    assert is_pattern("a/shot.%04d.exr") and is_pattern("shot.####.dpx") and not is_pattern("shot.1001.exr")
    assert parse_range("1001-1100") == (1001, 1100) and parse_range("7") == (7, 7) and parse_range("-5--1") == (-5, -1)
    for bad in ("1100-1001", "a-b", "1-2-3", "0-2000000"):
        with pytest.raises(CombtfError, match="--frames"):
            parse_range(bad)
    with pytest.raises(CombtfError, match="exactly one frame token"):
        find(str(tmp_path / "shot.%04d.####.exr"))
    with pytest.raises(CombtfError, match="does not exist"):
        find(str(tmp_path / "nowhere" / "shot.%04d.exr"))


def test_a_folder_groups_its_plates_into_shots(tmp_path: Path) -> None:
    _touch(tmp_path, "a.0001.dpx", "a.0002.dpx", "a.0004.dpx", "b_10.tif", "b_11.tif", "still.exr", "notes.txt", ".hidden.0003.dpx")
    shots = {Path(s.pattern).name: s for s in in_folder(tmp_path, (".dpx", ".tif", ".exr"))}
    assert set(shots) == {"a.%04d.dpx", "b_%02d.tif", "still.exr"}
    assert [n for n, _ in shots["a.%04d.dpx"].missing] == [3]
    assert [n for n, _ in shots["b_%02d.tif"].frames] == [10, 11]
    assert shots["still.exr"].frames == [(0, tmp_path / "still.exr")]
