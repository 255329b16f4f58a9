"""DeepFaceLab import on constructed files: masks read, crafted metadata rejected, errors name the input."""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.errors import CombtfError
from combtf.faces import dfl
from combtf.faces.template import template
from tests.helpers import RunsCode, dfl_jpeg


def _dfl_meta(**extra: object) -> dict:
    return {"face_type": "whole_face", "landmarks": template(128) * 0.9 + 8, "source_filename": "00001.png",
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
    from tests.helpers import one_line_error, run

    one_line_error(run("import-dfl", tmp_path / "nope", "--identity", "x", "--data", tmp_path), "nope", "not a folder")
    one_line_error(run("extract", tmp_path / "nope.mp4", "--identity", "x", "--data", tmp_path), "nope.mp4", "no photos or videos")
    one_line_error(run("extract", tmp_path, "--identity", "../up", "--data", tmp_path), "--identity", "folder name")
