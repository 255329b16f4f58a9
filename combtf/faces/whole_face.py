"""The crops other face-swap tools cut, from the same 68 landmarks: DeepFaceLab's whole face, the
template FaceFusion crops every DFM input with, and DeepFaceLive's coverage-based cut.

Re-implemented from their code (iperov/DeepFaceLab facelib/LandmarksProcessor.py get_transform_mat;
facefusion/facefusion face_helper.py, template 'dfl_whole_face'; iperov/DeepFaceLive
xlib/face/FLandmarks2D.py calc_cut), so that a DFM export can take what those tools hand it and
resample it into combtf's own template (`swap/onnx_export.py`). Every function returns a 2x3 matrix
that takes frame pixel coordinates to crop pixel coordinates, as `align.crop_affine` does.
"""
from __future__ import annotations

import numpy as np

from combtf.faces.align import apply, invert, umeyama

# DeepFaceLab's landmarks_2D_new: landmarks 17-48 and 54 of a mean face in a unit square, exactly.
DFL_UNIT_FACE = np.array([
    [0.000213256, 0.106454], [0.0752622, 0.038915], [0.18113, 0.0187482], [0.29077, 0.0344891],
    [0.393397, 0.0773906], [0.586856, 0.0773906], [0.689483, 0.0344891], [0.799124, 0.0187482],
    [0.904991, 0.038915], [0.98004, 0.106454], [0.490127, 0.203352], [0.490127, 0.307009],
    [0.490127, 0.409805], [0.490127, 0.515625], [0.36688, 0.587326], [0.426036, 0.609345],
    [0.490127, 0.628106], [0.554217, 0.609345], [0.613373, 0.587326], [0.121737, 0.216423],
    [0.187122, 0.178758], [0.265825, 0.179852], [0.334606, 0.231733], [0.260918, 0.245099],
    [0.182743, 0.244077], [0.645647, 0.231733], [0.714428, 0.179852], [0.793132, 0.178758],
    [0.858516, 0.216423], [0.79751, 0.244077], [0.719335, 0.245099], [0.254149, 0.780233],
    [0.726104, 0.780233],
])
DFL_FITTED = [*range(17, 49), 54]
DFL_WHOLE_FACE_PADDING = 0.40
DFL_WHOLE_FACE_SHIFT = 0.07  # of the unit square's height, upwards: more forehead

# FaceFusion's 'dfl_whole_face': eye centres, nose tip, mouth corners, in fractions of the crop.
FACEFUSION_WHOLE_FACE = np.array([
    [0.35342266, 0.39285716],
    [0.62797622, 0.39285716],
    [0.48660713, 0.54017860],
    [0.38839287, 0.68750011],
    [0.59821427, 0.68750011],
])

# DeepFaceLive fits landmarks 17-35, the eye corners 36, 39, 42, 45 and the mouth corners 48, 54 to
# the same unit face; its aligner's defaults are coverage 2.2 and a built-in y offset of -0.08.
DFLIVE_FITTED = [*range(17, 36), 36, 39, 42, 45, 48, 54]
DFLIVE_COVERAGE = 2.2
DFLIVE_Y_SHIFT = -0.08


def landmarks5(points: np.ndarray) -> np.ndarray:
    """FaceFusion's five points from 68: both eye centres, the nose tip and the mouth corners."""
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]])


def facefusion_affine(points: np.ndarray, size: int) -> np.ndarray:
    """FaceFusion's crop for a DFM (cv2.estimateAffinePartial2D onto the template: with its 100 px
    RANSAC threshold every one of the five points is an inlier, so this is the least-squares similarity)."""
    return umeyama(landmarks5(points), FACEFUSION_WHOLE_FACE * size)


def dfl_whole_face_affine(points: np.ndarray, size: int) -> np.ndarray:
    """DeepFaceLab's FaceType.WHOLE_FACE crop (get_transform_mat, scale 1)."""
    corners = _unit_corners(points, DFL_FITTED)
    centre = corners[4] + (corners[0] - corners[3]) * DFL_WHOLE_FACE_SHIFT
    reach = np.linalg.norm(corners[0] - corners[2]) * (DFL_WHOLE_FACE_PADDING * np.sqrt(2.0) + 0.5)
    return _square(corners, centre, reach, size)


def deepfacelive_affine(points: np.ndarray, size: int, coverage: float = DFLIVE_COVERAGE, x_offset: float = 0.0,
                        y_offset: float = 0.0) -> np.ndarray:
    """DeepFaceLive's FaceAligner (from points, no head mode), with the user's coverage and offsets."""
    corners = _unit_corners(points, DFLIVE_FITTED)
    centre = corners[4] + (corners[1] - corners[0]) * x_offset + (corners[3] - corners[0]) * (y_offset + DFLIVE_Y_SHIFT)
    reach = np.linalg.norm(corners[0] - corners[4]) * coverage
    return _square(corners, centre, reach, size)


def _unit_corners(points: np.ndarray, fitted: list[int]) -> np.ndarray:
    """The unit face's square fitted to `fitted` landmarks, in the frame: corners clockwise from top left, then centre."""
    unit = umeyama(points[fitted], DFL_UNIT_FACE[[DFL_FITTED.index(i) for i in fitted]])
    return apply(invert(unit), np.array([(0, 0), (1, 0), (1, 1), (0, 1), (0.5, 0.5)], np.float64))


def _square(corners: np.ndarray, centre: np.ndarray, reach: float, size: int) -> np.ndarray:
    """The affine that puts the square of half-diagonal `reach` around `centre`, turned as the unit face, on the crop."""
    down = (corners[2] - corners[0]) / np.linalg.norm(corners[2] - corners[0])
    up = (corners[1] - corners[3]) / np.linalg.norm(corners[1] - corners[3])
    frame = np.array([centre - down * reach, centre + up * reach, centre + down * reach])
    crop = np.array([(0, 0), (size, 0), (size, size)], np.float64)
    return _three_points(frame, crop)


def _three_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The affine that takes three points exactly onto three others (cv2.getAffineTransform)."""
    solved = np.linalg.solve(np.hstack([src, np.ones((3, 1))]), dst)
    return solved.T
