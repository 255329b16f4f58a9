"""Temporal stability of full-frame swaps: the flicker figure `combtf swap` prints, landmark smoothing on and off.

    .venv/bin/python benchmarks/flicker.py --model runs/real-XXXX [--source person_a] [--target person_b]
        [--still-frames 30] [--smooth 2 0] [--blend paper]

Two shots: a held-still head (the extraction test's construction: one photo of the target,
fresh noise of sigma 4 levels per frame, as a lossless PNG sequence) and the 1280x720 clip of
`../shared/faces` (a person outside the run). flicker = the output's frame-to-frame change
inside the aligned face over the input's (`combtf/swap/flicker.py`). One JSON line per shot
and smoothing sigma.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHARED = Path(__file__).resolve().parents[2] / "shared" / "faces"


def still_head(folder: Path, frames: int, person: str) -> Path:
    """`folder/still.%04d.png`: one photo, fresh sensor noise per frame."""
    import numpy as np
    from PIL import Image

    photo = np.asarray(Image.open(sorted((SHARED / "photos" / person).glob("*.jpg"))[0]).convert("RGB"), dtype=np.float64)
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(frames):
        noisy = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"still.{index + 1:04d}.png")
    return folder / "still.%04d.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a run trained on the shared faces (configs/real.yaml)")
    parser.add_argument("--source", default="person_a")
    parser.add_argument("--target", default="person_b", help="also whose photo the still head is")
    parser.add_argument("--still-frames", type=int, default=30)
    parser.add_argument("--clip", type=Path, default=SHARED / "videos" / "fullframe_720p.mp4")
    parser.add_argument("--smooth", type=float, nargs="+", default=[2.0, 0.0])
    parser.add_argument("--blend", default="paper")
    args = parser.parse_args()

    from combtf.faces.extract import ExtractOptions
    from combtf.faces.sequence import PlateOptions, expand
    from combtf.swap.blend import BlendOptions
    from combtf.swap.frames import swap_frames
    from combtf.swap.from_run import load_trained
    from combtf.training.run_folder import find_run

    trained = load_trained(find_run(args.model))
    with tempfile.TemporaryDirectory() as tmp:
        pattern = still_head(Path(tmp) / "still", args.still_frames, args.target)
        shots = {"still_head": expand(str(pattern), PlateOptions()), "clip_720p": [args.clip]}
        for shot, inputs in shots.items():
            for sigma in args.smooth:
                out = Path(tmp) / f"{shot}-{sigma}" / ("out.mp4" if shot == "clip_720p" else "")
                summary = swap_frames(trained, args.source, args.target, inputs, out, BlendOptions(how=args.blend),
                                      extract=ExtractOptions(every=1, smooth=sigma))  # fmt: skip
                print(json.dumps({
                    "shot": shot, "smooth": sigma, "flicker": round(next(iter(summary.flicker.values())), 3),
                    "frames": summary.frames, "faces": summary.faces, "model": str(args.model), "source": args.source,
                    "target": args.target, "blend": args.blend, "resolution": trained.resolution,
                    "seconds": round(summary.seconds, 1),
                }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
