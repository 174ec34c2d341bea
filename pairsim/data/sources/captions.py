"""A generic caption-image dataset: a folder of images and a captions file, split by image.

The captions file is either a CSV with a header (``image,caption`` by default, as in the common Flickr8k
``captions.txt``) or the original Flickr8k token format (``<image>#<n>\\t<caption>``, no header). Every
caption of an image stays with its image, so no image is in two splits.

Example:
    >>> # load_dataset({"name": "captions", "path": "photos/", "captions": "photos/captions.csv"})
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Literal

from pairsim.config import bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.split import fraction_counts, partition
from pairsim.data.types import CaptionImages, Splits
from pairsim.errors import DataError


def read_captions(path: Path, image_column: str = "image", caption_column: str = "caption") -> list[tuple[str, str]]:
    """``(image file name, caption)`` rows of a captions file (CSV with header, or Flickr8k token format).

    Raises:
        DataError: The file is missing, a column is missing (the message lists the columns found) or it
            holds no captions.
    """
    if not path.is_file():
        raise DataError(f"captions file not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        f.seek(0)
        if "\t" in first and "#" in first.split("\t")[0]:  # Flickr8k.token.txt: "img.jpg#0\tA dog ..."
            rows = []
            for line in f:
                if line.strip():
                    key, _, caption = line.rstrip("\r\n").partition("\t")
                    rows.append((key.rsplit("#", 1)[0], caption.strip()))
        else:
            reader = csv.DictReader(f)
            found = reader.fieldnames or []
            missing = [c for c in (image_column, caption_column) if c not in found]
            if missing:
                raise DataError(f"{path}: missing column {missing[0]!r}; found columns {list(found)}")
            rows = [(r[image_column].strip(), (r[caption_column] or "").strip()) for r in reader]
    rows = [(img, cap) for img, cap in rows if img and cap]
    if not rows:
        raise DataError(f"{path}: no captions found")
    return rows


def caption_images(folder: Path, rows: list[tuple[str, str]], images: list[str] | None = None) -> CaptionImages:
    """Build :class:`CaptionImages` from caption rows; images sorted by file name.

    Args:
        folder: Folder with the image files.
        rows: ``(image file name, caption)`` pairs.
        images: Keep only these image names (None: every image with a caption).

    Raises:
        DataError: An image named in the captions is not in ``folder`` (the message names it).
    """
    names = sorted({img for img, _ in rows} if images is None else set(images))
    index = {n: i for i, n in enumerate(names)}
    kept = [(img, cap) for img, cap in rows if img in index]
    for name in names:
        if not (folder / name).is_file():
            raise DataError(f"image file not found: {folder / name} (named in the captions file)")
    return CaptionImages(
        images=[str(folder / n) for n in names],
        image_ids=names,
        captions=[cap for _, cap in kept],
        caption_image=[index[img] for img, _ in kept],
    )


def split_by_image(data: CaptionImages, *, val: float, test: float, seed: int, where: str) -> Splits[CaptionImages]:
    """Split images (with all their captions) into train/val/test by image id at random."""
    n_val, n_test = fraction_counts(len(data.image_ids), val, test, where=f"{where} images")
    tr, va, te = partition(data.image_ids, val=n_val, test=n_test, seed=seed)
    index = {n: i for i, n in enumerate(data.image_ids)}
    return Splits(*(data.subset_images([index[n] for n in part]) for part in (tr, va, te)))


@DATASETS.register("captions")
class Captions(Source["Captions.Config"]):
    """Images in a folder with a captions file, as :class:`CaptionImages` splits by image."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "captions"
        path: str  # folder with the images
        captions: str  # captions file: CSV with header, or Flickr8k token format
        image_column: str = "image"  # CSV column with the image file name (relative to path)
        caption_column: str = "caption"  # CSV column with the caption
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images (with all their captions) for val
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of images for test
        max_images: int | None = bounded(None, ge=1)  # use only the first this many images by file name (quick runs)
        image_side: Literal["a", "b"] = "b"  # the side holding the images (its tower must be an image tower)

    def root(self) -> Path:
        return Path(self.config.path).expanduser()

    def load(self) -> Splits[CaptionImages]:
        cfg = self.config
        rows = read_captions(Path(cfg.captions).expanduser(), cfg.image_column, cfg.caption_column)
        names = sorted({img for img, _ in rows})[: cfg.max_images]
        data = caption_images(self.root(), rows, names)
        data.image_side = cfg.image_side
        return split_by_image(data, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed, where=cfg.name)
