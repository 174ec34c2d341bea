"""Epochs are numbered from 1 wherever a user sees them (issue 24): the training log, ``metrics.json``'s history
and ``best_epoch``, early-stopping and error messages; a checkpoint of an earlier version (epochs from 0) resumes
into the same numbering."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pairsim.recipe import Recipe
from pairsim.train.checkpoint import load_checkpoint, save_checkpoint, upgrade_state
from pairsim.train.trainer import Trainer


def test_history_and_log_count_epochs_from_one(reference_run: tuple[Path, dict[str, Any]]) -> None:
    out, metrics = reference_run
    steps = {h["step"]: h["epoch"] for h in metrics["history"] if "loss" in h}
    assert steps == {2: 1, 4: 1, 6: 1, 8: 2, 10: 2, 12: 2}  # 6 steps an epoch, an entry every 2 steps
    vals = [(h["epoch"], h["step"]) for h in metrics["history"] if "val_roc_auc" in h]
    assert vals == [(1, 6), (2, 12)]
    assert metrics["best_epoch"] in (1, 2)
    log = (out / "train.log").read_text()
    assert "epoch 1: val " in log and "epoch 2: val " in log and "epoch 0" not in log


def test_upgrade_state_renumbers_an_old_checkpoint_once() -> None:
    old = {"history": [{"step": 0, "epoch": 0}, {"step": 3, "epoch": 0}, {"step": 9, "epoch": 1}], "best_epoch": 1}
    new = upgrade_state(old)
    assert [h["epoch"] for h in new["history"]] == [0, 1, 2] and new["best_epoch"] == 2  # step 0 stays epoch 0
    assert upgrade_state(new)["best_epoch"] == 2  # already upgraded: unchanged


def test_an_old_checkpoint_resumes_numbered_from_one(
    reference_run: tuple[Path, dict[str, Any]],
    digits_recipe: Callable[..., Recipe],
    killed_at_step: Callable[[int], AbstractContextManager[None]],
) -> None:
    """Killed after epoch 1's checkpoint, the checkpoint rewritten as an earlier pairsim wrote it (epochs from 0):
    the resumed run's metrics equal the uninterrupted run's, numbered from 1."""
    _, ref = reference_run
    recipe = digits_recipe()
    with killed_at_step(7):
        Trainer(recipe, progress=False).run()
    path = Path(recipe.output_dir) / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(path)
    state = ckpt["trainer"]
    del state["epochs_from"]
    for entry in state["history"]:
        entry["epoch"] -= 1
    state["best_epoch"] -= 1
    save_checkpoint(path, ckpt)

    metrics = Trainer(digits_recipe(), resume=True, progress=False).run()
    assert metrics["history"] == ref["history"] and metrics["best_epoch"] == ref["best_epoch"]
