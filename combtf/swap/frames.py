"""Full photos and videos of the target in, the source's face blended into every frame out.

Each frame goes through exactly what `combtf extract` does (the same detector, landmark
tracking and temporal smoothing, the same crop affine), the crop is swapped by the model, the
result and its mask are warped back with the inverse affine into the face's region only, and
`blend` puts it in. Frames without a face pass through untouched; videos keep frame rate,
length and audio, and carry a synthetic-media note in their metadata. Inputs in which no frame
holds a face are not swaps: a video without one is skipped, and when no input holds a face
nothing is written and `NoFaceError` says so.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from combtf.errors import CombtfError
from combtf.faces.align import apply, invert, warp
from combtf.faces.extract import ExtractOptions, FaceCounts, FaceFinder, video_faces
from combtf.faces.masks import face_mask
from combtf.faces.track import Observation
from combtf.faces.video import VIDEO_EXTS, VideoWriter, frames, probe
from combtf.io.images import IMAGE_EXTS, read_image, write_png
from combtf.io.provenance import note, png_text
from combtf.swap import blend
from combtf.swap.blend import BlendOptions
from combtf.swap.swapper import Swapper


@dataclass
class FrameSummary(FaceCounts):
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)


class NoFaceError(CombtfError):
    """No frame of any input holds a face: nothing was swapped, so nothing was written."""

    def __init__(self, message: str, summary: FrameSummary) -> None:
        super().__init__(message)
        self.summary = summary


class FaceReplacer:
    """One frame and its faces in, the blended frame out."""

    def __init__(self, swapper: Swapper, source: str, target: str, match: bool, options: BlendOptions) -> None:
        self.swapper, self.source, self.target, self.match, self.options = swapper, source, target, match, options

    def __call__(self, rgb: np.ndarray, faces: list[Observation]) -> np.ndarray:
        for obs in faces:
            rgb = self._one(rgb, obs)
        return rgb

    def _one(self, rgb: np.ndarray, obs: Observation) -> np.ndarray:
        size = self.swapper.resolution
        matrix = obs.affine(size)
        crop = warp(rgb, matrix, (size, size))
        swapped = np.asarray(self.swapper.swap(crop[None].astype(np.float32) / 255.0, self.source, self.target, self.match))[0]
        face = (np.clip(swapped, 0, 1) * 255 + 0.5).astype(np.uint8)
        corners = apply(invert(matrix), np.array([[0.0, 0], [size, 0], [0, size], [size, size]]))
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, [rgb.shape[1], rgb.shape[0]])
        if x1 <= x0 or y1 <= y0:
            return rgb
        region_to_crop = matrix.copy()
        region_to_crop[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)
        back = invert(region_to_crop)
        roi = (int(x1 - x0), int(y1 - y0))
        face_roi = warp(face, back, roi)
        # The mask is drawn in the frame from the frame's landmarks: as sharp at 64 px models as at 1024 px.
        mask_roi = blend.prepare_mask(face_mask(obs.landmarks - [x0, y0], roi), self.options.erode, self.options.feather)
        out = rgb.copy()
        out[y0:y1, x0:x1] = blend.blend(face_roi, rgb[y0:y1, x0:x1], mask_roi, self.options.how, self.options.color, self.options.coarse)
        return out


def _output_for(path: Path, output: Path, single: bool) -> Path:
    """Photos become PNGs (lossless, with the synthetic note), videos keep their container."""
    if single and output.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS:
        is_video = path.suffix.lower() in VIDEO_EXTS
        if (output.suffix.lower() in VIDEO_EXTS) != is_video or (not is_video and output.suffix.lower() != ".png"):
            wanted = "a video name (.mp4, .mov, .avi, .mkv)" if is_video else "a .png name"
            raise CombtfError(f"--output {output}: {path.name} needs {wanted} or a folder")
        return output
    return output / (path.name if path.suffix.lower() in VIDEO_EXTS else f"{path.stem}.png")


def swap_frames(
    swapper: Swapper,
    source: str,
    target: str,
    inputs: list[Path],
    output: Path,
    options: BlendOptions,
    match: bool = True,
    progress: bool = False,
    extract: ExtractOptions | None = None,
) -> FrameSummary:
    """Every input photo or video with `source`'s face put over `target`'s; outputs never overwrite inputs.

    Photos without a face are written unchanged once some input has shown a face, never before."""
    extract = extract or ExtractOptions(every=1)
    finder, replacer = FaceFinder(extract), FaceReplacer(swapper, source, target, match, options)
    summary, start = FrameSummary(), time.perf_counter()
    model_note = f"{swapper.run}, source {source}, target {target}"
    waiting: list[tuple[Path, Path]] = []  # photos without a face, written once a face shows that this is footage of one
    photos = tqdm(total=sum(p.suffix.lower() not in VIDEO_EXTS for p in inputs), unit="photo", desc="swapping photos",
                  disable=not progress, delay=0.5)  # fmt: skip
    for path in inputs:
        dest = _output_for(path, output, len(inputs) == 1)
        if dest.resolve() == path.resolve():
            raise CombtfError(f"{dest}: output would overwrite its input")
        try:
            if path.suffix.lower() in VIDEO_EXTS:
                _swap_video(path, dest, finder, replacer, extract, summary, model_note, progress)
                summary.written.append(dest)
            else:
                rgb, _ = read_image(path)
                faces = finder(0, rgb)
                summary.frames += 1
                summary.faces += len(faces)
                summary.frames_without_face += not faces
                photos.update()
                if not summary.faces:
                    waiting.append((path, dest))
                    continue
                _write_photo(dest, replacer(rgb, faces), model_note, summary)
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
        if summary.faces:
            for waited, waited_dest in waiting:
                _write_photo(waited_dest, read_image(waited)[0], model_note, summary)
            waiting.clear()
    photos.close()
    summary.seconds = time.perf_counter() - start
    if not summary.faces:
        where = str(inputs[0]) if len(inputs) == 1 else f"{len(inputs)} inputs"
        unreadable = f" ({len(summary.skipped)} skipped)" if summary.skipped else ""
        raise NoFaceError(f"{where}: no face found in any of the {summary.frames} frames{unreadable}; nothing written", summary)
    return summary


def _write_photo(dest: Path, rgb: np.ndarray, model_note: str, summary: FrameSummary) -> None:
    write_png(dest, rgb, png_text(model_note))
    summary.written.append(dest)


def _swap_video(path: Path, dest: Path, finder: FaceFinder, replacer: FaceReplacer, extract: ExtractOptions,
                summary: FrameSummary, model_note: str, progress: bool) -> None:  # fmt: skip
    """Two passes with a bar each: landmarks of every frame (tracked, smoothed), then swap, blend and encode.
    A video in which no frame holds a face is not written."""
    total = probe(path).frames or None
    with tqdm(total=total, unit="frame", desc=f"finding faces in {path.name}", disable=not progress) as bar:
        found, read = video_faces(finder, path, extract, bar.update)
    if not found:
        summary.frames += read
        summary.frames_without_face += read
        raise CombtfError(f"{path}: no face in any of its {read} frames; not written")
    metadata = {"comment": note(model_note), "description": note(model_note), "synthetic": "true"}
    with VideoWriter(dest, path, metadata) as writer, tqdm(total=total, unit="frame", desc=f"swapping {path.name}", disable=not progress) as bar:
        for index, rgb in frames(path):
            faces = found.get(index, [])
            writer.write(replacer(rgb, faces) if faces else rgb)
            summary.frames += 1
            summary.faces += len(faces)
            summary.frames_without_face += not faces
            bar.update()
