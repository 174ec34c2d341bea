"""The learning-rate schedule (pairsim/train/schedule.py): transformers' factors, over a total that can be re-planned
and is saved with the scheduler's state."""

from __future__ import annotations

import pytest
import torch

from pairsim.train.schedule import build_scheduler, set_total


def _lrs(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    seen = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
    return seen


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


@pytest.mark.parametrize(
    "decay, name", [("linear", "linear"), ("cosine", "cosine"), ("constant", "constant_with_warmup")]
)
def test_factors_equal_transformers(decay: str, name: str) -> None:
    from transformers import get_scheduler

    ours = build_scheduler(_optimizer(), decay=decay, warmup=0.2, total=23)
    theirs = get_scheduler(name, _optimizer(), num_warmup_steps=int(0.2 * 23), num_training_steps=23)
    assert _lrs(ours, 25) == _lrs(theirs, 25)


def test_a_new_total_ends_the_schedule_there_and_survives_a_reload() -> None:
    scheduler = build_scheduler(_optimizer(), decay="linear", warmup=0.0, total=100)
    _lrs(scheduler, 5)
    set_total(scheduler, 10)
    assert scheduler.get_last_lr()[0] == pytest.approx(0.1 * 5 / 10)  # the current step's rate follows at once
    state = scheduler.state_dict()
    reloaded = build_scheduler(_optimizer(), decay="linear", warmup=0.0, total=100)  # built from the recipe again
    reloaded.load_state_dict(state)
    assert _lrs(reloaded, 5) == pytest.approx([0.04, 0.03, 0.02, 0.01, 0.0])  # ends at step 10, not 100
