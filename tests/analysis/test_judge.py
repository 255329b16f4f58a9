"""Judging swaps of real faces (`combtf evaluate --real`) on crops of ../shared/faces.

The two failures the judge exists to tell apart are built by hand: a "swap" that returns the
target frame (perfect expression, wrong identity) and one that replays the source's own frames
(right identity, the source's expressions instead of the target's).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from combtf.analysis.judge import MOVING_MOUTH_PX, centroids, judge, overall
from combtf.errors import CombtfError
from combtf.faces.extract import ExtractOptions, extract
from combtf.faces.recognise import FaceReader
from combtf.io.images import list_images, read_image
from combtf.training.loop import train
from combtf_cli.main import main
from tests.helpers import tiny_config

SIZE = 64


@pytest.fixture(scope="module")
def crops(shared_faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Aligned 64 px crops of person_a (expressive) and person_d, from a spread of their photos."""
    data = tmp_path_factory.mktemp("judge") / "faces"
    for person, count in (("person_a", 24), ("person_d", 16)):
        photos = sorted((shared_faces / "photos" / person).iterdir())
        chosen = [photos[int(i)] for i in np.linspace(0, len(photos) - 1, count)]
        extract(chosen, person, data, ExtractOptions(size=SIZE), progress=False)
    return data


@dataclass
class _Config:
    identities: list[str]
    data: str
    latent_match: float = 0.25
    mirror_average: bool = False


class _FakeSwapper:
    """Stands in for a trained model: `mode` says what its 'swap' returns."""

    can_match = True

    def __init__(self, data: Path, mode: str) -> None:
        self.config = _Config(["person_a", "person_d"], str(data))
        self.run = data
        self.resolution = SIZE
        self.mode = mode
        self.own = {i: np.stack([read_image(p)[0] for p in list_images(data / i)]).astype(np.float32) / 255 for i in self.config.identities}

    def check_identity(self, name: str, role: str) -> None:
        if name not in self.config.identities:
            raise CombtfError(f"unknown {role} {name}")

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> np.ndarray:
        if self.mode == "copy":
            return x
        frames = self.own[source][::-1]  # the source's frames, not following the target's
        return np.stack([frames[i % len(frames)] for i in range(len(x))])


def _judge(crops: Path, mode: str) -> dict:
    swapper = _FakeSwapper(crops, mode)
    report, judged = judge(swapper, [("person_d", "person_a")], lambda t: list_images(crops / t), crops, per_reference=12)
    assert len(judged) == report["pairs"][0]["frames"] == len(list_images(crops / "person_a")) >= 20
    assert report["latent_match"] == 0.25  # the strength the swaps were judged at
    return report["pairs"][0]


def test_a_copy_of_the_target_keeps_every_expression_but_is_the_wrong_person(crops: Path) -> None:
    row = _judge(crops, "copy")
    assert row["identity_retrieval"] < 0.1
    assert row["target_distance"] < row["source_distance"]
    assert row["mouth"]["r"] > 0.999 and row["mouth"]["mae"] < 1e-9
    assert row["eyes"]["r"] > 0.999 and row["yaw"]["mae"] < 1e-9
    assert row["mouth_span_px"] > 2 * MOVING_MOUTH_PX  # person_a opens her mouth by pixels of the 64 px crop


def test_moving_mouth_r_leaves_out_targets_whose_mouth_does_not_move() -> None:
    def row(r: float, span: float) -> dict:
        measures = {name: {"r": r, "mae": 0.0} for name in ("mouth", "eye_right", "eye_left", "yaw", "pitch", "roll", "eyes")}
        return {"identity_retrieval": 1.0, "source_distance": 0.3, "target_distance": 0.7, "mouth_span_px": span, **measures}

    mean = overall([row(0.9, 4.0), row(0.1, 0.4), row(0.7, 2.0)])
    assert mean["mouth_r"] == pytest.approx(1.7 / 3)
    assert mean["moving_mouth_r"] == pytest.approx(0.8) and mean["moving_mouth_pairs"] == 2
    assert overall([row(0.1, 0.4)])["moving_mouth_r"] is None


def test_replaying_the_source_is_the_right_person_with_the_wrong_expressions(crops: Path) -> None:
    row = _judge(crops, "replay")
    assert row["identity_retrieval"] > 0.9
    assert row["source_distance"] < row["target_distance"]
    assert row["mouth"]["r"] is None or row["mouth"]["r"] < 0.5
    # person_a opens her mouth wide, person_d barely: the replay misses by a lot
    assert row["mouth"]["mae"] > 0.01


def test_centroids_given_once_judge_as_the_references_would(crops: Path) -> None:
    """The claims benchmark judges dozens of checkpoints against the same people: it reads their references once."""
    swapper, pairs = _FakeSwapper(crops, "replay"), [("person_d", "person_a"), ("person_a", "person_d")]
    centres = centroids(FaceReader(), crops, swapper.config.identities, SIZE, 12)
    given, _ = judge(swapper, pairs, lambda t: list_images(crops / t), crops / "not-read", centres=centres)
    computed, _ = judge(swapper, pairs, lambda t: list_images(crops / t), crops, per_reference=12)
    assert given["pairs"] == computed["pairs"] and given["overall"] == computed["overall"]
    assert given["pairs"][1]["identity_retrieval"] > 0.9


def test_evaluate_real_cli_writes_table_json_and_a_marked_contact_sheet(crops: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(crops, run, images_per_level=16), show_progress=False)  # 8 px: the mechanics, not the scores
    held_back = tmp_path / "held"
    for person in ("person_a", "person_d"):
        (held_back / person).mkdir(parents=True)
        for path in list_images(crops / person)[:4]:
            (held_back / person / path.name).write_bytes(path.read_bytes())
    out, sheet = tmp_path / "real.json", tmp_path / "worst.png"
    result = CliRunner().invoke(main, ["evaluate", "--real", "--model", str(run), "--input", str(held_back),
                                       "--json", str(out), "--sheet", str(sheet)])
    assert result.exit_code == 0, result.output
    assert "person_a <- person_d" in result.output and "overall: identity retrieval" in result.output
    report = json.loads(out.read_text())
    assert [(r["source"], r["target"], r["frames"]) for r in report["pairs"]] == [("person_a", "person_d", 4), ("person_d", "person_a", 4)]
    assert 0.0 <= report["overall"]["identity_retrieval"] <= 1.0
    assert all(f"{r['mouth_span_px']:8.1f}" in result.output for r in report["pairs"]) and "target's mouth moves" in result.output
    with Image.open(sheet) as image:
        assert image.info.get("Synthetic") == "true" and image.size[0] == 256

    missing = CliRunner().invoke(main, ["evaluate", "--real", "--model", str(run), "--input", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no folder 'person_d'" in missing.output

