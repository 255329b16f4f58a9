"""68-point landmarks from dlib's shape predictor.

The predictor file comes from `face-recognition-models` (no download). Its first record is
the mean shape of the faces it was trained on, in coordinates of a unit detection box; that
mean shape is our alignment template (`template.MEAN_SHAPE`), and a predictor file whose mean
shape differs is refused, so template and landmarks always agree.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from combtf.errors import CombtfError
from combtf.faces.align import umeyama
from combtf.faces.template import MEAN_SHAPE, POINTS, STABLE, template

READ_SIZE = 256  # aligned crops are read at this size: dlib's predictor was trained on faces this large and larger


def predictor_path() -> Path:
    try:
        import face_recognition_models
    except ImportError as exc:
        raise CombtfError("68-point landmarks need face-recognition-models: pip install face-recognition-models") from exc
    return Path(face_recognition_models.pose_predictor_model_location())


def _read_int(data: bytes, pos: int) -> tuple[int, int]:
    """dlib's integer serialisation: one control byte (sign bit, byte count), then little-endian bytes."""
    control = data[pos]
    size = control & 0x0F
    if size > 8 or pos + 1 + size > len(data):
        raise ValueError("bad integer record")
    value = int.from_bytes(data[pos + 1 : pos + 1 + size], "little")
    return (-value if control & 0x80 else value), pos + 1 + size


def read_mean_shape(path: Path) -> np.ndarray:
    """The predictor's initial shape [68, 2], x and y in units of its detection box."""
    with open(path, "rb") as handle:
        data = handle.read(4096)
    try:
        version, pos = _read_int(data, 0)
        rows, pos = _read_int(data, pos)
        cols, pos = _read_int(data, pos)
        if version != 1 or abs(rows) != 2 * POINTS or abs(cols) != 1:
            raise ValueError("unexpected header")
        values = []
        for _ in range(2 * POINTS):
            mantissa, pos = _read_int(data, pos)
            exponent, pos = _read_int(data, pos)
            values.append(mantissa * 2.0**exponent)
    except (ValueError, IndexError) as exc:
        raise CombtfError(f"{path}: not a dlib 68-point shape predictor ({exc})") from exc
    return np.asarray(values, dtype=np.float64).reshape(POINTS, 2)


class LandmarkPredictor:
    """Box in, 68 points out; the box is refined once so it matches what the predictor was trained on."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise CombtfError("68-point landmarks need dlib: pip install dlib-bin") from exc
        path = predictor_path()
        if not np.array_equal(read_mean_shape(path), MEAN_SHAPE):
            raise CombtfError(f"{path}: its mean face is not combtf's crop template; reinstall face-recognition-models 0.3.0")
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(path))

    def in_box(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        """One pass of the predictor in `box`, which must already be the box it expects (`predictor_box`)."""
        rect = self._dlib.rectangle(*(int(round(v)) for v in box))
        shape = self._predictor(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)

    def __call__(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        """`gray` uint8 [H, W]; `box` (x0, y0, x1, y1) from any detector."""
        points = self.in_box(gray, box)
        return self.in_box(gray, predictor_box(points))


def predictor_box(points: np.ndarray) -> np.ndarray:
    """The square box whose unit coordinates put the mean shape closest to `points`.

    Detectors draw boxes differently (MTCNN's reach lower than dlib's); a second pass in the
    box the predictor expects removes that bias.
    """
    matrix = umeyama(MEAN_SHAPE[STABLE], points[STABLE])
    half = float(np.hypot(*matrix[:, 0])) / 2
    cx, cy = matrix @ np.array([0.5, 0.5, 1.0])
    return np.array([cx - half, cy - half, cx + half, cy + half])


class CropLandmarks:
    """68 points of aligned crops (faces where the template puts them, so neither a detector nor a
    second pass is needed): a crop is scaled to READ_SIZE px and read in the box the template gives."""

    def __init__(self) -> None:
        self._predictor = LandmarkPredictor()
        self._box = predictor_box(template(READ_SIZE))

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """uint8 [s, s, 3] -> [68, 2] in the crop's pixels."""
        from PIL import Image

        size = crop.shape[0]
        grey = np.asarray(Image.fromarray(crop, "RGB").convert("L").resize((READ_SIZE, READ_SIZE), Image.BILINEAR))
        return (self._predictor.in_box(grey, self._box) + 0.5) * (size / READ_SIZE) - 0.5
