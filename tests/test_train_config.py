"""The ``train`` section: everyday keys flat, the rest in typed groups; every old flat key (and the tower training
settings that lived in ``model.tower``) still read through the one table ``RENAMED``; saved models without
training settings, and old ones with them, load."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.errors import ConfigError
from pairsim.model import PairModel
from pairsim.recipe import RENAMED, Recipe, TrainConfig

REPO = Path(__file__).resolve().parents[1]
BASE: dict[str, Any] = {  # untied, so that the tower_b settings have a tower to go to
    "model": {"tower": {"name": "lstm"}, "tower_b": {"name": "lstm"}},
    "loss": {"name": "contrastive"},
    "data": {"name": "digits"},
}
# a non-default value for every old key of the table (plus what it needs beside it)
VALUES: dict[str, Any] = {
    "train.steps_per_epoch": 7,
    "train.max_steps": 9,
    "train.warmup": 0.25,
    "train.schedule": "cosine",
    "train.optimizer": "sgd",
    "train.weight_decay": 0.01,
    "train.momentum": 0.5,
    "train.grad_clip": 2.5,
    "train.eval_every_epoch": False,
    "train.eval_every": 11,
    "train.eval_at_start": False,
    "train.metric": "spearman",
    "train.early_stopping": 3,
    "train.checkpoint_every": 13,
    "train.checkpoint_minutes": 0.5,
    "train.keep_checkpoint": False,
    "train.snapshot_every": 17,
    "train.threads": 2,
    "train.num_workers": 1,
    "train.bf16": False,
    "train.channels_last": False,
    "train.cache_frozen": False,
    "train.cache_views": 3,
    "train.fit_projection": "wccn",
    "train.fit_shrink": 0.2,
    "train.fit_views": 4,
    "model.tower.freeze": ["embedding"],
    "model.tower.lr_scale": 0.5,
    "model.tower.lr_parts": {"lstm": 0.1},
    "model.tower_b.freeze": True,
    "model.tower_b.lr_scale": 2.0,
    "model.tower_b.lr_parts": {"embedding": 3.0},
}
NEEDS = {"train.fit_views": {"fit": {"projection": "wccn"}}}  # new keys a value needs beside it


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return obj


def _nested(path: str, value: Any) -> dict[str, Any]:
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _base(old: str = "") -> dict[str, Any]:
    return _merge(BASE, {"train": NEEDS.get(old, {})})


def _flow(value: Any) -> str:
    return json.dumps(value)  # JSON is YAML 1.2


def test_the_table_covers_every_old_key_once_and_points_at_a_field() -> None:
    assert set(VALUES) == set(RENAMED)
    defaults = Recipe.from_dict(BASE)
    for new in RENAMED.values():
        _get(defaults, new)  # every new place exists
    assert len(set(RENAMED.values())) == len(RENAMED)


def test_the_everyday_keys_come_first_and_flat() -> None:
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert names[:5] == ["epochs", "batch_size", "lr", "seed", "device"]
    hints = typing.get_type_hints(TrainConfig)
    groups = [name for name in names if dataclasses.is_dataclass(hints[name])]
    assert groups == ["schedule", "optim", "tower", "tower_b", "validation", "checkpoint", "speed", "fit"]


def test_groups_parse_from_a_recipe_and_from_dotted_overrides() -> None:
    data = _merge(
        BASE, {"train": {"epochs": 3, "schedule": {"warmup": 0.2, "decay": "cosine"}, "speed": {"threads": 2}}}
    )
    r = Recipe.from_dict(data, overrides=["train.checkpoint.every=5", "train.tower_b.freeze=[embedding]"])
    t = r.train
    assert (t.epochs, t.schedule.warmup, t.schedule.decay, t.speed.threads) == (3, 0.2, "cosine", 2)
    assert (t.checkpoint.every, t.tower_b.freeze, t.tower.freeze) == (5, ["embedding"], False)
    assert t.optim.optimizer == "adamw" and t.checkpoint.minutes == 5.0  # the groups' defaults
    assert r.renamed == [] and r.renamed_note() is None


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("train.speed.thread=2", r"recipe\.train\.speed: unknown key 'thread'; valid keys: bf16, cache_frozen"),
        ("train.schedule.warmup=2", r"recipe\.train\.schedule\.warmup: expected a number in \[0, 1\], got 2"),
        ("train.speed.cache_views=1", r"recipe\.train\.speed\.cache_views: expected 0 or at least 2 views"),
        ("train.fit.views=2", r"recipe\.train\.fit\.views: 2 views need train\.fit\.projection"),
        ("train.tower.lr_parts={a: 0}", r"recipe\.train\.tower\.lr_parts\.a: expected a number in \(0, 1000\]"),
        ("train.schedule.decay=fast", r"recipe\.train\.schedule\.decay: expected one of 'constant', 'linear'"),
    ],
)
def test_errors_inside_a_group_name_the_dotted_key(override: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Recipe.from_dict(BASE, overrides=[override])


def test_tower_b_settings_of_a_tied_model_are_an_error() -> None:
    tied = {**BASE, "model": {"tower": {"name": "lstm"}}}
    with pytest.raises(ConfigError, match=r"train\.tower_b: the model is tied"):
        Recipe.from_dict(tied, overrides=["train.tower_b.freeze=true"])


@pytest.mark.parametrize("old", list(VALUES))
def test_each_old_key_is_read_at_its_new_place(old: str) -> None:
    """In a recipe and as an override: the value reaches the new place, the recipe says which old key it read."""
    new, value = RENAMED[old], VALUES[old]
    assert _get(Recipe.from_dict(_base(old)), new) != value  # the value is not the default
    from_recipe = Recipe.from_dict(_merge(_base(old), _nested(old, value)))
    from_override = Recipe.from_dict(_base(old), overrides=[f"{old}={_flow(value)}"])
    for r in (from_recipe, from_override):
        assert _get(r, new) == value
        assert r.renamed == [old]
        assert r.renamed_note() == (
            f"recipe: old key names read under their new names (rename them in the recipe): {old} -> {new}"
        )
    assert (
        from_recipe.to_dict()
        == from_override.to_dict()
        == Recipe.from_dict(_merge(_base(old), _nested(new, value))).to_dict()
    )


def test_an_override_under_an_old_mapping_key_is_renamed_too() -> None:
    r = Recipe.from_dict(BASE, overrides=["model.tower.lr_parts.lstm=0.25"])
    assert r.train.tower.lr_parts == {"lstm": 0.25} and r.renamed == ["model.tower.lr_parts"]


def test_an_old_key_inside_a_mapping_an_override_sets_is_renamed() -> None:
    r = Recipe.from_dict(BASE, overrides=["model.tower={name: lstm, freeze: true}", "train={threads: 2}"])
    assert r.train.tower.freeze is True and r.train.speed.threads == 2
    assert sorted(r.renamed) == ["model.tower.freeze", "train.threads"]


def test_old_schedule_string_and_new_schedule_group_live_together() -> None:
    """``train.schedule`` was the decay's name and is now the group: a string is the old key, a mapping the group."""
    data = _merge(BASE, {"train": {"schedule": "cosine"}})
    r = Recipe.from_dict(data, overrides=["train.schedule.warmup=0.3"])
    assert (r.train.schedule.decay, r.train.schedule.warmup) == ("cosine", 0.3)
    assert Recipe.from_dict(BASE, overrides=["train.schedule={decay: constant}"]).renamed == []
    both_old = Recipe.from_dict(_merge(BASE, {"train": {"steps_per_epoch": 3, "schedule": "linear", "warmup": 0.0}}))
    assert (both_old.train.schedule.steps_per_epoch, both_old.train.schedule.decay) == (3, "linear")


