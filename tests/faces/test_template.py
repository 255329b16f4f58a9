"""The crop template: dlib's mean face exactly, a crop that holds forehead and chin, no model file needed."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from combtf.faces.landmarks import predictor_path, read_mean_shape
from combtf.faces.masks import face_mask
from combtf.faces.template import BROWS, LEFT_EYE, MEAN_SHAPE, RIGHT_EYE, template

MIRROR = [*range(16, -1, -1), *range(26, 16, -1), *range(27, 31), *range(35, 30, -1), 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
          *range(54, 47, -1), 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]  # fmt: skip


def test_mean_shape_is_dlibs_symmetric_frontal_face() -> None:
    shape = MEAN_SHAPE
    assert shape.shape == (68, 2)
    mirrored = shape[MIRROR] * [-1, 1] + [1, 0]
    assert np.abs(mirrored - shape).max() < 0.01  # read correctly, it is left-right symmetric
    assert shape[RIGHT_EYE, 0].mean() < shape[LEFT_EYE, 0].mean() and shape[BROWS, 1].max() < shape[8, 1]


def test_template_keeps_forehead_and_chin_inside_the_crop() -> None:
    points = template(256)
    assert points.min() > 0.1 * 256 and points.max() < 0.9 * 256
    mask = face_mask(points, (256, 256))
    brow_top = int(points[BROWS, 1].min())
    assert mask[brow_top - 20, 128] == 255  # forehead above the brows is face
    assert mask[128, 128] == 255 and mask[5, 5] == 0 and mask[250, 128] == 0
    edge = mask[128, : int(points[0, 0]) + 2]
    assert ((edge > 0) & (edge < 255)).any()  # feathered, not a hard step


def test_the_template_is_the_predictors_mean_face_exactly() -> None:
    np.testing.assert_array_equal(read_mean_shape(predictor_path()), MEAN_SHAPE)


def test_the_training_loss_and_the_coverage_measure_load_no_landmark_model() -> None:
    """They read the template's eye and mouth boxes; dlib and its model files stay unloaded."""
    code = ("import sys, combtf.training.losses, combtf.analysis.coverage; "
            "print(sorted(m for m in ('dlib', '_dlib_pybind11', 'face_recognition_models') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
