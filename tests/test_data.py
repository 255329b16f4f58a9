from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from combtf import data
from combtf.errors import CombtfError

NO_AUG = data.Augment(flip=False, affine=False, warp=False, color=False)


def face_folder(root: Path, name: str, n: int = 3, size: int = 16, mask: bool = True) -> Path:
    folder = root / name
    (folder / "masks").mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), np.uint8)).save(folder / f"f{i}.png")
        if mask:
            Image.fromarray(np.full((size, size), 200, np.uint8)).save(folder / "masks" / f"f{i}.png")
    return folder


def test_scan_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(CombtfError, match="does not exist"):
        data.scan(tmp_path / "nope")
    with pytest.raises(CombtfError, match="has no identity folders"):
        data.scan(tmp_path)
    face_folder(tmp_path, "a")
    with pytest.raises(CombtfError, match="at least 2 identities"):
        data.scan(tmp_path)
    (tmp_path / "b").mkdir()
    with pytest.raises(CombtfError, match=f"{tmp_path / 'b'}: identity 'b' has no images"):
        data.scan(tmp_path)
    with pytest.raises(CombtfError, match="identity folder does not exist"):
        data.scan(tmp_path, ["a", "zed"])


def test_masks_from_folder_alpha_or_whole_frame(tmp_path: Path) -> None:
    face_folder(tmp_path, "a")
    b = face_folder(tmp_path, "b", mask=False)
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 3] = 77
    Image.fromarray(rgba, "RGBA").save(b / "f0.png")
    level = data.load_level(data.scan(tmp_path), 8, warned=set())
    assert level.images["a"].shape == (3, 8, 8, 3)
    assert np.all(level.masks["a"] == 200)
    assert np.all(level.masks["b"][0] == 77)      # alpha channel
    assert np.all(level.masks["b"][1:] == 255)    # no mask: the whole frame


def test_mask_of_wrong_size_is_an_error(tmp_path: Path) -> None:
    a = face_folder(tmp_path, "a")
    face_folder(tmp_path, "b")
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(a / "masks" / "f1.png")
    with pytest.raises(CombtfError, match=r"masks/f1.png: mask is 12x10, image is 16x16"):
        data.load_level(data.scan(tmp_path), 8)


def test_unreadable_image_is_skipped_and_counted(tmp_path: Path) -> None:
    a = face_folder(tmp_path, "a")
    face_folder(tmp_path, "b")
    (a / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (a / "empty.jpg").write_bytes(b"")
    faces = data.scan(tmp_path)
    level = data.load_level(faces, 8)
    assert len(level.images["a"]) == 3
    assert sorted(Path(p).name for p in faces.skipped) == ["broken.png", "empty.jpg"]
    assert all("not a readable image" in why for why in faces.skipped.values())


def test_batches_depend_only_on_seed_and_step(tmp_path: Path) -> None:
    face_folder(tmp_path, "a", n=6)
    face_folder(tmp_path, "b", n=6)
    level = data.load_level(data.scan(tmp_path), 16)
    aug = data.Augment()

    def batch(step: int) -> np.ndarray:
        inputs, _, _ = next(iter(data.dataset(level, ["a", "b"], 4, seed=3, first_step=step, last_step=step + 1, aug=aug)))
        return inputs[0].numpy()

    np.testing.assert_array_equal(batch(5), batch(5))
    assert not np.array_equal(batch(5), batch(6))
    resumed = list(data.dataset(level, ["a", "b"], 4, 3, 5, 7, aug))
    np.testing.assert_array_equal(resumed[0][0][0].numpy(), batch(5))


def test_no_augmentation_passes_images_through() -> None:
    images = tf.random.stateless_uniform([2, 16, 16, 3], [1, 1], 0, 255, tf.int32)
    masks = tf.fill([2, 16, 16, 1], 255)
    inputs, target, mask = data.augment(tf.cast(images, tf.uint8), tf.cast(masks, tf.uint8), tf.constant([1, 2], tf.int64), NO_AUG)
    np.testing.assert_allclose(inputs, tf.cast(images, tf.float32) / 255, atol=1e-6)
    np.testing.assert_array_equal(inputs, target)


def test_warp_changes_the_input_only() -> None:
    images = tf.cast(tf.random.stateless_uniform([2, 32, 32, 3], [2, 2], 0, 255, tf.int32), tf.uint8)
    masks = tf.fill([2, 32, 32, 1], tf.constant(255, tf.uint8))
    seed = tf.constant([4, 5], tf.int64)
    warp_only = data.Augment(flip=False, affine=False, warp=True, color=False)
    inputs, target, _ = data.augment(images, masks, seed, warp_only)
    np.testing.assert_allclose(target, tf.cast(images, tf.float32) / 255, atol=1e-5)
    assert float(tf.reduce_mean(tf.abs(inputs - target))) > 0.01


def test_affine_amount_sets_how_far_target_and_mask_move() -> None:
    # smooth ramps, so that how much a pixel changes grows with how far the jitter moves it
    ramp = np.arange(32, dtype=np.uint8) * 8
    y, x = np.meshgrid(ramp, ramp, indexing="ij")
    images = tf.constant(np.repeat(np.stack([y, x, 255 - x], -1)[None], 4, 0))
    masks = tf.constant(np.repeat(y[None, ..., None], 4, 0))
    seed = tf.constant([2, 9], tf.int64)

    def moved(amount: float) -> tuple[float, float]:
        aug = data.Augment(flip=False, affine=True, warp=False, color=False, affine_amount=amount)
        inputs, target, mask = data.augment(images, masks, seed, aug)
        np.testing.assert_allclose(inputs, target)  # no warp: the encoder sees the target
        return (float(tf.reduce_mean(tf.abs(target - tf.cast(images, tf.float32) / 255))),
                float(tf.reduce_mean(tf.abs(mask - tf.cast(masks, tf.float32) / 255))))

    (image_half, mask_half), (image_full, mask_full) = moved(0.5), moved(1.0)
    assert 0.0 < image_half < 0.8 * image_full
    assert 0.0 < mask_half < 0.8 * mask_full


def test_warp_amount_sets_how_far_the_input_moves() -> None:
    images = tf.cast(tf.random.stateless_uniform([4, 32, 32, 3], [3, 3], 0, 255, tf.int32), tf.uint8)
    masks = tf.fill([4, 32, 32, 1], tf.constant(255, tf.uint8))
    seed = tf.constant([6, 7], tf.int64)

    def moved(amount: float) -> float:
        aug = data.Augment(flip=False, affine=False, warp=True, color=False, warp_amount=amount)
        inputs, target, _ = data.augment(images, masks, seed, aug)
        return float(tf.reduce_mean(tf.abs(inputs - target)))

    assert 0.0 < moved(0.08) < 0.8 * moved(0.24)
