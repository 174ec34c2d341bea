"""Tests of pairsim.data.types: the data kinds and their checks."""

from __future__ import annotations

import pytest

from pairsim.data.types import CaptionImages, LabelledItems, PairTable, Splits
from pairsim.errors import DataError


def test_labelled_items_group_by_class_and_subset() -> None:
    data = LabelledItems(items=["a", "b", "c", "d", "e"], labels=[2, 0, 2, 0, 1], groups=list("xyxyz"))
    assert data.by_class() == {0: [1, 3], 1: [4], 2: [0, 2]}
    assert data.classes() == [0, 1, 2]
    sub = data.subset([4, 0])
    assert (sub.items, sub.labels, sub.groups) == (["e", "a"], [1, 2], ["z", "x"])


def test_labelled_items_length_mismatch_names_the_columns() -> None:
    with pytest.raises(DataError, match="items=3, labels=2"):
        LabelledItems(items=[1, 2, 3], labels=[0, 1])


def test_class_with_one_example_is_a_clear_error() -> None:
    data = LabelledItems(items=list("abcde"), labels=[0, 0, 1, 1, 7])
    with pytest.raises(DataError, match=r"faces train: class 7 has 1 example\(s\); every class needs at least 2"):
        data.check_pairable("faces train")


def test_empty_split_and_single_class_are_clear_errors() -> None:
    with pytest.raises(DataError, match="val: the split is empty"):
        LabelledItems(items=[], labels=[]).check_pairable("val")
    with pytest.raises(DataError, match="only one class"):
        LabelledItems(items=["a", "b"], labels=[3, 3]).check_pairable("train")


def test_pair_table_positives_and_scores() -> None:
    table = PairTable(a=["a", "b", "c"], b=["x", "y", "z"], labels=[1.0, 0.0, 1.0], scores=[4.5, 1.0, 4.0])
    pos = table.positives()
    assert (pos.a, pos.b, pos.scores) == (["a", "c"], ["x", "z"], [4.5, 4.0])
    with pytest.raises(DataError, match="scores=2"):
        PairTable(a=["a"] * 3, b=["b"] * 3, labels=[1.0] * 3, scores=[1.0, 2.0])


def test_caption_images_subset_reindexes_captions() -> None:
    data = CaptionImages(
        images=["p.jpg", "q.jpg", "r.jpg"],
        image_ids=["p", "q", "r"],
        captions=["p1", "q1", "p2", "r1", "q2"],
        caption_image=[0, 1, 0, 2, 1],
    )
    assert data.image_captions() == [[0, 2], [1, 4], [3]]
    sub = data.subset_images([2, 0])
    assert sub.image_ids == ["r", "p"]
    assert sub.captions == ["p1", "p2", "r1"]
    assert sub.caption_image == [1, 1, 0]
    with pytest.raises(DataError, match="out of range"):
        CaptionImages(images=["a"], image_ids=["a"], captions=["c"], caption_image=[1])


def test_splits_must_hold_one_kind() -> None:
    items = LabelledItems(items=["a"], labels=[0])
    table = PairTable(a=["a"], b=["b"], labels=[1.0])
    assert Splits(items, items, items).kind is LabelledItems
    with pytest.raises(DataError, match="must be of one kind"):
        Splits(items, table, items)


def test_a_pair_tables_classes_are_the_groups_its_similar_pairs_join() -> None:
    table = PairTable(a=["x", "y", "p", "q"], b=["y", "z", "x", "r"], labels=[1.0, 1.0, 0.0, 1.0], modality="image")
    both = table.class_items(None)
    assert (both.items, both.labels) == (["x", "y", "p", "q", "z", "r"], [0, 0, 1, 2, 0, 2])
    side_b = table.class_items("b")
    assert (side_b.items, side_b.labels) == (["y", "z", "x", "r"], [0, 0, 0, 1])


def test_a_pair_tables_class_columns_name_the_classes_and_an_item_has_one() -> None:
    table = PairTable(a=["x", "y"], b=["y", "z"], labels=[0.0, 0.0], classes_a=["ann", "bob"], classes_b=["bob", "ann"])
    items = table.class_items(None)
    assert (items.items, items.labels, items.groups) == (["x", "y", "z"], [0, 1, 0], ["ann", "bob", "ann"])
    clash = PairTable(a=["x", "y"], b=["y", "x"], labels=[0.0, 0.0], classes_a=["ann", "bob"], classes_b=["bob", "cy"])
    with pytest.raises(DataError, match=r"row 2: item 'x' of side b has class 'cy' here and 'ann'.*one class"):
        clash.class_items(None)
    with pytest.raises(DataError, match="given together"):
        PairTable(a=["x"], b=["y"], labels=[1.0], classes_a=["ann"])


def test_two_modalities_cannot_be_one_towers_items() -> None:
    table = PairTable(a=["i.png"], b=["a dog"], labels=[1.0], modality="image", modality_b="text")
    with pytest.raises(DataError, match="one tower's items come from one side"):
        table.class_items(None)
    assert table.class_items("b").modality == "text"
