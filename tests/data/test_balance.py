import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.data.augment import Augment
from combtf.data.balance import MAX_RATIO, draw_weights, expression
from combtf.data.faceset import load_level, scan
from combtf.data.pipeline import dataset
from combtf.faces.template import template

SIZE = 64


def crop(folder: Path, name: str, gap: float, value: int = 0) -> Path:
    """A crop whose sidecar's landmarks open the inner lips by `gap` px."""
    points = template(SIZE).copy()
    points[[65, 66, 67], 1] += gap
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"crop_landmarks": points.tolist(), "crop_size": SIZE}))
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(folder / f"{name}.png")
    return folder / f"{name}.png"


def calm_person(folder: Path) -> list[Path]:
    """Nine near-closed mouths and one wide open: crop 9 is the rare expression."""
    return [crop(folder, f"f{i}", 0.1 * i if i < 9 else 12.0, value=25 * i) for i in range(10)]


def test_rare_expressions_weigh_more(tmp_path: Path) -> None:
    paths = calm_person(tmp_path / "a")
    assert draw_weights(paths, 0.0) is None
    weights = draw_weights(paths, 1.0)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[9] > 3 * weights[:9].max()
    assert weights.max() / weights.min() <= MAX_RATIO + 1e-9
    half = draw_weights(paths, 0.5)
    assert weights[9] > half[9] > 0.1  # strength sets how far from uniform


BAD_SIDECARS = {
    "not json": "not json",
    "not an object": "[1, 2]",
    "no landmarks": '{"crop_size": 64}',
    "too few points": '{"crop_landmarks": [[1, 2]], "crop_size": 64}',
    "nan": '{"crop_landmarks": ' + json.dumps([[float("nan"), 1.0]] * 68) + ', "crop_size": 64}',
    "negative size": '{"crop_landmarks": ' + json.dumps([[1.0, 1.0]] * 68) + ', "crop_size": -1}',
    "nested too deep": "[" * 100000,
    "too large": " " * (2 << 20) + json.dumps({"crop_landmarks": template(SIZE).tolist(), "crop_size": SIZE}),
}


@pytest.mark.parametrize("sidecar", BAD_SIDECARS.values(), ids=BAD_SIDECARS.keys())
def test_untrusted_sidecars_draw_uniformly(tmp_path: Path, sidecar: str, caplog: pytest.LogCaptureFixture) -> None:
    paths = calm_person(tmp_path / "a")
    paths[3].with_suffix(".json").write_text(sidecar)
    assert expression(paths[3]) is None
    with caplog.at_level(logging.WARNING):
        assert draw_weights(paths, 1.0) is None
    assert "f3" in caplog.text


def test_batches_draw_by_the_weights(tmp_path: Path) -> None:
    calm_person(tmp_path / "a")
    calm_person(tmp_path / "b")
    faces = scan(tmp_path)
    shares = {}
    for balance in (0.0, 1.0):
        level = load_level(faces, 8, expression_balance=balance)
        batches = dataset(level, ["a", "b"], 8, seed=1, first_step=0, last_step=300, aug=Augment(False, False, False, False))
        values = np.concatenate([np.round(inputs[0].numpy()[:, 0, 0, 0] * 255) for inputs, _, _ in batches])
        shares[balance] = np.mean(values == 225)  # crop 9's colour
    expected = draw_weights(faces.images["a"], 1.0)[9]
    assert shares[0.0] == pytest.approx(0.1, abs=0.03)
    assert shares[1.0] == pytest.approx(expected, abs=0.03)


def test_sidecars_are_read_once_a_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = calm_person(tmp_path / "a")
    calm_person(tmp_path / "b")
    paths[3].with_suffix(".json").write_text("not json")
    faces = scan(tmp_path)
    with caplog.at_level(logging.WARNING):
        for size in (4, 8):
            level = load_level(faces, size, expression_balance=1.0)
    assert caplog.text.count("f3.png") == 1
    assert level.draw_weights["a"] is None and level.draw_weights["b"] is not None
