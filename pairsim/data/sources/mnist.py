"""MNIST-format image datasets: ``mnist`` (LeCun et al. 1998) and ``fashion_mnist`` (Xiao et al. 2017).

Both are four IDX files (``<data>/mnist/`` or ``<data>/fashion_mnist/``): ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte`` (60,000) and ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (10,000),
gzipped (``.gz``) or not, read by :func:`pairsim.data.idx.read_idx`. Items are ``(28, 28)`` uint8 arrays
(ink = high for MNIST; Fashion-MNIST: the garment is bright on black); labels are the classes 0-9.

Two splits:

* ``split: standard`` (default): pairs within the standard files, as in the seeds' MNIST siamese example:
  test = the t10k file, val = ``val_fraction`` of each class's training-file images, train = the rest.
* ``split: classes``: class-disjoint, for verification and one-shot evaluation on classes never trained on:
  test = the t10k images of ``test_classes``; val = the training-file images of ``val_classes``, or, when
  ``val_classes`` is empty, ``val_fraction`` of the training classes' images; train = the training-file
  images of every other class. Defaults: train on 0-4, val on 5-6, test on 7-9.

Example:
    >>> # splits = load_dataset({"name": "fashion_mnist", "split": "classes", "per_class": 100})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairsim.config import MAX_COUNT, bounded
from pairsim.data.download import fetch
from pairsim.data.idx import read_idx
from pairsim.data.paths import missing_error
from pairsim.data.sources.base import DATASETS, NamedDatasetConfig, Source
from pairsim.data.split import stratified_items
from pairsim.data.types import LabelledItems, Splits
from pairsim.errors import DataError

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def find_idx(root: Path, stem: str) -> Path | None:
    """``root/<stem>.gz`` if present, else ``root/<stem>`` if present, else None."""
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def read_images_labels(images: Path, labels: Path, *, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One image file and its label file, checked against each other.

    Args:
        images: IDX file of ``(N, H, W)`` uint8 images.
        labels: IDX file of ``(N,)`` uint8 labels.
        limit: Read only the first this many of each.

    Returns:
        ``(images (N, H, W) uint8, labels (N,) int64)``.

    Raises:
        DataError: A file is malformed, has the wrong shape or type, or the two counts differ.
    """
    x = read_idx(images, limit=limit)
    y = read_idx(labels, limit=limit)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise DataError(f"{images}: expected (N, height, width) uint8 images, found {x.dtype} of shape {x.shape}")
    if y.ndim != 1 or y.dtype != np.uint8:
        raise DataError(f"{labels}: expected (N,) uint8 labels, found {y.dtype} of shape {y.shape}")
    if len(x) != len(y):
        raise DataError(f"{labels}: {len(y)} labels for the {len(x)} images of {images.name}")
    return x, y.astype(np.int64)


def first_per_class(labels: Sequence[int], per_class: int | None) -> list[int]:
    """Indices of the first ``per_class`` items of each class, in file order (all when None)."""
    if per_class is None:
        return list(range(len(labels)))
    seen: dict[int, int] = {}
    keep = []
    for i, y in enumerate(labels):
        if seen.get(int(y), 0) < per_class:
            seen[int(y)] = seen.get(int(y), 0) + 1
            keep.append(i)
    return keep


def check_held_out(classes: Sequence[int], val_classes: Sequence[int], test_classes: Sequence[int], where: str) -> None:
    """Raise DataError unless the held-out classes exist, are disjoint and leave two classes to train on."""
    val, test, known = set(val_classes), set(test_classes), set(classes)
    unknown = sorted((val | test) - known)
    if unknown or val & test or not test or len(known - val - test) < 2:
        raise DataError(
            f"{where}: val_classes {list(val_classes)} and test_classes {list(test_classes)} must be disjoint, "
            f"non-empty for test, drawn from the classes {sorted(known)}, and leave at least two to train on"
        )


def split_indices(
    train_labels: Sequence[int],
    test_labels: Sequence[int],
    *,
    split: str,
    val_fraction: float,
    val_classes: Sequence[int],
    test_classes: Sequence[int],
    seed: int,
    where: str,
) -> tuple[list[int], list[int], list[int]]:
    """Train and val indices into the training file, test indices into the test file.

    Args:
        train_labels: Labels of the training file's items.
        test_labels: Labels of the test file's items.
        split: "standard" or "classes" (see the module docstring).
        val_fraction: Share of each class's training items for val (standard; classes without val_classes).
        val_classes: classes: classes held out whole for val.
        test_classes: classes: classes of the test file used for test.
        seed: Split seed.
        where: Dataset name for messages.

    Returns:
        ``(train, val, test)``, each ascending.
    """
    if split == "standard":
        train, val, _ = stratified_items(train_labels, val=val_fraction, test=0.0, seed=seed)
        return train, val, list(range(len(test_labels)))
    check_held_out(sorted({int(y) for y in train_labels}), val_classes, test_classes, where)
    held = set(val_classes) | set(test_classes)
    train = [i for i, y in enumerate(train_labels) if y not in held]
    if val_classes:
        val = [i for i, y in enumerate(train_labels) if y in set(val_classes)]
    else:
        part, carved, _ = stratified_items([train_labels[i] for i in train], val=val_fraction, test=0.0, seed=seed)
        train, val = [train[i] for i in part], [train[i] for i in carved]
    test = [i for i, y in enumerate(test_labels) if y in set(test_classes)]
    return train, val, test


