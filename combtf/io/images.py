"""Reading untrusted image files, and writing PNGs that never end half-written.

Every reader goes through `read_image`, which bounds the pixel count (decompression
bombs), converts every mode to RGB(A) and turns any decoder failure into a CombtfError
that names the file.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from combtf.errors import CombtfError
from combtf.io.atomic import write_atomic

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp")
MAX_PIXELS = 50_000_000  # larger than any face photo; bigger claims are treated as bombs


def read_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB uint8 [H, W, 3], alpha uint8 [H, W] or None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise CombtfError(f"{path}: image is {img.width}x{img.height}, above the {MAX_PIXELS} pixel limit")
                img.load()
                img = ImageOps.exif_transpose(img)  # phone photos: pixels as the camera held them
                has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
                if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                    img = Image.fromarray((np.asarray(img, dtype=np.float64) / 256).clip(0, 255).astype(np.uint8))
                rgba = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    except CombtfError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CombtfError(f"{path}: image claims more pixels than the {MAX_PIXELS} pixel limit (a decompression bomb?)") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise CombtfError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    if rgba.ndim != 3 or min(rgba.shape[:2]) < 1:
        raise CombtfError(f"{path}: image has no pixels")
    return np.ascontiguousarray(rgba[..., :3]), (rgba[..., 3].copy() if has_alpha else None)


def read_mask(path: Path) -> np.ndarray:
    """A mask file as uint8 [H, W]; colour masks are reduced to their luminance."""
    rgb, alpha = read_image(path)
    gray = rgb.mean(axis=-1)
    if alpha is not None and float(gray.min()) == float(gray.max()):
        gray = alpha.astype(np.float64)
    return gray.round().astype(np.uint8)


def resize(array: np.ndarray, size: int) -> np.ndarray:
    """Square resize with an area-correct filter (uint8 in, uint8 out)."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    img = Image.fromarray(array)
    return np.asarray(img.resize((size, size), Image.Resampling.BOX if img.width > size else Image.Resampling.BICUBIC))


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))


def write_png(path: Path, rgb: np.ndarray, text: dict[str, str] | None = None) -> None:
    """Encode in memory, then write atomically with optional text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", pnginfo=info)
    write_atomic(path, buffer.getvalue())
