"""Photos and videos in, aligned crops with masks and sidecars out, in the training layout.

`DIR/<identity>/<source>_<frame>_<face>.png`, its mask in `masks/` under the same name, and
`<same stem>.json` beside it: where the crop came from and the affine that made it, which
the full-frame swap needs to put the face back. Videos are read twice (find and smooth the
landmarks, then cut the crops), so no frame is held in memory longer than it is used.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from combtf.errors import CombtfError
from combtf.faces.align import apply, crop_affine, warp
from combtf.faces.crops import check_identity, points, safe_name, write_crop
from combtf.faces.detect import FaceDetector
from combtf.faces.landmarks import LandmarkPredictor, predictor_box
from combtf.faces.masks import face_mask
from combtf.faces.track import Observation, link, smooth
from combtf.faces.video import VIDEO_EXTS, frames, probe
from combtf.io.images import IMAGE_EXTS, read_image

FACES = ("largest", "all")  # which faces of a frame are extracted


@dataclass
class ExtractOptions:
    size: int = 256
    every: int = 1
    face: str = "largest"  # one of FACES
    min_face: float = 0.0  # px, shorter box side in the source
    smooth: float = 2.0  # Gaussian sigma in frames; 0 = off
    detect_every: int = 10  # video: full detection every N sampled frames, landmarks tracked between


@dataclass
class FaceCounts:
    """What a pass over photos and videos found; extraction and full-frame swaps both report it."""

    frames: int = 0
    faces: int = 0
    frames_without_face: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason


@dataclass
class ExtractSummary(FaceCounts):
    files: int = 0
    crops: list[Path] = field(default_factory=list)


PATCH = 32  # px of the grey aligned patch that tells a followed face from a lost one
MIN_CORRELATION = 0.6


class FaceFinder:
    """Detector and landmark predictor together: frame in, observations out (largest first)."""

    def __init__(self, options: ExtractOptions) -> None:
        self.detector = FaceDetector()
        self.predictor = LandmarkPredictor()
        self.options = options

    def __call__(self, frame_index: int, rgb: np.ndarray) -> list[Observation]:
        found = [d for d in self.detector(rgb) if d.side >= self.options.min_face]
        if self.options.face == "largest":
            found = found[:1]
        gray = _gray(rgb)
        faces = []
        for rank, detection in enumerate(found):
            points = self.predictor(gray, detection.box)
            faces.append(Observation(frame_index, detection.box, detection.score, points, track=rank, patch=_patch(gray, points)))
        return faces

    def follow(self, frame_index: int, rgb: np.ndarray, previous: list[Observation]) -> list[Observation]:
        """The previous frame's faces found again from their landmarks; a full detection if any is lost.

        MTCNN costs 0.13 s a frame, the landmark predictor 2 ms. The predictor always returns
        68 points, even on a cut to black, so a face counts as found again only if its aligned
        patch still correlates with the previous frame's.
        """
        gray, found = _gray(rgb), []
        for prev in previous:
            points = self.predictor(gray, predictor_box(prev.landmarks))
            patch = _patch(gray, points)
            if prev.patch is None or _correlation(patch, prev.patch) < MIN_CORRELATION:
                return self(frame_index, rgb)
            box = np.concatenate([points.min(axis=0), points.max(axis=0)])
            found.append(Observation(frame_index, box, prev.score, points, track=prev.track, patch=patch))
        return found


def _patch(gray: np.ndarray, points: np.ndarray) -> np.ndarray:
    return warp(gray, crop_affine(points, PATCH), (PATCH, PATCH)).astype(np.float64)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-9))


def _gray(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).convert("L"))


def sources(inputs: Iterable[str | Path], summary: ExtractSummary) -> list[Path]:
    """Files named, and image/video files under folders named (sorted); others are skipped and said."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS)
        elif item.is_file():
            if item.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS:
                found.append(item)
            else:
                summary.skipped[str(item)] = "not an image or video (png, jpg, jpeg, webp, mp4, mov, avi, mkv)"
        else:
            summary.skipped[str(item)] = "does not exist"
    return found


