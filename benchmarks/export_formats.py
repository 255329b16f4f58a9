"""Every export format of one identity, side by side: size, agreement with the SavedModel, crops/s.

    .venv/bin/python benchmarks/export_formats.py --model runs/demo-X [--source ada] [--batch-sizes 1,8]
    .venv/bin/python benchmarks/export_formats.py --resolution 64 --width 1.0      # untrained weights, for speed alone

Exports SavedModel, ONNX and DFM into a temporary folder (`combtf.swap.export`), then prints one
JSON line per format with its size and its largest difference from the SavedModel on the same
crops (ONNX: for a named target, "*" and no matching; DFM: the whole-face crop resampled to
combtf's, swapped by the SavedModel with "*", and back), then one per (format, batch) with
crops/s: SavedModel through plain TensorFlow, ONNX and DFM through onnxruntime on the CPU.
Crops are the run's own training crops where it has them, else noise (speed does not care).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 2)


def timed(call: object, seconds: float) -> float:
    """Median seconds per call after one warm-up."""
    import numpy as np

    call()
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def crops_of(trained: object, count: int) -> object:
    import numpy as np

    from combtf.data.faceset import load_crops
    from combtf.io.images import list_images

    data = Path(trained.config.data or "")
    paths = [p for name in trained.config.identities if (data / name).is_dir() for p in list_images(data / name)[:count]]
    if paths:
        return load_crops(paths[:count], trained.resolution)[0].astype(np.float32) / 255
    return np.random.default_rng(0).random((count, trained.resolution, trained.resolution, 3), np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a run folder (default: fresh weights at --resolution/--width)")
    parser.add_argument("--source", default=None, help="the identity exported (default: the run's first)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per format and batch size")
    args = parser.parse_args()

    import numpy as np
    import onnxruntime as ort
    import tensorflow as tf

    from combtf.config import UNKNOWN_TARGET
    from combtf.swap.export import export
    from combtf.swap.from_run import load_trained
    from combtf.swap.onnx_export import DFM_INPUT, dfm_layout
    from combtf.swap.resample import resample

    with tempfile.TemporaryDirectory() as tmp:
        if args.model is None:
            from benchmarks.swap_throughput import make_run

            run = make_run(Path(tmp), args.resolution, args.width, 2)
        else:
            run = args.model
        trained = load_trained(run)
        names = list(trained.config.identities)
        source = args.source or names[0]
        other = next(n for n in names if n != source)
        result = export(trained, Path(tmp) / "exports", [source], formats=("savedmodel", "onnx", "dfm"))
        saved = tf.saved_model.load(str(result.versions[source])).signatures["serving_default"]
        onnx_run = ort.InferenceSession(str(result.onnx[source]), providers=["CPUExecutionProvider"])
        dfm_run = ort.InferenceSession(str(result.dfm[source]), providers=["CPUExecutionProvider"])
        x = crops_of(trained, 16)
        n, size = len(x), trained.resolution
        common = {"run": str(run), "source": source, "resolution": size, "width": trained.config.width,
                  "mirror_average": trained.config.mirror_average, "latent_match": trained.config.latent_match, "crops": n}

        def saved_swap(images: object, target: str) -> object:
            return saved(images=tf.constant(images), target=tf.constant([target] * len(images)))["swapped"].numpy()

        differences = {}
        for target, index in ((other, names.index(other)), (UNKNOWN_TARGET, len(names)), ("", -1)):
            got = onnx_run.run(None, {"images": x, "target": np.full(n, index, np.int64)})[0]
            differences[target or "none"] = float(np.abs(got - saved_swap(x, target)).max())
        layout = dfm_layout(size)
        bgr = np.ascontiguousarray(resample(tf.constant(x), layout.to_input).numpy()[..., ::-1])  # crops as whole-face inputs
        face = dfm_run.run(None, {DFM_INPUT: bgr})[1]
        swapped = saved_swap(resample(tf.constant(bgr[..., ::-1].copy()), layout.to_crop).numpy(), UNKNOWN_TARGET)
        want = resample(tf.constant(swapped), layout.to_input).numpy()[..., ::-1] * layout.to_input.inside
        want += bgr * (1 - layout.to_input.inside)
        rows = [("savedmodel", result.versions[source], {}), ("onnx", result.onnx[source], {"max_abs_diff": differences}),
                ("dfm", result.dfm[source], {"max_abs_diff": float(np.abs(face - want).max()), "input_size": layout.input_size})]
        for fmt, path, extra in rows:
            print(json.dumps({"format": fmt, "mb": size_mb(path), **extra, **common}), flush=True)
        for batch in (int(v) for v in args.batch_sizes.split(",")):
            images = np.resize(x, (batch, size, size, 3)).astype(np.float32)
            whole = np.resize(bgr, (batch, size, size, 3)).astype(np.float32)
            rows = np.full(batch, names.index(other), np.int64)
            calls = {
                "savedmodel": lambda images=images: saved_swap(images, other),
                "onnx": lambda images=images, rows=rows: onnx_run.run(None, {"images": images, "target": rows}),
                "dfm": lambda whole=whole: dfm_run.run(None, {DFM_INPUT: whole}),
            }
            for fmt, call in calls.items():
                median = timed(call, args.seconds)
                print(json.dumps({"format": fmt, "batch": batch, "crops_per_s": round(batch / median, 1),
                                  "call_ms_median": round(median * 1000, 2), **common, "cpus": os.cpu_count(),
                                  "onnxruntime": ort.__version__, "tensorflow": tf.__version__}), flush=True)


if __name__ == "__main__":
    main()
