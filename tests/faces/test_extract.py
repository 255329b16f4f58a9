"""`combtf extract` on the real footage of ../shared/faces: detection rate, alignment, video jitter, bad files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from combtf.faces import align
from combtf.faces.extract import ExtractOptions, extract
from combtf.faces.landmarks import LandmarkPredictor, predictor_box
from combtf.faces.template import LEFT_EYE, RIGHT_EYE, template
from combtf_cli.main import main
from tests.helpers import write_video

PEOPLE = ("person_a", "person_b", "person_c", "person_d")
SIZE = 64


def _eyes(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points)
    return np.stack([points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)])


@pytest.fixture(scope="module")
def photos(shared_faces: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, list[dict]]]:
    """Every other sampled photo of the four people (45-126 each; all 622 took 3 minutes of the
    suite), extracted once: person -> (photo count, sidecars)."""
    data = tmp_path_factory.mktemp("extract")
    found = {}
    for person in PEOPLE:
        chosen = sorted((shared_faces / "photos" / person).iterdir())[::2]
        summary = extract(chosen, person, data, ExtractOptions(size=SIZE), progress=False)
        found[person] = (summary.files, [json.loads(p.with_suffix(".json").read_text()) for p in summary.crops])
    return found


@pytest.mark.parametrize("person", PEOPLE)
def test_faces_found_in_95_percent_of_photos(photos: dict, person: str) -> None:
    count, sidecars = photos[person]
    assert count > 40 and len(sidecars) >= 0.95 * count


@pytest.mark.parametrize("person", PEOPLE)
def test_aligned_eyes_sit_on_the_template(photos: dict, person: str) -> None:
    expected = _eyes(template(SIZE))
    worst = max(np.abs(_eyes(s["crop_landmarks"]) - expected).max() for s in photos[person][1])
    assert worst < 0.03 * SIZE


def test_crop_pixels_match_their_sidecar(photos: dict, shared_faces: Path) -> None:
    """The written crop shows the face where the sidecar says: landmarks found again on the crop agree."""
    predictor = LandmarkPredictor()
    for sidecar in photos["person_a"][1][::25]:
        rgb = np.asarray(Image.open(sidecar["source_file"]).convert("RGB"))
        scale = 256 / SIZE  # cut it again at 256 px, so that dlib sees detail
        crop = align.warp(rgb, np.asarray(sidecar["affine"]) * scale, (256, 256))
        again = predictor(np.asarray(crop.mean(axis=-1), np.uint8), predictor_box(template(256)))
        assert np.abs(_eyes(again) - _eyes(sidecar["crop_landmarks"]) * scale).max() < 0.02 * 256


def test_still_head_video_crops_do_not_jitter(shared_faces: Path, tmp_path: Path) -> None:
    """A still head (one photo, fresh sensor noise per frame): its eyes stay within 1 % of the crop."""
    photo = np.asarray(Image.open(sorted((shared_faces / "photos" / "person_b").glob("*.jpg"))[0]).convert("RGB"), dtype=np.float64)
    rng = np.random.default_rng(0)
    frames = [np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8) for _ in range(20)]
    video = tmp_path / "still.mp4"
    write_video(video, frames)
    spread = {}
    for sigma in (0.0, 2.0):
        summary = extract([video], f"still{sigma:.0f}", tmp_path / "data", ExtractOptions(size=256, smooth=sigma), progress=False)
        sidecars = [json.loads(p.with_suffix(".json").read_text()) for p in summary.crops]
        assert len(sidecars) == 20 and all(s["smoothed"] for s in sidecars)
        truth = _eyes(sidecars[0]["landmarks"])  # the head does not move: one set of source points for all frames
        eyes = np.stack([align.apply(np.asarray(s["affine"]), truth) for s in sidecars])
        spread[sigma] = np.abs(eyes - eyes.mean(axis=0)).max() / 256
    assert spread[2.0] < 0.01 and spread[2.0] <= spread[0.0]


def test_extract_video_and_bad_files_from_the_cli(shared_faces: Path, tmp_path: Path) -> None:
    good_photo = sorted((shared_faces / "photos" / "person_c").glob("*.jpg"))[0]
    (tmp_path / "fake.jpg").write_text("not an image")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "cut.mp4").write_bytes((shared_faces / "videos" / "person_d.mp4").read_bytes()[:3000])
    result = CliRunner().invoke(main, [
        "extract", str(shared_faces / "videos" / "person_d.mp4"), str(good_photo), str(tmp_path / "fake.jpg"),
        str(tmp_path / "notes.txt"), str(tmp_path / "cut.mp4"), "--identity", "d", "--data", str(tmp_path / "data"),
        "--every", "30", "--size", "64", "--quiet",
    ], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    crops = sorted((tmp_path / "data" / "d").glob("*.png"))
    video_crops = [p for p in crops if p.name.startswith("person_d_")]
    assert len(video_crops) == 12  # 354 frames, every 30th, a face in each
    assert {int(p.stem.split("_")[2]) % 30 for p in video_crops} == {0}
    assert all((p.parent / "masks" / p.name).is_file() and p.with_suffix(".json").is_file() for p in crops)
    assert len(crops) == 13
    assert "13 faces written" in result.output and "3 files skipped" in result.output
    for name, reason in (("fake.jpg", "not a readable image"), ("notes.txt", "not an image, plate or video"), ("cut.mp4", "video")):
        assert any(name in line and reason in line for line in result.output.splitlines()), (name, result.output)
