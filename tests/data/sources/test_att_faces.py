"""Tests of the AT&T faces source and the generic image folder: whole subjects / classes held out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairsim.data.sources import load_dataset
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError


def test_tutorial_subjects_are_held_out(faces: Splits[LabelledItems]) -> None:
    assert sorted(set(faces.test.groups)) == ["s5", "s6", "s7"]
    assert sorted(set(faces.test.labels)) == [4, 5, 6]  # label = subject number - 1
    assert len(faces.test) == 30 and len(faces.val) == 40 and len(faces.train) == 330
    subjects = [set(d.groups) for _, d in faces.items()]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    assert faces.test.items[0].endswith("s5/1.pgm") and faces.test.items[9].endswith("s5/10.pgm")


def test_counts_and_seed(data_env: Path) -> None:
    a = load_dataset({"name": "att_faces", "test_count": 5, "val_count": 3, "seed": 11})
    assert (len(set(a.test.groups)), len(set(a.val.groups)), len(set(a.train.groups))) == (5, 3, 32)
    b = load_dataset({"name": "att_faces", "test_count": 5, "val_count": 3, "seed": 11})
    c = load_dataset({"name": "att_faces", "test_count": 5, "val_count": 3, "seed": 12})
    assert a.test.groups == b.test.groups and set(a.test.groups) != set(c.test.groups)


def test_bad_subject_lists(data_env: Path) -> None:
    with pytest.raises(DataError, match=r"att_faces\.test_subjects: unknown subject 's41'"):
        load_dataset({"name": "att_faces", "test_subjects": ["s41"]})
    with pytest.raises(DataError, match="subject s5 is in both val_subjects and test_subjects"):
        load_dataset({"name": "att_faces", "test_subjects": ["s5"], "val_subjects": ["s5", "s6"]})


def test_image_folder_holds_out_classes(data_env: Path) -> None:
    splits = load_dataset(
        {"name": "image_folder", "path": str(data_env / "att_faces"), "val_fraction": 0.1, "test_fraction": 0.2}
    )
    counts = [len(set(d.labels)) for _, d in splits.items()]
    assert counts == [28, 4, 8]
    by_item = load_dataset(
        {
            "name": "image_folder",
            "path": str(data_env / "att_faces"),
            "split_by": "item",
            "val_fraction": 0.1,
            "test_fraction": 0.2,
        }
    )
    assert [len(set(d.labels)) for _, d in by_item.items()] == [40, 40, 40]
    assert [len(d) for _, d in by_item.items()] == [280, 40, 80]
    assert not set(by_item.train.items) & set(by_item.test.items)


def test_image_folder_without_classes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="image folder not found"):
        load_dataset({"name": "image_folder", "path": str(tmp_path / "none")})
    (tmp_path / "flat.png").write_bytes(b"")
    with pytest.raises(DataError, match="no class sub-folders with images"):
        load_dataset({"name": "image_folder", "path": str(tmp_path)})
