"""`combtf train`: options override the YAML config, which overrides the defaults (`TrainConfig`)."""
from __future__ import annotations

import time
from pathlib import Path

import click

from combtf.config import LOSSES, OPTIMIZERS, PRECISIONS, STRATEGIES, TrainConfig
from combtf_cli.common import split_names

# (option, type, help); the help's [default] is read off TrainConfig
_OPTIONS = [
    ("--data", str, "Folder with one sub-folder of face crops per identity."),
    ("--out", str, "Run folder (default runs/<timestamp>)."),
    ("--max-resolution", int, "Final level's size in px (4 * 2**k, up to 1024)."),
    ("--start-resolution", int, "First level's size in px."),
    ("--width", float, "Multiplier on every channel count of the paper's table (min 4 channels)."),
    ("--latent-dim", int, "Channels of the shared latent code."),
    ("--latent-size", int, "Latent code's side: 1 (reference) or 4 (spatial 4x4)."),
    ("--shared-decoder-levels", int, "Decoder levels shared by all identities (paper: 2, reference: 0)."),
    ("--batch-size", int, "Images per identity per step."),
    ("--images-per-level", int, "Images per identity per level: half fade-in, half stabilise."),
    ("--final-images", int, "Images per identity the final level trains after its fade-in (default: half of --images-per-level)."),
    ("--lr", float, "Learning rate."),
    ("--optimizer", click.Choice(OPTIMIZERS), "adam, or sgd with momentum 0.9."),
    ("--loss", click.Choice(LOSSES), "Masked SSIM, or MS-SSIM at levels >= 128 px."),
    ("--l1-weight", float, "Weight of an extra masked L1 term."),
    ("--eyes-mouth-weight", float, "Weight of a masked L1 term over the eye and mouth boxes alone."),
    ("--detail-weight", float, "Weight of a gradient-difference term over the eye and mouth boxes."),
    ("--expression-balance", float, "Draw rare expressions more often: crops by density**-this, 0-1 (0: uniformly)."),
    ("--swap-cycle-weight", float, "Weight of the swap cycle: swaps must encode back to their frame's code."),
    ("--latent-match", float, "How far swaps move the target's code to the source's statistics, 0-1."),
    ("--affine-amount", float, "Random rotation, scale and shift, as a multiple of +-10 degrees, +-5 % and +-5 %."),
    ("--warp-amount", float, "Random warp: how far grid points move, in grid cells (faceswap: ~0.08)."),
    ("--clip-norm", float, "Clip the global gradient norm to this (0: off)."),
    ("--weight-average", float, "Momentum of the weight average that swaps and exports use (0: off)."),
    ("--precision", click.Choice(PRECISIONS), "auto picks bf16 where the hardware runs it fast."),
    ("--seed", int, "Seed for weights and data order."),
    ("--min-score", float, "Score gate: repeat a level until masked SSIM reaches this."),
    ("--max-repeats", int, "Score gate: at most this many repeats per level."),
    ("--preview-every", int, "Write a preview grid every N steps (0: only at level ends)."),
    ("--checkpoint-every", int, "Checkpoint every N steps (and at every phase end)."),
    ("--keep-checkpoints", int, "How many of the newest checkpoints to keep."),
]
_FLAGS = [
    ("progressive", "Grow from --start-resolution, or train the final level alone."),
    ("flip", "Random horizontal flips."),
    ("affine", "Random rotation, scale and shift."),
    ("warp", "Random warp of the encoder input (DeepFaceLab style)."),
    ("color", "Random brightness, contrast and saturation."),
    ("mirror-average", "Swaps average the frame's swap with its mirror image's, mirrored back (twice the swap time)."),
]
_DEFAULTS = TrainConfig()


def _with_default(name: str, text: str) -> str:
    default = getattr(_DEFAULTS, name.replace("-", "_"))
    if isinstance(default, bool):
        return f"{text} [{'on' if default else 'off'}]"
    return text if default is None else f"{text} [{default}]"


def _options(func):  # noqa: ANN001, ANN202 - click decorator plumbing
    for flag, kind, text in reversed(_OPTIONS):
        func = click.option(flag, type=kind, default=None, help=_with_default(flag.removeprefix("--"), text))(func)
    for name, text in reversed(_FLAGS):
        func = click.option(f"--{name}/--no-{name}", default=None, help=_with_default(name, text))(func)
    return func


@click.command()
@_options
@click.option("--identities", default=None, help="Comma-separated identity folders to use (default: all).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML file of options.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint.")
@click.option("--stop-after", type=click.IntRange(1), default=None, help="Checkpoint and stop after N steps.")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Checkpoint and stop after this many minutes (--resume continues).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default=STRATEGIES[0],
              help="tf.distribute strategy: auto = multiworker when TF_CONFIG names several workers, "
                   f"mirrored when several GPUs are visible, else default. [{STRATEGIES[0]}]")
def train(
    config_path: Path | None, resume: bool, stop_after: int | None, time_limit: float | None, quiet: bool, identities: str | None,
    strategy: str, **options
) -> None:
    """Train a comb model progressively, level by level, on the identity folders in --data."""
    from combtf.config import load_config
    from combtf.errors import CombtfError
    from combtf.levels import resolution
    from combtf.training.loop import train as run_training

    config = load_config(config_path) if config_path else TrainConfig()
    for name, value in options.items():
        if value is not None:
            setattr(config, name, value)
    if identities:
        config.identities = split_names(identities)
    if resume and not config.out:
        raise CombtfError("--resume needs --out RUN (the run folder to continue)")
    if not resume and not config.data:
        raise CombtfError("--data is required (a folder with one sub-folder of face crops per identity)")
    config.out = config.out or f"runs/{time.strftime('%Y%m%d-%H%M%S')}"
    result = run_training(config.validate(), resume=resume, stop_after=stop_after, show_progress=not quiet, strategy=strategy,
                          time_limit=None if time_limit is None else 60 * time_limit)
    state = "finished" if result.finished else "stopped"
    click.echo(
        f"{state} at step {result.steps}, {resolution(result.level)} px, masked SSIM {result.score:.4f}, "
        f"{result.seconds:.0f} s, precision {result.precision}; {len(result.skipped)} unreadable images skipped"
    )
    if result.chief:
        click.echo(f"run folder: {result.run}  (previews in {result.run}/previews, summary in {result.run}/summary.json)")
    else:
        click.echo("this worker wrote nothing into the run folder: the chief (worker 0) holds the checkpoints and previews")
