"""Full photos and videos of the target in, the source's face blended into every frame out.

Each frame goes through exactly what `combtf extract` does (the same detector, landmark
tracking and temporal smoothing, the same crop affine), the crop is swapped by the model, the
result and its mask are warped back with the inverse affine into the face's region only, and
`blend` puts it in. Frames without a face pass through untouched; videos keep frame rate,
length and audio, and carry a synthetic-media note in their metadata.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from combtf import blend
from combtf.errors import CombtfError
from combtf.faces.align import apply, invert, warp
from combtf.faces.extract import ExtractOptions, FaceCounts, FaceFinder, video_faces
from combtf.faces.masks import face_mask
from combtf.faces.track import Observation
from combtf.faces.video import VIDEO_EXTS, VideoWriter, frames, probe
from combtf.images import IMAGE_EXTS, read_image, write_png
from combtf.provenance import note, png_text
from combtf.swap import Swapper


@dataclass
class BlendOptions:
    how: str = "paper"
    color: str = "none"
    coarse: int = 2  # paper: coarsest pyramid levels taken from the frame
    erode: int = 0  # px in the frame
    feather: int = 0  # px in the frame, on top of the mask's own feathering


@dataclass
class FrameSummary(FaceCounts):
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)


def is_frame_input(path: Path) -> bool:
    """Videos, and images that are not aligned crops (crops have a sidecar or a masks/ folder beside them)."""
    if path.suffix.lower() in VIDEO_EXTS:
        return True
    return path.suffix.lower() in IMAGE_EXTS and not (path.with_suffix(".json").is_file() or (path.parent / "masks").is_dir())


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
    """Every input photo or video with `source`'s face put over `target`'s; outputs never overwrite inputs."""
    extract = extract or ExtractOptions(every=1)
    finder, replacer = FaceFinder(extract), FaceReplacer(swapper, source, target, match, options)
    summary, start = FrameSummary(), time.perf_counter()
    model_note = f"{swapper.run}, source {source}, target {target}"
    photos = tqdm(total=sum(p.suffix.lower() not in VIDEO_EXTS for p in inputs), unit="photo", desc="swapping photos",
                  disable=not progress, delay=0.5)  # fmt: skip
    for path in inputs:
        dest = _output_for(path, output, len(inputs) == 1)
        if dest.resolve() == path.resolve():
            raise CombtfError(f"{dest}: output would overwrite its input")
        try:
            if path.suffix.lower() in VIDEO_EXTS:
                _swap_video(path, dest, finder, replacer, extract, summary, model_note, progress)
            else:
                rgb, _ = read_image(path)
                faces = finder(0, rgb)
                write_png(dest, replacer(rgb, faces), png_text(model_note))
                summary.frames += 1
                summary.faces += len(faces)
                summary.frames_without_face += not faces
                photos.update()
            summary.written.append(dest)
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
    photos.close()
    summary.seconds = time.perf_counter() - start
    return summary


def _swap_video(path: Path, dest: Path, finder: FaceFinder, replacer: FaceReplacer, extract: ExtractOptions,
                summary: FrameSummary, model_note: str, progress: bool) -> None:  # fmt: skip
    """Two passes with a bar each: landmarks of every frame (tracked, smoothed), then swap, blend and encode."""
    total = probe(path).frames or None
    with tqdm(total=total, unit="frame", desc=f"finding faces in {path.name}", disable=not progress) as bar:
        found, _ = video_faces(finder, path, extract, bar.update)
    metadata = {"comment": note(model_note), "description": note(model_note), "synthetic": "true"}
    with VideoWriter(dest, path, metadata) as writer, tqdm(total=total, unit="frame", desc=f"swapping {path.name}", disable=not progress) as bar:
        for index, rgb in frames(path):
            faces = found.get(index, [])
            writer.write(replacer(rgb, faces) if faces else rgb)
            summary.frames += 1
            summary.faces += len(faces)
            summary.frames_without_face += not faces
            bar.update()
