"""The trainer's callback seam (pairsim/train/callbacks.py): hooks are called in order with the run's values, and
a hook raising StopRun ends training cleanly (the run still evaluates on test and saves its model)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pairsim.recipe import Recipe
from pairsim.train.callbacks import Callback, StopRun
from pairsim.train.trainer import Trainer


class Recorder(Callback):
    def __init__(self, stop_at_step: int | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.seen: list[tuple[float, float]] = []  # (loss, lr) of each step
        self.stop_at_step = stop_at_step

    def on_train_start(self, trainer: Any) -> None:
        self.events.append(("start", trainer.total_steps))

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        self.events.append(("step", (step, epoch, rows)))
        self.seen.append((loss, lr))
        if self.stop_at_step is not None and step >= self.stop_at_step:
            raise StopRun(f"planted stop at step {step}")

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        self.events.append(("val", (epoch, step, "roc_auc" in metrics)))

    def on_train_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        self.events.append(("end", metrics["steps"]))


def test_hooks_see_every_step_and_validation(tmp_path: Path, digits_recipe: Callable[..., Recipe]) -> None:
    rec = Recorder()
    Trainer(digits_recipe(), progress=False, callbacks=[rec]).run()
    kinds = [k for k, _ in rec.events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    steps = [v for k, v in rec.events if k == "step"]
    assert [s for s, _, _ in steps] == list(range(1, 13))  # 2 epochs of 6 steps, numbered from 1
    assert {e for _, e, _ in steps} == {1, 2} and all(rows == 16 for _, _, rows in steps)
    assert [v for k, v in rec.events if k == "val"] == [(1, 6, True), (2, 12, True)]
    assert rec.events[-1] == ("end", 12)
    losses, lrs = zip(*rec.seen, strict=True)
    assert all(loss > 0 for loss in losses)
    assert lrs[0] > lrs[-1] >= 0  # the scheduler's rate after each step (linear decay to 0)


def test_stop_run_ends_training_and_still_finishes(tmp_path: Path, digits_recipe: Callable[..., Recipe]) -> None:
    rec = Recorder(stop_at_step=3)
    metrics = Trainer(digits_recipe(), progress=False, callbacks=[rec]).run()
    assert metrics["steps"] == 3  # stopped mid-epoch, after the step that raised
    assert [v for k, v in rec.events if k == "val"] == [(1, 3, True)]  # the epoch's end validation still ran
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["steps"] == 3 and "roc_auc" in written["test"]
    assert (tmp_path / "run" / "model" / "config.json").is_file()
