"""Flickr8k (Hodosh, Young & Hockenmaier 2013): 8,091 Flickr photos with 5 captions each.

Files (``<data>/flickr8k/``): ``images/*.jpg`` and ``captions.txt`` (CSV ``image,caption``). ``download:
true`` fetches the original zips (``Flickr8k_Dataset.zip``, ``Flickr8k_text.zip``) and converts
``Flickr8k.token.txt`` to ``captions.txt``. Splits are by image id: random with the seed (``split: random``),
or the official ``Flickr_8k.{train,dev,test}Images.txt`` lists when present (``split: official``).

Example:
    >>> # splits = load_dataset({"name": "flickr8k", "max_images": 100})
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Literal

from pairsim.config import bounded
from pairsim.data.download import extract, fetch
from pairsim.data.paths import require_files
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.sources.captions import caption_images, read_captions, split_by_image
from pairsim.data.types import CaptionImages, Splits
from pairsim.errors import DataError

BASE_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/"
URLS = {"images": BASE_URL + "Flickr8k_Dataset.zip", "text": BASE_URL + "Flickr8k_text.zip"}
FILES = ["images/", "captions.txt"]
HOW = f"set download: true to fetch {URLS['images']} and {URLS['text']}"
OFFICIAL = ["Flickr_8k.trainImages.txt", "Flickr_8k.devImages.txt", "Flickr_8k.testImages.txt"]


def token_file_to_csv(token_file: Path, out_csv: Path) -> None:
    """Convert ``Flickr8k.token.txt`` (``img.jpg#n<TAB>caption``) to ``captions.txt`` (``image,caption``)."""
    rows = read_captions(token_file)
    with out_csv.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows(rows)


@DATASETS.register("flickr8k")
class Flickr8k(Source["Flickr8k.Config"]):
    """Flickr8k as :class:`CaptionImages` splits by image."""

    @dataclasses.dataclass(kw_only=True)
    class Config(NamedDatasetConfig):
        name: str = "flickr8k"
        split: Literal["random", "official"] = "random"  # random by image id, or the official image lists
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images for val (split: random)
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images for test (split: random)
        max_images: int | None = bounded(None, ge=1)  # use only the first this many images by file name (quick runs)
        image_side: Literal["a", "b"] = "b"  # the side holding the images (its tower must be an image tower)

    folder = "flickr8k"
    citation = "Hodosh, Young & Hockenmaier (2013), Framing image description as a ranking task, JAIR 47"

    def check(self, root: Path) -> None:
        require_files(self.name, root, FILES, HOW)

    def download(self, root: Path) -> None:
        unpacked = root / "_unpacked"
        extract(fetch(URLS["images"], root / "Flickr8k_Dataset.zip"), unpacked)
        extract(fetch(URLS["text"], root / "Flickr8k_text.zip"), unpacked)
        (unpacked / "Flicker8k_Dataset").replace(root / "images")  # sic: the zip's folder name
        token_file_to_csv(unpacked / "Flickr8k.token.txt", root / "captions.txt")
        for name in OFFICIAL:
            if (unpacked / name).is_file():
                (unpacked / name).replace(root / name)

    def load(self) -> Splits[CaptionImages]:
        cfg = self.config
        root = self.prepare()
        rows = read_captions(root / "captions.txt")
        names = sorted({img for img, _ in rows})[: cfg.max_images]
        data = caption_images(root / "images", rows, names)
        data.image_side = cfg.image_side
        if cfg.split == "random":
            return split_by_image(data, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed, where=cfg.name)
        lists = []
        for name in OFFICIAL:
            if not (root / name).is_file():
                raise DataError(f"flickr8k split: official: {root / name} not found; use split: random or add it")
            wanted = {line.strip() for line in (root / name).read_text().splitlines() if line.strip()}
            lists.append([i for i, n in enumerate(data.image_ids) if n in wanted])
        parts = [data.subset_images(ix) for ix in lists]
        for split, part in zip(("train", "val", "test"), parts, strict=True):
            if not part.images:
                raise DataError(f"flickr8k: the official {split} split has none of the images present")
        return Splits(*parts)
