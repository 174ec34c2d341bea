"""Strict typed configs: from_dict rejects bad keys and types with the dotted key; set_override parses YAML."""

from __future__ import annotations

import dataclasses
import re
from typing import Literal

import pytest

from pairsim import HEADS, LOSSES, TOWERS
from pairsim.config import from_dict, set_override, to_dict
from pairsim.errors import ConfigError
from pairsim.losses import LossConfig
from pairsim.model import PairModelConfig
from pairsim.towers.cnn import CNNConfig
from pairsim.towers.lstm import LSTMConfig


@dataclasses.dataclass(kw_only=True)
class Inner:
    size: int = 1
    rate: float = 0.5


@dataclasses.dataclass(kw_only=True)
class Outer:
    epochs: int = 1
    name: str = "x"
    flag: bool = False
    mode: Literal["fast", "slow"] = "fast"
    sizes: list[int] = dataclasses.field(default_factory=list)
    pair: tuple[int, ...] = ()
    table: dict[str, float] = dataclasses.field(default_factory=dict)
    inner: Inner = dataclasses.field(default_factory=Inner)
    maybe: float | None = None
    either: int | str = 0


@dataclasses.dataclass(kw_only=True)
class Required:
    needed: int


def _error(cls, data, where="config") -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(cls, data, where=where)
    return str(info.value)


# -- plain dataclasses ----------------------------------------------------------------------------------------
def test_from_dict_converts_nested_data() -> None:
    out = from_dict(
        Outer,
        {
            "epochs": 3, "name": "run", "flag": True, "mode": "slow", "sizes": [1, 2], "pair": [3, 4],
            "table": {"a": 1}, "inner": {"size": 7, "rate": 2}, "maybe": 1, "either": "word",
        },
    )  # fmt: skip
    assert out == Outer(
        epochs=3, name="run", flag=True, mode="slow", sizes=[1, 2], pair=(3, 4), table={"a": 1.0},
        inner=Inner(size=7, rate=2.0), maybe=1.0, either="word",
    )  # fmt: skip
    assert isinstance(out.inner.rate, float) and isinstance(out.maybe, float) and isinstance(out.pair, tuple)
    assert from_dict(Outer, {}) == Outer()  # defaults
    assert from_dict(Outer, {"maybe": None}).maybe is None


@pytest.mark.parametrize(
    ("data", "key", "expected"),
    [
        ({"epochs": "3"}, "config.epochs", "expected an integer, got '3'"),  # string for int
        ({"epochs": True}, "config.epochs", "expected an integer, got True"),  # bool for int
        ({"epochs": 1.5}, "config.epochs", "expected an integer"),
        ({"flag": 1}, "config.flag", "expected true or false, got 1"),
        ({"name": 3}, "config.name", "expected a string, got 3"),
        ({"inner": {"rate": "fast"}}, "config.inner.rate", "expected a number, got 'fast'"),
        ({"inner": {"rate": False}}, "config.inner.rate", "expected a number, got False"),
        ({"inner": 3}, "config.inner", "expected a mapping, got 3"),
        ({"sizes": 3}, "config.sizes", "expected a list, got 3"),
        ({"sizes": [1, "two"]}, "config.sizes[1]", "expected an integer, got 'two'"),
        ({"table": [1]}, "config.table", "expected a mapping"),
        ({"table": {"a": "b"}}, "config.table.a", "expected a number, got 'b'"),
        ({"mode": "medium"}, "config.mode", "expected one of 'fast', 'slow', got 'medium'"),  # Literal
        ({"maybe": "abc"}, "config.maybe", "expected a number, got 'abc'"),  # X | None
        ({"either": [1]}, "config.either", "expected int | str, got [1]"),  # union of several types
        ({"epochs": None}, "config.epochs", "expected an integer, got None"),
    ],
)
def test_wrong_type_names_the_dotted_key(data, key, expected) -> None:
    message = _error(Outer, data)
    assert message.startswith(f"{key}:"), message
    assert expected in message


def test_unknown_key_is_named_with_the_valid_keys() -> None:
    message = _error(Outer, {"inner": {"sise": 3}})
    assert message.startswith("config.inner: unknown key 'sise'")
    assert "valid keys: rate, size" in message
    assert "unknown key 'epoch'" in _error(Outer, {"epoch": 3})


