"""A generic image dataset: one sub-folder per class (torchvision's ``ImageFolder`` layout).

Splits hold out whole classes by default (``split_by: class``: a verification model is tested on people or
characters it never saw); ``split_by: item`` spreads each class over the splits instead. Hidden folders and
files (names starting with ``.``, such as ``.ipynb_checkpoints/``) are never classes or images; one log line
says what was skipped.

Example:
    >>> # load_dataset({"name": "image_folder", "path": "~/photos", "val_fraction": 0.1})
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path
from typing import Literal

from pairsim.config import bounded
from pairsim.data.folders import skipped_note, visible_entries
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.split import fraction_counts, partition, stratified_items
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError

log = logging.getLogger("pairsim.data")
IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".pgm", ".bmp", ".gif", ".tif", ".tiff", ".webp"]


def natural_key(text: str) -> list[int | str]:
    """Sort key putting "s2" before "s10"."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def scan_class_folders(root: Path, extensions: list[str]) -> dict[str, list[Path]]:
    """Class folder name -> its image files, both in natural order; hidden folders and files are skipped
    (see :mod:`pairsim.data.folders`) with one line on the ``pairsim.data`` log.

    Raises:
        DataError: ``root`` is not a folder or holds no class folder with images.
    """
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}; expected one sub-folder of images per class")
    exts = {e.lower() for e in extensions}
    classes: dict[str, list[Path]] = {}
    entries, hidden = visible_entries(root)
    hidden = [p for p in hidden if p.is_dir()]  # a hidden folder would have been a class; .DS_Store never was
    for sub in sorted((p for p in entries if p.is_dir()), key=lambda p: natural_key(p.name)):
        shown, skipped = visible_entries(sub)
        hidden += [f for f in skipped if f.suffix.lower() in exts or f.is_dir()]  # other dot files say nothing
        files = sorted((f for f in shown if f.suffix.lower() in exts), key=lambda f: natural_key(f.name))
        if files:
            classes[sub.name] = files
    if hidden:
        log.info("%s", skipped_note(hidden, root))
    if not classes:
        raise DataError(f"{root}: no class sub-folders with images ({', '.join(sorted(exts))}) found")
    return classes


def items_of(classes: dict[str, list[Path]], names: list[str], label_of: dict[str, int]) -> LabelledItems:
    """The images of the classes ``names`` as LabelledItems (label = ``label_of[name]``, group = name)."""
    items, labels, groups = [], [], []
    for name in names:
        for f in classes[name]:
            items.append(str(f))
            labels.append(label_of[name])
            groups.append(name)
    return LabelledItems(items=items, labels=labels, groups=groups, modality="image")


@DATASETS.register("image_folder")
class ImageFolder(Source["ImageFolder.Config"]):
    """Images in ``<path>/<class>/<image>``; label = class index in natural order, group = class folder name."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "image_folder"
        path: str  # folder with one sub-folder per class
        split_by: Literal["class", "item"] = "class"  # hold out whole classes, or spread each class over splits
        val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of classes (or of each class's images) for val
        test_fraction: float = bounded(0.1, ge=0, lt=1)  # share of classes (or of each class's images) for test
        extensions: list[str] = dataclasses.field(default_factory=lambda: list(IMAGE_EXTENSIONS))  # image files

    def load(self) -> Splits[LabelledItems]:
        cfg = self.config
        classes = scan_class_folders(self.root(), cfg.extensions)
        names = list(classes)
        label_of = {n: i for i, n in enumerate(names)}
        if cfg.split_by == "item":
            everything = items_of(classes, names, label_of)
            tr, va, te = stratified_items(
                everything.labels, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed
            )
            return Splits(train=everything.subset(tr), val=everything.subset(va), test=everything.subset(te))
        n_val, n_test = fraction_counts(len(names), cfg.val_fraction, cfg.test_fraction, where=f"{cfg.name} classes")
        tr_names, va_names, te_names = partition(names, val=n_val, test=n_test, seed=cfg.seed)
        order = {n: i for i, n in enumerate(names)}
        return Splits(
            *(items_of(classes, sorted(s, key=order.__getitem__), label_of) for s in (tr_names, va_names, te_names))
        )
