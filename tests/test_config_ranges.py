"""Declared value ranges: every numeric config field has one, and recipes, overrides and saved configs are
checked against it with one error naming the dotted key, the value and the valid range."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Union

import pytest
import torch

from pairsim import HEADS, LOSSES, TOWERS
from pairsim.config import Range, bounded, field_range, from_dict
from pairsim.data.samplers import SAMPLERS
from pairsim.data.sources import DATASETS
from pairsim.device import parse_device, pick_device
from pairsim.errors import ConfigError, PairsimError
from pairsim.model import PairModel, PairModelConfig
from pairsim.recipe import Recipe

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "recipes" / "digits_pairs.yaml"


# -- every numeric field declares a range ---------------------------------------------------------------------
def _numeric(tp: Any) -> bool:
    """Whether an annotation holds a number (int or float, maybe optional or in a list), not a bool."""
    if tp in (int, float):
        return True
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType, list, tuple):
        return any(_numeric(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)
    return False


def _config_classes() -> Iterator[type]:
    """Every config dataclass a recipe or saved config can reach: registered components and nested sections."""
    roots: list[type] = [Recipe]
    for registry in (TOWERS, HEADS, LOSSES, DATASETS, SAMPLERS):
        roots += [registry.get(name).Config for name in registry.names()]
    seen: set[type] = set()
    while roots:
        cls = roots.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        for tp in typing.get_type_hints(cls).values():
            for arg in (tp, *typing.get_args(tp)):
                if isinstance(arg, type) and dataclasses.is_dataclass(arg):
                    roots.append(arg)


CONFIG_CLASSES = sorted(_config_classes(), key=lambda c: c.__qualname__ + c.__module__)


def test_the_walk_finds_every_family() -> None:
    names = {c.__qualname__ for c in CONFIG_CLASSES}
    assert {"Recipe", "TrainConfig", "EvalConfig", "PairModelConfig", "LSTMConfig", "CNNConfig"} <= names
    assert {"TripletConfig", "AugmentConfig", "Digits.Config", "WeightedL1Config"} <= names


@pytest.mark.parametrize("cls", CONFIG_CLASSES, ids=lambda c: c.__qualname__)
def test_every_numeric_field_declares_a_range_its_default_satisfies(cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or not _numeric(hints[f.name]):
            continue
        rng = field_range(f)
        assert isinstance(rng, Range), f"{cls.__qualname__}.{f.name} is numeric but declares no range (use bounded)"
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if default is dataclasses.MISSING or default is None:
            continue
        for value in default if isinstance(default, (list, tuple)) else [default]:
            assert rng.contains(value), f"{cls.__qualname__}.{f.name}: default {value} is outside {rng}"


def test_a_field_without_range_is_caught_by_the_walk() -> None:
    @dataclasses.dataclass(kw_only=True)
    class Forgot:
        size: int = 3
        sizes: list[float] | None = None
        flag: bool = False

    hints = typing.get_type_hints(Forgot)
    assert [f.name for f in dataclasses.fields(Forgot) if _numeric(hints[f.name]) and not field_range(f)] == [
        "size",
        "sizes",
    ]


# -- the check itself -----------------------------------------------------------------------------------------
@dataclasses.dataclass(kw_only=True)
class Toy:
    count: int = bounded(1, ge=1)
    rate: float = bounded(0.5, gt=0, lt=1)
    sizes: list[int] = bounded(default_factory=lambda: [2, 2], ge=1, le=10)
    maybe: float | None = bounded(None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"count": 0}, "toy.count: expected an integer >= 1, got 0"),
        ({"rate": 1.0}, "toy.rate: expected a number in (0, 1), got 1.0"),
        ({"rate": 0}, "toy.rate: expected a number in (0, 1), got 0.0"),
        ({"sizes": [2, 11]}, "toy.sizes[1]: expected an integer in [1, 10], got 11"),
        ({"maybe": float("nan")}, "toy.maybe: expected a finite number, got nan"),
        ({"maybe": float("-inf")}, "toy.maybe: expected a finite number, got -inf"),
        ({"rate": 10**400}, "toy.rate: <an integer of about 401 digits> is too large for a number"),
    ],
)
def test_out_of_range_values_name_key_value_and_range(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(Toy, data, where="toy")
    assert str(info.value) == message


def test_in_range_values_and_none_pass() -> None:
    assert from_dict(Toy, {"count": 5, "rate": 0.25, "sizes": [1, 10], "maybe": None}) == Toy(
        count=5, rate=0.25, sizes=[1, 10], maybe=None
    )


@pytest.mark.parametrize(
    ("rng", "text"),
    [(Range(ge=0), ">= 0"), (Range(gt=0), "> 0"), (Range(le=5), "<= 5"), (Range(ge=1, lt=2.5), "in [1, 2.5)"),
     (Range(), "any finite number")],
)  # fmt: skip
def test_range_reads_as_text(rng: Range, text: str) -> None:
    assert str(rng) == text


# -- the cases of issue 8, through recipes, overrides and saved configs ----------------------------------------
OVERRIDE_CASES = [
    ("train.batch_size=-1", "digits_pairs.yaml.train.batch_size: expected an integer in [1, 1048576], got -1"),
    ("train.batch_size=0", "digits_pairs.yaml.train.batch_size: expected an integer in [1, 1048576], got 0"),
    ("eval.batch_size=0", "digits_pairs.yaml.eval.batch_size: expected an integer in [1, 1048576], got 0"),
    ("train.log_every=0", "digits_pairs.yaml.train.log_every: expected an integer in [1, 1000000000000], got 0"),
    ("train.seed=-1", "digits_pairs.yaml.train.seed: expected an integer in [0, 4294967295], got -1"),
    ("data.seed=-1", "digits_pairs.yaml.data.seed: expected an integer in [0, 4294967295], got -1"),
    (
        "sampler.per_epoch=-10",
        "digits_pairs.yaml.sampler.per_epoch: expected an integer in [0, 1000000000000], got -10",
    ),
    ("train.epochs=-1", "digits_pairs.yaml.train.epochs: expected an integer in [0, 1000000000000], got -1"),
    (
        "model.tower.out_dim=0",
        "digits_pairs.yaml.model.tower.out_dim: expected an integer in [1, 65536] for arch 'face', got 0",
    ),
    ("model.tower.out_dim=-3", "digits_pairs.yaml.model.tower.out_dim: expected an integer in [0, 65536], got -3"),
    ("model.tower.width=-1.0", "digits_pairs.yaml.model.tower.width: expected a number in (0, 16], got -1.0"),
    ("train.lr=0", "digits_pairs.yaml.train.lr: expected a number > 0, got 0.0"),
    ("train.lr=-0.001", "digits_pairs.yaml.train.lr: expected a number > 0, got -0.001"),
    ("train.lr=.nan", "digits_pairs.yaml.train.lr: expected a finite number, got nan"),
    ("train.lr=.inf", "digits_pairs.yaml.train.lr: expected a finite number, got inf"),
    ("data.val_fraction=1.5", "digits_pairs.yaml.data.val_fraction: expected a number in [0, 1), got 1.5"),
    ("eval.pairs=0", "digits_pairs.yaml.eval.pairs: expected an integer in [1, 1000000000000], got 0"),
    (
        "model.tower.image_size=[40000,40000]",
        "digits_pairs.yaml.model.tower.image_size[0]: expected an integer in [1, 4096], got 40000",
    ),
    (
        "model.tower.augment.probability=2",
        "digits_pairs.yaml.model.tower.augment.probability: expected a number in [0, 1], got 2.0",
    ),
    (
        "train.device=gpu",
        "digits_pairs.yaml.train.device: unknown device 'gpu'; expected auto, cpu, cuda, cuda:N or mps",
    ),
]


@pytest.mark.parametrize(("override", "message"), OVERRIDE_CASES, ids=[c[0] for c in OVERRIDE_CASES])
def test_bad_override_is_one_error_naming_key_value_and_range(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Recipe.load(DIGITS, [override])
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("loss", "message"),
    [
        ({"name": "triplet", "margin": -2.0}, "r.yaml.loss.margin: expected a number > 0, got -2.0"),
        ({"name": "ranking", "margin": -2.0}, "r.yaml.loss.margin: expected a number >= 0, got -2.0"),
        ({"name": "infonce", "temperature": 0}, "r.yaml.loss.temperature: expected a number > 0, got 0.0"),
        ({"name": "bce", "pos_weight": -1}, "r.yaml.loss.pos_weight: expected a number > 0, got -1.0"),
    ],
)
def test_loss_margins_in_a_recipe_file(tmp_path: Path, loss: dict[str, Any], message: str) -> None:
    recipe = {"model": {"tower": {"name": "lstm"}}, "loss": loss, "data": {"name": "digits"}}
    path = tmp_path / "r.yaml"
    path.write_text(json.dumps(recipe))  # JSON is YAML
    with pytest.raises(ConfigError) as info:
        Recipe.load(path)
    assert str(info.value) == message


@pytest.mark.parametrize(("head", "margin"), [("euclidean", -2.0), ("euclidean", 0.0), ("cosine", 1.0)])
def test_contrastive_margin_must_be_worse_than_a_perfect_match(head: str, margin: float) -> None:
    model = {"tower": {"name": "lstm", "embed_dim": 4, "hidden_dim": 4}, "head": {"name": head}}
    recipe = Recipe.from_dict(
        {"model": model, "loss": {"name": "contrastive", "margin": margin}, "data": {"name": "digits"}}
    )
    head = PairModel.from_config(recipe.model, pretrained=False).head
    with pytest.raises(ConfigError, match=f"margin {margin:g} must be a score worse than a perfect match"):
        LOSSES.get("contrastive")(recipe.loss, head=head)


@pytest.mark.parametrize(
    ("tower", "message"),
    [
        (
            {"name": "lstm", "vocab_size": 100_000_000_000},
            "model.tower.vocab_size: expected an integer in [2, 10000000], got 100000000000",
        ),
        (
            {"name": "lstm", "hidden_dim": 10**9},
            "model.tower.hidden_dim: expected an integer in [1, 65536], got 1000000000",
        ),
        (
            {"name": "lstm", "vocab_size": 10_000_000, "embed_dim": 4096},
            "model.tower: vocab_size x embed_dim = 10000000 x 4096 word-vector entries; expected at most 1000000000"
            " (3 GiB in float32)",
        ),
        (
            {"name": "cnn", "arch": "face", "image_size": [4096, 4096], "width": 16.0},
            "model.tower: image_size [4096, 4096] at width 16 needs 2149581312 activations per image in one layer; "
            "expected at most 1000000000",
        ),
        (
            {"name": "cnn", "arch": "koch", "image_size": [1024, 1024]},
            "model.tower: image_size [1024, 1024] at width 1 gives 3686400 features per image, a projection of "
            "3686400 x 4096 weights; expected at most 1000000000 (reduce image_size, width or out_dim)",
        ),
        (
            {"name": "cnn", "image_size": [40000, 40000]},
            "model.tower.image_size[0]: expected an integer in [1, 4096], got 40000",
        ),
    ],
)
def test_sizes_that_exhaust_memory_fail_before_allocation(tower: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        PairModel.from_config({"tower": tower}, pretrained=False)  # raises while reading, before any tensor
    assert str(info.value) == message


@pytest.fixture
def saved_model(make_model: Callable[..., PairModel], tmp_path: Path) -> Path:
    return make_model("lstm").save_pretrained(tmp_path / "model")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("tower", "hidden_dim", -4), "config.json:model.tower.hidden_dim: expected an integer in [1, 65536], got -4"),
        (
            ("tower", "vocab_size", 10**11),
            "config.json:model.tower.vocab_size: expected an integer in [2, 10000000], got 100000000000",
        ),
        ((None, "threshold", float("nan")), "config.json:model.threshold: expected a finite number, got nan"),
    ],
)
def test_saved_config_is_checked_against_the_same_ranges(
    saved_model: Path, edit: tuple[str | None, str, Any], message: str
) -> None:
    path = saved_model / "config.json"
    saved = json.loads(path.read_text())
    section, key, value = edit
    (saved["model"][section] if section else saved["model"])[key] = value
    path.write_text(json.dumps(saved))  # NaN is written as the bare NaN that json.loads reads back
    with pytest.raises(PairsimError) as info:
        PairModel.from_pretrained(saved_model)
    assert str(info.value).startswith(message)


def test_model_config_nan_threshold_in_code() -> None:
    with pytest.raises(ConfigError, match=r"^model\.threshold: expected a finite number, got nan$"):
        PairModelConfig.from_dict({"tower": {"name": "lstm"}, "threshold": float("nan")})


# -- devices --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gpu", "cuda:x", "cpu:1", "tpu", ""])
def test_unknown_device_names(name: str) -> None:
    with pytest.raises(ConfigError, match=f"^train.device: unknown device {name!r}; expected auto, cpu, cuda"):
        parse_device(name, where="train.device")


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_known_device_names(name: str) -> None:
    parse_device(name)


def test_cuda_without_a_gpu_is_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(
        ConfigError, match=r"^--device: 'cuda' asked for, but CUDA is not available here; use cpu or auto$"
    ):
        pick_device("cuda", where="--device")
    assert pick_device("auto") == torch.device("cpu")


def test_cuda_index_past_the_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match=r"'cuda:3' asked for, but this machine has 1 GPU\(s\)"):
        pick_device("cuda:3")
