"""Expression and head pose read off 68 landmarks: what a swap must carry over from its target frame.

Mouth opening is the inner-lip gap over the image height (aligned crops share one scale); eye
opening is the eye aspect ratio (Soukupova & Cech 2016), scale-free; head yaw, pitch and roll
come from a weak-perspective fit of six points of a generic 3D face (the model of the common
OpenCV head-pose recipe), in degrees.
"""
from __future__ import annotations

import numpy as np

MEASURES = ("mouth", "eye_right", "eye_left", "yaw", "pitch", "roll")

# nose tip, chin, outer eye corners (image left, image right), mouth corners: 3D, y up, z towards the camera
POSE_POINTS = (30, 8, 36, 45, 48, 54)
POSE_MODEL = np.array(
    [(0, 0, 0), (0, -330, -65), (-225, 170, -135), (225, 170, -135), (-150, -150, -125), (150, -150, -125)], np.float64
)


def mouth_opening(points: np.ndarray, height: float) -> float:
    gaps = [np.linalg.norm(points[a] - points[b]) for a, b in ((61, 67), (62, 66), (63, 65))]
    return float(np.mean(gaps) / height)


def eye_opening(points: np.ndarray, first: int) -> float:
    """Eye aspect ratio of the eye whose six points start at `first` (36: image left, 42: image right)."""
    p = points[first : first + 6]
    vertical = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    return float(vertical / (2.0 * np.linalg.norm(p[0] - p[3]) + 1e-9))


def lid_gap(points: np.ndarray, eye: slice) -> float:
    """Mean of the two upper-to-lower lid distances; unlike the eye aspect ratio it does not grow as the head turns."""
    p = points[eye]
    return float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / 2


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from a weak-perspective camera fitted to six landmarks."""
    image = points[list(POSE_POINTS)] * np.array([1.0, -1.0])  # y up, as the model
    model = POSE_MODEL - POSE_MODEL.mean(0)
    image = image - image.mean(0)
    projection = np.linalg.lstsq(model, image, rcond=None)[0].T  # 2x3: scale * the rotation's first two rows
    u, _, vt = np.linalg.svd(projection)
    rows = u @ vt[:2]  # nearest pair of orthonormal rows
    rotation = np.vstack([rows, np.cross(rows[0], rows[1])])
    yaw = np.degrees(np.arcsin(np.clip(-rotation[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(rotation[2, 1], rotation[2, 2]))
    roll = np.degrees(np.arctan2(rotation[1, 0], rotation[0, 0]))
    return float(yaw), float(pitch), float(roll)


def measure(points: np.ndarray, height: float) -> dict[str, float]:
    yaw, pitch, roll = head_pose(points)
    return {
        "mouth": mouth_opening(points, height),
        "eye_right": eye_opening(points, 36),  # the subject's right eye, image left
        "eye_left": eye_opening(points, 42),
        "yaw": yaw,
        "pitch": pitch,
        "roll": roll,
    }
