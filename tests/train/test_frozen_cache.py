"""``train.speed.cache_frozen`` (pairsim/train/frozen.py): a wholly frozen, non-augmenting tower is encoded once.

The untied digits model of test_freeze.py with side a frozen: the stored embeddings must give the same
training as running the frozen tower at every step, without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from pairsim.data.split import Stream, rng
from pairsim.errors import ConfigError
from pairsim.recipe import Recipe
from pairsim.towers import TOWERS
from pairsim.towers.augment import AugmentConfig
from pairsim.train.checkpoint import load_checkpoint
from pairsim.train.frozen import EMBEDDINGS, TRUNK, FrozenEmbeddings, cached_part, encode_part
from pairsim.train.step import to_device
from pairsim.train.trainer import Trainer

ONE_EPOCH = ["train.epochs=1", "train.validation.at_start=false"]


class CountingTrainer(Trainer):
    """Counts the frozen tower's forward calls during the training steps only (not validation or test)."""

    def _build(self, rt: Any) -> None:
        super()._build(rt)
        self.before = {k: v.detach().clone() for k, v in self.step_module.state_dict().items()}
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


def _cached_and_plain(
    make: Callable[..., Recipe], overrides: list[str], tmp_path: Path
) -> tuple[CountingTrainer, dict[str, torch.Tensor], CountingTrainer, dict[str, torch.Tensor]]:
    """The same run with ``train.speed.cache_frozen`` on (in ``cached/``) and off (in ``plain/``): trainers and weights."""
    cached, cached_weights = _train(make(*overrides, output_dir=tmp_path / "cached"))
    plain, plain_weights = _train(make(*overrides, "train.speed.cache_frozen=false", output_dir=tmp_path / "plain"))
    return cached, cached_weights, plain, plain_weights


def _assert_same_weights(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Identical trained weights up to float rounding (batching of the one-off encoding)."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-5, msg=key)


def test_stored_embeddings_train_as_the_frozen_tower_does(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str], tmp_path: Path
) -> None:
    frozen = [*untied_overrides, "train.tower.freeze=true", *ONE_EPOCH]
    cached, cached_weights, plain, plain_weights = _cached_and_plain(digits_recipe, frozen, tmp_path)
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
    _assert_same_weights(cached_weights, plain_weights)  # the same training


def test_what_is_cached_follows_freeze_and_augmentation() -> None:
    cnn = TOWERS.get("cnn")
    base = {"name": "cnn", "arch": "face", "image_size": [16, 16], "out_dim": 4}
    tower = cnn(cnn.Config(**base))
    assert cached_part(tower, True) == EMBEDDINGS
    assert cached_part(tower, ["features"]) == TRUNK  # the cnn's trunk: fc still trains on its features
    assert cached_part(tower, False) is None
    assert cached_part(tower, ["features.0"]) is None  # part of the trunk only: its output still changes
    assert cached_part(tower, ["fc"]) is None
    augmenting = cnn(cnn.Config(**base, augment=AugmentConfig(enabled=True)))  # a fresh random distortion each time
    assert cached_part(augmenting, True) is None
    assert cached_part(augmenting, ["features"]) is None


def test_frozen_embeddings_serve_rows_of_the_side() -> None:
    table = torch.arange(6, dtype=torch.float32).reshape(3, 2)  # (U, D): three distinct inputs
    stand_in = FrozenEmbeddings(table, torch.tensor([2, 0, 2, 1]), "image")  # four items, two alike
    batch = stand_in.collate(stand_in.featurize([3, 0, 2]))
    assert torch.equal(batch[EMBEDDINGS], table[[1, 2, 2]])


def test_an_augmenting_frozen_tower_still_runs(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str]
) -> None:
    augmenting = [*untied_overrides, "train.tower.freeze=true", *ONE_EPOCH, "model.tower.augment={enabled: true}"]
    trainer, _ = _train(digits_recipe(*augmenting))
    assert trainer.step_calls == trainer.total_steps > 0


def test_stored_trunk_features_train_as_the_frozen_trunk_does(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str], tmp_path: Path
) -> None:
    """``freeze: [features]`` on the digits cnn: its trunk's features are stored, ``fc`` trains on them."""
    trunk = [*untied_overrides, "train.tower.freeze=[features]", *ONE_EPOCH]
    cached, cached_weights, plain, plain_weights = _cached_and_plain(digits_recipe, trunk, tmp_path)
    assert plain.step_calls == plain.total_steps > 0
    assert cached.step_calls == 0  # the whole tower never ran in a step: only its rest did
    first = next(cached.batches.epoch(0))
    assert set(first[0]) == {TRUNK} and first[0][TRUNK].shape[0] == cached.recipe.train.batch_size  # (B, F)
    assert "has its trunk (features) frozen" in (tmp_path / "cached" / "train.log").read_text()
    fc = [k for k in plain_weights if k.startswith("model.tower_a.fc.")]
    assert fc and any(not torch.equal(plain_weights[k], cached.before[k]) for k in fc)  # fc did train
    _assert_same_weights(cached_weights, plain_weights)


