"""Old key names in a run: said once, in one log line; the run's recipe.yaml round-trips; a run whose recipe.yaml
was written with the old flat names (an earlier pairsim) resumes from its checkpoint to the uninterrupted result."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import torch

from pairsim.recipe import RENAMED, Recipe
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.trainer import Trainer
from pairsim.yaml_core import dump_yaml, load_yaml

NOTE = "old key names read under their new names"


def _old_layout(data: dict[str, Any]) -> dict[str, Any]:
    """A recipe's plain data written with the old names (as an earlier pairsim wrote recipe.yaml): every key of
    RENAMED moved back to its old place; the tower_b settings of a tied model, which had no place, dropped."""
    for old, new in RENAMED.items():
        *new_path, new_leaf = new.split(".")
        parent = data
        for part in new_path:
            parent = parent[part]
        value = parent.pop(new_leaf)
        *old_path, old_leaf = old.split(".")
        node = data
        for part in old_path:
            node = node.get(part)
            if node is None:  # model.tower_b of a tied model
                break
        else:
            node[old_leaf] = value
    train = data["train"]
    for group in [key for key, value in train.items() if value == {}]:
        del train[group]
    return data


def _log_lines(run: Path, text: str) -> list[str]:
    return [line for line in (run / "train.log").read_text().splitlines() if text in line]


def test_old_keys_are_named_once_in_the_log(digits_recipe: Callable[..., Recipe], tmp_path: Path) -> None:
    recipe = digits_recipe("train.epochs=1", "train.keep_checkpoint=false", "model.tower.lr_scale=0.5")
    assert recipe.train.checkpoint.keep is False and recipe.train.tower.lr_scale == 0.5
    Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    assert (
        _log_lines(out, NOTE)
        == [
            _log_lines(out, NOTE)[0].split(" ", 1)[0]  # the time stamp
            + " recipe: old key names read under their new names (rename them in the recipe): "
            "train.keep_checkpoint -> train.checkpoint.keep, model.tower.lr_scale -> train.tower.lr_scale"
        ]
    )
    saved = Recipe.load(out / "recipe.yaml")  # written with the new names: it reads back the same, nothing renamed
    assert saved.renamed == [] and saved.to_dict() == recipe.to_dict()


def test_a_run_with_new_keys_says_nothing_of_old_ones(reference_run: tuple[Path, dict[str, Any]]) -> None:
    assert _log_lines(reference_run[0], NOTE) == []


def test_resume_of_a_run_whose_recipe_yaml_has_old_keys(
    reference_run: tuple[Path, dict[str, Any]],
    digits_recipe: Callable[..., Recipe],
    killed_at_step: Callable[[int], AbstractContextManager[None]],
) -> None:
    """Killed after the mid-epoch checkpoint; recipe.yaml rewritten in the old layout; ``pairsim train
    run/recipe.yaml --resume`` ends with the uninterrupted run's weights."""
    from pairsim.cli import main

    recipe = digits_recipe()
    out = Path(recipe.output_dir)
    with killed_at_step(4):  # after the checkpoint at step 3
        Trainer(recipe, progress=False).run()
    old = _old_layout(load_yaml((out / "recipe.yaml").read_text()))
    assert "checkpoint_every" in old["train"] and "steps_per_epoch" in old["train"] and "speed" not in old["train"]
    (out / "recipe.yaml").write_text(dump_yaml(old))
    assert Recipe.load(out / "recipe.yaml").to_dict() == recipe.to_dict()

    assert main(["train", str(out / "recipe.yaml"), "--resume", "--no-progress"]) == 0
    assert len(_log_lines(out, NOTE)) == 1 and _log_lines(out, "resumed from")
    last = load_checkpoint(out / "checkpoints" / "last.pt")["step_module"]
    ref = load_checkpoint(reference_run[0] / "checkpoints" / "last.pt")["step_module"]
    assert [k for k in ref if not torch.equal(last[k], ref[k])] == []
