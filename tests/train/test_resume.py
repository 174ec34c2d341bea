"""``--resume``: a run killed after a checkpoint and resumed ends exactly where the uninterrupted run ends.

The kill is a KeyboardInterrupt raised by the training forward of step k (after the checkpoint at step 3,
or after the end-of-epoch checkpoint at step 6), so the killed run follows the same schedule as the
reference run up to that point; the resumed run must then reproduce the reference's weights bit for bit,
and its metrics.json (loss / learning-rate history, validation metrics, best epoch, test metrics).
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

from pairsim.errors import ModelFileError
from pairsim.recipe import Recipe
from pairsim.train import step as step_module
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer


def _assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"tensors differ: {different}"


@pytest.mark.parametrize(
    "kill_at, resumed_from",
    [
        (4, {"epoch": 0, "step_in_epoch": 3, "global_step": 3}),  # mid-epoch checkpoint (train.checkpoint.every=3)
        (7, {"epoch": 1, "step_in_epoch": 0, "global_step": 6}),  # end-of-epoch checkpoint, after validation
    ],
)
def test_killed_and_resumed_run_equals_uninterrupted_run(
    kill_at: int,
    resumed_from: dict[str, int],
    reference_run: tuple[Path, dict[str, Any]],
    digits_recipe: Callable[..., Recipe],
    killed_at_step: Callable[[int], AbstractContextManager[None]],
) -> None:
    ref_dir, ref_metrics = reference_run
    recipe = digits_recipe()
    out = Path(recipe.output_dir)

    with killed_at_step(kill_at):
        Trainer(recipe, progress=False).run()
    assert not (out / "metrics.json").exists()
    state = load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]
    assert {k: state[k] for k in resumed_from} == resumed_from
    assert (out / "model").exists() == (resumed_from["epoch"] == 1)  # best model saved after epoch 0 only

    metrics = Trainer(digits_recipe(), resume=True, progress=False).run()

    assert metrics["steps"] == ref_metrics["steps"] == 12
    # the best model and the last weights (with optimiser / scheduler state) are the reference run's
    _assert_same_tensors(
        load_file(out / "model" / "model.safetensors"), load_file(ref_dir / "model" / "model.safetensors")
    )
    last, ref_last = (load_checkpoint(d / "checkpoints" / "last.pt") for d in (out, ref_dir))
    _assert_same_tensors(last["step_module"], ref_last["step_module"])
    assert last["scheduler"] == ref_last["scheduler"]
    assert json.loads((out / "model" / "config.json").read_text()) == json.loads(
        (ref_dir / "model" / "config.json").read_text()
    )
    # the same history (smoothed losses and learning rates every 2 steps, validation after each epoch)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == json.loads((ref_dir / "metrics.json").read_text())
    assert [h["step"] for h in saved["history"] if "loss" in h] == [2, 4, 6, 8, 10, 12]
    assert [h["step"] for h in saved["history"] if "val_roc_auc" in h] == [6, 12]
    # the killed run's log is continued, not replaced
    log = (out / "train.log").read_text()
    assert log.count("training cnn on digits") == 2 and "resumed from" in log


def test_resuming_a_finished_run_trains_nothing_more(
    reference_run: tuple[Path, dict[str, Any]], digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref_dir, ref_metrics = reference_run
    import shutil

    recipe = digits_recipe()
    shutil.copytree(ref_dir, recipe.output_dir)
    calls = []
    real = step_module.TrainStep.forward
    monkeypatch.setattr(step_module.TrainStep, "forward", lambda self, batch: calls.append(1) or real(self, batch))
    metrics = Trainer(recipe, resume=True, progress=False).run()
    assert calls == []
    assert metrics["steps"] == 12 and metrics["test"] == ref_metrics["test"]


def test_resume_without_a_checkpoint_is_an_error(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe()
    with pytest.raises(ModelFileError, match=r"no checkpoint to resume from at .*checkpoints/last\.pt"):
        Trainer(recipe, resume=True, progress=False).run()


def test_length_grouped_text_batches_resume_exactly(
    tmp_path: Path, killed_at_step: Callable[[int], AbstractContextManager[None]]
) -> None:
    """``sampler.group_by_length``: the grouped batches are a function of the seed and epoch only, so a run
    killed mid-epoch resumes into the uninterrupted run's weights bit for bit."""
    quora = Path(__file__).resolve().parents[1] / "fixtures" / "quora"

    def recipe(out: Path) -> Recipe:
        return Recipe.from_dict({
            "model": {"tower": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8, "max_length": 30},
                      "head": {"name": "cosine"}},
            "loss": {"name": "contrastive"},
            "sampler": {"name": "pairs", "group_by_length": True, "megabatch": 2},
            "data": {"name": "quora", "path": str(quora), "layout": "public", "val_fraction": 0.25, "test_fraction": 0.25},
            "train": {"epochs": 2, "batch_size": 4, "lr": 0.01, "seed": 0, "device": "cpu",
                      "checkpoint": {"every": 2}, "speed": {"num_workers": 0}, "validation": {"at_start": False}},
            "eval": {"batch_size": 64, "plots": False},
            "output_dir": str(out),
        })  # fmt: skip

    ref = tmp_path / "ref"
    Trainer(recipe(ref), progress=False).run()
    out = tmp_path / "run"
    with killed_at_step(4):  # after the checkpoint of step 2, mid-epoch
        Trainer(recipe(out), progress=False).run()
    assert load_checkpoint(out / "checkpoints" / "last.pt")["trainer"]["global_step"] == 2
    Trainer(recipe(out), resume=True, progress=False).run()
    last, ref_last = (load_checkpoint(d / "checkpoints" / "last.pt") for d in (out, ref))
    _assert_same_tensors(last["step_module"], ref_last["step_module"])
    assert (
        json.loads((out / "metrics.json").read_text())["history"]
        == json.loads((ref / "metrics.json").read_text())["history"]
    )
