"""A newcomer's defaults (issue 10): threads reach torch, epochs=0 is a run, a step-0 validation point,
validation every train.validation.every steps, time-based checkpoints, and the resume checkpoint kept or deleted."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.cli import main
from pairsim.recipe import Recipe
from pairsim.train import housekeeping
from pairsim.train.threads import default_threads, use_threads
from pairsim.train.trainer import Trainer


def _threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Replace the training loop by one that records torch's thread count (the rest of the run is real)."""
    seen: list[int] = []
    monkeypatch.setattr(Trainer, "_train", lambda self, rt: seen.append(torch.get_num_threads()))
    return seen


def test_train_threads_reaches_torch_and_is_restored(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _threads_seen(monkeypatch)
    before = torch.get_num_threads()
    other = 2 if before != 2 else 3
    Trainer(digits_recipe(f"train.speed.threads={other}"), progress=False).run()
    assert seen == [other] and torch.get_num_threads() == before
    log = (Path(digits_recipe().output_dir) / "train.log").read_text()
    assert f"{other} CPU thread(s)" in log


def test_threads_flag_of_the_cli(tmp_path: Path, digits_argv: Callable[..., list[str]], monkeypatch: Any) -> None:
    seen = _threads_seen(monkeypatch)
    assert main([*digits_argv(tmp_path / "run"), "--threads", "3"]) == 0
    assert seen == [3]


def test_default_threads_is_half_the_cores_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from pairsim.train import threads

    for cores, expected in ((1, 1), (2, 1), (4, 2), (16, 4), (128, 4)):
        monkeypatch.setattr(threads, "cores", lambda n=cores: n)
        assert default_threads() == expected
    with use_threads(0) as n:
        assert torch.get_num_threads() == n == default_threads()


def test_epochs_zero_evaluates_the_untrained_model_and_draws_plots(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.epochs=0", "train.validation.at_start=true", "eval.plots=true")
    metrics = Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    assert metrics["steps"] == 0 and 0.0 <= metrics["test"]["roc_auc"] <= 1.0
    assert [(h["step"], "val_roc_auc" in h) for h in metrics["history"]] == [(0, True)]
    for name in ("curves.png", "test_roc.png", "test_score_histograms.png"):
        assert (out / "plots" / name).stat().st_size > 1000
    assert (out / "model" / "config.json").is_file()


def test_validation_at_step_zero_and_every_eval_every_steps(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.epochs=1", "train.validation.at_start=true", "train.validation.every=2")
    metrics = Trainer(recipe, progress=False).run()
    assert [h["step"] for h in metrics["history"] if "val_roc_auc" in h] == [0, 2, 4, 6]
    untrained = metrics["history"][0]
    best = max(h["val_roc_auc"] for h in metrics["history"][1:] if "val_roc_auc" in h)
    assert metrics["best_val"] == best  # the untrained point is a starting point, never the saved model
    assert untrained["step"] == 0 and "loss" not in untrained


def test_checkpoints_by_time(digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = itertools.count(step=61.0)  # every reading of the clock is a minute and a second later
    monkeypatch.setattr(housekeeping, "_clock", lambda: next(ticks))
    written: list[int] = []
    real = Trainer._checkpoint

    def record(self: Trainer) -> None:
        written.append(self.state["global_step"])
        real(self)

    monkeypatch.setattr(Trainer, "_checkpoint", record)
    Trainer(digits_recipe("train.checkpoint.every=0", "train.checkpoint.minutes=1", "train.epochs=1"),
            progress=False).run()  # fmt: skip
    assert written == [1, 2, 3, 4, 5, 6, 6]  # every step (a minute passed each time), then the epoch end
    written.clear()
    Trainer(digits_recipe("train.checkpoint.every=0", "train.checkpoint.minutes=0", "train.epochs=1",
                          output_dir=Path(digits_recipe().output_dir).with_name("epochs")), progress=False).run()  # fmt: skip
    assert written == [6]  # epoch ends only


def test_finished_run_says_where_the_resume_checkpoint_is_or_deletes_it(digits_recipe: Callable[..., Recipe]) -> None:
    kept = digits_recipe("train.epochs=1")
    Trainer(kept, progress=False).run()
    ckpt = Path(kept.output_dir) / "checkpoints" / "last.pt"
    assert ckpt.is_file()
    assert f"resume checkpoint kept at {ckpt}" in (Path(kept.output_dir) / "train.log").read_text()
    dropped = digits_recipe("train.epochs=1", "train.checkpoint.keep=false", output_dir=ckpt.parents[2] / "dropped")
    Trainer(dropped, progress=False).run()
    assert not (Path(dropped.output_dir) / "checkpoints").exists()
    assert (Path(dropped.output_dir) / "model" / "config.json").is_file()
    assert "deleted the resume checkpoint" in (Path(dropped.output_dir) / "train.log").read_text()


def test_bar_shows_the_smoothed_loss_and_the_true_rate_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    import collections
    import types

    times = iter([0.0, 2.0, 4.0, 6.0])  # a step every 2 s
    monkeypatch.setattr(housekeeping, "time", types.SimpleNamespace(perf_counter=lambda: next(times)))
    shown: list[dict[str, Any]] = []

    class Bar:
        def set_postfix(self, **kwargs: Any) -> None:
            shown.append(kwargs)

        def update(self, n: int) -> None:
            shown[-1]["updated"] = n

    trainer = Trainer.__new__(Trainer)  # only the bar's state
    trainer._rate = collections.deque(maxlen=housekeeping.RATE_WINDOW)
    trainer._restart_rate()  # the epoch starts at t=0
    for loss in (0.9, 0.8, 0.7):
        trainer._update_bar(Bar(), loss, 16, 0)
    assert [s["loss"] for s in shown] == ["0.9000", "0.8000", "0.7000"]
    assert [s["pairs_per_s"] for s in shown] == ["8.0", "8.0", "8.0"]  # 16 pairs per 2 s, from the first step
    assert all(s["updated"] == 1 for s in shown)
