"""`combtf latent-plot`: look inside a trained run's latent space."""
from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from cli.common import split_names


@click.command("latent-plot")
@click.option("--model", default=None, help="Run folder (default: the newest under runs/).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None,
              help="One folder per identity (default: the run's training data).")
@click.option("--identities", default=None, help="Comma-separated identities (default: all in the data).")
@click.option("--level", type=int, default=None, help="Level to encode at (default: the run's last).")
@click.option("--method", type=click.Choice(["tsne", "pca", "umap"]), default="tsne", show_default=True)
@click.option("--max-samples", type=int, default=500, show_default=True, help="Frames per identity, evenly spaced.")
@click.option("--centre", is_flag=True, help="Standardise each identity's codes first, as latent matching does for swaps.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("latent.png"), show_default=True)
def latent_plot(model: str | None, data_dir: Path | None, identities: str | None, level: int | None, method: str,
                max_samples: int, centre: bool, out: Path) -> None:
    """Scatter plot of every identity's latent codes in 2-D, and an overlap score per pair."""
    import numpy as np

    from combtf.latent_space import check_level, overlap, plot, reduce, sample_frames, split
    from combtf.levels import resolution
    from combtf.run import find_run, load_trained

    trained = load_trained(find_run(model))
    level = check_level(trained, level)
    folder = data_dir or Path(trained.config.data or ".")
    with tqdm(unit="frame", desc="encoding", delay=0.5) as bar:
        frames = sample_frames(trained, folder, split_names(identities), level, max_samples, progress=bar.update)
    codes = frames.codes
    if centre:
        codes = {name: (c - c.mean(0)) / np.maximum(c.std(0), 1e-4) for name, c in codes.items()}
    points = split(reduce(np.concatenate(list(codes.values())), method), frames)
    title = f"{trained.run.name}: level {frames.level} ({resolution(frames.level)} px), {method}{', centred' if centre else ''}"
    plot(points, title, out)
    click.echo(f"plot written to {out}")
    click.echo("overlap: share of A's codes with a B code among their 10 nearest neighbours")
    for (a, b), score in overlap(codes).items():
        click.echo(f"  {a:>10} -> {b:<10} {score:.3f}")
