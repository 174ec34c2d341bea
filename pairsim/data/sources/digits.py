"""scikit-learn's bundled handwritten digits (UCI optdigits test set): 1,797 8x8 images of 0-9.

Needs no files and no network, so it is the default for smoke tests and quick demos. Items are ``(8, 8)``
float32 arrays in [0, 1] (ink = 1). ``split_by: item`` (default) puts each image in one split with all ten
digits in every split; ``split_by: class`` holds out whole digits (``val_classes``/``test_classes``) to test
verification of unseen classes.

Example:
    >>> splits = Digits(Digits.Config()).load()
    >>> splits.train.items[0].shape
    (8, 8)
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from pairsim.config import bounded
from pairsim.data.sources.base import DATASETS, DatasetConfig, Source
from pairsim.data.split import stratified_items
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError


@DATASETS.register("digits")
class Digits(Source["Digits.Config"]):
    """Digits as :class:`LabelledItems` (label = the digit; no groups)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(DatasetConfig):
        name: str = "digits"
        split_by: Literal["item", "class"] = "item"  # spread each digit over the splits, or hold out digits
        val_fraction: float = bounded(0.15, ge=0, lt=1)  # split_by item: share of each digit's images for val
        test_fraction: float = bounded(0.15, ge=0, lt=1)  # split_by item: share of each digit's images for test
        val_classes: list[int] = bounded(default_factory=lambda: [6, 7], ge=0, le=9)  # split_by class: val digits
        test_classes: list[int] = bounded(default_factory=lambda: [8, 9], ge=0, le=9)  # split_by class: test digits

    citation = "Alpaydin & Kaynak (1998), UCI Optical Recognition of Handwritten Digits (scikit-learn load_digits)"

    def load(self) -> Splits[LabelledItems]:
        from sklearn.datasets import load_digits

        cfg = self.config
        bunch = load_digits()
        images = (bunch.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
        labels = [int(y) for y in bunch.target]
        data = LabelledItems(items=list(images), labels=labels, modality="image")
        if cfg.split_by == "item":
            tr, va, te = stratified_items(labels, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed)
        else:
            held = set(cfg.val_classes) | set(cfg.test_classes)
            if set(cfg.val_classes) & set(cfg.test_classes) or not held < set(range(10)) or len(held) > 8:
                raise DataError(
                    f"digits: val_classes {cfg.val_classes} and test_classes {cfg.test_classes} must be disjoint "
                    "digits 0-9 leaving at least two for training"
                )
            tr = [i for i, y in enumerate(labels) if y not in held]
            va = [i for i, y in enumerate(labels) if y in cfg.val_classes]
            te = [i for i, y in enumerate(labels) if y in cfg.test_classes]
        return Splits(train=data.subset(tr), val=data.subset(va), test=data.subset(te))
