"""Model snapshots for time-to-quality curves: ``train.snapshot_every`` saves loadable models with their training
seconds, and the last one holds the weights training ended with."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.trainer import Trainer


def test_snapshots_are_loadable_models_indexed_with_training_seconds(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.snapshot_every=4")  # 2 epochs x 6 steps: snapshots after steps 4, 8 and 12
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
    Trainer(digits_recipe("train.snapshot_every=4"), progress=False).run()
    Trainer(digits_recipe("train.snapshot_every=6"), progress=False, overwrite=True).run()
    assert [e["step"] for e in json.loads((folder / "index.json").read_text())] == [6, 12]
    assert sorted(p.name for p in folder.iterdir()) == ["index.json", "step_000006", "step_000012"]
    Trainer(digits_recipe(), progress=False, overwrite=True).run()
    assert not folder.exists()
