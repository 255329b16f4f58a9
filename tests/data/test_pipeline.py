"""Batches are a pure function of the seed and the step, so a resumed run sees the same ones."""
from pathlib import Path

import numpy as np

from combtf.data.augment import Augment
from combtf.data.faceset import load_level, scan
from combtf.data.pipeline import dataset
from tests.helpers import face_folder


def test_batches_depend_only_on_seed_and_step(tmp_path: Path) -> None:
    face_folder(tmp_path, "a", n=6)
    face_folder(tmp_path, "b", n=6)
    level = load_level(scan(tmp_path), 16)
    aug = Augment()

    def batch(step: int) -> np.ndarray:
        inputs, _, _ = next(iter(dataset(level, ["a", "b"], 4, seed=3, first_step=step, last_step=step + 1, aug=aug)))
        return inputs[0].numpy()

    np.testing.assert_array_equal(batch(5), batch(5))
    assert not np.array_equal(batch(5), batch(6))
    resumed = list(dataset(level, ["a", "b"], 4, 3, 5, 7, aug))
    np.testing.assert_array_equal(resumed[0][0][0].numpy(), batch(5))
