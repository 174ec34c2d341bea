"""``train_negatives``: a mined table joined to a dataset's own training split (val / test untouched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.data.pipeline import as_table
from pairsim.data.sources.base import load_dataset
from pairsim.data.train_negatives import join_negatives, join_rows
from pairsim.data.types import CaptionImages, PairTable, Splits
from pairsim.errors import DataError

TRAIN = [  # sentence1, sentence2, label
    ("how old are you", "what is your age", 1),
    ("where do you live", "what is your address", 1),
    ("what time is it", "is it raining", 0),
    ("what is your name", "who are you", 1),
    ("how tall are you", "what is your height", 1),
]
HELD = [("is it cold", "is it freezing", 1), ("who is she", "where is she", 0), ("can you swim", "do you swim", 1)]
MINED = [  # anchor, positive, negative_1, negative_2
    ("how old are you", "what is your age", "what is your address", "who are you"),
    ("what is your name", "who are you", "what is your age", "what is your height"),
    ("what time is it", "is it raining", "who are you", "what is your age"),  # a dissimilar pair: never joined
    ("not in the data", "nowhere", "who are you", "what is your age"),
]


def _csv(path: Path, head: list[str], rows: list[tuple[object, ...]]) -> Path:
    path.write_text("\n".join([",".join(head)] + [",".join(map(str, r)) for r in rows]) + "\n", encoding="utf-8")
    return path


def _config(tmp_path: Path, **extra: object) -> dict[str, object]:
    train = _csv(tmp_path / "train.csv", ["sentence1", "sentence2", "label"], TRAIN)
    held = _csv(tmp_path / "held.csv", ["sentence1", "sentence2", "label"], HELD)
    return {"name": "pair_table", "path": str(train), "val_path": str(held), "test_path": str(held),
            "cache_dir": str(tmp_path / "cache"), **extra}  # fmt: skip


def test_similar_training_pairs_with_a_row_get_its_negatives(tmp_path: Path) -> None:
    mined = _csv(tmp_path / "mined.csv", ["anchor", "positive", "negative_1", "negative_2"], MINED)
    plain = load_dataset(_config(tmp_path))
    joined = load_dataset(_config(tmp_path, train_negatives=str(mined)))
    train = joined.train
    assert train.a == ["how old are you", "what is your name"] and train.b == ["what is your age", "who are you"]
    assert train.negatives == [list(MINED[0][2:]), list(MINED[1][2:])] and train.labels == [1.0, 1.0]
    assert train.n_negatives == 2 and len(train.side_b_items()) == 2 + 4
    assert joined.val == plain.val and joined.test == plain.test  # evaluation is the dataset's own


def test_image_paths_resolve_against_the_table_and_keys_stay_the_datasets(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    images = [str(folder / f"{i}.jpg") for i in range(3)]
    data = CaptionImages(images=images, image_ids=["i0", "i1", "i2"], captions=["a dog", "a cat", "two dogs"],
                         caption_image=[0, 1, 0])  # fmt: skip
    mined = _csv(
        tmp_path / "mined.csv",
        ["anchor", "positive", "negative_1"],
        [("a dog", "imgs/0.jpg", "imgs/1.jpg"), ("two dogs", str(folder / "0.jpg"), "imgs/2.jpg")],
    )
    joined = join_negatives(data, str(mined))
    assert isinstance(joined, CaptionImages) and joined.images == images  # still caption data: every image kept
    assert joined.captions == ["a dog", "two dogs"] and joined.negatives == [[images[1]], [images[2]]]
    Splits(joined, data, data)  # validation and test stay the dataset's caption-image data (retrieval metrics)
    train = as_table(joined)  # what the samplers read
    assert train.a == ["a dog", "two dogs"] and train.b == [images[0], images[0]]
    assert train.negatives == [[images[1]], [images[2]]] and train.side_b_items()[2:] == [images[1], images[2]]
    assert train.keys_b == ["i0", "i0"] and train.side_modality("b") == "image"
    assert joined.subset_images([0]).negatives == [[images[1]], [images[2]]]  # both captions show image 0


def test_a_table_that_matches_nothing_is_one_error_showing_both_sides(tmp_path: Path) -> None:
    mined = _csv(tmp_path / "mined.csv", ["anchor", "positive", "negative_1"], [("x", "y", "z")])
    with pytest.raises(DataError, match=r"mined\.csv: none of the 5 training pairs .*'how old are you'.*'x'"):
        load_dataset(_config(tmp_path, train_negatives=str(mined)))


def test_rows_without_negative_columns_or_items_are_refused() -> None:
    train = PairTable(a=["q"], b=["p"], labels=[1.0])
    with pytest.raises(DataError, match="expected columns anchor, positive, negative_1"):
        join_rows(train, [{"anchor": "q", "positive": "p", "other": "n"}], folder=Path("."), where="t.csv")
    with pytest.raises(DataError, match="row 1: an empty anchor, positive or negative"):
        join_rows(train, [{"anchor": "q", "positive": "p", "negative_1": " "}], folder=Path("."), where="t.csv")


def test_a_run_trains_infonce_on_the_joined_negatives(tmp_path: Path) -> None:
    from pairsim.recipe import Recipe
    from pairsim.train.trainer import Trainer

    mined = _csv(tmp_path / "mined.csv", ["anchor", "positive", "negative_1", "negative_2"], MINED)
    recipe = Recipe.from_dict({
        "model": {"tower": {"name": "lstm", "embed_dim": 8, "hidden_dim": 8}, "head": {"name": "cosine"}},
        "loss": {"name": "infonce", "negatives": 1},
        "data": _config(tmp_path, train_negatives=str(mined)),
        "train": {"epochs": 2, "batch_size": 2, "device": "cpu", "validation": {"at_start": False}},
        "eval": {"plots": False},
        "output_dir": str(tmp_path / "run"),
    })  # fmt: skip
    trainer = Trainer(recipe, progress=False)
    metrics = trainer.run()
    assert trainer.splits.train.n_negatives == 2 and metrics["steps"] == 2  # 2 joined rows, batch 2, 2 epochs
    assert metrics["test"]["n_pairs"] == 3


def test_a_missing_table_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"^data\.train_negatives: pair table not found: .*nope\.csv \(expected a mined"
    ):
        load_dataset(_config(tmp_path, train_negatives=str(tmp_path / "nope.csv")))