def test_an_old_key_and_its_new_name_both_in_a_recipe_is_an_error() -> None:
    data = _merge(BASE, {"train": {"checkpoint_every": 3, "checkpoint": {"every": 4}}})
    with pytest.raises(ConfigError, match=r"train\.checkpoint_every is the old name of train\.checkpoint\.every"):
        Recipe.from_dict(data)


def test_an_override_wins_over_the_recipe_whichever_names_it_uses() -> None:
    old_recipe = _merge(BASE, {"train": {"checkpoint_every": 3}})
    assert Recipe.from_dict(old_recipe, overrides=["train.checkpoint.every=4"]).train.checkpoint.every == 4
    new_recipe = _merge(BASE, {"train": {"checkpoint": {"every": 3}}})
    assert Recipe.from_dict(new_recipe, overrides=["train.checkpoint_every=4"]).train.checkpoint.every == 4


def test_reading_does_not_change_the_callers_data() -> None:
    data = _merge(BASE, {"train": {"threads": 2}})
    before = json.dumps(data, sort_keys=True)
    Recipe.from_dict(data, overrides=["train.speed.num_workers=1"])
    assert json.dumps(data, sort_keys=True) == before


def test_no_shipped_recipe_uses_an_old_key() -> None:
    from pairsim.track.recipe import is_tracking_recipe

    for path in sorted((REPO / "recipes").glob("*.yaml")):
        if not is_tracking_recipe(path):  # tracking recipes have their own schema (tests/track)
            assert Recipe.load(path).renamed == [], path.name


