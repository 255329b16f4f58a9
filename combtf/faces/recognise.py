"""Face embeddings and landmarks of aligned crops, to judge swaps of real faces without ground truth.

dlib's 128-d ResNet face descriptor (`face-recognition-models` ships its weights; no download)
says who a face looks like; the 68-point predictor says what the face does.  Crops are
upsampled to `SIZE` px first: dlib's models were trained on faces of about 150 px, and every
image judged (target frame, swap, reference) goes through the same resampling.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from combtf.faces.expression import measure
from combtf.faces.landmarks import LandmarkPredictor, predictor_box
from combtf.faces.template import template

SIZE = 256


@dataclass
class FaceReading:
    embedding: np.ndarray  # [128]
    measures: dict[str, float]
    points: np.ndarray  # [68, 2] in pixels of the SIZE-px image


class FaceReader:
    """Aligned crop in (uint8, any size), embedding + expression measures out."""

    def __init__(self) -> None:
        self._landmarks = LandmarkPredictor()  # says what to install when dlib or the model files are missing
        import dlib
        import face_recognition_models

        self._dlib = dlib
        self._recogniser = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        self._box = predictor_box(template(SIZE))  # where the aligned crop's face sits

    def __call__(self, rgb: np.ndarray) -> FaceReading:
        image = np.asarray(Image.fromarray(rgb).resize((SIZE, SIZE), Image.BICUBIC))
        gray = np.asarray(Image.fromarray(image).convert("L"))
        points = self._landmarks(gray, self._box)
        dlib = self._dlib
        rect = dlib.rectangle(*(int(round(v)) for v in self._box))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in points])
        embedding = np.asarray(self._recogniser.compute_face_descriptor(image, shape), np.float64)
        return FaceReading(embedding, measure(points, SIZE), points)
