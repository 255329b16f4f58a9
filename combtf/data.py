"""Identity folders -> per-level tensors -> an augmented, prefetched tf.data pipeline.

Each level decodes and resizes every image once (`load_level`); steps then only gather
and augment.  Batches are a pure function of (seed, identity, global step), drawn with
stateless random ops, so a resumed run sees exactly the batches an uninterrupted one would.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from combtf.balance import draw_weights
from combtf.errors import CombtfError
from combtf.images import list_images, read_image, read_mask, resize

log = logging.getLogger(__name__)


@dataclass
class FaceSet:
    """The images of each identity under one data folder, and the files found unreadable."""

    root: Path
    images: dict[str, list[Path]]
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason
    draw_weights: dict[tuple[str, float], np.ndarray | None] = field(default_factory=dict)  # (identity, balance) -> weights

    @property
    def identities(self) -> list[str]:
        return list(self.images)


def scan(root: str | Path, identities: list[str] | None = None) -> FaceSet:
    """Find `root/<identity>/*.png|jpg|jpeg|webp`; fewer than two usable identities is an error."""
    root = Path(root)
    if not root.is_dir():
        raise CombtfError(f"{root}: data folder does not exist")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if identities:
        missing = [name for name in identities if not (root / name).is_dir()]
        if missing:
            raise CombtfError(f"{root / missing[0]}: identity folder does not exist")
        folders = [root / name for name in identities]
    if not folders:
        raise CombtfError(f"{root}: data folder has no identity folders (expected {root}/<identity>/*.png)")
    images = {}
    for folder in folders:
        files = list_images(folder)
        if not files:
            raise CombtfError(f"{folder}: identity '{folder.name}' has no images (png, jpg, jpeg, webp)")
        images[folder.name] = files
    if len(images) < 2:
        raise CombtfError(f"{root}: a comb needs at least 2 identities, found {len(images)}")
    return FaceSet(root, images)


class MaskSizeError(CombtfError):
    """A mask that does not fit its image: the data set is inconsistent, not one file damaged."""


def mask_path(image: Path) -> Path:
    return image.parent / "masks" / f"{image.stem}.png"


def load_crop(path: Path, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """One aligned crop and its mask (mask file, else alpha, else None), resized to `size`."""
    rgb, alpha = read_image(path)
    mpath = mask_path(path)
    mask = read_mask(mpath) if mpath.is_file() else alpha
    if mask is not None and mask.shape != rgb.shape[:2]:
        raise MaskSizeError(
            f"{mpath if mpath.is_file() else path}: mask is {mask.shape[1]}x{mask.shape[0]}, "
            f"image is {rgb.shape[1]}x{rgb.shape[0]}"
        )
    return resize(rgb, size), (None if mask is None else resize(mask, size))


def load_crops(paths: list[Path], size: int, skipped: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Images uint8 [N, s, s, 3] and masks uint8 [N, s, s, 1] (255 where no mask), and how many had none.

    Unreadable images are skipped and recorded in `skipped` when it is given, else they
    are an error; a MaskSizeError always is.
    """
    rgbs, masks, unmasked = [], [], 0
    for path in paths:
        try:
            rgb, mask = load_crop(path, size)
        except CombtfError as exc:
            if skipped is None or isinstance(exc, MaskSizeError):
                raise
            skipped[str(path)] = str(exc)
            log.warning("skipping %s", exc)
            continue
        if mask is None:
            unmasked += 1
            mask = np.full((size, size), 255, np.uint8)
        rgbs.append(rgb)
        masks.append(mask[..., None])
    if not rgbs:
        where = paths[0].parent if paths else "input"
        raise CombtfError(f"{where}: no readable images")
    return np.stack(rgbs), np.stack(masks), unmasked


@dataclass
class LevelData:
    """Every identity's images at one level's resolution, decoded once."""

    size: int
    images: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    draw_weights: dict[str, np.ndarray | None] = field(default_factory=dict)  # None: uniform


