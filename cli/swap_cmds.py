"""`combtf swap`, `combtf evaluate` and `combtf export`: use a trained run (or, for swaps, its export)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from cli.common import split_names


def _open(model: str | None) -> object:
    """A run folder, an export folder (with model.json), or the newest run under runs/."""
    from combtf.exported import is_export, load_exported
    from combtf.run import find_run, load_trained

    if model is not None and is_export(Path(model)):
        return load_exported(Path(model))
    return load_trained(find_run(model))


@click.command()
@click.option("--source", required=True, help="Identity whose face appears (its decoder).")
@click.option("--target", required=True, help="Identity whose frames (pose, expression, light) are used.")
@click.option("--input", "input_spec", default=None, help="Crop file, folder or glob (default: the target's training images).")
@click.option("--model", default=None, help="Run folder or export folder (default: the newest run under runs/).")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=None, help="Default swaps/<source>_from_<target>/.")
@click.option("--raw", is_flag=True, help="Write the bare decoder output instead of compositing by the mask.")
@click.option("--latent-match/--no-latent-match", default=True, show_default=True,
              help="Move the target's code to the source's latent statistics before decoding.")
@click.option("--mode", type=click.Choice(["auto", "crops", "frames"]), default="auto", show_default=True,
              help="crops: aligned crops; frames: photos and videos (detect, align, swap, blend back); auto: videos and "
                   "images without a sidecar or masks/ folder are frames.")
@click.option("--blend", "blend_how", type=click.Choice(["paper", "multiband", "alpha"]), default="paper", show_default=True,
              help="Frames: contrast correction + pyramid with the frame's coarse levels (paper), plain pyramid, or feathered mask.")
@click.option("--color", type=click.Choice(["none", "meanstd", "histogram"]), default="none", show_default=True,
              help="Frames: move the face's colours to the frame's (meanstd: Lab mean/std like DeepFaceLab's rct).")
@click.option("--coarse-levels", default=2, show_default=True, type=click.IntRange(0), help="Frames, paper blend: pyramid levels taken from the frame.")
@click.option("--erode", default=0, show_default=True, type=click.IntRange(0), help="Frames: shrink the mask by this many px.")
@click.option("--feather", default=0, show_default=True, type=click.IntRange(0), help="Frames: extra mask blur in px.")
def swap(source: str, target: str, input_spec: str | None, model: str | None, output: Path | None, raw: bool, latent_match: bool,
         mode: str, blend_how: str, color: str, coarse_levels: int, erode: int, feather: int) -> None:  # fmt: skip
    """Swap TARGET's aligned crops, photos or videos to show SOURCE's face."""
    from combtf.errors import CombtfError
    from combtf.swap import resolve_inputs, swap_crops
    from combtf.swap_frames import BlendOptions, is_frame_input, swap_frames

    trained = _open(model)
    trained.check_identity(source, "source")
    trained.check_identity(target, "target")
    inputs = resolve_inputs(input_spec, Path(trained.config.data or ".") / target)
    output = output or Path("swaps") / f"{source}_from_{target}"
    if mode == "auto":
        kinds = {is_frame_input(p) for p in inputs}
        if len(kinds) > 1:
            raise CombtfError(f"{input_spec}: holds both aligned crops and full frames; choose --mode crops or --mode frames")
        mode = "frames" if kinds == {True} else "crops"
    if mode == "crops":
        with tqdm(total=len(inputs), unit="crop", desc="swapping", delay=0.5) as bar:
            summary = swap_crops(trained, source, target, inputs, output, raw, latent_match, progress=bar.update)
        click.echo(f"wrote {len(summary.written)} swaps to {output} ({len(summary.skipped)} unreadable inputs skipped)")
        return
    options = BlendOptions(blend_how, color, coarse_levels, erode, feather)
    result = swap_frames(trained, source, target, inputs, output, options, latent_match, progress=True)
    click.echo(
        f"wrote {len(result.written)} files ({result.frames} frames, {result.faces} faces swapped, "
        f"{result.frames_without_face} frames without a face, {result.frames / max(result.seconds, 1e-9):.1f} frames/s) to {output}"
    )
    for path, reason in sorted(result.skipped.items()):
        click.echo(f"  skipped {path}: {reason}")


@click.command()
@click.option("--model", default=None, help="Run folder or export folder (default: the newest run under runs/).")
@click.option("--data", "eval_dir", required=True, type=click.Path(path_type=Path), help="Evaluation split, e.g. data/demo/eval.")
@click.option("--source", default=None, help="Only this source identity.")
@click.option("--target", default=None, help="Only this target identity.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the scores here.")
@click.option("--latent-match/--no-latent-match", default=True, show_default=True,
              help="Move the target's code to the source's latent statistics before decoding.")
def evaluate(model: str | None, eval_dir: Path, source: str | None, target: str | None, json_out: Path | None, latent_match: bool) -> None:
    """Score swaps against ground truth: masked SSIM and masked PSNR per ordered pair."""
    from itertools import permutations

    from combtf.config import write_atomic
    from combtf.evaluate import evaluate as run_evaluation

    trained = _open(model)
    names = trained.config.identities
    pairs = [(s, t) for s, t in permutations(names, 2) if source in (None, s) and target in (None, t)] if (source or target) else None
    report = run_evaluation(trained, eval_dir, pairs, latent_match)
    click.echo(f"{'source':>10} <- {'target':<10} {'frames':>6} {'mSSIM':>7} {'mPSNR':>7}")
    for row in report["pairs"] + report["reconstructions"]:
        click.echo(f"{row['source']:>10} <- {row['target']:<10} {row['frames']:>6} {row['masked_ssim']:7.4f} {row['masked_psnr']:7.2f}")
    mean = report["mean"]
    click.echo(f"swaps, mean: masked SSIM {mean['masked_ssim']:.4f}, masked PSNR {mean['masked_psnr']:.2f} dB (rows with source = target are reconstructions)")
    if json_out:
        write_atomic(json_out, (json.dumps(report, indent=2) + "\n").encode())
        click.echo(f"scores written to {json_out}")


@click.command()
@click.option("--model", default=None, help="Run folder (default: the newest under runs/).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("exported_models"), show_default=True,
              help="Exports go to OUT/<run name>/<identity>/<version>/.")
@click.option("--identities", default=None, help="Comma-separated identities to export (default: all).")
@click.option("--version", "version", type=int, default=None, help="Version number (default: the next free one; never overwrites).")
@click.option("--precision", type=click.Choice(["float32", "mixed_bfloat16", "auto"]), default="float32", show_default=True,
              help="Compute precision inside the SavedModel (inputs and outputs stay float32); auto: bfloat16 where the hardware runs it fast.")
def export(model: str | None, out: Path, identities: str | None, version: int | None, precision: str) -> None:
    """Export each identity's swap model (shared encoder + its decoder) as a SavedModel for TF Serving."""
    from combtf import precision as precisions
    from combtf.export import export as run_export
    from combtf.run import find_run, load_trained

    policy, reason = precisions.choose(precision)
    if policy == "mixed_float16":
        policy, reason = "float32", "float16 exports are not offered (float32 instead)"
    result = run_export(load_trained(find_run(model), policy), out, split_names(identities), version)
    click.echo(f"compute precision {policy}: {reason}")
    for name, path in result.versions.items():
        click.echo(f"{name}: {path}")
    click.echo(f"model.json and TF Serving's models.config in {result.folder}")
