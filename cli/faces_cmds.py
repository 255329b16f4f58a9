"""`combtf extract` and `combtf import-dfl`: real faces into the training layout."""
from __future__ import annotations

from pathlib import Path

import click

from combtf.faces.extract import FACES, ExtractOptions
from combtf_cli.common import plate_options, plate_settings

_DEFAULTS = ExtractOptions()
_SIZE = click.option("--size", default=_DEFAULTS.size, show_default=True, type=click.IntRange(16, 2048), help="Crop size in px.")
_IDENTITY = click.option("--identity", required=True, help="Folder name of the person (DIR/NAME).")
_DATA = click.option("--data", required=True, type=click.Path(file_okay=False, path_type=Path), help="Training data folder.")


def _report(summary, out: Path) -> None:  # noqa: ANN001 - ExtractSummary
    click.echo(
        f"{summary.files} files, {summary.frames} frames read; {summary.faces} faces written to {out}; "
        f"{summary.frames_without_face} frames without a face; {len(summary.skipped)} files skipped"
    )
    for path, reason in sorted(summary.skipped.items()):
        click.echo(f"  skipped {path}: {reason}")


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@_IDENTITY
@_DATA
@_SIZE
@click.option("--every", default=_DEFAULTS.every, show_default=True, type=click.IntRange(1), help="Use every N-th video frame.")
@click.option("--face", type=click.Choice(FACES), default=_DEFAULTS.face, show_default=True, help="Faces per frame.")
@click.option("--min-face", default=_DEFAULTS.min_face, show_default=True, type=click.FloatRange(0), help="Ignore faces smaller than this (px).")
@click.option("--smooth", default=_DEFAULTS.smooth, show_default=True, type=click.FloatRange(0),
              help="Landmark smoothing over time in video frames (Gaussian sigma; 0: off).")
@plate_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def extract(inputs: tuple[str, ...], identity: str, data: Path, size: int, every: int, face: str, min_face: float, smooth: float,
            frame_range: str | None, strict: bool, colorspace: str | None, ocio_config: str, quiet: bool) -> None:
    """Find faces in photos, folders, videos and plate sequences (shot.%04d.exr, shot.####.dpx); write aligned crops,
    masks and sidecars to DATA/IDENTITY."""
    from combtf.faces.extract import extract as run

    plates = plate_settings(frame_range, strict, colorspace, ocio_config)
    summary = run(inputs, identity, data, ExtractOptions(size, every, face, min_face, smooth, plates=plates), progress=not quiet)
    _report(summary, data / identity)


@click.command("import-dfl")
@click.argument("aligned", type=click.Path(path_type=Path))
@_IDENTITY
@_DATA
@_SIZE
def import_dfl(aligned: Path, identity: str, data: Path, size: int) -> None:
    """Re-align DeepFaceLab aligned JPEGs (and their xseg masks) into DATA/IDENTITY."""
    from combtf.faces.dfl import import_dfl as run

    _report(run(aligned, identity, data, size), data / identity)