def load_level(faces: FaceSet, size: int, warned: set[str] | None = None, expression_balance: float = 0.0) -> LevelData:
    images, masks, weights = {}, {}, {}
    for ident, paths in faces.images.items():
        images[ident], masks[ident], unmasked = load_crops(paths, size, faces.skipped)
        if (ident, expression_balance) not in faces.draw_weights:  # the sidecars are read once a run, not once a level
            kept = [p for p in paths if str(p) not in faces.skipped]
            faces.draw_weights[ident, expression_balance] = draw_weights(kept, expression_balance)
        weights[ident] = faces.draw_weights[ident, expression_balance]
        if unmasked and warned is not None and ident not in warned:
            warned.add(ident)
            log.warning("%s: %d of %d images have no mask; the whole frame is used", faces.root / ident, unmasked, len(paths))
    return LevelData(size, images, masks, weights)


@dataclass(frozen=True)
class Augment:
    """Which augmentations run.  Warp applies to the encoder input only (DeepFaceLab style):
    the network must undo it, which is what teaches the decoders expressions they never saw."""

    flip: bool = True
    affine: bool = True
    warp: bool = True
    color: bool = True
    rotate_deg: float = 10.0
    scale: float = 0.05
    shift: float = 0.05
    affine_amount: float = 1.0  # scales the three above: on aligned crops it trades eyes for mouth (README)
    warp_cells: int = 4
    warp_amount: float = 0.24  # of a cell, as DeepFaceLab


def _bilinear(images: tf.Tensor, coords: tf.Tensor) -> tf.Tensor:
    """Sample [B, H, W, C] at float pixel coords [B, H, W, 2] (y, x), edges replicated."""
    size = tf.shape(images)[1]
    limit = tf.cast(size - 1, tf.float32)
    y, x = tf.clip_by_value(coords[..., 0], 0.0, limit), tf.clip_by_value(coords[..., 1], 0.0, limit)
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0)[..., None], (x - x0)[..., None]
    y0i, x0i = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    y1i, x1i = tf.minimum(y0i + 1, size - 1), tf.minimum(x0i + 1, size - 1)

    def at(yi: tf.Tensor, xi: tf.Tensor) -> tf.Tensor:
        return tf.gather_nd(images, tf.stack([yi, xi], -1), batch_dims=1)

    top = at(y0i, x0i) * (1 - wx) + at(y0i, x1i) * wx
    bottom = at(y1i, x0i) * (1 - wx) + at(y1i, x1i) * wx
    return top * (1 - wy) + bottom * wy


def _affine_coords(seed: tf.Tensor, batch: int, size: int, aug: Augment) -> tf.Tensor:
    """Source pixel coords for a random rotation/scale/shift about the centre (flip included)."""
    r = tf.random.stateless_uniform([batch, 5], seed, -1.0, 1.0)
    c = (size - 1) / 2.0
    grid = tf.cast(tf.stack(tf.meshgrid(tf.range(size), tf.range(size), indexing="ij"), -1), tf.float32) - c
    grid = tf.tile(grid[None], [batch, 1, 1, 1])
    amount = aug.affine_amount if aug.affine else 0.0
    angle = r[:, 0] * np.deg2rad(aug.rotate_deg) * amount
    scale = 1.0 + r[:, 1] * aug.scale * amount
    shift = r[:, 2:4] * aug.shift * size * amount
    flip = tf.where(r[:, 4] < 0.0, -1.0, 1.0) if aug.flip else tf.ones([batch])
    cos, sin = tf.cos(angle)[:, None, None], tf.sin(angle)[:, None, None]
    y, x = grid[..., 0], grid[..., 1] * flip[:, None, None]
    sy = (cos * y - sin * x) / scale[:, None, None] + shift[:, None, None, 0]
    sx = (sin * y + cos * x) / scale[:, None, None] + shift[:, None, None, 1]
    return tf.stack([sy, sx], -1) + c


def _warp_offsets(seed: tf.Tensor, batch: int, size: int, aug: Augment) -> tf.Tensor:
    """A smooth random displacement field: inner points of a coarse grid moved, borders fixed."""
    n = aug.warp_cells + 1
    cell = size / aug.warp_cells
    inner = tf.random.stateless_uniform([batch, n - 2, n - 2, 2], seed, -1.0, 1.0) * aug.warp_amount * cell
    coarse = tf.pad(inner, [[0, 0], [1, 1], [1, 1], [0, 0]])
    return tf.image.resize(coarse, [size, size], "bicubic")