def test_missing_required_key() -> None:
    assert _error(Required, {}) == "config: missing required key 'needed'"
    assert from_dict(Required, {"needed": 2}).needed == 2


def test_top_level_must_be_a_mapping() -> None:
    assert "expected a mapping" in _error(Outer, [1, 2], where="recipe")


# -- registered components ------------------------------------------------------------------------------------
def test_registry_name_selects_the_component_config() -> None:
    cfg = PairModelConfig.from_dict(
        {"tower": {"name": "cnn", "width": 0.25}, "tower_b": {"name": "lstm"}, "head": {"name": "euclidean"}}
    )
    assert type(cfg.tower) is CNNConfig and cfg.tower.width == 0.25
    assert type(cfg.tower_b) is LSTMConfig
    assert type(cfg.head) is HEADS.get("euclidean").Config
    assert PairModelConfig.from_dict({"tower": {"name": "lstm"}}).head.name == "cosine"  # default head


def test_missing_name_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError) as info:
        PairModelConfig.from_dict({"tower": {"embed_dim": 8}})
    message = str(info.value)
    assert message.startswith("model.tower: missing 'name'")
    assert f"valid towers: {', '.join(TOWERS.names())}" in message


@pytest.mark.parametrize(("section", "registry"), [("tower", TOWERS), ("tower_b", TOWERS), ("head", HEADS)])
def test_unknown_registered_name_lists_the_valid_names(section, registry) -> None:
    data = {"tower": {"name": "lstm"}, section: {"name": "nosuch"}}
    with pytest.raises(ConfigError) as info:
        PairModelConfig.from_dict(data)
    message = str(info.value)
    assert message.startswith(f"model.{section}.name: unknown {registry.kind} 'nosuch'"), message
    assert ", ".join(registry.names()) in message


def test_unknown_loss_name_lists_the_valid_losses() -> None:
    message = _error(LossConfig, {"name": "hinge"}, where="train.loss")
    assert message.startswith("train.loss.name: unknown loss 'hinge'")
    assert ", ".join(LOSSES.names()) in message


@pytest.mark.parametrize(
    ("tower", "key", "expected"),
    [
        ({"name": "lstm", "embedd_dim": 8}, "model.tower", "unknown key 'embedd_dim'"),
        ({"name": "lstm", "embed_dim": "8"}, "model.tower.embed_dim", "expected an integer, got '8'"),
        ({"name": "lstm", "hidden_dim": True}, "model.tower.hidden_dim", "expected an integer, got True"),
        ({"name": "lstm", "pooling": "sum"}, "model.tower.pooling", "expected one of 'last', 'mean', 'max'"),
        ({"name": "lstm", "glove": 3}, "model.tower.glove", "expected a string, got 3"),
        ({"name": "cnn", "arch": "vgg"}, "model.tower.arch", "expected one of 'koch', 'face', 'conv4', got 'vgg'"),
        ({"name": "cnn", "image_size": [72, "a"]}, "model.tower.image_size[1]", "expected an integer"),
        ({"name": "transformer", "pooling": "first"}, "model.tower.pooling", "'auto', 'mean', 'cls', 'max'"),
        ({"name": "transformer", "normalize": "yes"}, "model.tower.normalize", "expected true or false"),
    ],
)
def test_component_errors_name_the_dotted_key(tower, key, expected) -> None:
    with pytest.raises(ConfigError) as info:
        PairModelConfig.from_dict({"tower": tower})
    message = str(info.value)
    assert message.startswith(f"{key}:"), message
    assert expected in message


def test_errors_inside_optional_sections_are_config_errors() -> None:
    """``tower_b: TowerConfig | None`` and ``threshold: float | None``: the error of the one non-null
    type is raised as a ConfigError (it used to be raised as a bare string -> TypeError)."""
    with pytest.raises(ConfigError, match=re.escape("model.tower_b: unknown key 'embedd'")):
        PairModelConfig.from_dict({"tower": {"name": "lstm"}, "tower_b": {"name": "lstm", "embedd": 3}})
    with pytest.raises(ConfigError, match=re.escape("model.threshold: expected a number, got 'abc'")):
        PairModelConfig.from_dict({"tower": {"name": "lstm"}, "threshold": "abc"})
    with pytest.raises(ConfigError, match=re.escape("model.head.init_bias: expected a number")):
        PairModelConfig.from_dict({"tower": {"name": "lstm"}, "head": {"name": "cosine", "init_bias": "x"}})


