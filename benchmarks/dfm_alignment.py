"""How far combtf's crop template sits from the whole-face crops DFM users' tools cut, on real frames.

    .venv/bin/python benchmarks/dfm_alignment.py [--crops data/real/train] [--size 64]

Reads the 68 landmarks (frame coordinates) from every extraction sidecar under --crops and cuts, for
each frame, combtf's crop (`faces.align.crop_affine`), FaceFusion's 'dfl_whole_face' crop (what it
hands every DFM), DeepFaceLab's WHOLE_FACE crop and DeepFaceLive's (`faces.whole_face`). A DFM
export resamples FaceFusion's crop into combtf's with one fixed affine, derived from the template
(`swap/onnx_export.dfm_layout`); per frame, this prints where the eye centres and the mouth centre
land through that fixed map against where combtf's own alignment puts them (pixels of a --size crop,
and per cent of its width), the same for the best fixed map fitted to these frames (the floor any
fixed map has), how far DeepFaceLab's whole face sits from FaceFusion's template, and the
DeepFaceLive face coverage and y offset that cut FaceFusion's crop most closely.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_landmarks(folder: Path) -> list[object]:
    import numpy as np

    out = []
    for sidecar in sorted(folder.rglob("*.json")):
        try:
            points = np.asarray(json.loads(sidecar.read_text())["landmarks"], np.float64)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if points.shape == (68, 2):
            out.append(points)
    return out


def features(points: object) -> object:
    """Eye centres and mouth centre."""
    import numpy as np

    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[48:68].mean(0)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crops", type=Path, default=ROOT / "data" / "real" / "train", help="an extraction with sidecars")
    parser.add_argument("--size", type=int, default=64, help="combtf's crop (the DFM's input is as large)")
    args = parser.parse_args()

    import numpy as np

    from combtf.faces.align import apply, crop_affine, invert, umeyama
    from combtf.faces.template import template
    from combtf.faces.whole_face import deepfacelive_affine, dfl_whole_face_affine, facefusion_affine, landmarks5

    faces = load_landmarks(args.crops)
    if not faces:
        sys.exit(f"error: {args.crops}: no extraction sidecars with 68 landmarks (run benchmarks/real_quality.py or combtf extract)")
    size = args.size
    fixed = invert(facefusion_affine(template(size), size))  # FaceFusion's crop -> combtf's, as the DFM graph does
    in_whole = [apply(facefusion_affine(p, size), features(p)) for p in faces]
    in_combtf = [apply(crop_affine(p, size), features(p)) for p in faces]
    best = umeyama(np.concatenate(in_whole), np.concatenate(in_combtf))  # the fixed map these frames would choose

    def errors(matrix: object) -> object:
        return np.stack([np.linalg.norm(apply(matrix, w) - c, axis=1) for w, c in zip(in_whole, in_combtf)])  # [frames, 3]

    for name, matrix in (("template map (exported)", fixed), ("best fixed map for these frames", best)):
        err = errors(matrix)
        print(json.dumps({"map": name, "frames": len(faces), "size": size,
                          "mean_px": {k: round(float(v), 2) for k, v in zip(("right_eye", "left_eye", "mouth"), err.mean(0))},
                          "p95_px": round(float(np.percentile(err, 95)), 2),
                          "mean_pct_of_width": round(float(err.mean() / size * 100), 2)}), flush=True)
    offset = np.stack([apply(dfl_whole_face_affine(p, 1.0), landmarks5(p)) - apply(facefusion_affine(p, 1.0), landmarks5(p))
                       for p in faces])
    print(json.dumps({"compare": "DeepFaceLab WHOLE_FACE vs FaceFusion dfl_whole_face", "frames": len(faces),
                      "mean_pct_of_width": round(float(np.linalg.norm(offset, axis=2).mean() * 100), 2),
                      "mean_shift_pct": [round(float(v) * 100, 2) for v in offset.mean((0, 1))]}), flush=True)
    target = [apply(facefusion_affine(p, 1.0), landmarks5(p)) for p in faces]
    grid = [(c, y) for c in np.arange(1.8, 2.61, 0.05) for y in np.arange(-0.15, 0.151, 0.01)]

    def dflive_error(coverage: float, y_offset: float) -> float:
        return float(np.mean([np.linalg.norm(apply(deepfacelive_affine(p, 1.0, coverage, 0.0, y_offset), landmarks5(p)) - t, axis=1).mean()
                              for p, t in zip(faces[::4], target[::4])]))

    scored = sorted((dflive_error(c, y), c, y) for c, y in grid)
    error, coverage, y_offset = scored[0]
    print(json.dumps({"deepfacelive": "face coverage and y offset closest to FaceFusion's crop (x offset 0)",
                      "face_coverage": round(float(coverage), 2), "y_offset": round(float(y_offset), 2),
                      "mean_pct_of_width": round(error * 100, 2),
                      "defaults_2.2_0.0_pct_of_width": round(dflive_error(2.2, 0.0) * 100, 2)}), flush=True)


if __name__ == "__main__":
    main()
