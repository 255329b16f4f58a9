"""Training throughput of the comb model: one JSON line per (level, precision, data source).

    .venv/bin/python benchmarks/train_throughput.py --levels 3,4,5 --batch-size 8 --identities 2 --width 1.0

Each level runs in its own process, on synthetic faces rendered at the level's size, fed through
the real tf.data pipeline with every augmentation on ("real") and as one constant batch
("constant"): the gap between the two is the input pipeline's cost.  Within a level every
(precision, data) pair is timed step by step in turn, in one process: this host's speed drifts
by 2x within minutes, so pairs timed one after the other would compare moments.  `peak_rss_mb`
is that process's (`rss_covers` says what it held: run one precision and `--data real` for one
configuration's own).  `fraction_of_peak` divides the achieved FLOP rate by this machine's rate
on the model's heaviest 3x3 convolutions in the same precision, probed in a burst after every
timed step (`ConvPeak`): the median of the step-by-step ratios, with their range.
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

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


class Rig:
    """One precision's model, optimizer, step and conv probe, fed real and constant batches."""

    def __init__(self, level: int, policy: str, args: argparse.Namespace, level_data: object, names: list[str]) -> None:
        import tensorflow as tf

        from combtf.config import TrainConfig
        from combtf.data.augment import Augment
        from combtf.data.pipeline import dataset
        from combtf.levels import resolution
        from combtf.model import precision
        from combtf.model.network import CombModel, architecture
        from combtf.training.step import make_optimizer, make_step
        from combtf.training.weight_average import make_average

        precision.apply(policy)  # layers take the global policy when they are built
        config = TrainConfig(max_resolution=max(resolution(level), 8), width=args.width, batch_size=args.batch_size,
                             l1_weight=1.0, identities=list(names), precision=policy)
        self.policy, self.model = policy, CombModel(architecture(config))
        optimizer = make_optimizer(config, policy)
        optimizer.build(self.model.trainable_variables)
        self.step = make_step(self.model, optimizer, make_average(self.model, config), level, config, tf.distribute.get_strategy())
        batches = dataset(level_data, names, args.batch_size, 0, 0, args.warmup + args.steps, Augment())
        self.real = iter(batches)
        self.constant = next(iter(batches))
        self.probe = ConvPeak(policy)
        self.times: dict[str, list[float]] = {"real": [], "constant": []}
        self.ratios: dict[str, list[float]] = {"real": [], "constant": []}
        self.bursts: dict[str, list[float]] = {"real": [], "constant": []}

    def run(self, source: str, alpha: tf.Tensor, timed: bool, gflop: float) -> None:
        import tensorflow as tf

        from combtf.model import precision

        precision.apply(self.policy)  # the first call traces the step under this rig's policy
        batch = next(self.real) if source == "real" else self.constant
        start = time.perf_counter()
        loss, _ = self.step(batch, alpha, tf.constant(0, tf.int64))
        float(loss)
        if timed:
            seconds = time.perf_counter() - start
            peak = self.probe.burst()  # the peak of the same moment
            self.times[source].append(seconds)
            self.bursts[source].append(peak)
            self.ratios[source].append(gflop / seconds / peak)


def measure(level: int, policies: list[str], sources: list[str], args: argparse.Namespace) -> list[dict]:
    """Every (precision, data) pair of one level, interleaved step by step in one process.

    This host's speed drifts by 2x within minutes, so configurations timed one after the other
    compare moments, not configurations; interleaved, each sees the same moments."""
    import numpy as np
    import tensorflow as tf

    from combtf.data.faceset import load_level, scan
    from combtf.data.synthetic import write_demo_data
    from combtf.levels import resolution
    from combtf.model.cost import train_gflop_per_image

    res = resolution(level)
    with tempfile.TemporaryDirectory() as tmp:
        write_demo_data(Path(tmp) / "set", identities=args.identities, images=64, eval_images=1, size=max(res, 8))
        faces = scan(Path(tmp) / "set" / "train")
        level_data = load_level(faces, res)
    rigs = [Rig(level, policy, args, level_data, faces.identities) for policy in policies]
    alpha = tf.constant(0.5 if level > 0 else 1.0)  # fade-in: the costlier of the two phases
    images = args.batch_size * args.identities
    gflop = images * train_gflop_per_image(rigs[0].model, level)
    order = [(rig, source) for rig in rigs for source in sources]
    for i in range(args.warmup + args.steps):
        for rig, source in order if i % 2 else order[::-1]:  # alternate, so no configuration always goes first
            rig.run(source, alpha, i >= args.warmup, gflop)
    rss = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    rows = []
    for rig, source in order:
        step_s = float(np.median(rig.times[source]))
        bursts, ratios = rig.bursts[source], rig.ratios[source]
        rows.append({
            "level": level, "res": res, "batch": args.batch_size, "identities": args.identities, "width": args.width,
            "precision": rig.policy, "data": source, "img_per_s": round(images / step_s, 2),
            "step_ms_median": round(step_s * 1000, 1), "peak_rss_mb": rss, "rss_covers": [f"{r.policy}/{s}" for r, s in order],
            "train_gflop_per_img": round(gflop / images, 2), "achieved_gflops": round(gflop / step_s, 1),
            "peak_gflops": round(float(np.median(bursts)), 1), "peak_gflops_range": [round(min(bursts), 1), round(max(bursts), 1)],
            "fraction_of_peak": round(float(np.median(ratios)), 3),
            "fraction_of_peak_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "steps_timed": len(rig.times[source]), "cpus": os.cpu_count(), "tensorflow": tf.__version__,
        })
    return rows


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
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # a level, run in this process
    args = parser.parse_args()
    policies, sources = args.precision.split(","), args.data.split(",")
    if args.one is not None:
        for row in measure(int(args.one), policies, sources, args):
            print(json.dumps(row), flush=True)
        return
    for level in (int(v) for v in args.levels.split(",")):
        command = [sys.executable, __file__, "--one", str(level), *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        for line in lines:
            print(line, flush=True)
        if done.returncode or not lines:
            print(json.dumps({"level": level, "precision": policies, "data": sources, "error": done.stderr.strip().splitlines()[-1:]}), flush=True)


if __name__ == "__main__":
    main()
