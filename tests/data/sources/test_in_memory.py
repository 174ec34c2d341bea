"""The ``in_memory`` source (pairsim.fit's data): lists, DataFrames, ``datasets`` objects and pairsim's own kinds
read through one column mapping into the same splits, conventional column names found, and each bad value one
error naming the argument, the row and the column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from pairsim.data.sources import load_dataset
from pairsim.data.sources.in_memory import hold
from pairsim.data.types import CaptionImages, LabelledItems, PairTable
from pairsim.errors import DataError

ROWS = [(f"question {i}", f"other question {i}", i % 2) for i in range(40)]


def load(train: Any, val: Any = None, test: Any = None, **options: Any) -> Any:
    with hold(train, val, test) as ref:
        return load_dataset({"name": "in_memory", "ref": ref, **options})


def as_lists(splits: Any) -> list[tuple[list[Any], list[Any], list[float]]]:
    return [(part.a, part.b, part.labels) for _, part in splits.items()]


def test_a_list_a_dataframe_a_dict_and_a_dataset_give_the_same_splits() -> None:
    import datasets

    frame = pd.DataFrame(ROWS, columns=["sentence1", "sentence2", "label"])
    expected = as_lists(load(ROWS))
    assert as_lists(load(frame)) == expected
    assert as_lists(load(frame.to_dict("records"))) == expected
    assert as_lists(load(frame.to_dict("list"))) == expected
    assert as_lists(load(datasets.Dataset.from_pandas(frame))) == expected
    train, val, test = (part for _, part in load(ROWS).items())
    assert len(train) + len(val) + len(test) == 40 and len(val) == len(test) == 4
    assert not set(train.a) & (set(val.a) | set(test.a))  # no sentence in two splits


@pytest.mark.parametrize(
    ("names", "label"),
    [
        (("question1", "question2"), "is_duplicate"),
        (("sentence1", "sentence2"), "label"),
        (("image1", "image2"), "label"),
        (("a", "b"), "label"),
    ],
)
def test_conventional_column_names_are_found(names: tuple[str, str], label: str, tmp_path: Any) -> None:
    if names[0] == "image1":  # image paths: the image modality from their suffix
        rows = [{names[0]: f"{tmp_path}/a{i}.png", names[1]: f"{tmp_path}/b{i}.png", label: i % 2} for i in range(20)]
    else:
        rows = [{names[0]: f"x{i}", names[1]: f"y{i}", label: i % 2} for i in range(20)]
    splits = load(rows)
    assert splits.kind is PairTable
    assert sorted(splits.train.labels + splits.val.labels + splits.test.labels) == [0.0] * 10 + [1.0] * 10
    assert splits.train.modality == ("image" if names[0] == "image1" else "text")


def test_given_val_and_test_tables_are_kept_and_overlap_dropped() -> None:
    val = [("question 0", "fresh a", 1), ("fresh b", "fresh c", 0)]
    test = [("fresh d", "fresh e", 1)]
    splits = load(ROWS, val, test)
    assert splits.val.a == ["question 0", "fresh b"] and splits.test.b == ["fresh e"]
    assert "question 0" not in splits.train.a and len(splits.train) == 39


def test_graded_scores_need_a_threshold_and_keep_the_score() -> None:
    rows = [{"sentence1": f"s{i}", "sentence2": f"t{i}", "score": i / 8} for i in range(40)]
    with pytest.raises(DataError, match=r"graded column 'score'.*binarize_at"):
        load(rows)
    splits = load(rows, binarize_at=2.0)
    table = splits.train
    assert table.scores is not None
    assert table.labels == [float(s >= 2.0) for s in table.scores]


def test_a_graded_label_column_says_how_to_read_it_as_a_score() -> None:
    rows = [("a", "b", 1), ("c", "d", 3.8), ("e", "f", 0)]
    with pytest.raises(
        DataError, match=r"in_memory train: row 1, column '2': expected a 0/1 label, found 3.8.*score='2'"
    ):
        load(rows)
    splits = load(rows * 1, label=None, score=2, binarize_at=3.0, val_fraction=0.34, test_fraction=0.34)
    assert sorted(s for _, p in splits.items() for s in p.scores) == [0.0, 1.0, 3.8]


def test_anchor_positive_negative_rows_give_a_similar_and_a_dissimilar_pair() -> None:
    rows = [{"anchor": f"q{i}", "positive": f"p{i}", "negative": f"n{i}"} for i in range(20)]
    splits = load(rows)
    pairs = {(a, b, y) for _, p in splits.items() for a, b, y in zip(p.a, p.b, p.labels, strict=True)}
    assert len(pairs) == 40 and ("q3", "p3", 1.0) in pairs and ("q3", "n3", 0.0) in pairs


def test_positive_pairs_without_label_are_similar_and_evaluated_against_mismatched_ones() -> None:
    splits = load([{"anchor": f"q{i}", "positive": f"p{i}"} for i in range(20)])
    assert set(splits.train.labels) == {1.0} and len(splits.train) == 16
    for table in (splits.val, splits.test):  # each pair, then its side a with another row's side b
        n = len(table) // 2
        assert table.labels == [1.0] * n + [0.0] * n and table.a[n:] == table.a[:n]
        assert all(neg != pos and neg in table.b[:n] for pos, neg in zip(table.b[:n], table.b[n:], strict=True))
    again = load([{"anchor": f"q{i}", "positive": f"p{i}"} for i in range(20)])
    assert again.test.b == splits.test.b  # seeded


def test_labelled_images_split_by_class_with_arrays_and_pil_images() -> None:
    gen = np.random.default_rng(0)
    rows = [{"image": gen.random((8, 8)), "label": f"class {i % 6}"} for i in range(60)]
    rows[1]["image"] = Image.fromarray(np.zeros((8, 8), dtype=np.uint8))
    splits = load(rows, val_fraction=0.2, test_fraction=0.2)
    assert splits.kind is LabelledItems and splits.train.modality == "image"
    classes = [set(p.labels) for _, p in splits.items()]
    assert not classes[0] & classes[1] and not classes[0] & classes[2] and len(set().union(*classes)) == 6
    by_item = load(rows, split_by="item", val_fraction=0.2, test_fraction=0.2)
    assert set(by_item.val.labels) == set(by_item.train.labels)


def test_caption_rows_group_by_image(tmp_path: Any) -> None:
    rows = [{"image": f"{tmp_path}/img{i // 2}.jpg", "caption": f"caption {i}"} for i in range(40)]
    splits = load(rows)
    assert splits.kind is CaptionImages
    assert len(splits.train.images) == 16 and len(splits.train.captions) == 32
    assert not set(splits.train.image_ids) & set(splits.test.image_ids)
    lists = [{"image": f"{tmp_path}/img{i}.jpg", "caption": [f"c{i}", f"d{i}"]} for i in range(20)]
    assert sum(len(p.captions) for _, p in load(lists).items()) == 40


def test_a_dataset_dict_gives_its_splits() -> None:
    import datasets

    frame = pd.DataFrame(ROWS, columns=["sentence1", "sentence2", "label"])
    parts = datasets.DatasetDict(
        {"train": datasets.Dataset.from_pandas(frame[:30]), "heldout": datasets.Dataset.from_pandas(frame[30:35]),
         "test": datasets.Dataset.from_pandas(frame[35:])}
    )  # fmt: skip
    splits = load(parts, val_split="heldout")
    assert splits.val.a == list(frame.sentence1[30:35]) and splits.test.a == list(frame.sentence1[35:])
    assert len(splits.train) == 30
    carved = load(parts)  # no "validation" split: val is carved from train
    assert len(carved.val) == 3 and len(carved.train) == 27
    with pytest.raises(
        DataError, match=r"no split 'valid'; found splits \['train', 'heldout', 'test'\] \(set val_split\)"
    ):
        load(parts, val_split="valid")


def test_pairsim_data_kinds_pass_through() -> None:
    items = LabelledItems(items=[f"t{i}" for i in range(30)], labels=[i % 10 for i in range(30)], modality="text")
    splits = load(items, val_fraction=0.2, test_fraction=0.2)
    assert splits.kind is LabelledItems and len(splits.val.classes()) == 2


@pytest.fixture
def bad_rows() -> Iterator[list[dict[str, Any]]]:
    yield [{"sentence1": "a", "sentence2": "b", "label": 1}, {"sentence1": "c", "sentence2": 7, "label": 0}]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({}, r"^in_memory train: row 1, column 'sentence2': expected a text \(str\), found int 7$"),
        ({"column_b": "text2"}, r"in_memory train: missing column 'text2'; found columns \['sentence1', 'sentence2', "
                                r"'label'\] \(set column_b=<column>\)"),
        ({"label": "labels"}, r"missing column 'labels'.*\(set label=<column>\)"),
    ],
)  # fmt: skip
def test_bad_data_is_one_error_naming_argument_row_and_column(
    bad_rows: list[dict[str, Any]], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message) as info:
        load(bad_rows, **change)
    assert "\n" not in str(info.value)


def test_bad_rows_name_the_table_and_row() -> None:
    with pytest.raises(DataError, match=r"in_memory val: row 1: expected a tuple of 3 values like row 0, found 2"):
        load(ROWS, [("a", "b", 1), ("c", "d")])
    with pytest.raises(DataError, match=r"in_memory test: row 0, column 'label': expected a number, found 'yes'"):
        load(ROWS, None, [{"sentence1": "a", "sentence2": "b", "label": "yes"}])
    with pytest.raises(DataError, match=r"in_memory train: cannot read a set as rows; expected a list of tuples"):
        load({("a", "b", 1)})
    with pytest.raises(DataError, match=r"row 0, column '1': expected an image .*found int 3"):
        load([("x.png", 3, 1)], modality="image")


def test_a_ref_not_held_says_where_in_memory_data_comes_from() -> None:
    with pytest.raises(DataError, match=r"not held in this process.*pairsim.fit.*hf_dataset or pair_table"):
        load_dataset({"name": "in_memory", "ref": "python-0"})