def test_channels_last_trains_like_the_default_layout(digits_recipe: Callable[..., Recipe], tmp_path: Path) -> None:
    """``train.speed.channels_last`` changes the memory layout of convolution weights and image batches, not the maths."""
    plain = digits_recipe("train.epochs=1", "train.speed.channels_last=false", output_dir=tmp_path / "plain")
    fast = digits_recipe("train.epochs=1", "train.speed.channels_last=true", output_dir=tmp_path / "fast")
    plain_trainer, fast_trainer = Trainer(plain, progress=False), Trainer(fast, progress=False)
    plain_trainer.run(), fast_trainer.run()
    convs = [p for p in fast_trainer.model.parameters() if p.ndim == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not any(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                   for p in plain_trainer.model.parameters() if p.ndim == 4)  # fmt: skip
    # the same weights in either layout give the same embeddings of a channels-last batch
    model = plain_trainer.model.eval()
    batch = next(plain_trainer.batches.epoch(0))[0]  # side a items of the first training batch
    with torch.no_grad():
        before = model.embed_a(batch)  # (B, D)
        model.to(memory_format=torch.channels_last)
        after = model.embed_a(to_device(batch, torch.device("cpu"), channels_last=True))
    assert batch["pixel_values"].ndim == 4
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_cache_views_stores_augmented_views_of_an_augmenting_frozen_tower() -> None:
    """``train.speed.cache_views``: view ``v`` of distinct input ``u`` is the tower's output on the input augmented with
    the stream ``(seed, 0, Stream.VIEWS, v, u)``; the views differ, and each training item draws one of them."""
    cnn = TOWERS.get("cnn")
    augment = AugmentConfig(enabled=True, probability=1.0)
    config = {"name": "cnn", "arch": "face", "image_size": [16, 16], "out_dim": 4, "augment": augment}
    torch.manual_seed(0)
    tower = cnn(cnn.Config(**config)).eval()
    assert cached_part(tower, True) is None and cached_part(tower, True, views=3) == EMBEDDINGS
    images = [torch.rand(16, 16) for _ in range(4)]
    items = [images[0], images[1], images[0], images[2]]  # a repeat: stored once
    table, index = encode_part(tower, items, EMBEDDINGS, batch_size=2, views=3, seed=5)  # (U, V, D), (N,)
    assert table.shape == (3, 3, 4) and index.tolist() == [0, 1, 0, 2]
    with torch.no_grad():
        one = tower.collate(
            tower.featurize([images[1]], train=True, rng=[rng(5, 0, Stream.VIEWS, 2, 1)])
        )  # view 2 of input 1
        torch.testing.assert_close(table[1, 2], tower(one)[0], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(table[:, 0], table[:, 1], atol=1e-4)  # the views are augmented apart
    stand_in = FrozenEmbeddings(table, index, "image")
    assert stand_in.augments  # so the pipeline hands it one generator per item
    feats = stand_in.featurize([0, 2, 3] * 20, train=True, rng=[rng(1, i) for i in range(60)])
    assert {f["view"] for f in feats} == {0, 1, 2}  # every view is drawn
    batch = stand_in.collate(feats)[EMBEDDINGS]  # (60, D)
    expected = torch.stack([table[int(index[i]), f["view"]] for i, f in zip([0, 2, 3] * 20, feats, strict=True)])
    assert torch.equal(batch, expected)


def test_an_augmenting_frozen_tower_trains_from_cached_views(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str], tmp_path: Path
) -> None:
    augmenting = [*untied_overrides, "train.tower.freeze=true", *ONE_EPOCH, "model.tower.augment={enabled: true}"]
    trainer, _ = _train(digits_recipe(*augmenting, "train.speed.cache_views=2", output_dir=tmp_path))
    assert trainer.step_calls == 0  # the tower never ran in a step
    assert trainer.batches.slots[0][1].table.shape[1] == 2  # (U, V, D)
    assert "augments, so 2 augmented views of the embeddings" in (tmp_path / "train.log").read_text()
    with pytest.raises(ConfigError, match=r"train.speed.cache_views: 2 views need train.speed.cache_frozen: true"):
        digits_recipe(*augmenting, "train.speed.cache_views=2", "train.speed.cache_frozen=false")
    with pytest.raises(ConfigError, match=r"train.speed.cache_views: expected 0 or at least 2 views"):
        digits_recipe(*augmenting, "train.speed.cache_views=1")


def test_cache_views_without_an_augmenting_frozen_tower_is_one_error(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str], tmp_path: Path
) -> None:
    """Views with nothing to store (the frozen tower does not augment) stop before any work, not silently."""
    recipe = digits_recipe(*untied_overrides, "train.tower.freeze=true", *ONE_EPOCH, "train.speed.cache_views=2")
    with pytest.raises(
        ConfigError, match=r"train.speed.cache_views: 2 views need a frozen tower .* no tower of this model"
    ):
        Trainer(recipe, progress=False).run()
    assert not (Path(recipe.output_dir) / "model").exists()


def test_no_training_steps_store_nothing(
    digits_recipe: Callable[..., Recipe], untied_overrides: list[str], tmp_path: Path
) -> None:
    """With ``train.epochs=0`` no step would reuse the stored vectors, so the frozen side is not encoded for them."""
    recipe = digits_recipe(*untied_overrides, "train.tower.freeze=true", "train.epochs=0", output_dir=tmp_path)
    trainer = CountingTrainer(recipe, progress=False)
    trainer.run()
    assert trainer.total_steps == 0
    assert not isinstance(trainer.batches.slots[0][1], FrozenEmbeddings)
    assert "computed once" not in (tmp_path / "train.log").read_text()
