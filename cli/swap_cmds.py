"""`combtf swap`, `combtf evaluate` and `combtf export`: use a trained run (or, for swaps, its export)."""
from __future__ import annotations

import json
from pathlib import Path

import click
from tqdm import tqdm

from combtf.config import EXPORT_FORMATS as FORMATS
from combtf.config import INFERENCE_PRECISIONS
from combtf.config import UNKNOWN_TARGET as UNKNOWN
from combtf.swap.blend import BLENDS, COLORS, BlendOptions
from combtf.swap.inputs import MODES
from combtf_cli.common import plate_options, plate_settings, split_names

_BLEND = BlendOptions()


def _open(model: str | None) -> object:
    """A run folder, an export folder (with model.json), or the newest run under runs/."""
    from combtf.swap.from_export import is_export, load_exported
    from combtf.swap.from_run import load_trained
    from combtf.training.run_folder import find_run

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
@click.option("--mode", type=click.Choice(MODES), default=MODES[0], show_default=True,
              help="crops: aligned crops; frames: photos and videos (detect, align, swap, blend back); auto: videos and "
                   "images without a sidecar or masks/ folder are frames.")
@click.option("--blend", "blend_how", type=click.Choice(BLENDS), default=_BLEND.how, show_default=True,
              help="Frames: contrast correction + pyramid with the frame's coarse levels (paper), plain pyramid, or feathered mask.")
@click.option("--color", type=click.Choice(COLORS), default=_BLEND.color, show_default=True,
              help="Frames: move the face's colours to the frame's (meanstd: Lab mean/std like DeepFaceLab's rct).")
@click.option("--coarse-levels", default=_BLEND.coarse, show_default=True, type=click.IntRange(0),
              help="Frames, paper blend: pyramid levels taken from the frame.")
@click.option("--erode", default=_BLEND.erode, show_default=True, type=click.IntRange(0), help="Frames: shrink the mask by this many px.")
@click.option("--feather", default=_BLEND.feather, show_default=True, type=click.IntRange(0), help="Frames: extra mask blur in px.")
@click.option("--layers", is_flag=True, help="Frames: also the face (premultiplied RGBA), its matte and the crop transform "
              "(JSON) per frame; EXR: as layers of the frame's file, others: in face/, matte/, transform/ beside it.")
@plate_options
def swap(source: str, target: str, input_spec: str | None, model: str | None, output: Path | None, raw: bool, latent_match: bool,
         mode: str, blend_how: str, color: str, coarse_levels: int, erode: int, feather: int, layers: bool,
         frame_range: str | None, strict: bool, colorspace: str | None, ocio_config: str) -> None:  # fmt: skip
    """Swap TARGET's aligned crops, photos, videos or plate sequences (shot.%04d.exr, shot.####.dpx) to show SOURCE's face."""
    from combtf.errors import CombtfError
    from combtf.faces.extract import ExtractOptions
    from combtf.faces.video import VIDEO_EXTS
    from combtf.swap.crops import swap_crops
    from combtf.swap.frames import NoFaceError, swap_frames
    from combtf.swap.inputs import is_frame_input, resolve_inputs

    trained = _open(model)
    trained.check_identity(source, "source")
    trained.check_identity(target, "target")
    plates = plate_settings(frame_range, strict, colorspace, ocio_config)
    inputs = resolve_inputs(input_spec, Path(trained.config.data or ".") / target, plates)
    output = output or Path("swaps") / f"{source}_from_{target}"
    guessed = mode == "auto"
    if guessed:
        kinds = {is_frame_input(p) for p in inputs}
        if len(kinds) > 1:
            raise CombtfError(f"{input_spec}: holds both aligned crops and full frames; choose --mode crops or --mode frames")
        mode = "frames" if kinds == {True} else "crops"
    if mode == "crops":
        if layers:
            raise CombtfError("--layers: aligned crops have no plate to composite over; it needs photos, plates or sequences")
        with tqdm(total=len(inputs), unit="crop", desc="swapping", delay=0.5) as bar:
            summary = swap_crops(trained, source, target, inputs, output, raw, latent_match, progress=bar.update)
        click.echo(f"wrote {len(summary.written)} swaps to {output} ({len(summary.skipped)} unreadable inputs skipped)")
        return
    options = BlendOptions(blend_how, color, coarse_levels, erode, feather)
    try:
        extract = ExtractOptions(every=1, plates=plates)
        result = swap_frames(trained, source, target, inputs, output, options, latent_match, True, extract, layers)
    except NoFaceError as exc:
        for path, reason in sorted(exc.summary.skipped.items()):
            click.echo(f"  skipped {path}: {reason}", err=True)
        took_images_for_frames = guessed and any(isinstance(p, Path) and p.suffix.lower() not in VIDEO_EXTS for p in inputs)
        hint = "; aligned crops from another tool (no masks/ folder, no sidecars)? pass --mode crops" if took_images_for_frames else ""
        raise CombtfError(f"{exc}{hint}") from exc
    click.echo(
        f"wrote {len(result.written)} files ({result.frames} frames, {result.faces} faces swapped, "
        f"{result.frames_without_face} frames without a face, {result.frames / max(result.seconds, 1e-9):.1f} frames/s) to {output}"
    )
    for shot, flicker in result.flicker.items():
        shown = "-" if flicker is None else f"{flicker:.2f}"
        click.echo(f"  flicker {shown} in {shot} (the output's frame-to-frame change in the aligned face over the input's)")
    for path, reason in sorted(result.skipped.items()):
        click.echo(f"  skipped {path}: {reason}")


