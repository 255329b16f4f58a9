"""Extraction on the real photos and videos of ../shared/faces: one JSON line per input.

    .venv/bin/python benchmarks/extract_faces.py [--faces ../shared/faces] [--size 256] [--every 1]

Per person's photo folder: photos, faces found, detection rate, seconds per photo, and the
worst and median distance of the aligned 68-point eye centres from the template's (fraction of
the crop). Per video: sampled frames, faces, frames per second of the whole extraction
(detection, landmarks, smoothing, two decodes, writing).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "faces")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--videos", default="person_d.mp4", help="Comma-separated video names ('' for none).")
    args = parser.parse_args()

    import numpy as np

    from combtf.faces.extract import ExtractOptions, extract
    from combtf.faces.template import LEFT_EYE, RIGHT_EYE, template

    def eyes(points: object) -> np.ndarray:
        points = np.asarray(points)
        return np.stack([points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)])

    expected = eyes(template(args.size))
    options = ExtractOptions(size=args.size, every=args.every)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = [(p.name, p) for p in sorted((args.faces / "photos").iterdir()) if p.is_dir()]
        inputs += [(name, args.faces / "videos" / name) for name in filter(None, args.videos.split(","))]
        for name, path in inputs:
            start = time.perf_counter()
            summary = extract([path], Path(name).stem, tmp, options, progress=False)
            seconds = time.perf_counter() - start
            landmarks = [json.loads(c.with_suffix(".json").read_text())["crop_landmarks"] for c in summary.crops]
            offsets = [np.abs(eyes(points) - expected).max() / args.size for points in landmarks]
            print(json.dumps({
                "input": name, "frames": summary.frames, "faces": summary.faces,
                "detection_rate": round(summary.faces / max(summary.frames, 1), 4),
                "seconds": round(seconds, 1), "frames_per_s": round(summary.frames / seconds, 2),
                "eye_offset_max": round(float(max(offsets, default=0)), 4),
                "eye_offset_median": round(float(np.median(offsets)) if offsets else 0, 4),
                "size": args.size,
            }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
