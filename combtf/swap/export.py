"""SavedModel export: one model per source identity, in TF Serving's layout.

    exported_models/<run>/model.json                  what was exported, from which run (read by `combtf swap`)
    exported_models/<run>/config.yaml                 the run's resolved config
    exported_models/<run>/models.config               TF Serving model_config_list, every identity exported here
    exported_models/<run>/<identity>/<version>/       saved_model.pb + variables/ (TF Serving's layout)

A SavedModel holds the shared encoder and one identity's decoder at the final level, plus
the latent statistics that latent matching needs (a few floats per identity); no other
decoder, no optimizer state.  It runs on plain TensorFlow: a studio pipeline or TF Serving
loads it without combtf.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras
import tensorflow as tf

import combtf
from combtf.config import EXPORT_FORMATS as FORMATS
from combtf.config import UNKNOWN_TARGET as UNKNOWN
from combtf.errors import CombtfError
from combtf.io.atomic import current_umask, write_atomic
from combtf.io.provenance import png_text_chunk
from combtf.swap.export_graph import NOTE, swap_graph
from combtf.swap.from_run import TrainedModel
from combtf.swap.onnx_export import DFM_INPUT, DFM_OUTPUTS, OPSET, DfmLayout, converters, dfm_layout, export_dfm, export_onnx
from combtf.training.run_folder import CONFIG

MODEL_JSON = "model.json"
SERVING_CONFIG = "models.config"


@dataclass
class ExportResult:
    folder: Path
    versions: dict[str, Path]  # SavedModels
    onnx: dict[str, Path] = field(default_factory=dict)
    dfm: dict[str, Path] = field(default_factory=dict)


def export(trained: TrainedModel, out: Path, identities: list[str] | None = None, version: int | None = None,
           formats: tuple[str, ...] = FORMATS[:1], dfm_target: str = UNKNOWN) -> ExportResult:
    """Export every chosen identity's swap model under `out/<run name>/`: SavedModels as a new numbered
    version, ONNX and DFM files (`onnx_export.py`) beside them."""
    chosen = identities or list(trained.config.identities)
    for name in chosen:
        trained.check_identity(name, "identities")
    if "dfm" in formats and dfm_target != UNKNOWN:
        trained.check_identity(dfm_target, "target")
    if {"onnx", "dfm"} & set(formats):
        converters()  # before anything is written
    folder = out / trained.run.resolve().name
    result = ExportResult(folder, {})
    if "savedmodel" in formats:
        for name in chosen:
            number = _next_version(folder / name, version)
            result.versions[name] = _write_saved_model(trained, name, folder / name / str(number))
    if "onnx" in formats:
        result.onnx = export_onnx(trained, folder, chosen)
    layout = dfm_layout(trained.resolution) if "dfm" in formats else None
    if layout is not None:
        result.dfm = export_dfm(trained, folder, chosen, layout, dfm_target)
    _write_metadata(trained, folder, result, dfm_target, layout)
    return result


def versions(identity_dir: Path) -> list[int]:
    """The numbered version folders TF Serving would see, oldest first."""
    if not identity_dir.is_dir():
        return []
    return sorted(int(p.name) for p in identity_dir.iterdir() if p.is_dir() and p.name.isdigit())


def _earlier_files(folder: Path) -> dict:
    """ONNX and DFM files an earlier export of this folder listed (and that are still there)."""
    try:
        meta = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
        earlier = {kind: {str(n): str(f) for n, f in meta[kind]["files"].items() if (folder / str(f)).is_file()}
                   for kind in ("onnx", "dfm") if kind in meta}
        if "dfm" in meta:
            earlier["dfm_input_size"], earlier["dfm_target"] = int(meta["dfm"]["input_size"]), str(meta["dfm"]["target"])
        return earlier
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # nothing earlier, or nothing readable: this export describes only itself


def _next_version(identity_dir: Path, wanted: int | None) -> int:
    existing = versions(identity_dir)
    if wanted is None:
        return max(existing, default=0) + 1
    if wanted < 1:
        raise CombtfError(f"--version must be >= 1, got {wanted}")
    if wanted in existing:
        raise CombtfError(f"{identity_dir / str(wanted)}: version {wanted} exists; exports never overwrite one (omit --version for the next)")
    return wanted


def _write_saved_model(trained: TrainedModel, source: str, dest: Path) -> Path:
    """Write to a hidden temporary folder (TF Serving ignores non-numeric names), then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        _archive(trained, source).write_out(str(tmp), verbose=False)
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; a serving container may run as another user
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _archive(trained: TrainedModel, source: str) -> keras.export.ExportArchive:
    graph = swap_graph(trained, source)
    size, known = graph.size, graph.targets
    names = tf.constant(known)
    png_chunk = png_text_chunk(b"Synthetic", b"true") + png_text_chunk(b"Description", f"{NOTE} ({trained.run.name}, source {source})".encode())

    def swap(images: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        """images [n, size, size, 3] in [0, 1]; target [n] identity names ("" = no latent matching, "*" = a face from outside the run)."""
        hits = tf.equal(target[:, None], names[None, :])
        plain = tf.equal(target, "")
        checks = [
            tf.debugging.assert_equal(tf.shape(images)[1:], tf.constant([size, size, 3]),
                                      message=f"images must be float32 [n, {size}, {size}, 3] (RGB in [0, 1])"),
            tf.debugging.assert_equal(tf.shape(target)[0], tf.shape(images)[0], message="give one target per image"),
            tf.debugging.assert_equal(tf.reduce_all(tf.reduce_any(hits, 1) | plain), True,
                                      message=f"target must name an identity of this model ({', '.join(known[:-1])}), be "
                                              f"'{known[-1]}' for a face from outside the run, or be empty"),
        ]
        with tf.control_dependencies(checks):  # before any convolution can fail with a less helpful message
            images = tf.identity(images)
        swapped = graph.swap(images, tf.argmax(tf.cast(hits, tf.int32), axis=1), plain)
        return {"swapped": swapped.faces, "latent": swapped.codes}

    def swap_bytes(image_bytes: tf.Tensor, target: tf.Tensor) -> dict[str, tf.Tensor]:
        """Encoded PNG/JPEG crops of any size -> PNG bytes that say they are synthetic."""
        def decode(data: tf.Tensor) -> tf.Tensor:
            image = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.float32)
            return tf.image.resize(image, (size, size), antialias=True)

        images = tf.map_fn(decode, image_bytes, fn_output_signature=tf.TensorSpec((size, size, 3), tf.float32))
        swapped = swap(images, target)["swapped"]
        pixels = tf.cast(tf.round(tf.clip_by_value(swapped, 0.0, 1.0) * 255.0), tf.uint8)
        png = tf.map_fn(tf.io.encode_png, pixels, fn_output_signature=tf.string)
        # a PNG starts with an 8-byte signature and the 25-byte IHDR chunk; text chunks may follow it
        return {"png_bytes": tf.strings.substr(png, 0, 33) + png_chunk + tf.strings.substr(png, 33, -1)}

    archive = keras.export.ExportArchive()
    archive.track(graph.encoder)
    archive.track(graph.decoder)
    archive.add_endpoint("serving_default", swap, input_signature=[
        tf.TensorSpec([None, size, size, 3], tf.float32, name="images"),
        tf.TensorSpec([None], tf.string, name="target"),
    ])
    archive.add_endpoint("serving_bytes", swap_bytes, input_signature=[
        tf.TensorSpec([None], tf.string, name="image_bytes"),
        tf.TensorSpec([None], tf.string, name="target"),
    ])
    return archive


