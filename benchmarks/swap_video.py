"""Full-frame video swap speed: detection, tracking, swap, warp back, blend, encode. One JSON line.

    .venv/bin/python benchmarks/swap_video.py [--video ../shared/faces/videos/fullframe_720p.mp4] [--resolution 256] [--width 0.125]

The model has freshly initialised weights (the speed does not depend on training) at the
given crop resolution. frames_per_s counts every frame of the video from the first decode to
the closed output file; find_s is the landmark pass alone (detection every 10th frame, tracking
between, smoothing), timed separately on the same video.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "faces" / "videos" / "fullframe_720p.mp4")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--blend", default="paper")
    parser.add_argument("--precision", default="float32", help="compute precision of the swap model")
    args = parser.parse_args()

    from combtf.faces.extract import ExtractOptions, FaceFinder, track_faces
    from combtf.faces.video import frames, probe
    from combtf.swap.blend import BlendOptions
    from combtf.swap.frames import swap_frames
    from combtf.swap.from_run import load_trained

    with tempfile.TemporaryDirectory() as tmp:
        trained = load_trained(make_run(Path(tmp), args.resolution, args.width, 2), args.precision)
        options = ExtractOptions(every=1)
        start = time.perf_counter()
        track_faces(FaceFinder(options), frames(args.video), options, lambda: None)
        find_s = time.perf_counter() - start
        summary = swap_frames(trained, "id0", "id1", [args.video], Path(tmp) / "out.mp4", BlendOptions(how=args.blend), extract=options)
        info = probe(args.video)
        print(json.dumps({
            "video": args.video.name, "frame_size": f"{info.width}x{info.height}", "frames": summary.frames, "faces": summary.faces,
            "resolution": args.resolution, "width": args.width, "blend": args.blend, "precision": args.precision,
            "seconds": round(summary.seconds, 1), "frames_per_s": round(summary.frames / summary.seconds, 2),
            "find_s": round(find_s, 1), "find_frames_per_s": round(summary.frames / find_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }))  # fmt: skip


if __name__ == "__main__":
    main()
