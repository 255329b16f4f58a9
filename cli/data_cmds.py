"""`combtf demo-data`: the built-in synthetic face set."""
from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from combtf.data.synthetic import NAMES, write_demo_data
from combtf_cli.common import default_of, split_names


def _default(name: str) -> object:
    return default_of(write_demo_data, name)


@click.command("demo-data")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--identities", default=_default("identities"), show_default=True, type=click.IntRange(2, len(NAMES)), help="How many people.")
@click.option("--images", default=_default("images"), show_default=True, type=click.IntRange(1), help="Training images per identity.")
@click.option("--eval-images", default=_default("eval_images"), show_default=True, type=click.IntRange(1), help="Evaluation frames per identity.")
@click.option("--size", default=_default("size"), show_default=True, type=click.IntRange(8, 1024), help="Crop size in px.")
@click.option("--seed", default=_default("seed"), show_default=True, type=int)
@click.option("--closed-mouth", default=None, help="Comma-separated identities that never open their mouths in training.")
@click.option("--turns", is_flag=True, help="Heads turn (up to 40 degrees of yaw), each eye closes on its own, identities vary more widely.")
@click.option("--frontal", default=None, help="With --turns: comma-separated identities kept within 10 degrees of yaw in training.")
def demo_data(out: Path, identities: int, images: int, eval_images: int, size: int, seed: int, closed_mouth: str | None,
              turns: bool, frontal: str | None) -> None:  # fmt: skip
    """Write a synthetic multi-identity face set with masks and a ground-truth swap split."""
    from combtf.errors import CombtfError

    total = identities * (images + eval_images)
    with tqdm(total=total, unit="img", desc="rendering", delay=0.5) as bar:  # no bar before an early error
        try:
            summary = write_demo_data(out, identities, images, eval_images, size, seed, bar.update,
                                      tuple(split_names(closed_mouth) or ()), turns, tuple(split_names(frontal) or ()))  # fmt: skip
        except FileExistsError as exc:
            raise CombtfError(f"{out}: already exists and is not empty") from exc
        except ValueError as exc:
            option = "--frontal" if "frontal" in str(exc) else "--closed-mouth"
            raise CombtfError(f"{option}: {exc}") from exc
    click.echo(f"wrote {', '.join(summary['identities'])}: training crops in {out}/train, ground-truth swaps in {out}/eval")
