"""Full photos, videos and plate sequences of the target in, the source's face blended into every frame out.

Each frame goes through exactly what `combtf extract` does (the same detector, landmark
tracking and temporal smoothing, the same crop affine), the crop is swapped by the model and
`replace.FaceReplacer` puts it back into the face's region only. Frames without a face pass
through untouched; videos keep frame rate, length and audio; plates keep their format, depth,
channels and header, and every pixel no mask reaches is returned as read. Every output carries
a synthetic-media note in its metadata, and every video and sequence gets a flicker figure
(`flicker.py`). Inputs in which no frame holds a face are not swaps: a video or sequence
without one is skipped, and when no input holds a face nothing is written and `NoFaceError`
says so.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from combtf.errors import CombtfError
from combtf.faces.extract import ExtractOptions, FaceCounts, FaceFinder, Source, shot_frames, stream_faces, track_faces
from combtf.faces.sequence import StrictError, plate_frames
from combtf.faces.track import Observation
from combtf.faces.video import VIDEO_EXTS, VideoWriter, frames, probe
from combtf.io.images import IMAGE_EXTS, read_image, write_png
from combtf.io.plates import Plate, read_plate
from combtf.io.provenance import note, png_text
from combtf.io.sequences import Sequence
from combtf.swap.blend import BlendOptions
from combtf.swap.flicker import FlickerMeter
from combtf.swap.layers import write_layers, write_plate_frame
from combtf.swap.replace import FaceReplacer, Replaced, working_uint8
from combtf.swap.swapper import Swapper


@dataclass
class FrameSummary(FaceCounts):
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    flicker: dict[str, float | None] = field(default_factory=dict)  # video or sequence -> output/input change (flicker.py)


class NoFaceError(CombtfError):
    """No frame of any input holds a face: nothing was swapped, so nothing was written."""

    def __init__(self, message: str, summary: FrameSummary) -> None:
        super().__init__(message)
        self.summary = summary


def _output_for(path: Source, output: Path, single: bool) -> Path:
    """Photos become PNGs (lossless, with the synthetic note), videos keep their container, sequences their names."""
    if isinstance(path, Sequence):
        if output.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS or output.is_file():
            raise CombtfError(f"--output {output}: a sequence ({path}) needs a folder")
        if output.resolve() == Path(path.pattern).parent.resolve():
            raise CombtfError(f"--output {output}: the sequence's own folder; its frames would be overwritten")
        return output
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
    inputs: list[Source],
    output: Path,
    options: BlendOptions,
    match: bool = True,
    progress: bool = False,
    extract: ExtractOptions | None = None,
    layers: bool = False,
) -> FrameSummary:
    """Every input photo, video or sequence with `source`'s face put over `target`'s; outputs never overwrite inputs.

    Photos without a face are written unchanged once some input has shown a face, never before.
    `layers`: the compositing layers too (`layers.py`)."""
    extract = extract or ExtractOptions(every=1)
    if layers and any(isinstance(p, Path) and p.suffix.lower() in VIDEO_EXTS for p in inputs):
        raise CombtfError("--layers: videos get no layers; extract the frames to a sequence (EXR, TIFF, PNG) and swap that")
    finder, replacer = FaceFinder(extract), FaceReplacer(swapper, source, target, match, options, layers)
    summary, start = FrameSummary(), time.perf_counter()
    model_note = f"{swapper.run}, source {source}, target {target}"
    waiting: list[tuple[Path, Path]] = []  # photos without a face, written once a face shows that this is footage of one
    photos = tqdm(total=sum(isinstance(p, Path) and p.suffix.lower() not in VIDEO_EXTS for p in inputs), unit="photo",
                  desc="swapping photos", disable=not progress, delay=0.5)  # fmt: skip
    for path in inputs:
        dest = _output_for(path, output, len(inputs) == 1)
        if isinstance(path, Path) and dest.resolve() == path.resolve():
            raise CombtfError(f"{dest}: output would overwrite its input")
        try:
            if isinstance(path, Sequence) or path.suffix.lower() in VIDEO_EXTS:
                _swap_shot(path, dest, finder, replacer, extract, summary, model_note, progress)
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
                _write_photo(dest, rgb, faces, replacer, model_note, summary)
        except StrictError:
            raise
        except CombtfError as exc:
            summary.skipped[str(path)] = str(exc).removeprefix(f"{path}: ")
        if summary.faces:
            for waited, waited_dest in waiting:
                _write_photo(waited_dest, read_image(waited)[0], [], replacer, model_note, summary)
            waiting.clear()
    photos.close()
    summary.seconds = time.perf_counter() - start
    if not summary.faces:
        where = str(inputs[0]) if len(inputs) == 1 else f"{len(inputs)} inputs"
        unreadable = f" ({len(summary.skipped)} skipped)" if summary.skipped else ""
        raise NoFaceError(f"{where}: no face found in any of the {summary.frames} frames{unreadable}; nothing written", summary)
    return summary


def _write_photo(dest: Path, rgb: np.ndarray, faces: list[Observation], replacer: FaceReplacer, model_note: str,
                 summary: FrameSummary) -> None:  # fmt: skip
    replaced = replacer.replace(rgb.astype(np.float32) / 255.0, None, faces)
    write_png(dest, working_uint8(replaced.plate), png_text(model_note))
    if replacer.layers:
        write_layers(dest, None, replaced, model_note, {"source_file": str(dest.name)})
    summary.written.append(dest)


def _swap_shot(path: Source, dest: Path, finder: FaceFinder, replacer: FaceReplacer, extract: ExtractOptions,
               summary: FrameSummary, model_note: str, progress: bool) -> None:  # fmt: skip
    """A video or a sequence; one in which no frame holds a face is not written."""
    meter = FlickerMeter()
    if isinstance(path, Sequence):
        _swap_sequence(path, dest, finder, replacer, extract, summary, model_note, progress, meter)
    else:
        _swap_video(path, dest, finder, replacer, extract, summary, model_note, progress, meter)
    summary.flicker[str(path)] = meter.flicker


def _swap_video(path: Path, dest: Path, finder: FaceFinder, replacer: FaceReplacer, extract: ExtractOptions,
                summary: FrameSummary, model_note: str, progress: bool, meter: FlickerMeter) -> None:  # fmt: skip
    """Two passes with a bar each (decoding is cheap, and the writer must know there is a face before it starts):
    landmarks of every frame (tracked, smoothed), then swap, blend and encode."""
    total = probe(path).frames or None
    with tqdm(total=total, unit="frame", desc=f"finding faces in {path.name}", disable=not progress) as bar:
        found, read = track_faces(finder, shot_frames(path, extract, summary.skipped), extract, bar.update)
    if not found:
        summary.frames += read
        summary.frames_without_face += read
        raise CombtfError(f"{path}: no face in any of its {read} frames; not written")
    metadata = {"comment": note(model_note), "description": note(model_note), "synthetic": "true"}
    with VideoWriter(dest, path, metadata) as writer, tqdm(total=total, unit="frame", desc=f"swapping {path.name}",
                                                           disable=not progress) as bar:  # fmt: skip
        for index, rgb in frames(path):
            faces = found.get(index, [])
            replaced = replacer.replace(rgb.astype(np.float32) / 255.0, None, faces) if faces else None
            writer.write(working_uint8(replaced.plate) if replaced else rgb)
            _count(summary, faces, meter, replaced)
            bar.update()
    summary.written.append(dest)


def _swap_sequence(sequence: Sequence, dest: Path, finder: FaceFinder, replacer: FaceReplacer, extract: ExtractOptions,
                   summary: FrameSummary, model_note: str, progress: bool, meter: FlickerMeter) -> None:  # fmt: skip
    """One pass: each plate is read once (and converted, on a second thread), its faces found and smoothed as frames
    come, and it is swapped once the smoothing's reach after it is in, then written on a third thread. Frames before
    the first face are read again and written once a face shows, so a sequence without one writes nothing."""
    name, plates = Path(sequence.pattern).name, extract.plates
    shot = ((number, working, (plate, rgb)) for number, plate, working, rgb in plate_frames(sequence, plates, summary.skipped, rgb=True))
    faceless: list[tuple[int, Path]] = []  # frames before the first face: their names only, not their pixels
    seen_face = False
    with ThreadPoolExecutor(1) as writer, tqdm(total=len(sequence.frames), unit="frame", desc=f"swapping {name}",
                                               disable=not progress) as bar:  # fmt: skip
        pending: list[Future] = []

        def write(plate: Plate, rgb: np.ndarray, number: int, faces: list[Observation]) -> Replaced:
            replaced = replacer.replace(rgb, plates.conversion(plate), faces)
            while pending and (len(pending) > 1 or pending[0].done()):  # one frame waits at most
                summary.written.append(pending.pop(0).result())
            pending.append(writer.submit(write_plate_frame, dest, plate, replaced, model_note, number, replacer.layers))
            return replaced

        for number, (plate, rgb), faces in stream_faces(finder, shot, extract, bar.update):
            if not seen_face and not faces:
                faceless.append((number, plate.path))
                continue
            if not seen_face:  # the first face: the frames before it are part of the shot
                seen_face = True
                for earlier_number, earlier in faceless:
                    again = read_plate(earlier)
                    write(again, again.rgb(), earlier_number, [])
                    _count(summary, [], meter, None)
            _count(summary, faces, meter, write(plate, rgb, number, faces))
        for future in pending:
            summary.written.append(future.result())
    if not seen_face:
        summary.frames += len(faceless)
        summary.frames_without_face += len(faceless)
        raise CombtfError(f"{sequence}: no face in any of its {len(faceless)} frames; not written")


def _count(summary: FrameSummary, faces: list[Observation], meter: FlickerMeter, replaced: Replaced | None) -> None:
    summary.frames += 1
    summary.faces += len(faces)
    summary.frames_without_face += not faces
    first = faces[0] if faces else None
    meter.add(replaced.seen if replaced else None, None if first is None else (first.landmarks if first.aligned is None else first.aligned))
