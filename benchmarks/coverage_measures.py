"""Which measure finds the frames another identity cannot render?  One JSON line per (measure, pair).

    .venv/bin/python benchmarks/coverage_measures.py [--model RUN --data SET/train] [--config C] [--frames 150]

Without --model it makes a synthetic set where `ben` never opens his mouth
(`combtf demo-data --closed-mouth ben`, 300 images per identity, 64 px) and trains --config on
it (default the demo configuration: about 11 minutes on 2 cores).  Then, for the pairs
(A -> ben), A's frames whose mouth is clearly open (opening >= 0.5, five times ben's largest) are
the ones ben's decoder cannot render.  Each measure scores every frame of A; the script prints
the ROC AUC of that score for those frames, and precision/recall for each threshold rule:
the q-th percentile of the same score on ben's own frames rendered by A (which ben covers by
construction), and that percentile after scaling the reference to meet A's scores at their
10th percentile (`calibrated`, what `combtf coverage` used before its data-side check;
it now scores the mouth region against frames like it instead, benchmarks/coverage_cases.py).  Precision counts a flagged frame
as right when its mouth is open beyond ben's range (> 0.2); recall is over the clearly open
frames.  Pairs without ben (full overlap) report the share of frames each rule leaves covered.
This is the evidence for the measure `combtf coverage` uses (docs/latent-space.md, docs/experiments/coverage.md).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

CLOSED = "ben"
OPEN, BEYOND = 0.5, 0.2
QUANTILES = (90, 95)
CALIBRATION = 10  # the percentile where the `calibrated` rule scales the reference to the pair's own scores
LUMA = np.array([0.299, 0.587, 0.114])


def mouth_opening(crops: np.ndarray) -> np.ndarray:
    """Inner-lip gap over nose-bridge-to-chin distance, from dlib's 68 points read off each crop."""
    from combtf.faces.landmarks import CropLandmarks

    reader = CropLandmarks()
    out = []
    for crop in crops:
        p = reader(np.round(np.clip(crop, 0, 1) * 255).astype(np.uint8))
        gap = np.mean([np.linalg.norm(p[a] - p[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
        out.append(gap / np.linalg.norm(p[8] - p[27]))
    return np.array(out)


def threshold(scores: np.ndarray, reference: np.ndarray) -> float:
    """The `calibrated` rule: the reference scaled to meet the scores at their 10th percentile, then its 95th."""
    scale = np.percentile(scores, CALIBRATION) / max(float(np.percentile(reference, CALIBRATION)), 1e-6)
    return float(np.percentile(reference, 95) * scale)


def scores(trained: object, x: dict, m: dict, codes: dict, a: str, b: str) -> dict[str, np.ndarray]:
    """Per frame of `a`: the candidate measures against `b`'s decoder (higher: less covered)."""
    from sklearn.neighbors import NearestNeighbors

    from combtf.analysis.coverage import mouth_difference
    from combtf.faces.template import MOUTH, feature_box
    from combtf.training.losses import masked_l1

    def mouth_structure(frames: np.ndarray, swaps: np.ndarray) -> np.ndarray:
        """1 - normalised cross-correlation of the grey mouth regions (contrast taken out too)."""
        x0, y0, x1, y1 = feature_box(frames.shape[1], MOUTH)
        r = [im[:, y0:y1, x0:x1] @ LUMA for im in (frames, swaps)]
        r = [v - v.mean((1, 2), keepdims=True) for v in r]
        r = [v / (np.sqrt((v**2).mean((1, 2), keepdims=True)) + 1e-6) for v in r]
        return 1.0 - (r[0] * r[1]).mean((1, 2))

    def render(frames: np.ndarray, mask: np.ndarray, decoder: str, frames_of: str) -> np.ndarray:
        y = np.asarray(trained.swap(frames, decoder, frames_of), np.float32)
        return mask * y + (1 - mask) * frames  # outside the mask a decoder is never trained

    swapped = render(x[a], m[a], b, a)
    back = render(swapped, m[a], a, b)
    nearest = NearestNeighbors(n_neighbors=1).fit(codes[b]).kneighbors(codes[a])[0][:, 0]
    return {
        "cycle_l1": np.asarray(masked_l1(back, x[a], m[a]), np.float64),
        "latent_nearest_centred": nearest,
        "mouth_landmarks": np.abs(mouth_opening(x[a]) - mouth_opening(swapped)),
        "mouth_structure": mouth_structure(x[a], swapped),
        "mouth_difference": mouth_difference(x[a], swapped),
    }


def train_default(work: Path, config: Path) -> tuple[Path, Path]:
    combtf = [sys.executable, "-c", "from combtf_cli.main import main; main()"]
    subprocess.run([*combtf, "demo-data", str(work / "set"), "--images", "300", "--size", "64", "--closed-mouth", CLOSED], check=True)
    subprocess.run([*combtf, "train", "--config", str(config), "--data", str(work / "set" / "train"),
                    "--out", str(work / "run"), "--quiet"], check=True)  # fmt: skip
    return work / "run", work / "set" / "train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--data", type=Path, default=None, help="The closed-mouth set's train folder (with performances.csv).")
    parser.add_argument("--config", type=Path, default=Path("configs/demo.yaml"), help="What to train without --model.")
    parser.add_argument("--frames", type=int, default=150, help="Frames per identity.")
    args = parser.parse_args()
    from sklearn.metrics import roc_auc_score

    from combtf.data.faceset import load_crops, scan
    from combtf.model.latent_stats import encode_images
    from combtf.swap.from_run import load_trained

    with tempfile.TemporaryDirectory(prefix="combtf-coverage-") as tmp:
        run, root = (args.model, args.data) if args.model else train_default(Path(tmp), args.config)
        trained = load_trained(run)
        faces = scan(root)
        x, m, codes, mouth = {}, {}, {}, {}
        for name, paths in faces.images.items():
            paths = paths[: args.frames]
            images, masks, _ = load_crops(paths, trained.resolution)
            x[name], m[name] = images / np.float32(255), masks / np.float32(255)
            z = encode_images(trained.model, images, trained.level).reshape(len(images), -1)
            codes[name] = (z - z.mean(0)) / np.maximum(z.std(0), 1e-4)
            with open(root / name / "performances.csv") as table:
                truth = {row["stem"]: float(row["mouth_open"]) for row in csv.DictReader(table)}
            mouth[name] = np.array([truth[p.stem] for p in paths])
        for a in faces.identities:
            for b in faces.identities:
                if a == b:
                    continue
                mine, reference = scores(trained, x, m, codes, a, b), scores(trained, x, m, codes, b, a)
                for measure, s in mine.items():
                    line = {"benchmark": "coverage_measures", "measure": measure, "pair": f"{a}->{b}", "frames": len(s),
                            "resolution": trained.resolution}  # fmt: skip
                    rules = {f"q{q}": np.percentile(reference[measure], q) for q in QUANTILES}
                    rules["calibrated"] = threshold(s, reference[measure])
                    for rule, cut in rules.items():
                        flagged = s > cut
                        line[f"covered_{rule}"] = round(1 - float(flagged.mean()), 3)
                        if b == CLOSED:
                            line[f"precision_{rule}"] = round(float((mouth[a][flagged] > BEYOND).mean()) if flagged.any() else 0.0, 3)
                            line[f"recall_{rule}"] = round(float(flagged[mouth[a] >= OPEN].mean()), 3)
                    if b == CLOSED:
                        line["auc_open"] = round(float(roc_auc_score(mouth[a] >= OPEN, s)), 3)
                    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
