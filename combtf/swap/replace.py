"""One frame and its faces in; the blended frame, the pixels it changed and the compositing layers out.

The crop the model sees is cut from the frame's 8-bit working-space (sRGB) image; the face comes
back warped into the face's region only. Colour transfer, contrast correction and the pyramid
blend work in the working space; the alpha blend, and the face layer a compositor merges over
the plate, work in the plate's own space, so that a Merge (over) of the premultiplied face on
the plate reproduces `--blend alpha` exactly. Pixels no mask reaches are reported as untouched,
and the callers return them as read, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from combtf.faces.align import apply, invert, warp
from combtf.faces.masks import face_mask
from combtf.faces.track import Observation
from combtf.io.colour import Conversion
from combtf.swap import blend
from combtf.swap.blend import BlendOptions
from combtf.swap.swapper import Swapper


@dataclass
class Replaced:
    plate: np.ndarray  # float32 [H, W, 3] in plate units: the blended frame
    touched: np.ndarray  # bool [H, W]: pixels some mask reaches; all others are the input's
    face: np.ndarray | None = None  # float32 [H, W, 4] premultiplied face over its matte (alpha), plate units; with layers
    faces: list[dict] = field(default_factory=list)  # per face: the crop's affine, landmarks, region (the transform JSON)
    seen: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # first face: uint8 working-space region before, after, its corner


def working_uint8(rgb: np.ndarray) -> np.ndarray:
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class FaceReplacer:
    def __init__(self, swapper: Swapper, source: str, target: str, match: bool, options: BlendOptions, layers: bool = False) -> None:
        self.swapper, self.source, self.target, self.match, self.options = swapper, source, target, match, options
        self.layers = layers

    def __call__(self, rgb: np.ndarray, faces: list[Observation]) -> np.ndarray:
        """uint8 sRGB frame in and out."""
        return working_uint8(self.replace(rgb.astype(np.float32) / 255.0, None, faces).plate)

    def replace(self, plate: np.ndarray, conversion: Conversion | None, faces: list[Observation]) -> Replaced:
        """`plate` float32 [H, W, 3] in plate units, blended in place; conversion None: plate units are the working
        space's. Only each face's region is converted to the working space (a whole 1080p frame costs 60 ms)."""
        out = Replaced(plate, np.zeros(plate.shape[:2], bool),
                       np.zeros((*plate.shape[:2], 4), np.float32) if self.layers else None)  # fmt: skip
        for obs in faces:
            self._one(out, obs, conversion)
        return out

    def _one(self, out: Replaced, obs: Observation, conversion: Conversion | None) -> None:
        size = self.swapper.resolution
        matrix = obs.affine(size)
        corners = apply(invert(matrix), np.array([[0.0, 0], [size, 0], [0, size], [size, size]]))
        height, width = out.touched.shape
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, [width, height])
        if x1 <= x0 or y1 <= y0:
            return
        region_to_crop = matrix.copy()
        region_to_crop[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
        roi = (int(x1 - x0), int(y1 - y0))
        plate_roi = out.plate[y0:y1, x0:x1]
        work_roi = conversion.to_working(plate_roi) if conversion else plate_roi
        before = working_uint8(work_roi)
        crop = warp(before, region_to_crop, (size, size))
        swapped = np.asarray(self.swapper.swap(crop[None].astype(np.float32) / 255.0, self.source, self.target, self.match))[0]
        face_roi = warp(working_uint8(swapped), invert(region_to_crop), roi)
        # The mask is drawn in the frame from the frame's landmarks: as sharp at 64 px models as at 1024 px.
        mask_roi = blend.prepare_mask(face_mask(obs.landmarks - [x0, y0], roi), self.options.erode, self.options.feather)
        box = blend.region(mask_roi)
        if box is None:
            return
        m, g_plate, o = mask_roi[box].astype(np.float32), plate_roi[box], self.options
        a = m[..., None]
        f_work, blended = blend.blend_float(face_roi[box].astype(np.float32) / 255.0, work_roi[box], m, o.how, o.color, o.coarse)
        if o.how == "alpha":
            f_plate = conversion.to_plate(f_work) if conversion else f_work
            result = a * f_plate + (1 - a) * g_plate
        else:  # one conversion call for both
            f_plate, result = np.split(conversion.to_plate(np.concatenate([f_work, blended])), 2) if conversion else (f_work, blended)
        result = np.where(a > 0, result, g_plate)
        after = before.copy()
        seen = blended if o.how != "alpha" or conversion is None else conversion.to_working(result)  # the pyramid's is the working space's
        after[box] = np.where(a > 0, working_uint8(seen), before[box])
        plate_roi[box] = result
        out.touched[y0:y1, x0:x1][box] |= m > 0
        if out.face is not None:  # this face over the faces before it (premultiplied over)
            layer = out.face[y0:y1, x0:x1][box]
            layer[..., :3] = f_plate * a + layer[..., :3] * (1 - a)
            layer[..., 3] = m + layer[..., 3] * (1 - m)
        if out.seen is None:
            out.seen = (before, after, np.array([x0, y0], np.float64))
        ys, xs = box
        out.faces.append({"crop_size": size, "affine": matrix.tolist(), "landmarks": np.round(obs.landmarks, 3).tolist(),
                          "region": [int(x0 + xs.start), int(y0 + ys.start), int(x0 + xs.stop), int(y0 + ys.stop)],
                          "track": obs.track})  # fmt: skip