@click.command()
@click.option("--model", default=None, help="Run folder or export folder (default: the newest run under runs/).")
@click.option("--data", "eval_dir", type=click.Path(path_type=Path), default=None,
              help="Synthetic evaluation split with ground truth, e.g. data/demo/eval.")
@click.option("--real", is_flag=True, help="Real faces, no ground truth: identity retrieval by face embedding and "
              "expression/pose agreement by landmarks, target frame vs swap.")
@click.option("--input", "input_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --real: the target's held-back crops, INPUT/<target>/ (or INPUT itself with --target). "
                   "Default: the target's training crops.")
@click.option("--references", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --real: identity folders whose crops define each identity's embedding (default: the run's data).")
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --real: contact sheet of the worst frames (default: RUN/judged-worst.png).")
@click.option("--source", default=None, help="Only this source identity.")
@click.option("--target", default=None, help="Only this target identity.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the scores here.")
@click.option("--latent-match/--no-latent-match", default=True, show_default=True,
              help="Move the target's code to the source's latent statistics before decoding.")
def evaluate(
    model: str | None, eval_dir: Path | None, real: bool, input_dir: Path | None, references: Path | None, sheet: Path | None,
    source: str | None, target: str | None, json_out: Path | None, latent_match: bool,
) -> None:
    """Score swaps: against ground truth (synthetic --data), or with --real by identity and expression agreement."""
    from itertools import permutations

    from combtf.errors import CombtfError

    trained = _open(model)
    names = trained.config.identities
    pairs = [(s, t) for s, t in permutations(names, 2) if source in (None, s) and target in (None, t)]
    if real:
        report = _judge_real(trained, pairs, input_dir, references, sheet, target, latent_match)
    elif eval_dir is None:
        raise CombtfError("--data is required (a synthetic evaluation split), or pass --real for real faces")
    else:
        report = _score_synthetic(trained, eval_dir, pairs if (source or target) else None, latent_match)
    if json_out:
        from combtf.io.atomic import write_atomic

        write_atomic(json_out, (json.dumps(report, indent=2) + "\n").encode())
        click.echo(f"scores written to {json_out}")


