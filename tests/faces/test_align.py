"""Alignment on constructed points: the similarity fit and the warps both ways."""
from __future__ import annotations

import numpy as np

from combtf.faces import align


def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(20, 2))
    angle, scale, shift = 0.4, 2.5, np.array([10.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = align.umeyama(src, scale * src @ rotation.T + shift)
    np.testing.assert_allclose(matrix, np.hstack([scale * rotation, shift[:, None]]), atol=1e-9)


def test_warp_puts_a_source_point_where_the_affine_says() -> None:
    image = np.zeros((200, 300, 3), np.uint8)
    image[119:122, 79:82] = 255
    matrix = align.umeyama(np.array([[80.0, 120], [81, 120]]), np.array([[30.0, 25], [30.5, 25.5]]))  # rotate 45 deg, shrink
    crop = align.warp(image, matrix, (64, 64)).astype(float)[..., 0]
    centre = [(crop * np.arange(64)[None]).sum() / crop.sum(), (crop * np.arange(64)[:, None]).sum() / crop.sum()]
    np.testing.assert_allclose(centre, align.apply(matrix, np.array([[80.0, 120.0]]))[0], atol=0.3)
    np.testing.assert_allclose(align.apply(align.invert(matrix), align.apply(matrix, np.eye(2))), np.eye(2), atol=1e-12)
