"""The ranked_pairs sampler: pairs within one group (one image under one distortion), target 1 = side a ranks higher."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pairsim.data.ranked_pairs import RankedPairsConfig, ranked_rows
from pairsim.data.samplers import SAMPLERS, Draw, Rows
from pairsim.data.split import rng
from pairsim.data.types import LabelledItems, PairTable
from pairsim.errors import DataError


def draw(name: str, split: Any, seed: int = 0, **kwargs: Any) -> list[Rows]:
    """Epoch 0's batches of 8 rows of sampler ``name`` (options: its defaults unless given)."""
    fn = SAMPLERS.get(name)
    options = kwargs.pop("options", None) or fn.Config()
    return fn(split, rng(seed, 0, fn.stream), 0, Draw(options=options, **{"batch_size": 8, **kwargs}))


def graded_items() -> LabelledItems:
    """3 images x 2 distortions x levels 0..3: label = level, group = image/distortion; items are their index."""
    groups = [f"img{i}/{kind}" for i in range(3) for kind in ("blur", "noise") for _ in range(4)]
    return LabelledItems(items=list(range(24)), labels=[0, 1, 2, 3] * 6, groups=groups)


def test_ranked_pairs_stay_in_one_group_and_label_the_less_distorted_side() -> None:
    data = graded_items()
    batches = draw("ranked_pairs", data, options=RankedPairsConfig(per_epoch=400))
    index = np.concatenate([b.index for b in batches])  # (400, 2)
    target = np.concatenate([b.target for b in batches])  # (400,)
    assert index.shape == (400, 2)
    groups, levels = np.asarray(data.groups), np.asarray(data.labels)
    assert (groups[index[:, 0]] == groups[index[:, 1]]).all()  # one image, one distortion
    assert (levels[index[:, 0]] != levels[index[:, 1]]).all()
    assert np.array_equal(target == 1, levels[index[:, 0]] < levels[index[:, 1]])  # 1 = side a less distorted
    assert 0.35 < target.mean() < 0.65  # both orders occur
    assert len({tuple(r) for r in index.tolist()}) == 6 * 4 * 3  # every ordered pair of two levels of a group


def test_ranked_pairs_best_highest_flips_the_targets() -> None:
    data = graded_items()
    low = draw("ranked_pairs", data, seed=3, options=RankedPairsConfig(per_epoch=40))
    high = draw("ranked_pairs", data, seed=3, options=RankedPairsConfig(per_epoch=40, best="highest"))
    for a, b in zip(low, high, strict=True):
        assert np.array_equal(a.index, b.index) and np.array_equal(a.target, 1 - b.target)


def test_ranked_pairs_skip_groups_with_one_level_and_refuse_data_without_any() -> None:
    data = LabelledItems(items=list(range(5)), labels=[0, 0, 0, 1, 2], groups=["a", "a", "a", "b", "b"])
    pairs, _ = ranked_rows(data.labels, data.groups, 50, np.random.default_rng(0))
    assert set(pairs.ravel().tolist()) == {3, 4}
    flat = LabelledItems(items=list(range(4)), labels=[1, 1, 2, 2], groups=["a", "a", "b", "b"])
    with pytest.raises(DataError, match="no group holds two items with different labels"):
        draw("ranked_pairs", flat)


def test_ranked_pairs_take_a_tables_rows_as_they_are() -> None:
    table = PairTable(a=["x", "y", "z"], b=["p", "q", "r"], labels=[1.0, 0.0, 1.0])
    (batch,) = draw("ranked_pairs", table, train=False)
    assert batch.index.tolist() == [[0, 0], [1, 1], [2, 2]] and batch.target.tolist() == [1.0, 0.0, 1.0]
