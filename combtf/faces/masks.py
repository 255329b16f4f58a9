"""Face masks from 68 landmarks: the hull of jaw and brows, the brows raised to cover the forehead.

The 68 points stop at the eyebrows; the forehead belongs to the face that a swap replaces,
so the brow points are lifted along the face's vertical axis by FOREHEAD times the
nose-bridge-to-chin distance. The edge is feathered so that training and blending see a
soft border rather than a stair-stepped one.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from combtf.faces.template import BROWS, JAW

FOREHEAD = 0.45
NOSE_BRIDGE, CHIN = 27, 8


def outline(points: np.ndarray) -> np.ndarray:
    """The mask polygon: jaw line, then the raised brows from the subject's left to right."""
    up = points[NOSE_BRIDGE] - points[CHIN]
    lifted = points[BROWS][::-1] + FOREHEAD * up
    return np.concatenate([points[JAW], lifted])


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    """z of (a - o) x (b - o): > 0 when o -> a -> b turns anticlockwise."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (Andrew's monotone chain): robust to landmarks that cross on profile faces."""
    pts = sorted(map(tuple, points))
    if len(pts) < 3:
        return np.asarray(pts)

    def half(sequence):  # noqa: ANN001, ANN202
        chain: list[tuple[float, float]] = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.asarray(half(pts) + half(reversed(pts)))


def face_mask(points: np.ndarray, size: tuple[int, int], feather: float | None = None) -> np.ndarray:
    """uint8 [h, w] mask (255 inside) from landmarks in the mask's pixel coordinates; `size` is (w, h).

    `feather` is the blur radius in pixels (default 2 % of the width); the edge is moved
    inwards by that radius first so the mask never reaches past the hull.
    """
    width, height = size
    feather = float(0.02 * width if feather is None else feather)
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).polygon([tuple(p) for p in _hull(outline(points) + 0.5)], fill=255)
    if feather > 0:
        shrunk = ndimage.minimum_filter(np.asarray(img), 2 * round(feather) + 1)  # separable: 70x faster than PIL's
        img = Image.fromarray(shrunk).filter(ImageFilter.GaussianBlur(feather))
    return np.asarray(img)
