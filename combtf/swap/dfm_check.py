"""Would DeepFaceLive and FaceFusion load this DFM? Their loaders' rules, applied to any .dfm file.

From iperov/DeepFaceLive modelhub/DFLive/DFMModel.py: one or two inputs, the first `in_face:0` (the
feed key is that literal) NHWC with height and width fixed in the file (read from its shape), an
optional second `morph_value:0` of shape [1]; three outputs unpacked by position (face mask, swapped
face, swapped face mask), NHWC images; onnxruntime 1.15.1, so opset <= 19 and IR version <= 9. From
facefusion/facefusion deep_swapper: the same names compared exactly, and each mask reshaped to the
input's height x width, so masks have one channel. Floats are not clipped by either: outputs must
stay in [0, 1]. The file is untrusted: size-capped, parsed, never given external data paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from combtf.errors import CombtfError

MAX_BYTES = 2 * 1024**3
MAX_OPSET, MAX_IR = 19, 9
INPUT, MORPH = "in_face:0", "morph_value:0"
OUTPUTS = (("out_face_mask:0", 1), ("out_celeb_face:0", 3), ("out_celeb_face_mask:0", 1))


@dataclass(frozen=True)
class DfmFacts:
    height: int
    width: int
    opset: int
    morph: bool


def check_dfm(path: Path) -> DfmFacts:
    """The facts DeepFaceLive reads from the file, or a one-line CombtfError listing every rule it breaks."""
    import onnx

    try:
        if path.stat().st_size > MAX_BYTES:
            raise CombtfError(f"{path}: larger than {MAX_BYTES >> 30} GiB, not a DFM this checker reads")
        data = path.read_bytes()
        model = onnx.load_model_from_string(data)
    except (OSError, ValueError) as exc:
        raise CombtfError(f"{path}: cannot read as ONNX ({exc.__class__.__name__})") from exc
    except Exception as exc:  # protobuf's DecodeError has no stable import path across versions
        raise CombtfError(f"{path}: not an ONNX model ({exc.__class__.__name__})") from exc
    problems: list[str] = []
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if not 1 <= opset <= MAX_OPSET:
        problems.append(f"opset {opset} (DeepFaceLive's onnxruntime 1.15 reads 1-{MAX_OPSET})")
    if model.ir_version > MAX_IR:
        problems.append(f"IR version {model.ir_version} (at most {MAX_IR})")
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        problems.append("weights in external files (a DFM is one file)")
    stored = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in stored]
    height = width = 0
    if not inputs or inputs[0].name != INPUT:
        problems.append(f"first input must be named {INPUT}")
    else:
        dims = _dims(inputs[0])
        if _elem(inputs[0]) != onnx.TensorProto.FLOAT or len(dims) != 4 or dims[3] != 3:
            problems.append(f"{INPUT} must be float32 [n, H, W, 3] (NHWC)")
        elif not (isinstance(dims[1], int) and isinstance(dims[2], int) and dims[1] > 0 and dims[2] > 0):
            problems.append(f"{INPUT} height and width must be fixed in the file (DeepFaceLive reads them from its shape)")
        elif isinstance(dims[0], int) and dims[0] > 0:
            problems.append(f"{INPUT} batch must be dynamic")
        else:
            height, width = dims[1], dims[2]
    morph = len(inputs) == 2
    if len(inputs) > 2 or (morph and (inputs[1].name != MORPH or _dims(inputs[1]) != [1])):
        problems.append(f"besides {INPUT} only {MORPH} float32 [1] may be an input")
    outputs = list(model.graph.output)
    if [o.name for o in outputs] != [name for name, _ in OUTPUTS]:
        problems.append(f"outputs must be exactly, in order: {', '.join(name for name, _ in OUTPUTS)}")
    for value, (name, channels) in zip(outputs, OUTPUTS):
        dims = _dims(value)
        if _elem(value) != onnx.TensorProto.FLOAT or len(dims) != 4 or dims[3] != channels:
            problems.append(f"{name} must be float32 [n, H, W, {channels}]")
        elif height and any(isinstance(d, int) and d != want for d, want in zip(dims[1:3], (height, width))):
            problems.append(f"{name} must be {height}x{width} like {INPUT}")
    if not problems:
        problems += _run(data, height, width, morph)
    if problems:
        raise CombtfError(f"{path}: not a DFM DeepFaceLive and FaceFusion load: {'; '.join(problems)}")
    return DfmFacts(height, width, opset, morph)


def _run(data: bytes, height: int, width: int, morph: bool) -> list[str]:
    """Run it as DeepFaceLive does: a batch of BGR crops in [0, 1]."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        feed = {INPUT: np.random.default_rng(0).random((2, height, width, 3), np.float32)}
        if morph:
            feed[MORPH] = np.float32([0.75])
        results = session.run(None, feed)
    except Exception as exc:  # onnxruntime raises its own exception types for any bad graph
        return [f"onnxruntime cannot run it ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]})"]
    problems = []
    for array, (name, channels) in zip(results, OUTPUTS):
        if array.shape != (2, height, width, channels):
            problems.append(f"{name} came out {list(array.shape)}, not [2, {height}, {width}, {channels}]")
        elif not (np.isfinite(array).all() and array.min() >= 0.0 and array.max() <= 1.0):
            problems.append(f"{name} leaves [0, 1] (neither tool clips floats)")
    return problems


def _dims(value: object) -> list[int | str]:
    shape = value.type.tensor_type.shape
    return [d.dim_value if d.HasField("dim_value") else d.dim_param or "?" for d in shape.dim]


def _elem(value: object) -> int:
    return value.type.tensor_type.elem_type