def _color(seed: tf.Tensor, images: list[tf.Tensor]) -> list[tf.Tensor]:
    """The same brightness/contrast/saturation change applied to every tensor in `images`."""
    batch = tf.shape(images[0])[0]
    r = tf.random.stateless_uniform([batch, 1, 1, 3], seed, -1.0, 1.0)
    out = []
    for img in images:
        gray = tf.reduce_mean(img, -1, keepdims=True)
        img = gray + (img - gray) * (1.0 + 0.2 * r[..., 2:3])
        mean = tf.reduce_mean(img, [1, 2, 3], keepdims=True)
        img = mean + (img - mean) * (1.0 + 0.15 * r[..., 1:2]) + 0.08 * r[..., 0:1]
        out.append(tf.clip_by_value(img, 0.0, 1.0))
    return out


def augment(images: tf.Tensor, masks: tf.Tensor, seed: tf.Tensor, aug: Augment) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(encoder input, target, mask), float32.  Target and mask get flip+affine; input also the warp."""
    batch, size = images.shape[0], images.shape[1]
    images = tf.cast(images, tf.float32) / 255.0
    masks = tf.cast(masks, tf.float32) / 255.0
    seeds = tf.random.experimental.stateless_split(seed, 3)
    target, inputs = images, images
    if aug.flip or aug.affine or aug.warp:
        coords = _affine_coords(seeds[0], batch, size, aug)
        target, masks = _bilinear(images, coords), _bilinear(masks, coords)
        inputs = _bilinear(images, coords + _warp_offsets(seeds[1], batch, size, aug)) if aug.warp else target
    if aug.color:
        inputs, target = _color(seeds[2], [inputs, target])
    return inputs, target, masks


def dataset(
    level: LevelData,
    identities: list[str],
    batch_size: int,
    seed: int,
    first_step: int,
    last_step: int,
    aug: Augment,
) -> tf.data.Dataset:
    """Steps first_step..last_step-1; each element is (inputs, targets, masks), one [B, ...] per identity."""
    tensors = [(tf.constant(level.images[i]), tf.constant(level.masks[i]), level.draw_weights.get(i)) for i in identities]

    def make(step: tf.Tensor) -> tuple[tuple[tf.Tensor, ...], ...]:
        inputs, targets, masks = [], [], []
        for index, (imgs, msks, weights) in enumerate(tensors):
            key = tf.stack([tf.constant(seed * 1_000_003 + index * 7_919 + level.size, tf.int64), step])
            draw, aug_seed = tf.unstack(tf.random.experimental.stateless_split(key, 2))
            if weights is None:
                picks = tf.random.stateless_uniform([batch_size], draw, 0, imgs.shape[0], dtype=tf.int32)
            else:
                logits = tf.constant(np.log(weights)[None], tf.float32)
                picks = tf.random.stateless_categorical(logits, batch_size, draw, dtype=tf.int32)[0]
            x, t, m = augment(tf.gather(imgs, picks), tf.gather(msks, picks), aug_seed, aug)
            inputs.append(x)
            targets.append(t)
            masks.append(m)
        return tuple(inputs), tuple(targets), tuple(masks)

    steps = tf.data.Dataset.range(first_step, last_step)
    return steps.map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(tf.data.AUTOTUNE)


def replica_dataset(
    draw: Callable[[int], tf.data.Dataset], batch_size: int, context: tf.distribute.InputContext
) -> tf.data.Dataset:
    """For `strategy.distribute_datasets_from_function`: this pipeline's replicas' slices of each
    step's global batch (`batch_size` per replica), one element per local replica in turn.
    `draw(global_batch)` is `dataset` with everything but the batch size given.

    Drawing the global batch and slicing it, rather than drawing per replica, makes a run over
    R replicas see exactly the batches of a one-device run with R times the batch size."""
    replicas = context.num_replicas_in_sync
    steps = draw(batch_size * replicas)
    if replicas == 1:
        return steps
    local = replicas // context.num_input_pipelines
    first = context.input_pipeline_id * local

    def slices(*batch: tuple) -> tf.data.Dataset:  # (inputs, targets, masks)
        def take(j: tf.Tensor) -> tuple:
            start = (first + tf.cast(j, tf.int32)) * batch_size
            return tf.nest.map_structure(lambda t: t[start : start + batch_size], batch)

        return tf.data.Dataset.range(local).map(take)

    return steps.flat_map(slices).prefetch(tf.data.AUTOTUNE)
