"""The training progress bar: tqdm over every step of the schedule, with level, alpha, loss, SSIM and images/s."""
from __future__ import annotations

import time

from tqdm import tqdm

from combtf.levels import resolution
from combtf.training.schedule import Phase


class Progress:
    """The bar's rate is an exponential average over steps: one step's time swings with the host's load."""

    def __init__(self, total: int, done: int, images_per_step: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, initial=done, disable=not enabled, unit="step", dynamic_ncols=True)
        self.images_per_step = images_per_step
        self.rate = 0.0
        self.last = time.perf_counter()

    def update(self, phase: Phase, alpha: float, loss: float, score: float) -> None:
        now = time.perf_counter()
        rate = self.images_per_step / max(now - self.last, 1e-9)
        self.rate = rate if self.rate == 0 else 0.9 * self.rate + 0.1 * rate
        self.last = now
        self.bar.set_postfix_str(
            f"{resolution(phase.level)}px {phase.name} a={alpha:.2f} loss={loss:.4f} ssim={score:.4f} {self.rate:.1f} img/s",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
