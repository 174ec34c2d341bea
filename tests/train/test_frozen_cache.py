"""``train.cache_frozen`` (pairsim/train/frozen.py): a wholly frozen, non-augmenting tower is encoded once.

The untied digits model of test_freeze.py with side a frozen: the stored embeddings must give the same
training as running the frozen tower at every step, without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pairsim.recipe import Recipe
from pairsim.towers import TOWERS
from pairsim.towers.augment import AugmentConfig
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.frozen import EMBEDDINGS, FrozenEmbeddings, cacheable
from pairsim.train.trainer import Trainer

UNTIED = [
    "model.tower_b={name: cnn, arch: face, image_size: [16, 16], channels: 1, mean: [0.5], std: [0.5], "
    "width: 0.25, out_dim: 32, dropout: 0.0}",
    "model.head={name: cosine, calibrated: true}",
    "loss={name: bce}",
    "model.tower.freeze=true",
    "train.epochs=1",
    "train.eval_at_start=false",
]


class CountingTrainer(Trainer):
    """Counts the frozen tower's forward calls during the training steps only (not validation or test)."""

    def _build(self, rt: Any) -> None:
        super()._build(rt)
        self.step_calls = 0
        tower, real = self.model.tower_a, self.model.tower_a.forward

        def forward(batch: Any) -> torch.Tensor:
            if self.model.training:
                self.step_calls += 1
            return real(batch)

        tower.forward = forward  # type: ignore[method-assign]


def _train(recipe: Recipe) -> tuple[CountingTrainer, dict[str, torch.Tensor]]:
    trainer = CountingTrainer(recipe, progress=False)
    trainer.run()
    return trainer, load_checkpoint(Path(recipe.output_dir) / "checkpoints" / "last.pt")["step_module"]


def test_stored_embeddings_train_as_the_frozen_tower_does(digits_recipe: Callable[..., Recipe], tmp_path: Path) -> None:
    cached, cached_weights = _train(digits_recipe(*UNTIED, output_dir=tmp_path / "cached"))
    plain, plain_weights = _train(digits_recipe(*UNTIED, "train.cache_frozen=false", output_dir=tmp_path / "plain"))
    # the cached run never ran the frozen tower in a training step; the plain one ran it at every step
    assert cached.step_calls == 0 and plain.step_calls == plain.total_steps > 0
    assert isinstance(cached.batches.slots[0][1], FrozenEmbeddings)
    assert "side a: the cnn tower is frozen" in (tmp_path / "cached" / "train.log").read_text()  # said in the log
    assert not isinstance(plain.batches.slots[0][1], FrozenEmbeddings)
    first = next(cached.batches.epoch(0))
    assert set(first[0]) == {EMBEDDINGS} and first[0][EMBEDDINGS].shape == (
        cached.recipe.train.batch_size,
        32,
    )  # (B, D)
    assert "pixel_values" in first[1]  # side b still runs its tower
    # the same training: identical trained weights up to float rounding (batching of the one-off encoding)
    assert cached_weights.keys() == plain_weights.keys()
    for key, value in plain_weights.items():
        torch.testing.assert_close(cached_weights[key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_only_wholly_frozen_towers_without_augmentation_are_cached() -> None:
    cnn = TOWERS.get("cnn")
    base = {"name": "cnn", "arch": "face", "image_size": [16, 16], "out_dim": 4}
    build = lambda **kw: cnn(cnn.Config(**{**base, **kw}))  # noqa: E731
    assert cacheable(build(freeze=True))
    assert not cacheable(build(freeze=False))
    assert not cacheable(build(freeze=["features"]))  # the rest of the tower trains
    assert not cacheable(build(freeze=True, augment=AugmentConfig(enabled=True)))  # a fresh random distortion each time


def test_frozen_embeddings_serve_rows_of_the_side() -> None:
    table = torch.arange(6, dtype=torch.float32).reshape(3, 2)  # (U, D): three distinct inputs
    stand_in = FrozenEmbeddings(table, torch.tensor([2, 0, 2, 1]), "image")  # four items, two alike
    batch = stand_in.collate(stand_in.featurize([3, 0, 2]))
    assert torch.equal(batch[EMBEDDINGS], table[[1, 2, 2]])


def test_an_augmenting_frozen_tower_still_runs(digits_recipe: Callable[..., Recipe]) -> None:
    trainer, _ = _train(digits_recipe(*UNTIED, "model.tower.augment={enabled: true}"))
    assert trainer.step_calls == trainer.total_steps > 0
