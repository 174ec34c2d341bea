"""Time budgets (``train.time_budget``, pairsim/train/budget.py) and log lines (pairsim/train/progress_log.py).

The budget's clock is a fake one here, moved by the run itself: each training step takes 1 s, each evaluation
(validation, the budget's timed pass, the test) 5 s. The plan and the run's end are then exact, not a matter of the
machine's speed. One run on the real clock checks the plan is followed: the schedule ends at the planned step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from pairsim.errors import ConfigError
from pairsim.recipe import Recipe
from pairsim.train import budget, progress_log
from pairsim.train import trainer as trainer_module
from pairsim.train.budget import events_between, steps_fitting
from pairsim.train.callbacks import Callback
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Tick(Callback):
    """Each step takes ``seconds`` (``slow_after``: 3x as long from that step on)."""

    def __init__(self, clock: FakeClock, seconds: float = 1.0, slow_after: int | None = None) -> None:
        self.clock, self.seconds, self.slow_after = clock, seconds, slow_after

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        slow = self.slow_after is not None and step > self.slow_after
        self.clock.now += self.seconds * (3 if slow else 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for the budget and the log lines; every evaluation moves it 5 s."""
    fake = FakeClock()
    monkeypatch.setattr(budget, "_clock", fake)
    monkeypatch.setattr(progress_log, "_clock", fake)
    real = trainer_module.evaluate_split

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        fake.now += 5.0
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate_split", evaluate)
    return fake


def _lrs(metrics: dict[str, Any]) -> list[tuple[int, float]]:
    return [(h["step"], h["lr"]) for h in metrics["history"] if "lr" in h]


def test_a_budgeted_run_ends_within_the_budget(clock: FakeClock, digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.epochs=50", "train.time_budget=1")  # 300 steps asked, 60 s allowed
    metrics = Trainer(recipe, progress=False, callbacks=[Tick(clock)]).run()
    out = Path(recipe.output_dir)
    plan = load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]["plan"]
    assert plan["planned_at"] == 6 and plan["step_s"] == 1.0 and plan["val_s"] == 5.0  # 5 timed steps after the 1st
    assert 6 < metrics["steps"] == plan["total"] < 300
    assert 0.8 * 60 <= clock.now <= 1.1 * 60  # the whole run, test evaluation included
    assert _lrs(metrics)[-1] == (plan["total"], 0.0)  # the linear schedule ended at the planned step
    line = next(x for x in (out / "train.log").read_text().splitlines() if "time budget 1.0 min:" in x)
    assert f"{plan['total']} steps planned (of the recipe's 300)" in line and "measured 1 steps/s" in line


def test_the_plan_takes_the_most_steps_that_fit(clock: FakeClock, digits_recipe: Callable[..., Recipe]) -> None:
    """The planned total fits 95% of the budget by the plan's own costs, and one more step would not."""
    recipe = digits_recipe("train.epochs=50", "train.time_budget=1.5")
    trainer = Trainer(recipe, progress=False, callbacks=[Tick(clock)])
    trainer.run()
    plan = trainer.state["plan"]

    def cost(total: int) -> float:
        n = events_between(trainer, plan["planned_at"] - 1, total, minutes=0)
        return (total - plan["planned_at"]) * 1.0 + n["validations"] * 5.0 + plan["test_s"]

    spent = plan["estimated_s"] - cost(plan["total"])  # set-up, warm-up and the timed validation
    assert spent + cost(plan["total"]) <= 0.95 * 90 < spent + cost(plan["total"] + 1)  # aimed at 95% of the budget


def test_a_run_slower_than_measured_stops_within_the_budget(
    clock: FakeClock, digits_recipe: Callable[..., Recipe]
) -> None:
    recipe = digits_recipe("train.epochs=50", "train.time_budget=1")
    metrics = Trainer(recipe, progress=False, callbacks=[Tick(clock, slow_after=10)]).run()
    plan = json.loads(json.dumps(load_checkpoint(Path(recipe.output_dir) / "checkpoints" / "last.pt")["trainer"]))
    assert metrics["steps"] < plan["plan"]["total"]  # stopped before the plan's end ...
    assert clock.now <= 1.1 * 60  # ... to end within the budget
    assert "training ran slower than measured" in (Path(recipe.output_dir) / "train.log").read_text()


def test_the_recipe_s_own_length_is_kept_when_it_fits(clock: FakeClock, digits_recipe: Callable[..., Recipe]) -> None:
    metrics = Trainer(digits_recipe("train.time_budget=10"), progress=False, callbacks=[Tick(clock)]).run()
    assert metrics["steps"] == 12 and _lrs(metrics)[-1] == (12, 0.0)


