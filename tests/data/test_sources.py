"""Tests over every registered dataset: it loads small real slices, splits without leaks, reproducibly,
and a missing dataset is one clear error saying where to put it and how to get it."""

from __future__ import annotations

import csv
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from pairsim.config import from_dict
from pairsim.data.sources import DATASETS, DatasetConfig, NamedDatasetConfig, build_source, load_dataset
from pairsim.data.sources.in_memory import hold
from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
QUORA_FIXTURE = REPO / "tests" / "fixtures" / "quora"
OMNIGLOT_SLICE = {"background_alphabets": ["Arcadian", "Armenian"], "evaluation_alphabets": ["Angelic"]}
HF_CACHED = (
    "pair_table",
    "hf_dataset",
    "negatives_table",
)  # read through the datasets library: a cache folder under tmp_path


def _quora_rows() -> list[dict[str, str]]:
    """The Quora fixture's rows as a list of dicts (the in_memory source's data)."""
    with (QUORA_FIXTURE / "quora_duplicate_questions.tsv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


_HELD = ExitStack()  # the in_memory row's tables stay held for the whole session (pairsim.fit holds them per run)
QUORA_REF = _HELD.enter_context(hold(_quora_rows()))


def small_config(name: str, data_dir: Path) -> dict[str, Any]:
    """A quick config of each registered dataset on real data (or the Quora fixture)."""
    configs: dict[str, dict[str, Any]] = {
        "omniglot": {"name": "omniglot", **OMNIGLOT_SLICE},
        "att_faces": {
            "name": "att_faces",
            "subjects": [f"s{i}" for i in range(1, 13)],
            "test_count": 3,
            "val_count": 2,
        },
        "mrpc": {"name": "mrpc", "limit": 600},
        "stsb": {"name": "stsb", "limit": 400},
        "quora": {"name": "quora", "path": str(QUORA_FIXTURE)},
        "flickr8k": {"name": "flickr8k", "max_images": 40},
        "rankiqa": {"name": "rankiqa", "max_images": 30, "side": 32},
        "digits": {"name": "digits"},
        "fnc1": {"name": "fnc1", "limit": 3000},
        # MNIST is not on these machines; its files have Fashion-MNIST's layout, so read those in its place
        "mnist": {"name": "mnist", "path": str(data_dir / "fashion_mnist"), "split": "classes", "limit": 2000},
        "fashion_mnist": {
            "name": "fashion_mnist",
            "split": "classes",
            "val_classes": [3, 4],
            "limit": 1000,
            "per_class": 40,
        },
        "image_folder": {"name": "image_folder", "path": str(data_dir / "att_faces"), "val_fraction": 0.1},
        "pair_table": {
            "name": "pair_table",
            "path": str(QUORA_FIXTURE / "quora_duplicate_questions.tsv"),
            "text_a": "question1",
            "text_b": "question2",
            "label": "is_duplicate",
            "val_fraction": 0.15,
            "test_fraction": 0.15,
        },
        "in_memory": {
            "name": "in_memory",
            "ref": QUORA_REF,
            "column_a": "question1",
            "column_b": "question2",
            "label": "is_duplicate",
            "val_fraction": 0.15,
            "test_fraction": 0.15,
        },
        "hf_dataset": {
            "name": "hf_dataset",
            "path": str(QUORA_FIXTURE / "quora_duplicate_questions.tsv"),
            "val_fraction": 0.15,
            "test_fraction": 0.15,
        },
        "negatives_table": {  # a mined table: anchor, positive, negative_1, negative_2, key (10 keys x 2 rows)
            "name": "negatives_table",
            "path": str(Path(__file__).resolve().parents[1] / "fixtures" / "negatives" / "mined.csv"),
            "val_fraction": 0.2,
            "test_fraction": 0.2,
        },
        "captions": {
            "name": "captions",
            "path": str(data_dir / "flickr8k" / "images"),
            "captions": str(data_dir / "flickr8k" / "captions.txt"),
            "max_images": 30,
        },
    }
    return configs[name]


def leak_keys(data: Any, name: str = "") -> set[Any]:
    """What must never be shared between splits: classes, texts or image ids (FNC-1: article bodies; its
    headlines are each paired with ~30 bodies, so they recur across a split by body, as in FNC-1 itself; RankIQA:
    the images whose distorted versions a split holds)."""
    if name == "fnc1":
        return set(data.b)
    if name == "rankiqa":  # labels are distortion levels, shared by design; the images must not be
        return {g.split("/")[0] for g in data.groups}
    if isinstance(data, LabelledItems):
        return set(data.labels)
    if isinstance(data, PairTable):
        return set(data.a) | set(data.b)
    return set(data.image_ids)


NAMED = [n for n in DATASETS.names() if issubclass(DATASETS.get(n).Config, NamedDatasetConfig)]


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_has_a_small_config_and_named_ones_a_data_card(name: str, tmp_path: Path) -> None:
    """The registry drives these tests: a new dataset needs its row in small_config (and, when it names a public
    dataset, its card in data_cards/), and nothing else here."""
    assert small_config(name, tmp_path)["name"] == name
    if name in NAMED:
        assert (REPO / "data_cards" / f"{name}.md").is_file()


@pytest.mark.parametrize("name", DATASETS.names())
def test_loads_nonempty_splits_without_leaks(name: str, data_env: Path, tmp_path: Path) -> None:
    config = small_config(name, data_env)
    if name in HF_CACHED:
        config["cache_dir"] = str(tmp_path / "hf")
    splits = load_dataset(config)
    assert isinstance(splits, Splits)
    assert splits.kind in (LabelledItems, PairTable, CaptionImages) or splits.kind.__bases__ == (PairTable,)  # fnc1
    for split, data in splits.items():
        assert len(data) > 0, split
    if name != "digits":  # digits splits by item by default: the ten digits are in every split
        keys = [leak_keys(d, name) for _, d in splits.items()]
        assert not (keys[0] & keys[1]), "train and val share a class, text or image"
        assert not (keys[0] & keys[2]), "train and test share a class, text or image"
    again = load_dataset(config)
    for (_, first), (_, second) in zip(splits.items(), again.items(), strict=True):
        assert leak_keys(first, name) == leak_keys(second, name) and len(first) == len(second)


@pytest.mark.parametrize(
    "name",
    [
        "att_faces",
        "image_folder",
        "quora",
        "flickr8k",
        "rankiqa",
        "captions",
        "pair_table",
        "fnc1",
        "in_memory",
        "hf_dataset",
    ],
)
def test_the_seed_changes_a_random_split(name: str, data_env: Path, tmp_path: Path) -> None:
    config = small_config(name, data_env)
    if name in HF_CACHED:
        config["cache_dir"] = str(tmp_path / "hf")
    first = load_dataset({**config, "seed": 0})
    other = load_dataset({**config, "seed": 1})
    assert leak_keys(first.test, name) != leak_keys(other.test, name) or leak_keys(first.val, name) != leak_keys(
        other.val, name
    )


@pytest.mark.parametrize("name", NAMED)
def test_missing_dataset_says_where_and_how(name: str, tmp_path: Path) -> None:
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    with pytest.raises(DataError, match=r"not found.*nothing_here.*download: true") as info:
        load_dataset({"name": name, "path": str(empty)})
    assert "\n" not in str(info.value)
    assert "http" in str(info.value)  # the public source to fetch it from
    assert list(empty.iterdir()) == []  # nothing was downloaded


@pytest.mark.parametrize("name", NAMED)
def test_download_is_off_by_default(name: str) -> None:
    config = from_dict(DatasetConfig, {"name": name})
    assert config.download is False


@pytest.mark.parametrize("name", NAMED)
def test_every_named_dataset_has_a_data_card(name: str) -> None:
    card = REPO / "data_cards" / f"{name}.md"
    assert card.is_file(), f"data_cards/{name}.md is missing"
    text = card.read_text()
    for heading in ("Source", "Licence", "Size", "Splits", "Labels", "Caveats"):
        assert f"## {heading}" in text, f"{card.name} lacks a '## {heading}' section"


def test_unknown_dataset_and_key_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'; valid datasets: att_faces"):
        load_dataset({"name": "imagenet"})
    with pytest.raises(ConfigError, match="unknown key 'alphabets'"):
        load_dataset({"name": "omniglot", "alphabets": ["Latin"]})


def test_build_source_gives_the_registered_class() -> None:
    source = build_source({"name": "mrpc", "path": "/nowhere"})
    assert type(source) is DATASETS.get("mrpc")
    assert source.root() == Path("/nowhere")


@pytest.mark.parametrize(
    "name", ["omniglot", "att_faces", "digits", "flickr8k", "image_folder", "captions", "mnist", "fashion_mnist"]
)
def test_augmentation_is_no_dataset_option(name: str) -> None:
    """Augmentation is preprocessing, so it lives in the image tower's config (tests/towers/test_augment.py)."""
    base = {"image_folder": {"path": "x"}, "captions": {"path": "x", "captions": "y"}}.get(name, {})
    with pytest.raises(ConfigError, match="unknown key 'augment'"):
        from_dict(DatasetConfig, {"name": name, **base, "augment": {"enabled": True}})
