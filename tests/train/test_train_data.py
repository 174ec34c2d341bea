"""The trainer's batches (per epoch, resumable mid-epoch) and its training step for every kind of loss input."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from pairsim.data import Batches, CaptionImages, Consumes, LabelledItems, PairTable, load_dataset, side_inputs
from pairsim.errors import ConfigError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train import step as step_module
from pairsim.train.step import batch_size_of, to_device
from pairsim.train.trainer import Trainer


def test_training_inputs_of_each_kind_of_split() -> None:
    table = PairTable(a=["q1", "q2"], b=["r1", "r2"], labels=[1.0, 0.0])
    assert side_inputs(table) == (["q1", "q2"], ["r1", "r2"])
    captions = CaptionImages(
        images=["i0.jpg", "i1.jpg"], image_ids=["i0", "i1"], captions=["c0", "c1", "c2"], caption_image=[0, 0, 1]
    )
    assert side_inputs(captions) == (["c0", "c1", "c2"], ["i0.jpg", "i1.jpg"])
    captions.image_side = "a"  # images on side a: the vocabulary of side b is fitted on the captions
    assert side_inputs(captions) == (["i0.jpg", "i1.jpg"], ["c0", "c1", "c2"])
    items = LabelledItems(items=["x", "y"], labels=[0, 1], modality="text")
    assert side_inputs(items) == (["x", "y"], None)


@pytest.fixture(scope="module")
def digits_train() -> LabelledItems:
    return load_dataset({"name": "digits"}).train


@pytest.fixture(scope="module")
def tiny_cnn() -> PairModel:
    torch.manual_seed(0)
    tower = {
        "name": "cnn",
        "arch": "face",
        "width": 0.25,
        "out_dim": 4,
        "image_size": [8, 8],
        "mean": [0.5],
        "std": [0.5],
    }
    return PairModel.from_config({"tower": tower, "head": {"name": "euclidean"}})


def _batches(split: Any, model: PairModel, **kwargs: Any) -> Batches:
    options = {"batch_size": 8, "seed": 0, **kwargs}
    return Batches(split, Consumes(("a", "b"), "binary"), (model.tower_a, model.side_b), **options)


def _same(x: list[Any], y: list[Any]) -> bool:
    return len(x) == len(y) and all(
        all(torch.equal(u["pixel_values"], v["pixel_values"]) for u, v in zip(bx[:2], by[:2], strict=True))
        and torch.equal(bx[2], by[2])
        for bx, by in zip(x, y, strict=True)
    )


def test_train_batches_resume_mid_epoch_and_change_between_epochs(
    digits_train: LabelledItems, tiny_cnn: PairModel
) -> None:
    small = digits_train.subset(range(80))  # 80 pairs per epoch: 10 batches of 8
    batches = _batches(small, tiny_cnn)
    assert batches.steps_per_epoch == 10
    epoch0 = list(batches.epoch(0))
    assert len(epoch0) == 10 and all(b[0]["pixel_values"].shape == (8, 1, 8, 8) for b in epoch0)
    assert _same(list(batches.epoch(0, start=4)), epoch0[4:])  # resuming at batch 4 sees the same batches
    assert _same(list(batches.epoch(0, limit=3)), epoch0[:3])  # steps_per_epoch cuts the epoch short
    assert _same(list(batches.epoch(0, start=4, limit=6)), epoch0[4:6])
    assert _same(list(batches.epoch(0)), epoch0)  # a start does not stick to later calls
    assert not _same(list(batches.epoch(1)), epoch0)  # pairs are re-drawn every epoch
    assert _same(list(_batches(small, tiny_cnn).epoch(0)), epoch0)  # from (seed, epoch) alone
    assert not _same(list(_batches(small, tiny_cnn, seed=1).epoch(0)), epoch0)


def test_batch_size_must_split_over_the_processes(digits_train: LabelledItems, tiny_cnn: PairModel) -> None:
    with pytest.raises(ConfigError, match=r"train\.batch_size: 10 does not split evenly over 4 processes"):
        _batches(digits_train, tiny_cnn, batch_size=10, world_size=4)


def test_to_device_and_batch_size_of_nested_batches() -> None:
    batch = ({"pixel_values": torch.zeros(5, 1, 2, 2)}, [torch.ones(5)], torch.arange(5), "kept")
    moved = to_device(batch, torch.device("cpu"))
    assert isinstance(moved, tuple) and isinstance(moved[1], list) and moved[3] == "kept"
    assert torch.equal(moved[2], batch[2])
    assert batch_size_of(batch) == 5 and batch_size_of((torch.zeros(3, 2), torch.zeros(3))) == 3


@pytest.mark.parametrize(
    "overrides, check",
    [
        (
            ["loss={name: triplet, mining: none, margin: 0.5}", "sampler=null"],  # (anchor, positive, negative)
            lambda b: len(b) == 3 and all(x["pixel_values"].shape[0] == 8 for x in b),
        ),
        (
            [
                "loss={name: triplet, mining: batch_hard}",
                "sampler={name: pk, classes_per_batch: 4, samples_per_class: 2}",
            ],
            lambda b: len(b) == 2 and b[1].dtype == torch.long and b[1].shape == (8,) and len(set(b[1].tolist())) == 4,
        ),
        (
            ["loss={name: bce}", "model.head={name: weighted_l1}"],  # pairs with 0/1 labels
            lambda b: len(b) == 3 and b[2].shape == (8,) and set(b[2].tolist()) <= {0.0, 1.0},
        ),
        (
            ["loss={name: ranking, margin: 0.5}", "model.tower.out_dim=1"],  # a scorer: one number per input
            lambda b: len(b) == 3 and b[2].shape == (8,),
        ),
    ],
    ids=["triplets", "classes", "pairs-bce", "pairs-ranking"],
)
def test_every_kind_of_loss_input_trains(
    overrides: list[str],
    check: Callable[[Any], bool],
    digits_recipe: Callable[..., Recipe],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    real = step_module.TrainStep.forward

    def forward(self: Any, batch: Any) -> torch.Tensor:
        seen.append(batch)
        return real(self, batch)

    monkeypatch.setattr(step_module.TrainStep, "forward", forward)
    recipe = digits_recipe(
        *overrides,
        "train.schedule.max_steps=2",
        "train.batch_size=8",
        "train.validation.every_epoch=false",
    )
    metrics = Trainer(recipe, progress=False).run()
    assert metrics["steps"] == 2 and len(seen) == 2
    assert all(check(batch) for batch in seen)
    assert math.isfinite(metrics["history"][-1]["loss"]) and math.isfinite(metrics["test"]["roc_auc"])
