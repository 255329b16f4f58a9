"""Face boxes from MTCNN (the `mtcnn` package: TensorFlow, weights inside the wheel).

MTCNN's cost grows with the pixel count (0.26 s at 1280x720, 0.13 s at 640x360 on two
cores), and faces in footage are large, so it runs on a copy whose long side is at most
`max_side`; boxes are scaled back to the full frame, where the landmarks are found.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from combtf.errors import CombtfError


@dataclass
class Detection:
    box: np.ndarray  # (x0, y0, x1, y1) in source pixels
    score: float

    @property
    def side(self) -> float:
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))


class FaceDetector:
    def __init__(self, max_side: int = 640, min_score: float = 0.9) -> None:
        try:
            from mtcnn import MTCNN
        except ImportError as exc:
            raise CombtfError("face detection needs mtcnn: pip install mtcnn") from exc
        self._mtcnn = MTCNN(device="CPU:0")
        self.max_side = max_side
        self.min_score = min_score

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in `rgb` (uint8 [H, W, 3]), largest first."""
        height, width = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        found = self._mtcnn.detect_faces(small) or []
        faces = []
        for face in found:
            x, y, w, h = (float(v) / scale for v in face["box"])
            if float(face["confidence"]) >= self.min_score and w > 0 and h > 0:
                faces.append(Detection(np.array([x, y, x + w, y + h]), float(face["confidence"])))
        return sorted(faces, key=lambda f: -f.side)
