"""Swaps served from an export folder (`combtf export`) instead of a run folder.

Only plain TensorFlow is used on the SavedModels, exactly as a pipeline without combtf would.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from combtf.config import TrainConfig, load_config
from combtf.errors import CombtfError
from combtf.swap.export import MODEL_JSON, versions
from combtf.training.run_folder import CONFIG


@dataclass
class ExportedModel:
    run: Path  # the export folder
    config: TrainConfig
    resolution: int
    exported: list[str]
    can_match: bool
    _loaded: dict[str, object] = field(default_factory=dict, repr=False)

    def check_identity(self, name: str, role: str) -> None:
        known = self.exported if role == "source" else self.config.identities
        if name not in known:
            kind = "exported" if role == "source" else "model"
            raise CombtfError(f"--{role} '{name}' is not among the {kind} identities of {self.run} ({', '.join(known)})")

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> tf.Tensor:
        self.check_identity(source, "source")
        signature = self._signature(source)
        targets = tf.constant([target if match else ""] * len(x))
        return signature(images=tf.constant(x, tf.float32), target=targets)["swapped"]

    def _signature(self, source: str) -> object:
        if source not in self._loaded:
            numbers = versions(self.run / source)
            if not numbers:
                raise CombtfError(f"{self.run / source}: no exported version")
            path = self.run / source / str(numbers[-1])
            try:
                self._loaded[source] = tf.saved_model.load(str(path)).signatures["serving_default"]
            except (OSError, ValueError, KeyError, tf.errors.OpError) as exc:
                raise CombtfError(f"{path}: cannot load the SavedModel ({exc.__class__.__name__})") from exc
        return self._loaded[source]


def is_export(path: Path) -> bool:
    return (path / MODEL_JSON).is_file()


def load_exported(folder: Path) -> ExportedModel:
    try:
        meta = json.loads((folder / MODEL_JSON).read_text(encoding="utf-8"))
        exported, resolution, matching = list(meta["identities"]), int(meta["resolution"]), bool(meta["latent_matching"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CombtfError(f"{folder / MODEL_JSON}: not a combtf export description ({exc.__class__.__name__})") from exc
    if not all(isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name for name in exported):
        raise CombtfError(f"{folder / MODEL_JSON}: 'identities' must be a list of plain folder names")
    return ExportedModel(folder, load_config(folder / CONFIG).validate(), resolution, exported, matching)
