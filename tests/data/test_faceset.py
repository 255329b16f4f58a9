"""Identity folders in: errors name the folder, masks from a folder or the alpha channel, bad files skipped."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.data.faceset import load_level, scan
from combtf.errors import CombtfError
from tests.helpers import face_folder


def test_scan_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(CombtfError, match="does not exist"):
        scan(tmp_path / "nope")
    with pytest.raises(CombtfError, match="has no identity folders"):
        scan(tmp_path)
    face_folder(tmp_path, "a")
    with pytest.raises(CombtfError, match="at least 2 identities"):
        scan(tmp_path)
    (tmp_path / "b").mkdir()
    with pytest.raises(CombtfError, match=f"{tmp_path / 'b'}: identity 'b' has no images"):
        scan(tmp_path)
    with pytest.raises(CombtfError, match="identity folder does not exist"):
        scan(tmp_path, ["a", "zed"])


def test_masks_from_folder_alpha_or_whole_frame(tmp_path: Path) -> None:
    face_folder(tmp_path, "a")
    b = face_folder(tmp_path, "b", mask=False)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = 77
    Image.fromarray(rgba, "RGBA").save(b / "f0.png")
    level = load_level(scan(tmp_path), 8, warned=set())
    assert level.images["a"].shape == (3, 8, 8, 3)
    assert np.all(level.masks["a"] == 200)
    assert np.all(level.masks["b"][0] == 77)      # alpha channel
    assert np.all(level.masks["b"][1:] == 255)    # no mask: the whole frame


def test_mask_of_wrong_size_is_an_error(tmp_path: Path) -> None:
    a = face_folder(tmp_path, "a")
    face_folder(tmp_path, "b")
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(a / "masks" / "f1.png")
    with pytest.raises(CombtfError, match=r"masks/f1.png: mask is 12x10, image is 16x16"):
        load_level(scan(tmp_path), 8)


def test_unreadable_image_is_skipped_and_counted(tmp_path: Path) -> None:
    a = face_folder(tmp_path, "a")
    face_folder(tmp_path, "b")
    (a / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (a / "empty.jpg").write_bytes(b"")
    faces = scan(tmp_path)
    level = load_level(faces, 8)
    assert len(level.images["a"]) == 3
    assert sorted(Path(p).name for p in faces.skipped) == ["broken.png", "empty.jpg"]
    assert all("not a readable image" in why for why in faces.skipped.values())
