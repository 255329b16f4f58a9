"""The detail ratio (docs/judging.md): fine detail a swap carries against its references."""
import numpy as np
from scipy import ndimage

from combtf.analysis.detail import band_energy, band_psnr, detail_ratio, half_resolution


def textured(n: int = 4, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    smooth = ndimage.gaussian_filter(rng.random((n, size, size, 3)), (0, 6, 6, 0))
    grain = 0.15 * (rng.random((n, size, size, 1)) - 0.5)  # freckles, pores: detail only a fine band holds
    yy, xx = np.mgrid[:size, :size]
    mask = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (0.4 * size) ** 2).astype(np.float32)
    return np.clip(0.3 + smooth + grain, 0, 1).astype(np.float32), np.repeat(mask[None, ..., None], n, 0)


def test_the_truth_scores_one_and_a_blurred_copy_far_less() -> None:
    truth, masks = textured()
    assert detail_ratio(truth, truth, masks, masks) == 1.0
    blurred = ndimage.gaussian_filter(truth, (0, 1.5, 1.5, 0))
    assert detail_ratio(blurred, truth, masks, masks) < 0.3
    # what half the resolution can carry is much less than the full crop
    assert detail_ratio(half_resolution(truth), truth, masks, masks) < 0.6


def test_noise_adds_energy_but_loses_the_bands_agreement() -> None:
    truth, masks = textured()
    noisy = np.clip(truth + 0.2 * (np.random.default_rng(1).random(truth.shape) - 0.5), 0, 1).astype(np.float32)
    assert detail_ratio(noisy, truth, masks, masks) > 1.0  # energy alone rewards noise...
    slightly = np.clip(truth + 0.02, 0, 1)
    assert band_psnr(noisy, truth, masks) < band_psnr(slightly, truth, masks) - 10  # ...the band's PSNR does not


def test_the_masks_edge_does_not_count() -> None:
    truth, masks = textured()
    flat = np.full_like(truth, 0.5) * masks  # a flat face on black: only the mask's edge has a fine band
    assert np.all(band_energy(flat, masks) < 1e-4 * band_energy(truth, masks))
