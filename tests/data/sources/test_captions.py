"""Tests of Flickr8k and the generic captions source: splits by image, captions follow their image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pairsim.data.sources import flickr8k as flickr_module
from pairsim.data.sources import load_dataset
from pairsim.data.types import CaptionImages, Splits
from pairsim.errors import DataError


def test_flickr_split_by_image(flickr_slice: Splits[CaptionImages]) -> None:
    assert [len(d.images) for _, d in flickr_slice.items()] == [48, 6, 6]
    ids = [set(d.image_ids) for _, d in flickr_slice.items()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    for _, data in flickr_slice.items():
        assert [len(c) for c in data.image_captions()] == [5] * len(data.images)
        for c, i in zip(data.captions, data.caption_image, strict=True):
            assert Path(data.images[i]).name == data.image_ids[i]
            assert isinstance(c, str) and c
    every = sorted(set().union(*ids))
    assert every[0] == "1000268201_693b08cb0e.jpg" and len(every) == 60


def test_flickr_caption_with_commas_is_one_caption(data_env: Path) -> None:
    splits = load_dataset({"name": "flickr8k", "max_images": 20, "val_fraction": 0.1, "test_fraction": 0.1})
    captions = {c for _, d in splits.items() for c in d.captions}
    assert "A dog shakes its head near the shore , a red ball next to it ." in captions


def test_official_split_needs_the_lists(data_env: Path) -> None:
    with pytest.raises(DataError, match=r"Flickr_8k.trainImages.txt not found; use split: random"):
        load_dataset({"name": "flickr8k", "split": "official", "max_images": 10})


def _mini_flickr(root: Path, data_dir: Path, names: list[str]) -> None:
    (root / "images").mkdir(parents=True)
    lines = ["image,caption"]
    for n in names:
        shutil.copy(data_dir / "flickr8k" / "images" / n, root / "images" / n)
        lines += [f"{n},caption {k} of {n}" for k in range(2)]
    (root / "captions.txt").write_text("\n".join(lines) + "\n")


def test_official_split_lists(tmp_path: Path, data_dir: Path) -> None:
    names = sorted(p.name for p in (data_dir / "flickr8k" / "images").iterdir())[:6]
    _mini_flickr(tmp_path, data_dir, names)
    for split, part in (("train", names[:4]), ("dev", names[4:5]), ("test", [*names[5:], "absent.jpg"])):
        (tmp_path / f"Flickr_8k.{split}Images.txt").write_text("\n".join(part) + "\n")
    splits = load_dataset({"name": "flickr8k", "path": str(tmp_path), "split": "official"})
    assert [d.image_ids for _, d in splits.items()] == [names[:4], names[4:5], names[5:]]


def test_missing_image_named_in_captions(tmp_path: Path, data_dir: Path) -> None:
    names = sorted(p.name for p in (data_dir / "flickr8k" / "images").iterdir())[:3]
    _mini_flickr(tmp_path, data_dir, names)
    (tmp_path / "images" / names[1]).unlink()
    with pytest.raises(DataError, match=f"image file not found: .*{names[1]} \\(named in the captions file\\)"):
        load_dataset({"name": "flickr8k", "path": str(tmp_path), "val_fraction": 0.0, "test_fraction": 0.0})


def test_captions_missing_column_lists_found(tmp_path: Path) -> None:
    (tmp_path / "caps.csv").write_text("file,text\na.jpg,hello\n")
    with pytest.raises(DataError, match=r"missing column 'image'; found columns \['file', 'text'\]"):
        load_dataset({"name": "captions", "path": str(tmp_path), "captions": str(tmp_path / "caps.csv")})
    splits_config = {
        "name": "captions",
        "path": str(tmp_path),
        "captions": str(tmp_path / "caps.csv"),
        "image_column": "file",
        "caption_column": "text",
    }
    with pytest.raises(DataError, match="image file not found"):
        load_dataset(splits_config)


def test_token_file_conversion(tmp_path: Path) -> None:
    token = tmp_path / "Flickr8k.token.txt"
    token.write_text("a.jpg#0\tA dog , running .\na.jpg#1\tA brown dog .\nb.jpg#0\tTwo people\n")
    flickr_module.token_file_to_csv(token, tmp_path / "captions.txt")
    rows = flickr_module.read_captions(tmp_path / "captions.txt")
    assert rows == [("a.jpg", "A dog , running ."), ("a.jpg", "A brown dog ."), ("b.jpg", "Two people")]
