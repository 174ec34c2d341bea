"""The trainer callbacks a sweep gives each trial: Optuna's pruner at every validation, and a deadline.

Example:
    >>> deadline = Deadline(seconds=0.0)
    >>> deadline.on_step(None, step=1, epoch=1, loss=0.5, lr=1e-3, rows=16)
    Traceback (most recent call last):
    ...
    pairsim.train.callbacks.StopRun: the trial's time (0.0 min) is spent
"""

from __future__ import annotations

import time
from typing import Any

from pairsim.evaluate import primary_metric
from pairsim.train.callbacks import Callback, StopRun


class PruneOnValidation(Callback):
    """Reports each validation's metric to an Optuna trial and ends the run when its pruner says so.

    The step reported is the validation's ordinal (1, 2, ...; the untrained step-0 validation is not reported), so
    trials with other batch sizes or epoch lengths are compared at the same point of their schedule.

    Args:
        trial: The Optuna trial (``report`` / ``should_prune``).
        metric: The recipe's ``train.validation.metric`` (``auto``: as the trainer picks it).
    """

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self.reported = 0
        self.pruned = False

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        if step == 0:  # the untrained model: every trial's same starting point, nothing to compare
            return
        value = metrics[primary_metric(metrics, self.metric)]
        self.reported += 1
        self.trial.report(float(value), self.reported)
        if self.trial.should_prune():
            self.pruned = True
            raise StopRun(f"pruned by the sweep at validation {self.reported} (val {value:.4f})")


class Deadline(Callback):
    """Ends a run when its share of the sweep's budget is spent (after the current step; it then validates and
    saves as an early-stopped run does), leaving time for that last validation.

    Args:
        seconds: Wall time allowed, counted from when the callback is made (the trial's start: loading the data and
            building the model count too).
        validation_s: Expected time of one validation (the last one runs after the stop); replaced by the run's own
            validations as they are timed.
    """

    def __init__(self, seconds: float, validation_s: float = 0.0) -> None:
        self.seconds = seconds
        self.until = time.monotonic() + seconds
        self.validation_s = validation_s
        self.last_step = time.monotonic()

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        self.last_step = time.monotonic()
        if self.last_step + self.validation_s >= self.until:
            raise StopRun(f"the trial's time ({self.seconds / 60:.1f} min) is spent")

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        if step > 0:  # a validation follows a step: the time since it is the validation's
            self.validation_s = time.monotonic() - self.last_step
