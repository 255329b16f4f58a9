"""Greedy, stage-by-stage growth: which level trains, for how long, with which alpha.

Each level after the first has a fade-in phase (alpha 0 -> 1) and a stabilise phase
(alpha = 1), each of `images_per_level / 2` images per identity; `final_images`, when set, is
the final level's stabilise phase alone (the low levels settle in minutes, the final one is where
the faces' detail is learnt, so that is where a budget goes).  An optional score gate repeats a
level's stabilise phase until its mean masked SSIM reaches `min_score`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from combtf.config import TrainConfig
from combtf.levels import level_of


@dataclass(frozen=True)
class Phase:
    level: int
    fade: bool
    steps: int

    @property
    def name(self) -> str:
        return "fade-in" if self.fade else "stabilise"


def plan(config: TrainConfig, replicas: int = 1) -> list[Phase]:
    """Phases in steps of the global batch (`batch_size` per replica), so the images a level sees
    do not depend on how many replicas share the work."""
    first = level_of(config.start_resolution) if config.progressive else level_of(config.max_resolution)
    last = level_of(config.max_resolution)

    def steps(images: float) -> int:
        return max(1, math.ceil(images / (config.batch_size * replicas)))

    half = steps(config.images_per_level / 2)
    phases = [Phase(first, False, 2 * half)]  # nothing to fade in from at the first level
    for level in range(first + 1, last + 1):
        phases += [Phase(level, True, half), Phase(level, False, half)]
    if config.final_images is not None:
        phases[-1] = Phase(last, False, steps(config.final_images))
    return phases


def alpha(phase: Phase, step_in_phase: int) -> float:
    """Linear ramp that reaches 1 on the phase's last step."""
    return min(1.0, (step_in_phase + 1) / phase.steps) if phase.fade else 1.0


def repeat_level(phase: Phase, mean_score: float, repeats_done: int, config: TrainConfig) -> bool:
    """The score gate: hold a level while its score is below `min_score`, at most `max_repeats` times."""
    return (
        not phase.fade
        and config.min_score is not None
        and mean_score < config.min_score
        and repeats_done < config.max_repeats
    )
