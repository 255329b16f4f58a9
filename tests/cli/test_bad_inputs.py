"""The bad-input corpus (tests/corpus.py) through every command that reads it: a one-line error
naming the file or a counted skip, no traceback unless --debug, nothing run, nothing else damaged."""
from __future__ import annotations

import pickle
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.helpers import TINY, RunsCode, bad_configs, bad_images, dfl_jpeg, one_line_error, run, truncated_video


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny run on a set whose every identity folder also holds the bad images."""
    root = tmp_path_factory.mktemp("corpus")
    assert run("demo-data", root / "set", "--identities", "2", "--images", "8", "--eval-images", "2", "--size", "16").exit_code == 0
    for identity in ("ada", "ben"):
        bad_images(root / "set" / "train" / identity)
    result = run("train", "--data", root / "set" / "train", "--out", root / "run", *TINY)
    assert result.exit_code == 0, result.output
    return root / "set", root / "run"


def last_line_error(output: str, *fragments: str) -> None:
    """Training prints what it chose (precision) before it fails: the error is the last line."""
    last = output.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in last, output


def skipped_each(output: str, files: list[Path]) -> None:
    for path in files:
        assert str(path) in output, f"{path} not named in:\n{output}"
    assert "Traceback" not in output


def test_train_skips_and_counts_bad_images(model: tuple[Path, Path]) -> None:
    data, run_dir = model
    log = (run_dir / "train.log").read_text()
    skipped_each(log, bad_images(data / "train" / "ada"))  # rewritten identically: the names the log should hold
    summary = yaml.safe_load((run_dir / "summary.json").read_text())
    assert summary["skipped_images"] == 10 and summary["finished"]


def test_swap_crops_skip_bad_images_and_keep_other_outputs(model: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = model
    out = tmp_path / "out"
    out.mkdir()
    (out / "earlier.png").write_bytes(b"an earlier output")
    result = run("swap", "--model", run_dir, "--source", "ben", "--target", "ada", "--mode", "crops",
                 "--input", data / "train" / "ada", "--output", out)  # fmt: skip
    assert result.exit_code == 0 and "(5 unreadable inputs skipped)" in result.output, result.output
    assert (out / "earlier.png").read_bytes() == b"an earlier output"
    assert len(list(out.glob("*.png"))) == 1 + 8


def test_swap_frames_of_videos_that_stop_mid_stream(model: tuple[Path, Path], tmp_path: Path) -> None:
    """An MP4 cut before its index cannot be opened (a counted skip); an MKV cut mid-stream gives
    the frames before the cut, and a warning that the file is shorter than it says. Their frames
    are noise, with no face in any: that is an error, and nothing is written."""
    _, run_dir = model
    unreadable, short = truncated_video(tmp_path / "cut.mp4"), truncated_video(tmp_path / "cut.mkv")
    out = tmp_path / "out"
    result = run("swap", "--model", run_dir, "--source", "ben", "--target", "ada", "--input", tmp_path / "*.m*", "--output", out)
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert f"skipped {unreadable}: not a readable video" in result.output
    assert f"{short}: the video ends at" in result.output and "file cut short?" in result.output
    read = re.search(r"no face found in any of the (\d+) frames \(2 skipped\); nothing written", result.output)
    assert read and int(read.group(1)) > 0, result.output  # the frames before the cut were read
    assert "--mode crops" not in result.output  # videos are frames, whatever --mode
    assert not out.exists() or not any(out.iterdir())


def test_evaluate_names_a_bad_image(model: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = model
    shutil.copytree(data / "eval", tmp_path / "eval")
    (tmp_path / "eval" / "ada" / "eval_0000.png").write_bytes(b"")
    one_line_error(run("evaluate", "--model", run_dir, "--data", tmp_path / "eval"), str(tmp_path / "eval" / "ada" / "eval_0000.png"))


def test_latent_plot_skips_bad_images(model: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = model
    result = run("latent-plot", "--model", run_dir, "--data", data / "train", "--method", "pca", "--out", tmp_path / "l.png")
    assert result.exit_code == 0 and (tmp_path / "l.png").is_file(), result.output
    assert "Traceback" not in result.output


def test_extract_skips_bad_images_and_a_cut_video(tmp_path: Path) -> None:
    files = bad_images(tmp_path / "in") + [truncated_video(tmp_path / "in" / "cut.mp4")]
    result = run("extract", tmp_path / "in", "--identity", "x", "--data", tmp_path / "data", "--quiet")
    assert result.exit_code == 0, result.output
    skipped_each(result.output, files)


def test_import_dfl_skips_a_malicious_pickle_and_a_bad_app15_length(tmp_path: Path) -> None:
    aligned, marker = tmp_path / "aligned", tmp_path / "pwned"
    aligned.mkdir()
    files = [dfl_jpeg(aligned / "evil.jpg", None, raw_pickle=pickle.dumps(RunsCode(marker))),
             dfl_jpeg(aligned / "long.jpg", {"a": 1}, declared=60000), dfl_jpeg(aligned / "short.jpg", {"a": 1}, declared=1)]
    result = run("import-dfl", aligned, "--identity", "x", "--data", tmp_path / "data")
    assert result.exit_code == 0 and not marker.exists(), result.output
    skipped_each(result.output, files)


@pytest.mark.parametrize("name", ["unknown_key.yaml", "wrong_type.yaml", "python_tag.yaml", "not_mapping.yaml"])
def test_bad_configs_are_one_line_errors_and_run_nothing(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    config = bad_configs(tmp_path / "configs", marker)[name]
    one_line_error(run("train", "--config", config, "--data", tmp_path, "--out", tmp_path / "r"), str(config))
    assert not marker.exists() and not (tmp_path / "r").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    config = bad_configs(tmp_path / "configs", tmp_path / "pwned")["wrong_type.yaml"]
    from click.testing import CliRunner

    from combtf_cli.main import main

    result = CliRunner().invoke(main, ["--debug", "train", "--config", str(config), "--data", str(tmp_path)])
    assert result.exit_code != 0 and result.exception is not None and "batch_size" in str(result.exception)


def test_a_checkpoint_of_another_architecture_is_named_by_every_reader(model: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = model
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["latent_dim"] = 32
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    for args in (["swap", "--model", other, "--source", "ben", "--target", "ada", "--mode", "crops", "--output", tmp_path / "s"],
                 ["evaluate", "--model", other, "--data", data / "eval"], ["export", "--model", other, "--out", tmp_path / "e"]):  # fmt: skip
        one_line_error(run(*args), str(other / "checkpoints"), "matches this model")
    assert not (tmp_path / "s").exists() and not (tmp_path / "e").exists()
    before = sorted((run_dir / "checkpoints").iterdir())
    resumed = run("train", "--out", other, "--resume")  # the moved copy, not the run it was copied from
    assert resumed.exit_code == 2
    last_line_error(resumed.output, f"error: {other / 'checkpoints'}", "matches this model")
    assert sorted((run_dir / "checkpoints").iterdir()) == before


def test_a_mask_of_the_wrong_size_is_one_line_naming_it(tmp_path: Path) -> None:
    from PIL import Image

    assert run("demo-data", tmp_path / "set", "--identities", "2", "--images", "3", "--eval-images", "1", "--size", "16").exit_code == 0
    mask = tmp_path / "set" / "train" / "ada" / "masks" / "ada_0001.png"
    Image.new("L", (9, 9), 255).save(mask)
    result = run("train", "--data", tmp_path / "set" / "train", "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 2
    last_line_error(result.output, f"error: {mask}: mask is 9x9, image is 16x16")
    assert not list((tmp_path / "run").glob("checkpoints/ckpt-*"))


def test_bad_plate_options_are_one_line_errors_before_anything_is_read(model: tuple[Path, Path], tmp_path: Path) -> None:
    broken = tmp_path / "studio.ocio"
    broken.write_text("ocio_profile_version: [2\n")
    (tmp_path / "shot.1001.exr").write_bytes(b"not an exr")
    pattern = str(tmp_path / "shot.####.exr")
    for option, fragment in ((["--colorspace", "Rec.709 Gamma 9"], "--colorspace Rec.709 Gamma 9: no such colour space"),
                             (["--ocio-config", str(broken)], "studio.ocio: not a usable OCIO config"),
                             (["--frames", "1100-1001"], "--frames 1100-1001")):  # fmt: skip
        one_line_error(run("extract", pattern, "--identity", "x", "--data", tmp_path / "faces", "--quiet", *option), fragment)
        one_line_error(run("swap", "--model", model[1], "--source", "ada", "--target", "ben", "--input", pattern, *option), fragment)
    assert not (tmp_path / "faces").exists() and not Path("swaps/ada_from_ben").exists()
    result = run("swap", "--model", model[1], "--source", "ada", "--target", "ben", "--input", pattern, "--output", tmp_path / "out")
    assert result.exit_code == 2 and "shot.1001.exr: not a readable image" in result.output  # the frame, named
    last_line_error(result.output, "no face found in any of the 0 frames")
    assert not (tmp_path / "out").exists()
