"""The data-side coverage check on a rendered set with known performances: gaps in mouth and pose are
found, a different face is not a gap, and the summary names what is missing."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from combtf.analysis.pose_space import AXES, compare, features, missing
from combtf.data.synthetic import write_demo_data

NAMES = ("ada", "ben", "cleo", "dev")  # ben: mouth closed; cleo: frontal; ada, dev: complete


@pytest.fixture(scope="module")
def read(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("pose") / "set"
    write_demo_data(root, identities=4, images=150, eval_images=1, size=16, seed=5, turns=True,
                    closed_mouth=("ben",), frontal=("cleo",))  # fmt: skip
    found, truth = {}, {}
    for name in NAMES:
        crops = sorted((root / "train" / name).glob("*.png"))
        found[name] = features(crops)
        with open(root / "train" / name / "performances.csv") as table:
            rows = {row["stem"]: row for row in csv.DictReader(table)}
        truth[name] = [rows[c.stem] for c in crops]
    return found, truth


def test_a_different_face_with_the_same_range_is_not_a_gap(read: tuple[dict, dict]) -> None:
    found, _ = read
    for a, b in (("ada", "dev"), ("dev", "ada"), ("ben", "ada"), ("cleo", "dev")):  # B complete: A's frames all lie in its range
        side = compare(found[a], found[b])
        assert np.mean(side.distance > side.threshold) <= 0.05, (a, b)


@pytest.mark.parametrize("target, truth_of, opens, beyond, axis", [
    ("ben", lambda row: float(row["mouth_open"]), 0.5, 0.2, "mouth"),
    ("cleo", lambda row: abs(math.degrees(float(row["yaw"]))), 20.0, 12.0, "yaw"),
])  # fmt: skip
def test_what_b_never_does_is_found_and_named(read: tuple[dict, dict], target: str, truth_of, opens: float, beyond: float,
                                             axis: str) -> None:  # fmt: skip
    found, truth = read
    for a in ("ada", "dev"):
        side = compare(found[a], found[target])
        value = np.array([truth_of(row) for row in truth[a]])
        flagged = side.distance > side.threshold
        assert np.mean(value[flagged] > beyond) >= 0.8 and np.mean(flagged[value >= opens]) >= 0.5, (a, target)
        said = missing(side, np.flatnonzero(flagged).tolist())
        assert said and axis in said[0], said


def test_crops_without_landmarks_give_no_reading(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"crop_size": 64}')
    (tmp_path / "b.json").write_text('{"crop_size": 64, "crop_landmarks": ' + str([[1.0, 2.0]] * 68) + "}")
    assert features([tmp_path / "b.png"]).shape == (1, len(AXES))
    assert features([tmp_path / "b.png", tmp_path / "a.png"]) is None  # one crop without: no reading for the set
