"""Identity folders of aligned crops -> every identity's crops and masks at one level's size.

Each level decodes and resizes every image once (`load_level`); training steps then only gather
and augment (`pipeline.py`). Unreadable files are skipped and recorded, never fatal.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from combtf.data.balance import draw_weights
from combtf.errors import CombtfError
from combtf.io.images import list_images, read_image, read_mask, resize

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