def _judge_real(
    trained: object, pairs: list[tuple[str, str]], input_dir: Path | None, references: Path | None, sheet: Path | None,
    one_target: str | None, match: bool,
) -> dict:
    from combtf.analysis.judge import contact_sheet, judge
    from combtf.errors import CombtfError
    from combtf.io.images import list_images

    references = references or (Path(trained.config.data) if trained.config.data else None)
    if references is None or not references.is_dir():
        raise CombtfError(f"{references}: the run's data folder is gone; pass --references DIR (one folder per identity)")

    def frames_of(target: str) -> list[Path]:
        if input_dir is None:
            click.echo(f"judging {target}'s training crops (pass --input with held-back crops for an honest score)", err=True)
            return list_images(references / target)
        folder = input_dir / target if (input_dir / target).is_dir() else input_dir if one_target else None
        if folder is None:
            raise CombtfError(f"{input_dir}: no folder '{target}' (give INPUT/<target>/, or INPUT with one --target)")
        return list_images(folder)

    with tqdm(total=len(pairs), unit="pair", desc="judging", delay=0.5) as bar:
        report, judged = judge(trained, pairs, frames_of, references, match, progress=bar.update)
    click.echo(f"{'source':>10} <- {'target':<10} {'frames':>6} {'ident':>6} {'d_src':>6} {'d_tgt':>6} "
               f"{'mouth r':>8} {'eyes r':>7} {'yaw r':>6} {'pitch r':>8} {'roll r':>7} {'mouth mae':>9} {'mouth px':>8}")

    def r(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for row in report["pairs"]:
        click.echo(f"{row['source']:>10} <- {row['target']:<10} {row['frames']:>6} {row['identity_retrieval']:6.2f} "
                   f"{row['source_distance']:6.3f} {row['target_distance']:6.3f} {r(row['mouth']['r']):>8} {r(row['eyes']['r']):>7} "
                   f"{r(row['yaw']['r']):>6} {r(row['pitch']['r']):>8} {r(row['roll']['r']):>7} {row['mouth']['mae']:9.4f} "
                   f"{row['mouth_span_px']:8.1f}")
    mean = report["overall"]
    click.echo(f"overall: identity retrieval {mean['identity_retrieval']:.2f}, mouth r {r(mean['mouth_r'])}, "
               f"eyes r {r(mean['eyes_r'])}, yaw r {r(mean['yaw_r'])}, pitch r {r(mean['pitch_r'])}; mouth r where the "
               f"target's mouth moves {r(mean['moving_mouth_r'])} ({mean['moving_mouth_pairs']} pairs) "
               "(d_src/d_tgt: embedding distance to the source's / target's centroid; dlib calls < 0.6 the same person; "
               "mouth px: how far the target's mouth opens, 10th to 90th percentile, in pixels of the model's crop)")
    sheet = sheet or Path(trained.run) / "judged-worst.png"
    shown = contact_sheet(judged, sheet, str(trained.run))
    click.echo(f"the {shown} worst frames (target | swap): {sheet}")
    return report


def _score_synthetic(trained: object, eval_dir: Path, pairs: list[tuple[str, str]] | None, latent_match: bool) -> dict:
    from combtf.analysis.ground_truth import evaluate as run_evaluation

    report = run_evaluation(trained, eval_dir, pairs, latent_match)
    click.echo(f"{'source':>10} <- {'target':<10} {'frames':>6} {'mSSIM':>7} {'mPSNR':>7} {'detail':>7}")
    for row in report["pairs"] + report["reconstructions"]:
        click.echo(f"{row['source']:>10} <- {row['target']:<10} {row['frames']:>6} {row['masked_ssim']:7.4f} {row['masked_psnr']:7.2f} "
                   f"{row['detail_ratio']:7.2f}")
    mean = report["mean"]
    click.echo(f"swaps, mean: masked SSIM {mean['masked_ssim']:.4f}, masked PSNR {mean['masked_psnr']:.2f} dB, detail ratio "
               f"{mean['detail_ratio']:.2f} (half-resolution ceiling {mean['half_resolution_ceiling']:.2f}; docs/judging.md) "
               "(rows with source = target are reconstructions)")
    return report


@click.command()
@click.option("--model", default=None, help="Run folder (default: the newest under runs/).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("exported_models"), show_default=True,
              help="Exports go to OUT/<run name>/ (SavedModels in <identity>/<version>/, onnx/, dfm/).")
@click.option("--format", "formats", type=click.Choice([*FORMATS, "all"]), multiple=True, default=[FORMATS[0]], show_default=True,
              help="savedmodel (TF Serving), onnx (onnxruntime), dfm (DeepFaceLive, FaceFusion), or all; repeatable.")
@click.option("--identities", default=None, help="Comma-separated identities to export (default: all).")
@click.option("--target", "dfm_target", default=UNKNOWN, show_default=True,
              help="DFM: whose latent statistics the frames have ('*': a face from outside the run, pooled over the others).")
@click.option("--version", "version", type=int, default=None, help="SavedModel version (default: the next free one; never overwrites).")
@click.option("--precision", type=click.Choice(INFERENCE_PRECISIONS), default=INFERENCE_PRECISIONS[0], show_default=True,
              help="Compute precision inside the SavedModel (inputs and outputs stay float32); auto: bfloat16 where the hardware runs it "
                   "fast. ONNX and DFM exports are float32.")
def export(model: str | None, out: Path, formats: tuple[str, ...], identities: str | None, dfm_target: str, version: int | None,
           precision: str) -> None:
    """Export each identity's swap model (shared encoder + its decoder): SavedModel for TF Serving, ONNX, DFM."""
    from combtf.model import precision as precisions
    from combtf.swap.export import export as run_export
    from combtf.swap.from_run import load_trained
    from combtf.training.run_folder import find_run

    chosen = FORMATS if "all" in formats else tuple(f for f in FORMATS if f in formats)
    policy, reason = precisions.choose(precision)
    if policy == "mixed_float16":
        policy, reason = "float32", "float16 exports are not offered (float32 instead)"
    if chosen != ("savedmodel",) and policy != "float32":
        policy, reason = "float32", "ONNX and DFM exports are float32 (the SavedModels with them too, so that all agree)"
    result = run_export(load_trained(find_run(model), policy), out, split_names(identities), version, chosen, dfm_target)
    click.echo(f"compute precision {policy}: {reason}")
    for kind, files in (("SavedModel", result.versions), ("ONNX", result.onnx), ("DFM", result.dfm)):
        for name, path in files.items():
            click.echo(f"{name} {kind}: {path}")
    click.echo(f"model.json and TF Serving's models.config in {result.folder}")
