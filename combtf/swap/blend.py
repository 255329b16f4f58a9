"""Putting a swapped face into its frame: contrast correction, colour transfer, pyramid blending.

The paper's blend (`paper`) corrects the swap's contrast to the target's, then blends
Laplacian pyramids under the mask's Gaussian pyramid, taking the `coarse` coarsest levels from
the target frame alone, so the target's low-frequency light (shading, colour cast) survives
and only the face's detail comes from the swap. `multiband` blends every level; `alpha` uses
the feathered mask alone. All work happens inside the mask's bounding box: pixels outside it
are returned untouched, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

BLENDS = ("paper", "multiband", "alpha")
COLORS = ("none", "meanstd", "histogram")
_KERNEL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
_MIN_SIDE = 8  # the coarsest pyramid level keeps at least this many pixels a side


@dataclass
class BlendOptions:
    how: str = "paper"  # one of BLENDS
    color: str = "none"  # one of COLORS
    coarse: int = 2  # paper: coarsest pyramid levels taken from the frame
    erode: int = 0  # px in the frame
    feather: int = 0  # px in the frame, on top of the mask's own feathering


def _blur(image: np.ndarray) -> np.ndarray:
    out = ndimage.convolve1d(image, _KERNEL, axis=0, mode="reflect")
    return ndimage.convolve1d(out, _KERNEL, axis=1, mode="reflect")


def _down(image: np.ndarray) -> np.ndarray:
    return _blur(image)[::2, ::2]


def _up(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros((shape[0], shape[1], *image.shape[2:]), dtype=image.dtype)
    out[::2, ::2] = image
    return _blur(out) * 4.0


def gaussian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [image]
    for _ in range(levels - 1):
        pyramid.append(_down(pyramid[-1]))
    return pyramid


def laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    """Band-pass levels, finest first; the last entry is the low-pass residual."""
    gaussian = gaussian_pyramid(image, levels)
    bands = [fine - _up(coarse, fine.shape) for fine, coarse in zip(gaussian, gaussian[1:])]
    return bands + [gaussian[-1]]


def collapse(pyramid: list[np.ndarray]) -> np.ndarray:
    image = pyramid[-1]
    for band in reversed(pyramid[:-1]):
        image = band + _up(image, band.shape)
    return image


def pyramid_levels(height: int, width: int) -> int:
    return max(1, int(np.log2(max(min(height, width), 1) / _MIN_SIDE)) + 1)


def pyramid_blend(face: np.ndarray, frame: np.ndarray, mask: np.ndarray, coarse: int = 0) -> np.ndarray:
    """float [h, w, c] images, mask in [0, 1] [h, w]; `coarse` coarsest levels taken from `frame` alone.

    The pyramid is linear, so blending the bands of face and frame is the frame plus the masked bands of
    their difference: one pyramid instead of two, and the frame itself never resampled."""
    levels = pyramid_levels(*mask.shape)
    masks = gaussian_pyramid(mask[..., None], levels)
    bands = laplacian_pyramid(face - frame, levels)
    keep = levels - min(coarse, levels)  # levels 0 .. keep-1 blend; the rest are the frame's
    if keep == 0:
        return frame.copy()
    return frame + collapse([m * d for m, d in zip(masks[:keep], bands[:keep])])  # the coarse levels add nothing


def correct_contrast(face: np.ndarray, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scale each channel's spread around its masked mean to the frame's spread under the same mask."""
    weights = (mask / max(float(mask.sum()), 1e-6)).reshape(-1).astype(np.float64)

    def moments(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = image.reshape(-1, image.shape[-1]).astype(np.float64)
        mean = weights @ flat
        return mean, np.sqrt(np.maximum(weights @ (flat * flat) - mean * mean, 0.0))

    (face_mean, face_std), (_, frame_std) = moments(face), moments(frame)
    scale = (frame_std / np.maximum(face_std, 1e-6)).astype(face.dtype)
    return (face - face_mean.astype(face.dtype)) * scale + face_mean.astype(face.dtype)


def _rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def _lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f**3 > 216 / 24389, f**3, (116 * f - 16) / (24389 / 27)) * np.array([0.95047, 1.0, 1.08883])
    linear = xyz @ np.array([[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]).T
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear > 0.0031308, 1.055 * linear ** (1 / 2.4) - 0.055, 12.92 * linear)


