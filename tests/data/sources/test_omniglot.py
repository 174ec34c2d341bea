"""Tests of the Omniglot source: alphabet splits, streaming npz reads and the download conversion."""

from __future__ import annotations

import itertools
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pairsim.data.sources import load_dataset
from pairsim.data.sources import omniglot as omniglot_module
from pairsim.data.sources.omniglot import read_ranges, read_rows
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError


def test_train_val_test_alphabets_and_characters(omniglot_slice: Splits[LabelledItems]) -> None:
    train, val, test = omniglot_slice.train, omniglot_slice.val, omniglot_slice.test
    assert set(train.groups) == set(val.groups) == {"Arcadian", "Armenian"}  # val: unseen characters
    assert set(test.groups) == {"Angelic"}  # test: unseen alphabet
    assert not set(train.labels) & set(val.labels)
    assert not (set(train.labels) | set(val.labels)) & set(test.labels)
    assert len(set(train.labels)) + len(set(val.labels)) == 26 + 41  # Arcadian + Armenian characters
    assert len(set(val.labels)) == round(26 * 0.15) + round(41 * 0.15)
    assert len(set(test.labels)) == 20 and min(test.labels) == 964  # evaluation ids follow the 964 background ones
    assert all(train.labels.count(c) == 20 for c in set(train.labels))  # 20 drawers each
    first = train.items[0]
    assert first.shape == (105, 105) and first.dtype == bool and first.mean() > 0.8  # True = background


def test_val_characters_follow_the_seed(data_env: Path) -> None:
    config = {
        "name": "omniglot",
        "background_alphabets": ["Arcadian"],
        "evaluation_alphabets": ["Angelic"],
        "drawers": 2,
    }
    a, b = load_dataset(config), load_dataset(config)
    c = load_dataset({**config, "seed": 1})
    assert set(a.val.labels) == set(b.val.labels) != set(c.val.labels)
    assert len(a.train) == 2 * (26 - 4)


def test_read_rows_matches_np_load(data_dir: Path) -> None:
    path = data_dir / "omniglot" / "images_evaluation.npz"
    rows = read_rows(path, "images", [(3, 5), (40, 41)])
    with np.load(path, allow_pickle=False) as full:
        labels = full["labels"]
    assert rows.shape == (3, 20, 105, 105) and rows.dtype == bool
    assert np.array_equal(read_rows(path, "labels", [(3, 5), (40, 41)]), labels[[3, 4, 40]])


def test_alphabet_ranges_cover_every_character(data_dir: Path) -> None:
    ranges = read_ranges(data_dir / "omniglot" / "alphabet_ranges.tsv")
    for split, n in (("background", 964), ("evaluation", 659)):
        spans = sorted((r.first, r.last) for r in ranges if r.split == split)
        assert spans[0][0] == 0 and spans[-1][1] == n - 1
        assert all(prev[1] + 1 == nxt[0] for prev, nxt in itertools.pairwise(spans))
    assert len(ranges) == 50


def test_unknown_alphabet_lists_the_valid_ones(data_env: Path) -> None:
    with pytest.raises(DataError, match=r"unknown background alphabet 'Klingon'; valid: .*Arcadian"):
        load_dataset({"name": "omniglot", "background_alphabets": ["Klingon"]})


def _official_zip(path: Path, top: str, alphabets: dict[str, int], drawers: int) -> None:
    """A tiny zip in the official layout: ``<top>/<alphabet>/characterNN/<id>_<drawer>.png``."""
    with zipfile.ZipFile(path, "w") as zf:
        char_id = 0
        for alphabet, n_chars in alphabets.items():
            for c in range(1, n_chars + 1):
                char_id += 1
                for d in range(1, drawers + 1):
                    img = Image.new("1", (105, 105), 1)
                    img.putpixel((char_id, d), 0)  # a distinct ink pixel per drawing
                    name = f"{top}/{alphabet}/character{c:02d}/{char_id:04d}_{d:02d}.png"
                    with zf.open(name, "w") as f:
                        img.save(f, format="PNG")


def test_download_converts_the_official_layout(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    _official_zip(remote / "images_background.zip", "images_background", {"Latin": 3, "Greek": 2}, drawers=4)
    _official_zip(remote / "images_evaluation.zip", "images_evaluation", {"Tengwar": 2}, drawers=4)
    shutil.copy(data_dir / "omniglot" / "all_runs.zip", remote / "all_runs.zip")
    fetched: list[str] = []

    def fake_fetch(url: str, dest: Path) -> Path:  # no network in tests: serve the local zips
        fetched.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(remote / url.rsplit("/", 1)[1], dest)
        return dest

    monkeypatch.setattr(omniglot_module, "fetch", fake_fetch)
    target = tmp_path / "omniglot"
    with pytest.raises(DataError, match="not found"):
        load_dataset({"name": "omniglot", "path": str(target)})  # download is never implicit
    assert fetched == []
    splits = load_dataset({"name": "omniglot", "path": str(target), "download": True, "val_fraction": 0.3})
    assert len(fetched) == 3 and all(u.startswith("https://raw.githubusercontent.com/brendenlake/") for u in fetched)
    assert set(splits.train.groups) | set(splits.val.groups) == {"Greek", "Latin"}
    assert set(splits.test.groups) == {"Tengwar"} and set(splits.test.labels) == {5, 6}
    assert len(splits.train) + len(splits.val) == 5 * 4
    greek = [
        x
        for x, g in zip(splits.train.items + splits.val.items, splits.train.groups + splits.val.groups, strict=True)
        if g == "Greek"
    ]
    ink = {tuple(int(v) for v in np.argwhere(~x)[0]) for x in greek}  # (drawer, character id) of each drawing
    assert ink == {(d, c) for c in (4, 5) for d in range(1, 5)}
    assert (target / "alphabet_ranges.tsv").read_text().splitlines()[1].split("\t") == [
        "background",
        "1",
        "2",
        "0",
        "1",
        "Greek",
    ]
    assert len(omniglot_module.Omniglot(omniglot_module.Omniglot.Config(path=str(target))).one_shot_runs()) == 20
