"""Blending math on constructed images."""
from __future__ import annotations

import numpy as np
import pytest

from combtf.swap import blend

H, W = 160, 200


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame lit by a left-to-right gradient, a flat grey face, a soft disc of a mask."""
    x = np.linspace(0.15, 0.85, W)
    frame = np.repeat(np.repeat(x[None, :, None], H, axis=0), 3, axis=2)
    frame = (frame * 255).round().astype(np.uint8)
    face = np.full((H, W, 3), 128, np.uint8)
    face[76:84, 96:104] = 40  # some detail: a dark "pupil"
    yy, xx = np.mgrid[:H, :W]
    disc = ((yy - 80) ** 2 + (xx - 100) ** 2 < 50**2).astype(np.uint8) * 255
    return frame, face, blend.prepare_mask(disc, erode=2, feather=6)


def _slope(image: np.ndarray, mask: np.ndarray) -> float:
    """Brightness gained per pixel to the right, inside the mask's core."""
    core = mask > 0.99
    ys, xs = np.nonzero(core)
    return float(np.polyfit(xs, image[..., 0][core].astype(np.float64), 1)[0])


def test_paper_blend_keeps_the_frames_low_frequency_light() -> None:
    frame, face, mask = _scene()
    paper = blend.blend(face, frame, mask, "paper")
    alpha = blend.blend(face, frame, mask, "alpha")
    frame_slope = _slope(frame, mask)
    assert abs(_slope(alpha, mask)) < 0.1 * frame_slope  # the flat face replaces the light
    assert _slope(paper, mask) > 0.7 * frame_slope  # the paper's blend keeps it
    assert paper[80, 100, 0] < paper[80, 120, 0] - 40  # and the face's detail is there


def test_zero_mask_returns_the_frame_bit_for_bit() -> None:
    frame, face, _ = _scene()
    for how in blend.BLENDS:
        out = blend.blend(face, frame, np.zeros((H, W)), how, color="meanstd")
        assert out is frame or np.array_equal(out, frame)


@pytest.mark.parametrize("how", blend.BLENDS)
def test_pixels_outside_the_mask_are_unchanged(how: str) -> None:
    frame, face, mask = _scene()
    out = blend.blend(face, frame, mask, how, color="histogram")
    assert np.array_equal(out[mask == 0], frame[mask == 0])
    assert not np.array_equal(out[mask > 0.9], frame[mask > 0.9])


def test_pyramid_collapses_back_to_the_image() -> None:
    image = np.random.default_rng(0).random((67, 93, 3))
    levels = blend.pyramid_levels(67, 93)
    assert levels >= 3
    np.testing.assert_allclose(blend.collapse(blend.laplacian_pyramid(image, levels)), image, atol=1e-12)


def test_meanstd_colour_transfer_matches_lab_statistics() -> None:
    rng = np.random.default_rng(1)
    face = np.clip(rng.normal([0.7, 0.5, 0.4], 0.05, (64, 64, 3)), 0, 1)
    frame = np.clip(rng.normal([0.4, 0.45, 0.6], 0.08, (64, 64, 3)), 0, 1)
    mask = np.ones((64, 64))
    moved = blend.transfer_color(face, frame, mask, "meanstd")
    np.testing.assert_allclose(blend._rgb_to_lab(moved).mean((0, 1)), blend._rgb_to_lab(frame).mean((0, 1)), atol=1.0)
    np.testing.assert_allclose(blend._lab_to_rgb(blend._rgb_to_lab(face)), face, atol=1e-3)
