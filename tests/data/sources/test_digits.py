"""Tests of the bundled digits source (needs no files)."""

from __future__ import annotations

import numpy as np
import pytest

from pairsim.data.sources import load_dataset
from pairsim.errors import DataError


def test_item_split_keeps_every_digit_everywhere() -> None:
    splits = load_dataset({"name": "digits"})
    assert [len(d) for _, d in splits.items()] == [1259, 269, 269]
    assert all(set(d.labels) == set(range(10)) for _, d in splits.items())
    ids = [{id(x) for x in d.items} for _, d in splits.items()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])  # each image in one split
    x = splits.train.items[0]
    assert x.shape == (8, 8) and x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0 and x.max() > 0.5
    again = load_dataset({"name": "digits"})
    assert all(np.array_equal(u, v) for u, v in zip(splits.test.items, again.test.items, strict=True))
    other = load_dataset({"name": "digits", "seed": 1})
    assert not all(np.array_equal(u, v) for u, v in zip(splits.test.items, other.test.items, strict=True))


def test_class_split_holds_out_digits() -> None:
    splits = load_dataset({"name": "digits", "split_by": "class", "val_classes": [0], "test_classes": [1, 2]})
    assert [sorted(set(d.labels)) for _, d in splits.items()] == [list(range(3, 10)), [0], [1, 2]]
    with pytest.raises(DataError, match="must be disjoint"):
        load_dataset({"name": "digits", "split_by": "class", "val_classes": [1], "test_classes": [1]})
