"""Tests of pairsim.data.sampling: balanced pairs and triplets, fresh per epoch, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import DistributedSampler

from pairsim.data.sampling import PairDataset, TripletDataset, fixed_pairs
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError


def test_pairs_are_balanced_and_correct_on_omniglot(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.train
    pairs = PairDataset(data, num_pairs=4000, seed=0)
    a, b, y = pairs.arrays()
    labels = np.asarray(data.labels)
    assert abs(y.mean() - 0.5) < 0.02
    same = labels[a] == labels[b]
    assert np.array_equal(same, y == 1.0)  # label 1 exactly when the two items are the same character
    assert not np.any(a == b)  # a positive never pairs an item with itself
    assert len(np.unique(labels[a])) > 0.8 * len(set(data.labels))  # pairs cover most characters


def test_positive_fraction_is_configurable(faces: Splits[LabelledItems]) -> None:
    y = PairDataset(faces.train, num_pairs=1000, positive_fraction=0.25, seed=1).arrays()[2]
    assert y.sum() == 250


def test_same_seed_same_pairs_new_epoch_new_pairs(faces: Splits[LabelledItems]) -> None:
    first, second = PairDataset(faces.train, seed=5), PairDataset(faces.train, seed=5)
    assert all(np.array_equal(u, v) for u, v in zip(first.arrays(), second.arrays(), strict=True))
    first.set_epoch(1)
    assert not np.array_equal(first.arrays()[0], second.arrays()[0])
    second.set_epoch(1)
    assert all(np.array_equal(u, v) for u, v in zip(first.arrays(), second.arrays(), strict=True))
    assert not np.array_equal(
        PairDataset(faces.train, seed=6).arrays()[0], PairDataset(faces.train, seed=5).arrays()[0]
    )


def test_fixed_pairs_ignore_the_epoch(faces: Splits[LabelledItems]) -> None:
    pairs = PairDataset(faces.test, fixed=True, seed=0)
    before = pairs.arrays()[0].copy()
    pairs.set_epoch(3)
    assert np.array_equal(before, pairs.arrays()[0])


def test_getitem_returns_items_and_works_with_distributed_sampler(faces: Splits[LabelledItems]) -> None:
    pairs = PairDataset(faces.train, num_pairs=101, seed=0)
    item_a, item_b, label = pairs[7]
    ia, ib, yl = pairs.indices(7)
    assert (item_a, item_b, label) == (faces.train.items[ia], faces.train.items[ib], yl)
    shards = [list(DistributedSampler(pairs, num_replicas=2, rank=r, shuffle=True, seed=3)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 51
    assert set(shards[0]) | set(shards[1]) == set(range(101))


def test_triplets_have_a_true_positive_and_negative(omniglot_slice: Splits[LabelledItems]) -> None:
    data = omniglot_slice.val
    triplets = TripletDataset(data, num_triplets=500, seed=2)
    t = triplets.arrays()
    labels = np.asarray(data.labels)
    assert np.all(labels[t[:, 0]] == labels[t[:, 1]]) and np.all(t[:, 0] != t[:, 1])
    assert np.all(labels[t[:, 0]] != labels[t[:, 2]])
    before = t.copy()
    triplets.set_epoch(1)
    assert not np.array_equal(before, triplets.arrays())


def test_fixed_pairs_table(faces: Splits[LabelledItems]) -> None:
    table = fixed_pairs(faces.test, num_pairs=200, seed=0)
    assert len(table) == 200 and sum(table.labels) == 100 and table.modality == "image"
    subject = {path: label for path, label in zip(faces.test.items, faces.test.labels, strict=True)}
    assert all((subject[a] == subject[b]) == (y == 1.0) for a, b, y in zip(table.a, table.b, table.labels, strict=True))
    assert fixed_pairs(faces.test, num_pairs=200, seed=0).a == table.a


def test_a_class_with_one_example_cannot_give_pairs() -> None:
    data = LabelledItems(items=["a", "b", "c"], labels=[0, 0, 1], modality="text")
    with pytest.raises(DataError, match="train: class 1 has 1 example"):
        PairDataset(data, where="train")
    with pytest.raises(DataError, match="val: the split is empty"):
        TripletDataset(LabelledItems(items=[], labels=[]), where="val")
