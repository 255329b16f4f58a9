"""Run options as one dataclass, read from and written to YAML.

Every `combtf train` option can come from a YAML file; the run writes the resolved
config next to its checkpoints so that a resume, a swap or an export rebuilds exactly
the same model.  YAML is parsed with `safe_load` only: a config handed over by someone
else cannot construct Python objects.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from combtf.errors import CombtfError
from combtf.io.atomic import write_atomic
from combtf.levels import level_of

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
INFERENCE_PRECISIONS = ("float32", "mixed_bfloat16", "auto")  # swaps, exports, analysis (float16 is not offered); exports default to the first
EXPORT_FORMATS = ("savedmodel", "onnx", "dfm")  # the first is the default
UNKNOWN_TARGET = "*"  # a swap target from outside the run (a DFM user's face): latent statistics pooled over the other identities
OPTIMIZERS = ("adam", "sgd")
LOSSES = ("ssim", "ms_ssim")
# How `combtf train` spreads over devices, the first the default. Not part of a run's config: a run may resume
# on other hardware.
STRATEGIES = ("auto", "default", "mirrored", "multiworker")


@dataclass
class TrainConfig:
    """Everything that defines a training run (model, data, schedule, optimisation)."""

    data: str | None = None
    out: str | None = None
    # model
    max_resolution: int = 64
    start_resolution: int = 4
    width: float = 1.0
    latent_dim: int = 512
    latent_size: int = 1
    shared_decoder_levels: int = 2
    # schedule
    images_per_level: int = 4000
    final_images: int | None = None  # the final level's stabilise phase (None: like the others)
    progressive: bool = True
    min_score: float | None = None
    max_repeats: int = 3
    # optimisation
    batch_size: int = 8
    lr: float = 1e-3
    optimizer: str = "adam"
    loss: str = "ssim"
    l1_weight: float = 0.0
    eyes_mouth_weight: float = 0.0
    detail_weight: float = 0.0  # gradient difference over the eye and mouth boxes
    swap_cycle_weight: float = 0.0
    expression_balance: float = 0.0  # draw crops by density**-this of their expression (0: uniformly)
    clip_norm: float = 1.0
    weight_average: float = 0.99
    latent_match: float = 1.0  # how far a swap moves the target's code to the source's statistics
    mirror_average: bool = False  # swaps average the frame's swap with its mirror image's, mirrored back
    precision: str = "auto"
    seed: int = 0
    # augmentation
    flip: bool = True
    affine: bool = True
    affine_amount: float = 1.0  # of the default jitter: +-10 degrees, +-5 % scale, +-5 % shift
    warp: bool = True
    warp_amount: float = 0.24  # of a grid cell: DeepFaceLab's; faceswap's is about 0.08
    color: bool = True
    # outputs
    preview_every: int = 500
    checkpoint_every: int = 200
    keep_checkpoints: int = 3
    identities: list[str] = field(default_factory=list)

    def validate(self) -> TrainConfig:
        """Fail early, with the option's name, on values that would fail hours later."""
        level_of(self.max_resolution, "max_resolution")
        level_of(self.start_resolution, "start_resolution")
        if self.start_resolution > self.max_resolution:
            raise CombtfError(f"start_resolution {self.start_resolution} is above max_resolution {self.max_resolution}")
        checks = [
            (self.width > 0, "width must be > 0"),
            (self.latent_dim >= 1, "latent_dim must be >= 1"),
            (self.latent_size in (1, 4), "latent_size must be 1 (1x1 code) or 4 (4x4 spatial code)"),
            (self.shared_decoder_levels >= 0, "shared_decoder_levels must be >= 0"),
            (self.images_per_level >= 2, "images_per_level must be >= 2"),
            (self.final_images is None or self.final_images >= 1, "final_images must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.lr > 0, "lr must be > 0"),
            (self.max_repeats >= 0, "max_repeats must be >= 0"),
            (self.preview_every >= 0, "preview_every must be >= 0"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (self.l1_weight >= 0, "l1_weight must be >= 0"),
            (self.eyes_mouth_weight >= 0, "eyes_mouth_weight must be >= 0"),
            (self.detail_weight >= 0, "detail_weight must be >= 0"),
            (self.swap_cycle_weight >= 0, "swap_cycle_weight must be >= 0"),
            (0 <= self.expression_balance <= 1, "expression_balance must be in [0, 1] (0: uniform draws, 1: even over expressions)"),
            (self.clip_norm >= 0, "clip_norm must be >= 0"),
            (0 < self.affine_amount <= 4, "affine_amount must be in (0, 4] (4: +-40 degrees, +-20 % scale and shift)"),
            (0 < self.warp_amount < 0.5, "warp_amount must be in (0, 0.5) of a grid cell (grid points must not cross)"),
            (0 <= self.weight_average < 1, "weight_average must be in [0, 1) (0: off)"),
            (0 <= self.latent_match <= 1, "latent_match must be in [0, 1] (0: off, 1: all the way to the source's statistics)"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}"),
            (self.min_score is None or 0 < self.min_score <= 1, "min_score must be in (0, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise CombtfError(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_OPTIONAL_NUMBERS = {"min_score": float, "final_images": int}  # default None: no type to read off


def _coerce(name: str, value: Any, default: Any, source: str) -> Any:
    """Check one YAML value against the type of the field's default."""
    def bad(kind: str) -> CombtfError:
        return CombtfError(f"{source}: option '{name}' must be {kind}, got {type(value).__name__} {value!r}")

    if name in _OPTIONAL_NUMBERS:
        if value is None:
            return None
        kind = _OPTIONAL_NUMBERS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise bad(f"{'a number' if kind is float else 'an integer'} or null")
        return kind(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of names")
        return value
    if value is not None and not isinstance(value, str):
        raise bad("a string")
    return value


def load_config(path: str | os.PathLike, base: TrainConfig | None = None) -> TrainConfig:
    """Read a YAML config; unknown keys and wrong types are errors that name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CombtfError(f"{path}: cannot read config ({exc.__class__.__name__})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise CombtfError(f"{path}: not valid YAML ({first})") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CombtfError(f"{path}: a config must be a mapping of option: value")
    config = dataclasses.replace(base) if base is not None else TrainConfig()
    defaults = TrainConfig()
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise CombtfError(f"{path}: unknown option '{key}'")
        setattr(config, name, _coerce(name, value, getattr(defaults, name), str(path)))
    return config


def save_config(config: TrainConfig, path: str | os.PathLike) -> None:
    """Write atomically, so a crash never leaves a half-written config behind."""
    write_atomic(Path(path), yaml.safe_dump(config.to_dict(), sort_keys=False).encode("utf-8"))
