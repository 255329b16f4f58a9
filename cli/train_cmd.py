"""`combtf train`: options override the YAML config, which overrides the defaults."""
from __future__ import annotations

import time
from pathlib import Path

import click

from cli.common import split_names

_CHOICES = {
    "optimizer": ("adam", "sgd"),
    "loss": ("ssim", "ms_ssim"),
    "precision": ("auto", "float32", "mixed_bfloat16", "mixed_float16"),
}
_OPTIONS = [
    ("--data", str, "Folder with one sub-folder of face crops per identity."),
    ("--out", str, "Run folder (default runs/<timestamp>)."),
    ("--max-resolution", int, "Final level's size in px (4 * 2**k, up to 1024). [64]"),
    ("--start-resolution", int, "First level's size in px. [4]"),
    ("--width", float, "Multiplier on every channel count of the paper's table (min 4 channels). [1.0]"),
    ("--latent-dim", int, "Channels of the shared latent code. [512]"),
    ("--latent-size", int, "Latent code's side: 1 (reference) or 4 (spatial 4x4). [1]"),
    ("--shared-decoder-levels", int, "Decoder levels shared by all identities (paper: 2, reference: 0). [2]"),
    ("--batch-size", int, "Images per identity per step. [8]"),
    ("--images-per-level", int, "Images per identity per level: half fade-in, half stabilise. [4000]"),
    ("--final-images", int, "Images per identity the final level trains after its fade-in. [half of --images-per-level]"),
    ("--lr", float, "Learning rate. [0.001]"),
    ("--optimizer", click.Choice(_CHOICES["optimizer"]), "adam, or sgd with momentum 0.9. [adam]"),
    ("--loss", click.Choice(_CHOICES["loss"]), "Masked SSIM, or MS-SSIM at levels >= 128 px. [ssim]"),
    ("--l1-weight", float, "Weight of an extra masked L1 term. [0]"),
    ("--eyes-mouth-weight", float, "Weight of a masked L1 term over the eye and mouth boxes alone. [0]"),
    ("--detail-weight", float, "Weight of a gradient-difference term over the eye and mouth boxes. [0]"),
    ("--expression-balance", float, "Draw rare expressions more often: crops by density**-this, 0-1 (0: uniformly). [0]"),
    ("--swap-cycle-weight", float, "Weight of the swap cycle: swaps must encode back to their frame's code. [0]"),
    ("--latent-match", float, "How far swaps move the target's code to the source's statistics, 0-1. [1]"),
    ("--affine-amount", float, "Random rotation, scale and shift, as a multiple of +-10 degrees, +-5 % and +-5 %. [1.0]"),
    ("--warp-amount", float, "Random warp: how far grid points move, in grid cells (faceswap: ~0.08). [0.24]"),
    ("--clip-norm", float, "Clip the global gradient norm to this (0: off). [1.0]"),
    ("--weight-average", float, "Momentum of the weight average that swaps and exports use (0: off). [0.99]"),
    ("--precision", click.Choice(_CHOICES["precision"]), "auto picks bf16 where the hardware runs it fast. [auto]"),
    ("--seed", int, "Seed for weights and data order. [0]"),
    ("--min-score", float, "Score gate: repeat a level until masked SSIM reaches this."),
    ("--max-repeats", int, "Score gate: at most this many repeats per level. [3]"),
    ("--preview-every", int, "Write a preview grid every N steps (0: only at level ends). [500]"),
    ("--checkpoint-every", int, "Checkpoint every N steps (and at every phase end). [200]"),
    ("--keep-checkpoints", int, "How many of the newest checkpoints to keep. [3]"),
]
_FLAGS = [
    ("progressive", "Grow from --start-resolution (default), or train the final level alone."),
    ("flip", "Random horizontal flips."),
    ("affine", "Random rotation, scale and shift."),
    ("warp", "Random warp of the encoder input (DeepFaceLab style)."),
    ("color", "Random brightness, contrast and saturation."),
    ("mirror-average", "Swaps average the frame's swap with its mirror image's, mirrored back (twice the swap time)."),
]


def _options(func):  # noqa: ANN001, ANN202 - click decorator plumbing
    for flag, kind, text in reversed(_OPTIONS):
        func = click.option(flag, type=kind, default=None, help=text)(func)
    for name, text in reversed(_FLAGS):
        func = click.option(f"--{name}/--no-{name}", default=None, help=text)(func)
    return func


@click.command()
@_options
@click.option("--identities", default=None, help="Comma-separated identity folders to use (default: all).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="YAML file of options.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint.")
@click.option("--stop-after", type=click.IntRange(1), default=None, help="Checkpoint and stop after N steps.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--strategy", type=click.Choice(("auto", "default", "mirrored", "multiworker")), default="auto",
              help="tf.distribute strategy: auto = multiworker when TF_CONFIG names several workers, "
                   "mirrored when several GPUs are visible, else default. [auto]")
def train(
    config_path: Path | None, resume: bool, stop_after: int | None, quiet: bool, identities: str | None, strategy: str, **options
) -> None:
    """Train a comb model progressively, level by level, on the identity folders in --data."""
    from combtf.config import TrainConfig, load_config
    from combtf.errors import CombtfError
    from combtf.levels import resolution
    from combtf.train import train as run_training

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
    result = run_training(config.validate(), resume=resume, stop_after=stop_after, show_progress=not quiet, strategy=strategy)
    state = "finished" if result.finished else "stopped"
    click.echo(
        f"{state} at step {result.steps}, {resolution(result.level)} px, masked SSIM {result.score:.4f}, "
        f"{result.seconds:.0f} s, precision {result.precision}; {len(result.skipped)} unreadable images skipped"
    )
    if result.chief:
        click.echo(f"run folder: {result.run}  (previews in {result.run}/previews, summary in {result.run}/summary.json)")
    else:
        click.echo("this worker wrote nothing into the run folder: the chief (worker 0) holds the checkpoints and previews")
