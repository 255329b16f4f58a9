"""The method's claims, measured with curves: progressive vs flat, more identities vs two, combtf vs the reference.

    .venv/bin/python benchmarks/claims.py --claim progressive [--resolution 64|128] [--seeds 3] [--data synthetic|real]
    .venv/bin/python benchmarks/claims.py --claim identities --data real --seeds 3
    .venv/bin/python benchmarks/claims.py --claim recipe
    .venv/bin/python benchmarks/claims.py --claim progressive --report      # summary and plot of what is there
    .venv/bin/python benchmarks/claims.py --claim progressive --quick       # a few minutes, tiny, for trying it out

Arms (docs/experiments/claims.md says why each is built so):
- progressive: the shipped config grown 4 px -> --resolution, against the same trained flat at --resolution
  for the same images per identity (`final_images` = the progressive plan's total).
- identities: 2 vs 3 vs 4 identities (real: persons a and d in every run, b then c added; synthetic: the
  first two in every run), the same steps and batch per identity.  The 2- and 3-identity runs train on until
  the 4-identity run's wall time (same seed): read at its step count they are the equal-steps budget, at its
  wall time the equal-time one.  Retrieval chooses among all four people in every run.
- recipe: `configs/reference.yaml` against the shipped config, on the same data; the reference stops at the
  shipped config's wall time (same seed): the same clock.  A third arm runs the reference's choices on the
  shipped config's schedule, which tells its slow fade-in from the rest of its recipe.

Within each seed every arm trains in turn (seed 0: every arm, then seed 1 ...): this host's speed drifts
2x within minutes, so wall-clock comparisons are made between neighbours.  A run checkpoints every quarter
of a level's images; after it has trained (off the clock) every checkpoint is scored on held-out frames at
--resolution (a low level's swaps upscaled: what stopping there would give), without latent matching (a
checkpoint inside a level has no statistics yet; the last point is also scored with it).  Synthetic: the
shared pair's swaps against truth (`combtf.analysis.ground_truth`); real: `combtf.analysis.judge` on
held-back crops (every 5th), at the checkpoints of the last level (landmarks of a 16 px face mean nothing); a
run whose clock stopped it below that level has one point, its last, unjudged (quality null).
Wall seconds, loss and each identity's training score come from the run's TensorBoard log.

One JSON line per evaluation point is appended to --results (default docs/experiments/claims.jsonl; with
--quick, inside --out), so a long study is done in parts: a finished run is not trained again, a cut one
resumes, a scored point is not scored again, and a seed whose every arm is scored to its end needs no run
folders any more.  --report prints one summary line per arm and per comparison
(paired differences per seed, with a bootstrap interval over seeds and frames) and draws the curves.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CLAIMS = ("progressive", "identities", "recipe")
# The fixed quality each arm's curve must reach, chosen on 2026-12-01 before any long run of this benchmark:
# synthetic, the shared pair's swap masked SSIM without latent matching (the demo config ends at 0.92 without it,
# 0.94 with it, on its full budget); real, persons a and d's mean mouth r (docs/judging.md's target is 0.6).
THRESHOLDS = {("synthetic", 64): 0.85, ("synthetic", 128): 0.85, ("synthetic", 16): 0.85, ("real", 64): 0.5, ("real", 128): 0.5}
POINTS_PER_LEVEL = 4  # checkpoints per level's images
QUICK_POINTS_PER_LEVEL = 2
COLLAPSE_DROP = 0.2  # an identity's training score this far below its best in the level...
COLLAPSE_WINDOW = 0.1  # ...and not back within this share of the level: a collapse
SPIKE_FACTOR = 2.0  # a logged loss above this times the median of the 20 before it (same level)
STUCK_MARGIN = 0.05  # a run that ends within this of the mean-face floor draws each identity's mean face
SYNTHETIC_SET = {"set": "synthetic", "version": "flat-v1",  # issue 33's detailed faces are not built: the flat demo faces
                 "identities": 4, "images": 400, "eval_images": 40, "size": 128, "seed": 0}
QUICK_SET = {**SYNTHETIC_SET, "images": 24, "eval_images": 6, "size": 32}
QUICK_RESOLUTION = 16
QUICK = {"width": 0.0625, "images_per_level": 48, "final_images": None}
REAL_PEOPLE = ("person_a", "person_d", "person_b", "person_c")  # a and d move their mouths: in every run


@dataclass
class Arm:
    name: str
    options: dict  # over the base config
    identities: list[str]
    clock_of: str | None = None  # stops at this arm's wall time of the same seed

    def key(self) -> str:
        """The run folder's name: arms of two claims that train the same thing share their runs (the
        progressive claim's "progressive" is the recipe claim's "combtf")."""
        text = json.dumps({"options": self.options, "identities": self.identities, "clock_of": self.clock_of}, sort_keys=True)
        return f"arm-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


@dataclass
class Study:
    claim: str
    data: str
    resolution: int
    quick: bool
    out: Path
    results: Path
    seeds: int
    base: Path
    images_per_level: int | None
    dataset: dict = field(default_factory=dict)
    train_dir: Path | None = None
    eval_dir: Path | None = None
    centres: dict = field(default_factory=dict)  # real: each person's face embedding per model resolution, read once

    @property
    def threshold(self) -> float | None:
        return THRESHOLDS.get((self.data, self.resolution))

    @functools.cached_property
    def level_images(self) -> int:
        """Images per identity per level: two budgets train the same arms, so their folders and points are kept apart
        (read from the config once: every point's filter asks)."""
        return base_config(self).images_per_level

    @property
    def runs(self) -> Path:
        return self.out / f"{self.data}-{self.resolution}px-{self.level_images}-per-level"


# --- data -----------------------------------------------------------------------------------------
def prepare_data(study: Study, work: Path) -> None:
    """The data set, made once and recorded in every line: which set a figure was measured on."""
    if study.data == "real":
        from real_quality import FACES, prepare

        if not (FACES / "photos").is_dir():
            sys.exit(f"error: {FACES}: the real footage is not here (only on the project's machines and CI)")
        study.train_dir, study.eval_dir = prepare(work / "real", 128)
        study.dataset = {"set": "real", "version": "shared/faces photos, every 5th crop held back", "size": 128}
        return
    from combtf.data.synthetic import write_demo_data

    spec = QUICK_SET if study.quick else SYNTHETIC_SET
    folder = work / "claims-{set}-{version}-{identities}x{images}-{size}px".format(**spec)
    if not folder.is_dir():
        write_demo_data(folder, identities=spec["identities"], images=spec["images"], eval_images=spec["eval_images"],
                        size=spec["size"], seed=spec["seed"])
    study.train_dir, study.eval_dir, study.dataset = folder / "train", folder / "eval", dict(spec)


def identities(study: Study) -> list[str]:
    if study.data == "real":
        return list(REAL_PEOPLE)
    return sorted(p.name for p in study.train_dir.iterdir() if p.is_dir())


# --- arms ----------------------------------------------------------------------------------------------
def base_config(study: Study) -> object:
    from combtf.config import load_config

    config = load_config(study.base)
    config.max_resolution = study.resolution
    if study.images_per_level:  # a smaller budget scales the last level's stabilise phase with it
        if config.final_images is not None:
            config.final_images = round(config.final_images * study.images_per_level / config.images_per_level)
        config.images_per_level = study.images_per_level
    if study.quick:
        for name, value in QUICK.items():
            setattr(config, name, value)
    return config


def total_images(config: object) -> int:
    """Images per identity of a config's plan."""
    from combtf.training.schedule import plan

    return sum(p.steps for p in plan(config)) * config.batch_size


def arms(study: Study) -> list[Arm]:
    people = identities(study)
    pair = people[:2]
    base = base_config(study)
    if study.claim == "progressive":
        return [Arm("progressive", {}, pair), Arm("flat", {"progressive": False, "final_images": total_images(base)}, pair)]
    if study.claim == "identities":
        # the smaller combs train on to the 4-identity run's clock, for at most 4x the last phase: a 2-identity comb
        # can finish first (synthetic 64 px: at 0.9 of the clock), which its equal-time reading's wall seconds show
        longer = {"final_images": 4 * (base.final_images or base.images_per_level // 2)}
        return [Arm("4 identities", {}, people[:4]),
                *(Arm(f"{n} identities", longer, people[:n], clock_of="4 identities")
                  for n in (3, 2))]
    reference = {k: v for k, v in _options(ROOT / "configs" / "reference.yaml").items() if k not in ("max_resolution",)}
    if study.quick:
        reference.update(QUICK)
    # the reference's choices on combtf's schedule too: what its optimiser, loss and code cost apart from its slow fade-in
    own_schedule = {k: v for k, v in reference.items() if k not in ("images_per_level", "final_images")}
    return [Arm("combtf", {}, pair), Arm("reference", reference, pair, clock_of="combtf"),
            Arm("reference, combtf's schedule", own_schedule, pair, clock_of="combtf")]


def _options(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def arm_config(study: Study, arm: Arm, seed: int) -> object:
    config = base_config(study)
    for name, value in arm.options.items():
        setattr(config, name, value)
    config.identities, config.seed = list(arm.identities), seed
    config.data, config.out = str(study.train_dir), str(study.runs / arm.key() / f"seed{seed}")
    config.preview_every, config.keep_checkpoints = 0, 1_000_000
    points = QUICK_POINTS_PER_LEVEL if study.quick else POINTS_PER_LEVEL
    config.checkpoint_every = max(1, config.images_per_level // (points * config.batch_size))
    return config.validate()


# --- training ---------------------------------------------------------------------------------------
def train_arm(study: Study, arm: Arm, seed: int, clock: dict[str, float]) -> Path:
    """Train (or resume, or skip: finished) one arm's run; its wall seconds go into `clock`."""
    from combtf.training.loop import train

    config = arm_config(study, arm, seed)
    run = Path(config.out)
    summary = run / "summary.json"
    spent = wall_seconds(run)  # the log read once before training and once after
    done = summary.is_file() and json.loads(summary.read_text()).get("finished")
    limit = None if arm.clock_of is None else clock[arm.clock_of]
    done = done or (limit is not None and summary.is_file() and spent >= limit - 1)
    if not done:
        resume = (run / "checkpoints" / "checkpoint").is_file()
        print(f"training {arm.name}, seed {seed}: {run}", file=sys.stderr, flush=True)
        train(config, resume=resume, show_progress=sys.stderr.isatty(),
              time_limit=None if limit is None else max(1.0, limit - (spent if resume else 0.0)))
        spent = wall_seconds(run)
    clock[arm.name] = spent
    return run


# --- the run's log ------------------------------------------------------------------------------------
def scalars(run: Path) -> dict[str, list[tuple[int, float, float]]]:
    """tag -> [(step, value, wall seconds of training so far)], over every invocation of the run."""
    import numpy as np
    import tensorflow as tf

    series: dict[str, list[tuple[int, float, float]]] = {}
    offset = 0.0
    for path in sorted((run / "logs").glob("events.out.tfevents.*"), key=lambda p: int(p.name.split(".")[3])):
        start = last = None
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            start = event.wall_time if start is None else start
            last = event.wall_time
            for value in event.summary.value:
                number = float(np.asarray(tf.make_ndarray(value.tensor)).reshape(-1)[0]) if value.HasField("tensor") else value.simple_value
                series.setdefault(value.tag, []).append((int(event.step), number, offset + event.wall_time - start))
        if start is not None:
            offset += last - start
    return series


def wall_seconds(run: Path) -> float:
    """Wall seconds of training the run's log holds, over every invocation."""
    logged = scalars(run).get("loss", [])
    return logged[-1][2] if logged else 0.0


def seconds_at(series: list[tuple[int, float, float]], step: int) -> float | None:
    """Wall seconds at `step`, interpolated between logged steps (every 10th; step 0 at 0 s)."""
    import numpy as np

    if not series:
        return None
    steps, seconds = [0] + [p[0] for p in series], [0.0] + [p[2] for p in series]
    return round(float(np.interp(step, steps, seconds)), 1)


def mean_between(series: list[tuple[int, float, float]], after: int, upto: int) -> float | None:
    """Mean of the values logged in (after, upto]: a point's loss or training score over its stretch of training."""
    values = [p[1] for p in series if after < p[0] <= upto] or [p[1] for p in series if p[0] <= upto][-1:]
    return round(sum(values) / len(values), 5) if values else None


def stability(config: object, series: dict[str, list[tuple[int, float, float]]]) -> dict:
    """Loss spikes and collapses (docs/experiments/claims.md defines both)."""
    import numpy as np

    from combtf.training.schedule import plan

    levels = [p.level for p in plan(config) for _ in range(p.steps)]
    level_steps: dict[int, int] = {}
    for level in levels:
        level_steps[level] = level_steps.get(level, 0) + 1

    def level_at(step: int) -> int:
        return levels[min(step, len(levels)) - 1]

    spikes = []
    loss = series.get("loss", [])
    for i, (step, value, _) in enumerate(loss):
        before = [v for s, v, _ in loss[max(0, i - 20):i] if level_at(s) == level_at(step)]
        if len(before) >= 10 and value > SPIKE_FACTOR * float(np.median(before)):
            spikes.append(step)
    collapses = []
    for ident in config.identities:
        points = series.get(f"masked_ssim/{ident}", [])
        by_level: dict[int, list[tuple[int, float]]] = {}
        for step, value, _ in points:
            by_level.setdefault(level_at(step), []).append((step, value))
        for level, items in by_level.items():
            steps = [s for s, _ in items]
            smooth = [float(np.median([v for _, v in items[max(0, i - 4):i + 1]])) for i in range(len(items))]
            window = COLLAPSE_WINDOW * level_steps[level]
            best, i = -1.0, 0
            while i < len(items):
                best = max(best, smooth[i])
                if smooth[i] < best - COLLAPSE_DROP:
                    back = [j for j in range(i, len(items)) if smooth[j] >= best - COLLAPSE_DROP and steps[j] - steps[i] <= window]
                    if not back:
                        collapses.append({"identity": ident, "level": level, "step": steps[i], "best": round(best, 4),
                                          "fell_to": round(smooth[i], 4)})
                        break
                    i = back[0]
                i += 1
    return {"loss_spikes": len(spikes), "spike_steps": spikes[:20], "collapses": collapses}


# --- scoring --------------------------------------------------------------------------------------------
def load_rows(study: Study) -> list[dict]:
    """This study's points: an arm's folder name is shared by its runs at every resolution, data set and budget."""
    if not study.results.is_file():
        return []
    rows = [json.loads(line) for line in study.results.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["claim"] == study.claim and r["data"]["set"] == study.data
            and r["resolution"] == study.resolution and r["quick"] == study.quick and r["images_per_level"] == study.level_images]


def scored_points(study: Study) -> set[tuple]:
    return {(row["arm_key"], row["seed"], row["checkpoint"]) for row in load_rows(study)}


def seed_scored(study: Study, arms_: list[Arm], seed: int) -> bool:
    """Every arm's last point of this seed is in the results: its run folders (scratch) are not needed again."""
    finals = {(row["arm_key"], row["seed"]) for row in load_rows(study) if row["final"]}
    return all((arm.key(), seed) in finals for arm in arms_)


def score_run(study: Study, arm: Arm, seed: int, run: Path, commit: str) -> int:
    """Score every checkpoint not yet in the results (off the clock); returns how many lines were appended."""
    from combtf.config import load_config
    from combtf.levels import level_of
    from combtf.model.cost import train_gflop_per_image
    from combtf.model.network import CombModel, architecture
    from combtf.swap.from_run import checkpoints_of, load_trained
    from combtf.training.schedule import plan

    config = load_config(run / "config.yaml")
    series = scalars(run)
    # "auto" trains in bfloat16 where the CPU has it: hosts of one kind differ, so each run says which it had
    precision = json.loads((run / "summary.json").read_text()).get("precision")
    done = scored_points(study)
    paths = checkpoints_of(run)
    cost_model = CombModel(architecture(config))
    phases = plan(config)
    per_step = [(p.level, p.steps) for p in phases]
    level_at = [p.level for p in phases for _ in range(p.steps)]
    flop_per_image = {level: train_gflop_per_image(cost_model, level) for level, _ in per_step}
    last_level = level_of(study.resolution)
    written = 0
    for index, path in enumerate(paths):
        name = Path(path).name
        if (arm.key(), seed, name) in done:
            continue
        step = int(name.split("-")[1])
        final = index == len(paths) - 1
        # real faces are judged at the last level only; a run its clock stopped below it keeps its last point, unjudged:
        # where it got to is the finding, and its seed counts as scored when the run folders are gone
        unjudged = study.data == "real" and level_at[min(step, len(level_at)) - 1] < last_level
        if unjudged and not final:
            continue
        trained = load_trained(run, chosen=path)
        previous = int(Path(paths[index - 1]).name.split("-")[1]) if index else 0
        loss = series.get("loss", [])
        row = {
            "claim": study.claim, "arm": arm.name, "arm_key": arm.key(), "seed": seed, "run": str(run), "checkpoint": name,
            "commit": commit, "date": time.strftime("%Y-%m-%d"), "data": study.dataset, "resolution": study.resolution,
            "identities": config.identities, "quick": study.quick, "images_per_level": study.level_images, "step": step, "level": trained.level,
            "alpha": round(trained.alpha, 4), "model_px": trained.resolution, "images_per_identity": step * config.batch_size,
            "images_total": step * config.batch_size * len(config.identities),
            "train_gflop": round(_gflop(per_step, flop_per_image, step) * config.batch_size * len(config.identities), 1),
            "wall_s": seconds_at(loss, step),
            "loss": mean_between(loss, previous, step),
            "train_masked_ssim": {i: mean_between(series.get(f"masked_ssim/{i}", []), previous, step) for i in config.identities},
            "precision": precision, "final": final,
        }
        row.update({"quality": None, "identity_retrieval": None, "judged": False} if unjudged else _quality(study, trained, arm, final))
        if final:
            row["stability"] = stability(config, series)
        with study.results.open("a") as out:
            out.write(json.dumps(row) + "\n")
        written += 1
        print(json.dumps({k: row[k] for k in ("claim", "arm", "seed", "step", "images_per_identity", "wall_s", "quality")}), flush=True)
    return written


def _gflop(per_step: list[tuple[int, int]], flop_per_image: dict[int, float], step: int) -> float:
    """Training GFLOP per image of every identity, summed over the first `step` steps of the plan."""
    total, left = 0.0, step
    for level, steps in per_step:
        take = min(left, steps)
        total, left = total + take * flop_per_image[level], left - take
    return total + max(0, left) * flop_per_image[per_step[-1][0]]  # a score gate's repeats


def _quality(study: Study, trained: object, arm: Arm, final: bool) -> dict:
    """The point's figures: `quality` is the one the threshold and the curves read."""
    pair = arm.identities[:2]
    pairs = [(pair[0], pair[1]), (pair[1], pair[0])]
    if study.data == "real":
        from combtf.analysis.judge import centroids, judge
        from combtf.faces.recognise import FaceReader
        from combtf.io.images import list_images

        size = trained.resolution
        if size not in study.centres:
            study.centres[size] = centroids(FaceReader(), study.train_dir, list(REAL_PEOPLE), size, per_identity=40)
        report, _ = judge(trained, pairs, lambda target: list_images(study.eval_dir / target), study.train_dir, match=False,
                          candidates=list(REAL_PEOPLE), centres=study.centres[size])
        rows = report["pairs"]
        out = {"pairs": [{k: row[k] if not isinstance(row[k], dict) else row[k]["r"] for k in
                          ("source", "target", "frames", "identity_retrieval", "mouth", "eyes")} for row in rows]}
        mouths = [row["mouth"]["r"] for row in rows if row["mouth"]["r"] is not None]
        out["quality"] = round(sum(mouths) / len(mouths), 4) if mouths else None
        out["identity_retrieval"] = round(sum(row["identity_retrieval"] for row in rows) / len(rows), 4)
        eyes = [row["eyes"]["r"] for row in rows if row["eyes"]["r"] is not None]
        out["eyes_r"] = round(sum(eyes) / len(eyes), 4) if eyes else None
        return out
    from combtf.analysis.ground_truth import evaluate

    report = evaluate(trained, study.eval_dir, pairs, match=False, size=study.resolution, per_frame=True)
    keys = ("masked_ssim", "masked_psnr", "detail_ratio", "detail_band_psnr")
    out = {"quality": round(report["mean"]["masked_ssim"], 5), "swap": {k: round(report["mean"][k], 4) for k in keys},
           "recon": {r["source"]: round(r["masked_ssim"], 4) for r in report["reconstructions"]},
           "per_frame": [v for row in report["pairs"] for v in row["masked_ssim_per_frame"]]}
    if final and trained.can_match:
        matched = evaluate(trained, study.eval_dir, pairs, match=True, size=study.resolution)
        out["matched"] = {k: round(matched["mean"][k], 4) for k in keys}
    return out


# --- the report -------------------------------------------------------------------------------------
def report(study: Study, plot: Path) -> list[dict]:
    """One summary line per arm and one per comparison; the curves drawn to `plot`."""
    import numpy as np

    rows = load_rows(study)
    if not rows:
        sys.exit(f"error: {study.results}: no scored points for {study.claim} on {study.data} at {study.resolution} px, "
                 f"{study.level_images} images per level, yet")
    curves: dict[str, dict[int, list[dict]]] = {}
    for row in rows:
        curves.setdefault(row["arm"], {}).setdefault(row["seed"], []).append(row)
    for seeds in curves.values():
        for points in seeds.values():
            points.sort(key=lambda r: r["step"])
    floor = mean_face_floor(study, rows[0]["identities"][:2])
    lines = []
    for arm, seeds in curves.items():
        finals = [points[-1] for points in seeds.values()]
        reached = [_reached(points, study.threshold) for points in seeds.values()]
        values = [f["quality"] for f in finals if f["quality"] is not None]
        lines.append({
            "claim": study.claim, "arm": arm, "data": study.data, "resolution": study.resolution,
            "images_per_level": study.level_images, "seeds": sorted(seeds),
            "threshold": study.threshold,
            "reached": [r or "not reached" for r in reached],
            "final_quality": [f["quality"] for f in finals],
            "final_median": float(np.median(values)) if values else None,
            "final_spread": float(max(values) - min(values)) if values else None,
            "final_matched": [f.get("matched", {}).get("masked_ssim") for f in finals],
            "final_identity_retrieval": [f.get("identity_retrieval") for f in finals],
            "final_px": [f["model_px"] for f in finals],
            "mean_face_floor": floor,
            "stuck_at_mean_face": [None if floor is None or f["quality"] is None else f["quality"] < floor + STUCK_MARGIN
                                   for f in finals],
            "images_per_identity": [f["images_per_identity"] for f in finals], "wall_s": [f["wall_s"] for f in finals],
            "train_gflop": [f["train_gflop"] for f in finals],
            "loss_spikes": [f.get("stability", {}).get("loss_spikes") for f in finals],
            "collapses": [len(f.get("stability", {}).get("collapses", [])) for f in finals],
            "commits": sorted({f["commit"] for f in finals}), "dataset": finals[0]["data"],
        })
    lines += comparisons(study, curves)
    for line in lines:
        print(json.dumps(line), flush=True)
    draw(study, curves, plot, floor)
    return lines


def mean_face_floor(study: Study, pair: list[str]) -> float | None:
    """What a decoder that ignores the code scores: each source's mean truth frame against every truth
    frame (synthetic only).  A run that ends near it never learned to carry pose and expression."""
    if study.data != "synthetic":
        return None
    import numpy as np

    from combtf.data.faceset import load_crops
    from combtf.io.images import list_images
    from combtf.training.losses import masked_ssim

    scores = []
    for source in pair:
        images, masks, _ = load_crops(list_images(study.eval_dir / source), study.resolution)
        truth, weight = images.astype(np.float32) / 255, masks.astype(np.float32) / 255
        mean = np.repeat(truth.mean(0, keepdims=True), len(truth), 0)
        scores.append(float(np.mean(masked_ssim(mean, truth, weight))))
    return round(float(np.mean(scores)), 4)


def _reached(points: list[dict], threshold: float | None) -> dict | None:
    for point in points:
        if threshold is not None and point["quality"] is not None and point["quality"] >= threshold:
            return {"images_per_identity": point["images_per_identity"], "wall_s": point["wall_s"], "train_gflop": point["train_gflop"]}
    return None


def comparisons(study: Study, curves: dict[str, dict[int, list[dict]]]) -> list[dict]:
    """Paired differences per seed at each budget the claim names."""
    names = list(curves)
    if study.claim == "progressive":
        pairs = [("flat", "progressive", "equal images")]
    elif study.claim == "identities":
        pairs = [(n, "4 identities", budget) for n in ("3 identities", "2 identities") for budget in ("equal steps", "equal time")]
        pairs += [("2 identities", "3 identities", budget) for budget in ("equal steps", "equal time")]
    else:
        pairs = [("reference", "combtf", "equal time"), ("reference, combtf's schedule", "combtf", "equal time")]
    # equal steps: the step count of the plan every comb shares, the 4-identity run's (the others train on)
    plan_end = {seed: points[-1]["step"] for seed, points in curves.get("4 identities", {}).items()}
    # real faces: expression (a and d's mouth r) and identity (retrieval among all four), each decided apart
    metrics = ("quality", "identity_retrieval") if study.data == "real" else ("quality",)
    out = []
    for (arm, against, budget), metric in itertools.product(pairs, metrics):
        if arm not in names or against not in names:
            continue
        seeds = sorted(set(curves[arm]) & set(curves[against]))
        diffs, frames, read_at = [], [], []
        for seed in seeds:
            mine, theirs = _reading(curves[arm][seed], curves[against][seed], budget, plan_end.get(seed))
            if mine is None or theirs is None or mine.get(metric) is None or theirs.get(metric) is None:
                continue
            diffs.append(mine[metric] - theirs[metric])
            read_at.append({"seed": seed, **{f"{side}_{key}": point[key] for side, point in (("arm", mine), ("against", theirs))
                                             for key in ("step", "wall_s")}})
            if mine.get("per_frame") and theirs.get("per_frame"):
                frames.append([a - b for a, b in zip(mine["per_frame"], theirs["per_frame"])])
        if not diffs:
            continue
        low, high = bootstrap(diffs, frames)
        if len(diffs) < 2:  # a decision is made over seeds; one seed's frames say nothing of the next seed's run
            verdict = "one seed: undecided"
        else:
            verdict = "inconclusive" if low <= 0 <= high else (f"{arm} better" if low > 0 else f"{against} better")
        out.append({"claim": study.claim, "compare": f"{arm} - {against}", "budget": budget, "metric": metric, "seeds": seeds,
                    "differences": [round(d, 4) for d in diffs], "mean": round(sum(diffs) / len(diffs), 4),
                    "interval_95": [round(low, 4), round(high, 4)], "verdict": verdict, "read_at": read_at})
    return out


def _reading(mine: list[dict], theirs: list[dict], budget: str, step: int | None = None) -> tuple[dict | None, dict | None]:
    """The two points a comparison reads: both runs' last (equal images); both at `step` (equal steps; default
    `theirs`' last); or `mine` at `theirs`' last wall time."""
    def last(points: list[dict], keep: Callable[[dict], bool]) -> dict | None:
        kept = [p for p in points if keep(p)]
        return kept[-1] if kept else None

    end = theirs[-1]
    if budget == "equal images":
        return mine[-1], end
    if budget == "equal steps":
        step = end["step"] if step is None else step
        return last(mine, lambda p: p["step"] <= step), last(theirs, lambda p: p["step"] <= step)
    return last(mine, lambda p: p["wall_s"] is not None and p["wall_s"] <= end["wall_s"] + 1), end


def bootstrap(diffs: list[float], frames: list[list[float]], draws: int = 4000) -> tuple[float, float]:
    """95 % interval of the mean paired difference: seeds drawn with replacement, then (where each seed's
    frames are known) its frames too; with the seeds alone when they are not (real faces: r per pair)."""
    import numpy as np

    rng = np.random.default_rng(0)
    means = []
    for _ in range(draws):
        picked = rng.integers(0, len(diffs), len(diffs))
        if len(frames) == len(diffs):
            means.append(np.mean([np.mean(np.asarray(frames[i])[rng.integers(0, len(frames[i]), len(frames[i]))]) for i in picked]))
        else:
            means.append(np.mean(np.asarray(diffs)[picked]))
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def draw(study: Study, curves: dict[str, dict[int, list[dict]]], plot: Path, floor: float | None) -> None:
    """Quality against images seen (left) and wall seconds (right); seeds thin, their median thick."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for colour, (arm, seeds) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], curves.items()):
        for ax, x_key in zip(axes, ("images_per_identity", "wall_s")):
            runs = [[(p[x_key], p["quality"]) for p in points if p[x_key] is not None and p["quality"] is not None]
                    for points in seeds.values()]
            runs = [run for run in runs if run]  # a real-face run stopped below the last level has no judged point
            if not runs:
                continue
            for run in runs:
                ax.plot(*zip(*run), color=colour, lw=0.8, alpha=0.45)
            length = min(len(run) for run in runs)
            if length:
                median = np.median(np.array([run[:length] for run in runs]), axis=0)
                ax.plot(median[:, 0], median[:, 1], color=colour, lw=2.4, label=f"{arm} ({len(runs)} seed{'s' * (len(runs) > 1)})")
    ylabel = "a & d mouth r (held back)" if study.data == "real" else "swap masked SSIM vs truth (held out)"
    for ax, xlabel in zip(axes, ("images seen per identity", "training wall seconds (2-core CPU)")):
        if study.threshold is not None:
            ax.axhline(study.threshold, color="grey", ls="--", lw=1)
        if floor is not None:
            ax.axhline(floor, color="grey", ls=":", lw=1)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[0].legend(loc="lower right", fontsize=8)
    key = "dashed: the fixed quality" + ("; dotted: each identity's mean face (a decoder ignoring the code)" if floor is not None else "")
    axes[1].text(0.01, 0.01, key, transform=axes[1].transAxes, fontsize=7, color="grey")
    fig.suptitle(f"{study.claim}: {study.data} faces, {study.resolution} px" + (" (quick)" if study.quick else ""))
    fig.tight_layout()
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=110)
    plt.close(fig)
    print(f"curves: {plot}", file=sys.stderr, flush=True)


def commit_of(repo: Path) -> str:
    try:
        def git(*words: str) -> str:
            return subprocess.run(["git", "-C", str(repo), *words], capture_output=True, text=True, check=True).stdout.strip()

        head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
        return head + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claim", choices=CLAIMS, required=True)
    parser.add_argument("--data", choices=("synthetic", "real"), default="synthetic")
    parser.add_argument("--resolution", type=int, choices=(64, 128), default=64)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1, every arm of each in turn")
    parser.add_argument("--images-per-level", type=int, default=None, help="override the base config's budget (its final_images scaled alike)")
    parser.add_argument("--quick", action="store_true", help=f"tiny model, {QUICK_RESOLUTION} px, few images: minutes, for trying it out")
    parser.add_argument("--report", action="store_true", help="only summarise and plot what --results holds")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "claims", help="run folders")
    parser.add_argument("--work", type=Path, default=ROOT / "data", help="data sets (made once)")
    parser.add_argument("--results", type=Path, default=None, help="JSON lines (default docs/experiments/claims.jsonl)")
    parser.add_argument("--plot", type=Path, default=None, help="curves (default docs/experiments/claims/<data>-<px>-<claim>-<N>-per-level.png)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    base = ROOT / "configs" / ("real.yaml" if args.data == "real" else "demo.yaml")
    results = args.results or (args.out / "claims.jsonl" if args.quick else ROOT / "docs" / "experiments" / "claims.jsonl")
    resolution = QUICK_RESOLUTION if args.quick else args.resolution
    study = Study(args.claim, args.data, resolution, args.quick, args.out, results, args.seeds, base, args.images_per_level)
    prepare_data(study, args.work)
    the_arms = arms(study)
    plot = args.plot or ((args.out if args.quick else ROOT / "docs" / "experiments" / "claims")
                         / f"{study.data}-{study.resolution}px-{study.claim}-{study.level_images}-per-level.png")
    if not args.report:
        commit = commit_of(ROOT)
        study.results.parent.mkdir(parents=True, exist_ok=True)
        for seed in range(args.seeds):
            if seed_scored(study, the_arms, seed):
                print(f"seed {seed}: every arm scored to its end, not trained again", file=sys.stderr, flush=True)
                continue
            clock: dict[str, float] = {}
            runs = [(arm, train_arm(study, arm, seed, clock)) for arm in the_arms]
            for arm, run in runs:  # off the clock: the next seed's training starts after
                score_run(study, arm, seed, run, commit)
    report(study, plot)


if __name__ == "__main__":
    main()