def test_a_resumed_budgeted_run_equals_the_uninterrupted_one(
    clock: FakeClock,
    digits_recipe: Callable[..., Recipe],
    tmp_path: Path,
    killed_at_step: Callable[[int], AbstractContextManager[None]],
) -> None:
    overrides = ("train.epochs=50", "train.time_budget=1")
    ref = Trainer(digits_recipe(*overrides, output_dir=tmp_path / "ref"), progress=False, callbacks=[Tick(clock)]).run()

    clock.now = 0.0
    recipe = digits_recipe(*overrides)
    with killed_at_step(10):  # after the plan (step 6) and the checkpoint at step 9
        Trainer(recipe, progress=False, callbacks=[Tick(clock)]).run()
    out = Path(recipe.output_dir)
    assert load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]["plan"]["total"] == ref["steps"]
    metrics = Trainer(digits_recipe(*overrides), resume=True, progress=False, callbacks=[Tick(clock)]).run()

    assert metrics["steps"] == ref["steps"] and metrics["history"] == ref["history"]
    a, b = load_file(out / "model" / "model.safetensors"), load_file(tmp_path / "ref" / "model" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_real_run_follows_its_plan(digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch) -> None:
    """On the real clock: the budget cuts the recipe's 4000 steps, and the schedule ends where the plan says (how far
    the plan gets past the warm-up depends on the machine's speed and load; not asserted)."""
    monkeypatch.setattr(budget, "OVERRUN", 100.0)  # no safety stop: this checks the plan, not the machine's load
    recipe = digits_recipe("train.schedule.steps_per_epoch=200", "train.epochs=50", "train.time_budget=0.25")
    trainer = Trainer(recipe, progress=False)
    metrics = trainer.run()
    plan = trainer.state["plan"]
    assert 6 <= plan["planned_at"] <= metrics["steps"] == plan["total"] < 4000 == trainer.steps_per_epoch * 50
    assert _lrs(metrics)[-1] == (plan["total"], 0.0)


def test_steps_fitting_is_the_largest_total_within_the_budget() -> None:
    def cost(after: int, total: int) -> float:
        return (total - after) * 2.0 + 10.0  # 2 s a step, 10 s for the test

    assert steps_fitting(budget_s=100, elapsed_s=20, start=5, limit=1000, cost=cost) == 40  # 20 + 70 + 10
    assert steps_fitting(budget_s=100, elapsed_s=20, start=5, limit=30, cost=cost) == 30  # the recipe's own length
    assert steps_fitting(budget_s=100, elapsed_s=95, start=5, limit=1000, cost=cost) == 5  # no room: stop now


def test_events_between_counts_what_the_loop_does(digits_recipe: Callable[..., Recipe]) -> None:
    """6 steps an epoch, validation every 4 steps and at epoch ends, checkpoints every 3 steps and at epoch ends."""
    trainer = Trainer(digits_recipe("train.validation.every=4", "train.checkpoint.minutes=0"), progress=False)
    trainer.steps_per_epoch = 6
    # steps 1..14: epoch ends 6, 12, 14 (the last, partial epoch); within-epoch validations 4, 8 (not 12: its end)
    n = events_between(trainer, 0, 14, minutes=0)
    assert n == {"validations": 5, "checkpoints": 3 + 4, "snapshots": 1}
    assert events_between(trainer, 7, 14, minutes=0) == {"validations": 3, "checkpoints": 2 + 2, "snapshots": 1}


def test_log_lines_every_30_seconds_without_a_bar(clock: FakeClock, digits_recipe: Callable[..., Recipe]) -> None:
    """7 s a step, 5 s a validation: lines at steps 5 (35 s) and 9 (71 s); none at the last step (12)."""
    recipe = digits_recipe()
    trainer = Trainer(recipe, progress=True, callbacks=[Tick(clock, seconds=7.0)])
    assert not trainer.bar_shown  # standard error is not a terminal here: lines instead of a bar
    trainer.run()
    log = (Path(recipe.output_dir) / "train.log").read_text().splitlines()
    lines = [line.split(" ", 1)[1] for line in log if " pairs/s, about " in line]
    assert len(lines) == 2
    # 5 steps of 16 pairs in 35 s; 7 steps left at 7 s
    assert lines[0].startswith("step 5/12 (epoch 1): loss ") and lines[0].endswith(", 2.3 pairs/s, about 49s left")
    # 3 steps of 16 pairs in 21 s since the validation; 3 steps left at 7 s and the last validation (5 s)
    assert lines[1].startswith("step 9/12 (epoch 2): loss ") and lines[1].endswith(", 2.3 pairs/s, about 26s left")


@pytest.mark.parametrize(
    "value, message",
    [
        ("0.05", "time_budget: 0.05 minutes; expected 0 (off) or at least 0.1"),
        ("-1", "time_budget: expected a number in [0, 43200], got -1.0"),
    ],
)
def test_the_budget_s_range_is_checked(value: str, message: str, digits_recipe: Callable[..., Recipe]) -> None:
    with pytest.raises(ConfigError) as err:
        digits_recipe(f"train.time_budget={value}")
    assert str(err.value).endswith(f"train.{message}")
