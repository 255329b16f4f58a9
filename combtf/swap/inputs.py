"""What `combtf swap --input` names: the files and sequences, and whether they are aligned crops or full frames."""
from __future__ import annotations

import glob
from pathlib import Path

from combtf.errors import CombtfError
from combtf.faces.extract import Source
from combtf.faces.sequence import PlateOptions, expand
from combtf.faces.video import VIDEO_EXTS
from combtf.io.images import IMAGE_EXTS, list_images
from combtf.io.plates import is_plate
from combtf.io.sequences import Sequence

MODES = ("auto", "crops", "frames")  # the first is the default; auto: videos, and images with no sidecar and no masks/ folder, are frames


def resolve_inputs(spec: str | None, default_folder: Path, plates: PlateOptions | None = None) -> list[Source]:
    """A file, a folder or a glob of crops, photos or videos, or plate sequences (a pattern such as shot.%04d.exr or
    shot.####.exr, a plate file, a folder's EXR/DPX/TIFF); by default the target's training images."""
    if spec is None:
        if not default_folder.is_dir():
            raise CombtfError(f"{default_folder}: the target's training folder is gone; pass --input")
        paths: list[Source] = list(list_images(default_folder))
    else:
        paths = list(expand(spec, plates or PlateOptions(), recursive=False) or [])
        if Path(spec).is_dir():
            paths += sorted(p for p in Path(spec).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS)
        elif Path(spec).is_file():
            paths = paths or [Path(spec)]
        elif not paths:
            paths = [Sequence(p, [(0, Path(p))]) if is_plate(Path(p)) else Path(p) for p in sorted(glob.glob(spec)) if Path(p).is_file()]
    if not paths:
        raise CombtfError(f"{spec or default_folder}: no input images, plates or videos found")
    return paths


def is_frame_input(path: Source) -> bool:
    """Videos, sequences, and images that are not aligned crops (crops have a sidecar or a masks/ folder beside them)."""
    if isinstance(path, Sequence) or path.suffix.lower() in VIDEO_EXTS:
        return True
    return path.suffix.lower() in IMAGE_EXTS and not (path.with_suffix(".json").is_file() or (path.parent / "masks").is_dir())