def transfer_color(face: np.ndarray, frame: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Move the face's colour statistics under the mask to the frame's (RGB floats in [0, 1])."""
    if mode == "none":
        return face
    inside = mask > 0.5
    if inside.sum() < 16:
        return face
    if mode == "meanstd":  # DeepFaceLab's rct: mean and std per Lab channel
        face_lab, frame_lab = _rgb_to_lab(face), _rgb_to_lab(frame)
        a, b = face_lab[inside], frame_lab[inside]
        return _lab_to_rgb((face_lab - a.mean(0)) * (b.std(0) / np.maximum(a.std(0), 1e-6)) + b.mean(0))
    out = face.copy()
    quantiles = np.linspace(0, 1, 256)
    for c in range(face.shape[-1]):  # histogram: match each channel's quantiles under the mask
        source, reference = np.quantile(face[..., c][inside], quantiles), np.quantile(frame[..., c][inside], quantiles)
        out[..., c] = np.interp(face[..., c], source, reference)
    return out


def prepare_mask(mask: np.ndarray, erode: int = 0, feather: int = 0) -> np.ndarray:
    """float mask in [0, 1]: eroded by `erode` px, then blurred with sigma `feather` / 2 px."""
    out = mask.astype(np.float64) / (255.0 if mask.dtype == np.uint8 else 1.0)
    if erode > 0:
        out = ndimage.grey_erosion(out, size=(2 * erode + 1, 2 * erode + 1))
    if feather > 0:
        out = ndimage.gaussian_filter(out, feather / 2)
    return np.clip(out, 0.0, 1.0)


def region(mask: np.ndarray, margin: int = 16) -> tuple[slice, slice] | None:
    """The mask's bounding box grown by `margin` px (the pyramid's context), or None for an empty mask."""
    rows, cols = np.nonzero(mask > 1e-3)
    if rows.size == 0:
        return None
    y0, y1 = max(rows.min() - margin, 0), min(rows.max() + margin + 1, mask.shape[0])
    x0, x1 = max(cols.min() - margin, 0), min(cols.max() + margin + 1, mask.shape[1])
    return slice(y0, y1), slice(x0, x1)


def blend_float(face: np.ndarray, frame: np.ndarray, mask: np.ndarray, how: str = "paper", color: str = "none",
                coarse: int = 2) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(the face as it enters the blend, the blended image): float32 [h, w, 3] working-space images, mask float32 [h, w].

    Pixels the mask never touches are the frame's, bit for bit (no ringing of the pyramid into them)."""
    face = transfer_color(face, frame, mask, color)
    if how == "paper":
        face = correct_contrast(face, frame, mask)
    if how == "alpha":
        out = mask[..., None] * face + (1 - mask[..., None]) * frame
    else:
        out = pyramid_blend(face, frame, mask, coarse if how == "paper" else 0)
    return face.astype(np.float32), np.where(mask[..., None] > 0, out, frame).astype(np.float32)


def blend(face: np.ndarray, frame: np.ndarray, mask: np.ndarray, how: str = "paper", color: str = "none", coarse: int = 2) -> np.ndarray:
    """uint8 frame [H, W, 3] with `face` (uint8, same size, already warped into the frame) put in under `mask` (float [H, W])."""
    box = region(mask)
    if box is None:
        return frame
    f, g = face[box].astype(np.float32) / 255.0, frame[box].astype(np.float32) / 255.0
    _, out = blend_float(f, g, mask[box].astype(np.float32), how, color, coarse)
    result = frame.copy()
    result[box] = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return result