def to_items(images: np.ndarray, labels: np.ndarray, indices: Sequence[int]) -> LabelledItems:
    """Glue: the images at ``indices`` as :class:`LabelledItems` of ``(H, W)`` uint8 arrays."""
    return LabelledItems(items=[images[i] for i in indices], labels=[int(labels[i]) for i in indices], modality="image")


@dataclasses.dataclass(kw_only=True)
class IdxImagesConfig(NamedDatasetConfig):
    split: Literal["standard", "classes"] = "standard"  # pairs within the standard files, or class-disjoint
    val_fraction: float = bounded(0.1, ge=0, lt=1)  # share of each class's training-file images held out for val
    # split classes: train on 0-4; val on the training-file images of 5, 6 ([]: val_fraction of the training
    # classes' images), test on the t10k images of 7, 8, 9
    val_classes: list[int] = bounded(default_factory=lambda: [5, 6], ge=0, le=255)  # IDX labels are bytes
    test_classes: list[int] = bounded(default_factory=lambda: [7, 8, 9], ge=0, le=255)  # IDX labels are bytes
    limit: int | None = bounded(None, ge=1, le=MAX_COUNT)  # read only the first this many images of each file
    per_class: int | None = bounded(None, ge=1, le=MAX_COUNT)  # keep only the first this many images of each class
    mirror: str | None = None  # download: base URL to fetch the four .gz files from (None: the default mirror)


class IdxImages(Source[Any]):
    """A four-file MNIST-format dataset as :class:`LabelledItems` splits; subclasses set the folder and URL."""

    Config = IdxImagesConfig
    base_url = ""

    def _files(self, root: Path) -> dict[str, Path]:
        found = {key: find_idx(root, stem) for key, stem in FILES.items()}
        if any(p is None for p in found.values()):
            url = self.config.mirror or self.base_url
            names = [f"{stem}(.gz)" for stem in FILES.values()]
            raise missing_error(self.name, root, names, f"set download: true to fetch them from {url}")
        return found  # type: ignore[return-value]

    def check(self, root: Path) -> None:
        self._files(root)

    def download(self, root: Path) -> None:
        base = (self.config.mirror or self.base_url).rstrip("/") + "/"
        for stem in FILES.values():
            fetch(f"{base}{stem}.gz", root / f"{stem}.gz")

    def load(self) -> Splits[LabelledItems]:
        cfg = self.config
        files = self._files(self.prepare())
        x_train, y_train = read_images_labels(files["train_images"], files["train_labels"], limit=cfg.limit)
        x_test, y_test = read_images_labels(files["test_images"], files["test_labels"], limit=cfg.limit)
        if cfg.per_class is not None:
            keep_train, keep_test = first_per_class(y_train, cfg.per_class), first_per_class(y_test, cfg.per_class)
            x_train, y_train = x_train[keep_train], y_train[keep_train]  # (N, H, W), (N,)
            x_test, y_test = x_test[keep_test], y_test[keep_test]
        tr, va, te = split_indices(
            y_train.tolist(), y_test.tolist(), split=cfg.split, val_fraction=cfg.val_fraction,
            val_classes=cfg.val_classes, test_classes=cfg.test_classes, seed=cfg.seed, where=self.name,
        )  # fmt: skip
        return Splits(
            train=to_items(x_train, y_train, tr), val=to_items(x_train, y_train, va), test=to_items(x_test, y_test, te)
        )


@DATASETS.register("mnist")
class Mnist(IdxImages):
    """MNIST handwritten digits (label = the digit)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(IdxImagesConfig):
        name: str = "mnist"

    folder = "mnist"
    base_url = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # torchvision's mirror of yann.lecun.com/exdb/mnist
    citation = "LeCun, Bottou, Bengio & Haffner (1998), Gradient-based learning applied to document recognition"


@DATASETS.register("fashion_mnist")
class FashionMnist(IdxImages):
    """Fashion-MNIST Zalando article images (label = one of 10 garment classes)."""

    @dataclasses.dataclass(kw_only=True)
    class Config(IdxImagesConfig):
        name: str = "fashion_mnist"

    folder = "fashion_mnist"
    base_url = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # the dataset's official host
    citation = "Xiao, Rasul & Vollgraf (2017), Fashion-MNIST: a Novel Image Dataset for Benchmarking ML Algorithms"