def _stems(paths: list[Path]) -> dict[Path, str]:
    """A file-name-safe, unique name per source (parent folder added where stems collide)."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for path in paths:
        base = safe_name(path.stem)
        name = base if base not in used else safe_name(f"{path.parent.name}-{base}", 100)
        suffix = 1
        while name in used:
            suffix += 1
            name = f"{base}-{suffix}"
        used.add(name)
        names[path] = name
    return names


def _write_face(out: Path, name: str, source: Path, rgb: np.ndarray, obs: Observation, size: int, smoothed: bool) -> Path:
    matrix = obs.affine(size)
    crop_points = apply(matrix, obs.landmarks)
    sidecar = {
        "source_file": str(source),
        "frame": obs.frame,
        "face": obs.track,
        "box": [round(float(v), 2) for v in obs.box],
        "score": round(obs.score, 4),
        "landmarks": points(obs.landmarks),
        "crop_landmarks": points(crop_points),
        "affine": matrix.tolist(),
        "smoothed": smoothed,
    }
    crop = warp(rgb, matrix, (size, size))
    return write_crop(out, f"{name}_{obs.frame:06d}_{obs.track}", crop, face_mask(crop_points, (size, size)), sidecar)


def video_faces(finder: FaceFinder, path: Path, options: ExtractOptions, tick: Callable[[], None]) -> tuple[dict[int, list[Observation]], int]:
    """Pass 1 over a video: every sampled frame's faces, linked into tracks and smoothed (frame -> faces), and the frames read."""
    per_frame: list[list[Observation]] = []
    for count, (index, rgb) in enumerate(frames(path, options.every)):
        previous = per_frame[-1] if per_frame else []
        per_frame.append(finder.follow(index, rgb, previous) if previous and count % options.detect_every else finder(index, rgb))
        for obs in previous:
            obs.patch = None  # only the newest frame's patches are needed; long videos stay small
        tick()
    link(per_frame, max_gap=2 * options.every)
    tracks: dict[int, list[Observation]] = {}
    for obs in (o for observations in per_frame for o in observations):
        tracks.setdefault(obs.track, []).append(obs)
    for track in tracks.values():
        smooth(track, options.smooth)
    by_frame: dict[int, list[Observation]] = {}
    for observations in per_frame:
        if observations:
            by_frame[observations[0].frame] = observations
    return by_frame, len(per_frame)


def _faces_of(finder: FaceFinder, path: Path, options: ExtractOptions, summary: ExtractSummary,
              tick: Callable[[], None]) -> Iterator[tuple[np.ndarray, Observation, bool]]:
    """(frame, face, smoothed) for every face to write from one photo or video."""
    if path.suffix.lower() in VIDEO_EXTS:
        found, sampled = video_faces(finder, path, options, tick)
        summary.frames += sampled
        summary.frames_without_face += sampled - len(found)
        for index, rgb in frames(path, options.every):
            tick()
            for obs in found.get(index, []):
                yield rgb, obs, True
        return
    tick()
    rgb, _ = read_image(path)
    summary.frames += 1
    observations = finder(0, rgb)
    if not observations:
        summary.frames_without_face += 1
        summary.skipped[str(path)] = "no face found"
    for obs in observations:
        yield rgb, obs, False


def _work(path: Path, every: int) -> int:
    """Progress units: one per photo, two per sampled video frame (find, then write)."""
    if path.suffix.lower() in VIDEO_EXTS:
        try:
            return 2 * -(-probe(path).frames // every)
        except CombtfError:
            return 1
    return 1


def extract(inputs: Iterable[str | Path], identity: str, data: str | Path, options: ExtractOptions, progress: bool = True) -> ExtractSummary:
    """Find, align and write every face; unreadable files are skipped with a reason, never fatal."""
    check_identity(identity)
    inputs = list(inputs)
    summary = ExtractSummary()
    paths = sources(inputs, summary)
    if not paths:
        raise CombtfError(f"{', '.join(map(str, inputs))}: no photos or videos found")
    out = Path(data) / identity
    finder = FaceFinder(options)
    names = _stems(paths)
    bar = tqdm(total=sum(_work(p, options.every) for p in paths), unit="step", disable=not progress, desc=f"extract {identity}")
    for path in paths:
        summary.files += 1
        try:
            for frame_rgb, obs, smoothed in _faces_of(finder, path, options, summary, bar.update):
                summary.crops.append(_write_face(out, names[path], path, frame_rgb, obs, options.size, smoothed))
                summary.faces += 1
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
        bar.set_postfix(faces=summary.faces, skipped=len(summary.skipped))
    bar.close()
    return summary
