"""The reporter base: turns the trainer's history entries, throughput, test metrics and plots into calls of a
tracking library (:meth:`Reporter.scalars`, :meth:`Reporter.images`, ...), which each reporter implements."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any, ClassVar

from pairsim.errors import ConfigError
from pairsim.train.callbacks import Callback

_clock = time.perf_counter  # the throughput clock (tests replace it)


def tag_of(key: str) -> str | None:
    """The tracking tag of a history key: ``loss`` -> ``train/loss``, ``val_roc_auc`` -> ``val/roc_auc``; None for
    the entry's coordinates (``step``, ``epoch``).

    Example:
        >>> tag_of("val_spearman"), tag_of("lr"), tag_of("epoch")
        ('val/spearman', 'train/lr', None)
    """
    if key in ("step", "epoch"):
        return None
    if key.startswith("val_"):
        return "val/" + key[4:]
    return "train/" + key


class Reporter(Callback):
    """A tracking tool for one run; subclasses open, write to and close it.

    Subclasses set :attr:`module` (the library imported to check it is there) and :attr:`extra` (the pairsim
    extra that installs it), and implement :meth:`open`, :meth:`scalars`, :meth:`images` and :meth:`close`.
    """

    module: ClassVar[str] = ""
    extra: ClassVar[str] = ""

    def __init__(self) -> None:
        try:
            importlib.import_module(self.module)
        except ImportError:
            name = getattr(self, "registered_name", self.module)
            raise ConfigError(
                f"train.report_to: {name} needs the {self.module} package: pip install 'pairsim[{self.extra}]'"
            ) from None
        self._seen = 0
        self._since: float | None = None
        self._rows = 0

    # -- what each tool implements ----------------------------------------------------------------------------
    def open(self, trainer: Any) -> None:
        """Start (or, on --resume, continue) the tool's run; ``trainer.work`` is the run directory."""

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Record ``{tag: value}`` at a global step."""

    def images(self, paths: list[Path], step: int) -> None:
        """Record the PNG files (the run's plots) at the final step."""

    def close(self, trainer: Any, metrics: dict[str, Any]) -> None:
        """Finish the tool's run after the test metrics are recorded."""

    # -- hooks ------------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: Any) -> None:
        self._seen = len(trainer.state["history"])  # entries a resumed run reported already
        self.open(trainer)
        self._since, self._rows = _clock(), 0

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        self._rows += rows
        self._flush(trainer)

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        self._flush(trainer)
        self._since, self._rows = _clock(), 0  # throughput counts training time only

    def on_train_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        self._flush(trainer)
        step = int(metrics.get("steps", 0))
        test = {f"test/{k}": float(v) for k, v in metrics.get("test", {}).items() if _is_number(v)}
        if test:
            self.scalars(test, step)
        plots = sorted((trainer.work / "plots").glob("*.png"))
        if plots:
            self.images(plots, step)
        self.close(trainer, metrics)

    def _flush(self, trainer: Any) -> None:
        """Report the history entries logged since the last call (with the throughput beside each loss)."""
        history = trainer.state["history"]
        for entry in history[self._seen :]:
            values = {tag: float(v) for k, v in entry.items() if (tag := tag_of(k)) and _is_number(v)}
            if "loss" in entry and self._rows and self._since is not None:
                now = _clock()
                values["train/pairs_per_s"] = self._rows / max(1e-9, now - self._since)
                self._since, self._rows = now, 0
            if values:
                self.scalars(values, int(entry.get("step", 0)))
        self._seen = len(history)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
