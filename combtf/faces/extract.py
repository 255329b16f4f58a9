"""Photos, videos and plate sequences in, aligned crops with masks and sidecars out, in the training layout.

`DIR/<identity>/<source>_<frame>_<face>.png`, its mask in `masks/` under the same name, and
`<same stem>.json` beside it: where the crop came from and the affine that made it, which
the full-frame swap needs to put the face back. Videos and sequences are read twice (find and
smooth the landmarks, then cut the crops), so no frame is held in memory longer than it is
used; a sequence's crops carry its frame numbers.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from combtf.errors import CombtfError
from combtf.faces.align import apply, crop_affine, warp
from combtf.faces.crops import check_identity, points, safe_name, write_crop
from combtf.faces.detect import FaceDetector
from combtf.faces.landmarks import LandmarkPredictor, predictor_box
from combtf.faces.masks import face_mask
from combtf.faces.sequence import PlateOptions, StrictError, expand, name_of, plate_frames
from combtf.faces.track import Observation, Tracker
from combtf.faces.video import VIDEO_EXTS, frames, probe
from combtf.io.images import IMAGE_EXTS, read_image
from combtf.io.sequences import Sequence

T = TypeVar("T")
FACES = ("largest", "all")  # which faces of a frame are extracted


@dataclass
class ExtractOptions:
    size: int = 256
    every: int = 1
    face: str = "largest"  # one of FACES
    min_face: float = 0.0  # px, shorter box side in the source
    smooth: float = 2.0  # Gaussian sigma in frames; 0 = off
    detect_every: int = 10  # video: full detection every N sampled frames, landmarks tracked between
    plates: PlateOptions = field(default_factory=PlateOptions)  # sequences: frame range, --strict, colour spaces


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


Source = Path | Sequence


def sources(inputs: Iterable[str | Path], summary: ExtractSummary, plates: PlateOptions | None = None) -> list[Source]:
    """Files named, plate sequences (patterns, plate files, a folder's plates), and image/video files under
    folders named (sorted); others are skipped and said."""
    found: list[Source] = []
    for spec in inputs:
        item, sequences = Path(spec), expand(spec, plates or PlateOptions())
        if sequences is not None:
            found += sequences
        if item.is_dir():
            found += sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS)
        elif sequences is not None:
            continue
        elif item.is_file():
            if item.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS:
                found.append(item)
            else:
                summary.skipped[str(item)] = "not an image, plate or video (png, jpg, jpeg, webp, exr, dpx, tif, mp4, mov, avi, mkv)"
        else:
            summary.skipped[str(item)] = "does not exist"
    return found


def _stems(paths: list[Source]) -> dict[str, str]:
    """A file-name-safe, unique name per source (parent folder added where stems collide)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for path in paths:
        stem, parent = (name_of(path), Path(path.pattern).parent) if isinstance(path, Sequence) else (path.stem, path.parent)
        base = safe_name(stem)
        name = base if base not in used else safe_name(f"{parent.name}-{base}", 100)
        suffix = 1
        while name in used:
            suffix += 1
            name = f"{base}-{suffix}"
        used.add(name)
        names[str(path)] = name
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


def stream_faces(finder: FaceFinder, shot: Iterable[tuple[int, np.ndarray, T]], options: ExtractOptions,
                 tick: Callable[[], None]) -> Iterator[tuple[int, T, list[Observation]]]:  # fmt: skip
    """(frame, payload, faces with smoothed landmarks) for a video or sequence given as (frame, RGB uint8, payload) in
    order: each frame comes out as soon as the frames within the smoothing's reach after it are in, so a shot is read
    once and at most that reach (6 frames at the default sigma) is held."""
    tracker = Tracker(max_gap=2 * options.every, sigma=options.smooth)  # a sequence may step by more: gaps start new tracks
    pending: deque[tuple[int, T, list[Observation]]] = deque()
    previous: list[Observation] = []
    for count, (index, rgb, payload) in enumerate(shot):
        faces = finder.follow(index, rgb, previous) if previous and count % options.detect_every else finder(index, rgb)
        for obs in previous:
            obs.patch = None  # only the newest frame's patches are needed; long videos stay small
        tracker.add(faces)
        pending.append((index, payload, faces))
        previous = faces
        tick()
        while pending and tracker.ready(pending[0][0], index):
            tracker.smooth(pending[0][2])
            yield pending.popleft()
    while pending:
        tracker.smooth(pending[0][2])
        yield pending.popleft()


def track_faces(finder: FaceFinder, shot: Iterable[tuple[int, np.ndarray]], options: ExtractOptions,
                tick: Callable[[], None]) -> tuple[dict[int, list[Observation]], int]:  # fmt: skip
    """Pass 1 over a video or sequence ((frame, RGB uint8) in order): the faces of every frame that has one, tracked and
    smoothed, and the frames read."""
    found, read = {}, 0
    for index, _, faces in stream_faces(finder, ((index, rgb, None) for index, rgb in shot), options, tick):
        read += 1
        if faces:
            found[index] = faces
    return found, read


def shot_frames(path: Source, options: ExtractOptions, problems: dict[str, str]) -> Iterator[tuple[int, np.ndarray]]:
    """(frame, RGB uint8 in the working space) of a video or a sequence, every `every`-th."""
    if isinstance(path, Sequence):
        return ((number, working) for number, _, working, _ in plate_frames(path, options.plates, problems, options.every))
    return frames(path, options.every)


def _frame_file(path: Source, frame: int) -> Path:
    return dict(path.frames).get(frame, Path(path.pattern)) if isinstance(path, Sequence) else path


def _faces_of(finder: FaceFinder, path: Source, options: ExtractOptions, summary: ExtractSummary,
              tick: Callable[[], None]) -> Iterator[tuple[np.ndarray, Observation, bool]]:
    """(frame, face, smoothed) for every face to write from one photo, video or sequence."""
    if isinstance(path, Sequence) or path.suffix.lower() in VIDEO_EXTS:
        found, sampled = track_faces(finder, shot_frames(path, options, summary.skipped), options, tick)
        summary.frames += sampled
        summary.frames_without_face += sampled - len(found)
        for index, rgb in shot_frames(path, options, {}):
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


def _work(path: Source, every: int) -> int:
    """Progress units: one per photo, two per sampled video or sequence frame (find, then write)."""
    if isinstance(path, Sequence):
        return 2 * -(-len(path.frames) // every)
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
    paths = sources(inputs, summary, options.plates)
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
                crop = _write_face(out, names[str(path)], _frame_file(path, obs.frame), frame_rgb, obs, options.size, smoothed)
                summary.crops.append(crop)
                summary.faces += 1
        except StrictError:
            raise
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
        bar.set_postfix(faces=summary.faces, skipped=len(summary.skipped))
    bar.close()
    return summary
