"""A run folder and an export written by the code before the package was regrouped by stage
(`tests/fixtures/legacy`, see its README): today's code must read, continue and serve them exactly."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from combtf.config import TrainConfig
from combtf.swap.from_export import load_exported
from combtf.swap.from_run import load_trained
from combtf.training.loop import train

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy (the test trains into it), its configs pointed at the fixture's crops."""
    folder = tmp_path / "legacy"
    shutil.copytree(LEGACY, folder)
    for config in (folder / "run" / "config.yaml", folder / "export_run" / "config.yaml"):
        text = config.read_text().replace("data: DATA", f"data: {folder / 'data'}").replace("out: RUN", f"out: {folder / 'run'}")
        config.write_text(text)
    return folder


def expected() -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(LEGACY / "expected.npz") as arrays:
        return json.loads((LEGACY / "expected.json").read_text()), dict(arrays)


def test_the_legacy_run_resumes_to_the_weights_the_old_code_gave(legacy: Path) -> None:
    facts, arrays = expected()
    result = train(TrainConfig(out=str(legacy / "run")), resume=True, show_progress=False)
    assert {"steps": result.steps, "finished": result.finished, "level": result.level} == facts["continued"]
    trained = load_trained(legacy / "run")
    assert [[name, shape] for name, shape in tf.train.list_variables(trained.checkpoint)] == facts["variables"]
    weights = [v.numpy() for v in trained.model.trainable_variables]
    assert len(weights) == len([key for key in arrays if key.startswith("weight_")])
    for index, value in enumerate(weights):  # Adam's slots matched to the wrong variables would move them far apart
        np.testing.assert_allclose(value, arrays[f"weight_{index:03d}"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trained.stats.mean.numpy(), arrays["stats_mean"], rtol=1e-4, atol=1e-5)


def test_the_legacy_run_and_export_swap_as_they_did(legacy: Path) -> None:
    _, arrays = expected()
    inputs = np.load(legacy / "inputs.npy")
    np.testing.assert_allclose(np.asarray(load_trained(legacy / "run").swap(inputs, "ada", "ben")), arrays["swap_run"], atol=1e-5)
    np.testing.assert_allclose(np.asarray(load_exported(legacy / "export_run").swap(inputs, "ada", "ben")), arrays["swap_export"], atol=1e-5)
