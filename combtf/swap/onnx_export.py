"""ONNX and DFM exports: the same swap graph as the SavedModels (`export_graph.py`), converted by tf2onnx.

    exported_models/<run>/onnx/<identity>.onnx   images float32 [n, H, W, 3] RGB in [0, 1] in combtf's crop,
                                                 target int64 [n] -> swapped float32 [n, H, W, 3]
    exported_models/<run>/dfm/<identity>.dfm     DeepFaceLab's contract as DeepFaceLive and FaceFusion read it:
                                                 in_face:0 float32 [n, R, R, 3] BGR in [0, 1], a whole-face crop
                                                 -> out_face_mask:0, out_celeb_face:0, out_celeb_face_mask:0

`target` indexes model.json's onnx targets: the run's identities, then "*" (a face from outside the
run: statistics pooled over every identity but the source); -1 skips latent matching. Opset 13:
DeepFaceLab's own DFMs use 12-13, DeepFaceLive's onnxruntime 1.15 reads up to 19, integer indices need
no string ops (string comparison only came at opset 20), and every op here (Gather for the fixed
resample, Conv, ReduceMean with axes as an attribute) exists there.

A DFM's input is FaceFusion's 'dfl_whole_face' crop (`faces/whole_face.py`), which FaceFusion cuts for
every DFM without a setting; inside the graph a fixed bilinear resample (`resample.py`) takes it to
combtf's template, and the swap goes back the same way. The comb has no learned mask: both masks are
combtf's template face mask in the whole-face crop, the mask the training loss sees on a mean face.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import tensorflow as tf

import combtf
from combtf.config import UNKNOWN_TARGET as UNKNOWN
from combtf.errors import CombtfError
from combtf.faces.align import invert
from combtf.faces.masks import face_mask
from combtf.faces.template import template
from combtf.faces.whole_face import facefusion_affine
from combtf.io.atomic import write_atomic
from combtf.swap.dfm_check import check_dfm
from combtf.swap.export_graph import NOTE, SwapGraph, swap_graph
from combtf.swap.from_run import TrainedModel
from combtf.swap.resample import Taps, resample, taps

OPSET = 13
ONNX_DIR, DFM_DIR = "onnx", "dfm"
DFM_INPUT = "in_face:0"
DFM_OUTPUTS = ("out_face_mask:0", "out_celeb_face:0", "out_celeb_face_mask:0")
EXTRA = "pip install 'combtf[onnx]'"


def converters() -> tuple[ModuleType, ModuleType]:
    """tf2onnx and onnx, or a one-line error that names the extra to install."""
    try:
        import onnx
        import tf2onnx
    except ImportError as exc:
        raise CombtfError(f"ONNX and DFM exports need combtf's onnx extra ({exc.name} is missing): {EXTRA}") from exc
    return tf2onnx, onnx


@dataclass(frozen=True)
class DfmLayout:
    """How a DFM's whole-face input relates to combtf's crop of `size` px."""

    size: int  # combtf's crop
    input_size: int  # the DFM's in_face (R x R)
    to_crop: Taps  # whole-face crop -> combtf's crop
    to_input: Taps  # combtf's crop -> whole-face crop
    mask: np.ndarray  # float32 [R, R, 1]: the template face mask in the whole-face crop


def dfm_layout(size: int) -> DfmLayout:
    """The whole-face crop as large as combtf's (its face then spans about the same pixels)."""
    whole = facefusion_affine(template(size), size)  # combtf crop pixels -> whole-face crop pixels
    to_crop, to_input = taps(invert(whole), (size, size), (size, size)), taps(whole, (size, size), (size, size))
    crop_mask = (face_mask(template(size), (size, size)).astype(np.float32) / 255.0)[None, ..., None]
    mask = np.clip(resample(tf.constant(crop_mask), to_input).numpy()[0] * to_input.inside, 0.0, 1.0)  # float32 weights sum to 1 +- ulp
    return DfmLayout(size, size, to_crop, to_input, mask)


