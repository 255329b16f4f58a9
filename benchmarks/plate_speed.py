"""Whole-sequence plate swap speed: half-float EXR in, EXR with --layers out. One JSON line per case.

    .venv/bin/python benchmarks/plate_speed.py [--clip ../shared/faces/videos/fullframe_720p.mp4] [--frames 282]
        [--heights 1080 720] [--resolution 256] [--width 0.125] [--keep DIR]

The plates are made from the 720p clip: each frame scaled to the height (bicubic), converted
from sRGB to ACEScg (the default config's scene_linear) and written as zip-compressed half EXR;
making them is not timed. The model has freshly initialised weights at the given crop
resolution and width (speed does not depend on training). frames_per_s counts every frame of
the sequence from the first read to the last written file (one pass: read, find and smooth the
faces, swap, blend, write the EXR with face and matte layers and the transform JSON). For comparison the same clip's
H.264 path (mp4 in, mp4 out, no layers) runs last, as `combtf swap` does it today.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from swap_throughput import make_run  # noqa: E402 - same folder

SHARED = Path(__file__).resolve().parents[2] / "shared" / "faces"


def make_plates(clip: Path, folder: Path, height: int, count: int) -> int:
    """`folder/shot.%04d.exr` from 1001 on; returns the frames written."""
    import numpy as np
    import OpenImageIO as oiio
    from PIL import Image

    from combtf.faces.video import frames
    from combtf.io.colour import DEFAULT_CONFIG, SCENE_LINEAR, Conversion

    linear = Conversion(DEFAULT_CONFIG, SCENE_LINEAR)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for index, rgb in frames(clip):
        if index >= count:
            break
        width = round(rgb.shape[1] * height / rgb.shape[0])
        scaled = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))
        pixels = linear.to_plate(scaled.astype(np.float32) / 255.0).astype(np.float16)
        spec = oiio.ImageSpec(width, height, 3, "half")
        spec.attribute("compression", "zip")
        path = folder / f"shot.{1001 + index:04d}.exr"
        out = oiio.ImageOutput.create(str(path))
        out.open(str(path), spec)
        out.write_image(pixels)
        out.close()
        written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=SHARED / "videos" / "fullframe_720p.mp4")
    parser.add_argument("--frames", type=int, default=282, help="frames of the clip made into plates (282: all)")
    parser.add_argument("--heights", type=int, nargs="+", default=[1080, 720])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--blend", default="paper")
    parser.add_argument("--keep", type=Path, default=None, help="make the plates here and keep them (default: a temporary folder)")
    args = parser.parse_args()

    from combtf.faces.extract import ExtractOptions
    from combtf.faces.sequence import PlateOptions, expand
    from combtf.swap.blend import BlendOptions
    from combtf.swap.frames import swap_frames
    from combtf.swap.from_run import load_trained

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        trained = load_trained(make_run(Path(tmp), args.resolution, args.width, 2), "float32")
        cases = [(h, root / f"plates{h}") for h in args.heights]
        for height, folder in cases:
            made = make_plates(args.clip, folder, height, args.frames)
            sequences = expand(str(folder / "shot.%04d.exr"), PlateOptions())
            summary = swap_frames(trained, "id0", "id1", sequences, Path(tmp) / f"out{height}", BlendOptions(how=args.blend),
                                  extract=ExtractOptions(every=1), layers=True)  # fmt: skip
            _report(f"exr-half-{height}p", made, summary, args)
        start = time.perf_counter()
        summary = swap_frames(trained, "id0", "id1", [args.clip], Path(tmp) / "out.mp4", BlendOptions(how=args.blend),
                              extract=ExtractOptions(every=1))  # fmt: skip
        _report("h264-720p", summary.frames, summary, args, time.perf_counter() - start)


def _report(case: str, frames: int, summary, args: argparse.Namespace, seconds: float | None = None) -> None:  # noqa: ANN001
    seconds = seconds or summary.seconds
    print(json.dumps({
        "case": case, "frames": frames, "swapped": summary.frames, "faces": summary.faces, "layers": case.startswith("exr"),
        "resolution": args.resolution, "width": args.width, "blend": args.blend, "seconds": round(seconds, 1),
        "frames_per_s": round(summary.frames / seconds, 2), "flicker": next(iter(summary.flicker.values()), None),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