def test_component_check_errors_are_prefixed_with_the_section() -> None:
    """A check() error about one field names its dotted key (like a range error); others name the section."""
    with pytest.raises(ConfigError) as info:
        PairModelConfig.from_dict({"tower": {"name": "torchvision", "channels": 2}})
    assert str(info.value) == "model.tower.channels: expected 1 or 3, got 2"
    with pytest.raises(ConfigError, match=r"^model\.tower: mean and std need 3 values"):
        PairModelConfig.from_dict({"tower": {"name": "timm", "mean": [0.5]}})
    with pytest.raises(ConfigError, match=r"^model\.tower\.model: unknown torchvision model 'resnet1000'"):
        PairModelConfig.from_dict({"tower": {"name": "torchvision", "model": "resnet1000"}})


def test_to_dict_round_trips_a_model_config() -> None:
    data = {
        "tower": {"name": "lstm", "embed_dim": 8, "pooling": "mean"},
        "tower_b": {"name": "cnn", "out_dim": 8},
        "head": {"name": "euclidean", "calibrated": True},
        "threshold": 0.7,
    }
    cfg = PairModelConfig.from_dict(data)
    plain = to_dict(cfg)
    assert plain["tower"]["pooling"] == "mean" and plain["tower"]["hidden_dim"] == 50  # defaults filled in
    assert "registry" not in plain["tower"]
    assert PairModelConfig.from_dict(plain) == cfg


# -- overrides ---------------------------------------------------------------------------------------------
def test_set_override_parses_yaml_values_and_nested_keys() -> None:
    data: dict = {"train": {"epochs": 1}, "model": {"tower": {"name": "lstm"}, "tower_b": {"name": "cnn"}}}
    set_override(data, "train.epochs=3")
    set_override(data, "train.lr=0.001")
    set_override(data, "train.amp=true")
    set_override(data, "model.tower_b=null")
    set_override(data, "model.tower.image_size=[64, 64]")
    set_override(data, "model.tower.name=transformer")
    set_override(data, "model.head.name=euclidean")  # creates the missing mapping
    set_override(data, "a.b.c.d=x=y")  # only the first '=' splits
    set_override(data, "note=")
    set_override(data, "raw=[1, 2")  # not valid YAML: kept as the string
    assert data == {
        "train": {"epochs": 3, "lr": 0.001, "amp": True},
        "model": {"tower": {"name": "transformer", "image_size": [64, 64]}, "tower_b": None,
                  "head": {"name": "euclidean"}},
        "a": {"b": {"c": {"d": "x=y"}}},
        "note": "",
        "raw": "[1, 2",
    }  # fmt: skip
    assert isinstance(data["train"]["epochs"], int) and isinstance(data["train"]["lr"], float)


def test_set_override_reads_exponent_floats() -> None:
    data: dict = {}
    set_override(data, "train.lr=1e-3")
    set_override(data, "train.wd=5E+2")
    set_override(data, "train.tag=1e3x")  # not a number: stays a string
    set_override(data, "train.n=10")  # integers stay integers
    assert data == {"train": {"lr": 0.001, "wd": 500.0, "tag": "1e3x", "n": 10}}


def test_set_override_then_from_dict_checks_types() -> None:
    data = {"tower": {"name": "lstm"}}
    set_override(data, "tower.embed_dim=eight")
    with pytest.raises(ConfigError, match=r"^model\.tower\.embed_dim: expected an integer, got 'eight'"):
        PairModelConfig.from_dict(data)


@pytest.mark.parametrize("assignment", ["train.epochs", "=3", " =3", ""])
def test_set_override_needs_key_equals_value(assignment) -> None:
    with pytest.raises(ConfigError, match="expected key=value"):
        set_override({}, assignment)


def test_set_override_cannot_walk_through_a_value() -> None:
    data = {"train": {"epochs": 3}}
    with pytest.raises(ConfigError, match=r"train\.epochs is 3, not a mapping"):
        set_override(data, "train.epochs.max=4")
    assert data == {"train": {"epochs": 3}}
