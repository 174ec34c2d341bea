"""The trainer's housekeeping (issue 10): checkpoint timing, model snapshots, the progress bar's loss and rate, and
what a finished run says about (or does with) its resume checkpoint. A mixin of :class:`pairsim.train.trainer.Trainer`.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from pathlib import Path
from typing import Any

from pairsim.jsonio import read_json_bounded

log = logging.getLogger("pairsim.train")
_clock = time.monotonic  # the clock of time-based checkpoints (tests replace it)
RATE_WINDOW = 20  # steps over which the bar's pairs/s is measured


class Housekeeping:
    """Checkpoint timing, model snapshots, the bar and the resume checkpoint after a run; expects the trainer's
    ``recipe``, ``ckpt_path``, ``out``, ``work``, ``model`` and ``state``."""

    recipe: Any
    ckpt_path: Path
    out: Path
    work: Path
    model: Any
    state: dict[str, Any]
    total_steps: int

    def _refresh_fitted(self, model: Any) -> None:
        """Refresh the model's closed-form fitted parts for its current weights (the trainer's fitters)."""

    def _start_housekeeping(self) -> None:
        """(Re)start the checkpoint clock and the bar's rate window."""
        self._last_checkpoint = _clock()
        if not hasattr(self, "_checkpoint_logged"):
            self._checkpoint_logged = False
        self._rate: collections.deque[tuple[float, int]] = collections.deque(maxlen=RATE_WINDOW)

    def _checkpoint_written(self) -> None:
        """After a checkpoint: say once where it is, and restart the clock."""
        if not self._checkpoint_logged:
            self._checkpoint_logged = True
            log.info("checkpoint for --resume: %s (every %s)", self.ckpt_path, _interval(self.recipe.train))
        self._last_checkpoint = _clock()

    def _checkpoint_due(self, step: int) -> bool:
        """Whether to checkpoint after ``step``: every ``train.checkpoint.every`` steps or ``.minutes``."""
        t = self.recipe.train
        by_steps = bool(t.checkpoint.every) and step % t.checkpoint.every == 0
        by_time = t.checkpoint.minutes > 0 and _clock() - self._last_checkpoint >= 60 * t.checkpoint.minutes
        return by_steps or by_time

    def _snapshot(self, step: int) -> None:
        """Save the model as ``snapshots/step_NNNNNN`` and list it in ``snapshots/index.json`` with the training
        seconds so far (batch fetching and optimiser steps; checkpoints, snapshots and validation excluded).

        A snapshot has no decision threshold (none was calibrated for these weights): score it, or calibrate
        it with ``pairsim eval``.

        Args:
            step: The optimiser step just taken.
        """
        from pairsim.safe_io import atomic_write_text

        folder = self.work / "snapshots"
        name = f"step_{step:06d}"
        seconds = round(float(self.state.get("train_seconds", 0.0)), 3)
        self._refresh_fitted(self.model)  # a snapshot carries what was fitted for its own weights
        threshold, self.model.config.threshold = self.model.config.threshold, None
        try:
            self.model.save_pretrained(folder / name, metrics={"step": step, "train_seconds": seconds})
        finally:
            self.model.config.threshold = threshold
        index_path = folder / "index.json"
        index = read_json_bounded(index_path) if index_path.is_file() else []
        index = [e for e in index if e["step"] != step] + [{"step": step, "train_seconds": seconds, "model": name}]
        atomic_write_text(index_path, json.dumps(index, indent=1) + "\n")

    def _restart_rate(self) -> None:
        """Measure pairs/s from now (an epoch's start, after a validation): pauses do not count as training."""
        self._rate.clear()
        self._rate.append((time.perf_counter(), 0))

    def _update_bar(self, bar: Any, loss: float, rows: int, epoch: int) -> None:
        """Show the smoothed loss and the pairs/s of the last :data:`RATE_WINDOW` steps, every step."""
        now = time.perf_counter()
        self._rate.append((now, rows))
        rate = 0.0
        if len(self._rate) > 1:  # rows of the steps that ended after the first timestamp, over the time between
            rate = sum(r for _, r in list(self._rate)[1:]) / max(1e-9, now - self._rate[0][0])
        total = getattr(self, "total_steps", None)
        if total is not None and getattr(bar, "total", total) != total:  # a time budget planned the run's length
            bar.total = total
        bar.set_postfix(loss=f"{loss:.4f}", pairs_per_s=f"{rate:.1f}", epoch=epoch, refresh=False)
        bar.update(1)

    def _settle_checkpoint(self) -> None:
        """After a finished run: say where the resume checkpoint is and how big, or delete it
        (``train.checkpoint.keep: false``); the model itself is in ``model/``."""
        if not self.ckpt_path.is_file():
            return
        size = self.ckpt_path.stat().st_size / 1e6
        shown = self.out / "checkpoints" / self.ckpt_path.name
        if not self.recipe.train.checkpoint.keep:
            self.ckpt_path.unlink()
            if not any(self.ckpt_path.parent.iterdir()):
                self.ckpt_path.parent.rmdir()
            log.info("deleted the resume checkpoint %s (%.0f MB; train.checkpoint.keep=false)", shown, size)
            return
        log.info(
            "resume checkpoint kept at %s (%.0f MB: weights, optimiser state, random states) to continue with "
            "--resume and more epochs; delete it if you will not, or set train.checkpoint.keep=false",
            shown, size,
        )  # fmt: skip


def _interval(t: Any) -> str:
    """The checkpoint interval of a train config in words."""
    parts = [f"{t.checkpoint.every} steps"] if t.checkpoint.every else []
    if t.checkpoint.minutes:
        parts.append(f"{t.checkpoint.minutes:g} minutes")
    return " or ".join(parts) + (", and " if parts else "") + "at each epoch end"
