"""Tests of pairsim.data.split: seeded, leak-free splitting."""

from __future__ import annotations

import pytest

from pairsim.data.split import components, fraction_counts, partition, split_by_component, stratified_items
from pairsim.errors import DataError


def test_partition_is_seeded_disjoint_and_order_free() -> None:
    keys = [f"s{i}" for i in range(1, 41)]
    tr, va, te = partition(keys, val=4, test=3, seed=7)
    assert (len(tr), len(va), len(te)) == (33, 4, 3)
    assert set(tr) | set(va) | set(te) == set(keys)
    assert not (set(tr) & set(va) or set(tr) & set(te) or set(va) & set(te))
    assert partition(list(reversed(keys)), val=4, test=3, seed=7) == (tr, va, te)
    assert partition(keys, val=4, test=3, seed=8) != (tr, va, te)


def test_partition_keeps_something_to_train() -> None:
    with pytest.raises(DataError, match="cannot hold out 2 val \\+ 1 test of 3 keys"):
        partition(["a", "b", "c"], val=2, test=1, seed=0)


def test_fraction_counts() -> None:
    assert fraction_counts(100, 0.1, 0.2, where="x") == (10, 20)
    assert fraction_counts(5, 0.01, 0.0, where="x") == (1, 0)
    with pytest.raises(DataError, match="x: val and test fractions must lie in"):
        fraction_counts(10, 1.5, 0.0, where="x")


def test_components_join_pairs_sharing_an_item() -> None:
    comp = components(["a", "c", "b", "x", "y"], ["b", "d", "c", "y", "z"])
    assert comp == [0, 0, 0, 1, 1]


def test_split_by_component_never_splits_a_component() -> None:
    a = [f"q{i}" for i in range(200)]
    b = [f"q{(i * 7) % 50 + 200}" for i in range(200)]  # 50 shared partners -> groups of 4 pairs
    comp = components(a, b)
    tr, va, te = split_by_component(comp, val=0.1, test=0.1, seed=3, where="t")
    assert sorted(tr + va + te) == list(range(200))
    items = [{a[i] for i in part} | {b[i] for i in part} for part in (tr, va, te)]
    assert not (items[0] & items[1] or items[0] & items[2] or items[1] & items[2])
    assert 18 <= len(va) <= 24 and 18 <= len(te) <= 24
    assert split_by_component(comp, val=0.1, test=0.1, seed=3, where="t") == (tr, va, te)


def test_stratified_items_spreads_every_class() -> None:
    labels = [i % 3 for i in range(60)]
    tr, va, te = stratified_items(labels, val=0.2, test=0.2, seed=0)
    assert sorted(tr + va + te) == list(range(60))
    for part, n in ((tr, 12), (va, 4), (te, 4)):
        assert [sum(labels[i] == c for i in part) for c in range(3)] == [n, n, n]
