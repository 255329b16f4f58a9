"""Swapped plates and the layers a compositor needs, written beside or inside them.

With `--layers`, besides the blended frame: the face un-blended in plate space as RGBA with
its matte in alpha (premultiplied: a Merge (over) on the plate reproduces `--blend alpha`),
the matte alone, and per face the crop's 2x3 affine (frame px -> crop px), its size and the
68 landmarks as JSON. An EXR carries face and matte as parts `face` (`face.R/G/B/A`) and `matte` (`matte.A`) of the
same file, their data windows around the faces only, and the JSON in a `combtf:faces` header
attribute too; other formats get full-frame files of their own format and depth in `face/` and
`matte/` beside the frame, and every format a `transform/<frame name>.json`, so each layer is a
sequence Nuke reads with one Read node.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from combtf.io.atomic import write_atomic
from combtf.io.plates import Layer, Plate, write_like, write_plate
from combtf.io.provenance import note, plate_attributes
from combtf.swap.replace import Replaced


def _transform(replaced: Replaced, model_note: str, info: dict) -> dict:
    return {"synthetic": True, "note": note(model_note), **info, "affine": "frame px -> crop px", "faces": replaced.faces}


def write_plate_frame(folder: Path, plate: Plate, replaced: Replaced, model_note: str, frame: int, layers: bool) -> Path:
    """The swapped plate under its own name in `folder` (and its layers); returns the plate's path."""
    dest = folder / plate.path.name
    attributes = plate_attributes(model_note, dest.suffix)
    pixels = plate.with_rgb(replaced.plate, replaced.touched)
    info = {"source_file": str(plate.path), "frame": frame}
    if layers and dest.suffix.lower() == ".exr":
        assert replaced.face is not None
        x0, y0, x1, y1 = _extent(replaced)
        face = replaced.face[y0:y1, x0:x1]
        inside = (Layer("face", ("R", "G", "B", "A"), face, (x0, y0)), Layer("matte", ("A",), face[..., 3:], (x0, y0)))
        attributes["combtf:faces"] = json.dumps(replaced.faces)
        write_plate(dest, plate, pixels, attributes, inside)
        _write_json(dest, _transform(replaced, model_note, info))
        return dest
    write_plate(dest, plate, pixels, attributes)
    if layers:
        write_layers(dest, plate, replaced, model_note, info)
    return dest


def _extent(replaced: Replaced) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 around every face's region; one pixel at the origin for a frame without a face."""
    if not replaced.faces:
        return 0, 0, 1, 1
    boxes = np.array([face["region"] for face in replaced.faces])
    return int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()), int(boxes[:, 3].max())


def write_layers(dest: Path, like: Plate | None, replaced: Replaced, model_note: str, info: dict) -> None:
    """face/<name> (RGBA, premultiplied), matte/<name> (one channel) in like's format and depth (8-bit where `like` is
    None), and transform/<stem>.json."""
    assert replaced.face is not None
    attributes = plate_attributes(model_note, dest.suffix)
    write_like(dest.parent / "face" / dest.name, like, replaced.face, ["R", "G", "B", "A"], attributes)
    write_like(dest.parent / "matte" / dest.name, like, np.ascontiguousarray(replaced.face[..., 3:]), ["Y"], attributes)
    _write_json(dest, _transform(replaced, model_note, info))


def _write_json(dest: Path, document: dict) -> None:
    write_atomic(dest.parent / "transform" / f"{dest.stem}.json", (json.dumps(document, indent=1) + "\n").encode())
