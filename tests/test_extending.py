"""CONTRIBUTING's "add a tower / head / dataset" hold: a toy of each, written as its own class plus its registration
(nothing else in pairsim changes), trains from a recipe, is evaluated, saves, loads and scores the same.

The toy loss and sampler of the same promise live in tests/train/test_new_rows.py; the toy fitter in
tests/train/test_fitters.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pairsim.config import MAX_DIM, bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.types import LabelledItems, Splits
from pairsim.heads import HEADS, Head
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.towers import TOWERS
from pairsim.towers.image import ImageTower, ImageTowerConfig
from pairsim.train.trainer import Trainer


# -- the toy tower's file ------------------------------------------------------------------------------------------
@dataclasses.dataclass(kw_only=True)
class ToyTowerConfig(ImageTowerConfig):
    out_dim: int = bounded(8, ge=1, le=MAX_DIM)  # embedding size


class ToyTower(ImageTower):
    """Flattened pixels -> one linear layer (a trunk of its own, so mirror averaging and caches apply)."""

    Config = ToyTowerConfig

    def __init__(self, config: ToyTowerConfig) -> None:
        super().__init__(config)
        height, width = config.image_size
        self.linear = nn.Linear(config.channels * height * width, config.out_dim)

    @property
    def out_dim(self) -> int:
        return self.config.out_dim

    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.linear(pixels.flatten(1))  # (B, C, H, W) -> (B, out_dim)

    def forward_rest(self, features: torch.Tensor) -> torch.Tensor:
        return features  # (B, out_dim)


# -- the toy head's file -------------------------------------------------------------------------------------------
class DotHead(Head):
    """Inner product: higher is more similar, unbounded."""

    higher_is_similar = True
    best = float("inf")
    neutral = 0.0

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(-1)  # (B,)

    def matrix(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b.T  # (Ba, Bb)


# -- the toy dataset's file ----------------------------------------------------------------------------------------
class Stripes(Source["Stripes.Config"]):
    """8x8 images of one bright row (the class) over noise: 8 classes, 15 images each."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "toy_stripes"

    def load(self) -> Splits[LabelledItems]:
        gen = np.random.default_rng(self.config.seed)
        images, labels = [], []
        for i in range(120):
            image = gen.uniform(0, 0.3, size=(8, 8)).astype(np.float32)
            image[i % 8] = 1.0  # (8, 8): the class is the bright row
            images.append(image)
            labels.append(i % 8)
        data = LabelledItems(items=images, labels=labels, modality="image")
        return Splits(train=data.subset(range(80)), val=data.subset(range(80, 100)), test=data.subset(range(100, 120)))


@pytest.fixture
def toys() -> Iterator[None]:
    TOWERS.register("toy_linear")(ToyTower)
    HEADS.register("toy_dot")(DotHead)
    DATASETS.register("toy_stripes")(Stripes)
    yield
    for registry, name in ((TOWERS, "toy_linear"), (HEADS, "toy_dot"), (DATASETS, "toy_stripes")):
        registry._entries.pop(name)


def test_a_toy_tower_head_and_dataset_train_evaluate_save_and_load(toys: None, tmp_path: Path) -> None:
    recipe = Recipe.from_dict(
        {
            "model": {
                "tower": {"name": "toy_linear", "channels": 1, "image_size": [8, 8], "mean": [0.5], "std": [0.5]},
                "head": {"name": "toy_dot"},
            },
            "loss": {"name": "triplet", "margin": 1.0},
            "data": {"name": "toy_stripes"},
            "train": {"epochs": 2, "batch_size": 16, "device": "cpu", "schedule": {"steps_per_epoch": 8}},
            "eval": {"pairs": 60, "episodes": 0},
            "output_dir": str(tmp_path / "run"),
        }
    )
    metrics = Trainer(recipe, progress=False).run()
    assert metrics["test"]["roc_auc"] > 0.9  # the bright row is easy: a working tower, head and loss learn it
    model = PairModel.from_pretrained(tmp_path / "run" / "model", device="cpu")
    assert type(model.tower_a) is ToyTower and type(model.head) is DotHead
    test = Stripes(Stripes.Config()).load().test
    a, b = test.items[:10], test.items[10:]
    fresh = PairModel.from_pretrained(tmp_path / "run" / "model", device="cpu")
    assert torch.equal(model.score(a, b), fresh.score(a, b))
