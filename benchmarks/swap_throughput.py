"""Swap throughput from an export: one JSON line per (signature, batch size).

    .venv/bin/python benchmarks/swap_throughput.py --resolution 64 --width 1.0 --batch-sizes 1,8,32 [--precision mixed_bfloat16] [--mirror-average]

Builds a comb model of the given size (weights as initialised: speed does not depend on
training), writes it as a run folder, exports one identity with `combtf.export`, then times
the SavedModel's signatures loaded by plain `tf.saved_model.load`, as a serving process would.
"""
from __future__ import annotations

import argparse
import functools
import io
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_run(root: Path, resolution: int, width: float, identities: int, mirror: bool = False) -> Path:
    """A run folder with freshly initialised weights at the final level (speed does not depend on training)."""
    import numpy as np
    import tensorflow as tf

    from combtf.config import TrainConfig, save_config
    from combtf.levels import level_of
    from combtf.model.latent_stats import LatentStats
    from combtf.model.network import CombModel, architecture
    from combtf.training.checkpoints import TrainState, make_checkpoint
    from combtf.training.run_folder import CHECKPOINTS, CONFIG
    from combtf.training.weight_average import make_average

    names = [f"id{i}" for i in range(identities)]
    config = TrainConfig(out=str(root / "run"), max_resolution=resolution, width=width, identities=names, mirror_average=mirror)
    save_config(config, root / "run" / CONFIG)
    model = CombModel(architecture(config))
    level = level_of(resolution, "resolution")
    state = TrainState()
    state.level.assign(level)
    state.alpha.assign(1.0)
    stats = LatentStats(model)
    rng = np.random.default_rng(0)
    stats.measure(model, level, 1.0, {n: rng.integers(0, 256, (8, resolution, resolution, 3), np.uint8) for n in names}, 0)
    checkpoint = make_checkpoint(model, state, make_average(model, config), stats)
    tf.train.CheckpointManager(checkpoint, str(root / "run" / CHECKPOINTS), max_to_keep=1).save()
    return root / "run"


def make_export(root: Path, resolution: int, width: float, identities: int, policy: str, mirror: bool) -> Path:
    from combtf.swap.export import export
    from combtf.swap.from_run import load_trained

    run = make_run(root, resolution, width, identities, mirror)
    return export(load_trained(run, policy), root / "exports", ["id0"]).versions["id0"]


def _output(signature: object, key: str, **inputs: object) -> object:
    return signature(**inputs)[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--identities", type=int, default=2)
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed seconds per batch size")
    parser.add_argument("--precision", default="float32", help="the export's compute precision (float32 or mixed_bfloat16)")
    parser.add_argument("--mirror-average", action="store_true", help="export a run that averages each swap with its mirror image's")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        path = make_export(Path(tmp), args.resolution, args.width, args.identities, args.precision, args.mirror_average)
        loaded = tf.saved_model.load(str(path))
        rng = np.random.default_rng(0)
        for batch in (int(v) for v in args.batch_sizes.split(",")):
            images = tf.constant(rng.random((batch, args.resolution, args.resolution, 3), np.float32))
            png = io.BytesIO()
            Image.fromarray((images.numpy()[0] * 255).astype(np.uint8)).save(png, format="PNG")
            targets, encoded = tf.constant(["id1"] * batch), tf.constant([png.getvalue()] * batch)
            calls = {
                "serving_default": functools.partial(_output, loaded.signatures["serving_default"], "swapped", images=images, target=targets),
                "serving_bytes": functools.partial(_output, loaded.signatures["serving_bytes"], "png_bytes", image_bytes=encoded, target=targets),
            }
            for name, call in calls.items():
                call().numpy()  # warm-up
                times = []
                start = time.perf_counter()
                while time.perf_counter() - start < args.seconds or len(times) < 3:
                    t0 = time.perf_counter()
                    call().numpy()
                    times.append(time.perf_counter() - t0)
                median = float(np.median(times))
                print(json.dumps({
                    "signature": name, "precision": args.precision, "mirror_average": args.mirror_average, "res": args.resolution,
                    "width": args.width, "batch": batch,
                    "crops_per_s": round(batch / median, 1), "call_ms_median": round(median * 1000, 1), "calls": len(times),
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                    "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                }), flush=True)


if __name__ == "__main__":
    main()
