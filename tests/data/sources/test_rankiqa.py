"""The rankiqa source: image-disjoint splits, the held-out distortion kept out of them, levels as labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pairsim.config import from_dict
from pairsim.data.distortions import DistortedImage
from pairsim.data.sources import DatasetConfig, build_source
from pairsim.errors import ConfigError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """20 small random photos in ``images/``."""
    (tmp_path / "images").mkdir()
    gen = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(gen.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(tmp_path / "images" / f"{i:03d}.jpg")
    return tmp_path


def source(folder: Path, **options: Any) -> Any:
    return build_source({"name": "rankiqa", "path": str(folder), "side": 16, "val_fraction": 0.2, **options})


def image_of(group: str) -> str:
    return group.split("/")[0]


def test_splits_hold_disjoint_images_and_no_heldout_distortion(folder: Path) -> None:
    src = source(folder)
    splits = src.load()
    images = [{image_of(g) for g in split.groups} for _, split in splits.items()]
    assert [len(s) for s in images] == [14, 4, 2]  # 20 images: 0.2 val, 0.1 test
    assert not (images[0] & images[1] or images[0] & images[2] or images[1] & images[2])
    for _, split in splits.items():
        assert {g.split("/")[1] for g in split.groups} == {"blur", "noise"}
        assert all(isinstance(it, DistortedImage) and it.kind != "jpeg" for it in split.items)
    held = src.heldout("test")
    assert {g.split("/")[1] for g in held.groups} == {"jpeg"}
    assert {image_of(g) for g in held.groups} == images[2]


def test_labels_are_levels_within_each_image_and_distortion(folder: Path) -> None:
    train = source(folder).load().train
    first = [i for i, g in enumerate(train.groups) if g == train.groups[0]]
    assert [train.labels[i] for i in first] == [0, 1, 2, 3, 4, 5]
    assert [train.items[i].level for i in first] == [0, 1, 2, 3, 4, 5]
    assert [train.items[i].param for i in first[1:]] == [0.5, 1.0, 1.5, 2.5, 4.0]
    no_original = source(folder, include_original=False, blur_sigmas=[1.0, 2.0]).load().train
    assert sorted(set(no_original.labels)) == [1, 2, 3, 4, 5]  # noise keeps its 5 levels, blur has 2


def test_the_seed_changes_the_split_and_the_same_seed_repeats_it(folder: Path) -> None:
    def test_images(seed: int) -> set[str]:
        return {image_of(g) for g in source(folder, seed=seed).load().test.groups}

    assert test_images(0) == test_images(0)
    assert any(test_images(s) != test_images(0) for s in (1, 2, 3))


def test_no_heldout_distortion_trains_on_all_three(folder: Path) -> None:
    src = source(folder, heldout_distortion=None)
    assert {g.split("/")[1] for g in src.load().train.groups} == {"blur", "noise", "jpeg"}
    assert src.heldout("test") is None


@pytest.mark.parametrize(
    "options, message",
    [
        ({"blur_sigmas": [2.0, 1.0]}, "blur_sigmas: expected one or more strictly increasing"),
        ({"jpeg_qualities": [10, 50]}, "jpeg_qualities: expected one or more strictly decreasing"),
        ({"distortions": ["jpeg"], "heldout_distortion": "jpeg"}, "nothing would be left to train on"),
    ],
)
def test_bad_levels_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(DatasetConfig, {"name": "rankiqa", **options}, where="data")
