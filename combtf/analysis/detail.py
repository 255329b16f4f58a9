"""How much fine detail swaps carry, against reference crops: the measure masked SSIM barely sees.

One definition, so that every figure means the same thing: the finest band of a grey crop is the
crop minus its Gaussian blur (sigma 1 px); its energy is the band's mean square inside the eroded
mask; the detail ratio is the median energy of the swaps over the median energy of the references
(the truth's, or the source's own real crops at the model's resolution).  Energy alone rewards
noise, so against truth the band's PSNR is reported beside it (noise scores worse there).
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

SIGMA = 1.0
ERODE_PX = 3  # at 64 px (3 sigma), scaled with the crop: the mask's edge is a step the band would count
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def fine_band(images: np.ndarray) -> np.ndarray:
    """[N, h, w, 3] floats in [0, 1] -> [N, h, w] grey minus its sigma-1 blur."""
    grey = np.asarray(images, np.float32) @ LUMA
    return grey - ndimage.gaussian_filter(grey, (0, SIGMA, SIGMA), mode="nearest")


def inner(masks: np.ndarray) -> np.ndarray:
    """[N, h, w(, 1)] soft masks -> boolean masks eroded by ERODE_PX at 64 px (more for larger crops)."""
    hard = np.asarray(masks).reshape(len(masks), *np.shape(masks)[1:3]) > 0.5
    steps = max(1, round(ERODE_PX * hard.shape[1] / 64))
    return ndimage.binary_erosion(hard, np.ones((1, 3, 3), bool), iterations=steps)


def band_energy(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each image's fine-band energy inside its eroded mask."""
    band, keep = fine_band(images), inner(masks)
    return np.array([float(np.mean(b[k] ** 2)) if k.any() else float("nan") for b, k in zip(band, keep)])


def detail_ratio(swaps: np.ndarray, references: np.ndarray, swap_masks: np.ndarray, reference_masks: np.ndarray) -> float:
    return float(np.nanmedian(band_energy(swaps, swap_masks)) / np.nanmedian(band_energy(references, reference_masks)))


def band_psnr(images: np.ndarray, truth: np.ndarray, masks: np.ndarray) -> float:
    """PSNR (dB, peak 1) of the images' fine band against the truth's, inside the eroded mask, over all frames."""
    keep = inner(masks)
    error = float(np.mean((fine_band(images)[keep] - fine_band(truth)[keep]) ** 2))
    return float(10 * np.log10(1.0 / max(error, 1e-12)))


def half_resolution(images: np.ndarray) -> np.ndarray:
    """Each image halved and upscaled back (bicubic): what a model of half the resolution could carry."""
    out = []
    for image in np.asarray(images, np.float32):
        h, w = image.shape[:2]
        pil = Image.fromarray(np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8))
        out.append(np.asarray(pil.resize((w // 2, h // 2), Image.BICUBIC).resize((w, h), Image.BICUBIC), np.float32) / 255)
    return np.stack(out)