def _write_metadata(trained: TrainedModel, folder: Path, result: ExportResult, dfm_target: str, layout: DfmLayout | None) -> None:
    numbered = {p.name: numbers for p in sorted(folder.iterdir()) if (numbers := versions(p))}
    exported = list(numbered)
    earlier = _earlier_files(folder)
    onnx_files = {**earlier.get("onnx", {}), **{n: str(p.relative_to(folder)) for n, p in result.onnx.items()}}
    dfm_files = {**earlier.get("dfm", {}), **{n: str(p.relative_to(folder)) for n, p in result.dfm.items()}}
    meta = {
        "format": "combtf-export-1",
        "identities": exported,
        "run_identities": list(trained.config.identities),
        "versions": numbered,
        "resolution": trained.resolution,
        "latent_size": trained.model.arch.latent_size,
        "latent_dim": trained.model.arch.latent_dim,
        "latent_matching": trained.can_match,
        "latent_match": trained.config.latent_match if trained.can_match else 0.0,
        "compute_precision": trained.policy,  # inputs and outputs are float32 either way
        "source_run": str(trained.run.resolve()),
        "checkpoint": trained.checkpoint,
        "config": trained.config.to_dict(),
        "combtf_version": combtf.__version__,
        "tensorflow_version": tf.__version__,
        "signatures": {
            "serving_default": "images float32 [n, H, W, 3] in [0, 1], target string [n] (\"\": no matching, \"*\": a face from "
                               "outside the run) -> swapped float32 [n, H, W, 3], latent",
            "serving_bytes": "image_bytes string [n] (PNG/JPEG), target string [n] -> png_bytes string [n]",
        },
        "synthetic": NOTE,
    }
    if onnx_files:
        meta["onnx"] = {"files": onnx_files, "opset": OPSET, "targets": [*trained.config.identities, UNKNOWN],
                        "inputs": "images float32 [n, H, W, 3] RGB in [0, 1] (combtf's crop), target int64 [n]: an index "
                                  "into targets (the last: a face from outside the run), -1: no latent matching",
                        "outputs": "swapped float32 [n, H, W, 3] RGB in [0, 1]"}
    if dfm_files:
        size = layout.input_size if result.dfm else earlier["dfm_input_size"]
        meta["dfm"] = {"files": dfm_files, "opset": OPSET, "input_size": size,
                       "target": dfm_target if result.dfm else earlier["dfm_target"],
                       "inputs": f"{DFM_INPUT} float32 [n, {size}, {size}, 3] BGR in [0, 1]: FaceFusion's dfl_whole_face crop",
                       "outputs": list(DFM_OUTPUTS), "masks": "combtf's template face mask, both"}
    write_atomic(folder / MODEL_JSON, (json.dumps(meta, indent=2) + "\n").encode())
    write_atomic(folder / CONFIG, (trained.run / CONFIG).read_bytes())
    entries = "".join(
        f'  config {{\n    name: "{name}"\n    base_path: "/models/{folder.name}/{name}"\n    model_platform: "tensorflow"\n  }}\n'
        for name in exported
    )
    write_atomic(folder / SERVING_CONFIG, f"model_config_list {{\n{entries}}}\n".encode())
