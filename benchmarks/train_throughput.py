"""Training throughput of the comb model: one JSON line per (level, precision, data source).

    .venv/bin/python benchmarks/train_throughput.py --levels 3,4,5 --batch-size 8 --identities 2 --width 1.0

Each configuration runs in its own process (so `peak_rss_mb` is that configuration's), on
synthetic faces rendered at the level's size and fed through the real tf.data pipeline with
every augmentation on ("real"), and again on one constant batch ("constant"): the gap between
the two is the input pipeline's cost.  `fraction_of_peak` divides the achieved FLOP rate by
this machine's rate on the model's heaviest 3x3 convolutions in the same precision, probed in a
burst after every timed step (`ConvPeak`): the median of the step-by-step ratios, with their range.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# (batch, side, in, out): the model's heaviest 3x3 convolutions at 32, 64 and 128 px (encoder, batch 16)
PEAK_SHAPES = ((16, 32, 512, 512), (16, 64, 256, 512), (16, 128, 128, 256))


class ConvPeak:
    """This machine's conv rate, probed in short bursts between training steps.

    One long probe before or after the steps read anywhere from 0.5 to 3 TFLOP/s on a shared host
    (the same conv, the same process, seconds apart): its cores are contended from outside, and even
    a pure Python loop's speed varies 2x.  So the probe runs a burst after every timed step, the
    fraction of peak is the median of step-by-step ratios, and the bursts' spread is reported.
    A burst times `calls` forward convolutions of each shape after a warm-up (oneDNN primitive
    creation, weight reorders) and keeps the best shape's rate."""

    def __init__(self, policy: str, shapes: tuple = PEAK_SHAPES, calls: int = 2) -> None:
        import tensorflow as tf

        dtype = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}[policy]
        self.conv = tf.function(lambda a, b: tf.nn.conv2d(a, b, 1, "SAME"))
        self.cases = []
        for batch, side, cin, cout in shapes:
            x = tf.cast(tf.random.normal([batch, side, side, cin]), dtype)
            w = tf.cast(tf.random.normal([3, 3, cin, cout]), dtype)
            for _ in range(3):
                self.conv(x, w).numpy()
            self.cases.append((x, w, 2 * batch * side * side * cin * cout * 9))
        self.calls = calls
        self.bursts: list[float] = []

    def burst(self) -> float:
        best = 0.0
        for x, w, flop in self.cases:
            start = time.perf_counter()
            for _ in range(self.calls):
                self.conv(x, w).numpy()
            best = max(best, flop * self.calls / (time.perf_counter() - start) / 1e9)
        self.bursts.append(best)
        return best


def conv_peak_gflops(policy: str, bursts: int = 5) -> float:
    """Median of `bursts` ConvPeak bursts: the standalone form (prefer interleaving with the work measured)."""
    import numpy as np

    probe = ConvPeak(policy)
    return float(np.median([probe.burst() for _ in range(bursts)]))


def forward_gflop_per_image(model: object, level: int) -> float:
    """Convolutions of the encoder and one decoder at `level`, per image (the fade-in path adds ~nothing)."""
    import keras

    ident = model.arch.identities[0]
    blocks = [model.from_rgb[level], *model.encoder_blocks[: level + 1], *model.decoder_blocks[ident][: level + 1], model.to_rgb[ident][level]]
    flop = 0
    for block in blocks:
        for layer in block.layers:
            if isinstance(layer, keras.layers.Conv2D):
                _, h, w, c_out = layer.output.shape
                kh, kw, c_in, _ = layer.kernel.shape
                flop += 2 * h * w * kh * kw * c_in * c_out
    return flop / 1e9


def measure(level: int, policy: str, source: str, args: argparse.Namespace) -> dict:
    import numpy as np
    import tensorflow as tf

    from combtf import data, precision
    from combtf.config import TrainConfig
    from combtf.levels import resolution
    from combtf.run import architecture, make_average
    from combtf.synthetic import write_demo_data
    from combtf.train import make_optimizer, make_step

    precision.apply(policy)
    res = resolution(level)
    config = TrainConfig(max_resolution=max(res, 8), width=args.width, batch_size=args.batch_size, l1_weight=1.0,
                         identities=[f"id{i}" for i in range(args.identities)], precision=policy)
    from combtf.model import CombModel

    model = CombModel(architecture(config))
    optimizer = make_optimizer(config, policy)
    optimizer.build(model.trainable_variables)
    average = make_average(model, config)
    step = make_step(model, optimizer, average, level, config, tf.distribute.get_strategy())
    with tempfile.TemporaryDirectory() as tmp:
        write_demo_data(Path(tmp) / "set", identities=args.identities, images=64, eval_images=1, size=max(res, 8))
        faces = data.scan(Path(tmp) / "set" / "train")
        level_data = data.load_level(faces, res)
    names = faces.identities
    total = args.warmup + args.steps
    batches = data.dataset(level_data, names, args.batch_size, 0, 0, total, data.Augment())
    if source == "constant":
        fixed = next(iter(batches))
        batches = [fixed] * total
    alpha = tf.constant(0.5 if level > 0 else 1.0)  # fade-in: the costlier of the two phases
    probe = ConvPeak(policy)
    images = args.batch_size * args.identities
    train_gflop = 3 * forward_gflop_per_image(model, level)
    times, ratios = [], []
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        loss, _ = step(batch, alpha)
        float(loss)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            ratios.append(images * train_gflop / times[-1] / probe.burst())  # the peak of the same moment
    step_s = float(np.median(times))
    img_per_s = images / step_s
    achieved = img_per_s * train_gflop
    peak = float(np.median(probe.bursts))
    return {
        "level": level, "res": res, "batch": args.batch_size, "identities": args.identities, "width": args.width,
        "precision": policy, "data": source, "img_per_s": round(img_per_s, 2), "step_ms_median": round(step_s * 1000, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "train_gflop_per_img": round(train_gflop, 2), "achieved_gflops": round(achieved, 1),
        "peak_gflops": round(peak, 1), "peak_gflops_range": [round(min(probe.bursts), 1), round(max(probe.bursts), 1)],
        "fraction_of_peak": round(float(np.median(ratios)), 3),
        "fraction_of_peak_range": [round(min(ratios), 3), round(max(ratios), 3)],
        "steps_timed": len(times), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="3,4,5")
    parser.add_argument("--batch-size", type=int, default=8, help="per identity")
    parser.add_argument("--identities", type=int, default=2)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--precision", default="mixed_bfloat16,float32", help="comma-separated policies")
    parser.add_argument("--data", default="real,constant", help="real (tf.data pipeline with augmentation) and/or constant")
    parser.add_argument("--steps", type=int, default=8, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (tracing, allocator warm-up)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # level:precision:data, run in this process
    args = parser.parse_args()
    if args.one:
        level, policy, source = args.one.split(":")
        print(json.dumps(measure(int(level), policy, source, args)), flush=True)
        return
    for level in (int(v) for v in args.levels.split(",")):
        for policy in args.precision.split(","):
            for source in args.data.split(","):
                command = [sys.executable, __file__, "--one", f"{level}:{policy}:{source}", *sys.argv[1:]]
                done = subprocess.run(command, capture_output=True, text=True)
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode or not lines:
                    print(json.dumps({"level": level, "precision": policy, "data": source, "error": done.stderr.strip().splitlines()[-1:]}), flush=True)
                else:
                    print(lines[-1], flush=True)


if __name__ == "__main__":
    main()
