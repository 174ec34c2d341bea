"""Row shapes beyond the built-in ones train with no change to the pipeline: a toy loss consuming an anchor with
k = 3 negatives plus a toy sampler; episodes with the prototypical loss; caption-image data with the images on
side a, end to end (train, validate, test, score)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pairsim.data import LabelledItems, load_dataset
from pairsim.data.samplers import SAMPLERS, Consumes, Draw, Rows, SamplerConfig, chunk, register
from pairsim.errors import PairsimError
from pairsim.losses import LOSSES, Loss, LossConfig
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train import step as step_module
from pairsim.train.trainer import Trainer

K = 3


@dataclasses.dataclass(kw_only=True)
class AnchorNegativesConfig(SamplerConfig):
    name: str = "toy_anchor_negatives"
    per_epoch: int = 0  # rows per epoch, >= 0; 0: one per item


def anchor_negatives(split: LabelledItems, gen: np.random.Generator, epoch: int, draw: Draw) -> list[Rows]:
    """Rows ``(anchor, negative_1..K)``: K items of classes other than the anchor's."""
    labels = np.asarray(split.labels)
    anchors = gen.integers(0, len(labels), size=draw.options.per_epoch or len(labels))
    negatives = np.stack([gen.choice(np.flatnonzero(labels != labels[a]), size=K) for a in anchors])  # (N, K)
    return chunk(np.concatenate([anchors[:, None], negatives], axis=1), None, draw, gen)


@dataclasses.dataclass(kw_only=True)
class SpreadConfig(LossConfig):
    margin: float = 1.0  # hinge on the head's similarity of anchor and each negative


class SpreadLoss(Loss):
    """Pushes each anchor away from its K negatives: ``mean relu(margin + s(anchor, negative))``."""

    Config = SpreadConfig
    consumes = Consumes(("a", *("b",) * K), "none", sampler="toy_anchor_negatives")

    def forward(self, anchor: torch.Tensor, *negatives: torch.Tensor) -> torch.Tensor:
        sims = torch.stack([self.head._signed(self.head(anchor, n)) for n in negatives], dim=1)  # (B, K)
        return F.relu(self.config.margin + sims).mean()


@pytest.fixture
def toy_components() -> Iterator[None]:
    """Register the toy sampler and loss for one test only (so registry-driven tests elsewhere never see them)."""
    register("toy_anchor_negatives", AnchorNegativesConfig, sides=("a", *("b",) * K))(anchor_negatives)
    LOSSES.register("toy_spread")(SpreadLoss)
    yield
    SAMPLERS._entries.pop("toy_anchor_negatives")
    LOSSES._entries.pop("toy_spread")


def tiny_digits(tmp_path: Path, *overrides: str) -> Recipe:
    tower = {
        "name": "cnn",
        "arch": "face",
        "width": 0.25,
        "out_dim": 4,
        "image_size": [8, 8],
        "mean": [0.5],
        "std": [0.5],
    }
    data = {
        "model": {"tower": tower, "head": {"name": "cosine"}},
        "loss": {"name": "contrastive"},
        "data": {"name": "digits"},
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "device": "cpu",
            "schedule": {"max_steps": 1},
            "validation": {"every_epoch": False},
        },
        "eval": {"pairs": 20, "plots": False},
        "output_dir": str(tmp_path / "run"),
    }
    return Recipe.from_dict(data, overrides=list(overrides))


def spy_batches(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    seen: list[Any] = []
    real = step_module.TrainStep.forward
    monkeypatch.setattr(step_module.TrainStep, "forward", lambda self, batch: seen.append(batch) or real(self, batch))
    return seen


def test_a_new_row_shape_trains_with_a_toy_loss_and_sampler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_components: None
) -> None:
    seen = spy_batches(monkeypatch)
    metrics = Trainer(tiny_digits(tmp_path, "loss={name: toy_spread}"), progress=False).run()
    assert metrics["steps"] == 1 and len(seen) == 1 and math.isfinite(metrics["history"][-1]["loss"])
    batch = seen[0]
    assert len(batch) == 1 + K and all(x["pixel_values"].shape == (8, 1, 8, 8) for x in batch)  # no target


def test_episodes_train_the_prototypical_loss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_batches(monkeypatch)
    recipe = tiny_digits(
        tmp_path, "loss={name: prototypical}", "train.schedule.max_steps=2",
        "sampler={name: episodes, n_way: 4, k_shot: 2, n_query: 3, rotations: [90, 180, 270], episodes_per_epoch: 5}",
    )  # fmt: skip
    metrics = Trainer(recipe, progress=False).run()
    assert metrics["steps"] == 2 and math.isfinite(metrics["test"]["roc_auc"])
    items, target = seen[0]
    assert items["pixel_values"].shape == (4 * (2 + 3), 1, 8, 8) and target.shape == (20, 2)
    assert target[:, 1].sum() == 12 and sorted(set(target[:, 0].tolist())) == [0, 1, 2, 3]


def test_images_on_side_a_of_caption_data_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_dir: Path
) -> None:
    data = Path(os.environ.get("PAIRSIM_DATA_DIR", str(shared_dir / "data")))
    if not (data / "flickr8k").is_dir():  # PAIRSIM_DATA_DIR may be set (as .ci/run does) to a folder that is absent
        pytest.skip(f"flickr8k data not found in {data}: set PAIRSIM_DATA_DIR or put it in <repo>/../shared/data")
    monkeypatch.setenv("PAIRSIM_DATA_DIR", str(data))
    seen = spy_batches(monkeypatch)
    image = {
        "name": "cnn",
        "arch": "face",
        "width": 0.25,
        "out_dim": 8,
        "image_size": [16, 16],
        "mean": [0.5],
        "std": [0.5],
    }
    recipe = Recipe.from_dict({
        "model": {"tower": image, "tower_b": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}, "head": {"name": "cosine"}},
        "loss": {"name": "infonce"},
        "data": {"name": "flickr8k", "max_images": 30, "image_side": "a"},
        "train": {"epochs": 1, "batch_size": 4, "device": "cpu", "schedule": {"max_steps": 2}, "checkpoint": {"every": 0}},
        "eval": {"plots": False},
        "output_dir": str(tmp_path / "run"),
    })  # fmt: skip
    metrics = Trainer(recipe, progress=False).run()
    assert metrics["steps"] == 2 and metrics["best_epoch"] == 1  # validated (retrieval on val) and saved
    images, captions = seen[0]
    assert images["pixel_values"].shape == (4, 1, 16, 16) and captions["input_ids"].dtype == torch.long
    assert 0.0 <= metrics["test"]["t2i_recall@1"] <= 1.0 and metrics["test"]["n_images"] > 0

    model = PairModel.from_pretrained(tmp_path / "run" / "model")
    test = load_dataset(recipe.data).test
    assert model.tower_a.modality == "image" and model.side_b.modality == "text"
    scores = model.score(test.images[:2], test.captions[:2])  # an image and a caption, in that order
    assert scores.shape == (2,) and torch.isfinite(scores).all()
    with pytest.raises(PairsimError, match="image"):  # the captions cannot go through the image tower
        model.score(test.captions[:2], test.captions[:2])
