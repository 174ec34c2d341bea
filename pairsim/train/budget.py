"""Time budgets (``train.time_budget``, minutes): plan the step count so the run, test evaluation included, ends
within the budget, with the learning-rate schedule completed.

:class:`TimeBudget` is a callback. It measures the step time over a short warm-up (the first step untimed, then at
least :data:`WARMUP_STEPS` steps and :data:`WARMUP_SECONDS` seconds of ordinary training steps, which count), the
cost of a validation (the step-0 validation or one earlier in the warm-up; else one timed validation pass), of
a checkpoint (a timed write of the weights and optimiser state to a scratch file) and of a figure (one drawn to a
scratch file; the end draws the curves and, with ``eval.plots``, the test's plots). It then plans the largest step
count, at most what the recipe asks for (``train.epochs`` x steps per epoch, ``train.schedule.max_steps``), whose
estimated run time fits the budget:

    elapsed + steps x step time + validations x validation time + checkpoints x checkpoint time + test
        <= 95% of the budget (room for the estimates' error)

sets it as the trainer's total and the learning-rate schedule's end (pairsim/train/schedule.py), and logs the
plan in one line (at the end, one more says how long the run took). The plan is saved in the checkpoint state: a
resumed run keeps it. Should training run slower than planned, the run stops (validates, tests, saves) when going
on would end past the budget plus 5%.

Example:
    >>> steps_fitting(budget_s=100, elapsed_s=10, start=5, limit=1000, cost=lambda a, b: (b - a) * 1.0)
    95
"""

from __future__ import annotations

import logging
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from pairsim.errors import ConfigError
from pairsim.train.callbacks import Callback, StopRun

log = logging.getLogger("pairsim.train")
_clock = time.monotonic  # the budget's clock (tests replace it)
WARMUP_STEPS = 5  # timed steps (after the first) before the plan
WARMUP_SECONDS = 2.0  # and at least this much timed training
AIM = 0.95  # the plan ends at budget x this: estimates made in a short warm-up leave room for error
OVERRUN = 1.05  # the safety stop: when what is left would end past budget x this
FIGURES_PER_EVAL = 4  # figures a test evaluation with eval.plots draws (ROC, score histograms, hardest pairs, ...)


def steps_fitting(
    *, budget_s: float, elapsed_s: float, start: int, limit: int, cost: Callable[[int, int], float]
) -> int:
    """The largest total step count in ``[start, limit]`` whose run ends within the budget (binary search).

    Args:
        budget_s: The budget in seconds.
        elapsed_s: Seconds spent so far.
        start: Steps taken so far.
        limit: The most steps the recipe allows.
        cost: ``cost(start, total)``: seconds from now until the run ends (test included) with ``total`` steps;
            non-decreasing in ``total``.

    Returns:
        The total; ``start`` when even stopping now does not fit.
    """
    lo, hi = start, max(start, limit)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if elapsed_s + cost(start, mid) <= budget_s:
            lo = mid
        else:
            hi = mid - 1
    return lo


def multiples(every: int, after: int, upto: int) -> int:
    """How many multiples of ``every`` lie in ``(after, upto]`` (0 when ``every`` is 0).

    Example:
        >>> multiples(3, 2, 9), multiples(0, 0, 9)
        (3, 0)
    """
    return upto // every - after // every if every and upto > after else 0


def events_between(trainer: Any, after: int, upto: int, *, minutes: float) -> dict[str, int]:
    """Validations, checkpoints and snapshots the trainer's loop does between steps ``after`` (exclusive) and
    ``upto`` (inclusive, the last step), the final epoch's end included.

    Args:
        trainer: The running trainer (``recipe``, ``steps_per_epoch``).
        after: The last step taken.
        upto: The planned last step.
        minutes: Planned minutes of training (time-based checkpoints).

    Returns:
        ``{"validations": n, "checkpoints": n, "snapshots": n}``.
    """
    t, per = trainer.recipe.train, max(1, trainer.steps_per_epoch)
    if upto <= after:
        return {"validations": 0, "checkpoints": 0, "snapshots": 0}
    epoch_ends = math.ceil(upto / per) - after // per  # each ends at min(k x per, upto)
    within = 0
    if t.validation.every:  # not at an epoch's own end (that is the epoch-end validation)
        within = multiples(t.validation.every, after, upto) - multiples(math.lcm(t.validation.every, per), after, upto)
    timed = int(minutes / t.checkpoint.minutes) if t.checkpoint.minutes else 0
    return {
        "validations": within + (epoch_ends if t.validation.every_epoch else 0),
        "checkpoints": epoch_ends + multiples(t.checkpoint.every, after, upto) + timed,
        "snapshots": multiples(t.checkpoint.snapshot_every, after, upto) + 1,
    }


