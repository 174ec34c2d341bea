"""Callbacks: the trainer's seam for whatever watches a run (trackers, sweeps' pruners, time budgets).

A callback is an object with any of the hooks below; the trainer calls each hook of each callback in order, on the
main process only. A hook may raise :class:`StopRun` to end training cleanly after the current step or validation
(the run then evaluates and saves as after early stopping).

Example:
    >>> class Printer(Callback):
    ...     def on_validation(self, trainer, *, epoch, step, metrics):
    ...         print(epoch, step, sorted(metrics))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StopRun(Exception):
    """Raised by a callback hook to end training now; ``reason`` is logged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Callback:
    """The hooks a run calls; each does nothing here. Subclass and override the ones you need."""

    def on_train_start(self, trainer: Any) -> None:
        """After the model, data and optimiser are built (and a resumed state restored), before the first step."""

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        """After each optimiser step.

        Args:
            trainer: The running trainer (``trainer.total_steps``, ``trainer.state``, ``trainer.recipe``).
            step: Global step just taken (1-based).
            epoch: Epoch of the step (1-based, as logged).
            loss: The step's loss (not smoothed).
            lr: The learning rate of the first parameter group after the step.
            rows: Pairs (rows) in the step's batch, over all processes.
        """

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        """After each validation (at the start, within an epoch, at an epoch's end); ``metrics`` as evaluated."""

    def on_train_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        """After the test evaluation and the files are written; ``metrics`` as in ``metrics.json``."""


class CallbackList(Callback):
    """Calls each hook of several callbacks in order."""

    def __init__(self, callbacks: Sequence[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def on_train_start(self, trainer: Any) -> None:
        for cb in self.callbacks:
            cb.on_train_start(trainer)

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        _each(self.callbacks, lambda cb: cb.on_step(trainer, step=step, epoch=epoch, loss=loss, lr=lr, rows=rows))

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        _each(self.callbacks, lambda cb: cb.on_validation(trainer, epoch=epoch, step=step, metrics=metrics))

    def on_train_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_end(trainer, metrics=metrics)


def _each(callbacks: list[Callback], call: Any) -> None:
    """Call every callback; a :class:`StopRun` is raised after all were called (each still sees the step)."""
    stop: StopRun | None = None
    for cb in callbacks:
        try:
            call(cb)
        except StopRun as err:
            stop = stop or err
    if stop is not None:
        raise stop
