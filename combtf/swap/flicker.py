"""Temporal stability of a swapped shot, as one number.

Every input frame and every output frame is warped into the aligned crop with that frame's
own crop affine, so head motion cancels; each pixel's absolute change from the previous frame
is averaged inside the template's face mask, over pixels and frame pairs. Flicker is the
output's figure over the input's: 1 means the swap changes from frame to frame as much as the
plate does, above 1 it adds flicker of its own. Pairs are consecutive processed frames that
both hold a face; a frame without one starts a new run.
"""
from __future__ import annotations

import numpy as np

from combtf.faces.align import crop_affine, warp
from combtf.faces.masks import face_mask
from combtf.faces.template import template

SIZE = 128  # px of the measuring crop: fixed, so that figures of models of any resolution compare


class FlickerMeter:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self.mask = face_mask(template(size), (size, size)) > 127
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self.change_in = self.change_out = 0.0
        self.pairs = 0

    def add(self, seen: tuple[np.ndarray, np.ndarray, np.ndarray] | None, landmarks: np.ndarray | None) -> None:
        """One frame: (uint8 working-space region before the swap, after it, the region's corner in the frame) and the
        landmarks its crop follows (frame px); None for a frame without a face."""
        if landmarks is None or seen is None:
            self._previous = None
            return
        before, after, corner = seen
        matrix = crop_affine(landmarks - corner, self.size)
        crops = tuple(warp(image, matrix, (self.size, self.size)).astype(np.float32) for image in (before, after))
        if self._previous is not None:
            self.change_in += float(np.abs(crops[0] - self._previous[0])[self.mask].mean())
            self.change_out += float(np.abs(crops[1] - self._previous[1])[self.mask].mean())
            self.pairs += 1
        self._previous = crops

    @property
    def flicker(self) -> float | None:
        """Output change over input change; None before two consecutive frames with a face."""
        if self.pairs == 0:
            return None
        return self.change_out / max(self.change_in, 1e-9)
