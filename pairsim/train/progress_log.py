"""Log lines instead of a progress bar (``--no-progress``, or standard error not a terminal): one line every
:data:`EVERY` seconds with the step, the smoothed loss, the pairs per second and the time left.

Example:
    ``step 120/400 (epoch 2): loss 0.3412, 85.3 pairs/s, about 4m10s left``
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pairsim.train.budget import events_between
from pairsim.train.callbacks import Callback

log = logging.getLogger("pairsim.train")
_clock = time.monotonic  # tests replace it
EVERY = 30.0  # seconds between lines


def duration(seconds: float) -> str:
    """``4m10s``, ``1h02m``, ``45s``.

    Example:
        >>> duration(250), duration(3725), duration(44.6)
        ('4m10s', '1h02m', '45s')
    """
    s = round(max(0.0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class ProgressLog(Callback):
    """Logs the run's progress every ``every`` seconds of the run.

    Pairs/s and steps/s are measured over the training since the previous line (validation pauses excluded);
    the time left is the steps left at that rate plus the validations left at the last validation's length.

    Args:
        every: Seconds between lines.
    """

    def __init__(self, every: float = EVERY) -> None:
        self.every = every
        self._line = self._since = self._last = 0.0
        self._rows = self._steps = 0
        self._val_s: float | None = None

    def on_train_start(self, trainer: Any) -> None:
        self._line = self._since = self._last = _clock()
        self._rows = self._steps = 0

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        now = _clock()
        self._rows += rows
        self._steps += 1
        self._last = now
        if now - self._line < self.every or step >= trainer.total_steps:
            return
        spent = max(1e-9, now - self._since)
        step_s = spent / self._steps
        left = (trainer.total_steps - step) * step_s
        if self._val_s is not None:
            n = events_between(trainer, step - 1, trainer.total_steps, minutes=left / 60)  # this step's too
            left += n["validations"] * self._val_s
        running = trainer.state.get("running_loss")
        log.info(
            "step %d/%d (epoch %d): loss %.4f, %.1f pairs/s, about %s left",
            step, trainer.total_steps, epoch, loss if running is None else running, self._rows / spent, duration(left),
        )  # fmt: skip
        self._line = self._since = now
        self._rows = self._steps = 0

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        now = _clock()
        if step:  # the validation's length: since the step before it
            self._val_s = now - self._last
        self._since, self._rows, self._steps = now, 0, 0
