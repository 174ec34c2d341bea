"""Model snapshots for time-to-quality curves: ``train.checkpoint.snapshot_every`` saves loadable models with their training
seconds (validation and checkpoints not counted), and the last one holds the weights training ended with."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.trainer import Trainer


def test_snapshots_are_loadable_models_indexed_with_training_seconds(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.checkpoint.snapshot_every=4")  # 2 epochs x 6 steps: snapshots after steps 4, 8 and 12
    trainer = Trainer(recipe, progress=False)
    trainer.run()
    folder = Path(recipe.output_dir) / "snapshots"
    index = json.loads((folder / "index.json").read_text())
    assert [e["step"] for e in index] == [4, 8, 12]
    seconds = [e["train_seconds"] for e in index]
    assert 0 < seconds[0] < seconds[1] < seconds[2]
    models = [PairModel.from_pretrained(folder / e["model"], device="cpu") for e in index]
    first, last = models[0].state_dict(), models[-1].state_dict()
    assert any(not torch.equal(first[k], last[k]) for k in first)  # training went on between snapshots
    trained = trainer.model.state_dict()
    for name, value in last.items():  # the last snapshot is the model as training left it
        torch.testing.assert_close(value, trained[name].cpu(), rtol=0, atol=0, check_layout=False)


def test_no_snapshots_by_default(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe()
    Trainer(recipe, progress=False).run()
    assert not (Path(recipe.output_dir) / "snapshots").exists()


def test_an_overwriting_run_brings_its_own_snapshots_and_drops_the_earlier_ones(
    digits_recipe: Callable[..., Recipe],
) -> None:
    folder = Path(digits_recipe().output_dir) / "snapshots"
    Trainer(digits_recipe("train.checkpoint.snapshot_every=4"), progress=False).run()
    Trainer(digits_recipe("train.checkpoint.snapshot_every=6"), progress=False, overwrite=True).run()
    assert [e["step"] for e in json.loads((folder / "index.json").read_text())] == [6, 12]
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "step_000006", "step_000012"]
    Trainer(digits_recipe(), progress=False, overwrite=True).run()
    assert not folder.exists()


def test_the_weights_training_ended_with_are_snapshotted_off_the_interval(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.checkpoint.snapshot_every=5")  # 12 steps: 5, 10, and the end
    trainer = Trainer(recipe, progress=False)
    trainer.run()
    folder = Path(recipe.output_dir) / "snapshots"
    index = json.loads((folder / "index.json").read_text())
    assert [e["step"] for e in index] == [5, 10, 12]
    last = PairModel.from_pretrained(folder / index[-1]["model"], device="cpu")
    assert last.config.threshold is None  # not calibrated for these weights
    assert trainer.model.config.threshold is not None  # the run's own model keeps its calibrated threshold
    trained = trainer.model.state_dict()
    assert all(torch.equal(v, trained[k].cpu()) for k, v in last.state_dict().items())


def test_validation_and_checkpoints_are_not_training_time(
    digits_recipe: Callable[..., Recipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    pause, paused = 0.4, []
    for name in ("_validate", "_checkpoint"):
        original = getattr(Trainer, name)

        def slow(self: Trainer, *args: object, _original: Callable[..., object] = original, **kwargs: object) -> object:
            paused.append(pause)
            time.sleep(pause)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Trainer, name, slow)
    recipe = digits_recipe("train.checkpoint.snapshot_every=12", "train.validation.every=2")
    start = time.perf_counter()
    Trainer(recipe, progress=False).run()
    wall = time.perf_counter() - start
    (entry,) = json.loads((Path(recipe.output_dir) / "snapshots" / "index.json").read_text())
    assert len(paused) >= 8  # validations every 2 steps and at epoch ends, checkpoints every 3 steps
    assert entry["train_seconds"] < wall - sum(paused)  # counted, the pauses alone would exceed what is left
