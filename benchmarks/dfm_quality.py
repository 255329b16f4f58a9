"""Real-face swaps as a DFM makes them: latent statistics pooled over every identity but the source,
because DeepFaceLive and FaceFusion hand it faces the run never saw.

    .venv/bin/python benchmarks/dfm_quality.py --model runs/real-X [--work data/real]

Judges (`combtf.analysis.judge`: identity retrieval by dlib embedding, mouth and eyes r by
landmarks) every ordered pair of the run's people on their held-back crops, once with the target's
own statistics (how `combtf swap` and the SavedModels swap a known target) and once with the pooled
ones (how a DFM exported with the default `--target '*'` swaps), then every run identity swapped
onto a person outside the run: the woman of ../shared/faces/videos/fullframe_720p.mp4, extracted
once into WORK/outside/. One JSON line per condition.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUTSIDER = "outsider"
CLIP = ROOT.parent / "shared" / "faces" / "videos" / "fullframe_720p.mp4"


class AsDfm:
    """A run's model that swaps whatever the target with the pooled statistics, as its DFM export does."""

    def __init__(self, trained: object) -> None:
        self.trained, self.run, self.config, self.can_match = trained, trained.run, trained.config, trained.can_match

    @property
    def resolution(self) -> int:
        return self.trained.resolution

    def check_identity(self, name: str, role: str) -> None:
        if role == "source":
            self.trained.check_identity(name, role)

    def swap(self, x: object, source: str, target: str, match: bool = True) -> object:
        from combtf.config import UNKNOWN_TARGET

        return self.trained.swap(x, source, UNKNOWN_TARGET, match)


def outsider_crops(work: Path, every: int) -> Path:
    from combtf.faces.extract import ExtractOptions, extract

    folder = work / "outside"
    if not (folder / OUTSIDER).is_dir():
        staging = work / "outside-staging"
        extract([CLIP], OUTSIDER, staging, ExtractOptions(size=128, every=every), progress=True)
        staging.rename(folder)  # last: a cut-short extraction is never taken for a finished one
    return folder / OUTSIDER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a run trained by benchmarks/real_quality.py")
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "real", help="real_quality.py's extraction (train/, heldback/)")
    parser.add_argument("--every", type=int, default=3, help="extract every Nth frame of the outsider's clip")
    args = parser.parse_args()
    if not CLIP.is_file():
        sys.exit(f"error: {CLIP}: the real footage is not here (only on the project's machines and CI)")

    from combtf.analysis.judge import judge
    from combtf.io.images import list_images
    from combtf.swap.from_run import load_trained

    trained = load_trained(args.model)
    names = list(trained.config.identities)
    train_dir, held = args.work / "train", args.work / "heldback"
    pairs = [(s, t) for s in names for t in names if s != t]
    for condition, swapper in (("target's own statistics", trained), ("pooled statistics (the DFM's)", AsDfm(trained))):
        report, _ = judge(swapper, pairs, lambda target: list_images(held / target), train_dir)
        print(json.dumps({"condition": condition, "crops": "held-back crops of the run's people", "pairs": len(pairs),
                          "overall": report["overall"], "run": str(args.model)}), flush=True)
    outsider = outsider_crops(args.work, args.every)
    report, _ = judge(AsDfm(trained), [(s, OUTSIDER) for s in names], lambda target: list_images(outsider), train_dir)
    print(json.dumps({"condition": "pooled statistics (the DFM's)", "crops": f"a person outside the run ({CLIP.name}, every "
                      f"{args.every}th frame)", "frames": report["pairs"][0]["frames"], "pairs": len(names),
                      "per_source": {row["source"]: {"identity_retrieval": row["identity_retrieval"], "mouth_r": row["mouth"]["r"],
                                                     "eyes_r": row["eyes"]["r"]} for row in report["pairs"]},
                      "overall": report["overall"], "run": str(args.model)}), flush=True)


if __name__ == "__main__":
    main()
