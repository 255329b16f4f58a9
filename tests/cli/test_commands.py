"""The commands a new user runs, end to end on tiny settings: demo-data -> train -> swap -> evaluate."""
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TINY, one_line_error, run


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    result = run("demo-data", root / "set", "--identities", "3", "--images", "12", "--eval-images", "4", "--size", "16")
    assert result.exit_code == 0, result.output
    result = run("train", "--data", root / "set" / "train", "--out", root / "run", *TINY, "--final-images", "64")
    assert result.exit_code == 0, result.output
    # 4 px: 32 images / batch 4 = 8 steps; 8 px: fade-in 4 steps, then 64 final images = 16 steps
    assert "finished at step 28" in result.output
    return root / "set", root / "run"


def test_swap_writes_marked_pngs(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = trained_run
    result = run("swap", "--model", run_dir, "--source", "ada", "--target", "ben", "--input", data / "eval" / "ben", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    inputs = sorted(p.stem for p in (data / "eval" / "ben").glob("*.png"))
    outputs = sorted(tmp_path.glob("*.png"))
    assert [p.stem for p in outputs] == inputs
    img = Image.open(outputs[0])
    assert img.size == (8, 8)  # the model's resolution
    assert img.text["Synthetic"] == "true" and "trainedAlgorithmicMedia" in img.text["XML:com.adobe.xmp"]
    assert str(run_dir) in img.text["Description"]


def test_swap_composites_by_mask_unless_raw(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = trained_run
    crop = data / "eval" / "ben" / "eval_0000.png"
    Image.open(crop).resize((8, 8), Image.Resampling.BOX).save(tmp_path / "frame.png")
    (tmp_path / "masks").mkdir()
    half = np.zeros((8, 8), np.uint8)
    half[:, :4] = 255
    Image.fromarray(half).save(tmp_path / "masks" / "frame.png")
    swap = ["swap", "--model", run_dir, "--source", "cleo", "--target", "ben", "--input", tmp_path / "frame.png", "--output"]
    assert run(*swap, tmp_path / "c").exit_code == 0
    assert run(*swap, tmp_path / "r", "--raw").exit_code == 0
    frame = np.asarray(Image.open(tmp_path / "frame.png"))
    composite, raw = np.asarray(Image.open(tmp_path / "c" / "frame.png")), np.asarray(Image.open(tmp_path / "r" / "frame.png"))
    np.testing.assert_array_equal(composite[:, 4:], frame[:, 4:])   # outside the mask: the input
    np.testing.assert_array_equal(composite[:, :4], raw[:, :4])     # inside: the decoder's face
    assert not np.array_equal(raw[:, 4:], frame[:, 4:])


def test_evaluate_scores_every_ordered_pair(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = trained_run
    result = run("evaluate", "--model", run_dir, "--data", data / "eval", "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "e.json").read_text())
    assert {(p["source"], p["target"]) for p in report["pairs"]} == {
        (s, t) for s in ("ada", "ben", "cleo") for t in ("ada", "ben", "cleo") if s != t
    }
    assert all(p["frames"] == 4 and 0 < p["masked_ssim"] <= 1 and p["masked_psnr"] > 0 for p in report["pairs"])
    assert report["resolution"] == 8


def test_export_then_swap_and_evaluate_from_the_export(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = trained_run
    result = run("export", "--model", run_dir, "--out", tmp_path / "exports", "--identities", "ada,ben")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "exports" / run_dir.name
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["ada", "ben"]
    assert f"ada SavedModel: {folder / 'ada' / '1'}" in result.output
    for model, out in ((run_dir, "from_run"), (folder, "from_export")):
        result = run("swap", "--model", model, "--source", "ada", "--target", "cleo", "--input", data / "eval" / "cleo", "--output", tmp_path / out)
        assert result.exit_code == 0, result.output
    pairs = [(np.asarray(Image.open(p), int), np.asarray(Image.open(tmp_path / "from_export" / p.name), int))
             for p in sorted((tmp_path / "from_run").glob("*.png"))]
    assert len(pairs) == 4 and max(np.abs(a - b).max() for a, b in pairs) <= 1
    # only exported identities can be a source; any identity of the run can be a target
    one_line_error(run("swap", "--model", folder, "--source", "cleo", "--target", "ada", "--output", tmp_path / "x"), "'cleo'", "ada, ben")
    one_line_error(run("export", "--model", run_dir, "--out", tmp_path / "exports", "--identities", "zed"), "'zed'")
    one_line_error(run("export", "--model", run_dir, "--out", tmp_path / "exports", "--identities", "ada", "--version", "1"), "never overwrite")


def test_latent_plot_writes_the_plot_and_overlap_scores(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, run_dir = trained_run
    out = tmp_path / "latent.png"
    result = run("latent-plot", "--model", run_dir, "--method", "pca", "--out", out, "--centre")
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > 300
    scores = {tuple(line.split()[:3:2]): float(line.split()[3]) for line in result.output.splitlines() if " -> " in line}
    assert set(scores) == {(a, b) for a in ("ada", "ben", "cleo") for b in ("ada", "ben", "cleo") if a != b}
    assert all(0 <= v <= 1 for v in scores.values())
    result = run("latent-plot", "--model", run_dir, "--data", data / "eval", "--identities", "ada,ben", "--level", "0",
                 "--max-samples", "3", "--out", tmp_path / "tsne.png")
    assert result.exit_code == 0, result.output
    one_line_error(run("latent-plot", "--model", run_dir, "--level", "5", "--out", out), "--level 5", "0..1")


def test_coverage_of_a_tiny_run_at_8_px(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    """Any level and width: the 8 px, width-1/32 run (the 32 px case is in test_coverage)."""
    data, run_dir = trained_run
    result = run("coverage", "--model", run_dir, "--data", data / "eval", "--identities", "ada,ben", "--precision", "float32",
                 "--method", "pca", "--out", tmp_path / "c.html", "--json", tmp_path / "c.json")
    assert result.exit_code == 0, result.output
    pairs = json.loads((tmp_path / "c.json").read_text())["pairs"]
    assert [(p["from"], p["to"]) for p in pairs] == [("ada", "ben"), ("ben", "ada")]
    assert all(0 <= p["coverage"] <= 1 and p["thresholds"]["appearance"] > 0 for p in pairs) and (tmp_path / "c.html").stat().st_size > 1000


def test_umap_without_its_package_says_how_to_get_it(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    if importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed here")
    one_line_error(run("latent-plot", "--model", trained_run[1], "--method", "umap", "--out", tmp_path / "u.png"), "pip install umap-learn")


def test_unknown_identity_is_a_one_line_error(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    _, run_dir = trained_run
    one_line_error(run("swap", "--model", run_dir, "--source", "zed", "--target", "ben", "--output", tmp_path), "--source 'zed'", "ada, ben, cleo")
    one_line_error(run("evaluate", "--model", run_dir), "--data is required", "--real")


def test_bad_inputs_are_one_line_errors(tmp_path: Path) -> None:
    one_line_error(run("train", "--data", tmp_path / "missing", "--out", tmp_path / "r", *TINY), "missing", "does not exist")
    one_line_error(run("train", "--data", tmp_path, "--out", tmp_path / "r", "--max-resolution", "48"), "max_resolution 48")
    one_line_error(run("train", "--out", tmp_path / "r"), "--data is required")
    one_line_error(run("swap", "--model", tmp_path, "--source", "a", "--target", "b"), str(tmp_path), "not a combtf run folder")
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "x").write_text("occupied")
    one_line_error(run("demo-data", tmp_path / "set"), "already exists")
    config = tmp_path / "run.yaml"
    config.write_text("max_resolution: sixty-four\n")
    one_line_error(run("train", "--config", config, "--data", tmp_path), str(config), "max_resolution")


def test_resume_continues_the_cli_run(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = trained_run
    out = tmp_path / "r"
    first = run("train", "--data", data / "train", "--out", out, "--stop-after", "2", *TINY)
    assert first.exit_code == 0 and "stopped at step 2" in first.output, first.output
    resumed = run("train", "--out", out, "--resume", "--quiet")
    assert resumed.exit_code == 0 and "finished at step" in resumed.output, resumed.output


def test_every_config_option_is_a_train_option() -> None:
    from combtf.config import TrainConfig
    from combtf_cli.train_cmd import train

    options = {p.name for p in train.params}
    assert {f.name for f in dataclasses.fields(TrainConfig)} <= options


def test_aligned_crops_taken_for_frames_fail_and_name_mode_crops(trained_run: tuple[Path, Path], tmp_path: Path) -> None:
    """Crops from another tool (no masks/ folder, no sidecars) look like photos to --mode auto: no face in any
    of them must not pass for a swap."""
    data, run_dir = trained_run
    crops = tmp_path / "crops"
    crops.mkdir()
    for path in sorted((data / "eval" / "ben").glob("*.png"))[:3]:
        (crops / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "out"
    result = run("swap", "--model", run_dir, "--source", "ada", "--target", "ben", "--input", crops, "--output", out)
    one_line_error(result, "no face found in any of the 3 frames", "nothing written", "--mode crops")
    assert not out.exists()
    result = run("swap", "--model", run_dir, "--source", "ada", "--target", "ben", "--input", crops, "--output", out, "--mode", "crops")
    assert result.exit_code == 0 and len(list(out.glob("*.png"))) == 3, result.output
