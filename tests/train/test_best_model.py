"""What a run leaves behind: the best model by validation, its threshold calibrated on the validation split
(never on test), early stopping, and no stale model from an earlier run in the same output directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from pairsim.data import load_dataset
from pairsim.evaluate import evaluate_split
from pairsim.metrics import calibrate_threshold
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train import trainer as trainer_module
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer


def _val_and_test_thresholds(model: PairModel, recipe: Recipe) -> tuple[float, float, dict[str, Any]]:
    splits = load_dataset(recipe.data)
    val, scored = evaluate_split(model, splits.val, recipe.eval, split="val", calibrate=True)
    hi = model.head.higher_is_similar
    on_val = calibrate_threshold(scored.scores, scored.labels, higher_is_similar=hi)
    _, test_scored = evaluate_split(model, splits.test, recipe.eval, split="test", calibrate=True)
    on_test = calibrate_threshold(test_scored.scores, test_scored.labels, higher_is_similar=hi)
    return on_val, on_test, val


def test_output_directory_layout(reference_run: tuple[Path, dict[str, Any]]) -> None:
    out, metrics = reference_run
    for name in [
        "model/config.json",
        "model/model.safetensors",
        "metrics.json",
        "recipe.yaml",
        "train.log",
        "checkpoints/last.pt",
        "plots/curves.png",
    ]:
        assert (out / name).is_file(), name
    assert not list((out / "plots").glob("test_*.png"))  # eval.plots=false
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert set(metrics) == {"best_epoch", "best_val", "test", "history", "steps"}
    assert metrics["steps"] == 12 and metrics["test"]["n_pairs"] == 50


def test_saved_threshold_is_the_one_calibrated_on_the_val_split(reference_run: tuple[Path, dict[str, Any]]) -> None:
    out, metrics = reference_run
    recipe = Recipe.load(out / "recipe.yaml")
    model = PairModel.from_pretrained(out / "model")
    on_val, on_test, val = _val_and_test_thresholds(model, recipe)

    assert model.config.threshold == pytest.approx(on_val, rel=1e-6)
    assert on_test != pytest.approx(on_val, rel=1e-3)  # so the check above tells val from test calibration
    assert metrics["test"]["threshold"] == model.config.threshold  # test uses the stored threshold as is
    # the best epoch's validation entry holds the same threshold and the best value
    best = next(h for h in metrics["history"] if h.get("epoch") == metrics["best_epoch"] and "val_roc_auc" in h)
    assert best["val_threshold"] == pytest.approx(on_val, rel=1e-6)
    assert metrics["best_val"] == best["val_roc_auc"] == pytest.approx(val["roc_auc"], rel=1e-6)
    assert metrics["best_val"] == max(h["val_roc_auc"] for h in metrics["history"] if "val_roc_auc" in h)


def test_without_validation_the_last_weights_are_saved_and_calibrated_on_val(
    digits_recipe: Callable[..., Recipe],
) -> None:
    """And a second run into the same directory (with overwrite) replaces the first run's model, never reports it."""
    first = Trainer(digits_recipe("train.validation.every_epoch=false", "train.epochs=1"), progress=False).run()
    recipe = digits_recipe("train.validation.every_epoch=false", "train.epochs=1", "train.seed=3")
    second = Trainer(recipe, overwrite=True, progress=False).run()
    out = Path(recipe.output_dir)

    assert first["best_epoch"] is None and second["best_epoch"] is None
    last = load_checkpoint(out / "checkpoints" / "last.pt")["step_module"]
    saved = load_file(out / "model" / "model.safetensors")
    for name, tensor in saved.items():  # the second run's final weights
        assert torch.equal(tensor, last[f"model.{name}"]), name
    model = PairModel.from_pretrained(out / "model")
    on_val, _, _ = _val_and_test_thresholds(model, recipe)
    assert model.config.threshold == pytest.approx(on_val, rel=1e-6)
    assert second["test"]["threshold"] == model.config.threshold
    assert second["test"] != first["test"]


def test_early_stopping_keeps_the_best_epoch(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation ROC-AUC made to fall after epoch 1: with patience 1 the run stops after epoch 2 (epochs count from 1)."""
    real = trainer_module.evaluate_split
    falling = iter([0.9, 0.8, 0.7, 0.6])

    def evaluate(model: PairModel, data: Any, config: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        metrics, scored = real(model, data, config, **kwargs)
        if kwargs["split"] == "val":
            metrics["roc_auc"] = next(falling)
        return metrics, scored

    monkeypatch.setattr(trainer_module, "evaluate_split", evaluate)
    recipe = digits_recipe("train.epochs=4", "train.validation.early_stopping=1")
    metrics = Trainer(recipe, progress=False).run()

    assert metrics["steps"] == 12  # 2 of 4 epochs
    assert (metrics["best_epoch"], metrics["best_val"]) == (1, 0.9)
    assert [h["val_roc_auc"] for h in metrics["history"] if "val_roc_auc" in h] == [0.9, 0.8]
    epoch1 = next(h for h in metrics["history"] if h.get("epoch") == 1 and "val_threshold" in h)
    config = json.loads((Path(recipe.output_dir) / "model" / "config.json").read_text())
    assert config["model"]["threshold"] == epoch1["val_threshold"]  # the first epoch's model, not the last one
    log = (Path(recipe.output_dir) / "train.log").read_text()
    assert "early stopping after epoch 2: no val roc_auc improvement for 1 epochs" in log
    assert "epoch 1: val " in log and "epoch 2: val " in log and "epoch 0:" not in log


def test_a_lower_is_better_metric_picks_the_lowest_epoch(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``train.validation.metric: eer``: the epoch with the lowest equal error rate is the best one."""
    real = trainer_module.evaluate_split
    eers = iter([0.3, 0.2])

    def evaluate(model: PairModel, data: Any, config: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
        metrics, scored = real(model, data, config, **kwargs)
        if kwargs["split"] == "val":
            metrics["eer"] = next(eers)
        return metrics, scored

    monkeypatch.setattr(trainer_module, "evaluate_split", evaluate)
    metrics = Trainer(digits_recipe("train.validation.metric=eer"), progress=False).run()
    assert (metrics["best_epoch"], metrics["best_val"]) == (2, 0.2)
