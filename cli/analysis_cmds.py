"""`combtf latent-plot` and `combtf coverage`: look inside a trained run's latent space."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from combtf.analysis.latent_map import METHODS
from combtf.config import INFERENCE_PRECISIONS
from combtf_cli.common import split_names

if TYPE_CHECKING:
    from combtf.swap.from_run import TrainedModel


def _load(model: str | None, precision: str) -> TrainedModel:
    from combtf.model.precision import choose
    from combtf.swap.from_run import load_trained
    from combtf.training.run_folder import find_run

    return load_trained(find_run(model), choose(precision)[0])


def _sampled_frames(command: Callable) -> Callable:
    """The options both commands take to choose a run and the frames to encode."""
    options = [
        click.option("--model", default=None, help="Run folder (default: the newest under runs/)."),
        click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
                     help="One folder per identity (default: the run's training data)."),
        click.option("--identities", default=None, help="Comma-separated identities (default: all in the data)."),
        click.option("--max-samples", type=int, default=500, show_default=True, help="Frames per identity, evenly spaced."),
        click.option("--precision", type=click.Choice(INFERENCE_PRECISIONS), default="auto", show_default=True,
                     help="Compute precision of the encoder and decoders; auto: bfloat16 where the hardware runs it fast."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@click.command("latent-plot")
@_sampled_frames
@click.option("--level", type=int, default=None, help="Level to encode at (default: the run's last).")
@click.option("--method", type=click.Choice(METHODS), default=METHODS[0], show_default=True)
@click.option("--centre", is_flag=True, help="Standardise each identity's codes first, as latent matching does for swaps.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("latent.png"), show_default=True)
def latent_plot(model: str | None, data_dir: Path | None, identities: str | None, max_samples: int, precision: str,
                level: int | None, method: str, centre: bool, out: Path) -> None:
    """Scatter plot of every identity's latent codes in 2-D, and an overlap score per pair."""
    import numpy as np

    from combtf.analysis.latent_codes import check_level, sample_frames
    from combtf.analysis.latent_map import centred, overlap, plot, reduce, split
    from combtf.levels import resolution

    trained = _load(model, precision)
    level = check_level(trained, level)
    folder = data_dir or Path(trained.config.data or ".")
    with tqdm(unit="frame", desc="encoding", delay=0.5) as bar:
        frames = sample_frames(trained, folder, split_names(identities), level, max_samples, progress=bar.update)
    codes = centred(frames.codes) if centre else frames.codes
    points = split(reduce(np.concatenate(list(codes.values())), method), codes)
    title = f"{trained.run.name}: level {frames.level} ({resolution(frames.level)} px), {method}{', centred' if centre else ''}"
    plot(points, title, out)
    click.echo(f"plot written to {out}")
    click.echo("overlap: share of A's codes with a B code among their 10 nearest neighbours")
    for (a, b), score in overlap(codes).items():
        click.echo(f"  {a:>10} -> {b:<10} {score:.3f}")


@click.command("coverage")
@_sampled_frames
@click.option("--method", type=click.Choice(METHODS), default=METHODS[0], show_default=True, help="2-D map in the page.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("coverage.html"), show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the result here.")
def coverage(model: str | None, data_dir: Path | None, identities: str | None, max_samples: int, precision: str,
             method: str, out: Path, json_out: Path | None) -> None:  # fmt: skip
    """For every pair (A, B): the frames of A that B's decoder cannot render, why, and what B's data lack, as one HTML page."""
    import json

    import numpy as np

    from combtf.analysis import coverage as cov
    from combtf.analysis.coverage_page import write_report
    from combtf.analysis.latent_codes import sample_frames
    from combtf.analysis.latent_map import centred, reduce
    from combtf.io.atomic import write_atomic

    trained = _load(model, precision)  # at its last level: the one swaps use
    folder = data_dir or Path(trained.config.data or ".")
    with tqdm(unit="frame", desc="encoding", delay=0.5) as bar:
        frames = sample_frames(trained, folder, split_names(identities), trained.level, max_samples, progress=bar.update)
    passes = len(frames.identities) ** 2  # every decoder on every identity's frames, its own included
    with tqdm(total=passes, unit="pass", desc="rendering", delay=0.5) as bar:
        result = cov.measure(trained, frames, progress=bar.update)
    codes = centred(frames.codes)
    points = reduce(np.concatenate([codes[n] for n in frames.identities]), method)
    write_report(result, points, cov.neighbours(frames), out)
    if json_out:
        write_atomic(json_out, (json.dumps(result.to_json(), indent=1) + "\n").encode())
    click.echo(f"coverage report written to {out}" + (f", JSON to {json_out}" if json_out else ""))
    for pair in result.pairs:
        by = {e: sum(pair.flagged_by(i) == e for i in pair.uncovered) for e in cov.EVIDENCE}
        click.echo(f"  {pair.source:>10} -> {pair.target:<10} coverage {pair.coverage:.3f} "
                   f"({len(pair.uncovered)} of {pair.frames} frames uncovered; flagged by "
                   + ", ".join(f"{e}: {n}" for e, n in by.items()) + ")")
        for line in pair.missing()[:3]:
            click.echo(f"  {'':>10}    {line}")
