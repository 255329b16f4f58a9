"""The model-side landmark check on real faces: dlib reads 64 px renderings, and a decoder that paints
its own rest face over every other person's frames is caught where it loses their expressions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from combtf.analysis.coverage import LANDMARK_RESOLUTION, measure
from combtf.analysis.latent_codes import Frames
from combtf.analysis.pose_space import AXES, features
from combtf.data.faceset import load_crops
from tests.helpers import run

PEOPLE = {"person_a": 12, "person_b": 6}  # every k-th photo: 21 and 23 crops


@dataclass
class RestFaceDecoders:
    """person_a's decoder renders any frame as it is (it covers everything); person_b's renders
    person_b's own frames, and every other frame as person_b's first (a calm face)."""

    run: Path
    rest: np.ndarray
    resolution: int = LANDMARK_RESOLUTION

    def swap(self, x: np.ndarray, decoder: str, frames_of: str) -> np.ndarray:
        return x if decoder == "person_a" or frames_of == "person_b" else np.broadcast_to(self.rest, x.shape)


@pytest.fixture(scope="module")
def frames(shared_faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Frames:
    root = tmp_path_factory.mktemp("rendered")
    paths, images, masks = {}, {}, {}
    for person, every in PEOPLE.items():
        photos = sorted((shared_faces / "photos" / person).glob("*.jpg"))[::every]
        result = run("extract", *photos, "--identity", person, "--data", root, "--size", str(LANDMARK_RESOLUTION), "--quiet")
        assert result.exit_code == 0, result.output
        paths[person] = sorted((root / person).glob("*.png"))
        images[person], masks[person], _ = load_crops(paths[person], LANDMARK_RESOLUTION)
    codes = {p: np.random.default_rng(0).normal(size=(len(paths[p]), 8)).astype(np.float32) for p in PEOPLE}
    return Frames(0, paths, codes, images, masks)


def test_a_decoder_that_loses_expressions_is_flagged_by_the_rendered_landmarks(frames: Frames, tmp_path: Path) -> None:
    decoders = RestFaceDecoders(tmp_path, frames.images["person_b"][0].astype(np.float32) / 255.0)
    pairs = {(p.source, p.target): p for p in measure(decoders, frames).pairs}
    lost = pairs["person_a", "person_b"].model
    assert lost.rendered_threshold is not None
    mouth = features(frames.paths["person_a"])[:, AXES.index("mouth")]
    wide = mouth >= np.percentile(mouth, 67)  # person_a's widest-open third, which person_b's rest face does not show
    assert np.mean(lost.rendered[wide] > lost.rendered_threshold) >= 0.7, (lost.rendered[wide], lost.rendered_threshold)
    kept = pairs["person_b", "person_a"].model  # person_a's decoder renders person_b's frames as they are
    assert np.mean(kept.flags) <= 0.1, (kept.rendered, kept.rendered_threshold)
