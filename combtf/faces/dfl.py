"""DeepFaceLab "aligned" JPEGs in: their APP15 metadata, read without trusting it.

DeepFaceLab stores a pickled dict (landmarks, face type, source file and rect, xseg mask or
polygons) in a JPEG APP15 segment. Unpickling runs whatever the pickle names, so a crafted
file could run code; `load_metadata` admits only plain containers, numbers, strings, bytes
and numeric numpy arrays, and rejects anything else before it is called.
"""
from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from combtf.errors import CombtfError
from combtf.faces.align import apply, crop_affine, warp
from combtf.faces.crops import check_identity, points, safe_name, write_crop
from combtf.faces.extract import ExtractOptions, ExtractSummary
from combtf.faces.masks import face_mask
from combtf.io.images import MAX_PIXELS, read_image

APP15 = 0xEF
MAX_METADATA = 16 * 1024 * 1024
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes
}
_PLAIN = (str, bytes, bytearray, int, float, bool, type(None), np.number, np.bool_)


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which a metadata record never needs")
        return super().find_class(module, name)


def _check_plain(value: object, depth: int = 0) -> None:
    if depth > 20:
        raise pickle.UnpicklingError("nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, depth + 1)
            _check_plain(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(item, depth + 1)
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise pickle.UnpicklingError(f"holds a numpy array of dtype {value.dtype}")
    elif not isinstance(value, _PLAIN):
        raise pickle.UnpicklingError(f"holds a {type(value).__name__}")


def app15(data: bytes) -> bytes:
    """The concatenated APP15 payloads of a JPEG (empty if none); stops at the image data."""
    if data[:2] != b"\xff\xd8":
        raise CombtfError("not a JPEG file")
    pos, payload = 2, b""
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise CombtfError(f"broken JPEG segment at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more metadata
            break
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > len(data):
            raise CombtfError(f"JPEG segment at byte {pos} runs past the end of the file")
        if marker == APP15:
            payload += data[pos + 4 : pos + 2 + length]
        pos += 2 + length
    return payload


def load_metadata(path: Path) -> dict:
    """DeepFaceLab's metadata dict of one aligned JPEG, or a CombtfError naming the problem."""
    data = path.read_bytes()
    try:
        payload = app15(data)
    except CombtfError as exc:
        raise CombtfError(f"{path}: {exc}") from exc
    if not payload:
        raise CombtfError(f"{path}: no DeepFaceLab metadata (no APP15 segment); is this a DFL aligned face?")
    if len(payload) > MAX_METADATA:
        raise CombtfError(f"{path}: metadata of {len(payload)} bytes is too large")
    try:
        meta = _RestrictedUnpickler(io.BytesIO(payload)).load()
        _check_plain(meta)
    except CombtfError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of hostile bytes is "rejected", never a crash
        raise CombtfError(f"{path}: DeepFaceLab metadata rejected ({exc})") from exc
    if not isinstance(meta, dict):
        raise CombtfError(f"{path}: DeepFaceLab metadata is a {type(meta).__name__}, not a dict")
    return meta


def _landmarks(path: Path, meta: dict) -> np.ndarray:
    try:
        landmarks = np.asarray(meta.get("landmarks"), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CombtfError(f"{path}: landmarks are not numbers") from exc
    if landmarks.shape != (68, 2) or not np.isfinite(landmarks).all():
        raise CombtfError(f"{path}: expected 68 landmarks (x, y), found shape {landmarks.shape}")
    return landmarks


def _decode_mask(path: Path, encoded: object, size: tuple[int, int]) -> np.ndarray:
    """xseg masks are stored as PNG/JPEG bytes (a uint8 array or bytes) in [0, 255]."""
    raw = bytes(np.asarray(encoded, dtype=np.uint8).ravel()) if not isinstance(encoded, (bytes, bytearray)) else bytes(encoded)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise CombtfError(f"{path}: xseg mask is {img.width}x{img.height}, too large")
            mask = img.convert("L").resize(size, Image.Resampling.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CombtfError(f"{path}: xseg mask is not a readable image") from exc
    return np.asarray(mask)


def _polygons(path: Path, meta: dict, size: tuple[int, int]) -> np.ndarray | None:
    """Include/exclude polygons (DFL 2's seg_ie_polys, or DFL 1's ie_polys) drawn in order."""
    polys = meta.get("seg_ie_polys")
    if isinstance(polys, dict):
        polys = [(p.get("type"), p.get("pts")) for p in polys.get("polys", []) if isinstance(p, dict)]
    elif "ie_polys" in meta:
        polys = meta["ie_polys"]
    if not polys:
        return None
    img = Image.new("L", size, 0)
    draw = ImageDraw.Draw(img)
    try:
        for kind, pts in polys:
            pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
            if len(pts) >= 3 and np.isfinite(pts).all():
                draw.polygon([tuple(p) for p in pts], fill=255 if int(kind) == 1 else 0)
    except (TypeError, ValueError) as exc:
        raise CombtfError(f"{path}: mask polygons are not (type, points) pairs") from exc
    return np.asarray(img)


def _mask(path: Path, meta: dict, rgb: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The mask in the aligned JPEG's own pixels, and where it came from (None: use landmarks)."""
    size = (rgb.shape[1], rgb.shape[0])
    if meta.get("xseg_mask") is not None:
        return _decode_mask(path, meta["xseg_mask"], size), "xseg_mask"
    drawn = _polygons(path, meta, size)
    return (drawn, "polygons") if drawn is not None else (None, "landmarks")


def import_dfl(folder: str | Path, identity: str, data: str | Path, size: int = ExtractOptions.size) -> ExtractSummary:
    """Every DFL aligned JPEG in `folder` re-aligned to our template, with its mask and a sidecar."""
    check_identity(identity)
    folder = Path(folder)
    if not folder.is_dir():
        raise CombtfError(f"{folder}: not a folder of DeepFaceLab aligned faces")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        raise CombtfError(f"{folder}: no .jpg files (DeepFaceLab writes aligned faces as JPEG)")
    out, summary = Path(data) / identity, ExtractSummary()
    for path in files:
        summary.files += 1
        summary.frames += 1
        try:
            meta = load_metadata(path)
            landmarks = _landmarks(path, meta)
            rgb, _ = read_image(path)
            mask, mask_from = _mask(path, meta, rgb)
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
            continue
        matrix = crop_affine(landmarks, size)
        crop_points = apply(matrix, landmarks)
        crop_mask = face_mask(crop_points, (size, size)) if mask is None else warp(mask, matrix, (size, size))
        match = re.search(r"(\d+)_(\d+)$", path.stem)
        sidecar = {
            "source_file": str(path),
            "frame": int(match.group(1)) if match else 0,
            "face": int(match.group(2)) if match else 0,
            "landmarks": points(landmarks),
            "crop_landmarks": points(crop_points),
            "affine": matrix.tolist(),
            "mask_from": mask_from,
            "dfl": {key: _jsonable(meta.get(key)) for key in ("face_type", "source_filename", "source_rect", "image_to_face_mat")},
        }
        summary.crops.append(write_crop(out, safe_name(path.stem), warp(rgb, matrix, (size, size)), crop_mask, sidecar))
        summary.faces += 1
    return summary


def _jsonable(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (bytes, bytearray)):
        return None
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value.item() if isinstance(value, np.generic) else value
