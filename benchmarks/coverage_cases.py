"""`combtf coverage` against known answers.  One JSON line per pair, then one for the whole run.

    .venv/bin/python benchmarks/coverage_cases.py [--model RUN --data SET/train]          # synthetic
    .venv/bin/python benchmarks/coverage_cases.py --real --model runs/real-... [--data data/real/train]

Synthetic (the default): a 4-identity set (`combtf demo-data --turns`) where ben never opens his
mouth and cleo stays within 10 degrees of yaw, a comb trained on it with configs/coverage.yaml (the
case `make test` runs; without --model about 5 to 15 minutes on 2 cores), then coverage scored
against the set's performances.csv: precision and recall of the mouth gap (A -> ben: frames of A
whose mouth opens >= 0.5, right above 0.2) and of the pose gap (A -> cleo: |yaw| >= 20 degrees,
right above 12), and coverage of the pairs onto the complete identities (ada, dev).

Real (`--real`): the run's four people of ../shared/faces; the share of person_a's extreme
expressions (benchmarks/person_a_extremes.txt, picked by eye) flagged for person_a -> person_b and
person_a -> person_c, each pair's coverage and its flags by evidence.  Both print the seconds
`combtf coverage` took end to end.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]
COMBTF = [sys.executable, "-c", "from combtf_cli.main import main; main()"]
CASES = {"ben": ("mouth_open", 0.5, 0.2), "cleo": ("yaw", 20.0, 12.0)}  # the gap's truth column, clearly, right beyond
COMPLETE = ("ada", "dev")
EXTREMES = REPO / "benchmarks" / "person_a_extremes.txt"


def make_synthetic(work: Path, size: int, images: int) -> tuple[Path, Path]:
    subprocess.run([*COMBTF, "demo-data", str(work / "set"), "--identities", "4", "--images", str(images),
                    "--eval-images", "1", "--size", str(size), "--turns", "--closed-mouth", "ben", "--frontal", "cleo"],
                   check=True)  # fmt: skip
    started = time.perf_counter()
    subprocess.run([*COMBTF, "train", "--config", str(REPO / "configs" / "coverage.yaml"), "--data", str(work / "set" / "train"),
                    "--out", str(work / "run"), "--quiet"], check=True)  # fmt: skip
    print(json.dumps({"benchmark": "coverage_cases", "trained_s": round(time.perf_counter() - started, 1)}), flush=True)
    return work / "run", work / "set" / "train"


def coverage(model: Path, data: Path, out: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    subprocess.run([*COMBTF, "coverage", "--model", str(model), "--data", str(data), "--out", str(out / "coverage.html"),
                    "--json", str(out / "coverage.json")], check=True, stdout=sys.stderr)  # fmt: skip
    return json.loads((out / "coverage.json").read_text()), time.perf_counter() - started


def truth(train: Path, name: str, column: str) -> dict[str, float]:
    with open(train / name / "performances.csv") as table:
        rows = {row["stem"]: float(row[column]) for row in csv.DictReader(table)}
    return {stem: abs(math.degrees(v)) for stem, v in rows.items()} if column == "yaw" else rows


def synthetic_lines(report: dict, train: Path) -> list[dict]:
    lines = []
    for pair in report["pairs"]:
        line = {"pair": f"{pair['from']}->{pair['to']}", "coverage": pair["coverage"], "flagged_by": pair["flagged_by"]}
        if pair["to"] in CASES:
            column, clearly, beyond = CASES[pair["to"]]
            value = truth(train, pair["from"], column)
            flagged = {Path(f["frame"]).stem for f in pair["uncovered"]}
            clear = {s for s, v in value.items() if v >= clearly}
            line["case"] = f"{column} gap"
            line["precision"] = round(sum(value[s] > beyond for s in flagged) / max(len(flagged), 1), 3)
            line["recall"] = round(len(flagged & clear) / len(clear), 3)
            by_data = {Path(f["frame"]).stem for f in pair["uncovered"] if f["flagged_by"] != "model"}
            line["recall_data_side"] = round(len(by_data & clear) / len(clear), 3)
        elif pair["to"] in COMPLETE:
            line["case"] = "nothing missing"
        line["missing"] = pair["missing"][:2]
        lines.append(line)
    return lines


def real_lines(report: dict, data: Path) -> list[dict]:
    picked = {line.split()[0].rsplit(".", 1)[0] for line in EXTREMES.read_text().splitlines() if line and not line.startswith("#")}
    crops = {p.stem.rsplit("_", 2)[0] for p in (data / "person_a").glob("*.png")}  # crop stems: photo_frame_face
    extremes = picked & crops
    lines = []
    for pair in report["pairs"]:
        line = {"pair": f"{pair['from']}->{pair['to']}", "coverage": pair["coverage"], "flagged_by": pair["flagged_by"],
                "missing": pair["missing"][:2]}  # fmt: skip
        if pair["from"] == "person_a":
            flagged = {Path(f["frame"]).stem.rsplit("_", 2)[0] for f in pair["uncovered"]}  # crop stems: photo_frame_face
            model_only = {Path(f["frame"]).stem.rsplit("_", 2)[0] for f in pair["uncovered"] if f["flagged_by"] == "model"}
            line["extremes_flagged"] = round(len(extremes & flagged) / len(extremes), 3)
            line["other_frames_flagged"] = round(len(flagged - extremes) / len(crops - extremes), 3)
            line["extremes_by_model_alone"] = len(extremes & model_only)
            line["extremes"] = len(extremes)
        lines.append(line)
    return lines


def data_side_seconds(data: Path) -> tuple[int, float]:
    """Frames read and seconds the data-side check takes alone (sidecars read, every pair compared)."""
    from combtf.analysis import pose_space

    started = time.perf_counter()
    read = {d.name: pose_space.features(sorted(d.glob("*.png"))) for d in sorted(data.iterdir()) if d.is_dir()}
    for a in read:
        for b in read:
            if a != b:
                pose_space.compare(read[a], read[b])
    return sum(len(v) for v in read.values()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="A trained run (default: train the synthetic case).")
    parser.add_argument("--data", type=Path, default=None, help="Its training folder (synthetic: with performances.csv).")
    parser.add_argument("--real", action="store_true", help="The run is of ../shared/faces' four people.")
    parser.add_argument("--size", type=int, default=32, help="Synthetic crops' size.")
    parser.add_argument("--images", type=int, default=150, help="Synthetic training images per identity.")
    args = parser.parse_args()
    if args.real and not args.model:
        parser.error("--real needs --model (a run of `make demo-real`)")
    if args.model and not args.real and not args.data:
        parser.error("--model needs --data: the synthetic set's train folder, with its performances.csv")
    with tempfile.TemporaryDirectory(prefix="combtf-coverage-") as tmp:
        work = Path(tmp)
        model, data = (args.model, args.data) if args.model else make_synthetic(work, args.size, args.images)
        data = data or REPO / "data" / "real" / "train"
        report, seconds = coverage(model, data, work)
        for line in real_lines(report, data) if args.real else synthetic_lines(report, data):
            print(json.dumps({"benchmark": "coverage_cases", **line}), flush=True)
        frames, data_side = data_side_seconds(data)
    print(json.dumps({"benchmark": "coverage_cases", "set": "real" if args.real else "synthetic", "model": str(model),
                      "resolution": report["resolution"], "frames": frames, "coverage_s": round(seconds, 1),
                      "data_side_s": round(data_side, 2)}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
