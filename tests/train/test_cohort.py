"""The trainer stores the S-norm cohort of the weights it saves (``head: {name: cosine, cohort: K}``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from pairsim.data.sources.base import load_dataset
from pairsim.errors import ConfigError, DataError
from pairsim.model import PairModel
from pairsim.recipe import Recipe
from pairsim.train.fitters.cohort import fill_cohort
from pairsim.train.trainer import Trainer


def test_the_trainer_saves_the_cohort_of_the_saved_weights(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe("model.head={name: cosine, cohort: 40}", "loss={name: contrastive, margin: 0.5}")
    Trainer(recipe, progress=False).run()
    model = PairModel.from_pretrained(Path(recipe.output_dir) / "model", device="cpu")
    stored = model.head.cohort_embeddings.clone()
    assert stored.shape == (40, model.tower_a.out_dim)
    fill_cohort(model, load_dataset(recipe.data).train, seed=recipe.train.seed, batch_size=64)
    torch.testing.assert_close(stored, model.head.cohort_embeddings, atol=1e-5, rtol=1e-5)


def test_a_cohort_needs_a_tied_model(digits_recipe: Callable[..., Recipe], untied_overrides: list[str]) -> None:
    recipe = digits_recipe(*untied_overrides, "model.head={name: cosine, cohort: 10}")
    with pytest.raises(ConfigError, match=r"head\.cohort: score normalisation needs a tied model"):
        PairModel.from_config(recipe.model)


def test_a_cohort_larger_than_the_training_items_is_one_data_error_before_training(
    digits_recipe: Callable[..., Recipe],
) -> None:
    recipe = digits_recipe("model.head={name: cosine, cohort: 100000}", "loss={name: contrastive, margin: 0.5}")
    with pytest.raises(DataError, match=r"head\.cohort: 100000 is more than the \d+ distinct training items"):
        Trainer(recipe, progress=False).run()
    out = Path(recipe.output_dir)
    assert not (out / "model").exists() and not (out / "checkpoints").exists()  # nothing trained or saved


def test_snapshots_carry_the_cohort_of_their_own_weights(digits_recipe: Callable[..., Recipe]) -> None:
    recipe = digits_recipe(
        "model.head={name: cosine, cohort: 40}",
        "loss={name: contrastive, margin: 0.5}",
        "train.checkpoint.snapshot_every=3",
    )
    Trainer(recipe, progress=False).run()
    train = load_dataset(recipe.data).train
    for step in ("step_000003", "step_000009"):  # before the first validation, and between validations
        model = PairModel.from_pretrained(Path(recipe.output_dir) / "snapshots" / step, device="cpu")
        stored = model.head.cohort_embeddings.clone()
        assert stored.abs().sum() > 0
        fill_cohort(model, train, seed=recipe.train.seed, batch_size=64)
        torch.testing.assert_close(stored, model.head.cohort_embeddings, atol=1e-5, rtol=1e-5)
