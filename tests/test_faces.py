"""Alignment, masks, tracking and DeepFaceLab import on constructed data."""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.errors import CombtfError
from combtf.faces import align, dfl
from combtf.faces.landmarks import BROWS, LEFT_EYE, RIGHT_EYE, mean_shape
from combtf.faces.masks import face_mask
from combtf.faces.track import Observation, link, smooth
from tests.corpus import RunsCode, dfl_jpeg

MIRROR = [*range(16, -1, -1), *range(26, 16, -1), *range(27, 31), *range(35, 30, -1), 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
          *range(54, 47, -1), 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]  # fmt: skip


def test_mean_shape_is_dlibs_symmetric_frontal_face() -> None:
    shape = mean_shape()
    assert shape.shape == (68, 2)
    mirrored = shape[MIRROR] * [-1, 1] + [1, 0]
    assert np.abs(mirrored - shape).max() < 0.01  # read correctly, it is left-right symmetric
    assert shape[RIGHT_EYE, 0].mean() < shape[LEFT_EYE, 0].mean() and shape[BROWS, 1].max() < shape[8, 1]


def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 2))
    angle, scale, shift = 0.4, 2.5, np.array([10.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = align.umeyama(src, scale * src @ rotation.T + shift)
    np.testing.assert_allclose(matrix, np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def test_warp_puts_a_source_point_where_the_affine_says() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    image[119:122, 79:82] = 255
    matrix = align.umeyama(np.array([[80.0, 120], [81, 120]]), np.array([[30.0, 25], [30.5, 25.5]]))  # rotate 45 deg, shrink
    crop = align.warp(image, matrix, (64, 64)).astype(float)[..., 0]
    centre = [(crop * np.arange(64)[None]).sum() / crop.sum(), (crop * np.arange(64)[:, None]).sum() / crop.sum()]
    np.testing.assert_allclose(centre, align.apply(matrix, np.array([[80.0, 120.0]]))[0], atol=0.3)
    np.testing.assert_allclose(align.apply(align.invert(matrix), align.apply(matrix, np.eye(2))), np.eye(2), atol=1e-12)


def test_template_keeps_forehead_and_chin_inside_the_crop() -> None:
    points = align.template(256)
    assert points.min() > 0.1 * 256 and points.max() < 0.9 * 256
    mask = face_mask(points, (256, 256))
    brow_top = int(points[BROWS, 1].min())
    assert mask[brow_top - 20, 128] == 255  # forehead above the brows is face
    assert mask[128, 128] == 255 and mask[5, 5] == 0 and mask[250, 128] == 0
    edge = mask[128, : int(points[0, 0]) + 2]
    assert ((edge > 0) & (edge < 255)).any()  # feathered, not a hard step


def test_link_and_smooth_a_noisy_track() -> None:
    rng = np.random.default_rng(1)
    truth = mean_shape() * 100 + 50
    frames = []
    for t in range(30):
        drift = np.array([t * 0.5, 0.0])  # a slow pan, which smoothing must not lag
        frames.append([
            Observation(t, np.array([40 + t * 0.5, 40, 160 + t * 0.5, 160]), 1.0, truth + drift + rng.normal(0, 1.0, truth.shape)),
            Observation(t, np.array([400, 40, 520, 160]), 1.0, truth + [360, 0]),
        ])  # fmt: skip
    frames[20] = frames[20][:1]  # the second face leaves for 5 frames ...
    for t in range(21, 26):
        frames[t] = frames[t][:1]
    assert link(frames, max_gap=2) == 3  # ... and comes back as a new track
    first = [f[0] for f in frames]
    assert {o.track for o in first} == {0} and frames[0][1].track == 1 and frames[29][1].track == 2
    smooth(first, sigma=2.0)
    error_raw = [np.abs(o.landmarks - truth - [o.frame * 0.5, 0]).mean() for o in first[5:-5]]
    error_smooth = [np.abs(o.aligned - truth - [o.frame * 0.5, 0]).mean() for o in first[5:-5]]
    assert np.mean(error_smooth) < 0.5 * np.mean(error_raw)


def _dfl_meta(**extra: object) -> dict:
    return {"face_type": "whole_face", "landmarks": align.template(128) * 0.9 + 8, "source_filename": "00001.png",
            "source_rect": (10, 20, 200, 220), **extra}  # fmt: skip


def test_import_dfl_reads_masks_and_rejects_code(tmp_path: Path) -> None:
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    polygon = {"polys": [{"type": 1, "pts": [[30, 30], [100, 30], [100, 110], [30, 110]]}, {"type": 0, "pts": [[50, 50], [60, 50], [60, 60]]}]}
    dfl_jpeg(aligned / "00001_0.jpg", _dfl_meta(seg_ie_polys=polygon))
    xseg = io.BytesIO()
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(xseg, format="PNG")
    dfl_jpeg(aligned / "00002_0.jpg", _dfl_meta(xseg_mask=np.frombuffer(xseg.getvalue(), np.uint8)))
    dfl_jpeg(aligned / "00003_0.jpg", _dfl_meta())
    marker = tmp_path / "pwned"
    dfl_jpeg(aligned / "00004_0.jpg", None, raw_pickle=pickle.dumps(RunsCode(marker)))
    dfl_jpeg(aligned / "00005_0.jpg", _dfl_meta(landmarks=np.array([object()] * 3)))
    Image.new("RGB", (8, 8)).save(aligned / "plain.jpg")

    summary = dfl.import_dfl(aligned, "alice", tmp_path / "data", size=64)

    assert not marker.exists()
    assert summary.faces == 3 and summary.files == 6
    assert "rejected" in summary.skipped[str(aligned / "00004_0.jpg")] and "Path" in summary.skipped[str(aligned / "00004_0.jpg")]
    assert "rejected" in summary.skipped[str(aligned / "00005_0.jpg")]
    assert "no DeepFaceLab metadata" in summary.skipped[str(aligned / "plain.jpg")]
    out = tmp_path / "data" / "alice"
    sources = {p.stem: json.loads(p.read_text())["mask_from"] for p in out.glob("*.json")}
    assert sources == {"00001_0": "polygons", "00002_0": "xseg_mask", "00003_0": "landmarks"}
    polygon_mask = np.asarray(Image.open(out / "masks" / "00001_0.png"))
    full_mask = np.asarray(Image.open(out / "masks" / "00002_0.png"))
    assert full_mask.mean() > 250 and 0 < (polygon_mask > 127).mean() < 0.9


@pytest.mark.parametrize("payload", [b"\x80\x04K\x01.", b"not a pickle", pickle.dumps({"a": np.array([1, "x"], dtype=object)})])
def test_metadata_that_is_not_a_plain_dict_is_one_error(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "x.jpg"
    dfl_jpeg(path, None, raw_pickle=payload)
    with pytest.raises(CombtfError, match=r"x\.jpg: DeepFaceLab metadata"):
        dfl.load_metadata(path)


def test_app15_rejects_a_segment_that_runs_past_the_end() -> None:
    with pytest.raises(CombtfError, match="runs past the end"):
        dfl.app15(b"\xff\xd8\xff\xef\xff\xff" + b"x" * 10)


def test_cli_errors_name_the_input(tmp_path: Path) -> None:
    from tests.test_cli import one_line_error, run

    one_line_error(run("import-dfl", tmp_path / "nope", "--identity", "x", "--data", tmp_path), "nope", "not a folder")
    one_line_error(run("extract", tmp_path / "nope.mp4", "--identity", "x", "--data", tmp_path), "nope.mp4", "no photos or videos")
    one_line_error(run("extract", tmp_path, "--identity", "../up", "--data", tmp_path), "--identity", "folder name")