class TimeBudget(Callback):
    """Plans and keeps a run within ``minutes`` (module docstring); the trainer adds it for ``train.time_budget``.

    Args:
        minutes: The budget of the whole run (set-up, training, validation, checkpoints, test).
    """

    def __init__(self, minutes: float) -> None:
        self.budget_s = 60.0 * minutes
        self._base, self._t0 = 0.0, _clock()  # the run's time counts from here (the trainer is made at its start)
        self._last: float | None = None  # the last step's or validation's end
        self._after_val = False
        self._step_s: list[float] = []
        self._val_s: list[float] = []
        self._rows = 0

    def elapsed(self) -> float:
        """Seconds of the run so far (a resumed run adds those before its checkpoint)."""
        return self._base + _clock() - self._t0

    # -- hooks ------------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: Any) -> None:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ConfigError("train.time_budget: plans a single-process run; drop it or run one process")
        state = trainer.state
        if "budget_elapsed" in state:  # a resumed run: its time so far, its plan
            self._base, self._t0 = float(state["budget_elapsed"]), _clock()
        plan = state.get("plan")
        if plan:
            trainer.total_steps = plan["total"]  # the scheduler's total came back with its state
        self._last = _clock()

    def on_step(self, trainer: Any, *, step: int, epoch: int, loss: float, lr: float, rows: int) -> None:
        now = _clock()
        trainer.state["budget_elapsed"] = self.elapsed()
        if trainer.state.get("plan"):
            self._check(trainer, step, 0.0 if self._after_val or self._last is None else now - self._last)
        else:
            if self._last is not None and not self._after_val and step > 1:
                self._step_s.append(now - self._last)
                self._rows += rows
            timed = sum(self._step_s)
            if (len(self._step_s) >= WARMUP_STEPS and timed >= WARMUP_SECONDS) and step < trainer.total_steps:
                self._plan(trainer, step)
        self._after_val, self._last = False, _clock()

    def on_validation(self, trainer: Any, *, epoch: int, step: int, metrics: dict[str, Any]) -> None:
        now = _clock()
        if self._last is not None:
            self._val_s.append(now - self._last)
        trainer.state["budget_elapsed"] = self.elapsed()
        self._after_val, self._last = True, now

    def on_train_end(self, trainer: Any, *, metrics: dict[str, Any]) -> None:
        plan = trainer.state.get("plan")
        estimated = f" (planned {plan['estimated_s'] / 60:.2f})" if plan else ""
        log.info("time budget %.1f min: the run took %.2f min%s", self.budget_s / 60, self.elapsed() / 60, estimated)

    # -- the plan -----------------------------------------------------------------------------------------------
    def _costs(self, trainer: Any) -> dict[str, float]:
        """Measured seconds per step, validation, checkpoint and for the test evaluation."""
        step_s = statistics.median(self._step_s)
        if self._val_s:
            val_s = statistics.fmean(self._val_s)
        else:  # no validation yet: time one pass (its result is not used)
            start = _clock()
            trainer._val_metrics(trainer.model)
            trainer.runner.train()
            val_s = _clock() - start
        ckpt_s = self._time_checkpoint(trainer)
        splits = trainer.splits
        ratio = min(10.0, max(1.0, len(splits.test) / max(1, len(splits.val))))
        figures = 1 + (FIGURES_PER_EVAL if trainer.recipe.eval.plots else 0)  # curves, then the test's own plots
        # the end: the best model read back, the test evaluated, the figures drawn
        test_s = val_s * ratio + ckpt_s + figures * self._time_figure(trainer)
        return {"step_s": step_s, "val_s": val_s, "ckpt_s": ckpt_s, "test_s": test_s}

    @staticmethod
    def _time_figure(trainer: Any) -> float:
        """Seconds to draw and save one figure (the training curves of a two-entry history) to a scratch file."""
        from pairsim.metrics import plot_curves

        probe = trainer.work / "plots" / ".budget_probe.png"
        probe.parent.mkdir(parents=True, exist_ok=True)
        start = _clock()
        plot_curves([{"step": 1, "epoch": 1, "loss": 1.0}, {"step": 2, "epoch": 1, "loss": 0.5}], probe)
        seconds = _clock() - start
        probe.unlink(missing_ok=True)
        return seconds

    @staticmethod
    def _time_checkpoint(trainer: Any) -> float:
        """Seconds to write the weights and optimiser state (a checkpoint's bulk) to a scratch file."""
        from pairsim.train.checkpoint import save_checkpoint

        probe = trainer.work / "checkpoints" / ".budget_probe.pt"
        start = _clock()
        save_checkpoint(probe, {"w": trainer.step_module.state_dict(), "o": trainer.optimizer.state_dict()})
        seconds = _clock() - start
        probe.unlink(missing_ok=True)
        return seconds

    def _plan(self, trainer: Any, step: int) -> None:
        from pairsim.train.schedule import set_total

        c = self._costs(trainer)
        limit = trainer.total_steps
        no_validation = not (trainer.recipe.train.validation.every_epoch or trainer.recipe.train.validation.every)

        def cost(after: int, total: int) -> float:  # planned in step `after`'s hook: its own events are still to come
            n = events_between(trainer, after - 1, total, minutes=(total - after) * c["step_s"] / 60)
            vals = n["validations"] + (1 if no_validation else 0)  # the last weights are calibrated on val
            return (
                (total - after) * c["step_s"] + vals * c["val_s"]
                + (n["checkpoints"] + n["snapshots"]) * c["ckpt_s"] + c["test_s"]
            )  # fmt: skip

        elapsed = self.elapsed()
        total = steps_fitting(budget_s=AIM * self.budget_s, elapsed_s=elapsed, start=step, limit=limit, cost=cost)
        plan = {"total": total, "planned_at": step, "budget_s": self.budget_s,
                "estimated_s": round(elapsed + cost(step, total), 3), **{k: round(v, 6) for k, v in c.items()}}  # fmt: skip
        trainer.state["plan"] = plan
        trainer.total_steps = total
        set_total(trainer.scheduler, total)
        pairs_s = self._rows / max(1e-9, sum(self._step_s))
        n = events_between(trainer, step - 1, total, minutes=(total - step) * c["step_s"] / 60)
        capped = f"the recipe's {limit} steps fit" if total == limit else f"of the recipe's {limit}"
        log.info(
            "time budget %.1f min: %d steps planned (%s), measured %.3g steps/s (%.1f pairs/s), validation ~%.1f s "
            "x %d, checkpoint ~%.2f s x %d, test ~%.1f s; estimated end at %.1f min",
            self.budget_s / 60, total, capped, 1 / max(1e-9, c["step_s"]), pairs_s, c["val_s"], n["validations"],
            c["ckpt_s"], n["checkpoints"], c["test_s"], plan["estimated_s"] / 60,
        )  # fmt: skip
        if total == step:
            log.warning("time budget: no room for training past the warm-up; stopping at step %d", step)

    def _check(self, trainer: Any, step: int, step_s: float) -> None:
        """Stop now when going on (a validation due after this step, one more step like the last, then the end: a
        validation, a checkpoint, the test) would end past the budget plus 5%; stopping ends sooner by the step."""
        plan, t = trainer.state["plan"], trainer.recipe.train
        if step >= trainer.total_steps:
            return
        due = (t.validation.every_epoch and step % max(1, trainer.steps_per_epoch) == 0) or (
            t.validation.every and step % t.validation.every == 0
        )
        finish = plan["val_s"] + plan["ckpt_s"] + plan["test_s"]
        if self.elapsed() + due * plan["val_s"] + max(step_s, plan["step_s"]) + finish > OVERRUN * self.budget_s:
            raise StopRun(
                f"time budget: {self.elapsed() / 60:.1f} of {self.budget_s / 60:.1f} min used at step {step} of "
                f"{trainer.total_steps} planned (training ran slower than measured)"
            )
