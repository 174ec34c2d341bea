"""The learning-rate schedule: warm-up then constant, linear or cosine decay, over a total that can be re-planned.

The factors are those of ``transformers.get_scheduler`` ("constant_with_warmup", "linear", "cosine"), computed
here so the total can change after the scheduler is built: a time budget (pairsim/train/budget.py) plans the
step count after a timed warm-up and sets it with :func:`set_total`. The total lives on the schedule object,
which ``LambdaLR.state_dict`` saves, so a resumed run continues the planned schedule.

Example:
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = build_scheduler(opt, decay="linear", warmup=0.0, total=4)
    >>> set_total(sched, 2)
    >>> for _ in range(2):
    ...     opt.step(); sched.step()
    >>> sched.get_last_lr()
    [0.0]
"""

from __future__ import annotations

import math

import torch


class LRSchedule:
    """The factor on the peak learning rate at a step (``LambdaLR``'s ``lr_lambda``).

    Args:
        decay: "constant", "linear" or "cosine" (``train.schedule.decay``).
        warmup: Warm-up length as a fraction of ``total``.
        total: Optimiser steps of the whole schedule.
    """

    def __init__(self, *, decay: str, warmup: float, total: int) -> None:
        self.decay = decay
        self.warmup = warmup
        self.total = max(1, int(total))

    def __call__(self, step: int) -> float:
        warm = int(self.warmup * self.total)
        if step < warm:
            return float(step) / float(max(1, warm))
        if self.decay == "constant":
            return 1.0
        progress = float(step - warm) / float(max(1, self.total - warm))
        if self.decay == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
        return max(0.0, float(self.total - step) / float(max(1, self.total - warm)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, *, decay: str, warmup: float, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following :class:`LRSchedule` on every parameter group.

    Args:
        optimizer: The optimiser whose groups' ``lr`` are the peaks.
        decay: "constant", "linear" or "cosine".
        warmup: Warm-up as a fraction of the total.
        total: Optimiser steps planned.

    Returns:
        The scheduler (step it after each optimiser step).
    """
    groups = len(optimizer.param_groups)
    lambdas = [LRSchedule(decay=decay, warmup=warmup, total=total) for _ in range(groups)]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def set_total(scheduler: torch.optim.lr_scheduler.LambdaLR, total: int) -> None:
    """Re-plan the schedule to end after ``total`` steps; the learning rates of the current step follow at once.

    Args:
        scheduler: A scheduler from :func:`build_scheduler`.
        total: The new total (at least the steps already taken).
    """
    for schedule in scheduler.lr_lambdas:
        schedule.total = max(1, int(total))
    step = scheduler.last_epoch
    for group, base, schedule in zip(
        scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
    ):
        group["lr"] = base * schedule(step)
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]
