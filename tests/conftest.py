"""Shared fixtures: a tiny synthetic data set, the real footage where it exists, a clean dtype policy.
Helpers that are not fixtures live in tests/helpers.py."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import pytest

from combtf.data.synthetic import write_demo_data


@pytest.fixture(autouse=True)
def float32_policy() -> Iterator[None]:
    """Training and bf16 exports set Keras' global dtype policy; no test inherits another's."""
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 identities, 24 training crops each, 6 ground-truth evaluation frames, 32 px."""
    out = tmp_path_factory.mktemp("demo") / "set"
    write_demo_data(out, identities=3, images=24, eval_images=6, size=32, seed=1)
    return out


SHARED_FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """The real footage of ../shared/faces (CI has it; a user's clone does not)."""
    if not (SHARED_FACES / "photos").is_dir():
        pytest.skip(f"real face footage not found at {SHARED_FACES} (only in the project's CI and work machines)")
    return SHARED_FACES
