"""Per-tower ``train.tower.freeze`` and ``lr_scale`` (pairsim/train/optim.py) on the tiny digits recipe.

The digits recipe's ``face`` CNN has BatchNorm in ``features`` and a linear ``fc`` on top, so freezing
``features`` must keep both its weights and its running statistics while ``fc`` trains.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.errors import ConfigError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer


class SnapshotTrainer(Trainer):
    """The Trainer, keeping a copy of the weights and modes as built (before any step)."""

    def _build(self, rt: Any) -> None:
        super()._build(rt)
        self.before = {k: v.detach().clone() for k, v in self.step_module.state_dict().items()}
        self.step_module.train()
        self.modes = {name: m.training for name, m in self.step_module.named_modules()}


def _run(recipe: Recipe, **kwargs: Any) -> SnapshotTrainer:
    trainer = SnapshotTrainer(recipe, progress=False, **kwargs)
    trainer.run()
    return trainer


def test_frozen_prefix_keeps_weights_and_batchnorm_statistics(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("train.tower.freeze=[features]", "train.epochs=1")
    trainer = _run(recipe)
    after = load_checkpoint(Path(recipe.output_dir) / "checkpoints" / "last.pt")["step_module"]
    frozen = [k for k in after if k.startswith("model.tower_a.features.")]
    # fc's weights (its last bias gets no gradient: a tied tower's shared offset cancels in a distance)
    trained = [k for k in after if k.startswith("model.tower_a.fc.") and k.endswith(".weight")]
    assert any("running_mean" in k for k in frozen) and trained
    assert [k for k in frozen if not torch.equal(after[k], trainer.before[k])] == []
    assert all(not torch.equal(after[k], trainer.before[k]) for k in trained)
    # in training mode, the frozen modules (and only they) stay in eval mode
    assert trainer.modes["model.tower_a.features"] is False
    assert all(not mode for name, mode in trainer.modes.items() if name.startswith("model.tower_a.features."))
    assert trainer.modes["model.tower_a.fc"] is True and trainer.modes["model"] is True
    # the frozen parameters are not in the optimizer at all
    in_optimizer = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    features = trainer.model.tower_a.features.parameters()
    assert all(id(p) not in in_optimizer and not p.requires_grad for p in features)


def test_unfrozen_run_changes_the_same_statistics(digits_recipe: Callable[..., Recipe]) -> None:
    """The check above has teeth: without freeze the same run moves weights and BatchNorm statistics."""
    recipe = digits_recipe("train.epochs=1")
    trainer = _run(recipe)
    after = load_checkpoint(Path(recipe.output_dir) / "checkpoints" / "last.pt")["step_module"]
    features = [k for k in after if k.startswith("model.tower_a.features.")]
    changed = [k for k in features if not torch.equal(after[k], trainer.before[k])]
    assert any(k.endswith("running_mean") for k in changed) and any(k.endswith(".weight") for k in changed)


def test_each_group_gets_its_learning_rate(digits_recipe: Callable[..., Recipe], untied_overrides: list[str]) -> None:
    recipe = digits_recipe(*untied_overrides, "train.tower.lr_scale=0.1", "train.tower_b.lr_scale=2.5", "train.lr=0.004",
                           "train.schedule.warmup=0", "train.schedule.decay=constant", "train.epochs=1")  # fmt: skip
    trainer = _run(recipe)
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert list(groups) == ["tower_a", "tower_b", "rest"]
    assert groups["tower_a"]["lr"] == pytest.approx(0.0004)
    assert groups["tower_b"]["lr"] == pytest.approx(0.01)
    assert groups["rest"]["lr"] == pytest.approx(0.004)
    model = trainer.model
    assert {id(p) for p in groups["rest"]["params"]} == {id(p) for p in model.head.parameters()}
    assert {id(p) for p in groups["tower_b"]["params"]} == {id(p) for p in model.tower_b.parameters()}


def test_parts_of_a_tower_get_their_own_rate(digits_recipe: Callable[..., Recipe], tmp_path: Path) -> None:
    recipe = digits_recipe("train.tower.lr_scale=0.5", "train.tower.lr_parts={fc: 4.0, fc.0: 0.1}", "train.lr=0.002",
                           "train.schedule.warmup=0", "train.schedule.decay=constant", "train.epochs=1")  # fmt: skip
    trainer = _run(recipe)
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    tower = trainer.model.tower_a
    assert groups["tower_a"]["lr"] == pytest.approx(0.001)  # features: lr_scale only
    assert groups["tower_a.fc"]["lr"] == pytest.approx(0.004)
    assert groups["tower_a.fc.0"]["lr"] == pytest.approx(0.0001)  # the longest prefix wins
    assert {id(p) for p in groups["tower_a"]["params"]} == {id(p) for p in tower.features.parameters()}
    assert {id(p) for p in groups["tower_a.fc.0"]["params"]} == {id(p) for p in tower.fc[0].parameters()}
    with pytest.raises(ConfigError, match=r"train\.tower\.lr_parts: 'fcc' matches no parameter .* fc, features"):
        Trainer(digits_recipe("train.tower.lr_parts={fcc: 2.0}", output_dir=tmp_path / "bad"), progress=False).run()
    with pytest.raises(ConfigError, match=r"train\.tower\.lr_parts\.fc: expected a number in \(0, 1000\], got 0"):
        digits_recipe("train.tower.lr_parts={fc: 0}")


def test_whole_tower_frozen_and_resume(
    digits_recipe: Callable[..., Recipe],
    untied_overrides: list[str],
    tmp_path: Path,
    killed_at_step: Callable[[int], AbstractContextManager[None]],
) -> None:
    """``freeze: true`` on side a; the run saves, reloads (the training settings are not in the saved model) and
    resumes like any other."""
    overrides = [*untied_overrides, "train.tower.freeze=true", "train.tower_b.lr_scale=0.5"]
    ref = _run(digits_recipe(*overrides, output_dir=tmp_path / "ref"))
    ref_last = load_checkpoint(tmp_path / "ref" / "checkpoints" / "last.pt")["step_module"]
    side_a = [k for k in ref_last if k.startswith("model.tower_a.")]
    assert side_a and all(torch.equal(ref_last[k], ref.before[k]) for k in side_a)
    assert [g["name"] for g in ref.optimizer.param_groups] == ["tower_b", "rest"]
    assert ref.modes["model.tower_a"] is False and ref.modes["model.tower_b"] is True

    loaded = PairModel.from_pretrained(tmp_path / "ref" / "model")
    saved = json.loads((tmp_path / "ref" / "model" / "config.json").read_text())["model"]
    assert not {"freeze", "lr_scale", "lr_parts"} & {*saved["tower"], *saved["tower_b"]}
    assert not hasattr(loaded.config.tower, "freeze")

    # killed at the first step of epoch 1 (after the end-of-epoch checkpoint), then --resume: the same weights
    with killed_at_step(7):
        Trainer(digits_recipe(*overrides, output_dir=tmp_path / "two"), progress=False).run()
    Trainer(digits_recipe(*overrides, output_dir=tmp_path / "two"), resume=True, progress=False).run()
    last = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")["step_module"]
    assert [k for k in last if not torch.equal(last[k], ref_last[k])] == []


def test_bad_freeze_settings_are_one_line_errors(digits_recipe: Callable[..., Recipe]) -> None:
    with pytest.raises(ConfigError, match=r"train\.tower\.freeze: 'featurez' matches no parameter .* fc, features "):
        Trainer(digits_recipe("train.tower.freeze=[featurez]"), progress=False).run()
    with pytest.raises(ConfigError, match="every parameter is frozen"):
        Trainer(digits_recipe("train.tower.freeze=true"), progress=False).run()
    with pytest.raises(ConfigError, match=r"train\.tower\.lr_scale: expected a number in \(0, 1000\], got 0"):
        digits_recipe("train.tower.lr_scale=0")
    with pytest.raises(ConfigError, match=r"train\.tower\.freeze"):
        digits_recipe("train.tower.freeze=features")