def export_onnx(trained: TrainedModel, folder: Path, identities: list[str]) -> dict[str, Path]:
    """One .onnx per identity under folder/onnx/ (an existing file is replaced whole, never half-written)."""
    tf2onnx, onnx = converters()
    written = {}
    for name in identities:
        graph = swap_graph(trained, name)
        proto = _convert(tf2onnx, _onnx_function(graph), {"images": "images", "target": "target"}, ["swapped"])
        written[name] = _write(onnx, proto, folder / ONNX_DIR / f"{name}.onnx", trained, name, "onnx")
    return written


def export_dfm(trained: TrainedModel, folder: Path, identities: list[str], layout: DfmLayout, target: str = UNKNOWN) -> dict[str, Path]:
    """One .dfm per identity under folder/dfm/, matching codes from `target`'s statistics (UNKNOWN: pooled;
    `export.export` has checked that the run knows the target)."""
    tf2onnx, onnx = converters()
    written = {}
    for name in identities:
        graph = swap_graph(trained, name)
        function = dfm_function(graph, layout, graph.targets.index(target))
        proto = _convert(tf2onnx, function, {"in_face": DFM_INPUT}, list(DFM_OUTPUTS))
        path = _write(onnx, proto, folder / DFM_DIR / f"{name}.dfm", trained, name, "dfm")
        try:
            check_dfm(path)  # verified, not assumed: DeepFaceLive's and FaceFusion's rules
        except CombtfError:
            path.unlink()
            raise
        written[name] = path
    return written


def _onnx_function(graph: SwapGraph) -> tf.types.experimental.GenericFunction:
    size = graph.size

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images"),
                                  tf.TensorSpec([None], tf.int64, name="target")])
    def swap(images: tf.Tensor, target: tf.Tensor) -> list[tf.Tensor]:
        return [graph.swap(images, tf.maximum(target, 0), target < 0).faces]

    return swap


def dfm_function(graph: SwapGraph, layout: DfmLayout, row: int) -> tf.types.experimental.GenericFunction:
    """in_face [n, R, R, 3] BGR -> (face mask, swapped face BGR, swapped face mask), as DeepFaceLab's DFMs."""
    r = layout.input_size

    @tf.function(input_signature=[tf.TensorSpec([None, r, r, 3], tf.float32, name="in_face")])
    def dfm(in_face: tf.Tensor) -> list[tf.Tensor]:
        n = tf.shape(in_face)[0]
        inside, mask = tf.constant(layout.to_input.inside), tf.constant(layout.mask)  # made here: see SwapGraph.mean
        crop = resample(tf.gather(in_face, [2, 1, 0], axis=3), layout.to_crop)  # BGR -> RGB, whole face -> combtf's crop
        swapped = graph.swap(crop, tf.fill([n], row), tf.zeros([n], tf.bool)).faces
        face = resample(tf.gather(swapped, [2, 1, 0], axis=3), layout.to_input) * inside + in_face * (1.0 - inside)
        face = tf.clip_by_value(face, 0.0, 1.0)  # neither tool clips floats
        masks = tf.tile(mask[None], [n, 1, 1, 1])
        return [masks, face, masks]

    return dfm


def _convert(tf2onnx: ModuleType, function: Callable, inputs: dict[str, str], outputs: list[str]) -> object:
    proto, _ = tf2onnx.convert.from_function(function, input_signature=function.input_signature, opset=OPSET)
    graph = proto.graph
    stored = {tensor.name for tensor in graph.initializer}
    renames = {value.name: inputs[value.name.split(":")[0]] for value in graph.input if value.name not in stored}
    renames.update({value.name: new for value, new in zip(graph.output, outputs, strict=True)})
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in (*graph.input, *graph.output):
        value.name = renames.get(value.name, value.name)
    return proto


def _write(onnx: ModuleType, proto: object, path: Path, trained: TrainedModel, source: str, kind: str) -> Path:
    proto.producer_name, proto.producer_version = "combtf", combtf.__version__
    proto.doc_string = f"{NOTE} ({trained.run.name}, source {source})"
    onnx.helper.set_model_props(proto, {"synthetic": "true", "description": proto.doc_string, "source_identity": source,
                                        "source_run": trained.run.name, "format": kind, "resolution": str(trained.resolution)})
    onnx.checker.check_model(proto)
    write_atomic(path, proto.SerializeToString())
    return path
