"""benchmarks/claims.py: the arms each claim trains, its stability and interval rules, and --quick end to end."""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.config import TrainConfig, load_config
from combtf.data.synthetic import write_demo_data
from combtf.training.schedule import plan
from tests.helpers import tiny_config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "claims.py"


@pytest.fixture(scope="module")
def claims() -> object:
    spec = importlib.util.spec_from_file_location("claims_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def study(claims: object, claim: str, tmp_path: Path, quick: bool = False) -> object:
    data = tmp_path / "set"
    if not data.is_dir():
        write_demo_data(data, identities=4, images=4, eval_images=2, size=16)
    return claims.Study(claim, "synthetic", 64, quick, tmp_path / "runs", tmp_path / "results.jsonl", 1,
                        ROOT / "configs" / "demo.yaml", None, train_dir=data / "train", eval_dir=data / "eval")


def test_each_claims_arms_differ_only_in_what_the_claim_is_about(claims: object, tmp_path: Path) -> None:
    progressive, flat = claims.arms(study(claims, "progressive", tmp_path))
    p_config, f_config = (claims.arm_config(study(claims, "progressive", tmp_path), arm, 0) for arm in (progressive, flat))
    assert p_config.progressive and not f_config.progressive
    # the same images per identity, all of flat's at the top level
    assert claims.total_images(p_config) == claims.total_images(f_config) == sum(p.steps for p in plan(p_config)) * 2
    assert {p.level for p in plan(f_config)} == {4}
    assert p_config.identities == f_config.identities == ["ada", "ben"]

    four, three, two = claims.arms(study(claims, "identities", tmp_path))
    assert [len(a.identities) for a in (four, three, two)] == [4, 3, 2]
    assert four.identities[:2] == three.identities[:2] == two.identities  # the pair every run shares
    assert three.clock_of == two.clock_of == four.name and four.clock_of is None
    configs = [claims.arm_config(study(claims, "identities", tmp_path), arm, 0) for arm in (four, three, two)]
    assert len({c.batch_size for c in configs}) == 1
    # the smaller combs' plans run the 4-identity plan's steps, then train on (to its clock)
    steps_of_four = sum(p.steps for p in plan(configs[0]))
    for config in configs[1:]:
        levels = [p.level for p in plan(config) for _ in range(p.steps)]
        assert levels[:steps_of_four] == [p.level for p in plan(configs[0]) for _ in range(p.steps)]
        assert len(levels) > steps_of_four

    combtf, reference, reference_schedule = claims.arms(study(claims, "recipe", tmp_path))
    assert combtf.key() == progressive.key()  # the same training: one run folder serves both claims
    config = claims.arm_config(study(claims, "recipe", tmp_path), reference, 0)
    shipped = load_config(ROOT / "configs" / "reference.yaml")
    assert (config.optimizer, config.lr, config.batch_size, config.latent_size, config.shared_decoder_levels) == ("sgd", 0.001, 8, 1, 0)
    assert config.images_per_level == shipped.images_per_level and config.l1_weight == 0 and config.weight_average == 0
    assert reference.clock_of == reference_schedule.clock_of == "combtf"
    schedule_config = claims.arm_config(study(claims, "recipe", tmp_path), reference_schedule, 0)
    assert schedule_config.images_per_level == load_config(ROOT / "configs" / "demo.yaml").images_per_level
    assert schedule_config.optimizer == "sgd"


def test_a_smaller_budget_scales_the_final_phase_too(claims: object, tmp_path: Path) -> None:
    shipped = load_config(ROOT / "configs" / "real.yaml")
    half = claims.Study("identities", "real", 64, False, tmp_path, tmp_path / "r.jsonl", 1, ROOT / "configs" / "real.yaml",
                        shipped.images_per_level // 2)
    config = claims.base_config(half)
    assert config.images_per_level * 2 == shipped.images_per_level and config.final_images * 2 == shipped.final_images
    assert claims.total_images(config) * 2 == claims.total_images(shipped)


def series(steps: range, value: object) -> list[tuple[int, float, float]]:
    return [(s, float(value(s)), s / 10) for s in steps]


def test_a_collapse_is_a_fall_that_does_not_recover_and_a_spike_is_counted(claims: object) -> None:
    config = TrainConfig(identities=["ada", "ben"], max_resolution=8, images_per_level=4000, batch_size=2)
    # level 0: steps 1-2000, level 1: 2001-4000; a tenth of level 1 is 200 steps
    steps = range(10, 4001, 10)
    dip = series(steps, lambda s: 0.5 if 3010 <= s <= 3100 else 0.9)  # back within 100 steps
    fall = series(steps, lambda s: 0.5 if s >= 3010 else 0.9)
    flat_loss = series(steps, lambda s: 0.9 if s == 3500 else 0.2)
    result = claims.stability(config, {"loss": flat_loss, "masked_ssim/ada": dip, "masked_ssim/ben": fall})
    assert [(c["identity"], c["level"]) for c in result["collapses"]] == [("ben", 1)]
    assert result["loss_spikes"] == 1 and result["spike_steps"] == [3500]
    quiet = claims.stability(config, {"loss": series(steps, lambda s: 0.2), "masked_ssim/ada": dip, "masked_ssim/ben": dip})
    assert quiet == {"loss_spikes": 0, "spike_steps": [], "collapses": []}


def test_the_interval_holds_zero_only_when_the_seeds_disagree(claims: object) -> None:
    rng = np.random.default_rng(0)
    agree = [0.02, 0.03, 0.025]
    frames = [list(d + 0.005 * rng.standard_normal(40)) for d in agree]
    low, high = claims.bootstrap(agree, frames, draws=1000)
    assert 0 < low < np.mean(agree) < high
    disagree = [0.03, -0.03, 0.001]
    low, high = claims.bootstrap(disagree, [list(d + 0.005 * rng.standard_normal(40)) for d in disagree], draws=1000)
    assert low < 0 < high
    low, high = claims.bootstrap(disagree, [], draws=1000)  # seeds alone (real faces)
    assert low < 0 < high


def test_identities_compare_at_the_shared_plans_step_and_at_the_four_identity_clock(claims: object, tmp_path: Path) -> None:
    def curve(points: list[tuple[int, float, float]]) -> list[dict]:
        return [{"step": step, "wall_s": wall, "quality": quality} for step, wall, quality in points]

    curves = {"4 identities": {0: curve([(100, 60.0, 0.5), (200, 120.0, 0.8)])},
              "3 identities": {0: curve([(100, 50.0, 0.6), (200, 100.0, 0.7), (240, 120.0, 0.75)])},
              "2 identities": {0: curve([(100, 30.0, 0.4), (200, 60.0, 0.6), (300, 90.0, 0.9)])}}
    read = {(c["compare"], c["budget"]): c for c in claims.comparisons(study(claims, "identities", tmp_path), curves)}
    # equal steps: every comb at the 4-identity plan's end, step 200, not at the 3-identity run's last step
    assert read[("2 identities - 3 identities", "equal steps")]["differences"] == [pytest.approx(-0.1)]
    assert read[("3 identities - 4 identities", "equal steps")]["differences"] == [pytest.approx(-0.1)]
    # equal time: at the 4-identity run's clock (the 2-identity comb finished first: its end)
    assert read[("2 identities - 4 identities", "equal time")]["differences"] == [pytest.approx(0.1)]
    assert read[("3 identities - 4 identities", "equal time")]["read_at"][0]["arm_step"] == 240


def test_real_faces_decide_expression_and_identity_apart_and_one_seed_decides_nothing(claims: object, tmp_path: Path) -> None:
    def point(step: int, mouth: float, retrieval: float) -> dict:
        return {"step": step, "wall_s": step / 2, "quality": mouth, "identity_retrieval": retrieval}

    real = claims.Study("identities", "real", 64, False, tmp_path, tmp_path / "results.jsonl", 2, ROOT / "configs" / "real.yaml", None)
    curves = {"4 identities": {0: [point(200, 0.6, 0.9)], 1: [point(200, 0.5, 0.8)]},
              "2 identities": {0: [point(200, 0.7, 0.5)], 1: [point(200, 0.65, 0.6)]}}
    read = {(c["compare"], c["budget"], c["metric"]): c for c in claims.comparisons(real, curves)}
    mouth = read[("2 identities - 4 identities", "equal steps", "quality")]
    retrieval = read[("2 identities - 4 identities", "equal steps", "identity_retrieval")]
    assert mouth["differences"] == [pytest.approx(0.1), pytest.approx(0.15)] and mouth["verdict"] == "2 identities better"
    assert retrieval["differences"] == [pytest.approx(-0.4), pytest.approx(-0.2)] and retrieval["verdict"] == "4 identities better"
    one = {(c["compare"], c["metric"]): c for c in claims.comparisons(real, {arm: {0: seeds[0]} for arm, seeds in curves.items()})}
    assert one[("2 identities - 4 identities", "quality")]["verdict"] == "one seed: undecided"


def test_a_seed_scored_to_its_end_is_done_at_its_own_resolution_and_budget_only(claims: object, tmp_path: Path) -> None:
    at64 = study(claims, "progressive", tmp_path)
    progressive, flat = claims.arms(at64)
    common = {"claim": "progressive", "seed": 0, "data": {"set": "synthetic"}, "resolution": 64, "quick": False,
              "images_per_level": load_config(at64.base).images_per_level}
    rows = [{**common, "arm_key": progressive.key(), "checkpoint": "ckpt-10", "final": True},
            {**common, "arm_key": flat.key(), "checkpoint": "ckpt-5", "final": False}]
    at64.results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert not claims.seed_scored(at64, [progressive, flat], 0)  # flat has not reached its end
    with at64.results.open("a") as out:
        out.write(json.dumps({**rows[1], "checkpoint": "ckpt-10", "final": True}) + "\n")
    assert claims.seed_scored(at64, [progressive, flat], 0) and not claims.seed_scored(at64, [progressive, flat], 1)
    # the same arms at 128 px share the folder names, not the points
    at128 = claims.Study("progressive", "synthetic", 128, False, at64.out, at64.results, 1, at64.base, None)
    assert not claims.seed_scored(at128, [progressive, flat], 0) and claims.scored_points(at128) == set()
    # and a quarter of the images per level: the same folder names again, neither its points nor its folders
    quarter = claims.Study("progressive", "synthetic", 64, False, at64.out, at64.results, 1, at64.base,
                           common["images_per_level"] // 4)
    assert not claims.seed_scored(quarter, [progressive, flat], 0) and claims.scored_points(quarter) == set()
    assert quarter.runs != at64.runs != at128.runs and quarter.runs.parent == at64.runs.parent == at128.runs.parent


def test_a_real_face_run_stopped_below_the_last_level_keeps_one_unjudged_point(claims: object, tmp_path: Path) -> None:
    """The reference on its own schedule can still be at 32 px at combtf's clock: its seed must count as scored
    (run folders are scratch) and the report must say where it got to, without judging a face too small to read."""
    from combtf.training.loop import train

    data = tmp_path / "set"
    write_demo_data(data, identities=2, images=8, eval_images=2, size=16)
    real = claims.Study("recipe", "real", 16, True, tmp_path / "runs", tmp_path / "results.jsonl", 1, ROOT / "configs" / "real.yaml",
                        None, dataset={"set": "real"}, train_dir=data / "train", eval_dir=data / "eval")
    people = sorted(p.name for p in (data / "train").iterdir())
    arm = claims.Arm("reference", {}, people)
    run = tmp_path / "run"
    train(tiny_config(data / "train", run, identities=people, keep_checkpoints=100), show_progress=False)  # 4 -> 8 px
    assert claims.score_run(real, arm, 0, run, "test") == 1  # of several checkpoints, all below 16 px: the last only
    (row,) = claims.load_rows(real)
    assert row["final"] and row["model_px"] == 8 and row["quality"] is None and row["judged"] is False
    assert claims.seed_scored(real, [arm], 0)
    (summary,) = claims.report(real, tmp_path / "curves.png")
    assert summary["final_px"] == [8] and summary["final_quality"] == [None] and summary["reached"] == ["not reached"]


def run_quick(claim: str, tmp_path: Path, *extra: str) -> list[dict]:
    command = [sys.executable, str(SCRIPT), "--claim", claim, "--quick", "--seeds", "1", "--out", str(tmp_path / "runs"),
               "--work", str(tmp_path / "data"), *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_quick_progressive_and_recipe_end_to_end(claims: object, tmp_path: Path) -> None:
    per_level = claims.QUICK["images_per_level"]
    printed = run_quick("progressive", tmp_path)
    results = tmp_path / "runs" / "claims.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert {r["arm"] for r in rows} == {"progressive", "flat"}
    for row in rows:
        assert row["data"]["version"] == "flat-v1" and row["quick"] and row["commit"] and row["images_per_level"] == per_level
        assert row["precision"] in ("float32", "mixed_bfloat16")
        for key in ("wall_s", "images_per_identity", "train_gflop", "loss", "quality"):
            assert row[key] is not None, key
        assert set(row["swap"]) == {"masked_ssim", "masked_psnr", "detail_ratio", "detail_band_psnr"}
        assert all(v is not None for v in row["train_masked_ssim"].values())
    finals = {r["arm"]: r for r in rows if r["final"]}
    assert finals["flat"]["images_per_identity"] == finals["progressive"]["images_per_identity"]
    assert finals["flat"]["train_gflop"] > finals["progressive"]["train_gflop"]  # every image at the top level
    assert finals["progressive"]["level"] == finals["flat"]["level"] == 2 and "matched" in finals["progressive"]
    for arm in ("progressive", "flat"):
        points = sorted((r for r in rows if r["arm"] == arm), key=lambda r: r["step"])
        assert len(points) >= 4 and all(a["wall_s"] <= b["wall_s"] for a, b in zip(points, points[1:]))
    summaries = [p for p in printed if "final_quality" in p]
    assert {s["arm"] for s in summaries} == {"progressive", "flat"}
    for summary in summaries:  # what a decoder that ignores the code scores (at 16 px SSIM forgives a mean face much)
        assert 0.3 < summary["mean_face_floor"] < 1 and len(summary["stuck_at_mean_face"]) == 1
    comparison = next(p for p in printed if p.get("compare") == "flat - progressive")
    assert comparison["differences"] == [round(finals["flat"]["quality"] - finals["progressive"]["quality"], 4)]
    assert Image.open(tmp_path / "runs" / f"synthetic-16px-progressive-{per_level}-per-level.png").size[0] > 800

    # again: nothing is trained or scored twice
    run_quick("progressive", tmp_path)
    assert len(results.read_text().splitlines()) == len(rows)

    # the recipe claim reuses the progressive run as its "combtf" arm and stops the reference at its clock
    run_quick("recipe", tmp_path)
    recipe = [json.loads(line) for line in results.read_text().splitlines()][len(rows):]
    combtf = [r for r in recipe if r["arm"] == "combtf"]
    assert {r["run"] for r in combtf} == {finals["progressive"]["run"]}
    for arm in ("reference", "reference, combtf's schedule"):
        final = next(r for r in recipe if r["arm"] == arm and r["final"])
        assert final["wall_s"] <= finals["progressive"]["wall_s"] + 2
        assert load_config(Path(final["run"]) / "config.yaml").optimizer == "sgd"

    # run folders are scratch: a seed scored to its end is not trained again when they are gone
    for folder in (tmp_path / "runs").glob("*-per-level/arm-*"):
        shutil.rmtree(folder)
    run_quick("progressive", tmp_path)
    assert len(results.read_text().splitlines()) == len(rows) + len(recipe)
    assert not list((tmp_path / "runs").glob("*-per-level/arm-*"))