def test_cli_threads_sets_the_new_key() -> None:
    from argparse import Namespace

    from pairsim.cli.args import threads_override

    assert threads_override(Namespace(threads=3)) == ["train.speed.threads=3"]
    assert Recipe.from_dict(BASE, overrides=threads_override(Namespace(threads=3))).renamed == []


# -- the saved model carries no training settings -------------------------------------------------------------
def test_saved_model_has_no_training_settings_and_old_ones_load(
    make_model: Callable[..., PairModel], texts: list[str], tmp_path: Path
) -> None:
    """A model saved now has no freeze / lr_scale / lr_parts; one whose config.json has them (older pairsim) loads,
    scores the same and ignores them."""
    model = make_model("lstm", tower_b="lstm")
    directory = model.save_pretrained(tmp_path / "model")
    config = json.loads((directory / "config.json").read_text())
    assert not {"freeze", "lr_scale", "lr_parts"} & {*config["model"]["tower"], *config["model"]["tower_b"]}
    expected = PairModel.from_pretrained(directory).score(texts[:2], texts[2:4])

    # config.json is the manifest: its sha256 map lists the other files, so adding keys to it keeps them valid
    config["model"]["tower"].update(freeze=["embedding"], lr_scale=0.5, lr_parts={"lstm": 0.1})
    config["model"]["tower_b"].update(freeze=True, lr_scale=1.0, lr_parts={})
    (directory / "config.json").write_text(json.dumps(config))
    old = PairModel.from_pretrained(directory)
    assert torch.equal(old.score(texts[:2], texts[2:4]), expected)
    assert not hasattr(old.config.tower, "freeze") and not hasattr(old.config.tower_b, "lr_parts")
    resaved = json.loads((old.save_pretrained(tmp_path / "again") / "config.json").read_text())
    assert "freeze" not in resaved["model"]["tower"]


def test_a_recipe_model_section_with_training_keys_is_read_into_train() -> None:
    """The old place in a recipe (model.tower.freeze) is mapped, not silently dropped."""
    data = _merge(BASE, {"model": {"tower": {"freeze": True}, "tower_b": {"lr_scale": 0.1}}})
    r = Recipe.from_dict(data)
    assert r.train.tower.freeze is True and r.train.tower_b.lr_scale == 0.1
    assert r.renamed == ["model.tower.freeze", "model.tower_b.lr_scale"]
