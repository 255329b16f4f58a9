"""Judge swaps of real faces, where no ground truth exists: the source's identity AND the target's expression.

Identity: each swap's dlib face embedding against each model identity's centroid (from its
reference crops, at the model's resolution): retrieval is the share of swaps nearest to the
source.  Expression: mouth opening, both eyes' opening and head pose read off the target frame
and off its swap; Pearson r and mean absolute error per measure.  A swap that shows the source's
face with the source's habitual expression scores high retrieval and low r: the failure this exists
to catch.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from combtf.data.faceset import load_crops
from combtf.errors import CombtfError
from combtf.faces.expression import MEASURES
from combtf.faces.recognise import FaceReader, FaceReading
from combtf.io.images import list_images, write_png
from combtf.io.provenance import png_text
from combtf.swap.crops import composite
from combtf.swap.swapper import Swapper, match_strength

log = logging.getLogger(__name__)
SHEET_TILE = 128
# A target whose inner-lip gap spans less than a pixel of the model's crop (10th to 90th
# percentile) shows no mouth movement a swap could follow: its mouth r is landmark noise on
# closed lips, so `moving_mouth_r` leaves it out (and says how many pairs it kept).
MOVING_MOUTH_PX = 1.0


@dataclass
class Judged:
    """One target frame and its swap, for the contact sheet."""

    source: str
    target: str
    frame: str
    target_rgb: np.ndarray
    swap_rgb: np.ndarray
    nearest: str
    mouth_error: float


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None  # undefined: one side does not move
    return float(np.corrcoef(a, b)[0, 1])


def agreement(frames: list[dict[str, float]], swaps: list[dict[str, float]]) -> dict[str, dict]:
    """Pearson r and mean absolute error per measure; 'eyes' pools both eyes."""
    out = {}
    for name in (*MEASURES, "eyes"):
        keys = ("eye_right", "eye_left") if name == "eyes" else (name,)
        a = np.array([f[k] for f in frames for k in keys])
        b = np.array([s[k] for s in swaps for k in keys])
        out[name] = {"r": _pearson(a, b), "mae": float(np.mean(np.abs(a - b)))}
    return out


def mouth_span_px(frames: list[dict[str, float]], size: int) -> float:
    """How far the target's mouth opens and closes, in pixels of the model's crop."""
    low, high = np.percentile([f["mouth"] for f in frames], [10, 90])
    return float((high - low) * size)


def _evenly(paths: list[Path], count: int) -> list[Path]:
    if len(paths) <= count:
        return paths
    return [paths[int(i)] for i in np.linspace(0, len(paths) - 1, count)]


def centroids(reader: FaceReader, references: Path, identities: list[str], size: int, per_identity: int) -> dict[str, np.ndarray]:
    """Each identity's mean embedding over crops of `references/<identity>`, seen at the model's resolution."""
    out = {}
    for ident in identities:
        folder = references / ident
        if not folder.is_dir():
            raise CombtfError(f"{folder}: no reference crops for identity '{ident}' (pass --references DIR/<identity>/)")
        images, _, _ = load_crops(_evenly(list_images(folder), per_identity), size, skipped={})
        out[ident] = np.mean([reader(img).embedding for img in images], axis=0)
    return out


def judge(
    trained: Swapper,
    pairs: list[tuple[str, str]],
    frames_of: Callable[[str], list[Path]],
    references: Path,
    match: bool = True,
    per_reference: int = 40,
    progress: Callable[[int], None] | None = None,
    candidates: list[str] | None = None,
    centres: dict[str, np.ndarray] | None = None,
) -> tuple[dict, list[Judged]]:
    """(report, every judged frame); the report holds per-pair and overall figures, JSON-ready.
    `candidates` are the people retrieval chooses among (default: the model's identities; runs of
    different identities compare only when they choose among the same people).  `centres`: their
    `centroids` at the model's resolution, from a caller that judges many checkpoints (most of a
    judgement's face readings are the references')."""
    for source, target in pairs:
        trained.check_identity(source, "source")
        trained.check_identity(target, "target")
    reader = FaceReader()
    size = trained.resolution
    names = list(candidates or trained.config.identities)
    centre = centres if centres is not None else centroids(reader, references, names, size, per_reference)
    matrix = np.stack([centre[n] for n in names])
    frames: dict[str, tuple[list[str], np.ndarray, np.ndarray, list[FaceReading]]] = {}
    rows, judged = [], []
    for source, target in pairs:
        if target not in frames:
            skipped: dict[str, str] = {}
            paths = frames_of(target)
            images, masks, _ = load_crops(paths, size, skipped)
            stems = [p.stem for p in paths if str(p) not in skipped]
            frames[target] = (stems, images, masks, [reader(img) for img in images])
        stems, images, masks, readings = frames[target]
        swapped = composite(trained, images, masks, source, target, match)
        swap_readings = [reader(img) for img in swapped]
        distances = np.linalg.norm(np.stack([r.embedding for r in swap_readings])[:, None] - matrix[None], axis=-1)
        nearest = [names[i] for i in distances.argmin(1)]
        agreed = agreement([r.measures for r in readings], [r.measures for r in swap_readings])
        rows.append({
            "source": source,
            "target": target,
            "frames": len(stems),
            "identity_retrieval": float(np.mean([n == source for n in nearest])),
            "source_distance": float(distances[:, names.index(source)].mean()),
            # a target from outside the run (a DFM's user) has no centroid to be near
            "target_distance": float(distances[:, names.index(target)].mean()) if target in names else None,
            "mouth_span_px": mouth_span_px([r.measures for r in readings], size),
            **agreed,
        })
        for stem, t_img, s_img, t, s, near in zip(stems, images, swapped, readings, swap_readings, nearest):
            judged.append(Judged(source, target, stem, t_img, s_img, near, abs(t.measures["mouth"] - s.measures["mouth"])))
        if progress:
            progress(1)
    return {"model": str(trained.run), "resolution": size, "latent_match": match_strength(trained, match),
            "mirror_average": trained.config.mirror_average, "references": str(references),
            "pairs": rows, "overall": overall(rows)}, judged


def overall(rows: list[dict]) -> dict:
    """Means over pairs (a pair whose r is undefined does not count towards that r); `moving_mouth_r`
    only over pairs whose target's mouth moves by a pixel or more."""
    out: dict[str, float | None] = {}
    for key in ("identity_retrieval", "source_distance", "target_distance"):
        values = [row[key] for row in rows if row[key] is not None]
        out[key] = float(np.mean(values)) if values else None
    for name in (*MEASURES, "eyes"):
        rs = [row[name]["r"] for row in rows if row[name]["r"] is not None]
        out[f"{name}_r"] = float(np.mean(rs)) if rs else None
        out[f"{name}_mae"] = float(np.mean([row[name]["mae"] for row in rows]))
    moving = [row["mouth"]["r"] for row in rows if row["mouth_span_px"] >= MOVING_MOUTH_PX and row["mouth"]["r"] is not None]
    out["moving_mouth_r"] = float(np.mean(moving)) if moving else None
    out["moving_mouth_pairs"] = len(moving)
    return out


def contact_sheet(judged: list[Judged], path: Path, model: str, count: int = 12) -> int:
    """The worst frames, target | swap per tile: identity misses first, then the largest mouth errors."""
    worst = sorted(judged, key=lambda j: (j.nearest == j.source, -j.mouth_error))[:count]
    if not worst:
        raise CombtfError(f"{path}: no judged frames to show")
    tile = SHEET_TILE
    header = 26
    sheet = Image.new("RGB", (2 * tile, len(worst) * (tile + header)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, item in enumerate(worst):
        top = row * (tile + header)
        for column, rgb in enumerate((item.target_rgb, item.swap_rgb)):
            sheet.paste(Image.fromarray(rgb).resize((tile, tile), Image.BICUBIC), (column * tile, top + header))
        draw.text((2, top + 1), f"{item.source} <- {item.target} {item.frame[:22]}", fill="black")
        draw.text((2, top + 13), f"looks like {item.nearest}; mouth error {item.mouth_error:.3f}", fill="black")
    write_png(path, np.asarray(sheet), png_text(model, "judging sheet: target frame | swap"))
    return len(worst)
